"""Posting satisfaction prompts and telling the PM about bad news, through the outbox.

Usable from a handler and from a scheduled job alike (recurring prompts, a prompt when a
milestone is done):

    outcome = post_prompt(deps, project_id=p.id, actor="pmbot", trigger="recurring")

`enqueue_prompt` is the part that runs inside the caller's transaction (create the prompt and
owe its message); `post_prompt` wraps it in its own transaction and delivers after the commit.
Each prompt's outbox key names the prompt it follows (`feedback-prompt:<project>:after:<id>`),
so two processes — or two clicks on *Post anyway* — can never post two prompts in a row.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.blocks.feedback import follow_up_dm, prompt_message, resolved_dm
from bot.clock import Clock
from bot.deps import Deps
from bot.flows.delivery import deliver
from bot.i18n import t
from bot.models import FeedbackPrompt, FeedbackResponse, FollowUp, Outbox, OutboxStatus, Project, ProjectStatus
from bot.services import feedback, outbox

log = logging.getLogger(__name__)

KIND_PROMPT = "feedback_prompt"
KIND_FOLLOW_UP = "feedback_follow_up"
_UNSET: Any = object()


def secret_of(deps: Deps) -> bytes:
    """The key material of anonymous responder keys: the signing secret (HTTP mode), else the
    bot token (Socket Mode). Neither is ever stored in the database."""
    material = deps.settings.signing_secret or deps.settings.bot_token or "pmbot"
    return hashlib.sha256(b"pmbot-feedback:" + material.encode()).digest()


def prompt_key(project_id: int, after_prompt_id: int | None) -> str:
    return f"feedback-prompt:{project_id}:after:{after_prompt_id or 0}"


class PromptRaced(Exception):
    """Another process posted the prompt that follows the same one at the same moment. Raised
    so the caller's transaction rolls back and no prompt without a message is kept."""


@dataclass
class PromptOutcome:
    """`queued`/`posted`/`failed` (a prompt was created); or nothing was done: `cooling_down`
    (the last prompt is too recent), `superseded` (someone else posted one a moment ago),
    `closed` (the project is closed) or `not_found`."""

    status: str
    project_id: int
    prompt_id: int | None = None
    outbox_id: int | None = None
    last: FeedbackPrompt | None = None
    until: datetime | None = None
    error: str | None = None


def enqueue_prompt(session: Session, clock: Clock, *, project: Project, actor: str, trigger: str = "manual",
                   question: str | None = None, ignore_cooldown: bool = False,
                   expected_last_id: int | None = _UNSET) -> PromptOutcome:
    """Create a prompt and owe its message, in the caller's transaction (no Slack I/O).

    Raises PromptRaced (or IntegrityError) when another process did the same at the same moment:
    let the transaction roll back. `expected_last_id`: post only if the latest prompt is still
    that one (the *Post anyway* button carries the prompt the person was warned about)."""
    assert project.id is not None
    if project.status != ProjectStatus.active:
        return PromptOutcome("closed", project.id)
    last = feedback.last_prompt(session, project.id)
    last_id = last.id if last else None
    until = feedback.cooldown_until(project, last)
    if expected_last_id is not _UNSET and expected_last_id != last_id:
        return PromptOutcome("superseded", project.id, last=last, until=until)
    if not ignore_cooldown and feedback.in_cooldown(project, last, clock.now()):
        return PromptOutcome("cooling_down", project.id, last=last, until=until)
    key = prompt_key(project.id, last_id)
    if session.exec(select(Outbox.id).where(Outbox.key == key)).first() is not None:
        return PromptOutcome("superseded", project.id, last=last, until=until)
    text = question or t("feedback.default_question", project.language)
    prompt = feedback.create_prompt(session, clock, project=project, actor=actor, question=text, trigger=trigger)
    payload = prompt_message(prompt, project)
    row = outbox.enqueue(session, key=key, team_id=project.team_id, kind=KIND_PROMPT, payload=payload,
                         now=clock.now(), channel_id=project.client_channel_id, project_id=project.id)
    if row.payload != payload:  # another process owes this key's message: ours must not be kept
        raise PromptRaced(project.id)
    return PromptOutcome("queued", project.id, prompt_id=prompt.id, outbox_id=row.id, last=last, until=until)


