"""Capture from the conversation: a message becomes a requirement, a change request, a risk or
feedback, and the record keeps the message as its source (SPEC §2 "Source", §3).

Two ways in:

- **Message shortcuts** (*Capture as requirement* …): `open_form` checks the channel's project,
  who may capture that kind (risks: team only) and the message (a person's, with words), and
  returns the kind's own form prefilled from the message. The form carries the source in its
  private_metadata. On submit, `keeping_source` makes the kind's own use case keep the source
  (a `Rider` on its unit of work): the record, its source, the activity entry and the receipt
  commit together. A message deleted while the form was open keeps the text the person saw;
  its permalink is dropped and no receipt is posted (there is no thread left to answer in).
- **The capture reaction** (`:memo:` by default, a project setting, or off): `react` captures a
  message of a project's client or internal channel as a proposed requirement raised by its
  author. One requirement per message: a second reaction (by anyone, or the same one removed
  and added again) finds it. A reply in a thread is captured too (it is still what the client
  said), and answered in that thread.

The receipt ("Captured as REQ-12: …", in the project's language, in the message's thread) and
the bot's :white_check_mark: are owed in the outbox with keys of their own
(`outbox_keys.capture_receipt` / `capture_reaction`): posted once across retries and processes.
A risk captured from the client channel gets neither: the client would read an internal risk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.blocks import capture as cb
from bot.blocks import text as slack_text
from bot.db import added_new
from bot.deps import Deps
from bot.flows import outbox_keys
from bot.flows import requirements as req_flow
from bot.flows.outbox_keys import Kind
from bot.flows.people import Person
from bot.flows.unit import Unit, unit_of_work
from bot.models import Milestone, Project, ProjectStatus, Requirement
from bot.services import activity, capture, permissions, projects, requirements, risks
from bot.services.capture import Source
from bot.services.errors import DomainError, Forbidden, NotFound
from bot.slack.post import is_transient
from bot.slack.sanitize import clean
from bot.slack.users import UserKind

log = logging.getLogger(__name__)

ENTITY = {"requirement": "requirement", "change": "change_request", "risk": "risk", "feedback": "feedback_response"}


class Refused(Exception):
    """Nothing was opened or captured, and why, in the project's language (None: no project)."""

    def __init__(self, error: DomainError, project: Project | None = None) -> None:
        super().__init__(error.key)
        self.error = error
        self.language = project.language if project is not None else None


# The message --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A Slack message as the capture needs it (from a shortcut's payload or from Slack)."""

    channel_id: str
    ts: str
    text: str
    user_id: str | None
    author_team: str | None
    thread_ts: str | None  # the thread it is a reply in (None: a message of the channel)
    by_app: bool
    has_files: bool


def message_of(raw: object, channel_id: str | None, bot_user_id: str | None = None) -> Message | None:
    """A message from Slack's shape (None when it is not one)."""
    if not isinstance(raw, dict) or not channel_id or not capture.is_ts(raw.get("ts")):
        return None
    ts = str(raw["ts"])
    user = raw.get("user") if isinstance(raw.get("user"), str) else None
    thread = raw.get("thread_ts")
    team = raw.get("user_team") or raw.get("team")
    return Message(
        channel_id=channel_id, ts=ts, text=raw.get("text") if isinstance(raw.get("text"), str) else "",
        user_id=user, author_team=team if isinstance(team, str) else None,
        thread_ts=str(thread) if capture.is_ts(thread) and thread != ts else None,
        by_app=bool(raw.get("bot_id")) or raw.get("subtype") == "bot_message" or user is None
        or (bot_user_id is not None and user == bot_user_id),
        has_files=bool(raw.get("files")) or bool(raw.get("attachments")))


class Unreadable(Exception):
    """Slack would not show the bot the channel (not a member, archived …): the message may
    well be there, but the bot cannot tell, nor answer in it."""


