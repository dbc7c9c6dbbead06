"""Use cases of client feedback: ask, answer, comment, give, follow up, resolve, summarise.

Each use case is one function with one unit of work — the project lookup, the permission check,
the service calls and the messages it owes commit together — and returns a small result the
handler renders. A refusal is returned, not raised (`Result.refused`, a `DomainError` the handler
words in the project's language when the project is known). Jobs call the same functions.

The messages feedback owes Slack:

- **The prompt** in the client channel is a live message (`TargetKind.prompt`), drawn from the
  prompt when it is sent. Its key names the prompt it follows (`outbox_keys.feedback_prompt`), so
  two processes — or two clicks on *Post anyway* — never post two prompts in a row: the loser's
  transaction rolls back and it reports `superseded`.
- **The PM's DM** about a follow-up is a live message too (`TargetKind.follow_up`), drawn from
  the follow-up: once resolved, the same DM is updated in place (`outbox_keys.follow_up_resolved`).
- **News on an open follow-up** (a comment arrived on that response) is a one-off DM
  (`outbox_keys.follow_up_news`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.blocks.feedback import follow_up_dm, prompt_message, resolved_dm
from bot.db import session_scope
from bot.deps import Deps
from bot.flows import outbox_keys
from bot.flows.delivery import deliver, deliver_now
from bot.flows.messages import Rendered
from bot.flows.outbox_keys import Kind, Target, TargetKind
from bot.flows.person_language import knowing_languages, language_of
from bot.flows.unit import Unit, send_after_answer, unit_of_work
from bot.i18n import t
from bot.models import (
    CLOSEOUT_TRIGGER,
    FeedbackPrompt,
    FeedbackResponse,
    FollowUp,
    FollowUpStatus,
    Outbox,
    OutboxStatus,
    Project,
    ProjectStatus,
)
from bot.services import feedback, outbox, projects
from bot.services.errors import DomainError, Forbidden, InvalidTransition, NotFound, ValidationFailed

log = logging.getLogger(__name__)

JOB_ACTOR = "pmbot"
# Each person in their language (issue 17): the follow-up DM's outbox row keeps the language of
# the PM it was owed to under this payload key (the row is drawn from the record, not its payload).
READER_LANGUAGE = "reader_language"
_ANY: Any = object()  # "whichever prompt is the latest"


def _no_channels() -> set[str]:
    return set()


@dataclass(frozen=True)
class Who:
    """The person behind a request, as the feedback rules need them (built by the handler)."""

    user_id: str
    client_side: bool  # an external user or a guest: not a member of our workspace
    channel_id: str | None = None  # where they act (None: the App Home, a modal)
    channels: Callable[[], set[str]] = _no_channels  # the channels they are in (asked of Slack only when needed)


@dataclass
class Result:
    """What a use case did. `refused`: why nothing was done; `project`: the project it was about,
    when known (its language words the answer); `owed`: the messages it queued, committed and
    sent by `finish` once the person has their answer."""

    project: Project | None = None
    refused: DomainError | None = None
    owed: list[int] = field(default_factory=list)


@contextmanager
def _unit(deps: Deps, result: Result) -> Iterator[Unit]:
    """The use case's one unit of work. A refusal (`DomainError`) rolls it back and is kept in
    `result.refused`; the project stays readable for the answer. What the unit owes is sent
    by `finish` (after the ack)."""
    try:
        with unit_of_work(deps, deliver=False) as u:
            try:
                yield u
            except BaseException:
                if result.project is not None and result.project in u.session:
                    u.session.expunge(result.project)  # the rollback must not expire what we answer with
                raise
        result.owed = list(u.owed)
    except DomainError as err:
        result.refused = err


def finish(deps: Deps, result: Result) -> None:
    """Send what a use case queued, once the request has its answer (what fails stays queued for
    the retry sweep)."""
    owed = list(result.owed)
    if owed:
        send_after_answer(lambda: deliver_now(deps, owed))


@dataclass
class Asked(Result):
    """A prompt was `queued`, then `posted` or `failed` (or stays `queued`); or nothing was done:
    `cooling_down` (the last prompt is too recent), `superseded` (someone posted one a moment
    ago), `closed` (the project is closed) or `not_found`."""

    status: str = "not_found"
    prompt_id: int | None = None
    outbox_id: int | None = None
    last: FeedbackPrompt | None = None
    until: datetime | None = None
    error: str | None = None


@dataclass
class Answered(Result):
    """An answer to a prompt (a score click or the comment form), or the comment form to open."""

    prompt: FeedbackPrompt | None = None
    response: FeedbackResponse | None = None
    previous_score: int | None = None
    bad_news: bool = False


@dataclass
class FeedbackForm(Result):
    """Where ad-hoc feedback goes: the project, or the projects to pick from (outside one)."""

    choices: list[Project] = field(default_factory=list)


@dataclass
class FollowUpShown(Result):
    """A follow-up with what it is about (for the resolve form, or once resolved)."""

    follow_up: FollowUp | None = None
    response: FeedbackResponse | None = None
    question: str | None = None


@dataclass
class Listed(Result):
    summary: feedback.Summary | None = None


class PromptRaced(Exception):
    """Another process queued the prompt that follows the same one at the same moment."""


# --- Shared steps (inside a unit) -------------------------------------------------------------


def secret_of(deps: Deps) -> bytes:
    """The key material of anonymous responder keys: the signing secret (HTTP mode), else the
    bot token (Socket Mode). Neither is ever stored in the database."""
    material = deps.settings.signing_secret or deps.settings.bot_token or "pmbot"
    return hashlib.sha256(b"pmbot-feedback:" + material.encode()).digest()


def _team_only(who: Who) -> None:
    if who.client_side:
        raise Forbidden("common.refused_team_only")


def _active(project: Project) -> None:
    if project.status != ProjectStatus.active:
        raise InvalidTransition("feedback.error_project_closed", name=project.name)


def _here(u: Unit, who: Who) -> Project | None:
    return projects.for_channel(u.session, u.team_id, who.channel_id)


def _in_reach(u: Unit, who: Who, project: Project) -> None:
    """A click in a channel bound to a project acts on that project only; elsewhere (a DM, the
    App Home) only for someone in one of the project's channels. Values are untrusted."""
    here = _here(u, who)
    mine = {project.client_channel_id, project.internal_channel_id} - {None}
    if (here.id != project.id) if here is not None else not (mine & who.channels()):
        raise NotFound("common.not_found")


