"""Requirements: the written baseline of a project, confirmed by the client (SPEC §2).

Status rules (enforced here, nowhere else):

    proposed ──confirm (client)──────────▶ confirmed ──mark_done──▶ done
        │  └──request_changes (client)──▶ changes_requested
        │                                    │  (edit, then send_for_confirmation ──▶ proposed)
    any *open* one (proposed, changes_requested, confirmed) ──defer──▶ deferred
                                                            └─drop───▶ dropped

"Open" means not yet settled: proposed, changes_requested and confirmed (a confirmed
requirement may still be deferred or dropped, e.g. when a change request removes it from the
scope). deferred, dropped and done are final. Only proposed and changes_requested
requirements can be edited: a confirmed one is the agreed baseline, changed through a change
request instead.

Every state change is one conditional UPDATE (… WHERE status = <the status we read>), so of
two clicks, replays or people racing exactly one wins; the other gets InvalidTransition with
the status the requirement has now. Each such UPDATE bumps `version` itself (the ORM hook in
bot/models.py only sees ORM changes). A decision names the version it was shown: an UPDATE
fenced by that version turns a click on an older rendering into `Outdated`, and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy import select as core_select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.db import Linked, add_new, run_linked
from bot.models import (
    PRIORITIES,
    REQ_COMMENT_MAX,
    REQ_TEXT_MAX,
    REQ_TITLE_MAX,
    ActivityLog,
    Priority,
    Project,
    ProjectStatus,
    Requirement,
    RequirementStatus,
)
from bot.services import activity, project_cache
from bot.services.errors import InvalidTransition, NotFound, ValidationFailed
from bot.services.permissions import Decider


class Outdated(InvalidTransition):
    """The requirement changed since the version a button or form showed; nothing was changed."""

    def __init__(self) -> None:
        super().__init__("requirements.error_outdated")

TITLE_MAX = REQ_TITLE_MAX
TEXT_MAX = REQ_TEXT_MAX
COMMENT_MAX = REQ_COMMENT_MAX
ENTITY = "requirement"

S = RequirementStatus
OPEN = frozenset({S.proposed, S.changes_requested, S.confirmed})
EDITABLE = frozenset({S.proposed, S.changes_requested})
STATUSES = (S.proposed, S.changes_requested, S.confirmed, S.deferred, S.dropped, S.done)

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "send_for_confirmation": (frozenset({S.proposed, S.changes_requested}), S.proposed),
    "confirm": (frozenset({S.proposed}), S.confirmed),
    "request_changes": (frozenset({S.proposed}), S.changes_requested),
    "defer": (OPEN, S.deferred),
    "drop": (OPEN, S.dropped),
    "mark_done": (frozenset({S.confirmed}), S.done),
}
# The activity-log action each transition records.
LOG_ACTION = {
    "send_for_confirmation": "sent_for_confirmation",
    "confirm": "confirmed",
    "request_changes": "changes_requested",
    "defer": "deferred",
    "drop": "dropped",
    "mark_done": "done",
}
CONTENT_FIELDS = ["title", "description", "priority", "acceptance_criteria"]
SNAPSHOT_FIELDS = [*CONTENT_FIELDS, "status", "raised_by", "raised_by_client"]
_LOG = ActivityLog.__table__  # type: ignore[attr-defined]
_SENT_BY = (core_select(_LOG.c.actor_user_id)  # who last sent a requirement for confirmation
            .where(_LOG.c.entity_type == ENTITY, _LOG.c.entity_id == bindparam("b_id"),
                   _LOG.c.action == LOG_ACTION["send_for_confirmation"])
            .order_by(_LOG.c.id.desc()).limit(1))


@dataclass
class RequirementInput:
    """What a person typed in the requirement modal (or after `/req`), before validation."""

    title: str
    description: str = ""
    priority: str = Priority.should
    acceptance_criteria: str = ""


def can(action: str, status: str) -> bool:
    """Whether `action` is allowed for a requirement in `status` (the transition table)."""
    allowed, _ = TRANSITIONS[action]
    return status in allowed


def can_edit(status: str) -> bool:
    return status in EDITABLE


def is_awaiting_confirmation(req: Requirement) -> bool:
    """Posted to the client channel and not decided yet."""
    return req.awaiting_confirmation


def can_send(req: Requirement) -> bool:
    """A proposed requirement goes out once; after changes were requested it may go again."""
    return req.status == S.changes_requested or (req.status == S.proposed and req.sent_for_confirmation_at is None)


def clean_title(text: str) -> str:
    return " ".join((text or "").split())


def validate(data: RequirementInput) -> RequirementInput:
    """Check every field; raise ValidationFailed naming each bad one and why."""
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    title = clean_title(data.title)
    if not title:
        errors["title"] = ("requirements.error_title_required", {})
    elif len(title) > TITLE_MAX:
        errors["title"] = ("requirements.error_title_too_long", {"max": TITLE_MAX, "length": len(title)})
    description = (data.description or "").strip()
    if len(description) > TEXT_MAX:
        errors["description"] = ("common.error_too_long", {"max": TEXT_MAX})
    acceptance = (data.acceptance_criteria or "").strip()
    if len(acceptance) > TEXT_MAX:
        errors["acceptance_criteria"] = ("common.error_too_long", {"max": TEXT_MAX})
    if data.priority not in PRIORITIES:
        errors["priority"] = ("requirements.error_priority", {})
    if errors:
        raise ValidationFailed(errors)
    return RequirementInput(title=title, description=description, priority=str(data.priority),
                            acceptance_criteria=acceptance)


def _require_active(project: Project) -> None:
    if project.status != ProjectStatus.active:
        raise InvalidTransition("permissions.project_closed")


def _log(session: Session, clock: Clock, req: Requirement, project: Project, *, actor: str, action: str,
         before: dict[str, Any] | None, after: dict[str, Any] | None, on_behalf: bool = False) -> None:
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor, action=action,
                    entity_type=ENTITY, entity_id=req.id, before=before, after=after,
                    on_behalf_of_client=on_behalf)


def create(session: Session, clock: Clock, *, project: Project, actor: str, data: RequirementInput,
           raised_by_client: bool) -> Requirement:
    _require_active(project)
    clean = validate(data)
    now = clock.now()
    assert project.id is not None
    values = dict(
        project_id=project.id, title=clean.title, description=clean.description, priority=clean.priority,
        acceptance_criteria=clean.acceptance_criteria, raised_by=actor, raised_by_client=raised_by_client,
        status=S.proposed, created_at=now, updated_at=now,
    )
    created = activity.entry(clock, team_id=project.team_id, project_id=project.id, actor=actor, action="created",
                             entity_type=ENTITY, after={f: values[f] for f in SNAPSHOT_FIELDS})
    # the entry in the requirement's own INSERT (one round trip on PostgreSQL, issue 13)
    return add_new(session, Requirement, linked=Linked(activity.TABLE, created, "entity_id"), **values)


def edit(session: Session, clock: Clock, *, req: Requirement, project: Project, actor: str,
         data: RequirementInput, version: int | None = None) -> Requirement:
    """Change the content of a requirement not yet agreed. A confirmed one is the baseline.
    `version`: the version the change was planned on (Outdated if it moved on since)."""
    _require_active(project)
    clean = validate(data)
    if not can_edit(req.status):
        raise InvalidTransition(f"requirements.error_now_{req.status}")
    before = activity.snapshot(req, CONTENT_FIELDS)
    values = {f: getattr(clean, f) for f in CONTENT_FIELDS}
    if values == before:
        return req  # nothing to change: no new version, nothing logged
    _conditional_update(session, req, {**values, "updated_at": clock.now()}, version=version)
    old, new = activity.diff(before, activity.snapshot(req, CONTENT_FIELDS))
    if new:
        _log(session, clock, req, project, actor=actor, action="edited", before=old, after=new)
    return req


_UPDATES: dict[tuple[tuple[str, ...], bool], Any] = {}


def _update_statement(fields: tuple[str, ...], versioned: bool, extra_where: list[Any] | None) -> Any:
    """The conditional UPDATE … RETURNING for these fields, with bound parameters: built once
    per shape (building and caching it again on every click was a tenth of a click's CPU,
    issue 13); one with extra conditions is built for the call."""
    key = (fields, versioned)
    stmt = None if extra_where else _UPDATES.get(key)
    if stmt is None:
        table = Requirement.__table__  # type: ignore[attr-defined]
        where = [table.c.id == bindparam("w_id"), table.c.status == bindparam("w_status"), *(extra_where or [])]
        if versioned:
            where.append(table.c.version == bindparam("w_version"))
        stmt = (update(table).where(*where)
                .values(**{f: bindparam(f"v_{f}", type_=table.c[f].type) for f in fields},
                        version=table.c.version + 1)
                .returning(*table.c))
        if not extra_where:
            _UPDATES[key] = stmt
    return stmt


def _conditional_update(session: Session, req: Requirement, values: dict[str, Any],
                        extra_where: list[Any] | None = None, *, version: int | None = None,
                        logged: dict[str, Any] | None = None) -> None:
    """UPDATE the row only if it still has the status we read (and, given `version`, is still
    that version); else refuse with its status now. The UPDATE bumps the version. `logged`:
    the activity-log entry (`activity.entry`) to store when it went through, with the UPDATE
    itself when it can be (`run_linked`: one round trip on PostgreSQL, issue 13)."""
    read_status = req.status
    params = {**{f"v_{k}": v for k, v in values.items()}, "w_id": req.id, "w_status": read_status,
              "w_version": version}
    # A Core UPDATE (the ORM's costs ten times the CPU) whose RETURNING is the row as it is now:
    # no second round trip to refresh `req` when it went through.
    statement = _update_statement(tuple(values), version is not None, extra_where)
    if logged is None:
        row = session.execute(statement, params).first()
    elif extra_where:  # a statement built for this call: not one to keep a combined one of
        row = session.execute(statement, params).first()
        if row is not None:
            activity.record_entry(session, {**logged, "entity_id": req.id})
    else:
        row = run_linked(session, statement, params, Linked(activity.TABLE, logged, "entity_id"))
    if row is not None:
        for key, value in row._mapping.items():
            set_committed_value(req, key, value)
        return
    session.refresh(req)
    if req.status == read_status and version is not None and req.version != version:
        raise Outdated()
    if req.status == read_status and req.status == S.proposed and req.sent_for_confirmation_at is not None:
        raise InvalidTransition("requirements.error_already_sent")
    raise InvalidTransition(f"requirements.error_now_{req.status}")


def _transition(session: Session, clock: Clock, *, req: Requirement, project: Project, action: str, actor: str,
                values: dict[str, Any] | None = None, extra_where: list[Any] | None = None,
                on_behalf: bool = False, log_extra: dict[str, Any] | None = None,
                version: int | None = None) -> Requirement:
    _require_active(project)
    allowed, target = TRANSITIONS[action]
    if req.status not in allowed:
        raise InvalidTransition(f"requirements.error_now_{req.status}")
    logged = activity.entry(clock, team_id=project.team_id, project_id=project.id, actor=actor,
                            action=LOG_ACTION[action], entity_type=ENTITY, entity_id=req.id,
                            before={"status": req.status}, after={"status": target, **(log_extra or {})},
                            on_behalf_of_client=on_behalf)
    _conditional_update(session, req, {"status": target, "updated_at": clock.now(), **(values or {})}, extra_where,
                        version=version, logged=logged)
    return req


def send_for_confirmation(session: Session, clock: Clock, *, req: Requirement, project: Project,
                          actor: str) -> Requirement:
    """Mark the requirement as waiting for the client; the caller posts it to the client channel.

    A proposed requirement is sent once (a second click is refused); one the client asked to
    change goes back to proposed and out again."""
    if req.status == S.proposed and req.sent_for_confirmation_at is not None:
        raise InvalidTransition("requirements.error_already_sent")
    extra = [col(Requirement.sent_for_confirmation_at).is_(None)] if req.status == S.proposed else None
    now = clock.now()
    return _transition(
        session, clock, req=req, project=project, action="send_for_confirmation", actor=actor, extra_where=extra,
        values={"sent_for_confirmation_at": now, "confirmation_channel_id": None, "confirmation_ts": None,
                "decided_by": None, "decided_at": None, "decided_on_behalf": False, "change_comment": None},
        log_extra={"sent_for_confirmation_at": now},
    )


def confirm(session: Session, clock: Clock, *, req: Requirement, project: Project, decider: Decider,
            version: int | None = None) -> Requirement:
    """The client agrees; `version`: the version the decider was shown (Outdated if older)."""
    now = clock.now()
    return _transition(
        session, clock, req=req, project=project, action="confirm", actor=decider.user_id, version=version,
        values={"decided_by": decider.user_id, "decided_at": now, "decided_on_behalf": decider.on_behalf_of_client},
        on_behalf=decider.on_behalf_of_client,
        log_extra={"decided_by": decider.user_id, "decided_at": now},
    )


def request_changes(session: Session, clock: Clock, *, req: Requirement, project: Project, decider: Decider,
                    comment: str, version: int | None = None) -> Requirement:
    text = (comment or "").strip()
    if not text:
        raise ValidationFailed({"comment": ("requirements.error_comment_required", {})})
    if len(text) > COMMENT_MAX:
        raise ValidationFailed({"comment": ("common.error_too_long", {"max": COMMENT_MAX})})
    now = clock.now()
    return _transition(
        session, clock, req=req, project=project, action="request_changes", actor=decider.user_id, version=version,
        values={"decided_by": decider.user_id, "decided_at": now, "decided_on_behalf": decider.on_behalf_of_client,
                "change_comment": text},
        on_behalf=decider.on_behalf_of_client,
        log_extra={"decided_by": decider.user_id, "decided_at": now, "change_comment": text},
    )


def defer(session: Session, clock: Clock, *, req: Requirement, project: Project, actor: str) -> Requirement:
    return _transition(session, clock, req=req, project=project, action="defer", actor=actor)


def drop(session: Session, clock: Clock, *, req: Requirement, project: Project, actor: str) -> Requirement:
    return _transition(session, clock, req=req, project=project, action="drop", actor=actor)


def mark_done(session: Session, clock: Clock, *, req: Requirement, project: Project, actor: str) -> Requirement:
    return _transition(session, clock, req=req, project=project, action="mark_done", actor=actor)


def set_confirmation_message(session: Session, req: Requirement, *, channel_id: str, ts: str) -> None:
    """Where the confirmation request was posted (for the in-place update and for nudges)."""
    req.confirmation_channel_id = channel_id
    req.confirmation_ts = ts
    session.add(req)
    session.flush()


# Reading ------------------------------------------------------------------------------------


def get(session: Session, team_id: str, req_id: int) -> tuple[Requirement, Project]:
    """The requirement and its project, if both exist in this workspace; else NotFound."""
    req = session.get(Requirement, req_id)
    project = project_cache.by_id(session, req.project_id) if req is not None else None
    if req is None or project is None or project.team_id != team_id:
        raise NotFound("common.not_found")
    return req, project


def list_page(session: Session, project_id: int, *, statuses: list[str] | None = None, page: int = 1,
              per_page: int = 10) -> tuple[list[Requirement], int]:
    """One page of the project's requirements, newest first, and how many there are in all."""
    where = [col(Requirement.project_id) == project_id]
    if statuses:
        where.append(col(Requirement.status).in_(statuses))
    total = session.exec(select(func.count()).select_from(Requirement).where(*where)).one()
    stmt = (select(Requirement).where(*where)
            .order_by(col(Requirement.created_at).desc(), col(Requirement.id).desc())
            .offset((max(page, 1) - 1) * per_page).limit(per_page))
    return list(session.exec(stmt)), int(total)