def post_prompt(deps: Deps, *, project_id: int, actor: str, trigger: str = "manual", question: str | None = None,
                ignore_cooldown: bool = False, expected_last_id: int | None = _UNSET) -> PromptOutcome:
    """Create, commit and post a prompt to the project's client channel (see `enqueue_prompt`)."""
    try:
        with deps.session() as session:
            project = session.get(Project, project_id)
            if project is None:
                return PromptOutcome("not_found", project_id)
            outcome = enqueue_prompt(session, deps.clock, project=project, actor=actor, trigger=trigger,
                                     question=question, ignore_cooldown=ignore_cooldown,
                                     expected_last_id=expected_last_id)
    except (IntegrityError, PromptRaced):  # another process posted a prompt at the same moment
        log.info("a feedback prompt for project %s was posted concurrently", project_id)
        return PromptOutcome("superseded", project_id)
    if outcome.status != "queued" or outcome.outbox_id is None:
        return outcome
    sent = deliver(deps, outcome.outbox_id)
    with deps.session() as session:
        row = session.get(Outbox, outcome.outbox_id)
        if row is not None and row.status == OutboxStatus.sent:
            outcome.status = "posted"
        elif not sent and row is not None:
            outcome.status = "failed" if row.status == OutboxStatus.failed else "queued"
            outcome.error = row.last_error
    return outcome


def record_prompt_message(session: Session, row: Outbox, ts: str | None) -> None:
    """Store where the prompt was posted. The prompt is the first one created after the prompt
    the key names (keys make that order strict)."""
    try:
        after = int(row.key.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return
    prompt = session.exec(
        select(FeedbackPrompt)
        .where(col(FeedbackPrompt.project_id) == row.project_id, col(FeedbackPrompt.id) > after)
        .order_by(col(FeedbackPrompt.id))
        .limit(1)
    ).first()
    if prompt is not None:
        feedback.set_prompt_message(session, prompt, row.channel_id, ts)


# --- The PM's follow-up DM -------------------------------------------------------------------


def follow_up_key(follow_up_id: int) -> str:
    return f"feedback-follow-up:{follow_up_id}"


def enqueue_follow_up_dm(session: Session, clock: Clock, *, project: Project, follow_up: FollowUp,
                         response: FeedbackResponse) -> Outbox:
    """DM the PM about a new follow-up (conversations.open + chat.postMessage at send time)."""
    assert follow_up.id is not None
    payload = follow_up_dm(project, follow_up, response, feedback.question_of(session, response))
    return outbox.enqueue(session, key=follow_up_key(follow_up.id), team_id=project.team_id, kind=KIND_FOLLOW_UP,
                          payload=payload, now=clock.now(), user_id=project.pm_user_id, project_id=project.id)


def enqueue_follow_up_update(session: Session, clock: Clock, *, project: Project, follow_up: FollowUp,
                             response: FeedbackResponse) -> Outbox | None:
    """A comment arrived on a response whose follow-up is still open: DM the PM the news."""
    assert follow_up.id is not None and response.id is not None
    stamp = int(response.updated_at.timestamp() * 1000)
    payload = follow_up_dm(project, follow_up, response, feedback.question_of(session, response), updated=True)
    return outbox.enqueue(session, key=f"{follow_up_key(follow_up.id)}:update:{stamp}", team_id=project.team_id,
                          kind=KIND_FOLLOW_UP, payload=payload, now=clock.now(), user_id=project.pm_user_id,
                          project_id=project.id)


def enqueue_resolved_update(session: Session, clock: Clock, *, project: Project, follow_up: FollowUp,
                            response: FeedbackResponse) -> Outbox | None:
    """Update the original DM in place once the follow-up is resolved (when it was delivered)."""
    assert follow_up.id is not None
    sent = session.exec(select(Outbox).where(Outbox.key == follow_up_key(follow_up.id))).first()
    if sent is None or not sent.message_ts:
        return None
    question = feedback.question_of(session, response)
    payload = {**resolved_dm(project, follow_up, response, question), "ts": sent.message_ts}
    return outbox.enqueue(session, key=f"{follow_up_key(follow_up.id)}:resolved", team_id=project.team_id,
                          kind=KIND_FOLLOW_UP, method="chat.update", payload=payload, now=clock.now(),
                          user_id=sent.user_id, channel_id=sent.channel_id, project_id=project.id)


def open_follow_up_for(session: Session, response_id: int) -> FollowUp | None:
    return session.exec(select(FollowUp).where(col(FollowUp.response_id) == response_id,
                                               col(FollowUp.status) == "open")).first()


def deliver_all(deps: Deps, outbox_ids: list[int]) -> None:
    for outbox_id in outbox_ids:
        deliver(deps, outbox_id)