def fetch_message(deps: Deps, channel_id: str, ts: str) -> Message | None:
    """The message as Slack has it now (a reply in a thread too); None when it is gone (a parent
    deleted under its replies stays as a "tombstone": gone too). Slack answers a thread with its
    parent first, then the replies within the window: at most these two. Raises `Unreadable`
    when the channel cannot be read."""
    try:
        answer = deps.client.conversations_replies(channel=channel_id, ts=ts, oldest=ts, latest=ts, inclusive=True,
                                                   limit=2)
    except SlackApiError as err:
        if is_transient(err):
            raise
        code = err.response.get("error")
        log.info("message %s in %s not readable: %s", ts, channel_id, code)
        if code in ("message_not_found", "thread_not_found"):
            return None
        raise Unreadable(str(code)) from err
    found = next((m for m in answer.get("messages", []) if m.get("ts") == ts), None)
    if found is None or found.get("subtype") == "tombstone":
        return None
    # Slack's text, about to be stored: made storable as a request's payload is (NUL, lone surrogates)
    return message_of(clean(found), channel_id, deps.workspace.bot_user_id)


def _permalink(deps: Deps, channel_id: str, ts: str) -> str | None:
    try:
        link = deps.client.chat_getPermalink(channel=channel_id, message_ts=ts).get("permalink")
    except SlackApiError as err:
        log.info("no permalink for %s in %s: %s", ts, channel_id, err.response.get("error"))
        return None
    return link if isinstance(link, str) and capture.is_permalink(link) else None


def _text(deps: Deps, message: Message) -> str:
    """The message decoded, mentions by the names Slack knows."""
    names = {}
    for user_id in slack_text.mentioned_users(message.text):
        info = deps.users.info(deps.client, user_id)
        if info is not None and info.name:
            names[user_id] = info.name
    return slack_text.readable(message.text, names)


@dataclass(frozen=True)
class Author:
    """The message's author, as the record's rules need them."""

    user_id: str
    kind: UserKind
    locale: str | None = None

    @property
    def is_team(self) -> bool:
        return self.kind == UserKind.team

    @property
    def is_client_side(self) -> bool:
        return self.kind != UserKind.team


def _author(deps: Deps, source: Source) -> Author | None:
    if not source.user_id:
        return None
    kind = deps.users.kind(deps.client, source.user_id, deps.workspace, payload_team_id=source.author_team)
    return Author(user_id=source.user_id, kind=kind)


def _source(deps: Deps, message: Message) -> Source:
    return Source(channel_id=message.channel_id, ts=message.ts, user_id=message.user_id,
                  thread_ts=message.thread_ts, permalink=_permalink(deps, message.channel_id, message.ts),
                  author_team=message.author_team)


# Keeping the source, with the record --------------------------------------------------------


def _keep(u: Unit, kind: str, record: Any, source: Source, project: Project, *, actor: str,
          author: Author | None, answered: bool) -> None:
    """The record keeps its source; the activity log says it was captured; the receipt and the
    :white_check_mark: are owed (`answered`: the message is there to answer)."""
    capture.keep(record, source)
    if kind == "feedback" and project.anonymous_feedback:  # the project keeps no responder
        record.source_user_id = None
    by = {"requirement": ("raised_by", "raised_by_client"), "change": ("requested_by", "requested_by_client")}
    before: dict[str, Any] = {}
    if author is not None and kind in by:  # raised (requested) by the message's author
        who, client = by[kind]
        before = {who: getattr(record, who), client: getattr(record, client)}
        setattr(record, who, author.user_id)
        setattr(record, client, permissions.speaks_for_client(project, author.user_id,
                                                              client_side=author.is_client_side))
    u.session.add(record)
    u.session.flush()
    changed = {k: getattr(record, k) for k, v in before.items() if getattr(record, k) != v}
    activity.record(u.session, u.clock, team_id=project.team_id, project_id=project.id, actor=actor,
                    action="captured", entity_type=ENTITY[kind], entity_id=record.id,
                    before={k: before[k] for k in changed} or None,
                    after={"source": capture.source_of(record), **changed})
    internal_only = kind == "risk" and source.channel_id == project.client_channel_id
    if not answered or internal_only:
        return
    title = getattr(record, "title", None) or getattr(record, "comment", None) or ""
    u.owe(key=outbox_keys.capture_receipt(kind, record.id or 0), kind=Kind.capture_receipt, project=project,
          channel_id=source.channel_id,
          payload=cb.receipt(kind, record.id, title, project.language, thread_ts=source.thread_ts or source.ts))
    u.owe(key=outbox_keys.capture_reaction(source.channel_id, source.ts), kind=Kind.capture_reaction,
          project=project, channel_id=source.channel_id, method="reactions.add", payload=cb.reaction(source.ts))


