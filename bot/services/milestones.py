"""Milestones: the dated points of the plan, and the status each one derives (SPEC §2).

Status rule (`derive_status`), first match wins:

1. ``done``     — the done flag is set.
2. ``late``     — the due date has passed (due date < today, in the project's time zone).
3. ``at_risk``  — an open high risk (score ≥ 15) or a risk that occurred is linked to the
   milestone, or an overdue client item blocks it (`client_items.overdue_blocking`); or the
   due date is at most 7 days away and the progress is below the
   *expected* progress. Expected progress grows linearly from 0 % on the day the milestone
   was created to 100 % on its due date: ``100 × days elapsed / days planned`` (a milestone
   due today, or created on its due date, is expected at 100 %).
4. ``on_track`` — everything else.

"Today" is always the calendar date in the project's time zone (`project_today`); the clock is
UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_
from sqlalchemy import update as sql_update
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.models import LONG_TEXT_MAX, MILESTONE_NAME_MAX, Milestone, MilestoneStatus, Project, Risk, RiskStatus
from bot.services import activity, calendar
from bot.services.errors import InvalidTransition, NotFound, ValidationFailed

NAME_MAX = MILESTONE_NAME_MAX
DESCRIPTION_MAX = LONG_TEXT_MAX
AT_RISK_WINDOW_DAYS = 7
HIGH_RISK_SCORE = 15
ENTITY = "milestone"
FIELDS = ["name", "description", "due_date", "progress", "done"]


@dataclass
class MilestoneInput:
    """What a person typed or picked in the milestone modal, before validation."""

    name: str = ""
    due_date: str | None = None  # ISO date from a datepicker
    progress: str | None = None  # a whole number 0–100, as typed
    description: str = ""


@dataclass
class MilestoneChange:
    """The update modal: each field None when it is not to change."""

    due_date: str | None = None
    progress: str | None = None
    done: bool | None = None


def project_today(project: Project, clock: Clock) -> date:
    """The calendar date now in the project's time zone."""
    return calendar.today(project, clock.now())


def _local_date(at: datetime | None, tz: ZoneInfo) -> date | None:
    return at.astimezone(tz).date() if at is not None else None


def expected_progress(milestone: Milestone, today: date, tz: ZoneInfo | None = None) -> float:
    """The progress (0–100) a straight line from creation to due date expects by `today`."""
    start = _local_date(milestone.created_at, tz or calendar.zone("UTC")) or today
    planned = (milestone.due_date - start).days
    if planned <= 0:
        return 100.0
    elapsed = min(max((today - start).days, 0), planned)
    return 100.0 * elapsed / planned


def derive_status(milestone: Milestone, today: date, *, risk_flag: bool,
                  tz: ZoneInfo | None = None) -> MilestoneStatus:
    """The status SPEC §2 derives for a milestone on `today` (see the module docstring).

    `risk_flag` says that an open high risk (or an occurred one) is linked to the milestone;
    `tz` is the project's time zone, used to date the milestone's creation (UTC when omitted)."""
    if milestone.done:
        return MilestoneStatus.done
    if milestone.due_date < today:
        return MilestoneStatus.late
    if risk_flag:
        return MilestoneStatus.at_risk
    days_left = (milestone.due_date - today).days
    if days_left <= AT_RISK_WINDOW_DAYS and milestone.progress < expected_progress(milestone, today, tz):
        return MilestoneStatus.at_risk
    return MilestoneStatus.on_track


def _risky_milestone_ids(session: Session, project_id: int, today: date | None = None) -> set[int]:
    """Milestones of the project with a risk that occurred, or an open one scored 15 or more;
    given `today`, also those an overdue client item blocks (issue 15). One query."""
    stmt = select(Risk.milestone_id).where(
        Risk.project_id == project_id,
        col(Risk.milestone_id).is_not(None),
        or_(
            col(Risk.status) == RiskStatus.occurred,
            and_(col(Risk.status) == RiskStatus.open, col(Risk.probability) * col(Risk.impact) >= HIGH_RISK_SCORE),
        ),
    ).distinct()
    if today is not None:
        from sqlalchemy import union

        from bot.services.client_items import overdue_blocking_stmt

        return {i for (i,) in session.execute(union(stmt, overdue_blocking_stmt(project_id, today))) if i is not None}
    return {i for i in session.exec(stmt) if i is not None}