def _project(u: Unit, project_id: int | None) -> Project:
    """A project named by an untrusted value (a button, a form's metadata)."""
    project = u.session.get(Project, project_id) if project_id is not None else None
    if project is None or project.team_id != u.team_id:
        raise NotFound("common.not_found")
    return project


def _prompt(u: Unit, result: Answered, who: Who, prompt_id: int | None, *, in_channel: bool) -> FeedbackPrompt:
    """The prompt a click (`in_channel`: it must come from the prompt's channel) or a form is
    about, checked for answering."""
    prompt = u.session.get(FeedbackPrompt, prompt_id) if prompt_id is not None else None
    if prompt is None:
        raise NotFound("common.not_found")
    project = _project(u, prompt.project_id)
    if in_channel and who.channel_id not in (project.client_channel_id, prompt.channel_id):
        raise NotFound("common.not_found")
    result.project, result.prompt = project, prompt
    return prompt


def _may_answer(project: Project, who: Who, prompt: FeedbackPrompt | None = None) -> None:
    """Answers go to an active project's prompts, and to the final prompt of a closed one."""
    final = prompt is not None and prompt.trigger == CLOSEOUT_TRIGGER
    if project.status != ProjectStatus.active and not final:
        raise InvalidTransition("feedback.prompt_closed")
    feedback.may_answer(project, who.user_id, client_side=who.client_side)


def _tell_pm(u: Unit, project: Project, recorded: feedback.Recorded, *, commented: bool) -> None:
    """A DM for the PM about a new follow-up; or, when a comment arrives on a response whose
    follow-up is still open, the news."""
    response = recorded.response
    if recorded.follow_up is not None and recorded.follow_up.id is not None:
        follow_up_id = recorded.follow_up.id
        # The DM is drawn from the record whenever it is sent or updated; the PM's language is
        # resolved once, now, and kept with the message (`draw_follow_up` reads it back), so the
        # DM and its in-place updates read alike.
        u.owe(key=outbox_keys.follow_up(follow_up_id), kind=Kind.follow_up, project=project,
              user_id=project.pm_user_id, target=outbox_keys.target(TargetKind.follow_up, follow_up_id),
              payload={READER_LANGUAGE: language_of(u.deps, project.pm_user_id, project.language)})
        return
    open_one = feedback.open_follow_up_of(u.session, response.id) if commented else None
    if open_one is not None and open_one.id is not None:
        stamp = int(response.updated_at.timestamp() * 1000)
        payload = follow_up_dm(project, open_one, response, feedback.question_of(u.session, response), updated=True,
                               lang=language_of(u.deps, project.pm_user_id, project.language))
        u.owe(key=outbox_keys.follow_up_news(open_one.id, stamp), kind=Kind.follow_up, project=project,
              user_id=project.pm_user_id, payload=payload)


