"""The facts of the monthly report and of the close-out report: plain data, no Slack.

**Monthly report** (a project setting, off by default): the month that just ended, in the
project's time zone, in trends —

- satisfaction per prompt of the month (the client's answers only), and the month's average
  against the month before;
- change requests approved in the month, with their total schedule and effort impact (and cost,
  which only the internal version shows);
- milestone slips: each milestone moved, done or due in the month, with its *planned* date (the
  due date it was created with, read from the activity log), its due date now and its actual
  date (when it was marked done);
- requirements raised against confirmed in the month, and the same two counts the month before.

It is due on the month's first working day (`calendar.next_working_day`, so public holidays and
closures count) at the start of the project's working hours (`monthly_due_at`).

**Close-out report** (`/project close`): delivered against deferred and dropped requirements,
approved changes and their total impact, each milestone's planned and actual dates, the
satisfaction trend, open follow-ups and open client items, and the PM's retrospective note.

What the client may see is decided by the builders (`bot/blocks/reports.py`) from these facts:
they carry the cost, and the builders leave it out of the client version.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, select

from bot import models
from bot.models import (
    ActivityLog,
    ChangeRequest,
    ChangeStatus,
    FeedbackPrompt,
    FeedbackResponse,
    FollowUp,
    FollowUpStatus,
    Milestone,
    Project,
    Requirement,
    RequirementStatus,
)
from bot.reports.report_facts import (  # the facts are plain data, drawn by the builders
    ChangeLine,
    CloseoutFacts,
    Impact,
    ItemLine,
    MilestoneLine,
    MonthlyFacts,
    PromptLine,
)
from bot.services import calendar
from bot.services.feedback import average, prompt_stats
from bot.services.milestones import ENTITY as MILESTONE_ENTITY

# Client-safe and internal versions of one month's report, and of one close-out.
AUDIENCES = ("client", "internal")
APPROVED = (ChangeStatus.approved, ChangeStatus.implemented)
RETRO_MAX = 2000  # characters of each part of the PM's retrospective note


# Months -----------------------------------------------------------------------------------------


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_first(key: str) -> date:
    year, _, month = key.partition("-")
    return date(int(year), int(month), 1)


def previous_month(first: date) -> date:
    """The first day of the month before the one starting `first`."""
    return (first - timedelta(days=1)).replace(day=1)


def next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def monthly_due_at(project: Project, first_of_month: date) -> datetime:
    """When the report of the month *before* `first_of_month` is due: the month's first working
    day (weekends, holidays and closures move it on) at the start of the working hours."""
    return calendar.at_local(project, calendar.first_working_day_of_month(project, first_of_month), project.work_start)


def due_month(project: Project, now: datetime) -> tuple[str, datetime] | None:
    """The month whose report is due now ("2026-11", due instant), or None: only while the
    project has the report on, since before it was due, and only inside the working hours.
    A report missed while the bot was down is caught up any time during the following month."""
    if not project.monthly_report or project.status != models.ProjectStatus.active:
        return None
    if not calendar.within_working_hours(project, now):
        return None
    this_month = calendar.today(project, now).replace(day=1)
    due = monthly_due_at(project, this_month)
    since = project.monthly_report_since or project.created_at
    if due > now or since >= due or project.created_at >= due:
        return None
    return month_key(previous_month(this_month)), due


def _bounds(project: Project, first: date) -> tuple[datetime, datetime]:
    return calendar.at_local(project, first, time(0)), calendar.at_local(project, next_month(first), time(0))


# Shared readers ---------------------------------------------------------------------------------


def _change_line(project: Project, c: ChangeRequest) -> ChangeLine:
    return ChangeLine(id=c.id or 0, title=c.title, decided=calendar.local_date(project, c.decided_at),
                      days=c.schedule_impact_days, hours=c.effort_hours, cost=c.cost_amount,
                      currency=c.cost_currency)


def planned_dates(session: Session, milestone_ids: list[int]) -> dict[int, date]:
    """Each milestone's planned date: the due date it was created with (from the activity
    log), or the oldest due date an edit or an approved change moved it from."""
    if not milestone_ids:
        return {}
    rows = session.exec(select(ActivityLog).where(ActivityLog.entity_type == MILESTONE_ENTITY,
                                                  col(ActivityLog.entity_id).in_(milestone_ids))
                        .order_by(col(ActivityLog.created_at), col(ActivityLog.id))).all()
    out: dict[int, date] = {}
    for row in rows:
        if row.entity_id is None or row.entity_id in out:
            continue
        value = (row.after or {}).get("due_date") if row.action == "created" else (row.before or {}).get("due_date")
        if isinstance(value, str):
            try:
                out[row.entity_id] = date.fromisoformat(value)
            except ValueError:
                continue
    return out


def moved_in(session: Session, milestone_ids: list[int], start: datetime, end: datetime) -> set[int]:
    """Milestones whose due date changed between `start` and `end`."""
    if not milestone_ids:
        return set()
    rows = session.exec(select(ActivityLog).where(
        ActivityLog.entity_type == MILESTONE_ENTITY, col(ActivityLog.entity_id).in_(milestone_ids),
        col(ActivityLog.action).in_(["rescheduled", "edited"]),
        col(ActivityLog.created_at) >= start, col(ActivityLog.created_at) < end)).all()
    return {r.entity_id for r in rows if r.entity_id is not None and "due_date" in (r.after or {})}


def _milestone_line(project: Project, m: Milestone, planned: dict[int, date], as_of: date) -> MilestoneLine:
    return MilestoneLine(name=m.name, planned=planned.get(m.id or 0, m.due_date), due=m.due_date,
                         actual=calendar.local_date(project, m.done_at) if m.done else None, as_of=as_of)


def _prompt_lines(project: Project, stats: list) -> list[PromptLine]:
    return [PromptLine(day=calendar.local_date(project, s.prompt.created_at) or date.min, question=s.prompt.question,
                       answers=s.answers, average=s.average) for s in stats]


def _client_scores(session: Session, project_id: int, start: datetime | None = None,
                   end: datetime | None = None) -> list[int | None]:
    """Scores the client gave to prompts asked between `start` and `end` (all when unbounded)."""
    stmt = (select(FeedbackResponse.score, FeedbackResponse.kind)
            .join(FeedbackPrompt, col(FeedbackPrompt.id) == col(FeedbackResponse.prompt_id))
            .where(col(FeedbackPrompt.project_id) == project_id))
    if start is not None:
        stmt = stmt.where(col(FeedbackPrompt.created_at) >= start)
    if end is not None:
        stmt = stmt.where(col(FeedbackPrompt.created_at) < end)
    rows = session.exec(stmt).all()
    return [score for score, kind in rows if not kind.startswith(models.TEAM_SIDE)]


# The monthly report -----------------------------------------------------------------------------


def monthly(session: Session, project: Project, month: str) -> MonthlyFacts:
    """The facts of `project`'s report of `month` ("2026-11", in its time zone)."""
    assert project.id is not None
    first = month_first(month)
    start, end = _bounds(project, first)
    prev_start, _ = _bounds(project, previous_month(first))
    facts = MonthlyFacts(project_id=project.id, project_name=project.name, language=project.language, month=month,
                         first=first, last=next_month(first) - timedelta(days=1))

    stats = [s for s in prompt_stats(session, project.id, limit=1000) if start <= s.prompt.created_at < end]
    facts.prompts = _prompt_lines(project, stats)
    facts.average = average(_client_scores(session, project.id, start, end))
    facts.previous_average = average(_client_scores(session, project.id, prev_start, start))

    approved = session.exec(select(ChangeRequest).where(
        ChangeRequest.project_id == project.id, col(ChangeRequest.status).in_(APPROVED),
        col(ChangeRequest.decided_at) >= start, col(ChangeRequest.decided_at) < end)
        .order_by(col(ChangeRequest.decided_at), col(ChangeRequest.id))).all()
    facts.changes = [_change_line(project, c) for c in approved]
    facts.impact = Impact.of(facts.changes)

    milestones = session.exec(select(Milestone).where(Milestone.project_id == project.id)
                              .order_by(col(Milestone.due_date), col(Milestone.id))).all()
    ids = [m.id for m in milestones if m.id is not None]
    planned = planned_dates(session, ids)
    moved = moved_in(session, ids, start, end)
    for m in milestones:
        done_here = m.done and m.done_at is not None and start <= m.done_at < end
        due_here = first <= m.due_date <= facts.last and not m.done
        if m.id in moved or done_here or due_here:
            facts.slips.append(_milestone_line(project, m, planned, next_month(first)))

    reqs = session.exec(select(Requirement).where(
        Requirement.project_id == project.id,
        (col(Requirement.created_at) >= prev_start) | (col(Requirement.decided_at) >= prev_start))
        .order_by(col(Requirement.created_at), col(Requirement.id))).all()
    confirmed = (RequirementStatus.confirmed, RequirementStatus.done)
    for r in reqs:
        line = ItemLine(ref=f"REQ-{r.id}", title=r.title)
        if start <= r.created_at < end:
            facts.raised.append(line)
        elif prev_start <= r.created_at < start:
            facts.previous_raised += 1
        if r.status in confirmed and r.decided_at is not None:
            if start <= r.decided_at < end:
                facts.confirmed.append(line)
            elif prev_start <= r.decided_at < start:
                facts.previous_confirmed += 1
    return facts