@dataclass
class KeepSource:
    """Rides on the units of a capture form's submission (`bot.flows.unit.rider`): the unit that
    creates the record of `kind` keeps the source with it, in the same transaction."""

    kind: str
    source: Source
    actor: str
    author: Author | None
    answered: bool
    record: Any = None
    _seen: list[Any] = field(default_factory=list)

    def enter(self, unit: Unit) -> None:
        if self.record is not None:
            return
        model = capture.MODELS[self.kind]

        def seen(session: Session, _ctx: object) -> None:
            self._seen.extend(o for o in session.new if isinstance(o, model))

        event.listen(unit.session, "after_flush", seen)

    def leave(self, unit: Unit) -> None:
        if self.record is not None:
            return
        unit.session.flush()
        model = capture.MODELS[self.kind]
        created = [*self._seen, *(o for o in added_new(unit.session) if isinstance(o, model))]
        if not created:
            return
        record = created[0]
        self.record = record
        project = unit.session.get(Project, record.project_id)
        if project is None or self.source.channel_id not in {project.client_channel_id, project.internal_channel_id}:
            log.warning("a capture form named a message of another channel; the record keeps no source")
            return
        other = capture.captured(unit.session, self.kind, self.source.channel_id, self.source.ts)
        if other is not None:  # captured meanwhile (a reaction while the form was open): one source each
            log.info("message %s was captured as %s meanwhile; %s keeps no source", self.source.ts,
                     cb.ref(self.kind, other.id), cb.ref(self.kind, record.id))
            return
        _keep(unit, self.kind, record, self.source, project, actor=self.actor, author=self.author,
              answered=self.answered)


def keeping_source(deps: Deps, who: Person, kind: str, meta: object) -> KeepSource | None:
    """What rides on a capture form's submission: its source (from the form's metadata), checked
    against Slack now — a message deleted meanwhile keeps its text but loses its permalink."""
    source = capture.parse_meta(meta)
    if source is None:
        return None
    try:
        there = fetch_message(deps, source.channel_id, source.ts) is not None
    except Unreadable:  # kept as it was shown; nothing is posted where the bot cannot read
        return KeepSource(kind=kind, source=source, actor=who.user_id, author=_author(deps, source),
                          answered=False)
    if not there:
        source = replace(source, permalink=None)
    return KeepSource(kind=kind, source=source, actor=who.user_id, author=_author(deps, source), answered=there)


# Message shortcuts --------------------------------------------------------------------------


@dataclass
class Form:
    """A kind's form, to be opened prefilled from the message (or the record already captured)."""

    kind: str
    project: Project
    source: Source
    title: str = ""
    description: str = ""
    for_client: bool = False
    today: date | None = None
    milestones: list[Milestone] = field(default_factory=list)
    existing: Any = None


def _check(project: Project | None, who: Person, kind: str) -> Project:
    if project is None:
        raise Refused(NotFound("common.no_project_here"))
    if kind in capture.TEAM_ONLY_KINDS and not who.is_team:
        raise Refused(Forbidden("common.refused_team_only"), project)
    if project.status != ProjectStatus.active:
        raise Refused(Forbidden("permissions.project_closed"), project)
    return project