# --- Prompts ----------------------------------------------------------------------------------


def _enqueue_prompt(u: Unit, result: Asked, project: Project, *, actor: str, trigger: str,
                    question: str | None, ignore_cooldown: bool = False, expected_last_id: Any = _ANY) -> None:
    """Create a prompt and owe its message, unless the cooldown or a newer prompt says no."""
    assert project.id is not None
    if project.status != ProjectStatus.active:
        result.status = "closed"
        return
    last = feedback.last_prompt(u.session, project.id)
    last_id = last.id if last else None
    result.last, result.until = last, feedback.cooldown_until(project, last)
    key = outbox_keys.feedback_prompt(project.id, last_id)
    if (expected_last_id is not _ANY and expected_last_id != last_id) or outbox.exists(u.session, key):
        result.status = "superseded"
        return
    if not ignore_cooldown and feedback.in_cooldown(project, last, u.now):
        result.status = "cooling_down"
        return
    prompt = feedback.create_prompt(u.session, u.clock, project=project, actor=actor, trigger=trigger,
                                    question=question or t("feedback.default_question", project.language))
    assert prompt.id is not None
    target = outbox_keys.target(TargetKind.prompt, prompt.id)
    row = u.owe(key=key, kind=Kind.feedback_prompt, project=project, channel_id=project.client_channel_id,
                target=target)
    if row.target != target:  # another process owes this key's message: ours must not be kept
        raise PromptRaced(project.id)
    result.status, result.prompt_id, result.outbox_id = "queued", prompt.id, row.id


@contextmanager
def _asking(deps: Deps, result: Asked) -> Iterator[Unit]:
    """The unit of work of a use case that may post a prompt (sent by `send_prompt`)."""
    try:
        with _unit(deps, result) as u:
            yield u
    except (IntegrityError, PromptRaced):  # another process posted a prompt at the same moment
        log.info("a feedback prompt for project %s was posted concurrently", result.project and result.project.id)
        result.status, result.outbox_id = "superseded", None


def ask(deps: Deps, who: Who, question: str | None) -> Asked:
    """`/feedback ask [question]` in a project's channel (team only)."""
    result = Asked()
    with _asking(deps, result) as u:
        project = result.project = _here(u, who)
        _team_only(who)
        if project is None:
            raise NotFound("common.no_project_here")
        _active(project)
        _enqueue_prompt(u, result, project, actor=who.user_id, trigger="manual", question=question)
    return result


def ask_anyway(deps: Deps, who: Who, *, project_id: int | None, after: int | None, question: str | None) -> Asked:
    """*Post anyway* under the cooldown warning: post unless someone posted a prompt meanwhile."""
    result = Asked()
    with _asking(deps, result) as u:
        _team_only(who)
        project = result.project = _project(u, project_id)
        _in_reach(u, who, project)
        _enqueue_prompt(u, result, project, actor=who.user_id, trigger="manual", question=question,
                        ignore_cooldown=True, expected_last_id=after)
    return result


def send_prompt(deps: Deps, result: Asked) -> Asked:
    """Send the prompt a use case queued, and say how it went (`posted`, `queued`, `failed`)."""
    if result.outbox_id is None:
        return result
    if deliver(deps, result.outbox_id):
        result.status = "posted"
        return result
    with session_scope(deps.engine) as session:  # the sender's record of the attempt
        row = session.get(Outbox, result.outbox_id)
        if row is not None and row.status == OutboxStatus.sent:
            result.status = "posted"
        elif row is not None and row.status == OutboxStatus.failed:
            result.status, result.error = "failed", row.last_error
        else:
            result.error = row.last_error if row is not None else None
    return result


def post_prompt(deps: Deps, *, project_id: int, trigger: str = "manual", actor: str = JOB_ACTOR,
                question: str | None = None) -> Asked:
    """A prompt from a job (recurring, a milestone done): created, committed and posted."""
    result = Asked()
    with _asking(deps, result) as u:
        project = result.project = u.session.get(Project, project_id)
        if project is not None:
            _enqueue_prompt(u, result, project, actor=actor, trigger=trigger, question=question)
    return send_prompt(deps, result)