# The close-out report ---------------------------------------------------------------------------


def _open_client_items(session: Session, project: Project) -> list[ItemLine]:
    """Open client items (SPEC §2 "Client item"), when this build has them.

    HOOK for the client items feature (built in parallel): once `bot.models` has a
    `ClientItem` table with `project_id`, `title`, `status` and `due_date`, its open items are
    listed here with no further change. Replace this with that feature's own service call."""
    table = getattr(models, "ClientItem", None)
    if table is None:
        return []
    rows = session.exec(select(table).where(table.project_id == project.id, table.status == "open")
                        .order_by(col(table.id))).all()
    return [ItemLine(ref=f"CI-{r.id}", title=r.title, day=getattr(r, "due_date", None),
                     extra=r.due_date.isoformat() if getattr(r, "due_date", None) else "") for r in rows]


# Sources of the close-out's open items beyond follow-ups: a feature adds its own reader here.
OPEN_ITEM_SOURCES: list[Callable[[Session, Project], list[ItemLine]]] = [_open_client_items]


def closeout(session: Session, project: Project) -> CloseoutFacts:
    """The facts of `project`'s close-out report (as of now; closed or about to be)."""
    assert project.id is not None
    closer = session.exec(select(ActivityLog.actor_user_id).where(
        ActivityLog.entity_type == "project", ActivityLog.entity_id == project.id, ActivityLog.action == "closed")
        .order_by(col(ActivityLog.created_at).desc()).limit(1)).first()
    facts = CloseoutFacts(project_id=project.id, project_name=project.name, client_name=project.client_name,
                          language=project.language, started=calendar.local_date(project, project.created_at)
                          or date.min, closed=calendar.local_date(project, project.closed_at), closed_by=closer,
                          went_well=(project.retro_went_well or "")[:RETRO_MAX],
                          to_improve=(project.retro_to_improve or "")[:RETRO_MAX])
    groups: dict[str, list[ItemLine]] = defaultdict(list)
    for r in session.exec(select(Requirement).where(Requirement.project_id == project.id)
                          .order_by(col(Requirement.id))).all():
        groups[r.status].append(ItemLine(ref=f"REQ-{r.id}", title=r.title, extra=r.priority))
    facts.delivered = groups[RequirementStatus.done]
    facts.deferred = groups[RequirementStatus.deferred]
    facts.dropped = groups[RequirementStatus.dropped]
    facts.not_delivered = [*groups[RequirementStatus.confirmed], *groups[RequirementStatus.proposed],
                           *groups[RequirementStatus.changes_requested]]

    approved = session.exec(select(ChangeRequest).where(
        ChangeRequest.project_id == project.id, col(ChangeRequest.status).in_(APPROVED))
        .order_by(col(ChangeRequest.decided_at), col(ChangeRequest.id))).all()
    facts.changes = [_change_line(project, c) for c in approved]
    facts.impact = Impact.of(facts.changes)

    milestones = session.exec(select(Milestone).where(Milestone.project_id == project.id)
                              .order_by(col(Milestone.due_date), col(Milestone.id))).all()
    planned = planned_dates(session, [m.id for m in milestones if m.id is not None])
    as_of = facts.closed or calendar.today(project, project.updated_at)
    facts.milestones = [_milestone_line(project, m, planned, as_of) for m in milestones]

    # The final prompt counts once answered (in a later export), not while it is being posted.
    stats = [s for s in prompt_stats(session, project.id, limit=1000)
             if s.answers or s.prompt.trigger != models.CLOSEOUT_TRIGGER]
    facts.prompts = _prompt_lines(project, stats)
    facts.average = average(_client_scores(session, project.id))

    open_fu = session.exec(select(FollowUp, FeedbackResponse)
                           .join(FeedbackResponse, col(FeedbackResponse.id) == col(FollowUp.response_id))
                           .where(col(FollowUp.project_id) == project.id, col(FollowUp.status) == FollowUpStatus.open)
                           .order_by(col(FollowUp.created_at), col(FollowUp.id))).all()
    facts.follow_ups = [ItemLine(ref=f"#{f.id}", title=(r.comment or "").strip(),
                                 extra=str(r.score) if r.score is not None else r.feedback_kind)
                        for f, r in open_fu]
    for source in OPEN_ITEM_SOURCES:
        facts.client_items.extend(source(session, project))
    return facts


def save_retrospective(session: Session, project: Project, *, went_well: str, to_improve: str) -> None:
    """Keep the PM's retrospective note (each part optional) with the project."""
    project.retro_went_well = went_well.strip()[:RETRO_MAX] or None
    project.retro_to_improve = to_improve.strip()[:RETRO_MAX] or None
    session.add(project)