def plan(session: Session, project_id: int, today: date) -> list[tuple[Milestone, MilestoneStatus]]:
    """Every milestone of the project with its status, in plan order (open ones by due date,
    done ones last). Three queries whatever the number of milestones."""
    project = session.get(Project, project_id)
    tz = calendar.zone(project.timezone if project else None)
    milestones = list(session.exec(
        select(Milestone).where(Milestone.project_id == project_id)
        .order_by(col(Milestone.done), col(Milestone.due_date), col(Milestone.id))
    ))
    if not milestones:
        return []
    risky = _risky_milestone_ids(session, project_id, today)  # risks, and overdue client items (issue 15)
    return [(m, derive_status(m, today, risk_flag=m.id in risky, tz=tz)) for m in milestones]


def statuses_for_project(session: Session, project_id: int, today: date) -> dict[int, MilestoneStatus]:
    """Milestone id → derived status for a whole project, in a constant number of queries."""
    return {m.id: status for m, status in plan(session, project_id, today) if m.id is not None}


# Validation ------------------------------------------------------------------------------


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _parse_progress(value: str | None) -> int | None:
    """A whole percentage 0–100 ("40", "40%", " 40 "), or None when it is not one."""
    text = (value or "").strip().rstrip("%").strip()
    # isdecimal, not isdigit: int() takes "５０" (typed with a Chinese IME) but not "²".
    if not text.isdecimal() or len(text) > 3:
        return None
    number = int(text)
    return number if 0 <= number <= 100 else None


@dataclass(frozen=True)
class CleanMilestone:
    name: str
    due_date: date
    progress: int
    description: str


def validate(data: MilestoneInput) -> CleanMilestone:
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    name = " ".join((data.name or "").split())
    if not name:
        errors["name"] = ("milestones.error_name_required", {})
    elif len(name) > NAME_MAX:
        errors["name"] = ("common.error_too_long", {"max": NAME_MAX})
    due = _parse_date(data.due_date)
    if due is None:
        errors["due_date"] = ("milestones.error_due_required", {})
    progress = 0 if not (data.progress or "").strip() else _parse_progress(data.progress)
    if progress is None:
        errors["progress"] = ("milestones.error_progress", {})
    description = (data.description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = ("common.error_too_long", {"max": DESCRIPTION_MAX})
    if errors:
        raise ValidationFailed(errors)
    assert due is not None and progress is not None
    return CleanMilestone(name=name, due_date=due, progress=progress, description=description)


def check_due_date_not_past(due: date, today: date) -> None:
    """The warning a new milestone dated in the past gets (the caller decides whether to heed it)."""
    if due < today:
        raise ValidationFailed({"due_date": ("milestones.warning_past_due",
                                             {"date": due.isoformat(), "today": today.isoformat()})})


# Changes ---------------------------------------------------------------------------------


def create(session: Session, clock: Clock, *, project: Project, actor: str, data: MilestoneInput,
           allow_past_due: bool = False) -> Milestone:
    """Add a milestone. A due date before today is refused with a warning unless
    `allow_past_due` (the person saw the warning and confirmed)."""
    if project.status != "active":
        raise InvalidTransition("permissions.project_closed")
    clean = validate(data)
    if not allow_past_due:
        check_due_date_not_past(clean.due_date, project_today(project, clock))
    now = clock.now()
    milestone = Milestone(project_id=project.id, name=clean.name, description=clean.description,
                          due_date=clean.due_date, progress=clean.progress, created_by=actor,
                          created_at=now, updated_at=now)
    session.add(milestone)
    session.flush()
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor,
                    action="created", entity_type=ENTITY, entity_id=milestone.id,
                    after=activity.snapshot(milestone, FIELDS))
    return milestone


def get(session: Session, project: Project, milestone_id: int) -> Milestone:
    """The milestone, only if it belongs to `project`."""
    milestone = session.get(Milestone, milestone_id)
    if milestone is None or milestone.project_id != project.id:
        raise NotFound("common.not_found")
    return milestone