def post_due_prompts(deps: Deps, now: datetime, among: Collection[int] | None = None) -> list[tuple[int, str, str]]:
    """Post the prompts that are due (of the projects `among`, when given). Returns (project
    id, trigger, outcome) for each."""
    with unit_of_work(deps, deliver=False) as u:
        due = feedback.due_prompts(u.session, now, among)
    return [(project_id, trigger, post_prompt(deps, project_id=project_id, trigger=trigger).status)
            for project_id, trigger in due]


# --- Answers ----------------------------------------------------------------------------------


@knowing_languages
def answer_score(deps: Deps, who: Who, *, prompt_id: int | None, score: str) -> Answered:
    """A click on one of the prompt's score buttons."""
    result = Answered()
    with _unit(deps, result) as u:
        prompt = _prompt(u, result, who, prompt_id, in_channel=True)
        value = feedback.parse_score(score)
        if value is None:
            raise DomainError("feedback.error_score")
        assert result.project is not None
        _may_answer(result.project, who, prompt)
        recorded = feedback.record_score(u.session, u.clock, prompt=prompt, project=result.project,
                                         user_id=who.user_id, score=value, secret=secret_of(deps),
                                         client_side=who.client_side)
        _tell_pm(u, result.project, recorded, commented=False)
        result.response, result.previous_score = recorded.response, recorded.previous_score
        result.bad_news = feedback.is_bad_news(recorded.response.kind, value)
    return result


def comment_form(deps: Deps, who: Who, prompt_id: int | None) -> Answered:
    """*Add a comment*: the prompt, and the person's answer so far (to prefill the form)."""
    result = Answered()
    with _unit(deps, result) as u:
        prompt = _prompt(u, result, who, prompt_id, in_channel=True)
        assert result.project is not None
        _may_answer(result.project, who, prompt)
        result.response = feedback.my_answer(u.session, prompt, who.user_id, secret_of(deps))
    return result


@knowing_languages
def comment(deps: Deps, who: Who, *, prompt_id: int | None, score: str | None, text: str) -> Answered:
    """The comment form: an optional score and a comment (an answer needs one of them)."""
    result = Answered()
    with _unit(deps, result) as u:
        prompt = _prompt(u, result, who, prompt_id, in_channel=False)
        assert result.project is not None
        _may_answer(result.project, who, prompt)
        value, text = feedback.parse_answer(score, text)
        recorded = feedback.answer(u.session, u.clock, prompt=prompt, project=result.project,
                                   user_id=who.user_id, secret=secret_of(deps), score=value, comment=text,
                                   client_side=who.client_side)
        _tell_pm(u, result.project, recorded, commented=bool(text))
        result.response = recorded.response
    return result


# --- Ad-hoc feedback --------------------------------------------------------------------------


def feedback_form(deps: Deps, who: Who, *, in_dm: bool) -> FeedbackForm:
    """`/feedback`: the channel's project; in a DM, the person's projects to pick from."""
    result = FeedbackForm()
    with _unit(deps, result) as u:
        project = result.project = _here(u, who)
        if project is not None:
            _active(project)
        elif not in_dm:
            raise NotFound("common.no_project_here")
        else:
            result.choices = projects.visible_to(u.session, u.team_id, who.channels(), include_closed=False)
            if not result.choices:
                raise NotFound("common.no_projects_for_you")
    return result


def intake_form(deps: Deps, who: Who, project_id: int | None) -> FeedbackForm:
    """The intake message's *Give feedback*: anyone in the project's client channel."""
    result = FeedbackForm()
    with _unit(deps, result) as u:
        project = _project(u, project_id)
        if who.channel_id != project.client_channel_id:
            raise NotFound("common.not_found")
        result.project = project
        _active(project)
    return result


@knowing_languages
def give(deps: Deps, who: Who, *, project_id: int | None, picked: str | None, kind: str, score: str | None,
         text: str) -> Result:
    """The feedback form: praise, a complaint or a suggestion, with an optional score."""
    result = Result()
    with _unit(deps, result) as u:
        if project_id is None:  # picked in the form: one of the person's own projects
            mine = projects.visible_to(u.session, u.team_id, who.channels(), include_closed=False)
            project_id = next((p.id for p in mine if str(p.id) == picked), None)
        project = result.project = _project(u, project_id)
        value = feedback.parse_score(score) if score is not None else None
        if score is not None and value is None:
            raise ValidationFailed({"score": ("feedback.error_score", {})})
        recorded = feedback.give_feedback(u.session, u.clock, project=project, user_id=who.user_id, kind=kind,
                                          score=value, text=text, client_side=who.client_side)
        _tell_pm(u, project, recorded, commented=False)
    return result