def all_of(session: Session, project_id: int) -> list[Requirement]:
    """Every requirement of a project, oldest first (the order of the requirements document)."""
    stmt = select(Requirement).where(Requirement.project_id == project_id).order_by(col(Requirement.id))
    return list(session.exec(stmt))


def awaiting_confirmation(session: Session, project_id: int) -> list[Requirement]:
    """Requirements posted to the client and not decided yet, oldest request first
    (what the digest lists as awaiting the client's decision, and what nudges are about)."""
    stmt = (select(Requirement)
            .where(Requirement.project_id == project_id, Requirement.status == S.proposed,
                   col(Requirement.sent_for_confirmation_at).is_not(None))
            .order_by(col(Requirement.sent_for_confirmation_at), col(Requirement.id)))
    return list(session.exec(stmt))


def raised_or_decided_between(session: Session, project_id: int, start: datetime,
                              end: datetime) -> tuple[list[Requirement], list[Requirement]]:
    """(raised, confirmed) in [start, end): what the weekly digest reports."""
    raised = session.exec(select(Requirement).where(
        Requirement.project_id == project_id, col(Requirement.created_at) >= start,
        col(Requirement.created_at) < end).order_by(col(Requirement.id)))
    confirmed = session.exec(select(Requirement).where(
        Requirement.project_id == project_id, col(Requirement.status).in_([S.confirmed, S.done]),
        col(Requirement.decided_at) >= start, col(Requirement.decided_at) < end).order_by(col(Requirement.id)))
    return list(raised), list(confirmed)


def sent_by(session: Session, req: Requirement) -> str | None:
    """Who last sent the requirement for confirmation (from its log)."""
    return session.execute(_SENT_BY, {"b_id": req.id}).scalar()
