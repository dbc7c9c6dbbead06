"""Client items: what the team needs *from* the client (SPEC §2 "Client item").

Status rules (enforced here, nowhere else):

    open ──done (client side)──────▶ done
      │ └──receive (team)───────────▶ done      (the team says it arrived)
      │ └──cancel (team)────────────▶ cancelled
      └──extend (client side)──▶ open            (a new due date; the extension is kept as a row)

done and cancelled are final. Every change is one conditional UPDATE (… WHERE status = 'open'
AND version = <the version shown>), so of two clicks exactly one wins; the other gets
`InvalidTransition` (the item moved on) or `Outdated` (an older rendering), and nothing changes.
Each UPDATE bumps `version` itself.

Overdue: an open item whose due date (in the project's time zone) has passed. It is nudged in
its thread on working days and the PM is told after the project's escalation threshold
(`overdue_working_days` counts working days since the due date, with the project calendar);
an overdue item that blocks a milestone puts that milestone at risk (`overdue_blocking`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.models import (
    CLIENT_ITEM_TITLE_MAX,
    ClientItem,
    ClientItemExtension,
    ClientItemStatus,
    Milestone,
    Project,
    ProjectStatus,
)
from bot.reports.facts import DigestItems
from bot.services import activity, calendar
from bot.services.errors import InvalidTransition, NotFound, ValidationFailed
from bot.services.permissions import Decider

ENTITY = "client_item"
TITLE_MAX = CLIENT_ITEM_TITLE_MAX
TEXT_MAX = 3000
NOTE_MAX = 1000
QUICK_DUE_WORKING_DAYS = 3  # `/client <text>`: due in 3 working days
MAX_DUE_AHEAD = timedelta(days=366 * 2)

S = ClientItemStatus
STATUSES = (S.open, S.done, S.cancelled)

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "done": (frozenset({S.open}), S.done),
    "receive": (frozenset({S.open}), S.done),
    "cancel": (frozenset({S.open}), S.cancelled),
    "extend": (frozenset({S.open}), S.open),
}
LOG_ACTION = {"done": "done", "receive": "received", "cancel": "cancelled", "extend": "extended"}
CLIENT_ACTIONS = frozenset({"done", "extend"})  # the client's side (or the PM on its behalf)
TEAM_ACTIONS = frozenset({"receive", "cancel"})
SNAPSHOT_FIELDS = ["title", "details", "owner_user_id", "due_date", "milestone_id", "status"]


class Outdated(InvalidTransition):
    """The item changed since the version a button showed; nothing was changed."""

    def __init__(self) -> None:
        super().__init__("client_items.error_outdated")


@dataclass
class ItemInput:
    """What a person typed or picked in the form (or after `/client`), before validation."""

    title: str
    details: str = ""
    owner_user_id: str | None = None
    due_date: str | None = None  # ISO date from a datepicker
    milestone_id: int | None = None


@dataclass(frozen=True)
class CleanItem:
    title: str
    details: str
    owner_user_id: str
    due_date: date
    milestone_id: int | None


def can(action: str, status: str) -> bool:
    allowed, _ = TRANSITIONS[action]
    return status in allowed


def ref(item: ClientItem) -> str:
    return f"CI-{item.id}"


def clean_title(text: str) -> str:
    return " ".join((text or "").split())


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def due_in_working_days(project: Project, now: datetime, days: int = QUICK_DUE_WORKING_DAYS) -> date:
    """The date `days` working days after today in the project's calendar (its working days,
    holidays and closures, as `bot.services.calendar` knows them)."""
    day = calendar.today(project, now)
    for _ in range(max(days, 0)):
        day = calendar.next_working_day(project, day + timedelta(days=1))
    return day


def validate(session: Session, project: Project, data: ItemInput, *, today: date,
             owners: set[str] | None) -> CleanItem:
    """Check every field; raise ValidationFailed naming each bad one. `owners`: the client-side
    people the owner may be (None: not checked here, e.g. the first approver of a quick item)."""
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    title = clean_title(data.title)
    if not title:
        errors["title"] = ("client_items.error_title_required", {})
    elif len(title) > TITLE_MAX:
        errors["title"] = ("client_items.error_title_too_long", {"max": TITLE_MAX, "length": len(title)})
    details = (data.details or "").strip()
    if len(details) > TEXT_MAX:
        errors["details"] = ("common.error_too_long", {"max": TEXT_MAX})
    owner = data.owner_user_id or ""
    if not owner:
        errors["owner"] = ("client_items.error_owner_required", {})
    elif owners is not None and owner not in owners:
        errors["owner"] = ("client_items.error_owner_not_client", {})
    due = _parse_date(data.due_date)
    if due is None:
        errors["due_date"] = ("client_items.error_due_required", {})
    elif due < today:
        errors["due_date"] = ("client_items.error_due_past", {"today": today.isoformat()})
    elif due > today + MAX_DUE_AHEAD:
        errors["due_date"] = ("client_items.error_due_far", {})
    milestone_id = data.milestone_id
    if milestone_id is not None:
        m = session.get(Milestone, milestone_id)
        if m is None or m.project_id != project.id or m.done:
            errors["milestone"] = ("client_items.error_milestone", {})
    if errors:
        raise ValidationFailed(errors)
    assert due is not None
    return CleanItem(title=title, details=details, owner_user_id=owner, due_date=due, milestone_id=milestone_id)


def _require_active(project: Project) -> None:
    if project.status != ProjectStatus.active:
        raise InvalidTransition("permissions.project_closed")


def _log(session: Session, clock: Clock, item: ClientItem, project: Project, *, actor: str, action: str,
         before: dict[str, Any] | None, after: dict[str, Any] | None, on_behalf: bool = False) -> None:
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor, action=action,
                    entity_type=ENTITY, entity_id=item.id, before=before, after=after,
                    on_behalf_of_client=on_behalf)


def create(session: Session, clock: Clock, *, project: Project, actor: str, data: ItemInput,
           owners: set[str] | None) -> ClientItem:
    _require_active(project)
    clean = validate(session, project, data, today=calendar.today(project, clock.now()), owners=owners)
    now = clock.now()
    assert project.id is not None
    item = ClientItem(project_id=project.id, title=clean.title, details=clean.details,
                      owner_user_id=clean.owner_user_id, due_date=clean.due_date, milestone_id=clean.milestone_id,
                      status=S.open, created_by=actor, created_at=now, updated_at=now)
    session.add(item)
    session.flush()
    _log(session, clock, item, project, actor=actor, action="created", before=None,
         after=activity.snapshot(item, SNAPSHOT_FIELDS))
    return item


def _conditional_update(session: Session, item: ClientItem, values: dict[str, Any], *,
                        version: int | None) -> None:
    """UPDATE the row only if it is still open (and, given `version`, still that version);
    else refuse with what it is now. The UPDATE bumps the version."""
    read_status = item.status
    where = [col(ClientItem.id) == item.id, col(ClientItem.status) == read_status]
    if version is not None:
        where.append(col(ClientItem.version) == version)
    result = session.execute(update(ClientItem).where(*where)
                             .values(**values, version=ClientItem.version + 1)
                             .execution_options(synchronize_session=False))
    session.refresh(item)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if item.status == read_status and version is not None and item.version != version:
            raise Outdated()
        raise InvalidTransition(f"client_items.error_now_{item.status}")


def _transition(session: Session, clock: Clock, *, item: ClientItem, project: Project, action: str, actor: str,
                values: dict[str, Any] | None = None, on_behalf: bool = False,
                log_extra: dict[str, Any] | None = None, version: int | None = None) -> ClientItem:
    _require_active(project)
    allowed, target = TRANSITIONS[action]
    if item.status not in allowed:
        raise InvalidTransition(f"client_items.error_now_{item.status}")
    before = {"status": item.status}
    _conditional_update(session, item, {"status": target, "updated_at": clock.now(), **(values or {})},
                        version=version)
    _log(session, clock, item, project, actor=actor, action=LOG_ACTION[action], before=before,
         after={"status": item.status, **(log_extra or {})}, on_behalf=on_behalf)
    return item


def mark_done(session: Session, clock: Clock, *, item: ClientItem, project: Project, decider: Decider,
              version: int | None = None) -> ClientItem:
    """The client says it is done (or the PM / a stand-in on the client's behalf, recorded so)."""
    now = clock.now()
    return _transition(session, clock, item=item, project=project, action="done", actor=decider.user_id,
                       version=version, on_behalf=decider.on_behalf_of_client,
                       values={"closed_by": decider.user_id, "closed_at": now, "closed_how": "done",
                               "closed_on_behalf": decider.on_behalf_of_client},
                       log_extra={"closed_by": decider.user_id, "closed_at": now})


def receive(session: Session, clock: Clock, *, item: ClientItem, project: Project, actor: str,
            version: int | None = None) -> ClientItem:
    """The team has what it needed."""
    now = clock.now()
    return _transition(session, clock, item=item, project=project, action="receive", actor=actor, version=version,
                       values={"closed_by": actor, "closed_at": now, "closed_how": "received"},
                       log_extra={"closed_by": actor, "closed_at": now})


def cancel(session: Session, clock: Clock, *, item: ClientItem, project: Project, actor: str,
           version: int | None = None) -> ClientItem:
    """The team does not need it any more."""
    now = clock.now()
    return _transition(session, clock, item=item, project=project, action="cancel", actor=actor, version=version,
                       values={"closed_by": actor, "closed_at": now, "closed_how": "cancelled"},
                       log_extra={"closed_by": actor, "closed_at": now})


def validate_extension(project: Project, item: ClientItem, new_due: str | None, note: str,
                       today: date) -> tuple[date, str]:
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    due = _parse_date(new_due)
    if due is None:
        errors["due_date"] = ("client_items.error_due_required", {})
    elif due <= item.due_date or due < today:
        errors["due_date"] = ("client_items.error_extend_later", {"due": item.due_date.isoformat()})
    elif due > today + MAX_DUE_AHEAD:
        errors["due_date"] = ("client_items.error_due_far", {})
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        errors["note"] = ("common.error_too_long", {"max": NOTE_MAX})
    if errors:
        raise ValidationFailed(errors)
    assert due is not None
    return due, text


def extend(session: Session, clock: Clock, *, item: ClientItem, project: Project, decider: Decider,
           new_due: str | None, note: str, version: int | None = None) -> ClientItemExtension:
    """*Need more time*: a later due date and an optional note; the extension is kept."""
    _require_active(project)
    due, text = validate_extension(project, item, new_due, note, calendar.today(project, clock.now()))
    old = item.due_date
    _transition(session, clock, item=item, project=project, action="extend", actor=decider.user_id,
                version=version, on_behalf=decider.on_behalf_of_client, values={"due_date": due},
                log_extra={"due_date": due, "old_due_date": old, "note": text})
    ext = ClientItemExtension(item_id=item.id or 0, old_due_date=old, new_due_date=due, note=text,
                              by_user_id=decider.user_id, on_behalf=decider.on_behalf_of_client,
                              created_at=clock.now())
    session.add(ext)
    session.flush()
    return ext


def set_message(session: Session, item: ClientItem, *, channel_id: str, ts: str) -> None:
    """Where the item was posted (for in-place updates and threaded nudges); not a change of the
    item, so its version stays."""
    session.execute(update(ClientItem).where(col(ClientItem.id) == item.id, col(ClientItem.message_ts).is_(None))
                    .values(channel_id=channel_id, message_ts=ts).execution_options(synchronize_session=False))
    session.refresh(item)


# Reading ------------------------------------------------------------------------------------


def get(session: Session, team_id: str, item_id: int) -> tuple[ClientItem, Project]:
    item = session.get(ClientItem, item_id)
    project = session.get(Project, item.project_id) if item is not None else None
    if item is None or project is None or project.team_id != team_id:
        raise NotFound("common.not_found")
    return item, project


def is_overdue(item: ClientItem, today: date) -> bool:
    return item.status == S.open and item.due_date < today


def overdue_working_days(project: Project, item: ClientItem, now: datetime) -> int:
    """Working days since the due date (0 on the due date itself)."""
    return calendar.working_days_between(project, calendar.at_local(project, item.due_date, time(12, 0)), now)


# `/client list [open|done|all]`
FILTERS: dict[str, list[str] | None] = {"open": [S.open], "done": [S.done, S.cancelled], "all": None}


def list_page(session: Session, project_id: int, *, status_filter: str = "open", page: int = 1,
              per_page: int = 10) -> tuple[list[ClientItem], int]:
    """One page of the project's items, newest due date first, and how many there are."""
    where = [col(ClientItem.project_id) == project_id]
    statuses = FILTERS.get(status_filter)
    if statuses:
        where.append(col(ClientItem.status).in_(statuses))
    total = session.exec(select(func.count()).select_from(ClientItem).where(*where)).one()
    stmt = (select(ClientItem).where(*where)
            .order_by(col(ClientItem.due_date).desc(), col(ClientItem.id).desc())
            .offset((max(page, 1) - 1) * per_page).limit(per_page))
    return list(session.exec(stmt)), int(total)


def all_of(session: Session, project_id: int) -> list[ClientItem]:
    """Every item of a project, oldest first (exports)."""
    return list(session.exec(select(ClientItem).where(ClientItem.project_id == project_id)
                             .order_by(col(ClientItem.id))))


def extensions(session: Session, item_ids: list[int]) -> dict[int, list[ClientItemExtension]]:
    """Each item's extensions, oldest first."""
    out: dict[int, list[ClientItemExtension]] = defaultdict(list)
    if item_ids:
        for ext in session.exec(select(ClientItemExtension).where(col(ClientItemExtension.item_id).in_(item_ids))
                                .order_by(col(ClientItemExtension.id))):
            out[ext.item_id].append(ext)
    return out


def open_items(session: Session, project_ids: list[int]) -> list[ClientItem]:
    """Open items of these projects, soonest due first (the digest, reminders, nudges)."""
    if not project_ids:
        return []
    return list(session.exec(select(ClientItem).where(col(ClientItem.project_id).in_(project_ids),
                                                      ClientItem.status == S.open)
                             .order_by(col(ClientItem.due_date), col(ClientItem.id))))


def overdue_blocking_stmt(project_id: int, today: date) -> Any:
    """The ids of the milestones an overdue open item of the project blocks (a SELECT to combine)."""
    return select(ClientItem.milestone_id).where(
        ClientItem.project_id == project_id, ClientItem.status == S.open,
        col(ClientItem.milestone_id).is_not(None), col(ClientItem.due_date) < today)


def overdue_blocking(session: Session, project: Project, today: date) -> dict[int, list[ClientItem]]:
    """Milestone id → the overdue open items that block it (what puts the milestone at risk)."""
    out: dict[int, list[ClientItem]] = defaultdict(list)
    stmt = select(ClientItem).where(ClientItem.project_id == project.id, ClientItem.status == S.open,
                                    col(ClientItem.milestone_id).is_not(None), col(ClientItem.due_date) < today)
    for item in session.exec(stmt.order_by(col(ClientItem.due_date), col(ClientItem.id))):
        out[item.milestone_id or 0].append(item)
    return dict(out)


def for_digest(session: Session, projects: list[Project], now: datetime) -> dict[int, DigestItems]:
    """Project id → its open items (soonest due first) and what is overdue, in three queries."""
    ids = [p.id for p in projects if p.id is not None]
    items = open_items(session, ids)
    milestone_ids = {i.milestone_id for i in items if i.milestone_id}
    names = {m.id or 0: m.name for m in session.exec(select(Milestone).where(
        col(Milestone.id).in_(milestone_ids)))} if milestone_ids else {}
    out = {pid: DigestItems(open=[], overdue=set(), milestone_names=names, blocking={}) for pid in ids}
    by_id = {p.id: p for p in projects}
    for item in items:
        d = out[item.project_id]
        d.open.append(item)
        if is_overdue(item, calendar.today(by_id[item.project_id], now)):
            d.overdue.add(item.id or 0)
            if item.milestone_id:
                d.blocking.setdefault(item.milestone_id, []).append(item)
    return out


def overdue_items(session: Session, projects: list[Project], now: datetime) -> list[ClientItem]:
    """Open items past their due date (each in its project's time zone): the PM's reminder."""
    by_id = {p.id: p for p in projects if p.id is not None}
    return [i for i in open_items(session, list(by_id)) if is_overdue(i, calendar.today(by_id[i.project_id], now))]