# --- Follow-ups -------------------------------------------------------------------------------


def _follow_up(u: Unit, result: FollowUpShown, who: Who, follow_up_id: int | None) -> FollowUp:
    _team_only(who)
    if follow_up_id is None:
        raise NotFound("common.not_found")
    follow_up, response, project = feedback.get_follow_up(u.session, u.team_id, follow_up_id)
    result.project, result.follow_up, result.response = project, follow_up, response
    result.question = feedback.question_of(u.session, response)
    return follow_up


def resolve_form(deps: Deps, who: Who, follow_up_id: int | None) -> FollowUpShown:
    """*Resolve*: the follow-up to show in the form (the handler tells who resolved it when it is
    not open any more)."""
    result = FollowUpShown()
    with _unit(deps, result) as u:
        _follow_up(u, result, who, follow_up_id)
        assert result.project is not None
        _in_reach(u, who, result.project)
    return result


def resolve(deps: Deps, who: Who, *, follow_up_id: int | None, note: str) -> FollowUpShown:
    """Close a follow-up with a note; the PM's DM is updated in place to show it."""
    result = FollowUpShown()
    with _unit(deps, result) as u:
        follow_up = _follow_up(u, result, who, follow_up_id)
        assert result.project is not None and follow_up.id is not None
        feedback.resolve_follow_up(u.session, u.clock, follow_up=follow_up, project=result.project,
                                   actor=who.user_id, note=note)
        u.owe(key=outbox_keys.follow_up_resolved(follow_up.id), kind=Kind.update, project=result.project,
              target=outbox_keys.target(TargetKind.follow_up, follow_up.id), method="chat.update")
    return result


# --- Results ----------------------------------------------------------------------------------


def summary(deps: Deps, who: Who, *, page: int, per_page: int, pager: Any = _ANY) -> Listed:
    """`/feedback list` in a project's channel (team only); `pager`: the project a *Next* /
    *Previous* button names (None when tampered with)."""
    result = Listed()
    with _unit(deps, result) as u:
        if pager is _ANY:
            result.project = _here(u, who)
        _team_only(who)
        if pager is not _ANY:
            result.project = _project(u, pager)
            _in_reach(u, who, result.project)
        if result.project is None:
            raise NotFound("common.no_project_here")
        result.summary = feedback.summary(u.session, result.project.id or 0, page=page, per_page=per_page)
    return result


def project_here(deps: Deps, who: Who) -> Project | None:
    """The project of the channel a command ran in (for the language of its help)."""
    with unit_of_work(deps) as u:
        return _here(u, who)


# --- Live messages (registered in bot/flows/registrations.py) -----------------------------------


def draw_prompt(session: Session, target: Target) -> Rendered | None:
    prompt = session.get(FeedbackPrompt, target.id)
    project = session.get(Project, prompt.project_id) if prompt is not None else None
    if prompt is None or project is None:
        return None
    return Rendered(channel_id=prompt.channel_id or project.client_channel_id,
                    payload=prompt_message(prompt, project), ts=prompt.message_ts)


def record_prompt_message(session: Session, row: Outbox, ts: str | None) -> None:
    """After-send: store where the prompt was posted."""
    target = outbox_keys.parse_target(row.target)
    prompt = session.get(FeedbackPrompt, target.id) if target is not None else None
    if prompt is not None:
        feedback.set_prompt_message(session, prompt, row.channel_id, ts)


def draw_follow_up(session: Session, target: Target) -> Rendered | None:
    """The PM's DM: the bad news with *Resolve*, or who resolved it and how."""
    follow_up = session.get(FollowUp, target.id)
    if follow_up is None:
        return None
    response = session.get(FeedbackResponse, follow_up.response_id)
    project = session.get(Project, follow_up.project_id)
    if response is None or project is None:
        return None
    question = feedback.question_of(session, response)
    draw = resolved_dm if follow_up.status == FollowUpStatus.resolved else follow_up_dm
    posted = outbox.exists(session, outbox_keys.follow_up(follow_up.id or 0))
    ts = posted.message_ts if posted is not None else None
    lang = (posted.payload or {}).get(READER_LANGUAGE) if posted is not None else None
    return Rendered(channel_id=posted.channel_id if posted is not None and ts else None,
                    payload=draw(project, follow_up, response, question, lang=lang or project.language), ts=ts)