def open_form(deps: Deps, who: Person, kind: str, channel_id: str | None, raw: object) -> Form:
    """A message shortcut: the form of `kind` for the channel's project, prefilled from the message."""
    assert kind in capture.KINDS
    with unit_of_work(deps) as u:
        project = _check(projects.for_channel(u.session, u.team_id, channel_id), who, kind)
        message = message_of(raw, channel_id, deps.workspace.bot_user_id)
        if message is None:
            raise Refused(NotFound("capture.error_gone"), project)
        if message.by_app:
            raise Refused(DomainError("capture.error_bot_message"), project)
        existing = capture.captured(u.session, kind, message.channel_id, message.ts)
        if existing is not None:
            return Form(kind=kind, project=project, source=Source(message.channel_id, message.ts),
                        existing=existing)
        today = deps.clock.now().astimezone(ZoneInfo(project.timezone or "UTC")).date()
        plan = risks.milestones_for(u.session, project.id or 0) if kind == "risk" else []
    text = _text(deps, message)
    if not text:
        raise Refused(DomainError("capture.error_no_text"), project)
    filled = capture.prefill(kind, text)
    return Form(kind=kind, project=project, source=_source(deps, message), title=filled.title,
                description=filled.description, today=today, milestones=plan,
                for_client=permissions.speaks_for_client(project, who.user_id, client_side=who.is_client_side))


# The capture reaction -----------------------------------------------------------------------


@dataclass
class Reacted:
    """What a capture reaction came to: the requirement (new, or the one captured before)."""

    project: Project
    req: Requirement | None
    created: bool
    refused: DomainError | None = None  # the message cannot be captured (no words)
    thread_ts: str | None = None  # the thread the message is a reply in (the answer goes there too)


def _first_look(deps: Deps, channel_id: str, ts: str, reaction: str) -> Reacted | None:
    """The active project of the channel when `reaction` is its capture reaction (None: not a
    capture), with the requirement already captured from the message, if any."""
    with unit_of_work(deps) as u:
        project = projects.for_channel(u.session, u.team_id, channel_id)
        if (project is None or project.status != ProjectStatus.active or not project.capture_emoji
                or capture.reaction_name(reaction) != project.capture_emoji):
            return None
        return Reacted(project=project, req=capture.captured(u.session, "requirement", channel_id, ts), created=False)


def react(deps: Deps, who: Person, channel_id: str, ts: str, reaction: str) -> Reacted | None:
    """The capture reaction on a message of a project's channel: a proposed requirement raised by
    the message's author, once per message. None: not a capture (another emoji, another
    channel, an app's message, a message gone). Two units: the first look, and — after Slack was
    asked for the message, outside any transaction — the capture."""
    if not capture.is_ts(ts):
        return None
    first = _first_look(deps, channel_id, ts, reaction)
    if first is None or first.req is not None:
        return first
    project = first.project
    try:
        message = fetch_message(deps, channel_id, ts)
    except Unreadable:
        return None
    if message is None or message.by_app:
        return None
    text = _text(deps, message)
    if not text:
        return Reacted(project=project, req=None, created=False, refused=DomainError("capture.error_no_text"),
                       thread_ts=message.thread_ts)
    source = _source(deps, message)
    author = _author(deps, source)
    assert author is not None
    filled = capture.prefill("requirement", text)
    try:
        with unit_of_work(deps) as u:
            current = u.session.get(Project, project.id)
            if current is None or current.status != ProjectStatus.active:
                return None
            saved = req_flow._create(u, author, current, requirements.RequirementInput(
                title=filled.title, description=filled.description))
            _keep(u, "requirement", saved.req, source, current, actor=who.user_id, author=author, answered=True)
            return Reacted(project=current, req=saved.req, created=True, thread_ts=message.thread_ts)
    except IntegrityError:  # another process captured it a moment ago
        return _already(deps, channel_id, ts, project)


def _already(deps: Deps, channel_id: str, ts: str, project: Project) -> Reacted | None:
    with unit_of_work(deps) as u:
        req = capture.captured(u.session, "requirement", channel_id, ts)
        return Reacted(project=project, req=req, created=False) if req is not None else None