def get_in_team(session: Session, team_id: str, milestone_id: int) -> tuple[Milestone, Project]:
    """The milestone and its project, only within the workspace `team_id`."""
    milestone = session.get(Milestone, milestone_id)
    project = session.get(Project, milestone.project_id) if milestone else None
    if milestone is None or project is None or project.team_id != team_id:
        raise NotFound("common.not_found")
    return milestone, project


def validate_change(change: MilestoneChange) -> tuple[date | None, int | None]:
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    due = None
    if change.due_date is not None:
        due = _parse_date(change.due_date)
        if due is None:
            errors["due_date"] = ("milestones.error_due_required", {})
    progress = None
    if change.progress is not None and change.progress.strip():
        progress = _parse_progress(change.progress)
        if progress is None:
            errors["progress"] = ("milestones.error_progress", {})
    if errors:
        raise ValidationFailed(errors)
    return due, progress


def update(session: Session, clock: Clock, *, project: Project, milestone: Milestone, actor: str,
           change: MilestoneChange) -> Milestone:
    """Change progress, due date and/or the done flag.

    Marking done sets the progress to 100 % and is logged as ``milestone_done`` (a feedback
    prompt follows from it); it is a conditional UPDATE, so a double submission logs it once.
    Other changes are logged as ``edited`` with the old and new values."""
    if project.status != "active":
        raise InvalidTransition("permissions.project_closed")
    due, progress = validate_change(change)
    now = clock.now()
    before = activity.snapshot(milestone, FIELDS)
    if change.done is True and not milestone.done:
        _mark_done(session, clock, project=project, milestone=milestone, actor=actor, now=now)
    elif change.done is False and milestone.done:
        milestone.done = False
        milestone.done_at = None
    if due is not None:
        milestone.due_date = due
    if progress is not None and not milestone.done:
        milestone.progress = progress
    milestone.updated_at = now
    session.add(milestone)
    session.flush()
    after = activity.snapshot(milestone, FIELDS)
    old, new = activity.diff(before, after)
    # The done transition has its own entry; what else changed is an ordinary edit.
    if milestone.done and not before["done"]:
        for key in ("done", "progress"):
            old.pop(key, None)
            new.pop(key, None)
    if new:
        activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor,
                        action="edited", entity_type=ENTITY, entity_id=milestone.id, before=old, after=new)
    return milestone


def _mark_done(session: Session, clock: Clock, *, project: Project, milestone: Milestone, actor: str,
               now: datetime) -> None:
    result = session.execute(
        sql_update(Milestone)
        .where(col(Milestone.id) == milestone.id, col(Milestone.done).is_(False))
        .values(done=True, done_at=now, progress=100, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidTransition("milestones.error_already_done", name=milestone.name)
    before = {"done": False, "progress": milestone.progress}
    session.refresh(milestone)
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor,
                    action="milestone_done", entity_type=ENTITY, entity_id=milestone.id,
                    before=before, after={"done": True, "progress": 100, "name": milestone.name})


def shift_due_date(session: Session, clock: Clock, *, project: Project, milestone: Milestone, days: int,
                   actor: str, change_request_id: int, on_behalf_of_client: bool) -> tuple[date, date]:
    """Move a milestone by `days` because a change request was approved; logged with both dates."""
    old = milestone.due_date
    new = old + timedelta(days=days)
    milestone.due_date = new
    milestone.updated_at = clock.now()
    session.add(milestone)
    session.flush()
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor,
                    action="rescheduled", entity_type=ENTITY, entity_id=milestone.id,
                    before={"due_date": old}, after={"due_date": new, "change_request_id": change_request_id,
                                                     "days": days},
                    on_behalf_of_client=on_behalf_of_client)
    return old, new


def for_project(session: Session, project_id: int) -> list[Milestone]:
    """All milestones of a project in plan order (for pickers)."""
    return list(session.exec(
        select(Milestone).where(Milestone.project_id == project_id)
        .order_by(col(Milestone.done), col(Milestone.due_date), col(Milestone.id))
    ))
