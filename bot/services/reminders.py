"""What each person should be reminded of today (SPEC §4 Reminders), for many projects at once.

An item has a stable key (e.g. `risk-review:12`) so the same item is not repeated to the same
person within 24 hours, and so a person can snooze it.

Batches are per person and per *local working day of the projects' time zone* (`Batch`): a PM
with projects in Tokyo and New York gets the Tokyo items on Tokyo's working day, from the
start of its reminder window, and the New York items on New York's. A digest that waits for
the PM's approval is one of the PM's items (`digest_approval`), so the App Home and the next
reminder say so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, col, func, select

from bot.models import (
    ChangeRequest,
    ChangeStatus,
    DigestWeek,
    FollowUp,
    FollowUpStatus,
    Milestone,
    Project,
    ReminderItemSent,
    Requirement,
    RequirementStatus,
    Risk,
    RiskStatus,
    Snooze,
)
from bot.reports.facts import ReminderItem
from bot.services import calendar

REPEAT_AFTER = timedelta(hours=24)  # on the project's wall clock (see `_since_on_the_wall`)
HIGH_RISK_SCORE = 15
MILESTONE_SOON_DAYS = 3
MILESTONE_SOON_PROGRESS = 80
ASSESS_AFTER_WORKING_DAYS = 2
DECISION_AFTER_DAYS = 3
CONFIRM_AFTER_DAYS = 5
REMIND_AT = time(9, 0)
APPROVAL_NAG_FOR = timedelta(days=7)  # a digest still unapproved after this is not mentioned any more


@dataclass(frozen=True, order=True)
class Batch:
    """One reminder DM: a person's items of the projects of one time zone whose reminders
    start at the same local time, on one local working day."""

    user_id: str
    zone: str
    day: date
    start: time


def reminder_start(project: Project) -> time:
    """When the project's reminders start each working day: 09:00, or the start of its working
    hours when that is later; the start of its hours when they end by 09:00."""
    if project.work_start >= REMIND_AT or project.work_end <= REMIND_AT:
        return project.work_start
    return REMIND_AT


def is_reminder_time(project: Project, now: datetime) -> bool:
    """On a working day, from the project's reminder start, within its working hours."""
    local = calendar.local_now(project, now)
    return calendar.within_working_hours(project, now) and local.time() >= reminder_start(project)


def batch_of(item: ReminderItem, now: datetime) -> Batch:
    p = item.project
    return Batch(item.user_id, calendar.tz(p).key, calendar.today(p, now), reminder_start(p))


def items_for(session: Session, projects: list[Project], now: datetime,
              is_member: Callable[[str], bool] | None = None) -> list[ReminderItem]:
    """Every reminder item of these projects, regardless of dedupe and snoozes.

    A risk's reminders go to its owner only while the owner is a member of the workspace
    (`is_member`, which the caller learns from Slack); a risk owned by a guest or an external
    user (set before owners were checked) is the PM's to remind, so no internal risk title
    reaches a client-side person."""
    if not projects:
        return []
    by_id = {p.id: p for p in projects if p.id is not None}
    ids = list(by_id)
    items: list[ReminderItem] = []

    for r in session.exec(select(Risk).where(col(Risk.project_id).in_(ids), Risk.status == RiskStatus.open)).all():
        p = by_id[r.project_id]
        owner = r.owner_user_id if r.owner_user_id and (is_member is None or is_member(r.owner_user_id)) \
            else p.pm_user_id
        today = calendar.today(p, now)
        if r.next_review_date is not None and r.next_review_date <= today:
            items.append(ReminderItem(f"risk-review:{r.id}", owner, p, "risk_review", r.title, r.id or 0,
                                      {"date": r.next_review_date}))
        if r.score >= HIGH_RISK_SCORE and not r.mitigation.strip():
            items.append(ReminderItem(f"risk-unmitigated:{r.id}", owner, p, "risk_unmitigated", r.title,
                                      r.id or 0, {"score": r.score}))

    for m in session.exec(select(Milestone).where(col(Milestone.project_id).in_(ids),
                                                  col(Milestone.done).is_(False))).all():
        p = by_id[m.project_id]
        today = calendar.today(p, now)
        if m.due_date < today:
            items.append(ReminderItem(f"milestone:{m.id}", p.pm_user_id, p, "milestone_late", m.name, m.id or 0,
                                      {"date": m.due_date, "progress": m.progress}))
        elif m.due_date <= today + timedelta(days=MILESTONE_SOON_DAYS) and m.progress < MILESTONE_SOON_PROGRESS:
            items.append(ReminderItem(f"milestone:{m.id}", p.pm_user_id, p, "milestone_soon", m.name, m.id or 0,
                                      {"date": m.due_date, "progress": m.progress}))

    for c in session.exec(select(ChangeRequest).where(
            col(ChangeRequest.project_id).in_(ids),
            col(ChangeRequest.status).in_([ChangeStatus.submitted, ChangeStatus.assessed]))).all():
        p = by_id[c.project_id]
        if c.status == ChangeStatus.submitted:
            days = calendar.working_days_between(p, c.created_at, now)
            if days > ASSESS_AFTER_WORKING_DAYS:
                items.append(ReminderItem(f"cr-assess:{c.id}", p.pm_user_id, p, "cr_assess", c.title, c.id or 0,
                                          {"days": days}))
        elif c.assessed_at is not None and now - c.assessed_at > timedelta(days=DECISION_AFTER_DAYS):
            items.append(ReminderItem(f"cr-decision:{c.id}", p.pm_user_id, p, "cr_decision", c.title, c.id or 0,
                                      {"days": (now - c.assessed_at).days}))

    for f in session.exec(select(FollowUp).where(col(FollowUp.project_id).in_(ids),
                                                 FollowUp.status == FollowUpStatus.open)).all():
        p = by_id[f.project_id]
        items.append(ReminderItem(f"follow-up:{f.id}", p.pm_user_id, p, "follow_up", "", f.id or 0,
                                  {"since": f.created_at}))

    for r in session.exec(select(Requirement).where(
            col(Requirement.project_id).in_(ids), Requirement.status == RequirementStatus.proposed,
            col(Requirement.sent_for_confirmation_at).is_not(None))).all():
        p = by_id[r.project_id]
        sent = r.sent_for_confirmation_at
        if sent is not None and now - sent > timedelta(days=CONFIRM_AFTER_DAYS):
            items.append(ReminderItem(f"req-confirm:{r.id}", p.pm_user_id, p, "req_confirm", r.title, r.id or 0,
                                      {"days": (now - sent).days}))
    from bot.services import client_items  # overdue client items: the PM chases them (issue 15)

    items += [ReminderItem(f"client-item:{i.id}", by_id[i.project_id].pm_user_id, by_id[i.project_id],
                           "client_overdue", i.title, i.id or 0, {"date": i.due_date})
              for i in client_items.overdue_items(session, projects, now)]
    items += _digests_waiting_for_approval(session, [p for p in projects if p.require_pm_approval], now)
    return items


def recipients(session: Session, projects: list[Project]) -> dict[int, set[str]]:
    """Everyone an item of each project may go to (`items_for`): its PM, and the owners of its
    open risks. One query."""
    out = {p.id: {p.pm_user_id} for p in projects if p.id is not None}
    if out:
        for project_id, owner in session.exec(select(Risk.project_id, Risk.owner_user_id).where(
                col(Risk.project_id).in_(list(out)), Risk.status == RiskStatus.open,
                col(Risk.owner_user_id).is_not(None))).all():
            if owner:
                out[project_id].add(owner)
    return out


def _digests_waiting_for_approval(session: Session, projects: list[Project], now: datetime) -> list[ReminderItem]:
    """The PM's digests that wait for the PM: the project posts only after the PM approves,
    the preview went out on an earlier day (or the digest is due), and it is neither posted,
    skipped nor approved."""
    if not projects:
        return []
    by_id = {p.id: p for p in projects}
    rows = session.exec(select(DigestWeek).where(
        col(DigestWeek.project_id).in_(list(by_id)), col(DigestWeek.posted_at).is_(None),
        col(DigestWeek.skipped).is_(False), col(DigestWeek.approved_by).is_(None),
        col(DigestWeek.due_at) > now - APPROVAL_NAG_FOR)).all()
    out = []
    for dw in sorted(rows, key=lambda r: (r.project_id, r.week)):
        p = by_id[dw.project_id]
        previewed = dw.preview_sent_at is not None and \
            calendar.local_date(p, _aware(dw.preview_sent_at)) < calendar.today(p, now)  # not the preview's own day
        if not previewed and _aware(dw.due_at) > now:
            continue
        out.append(ReminderItem(f"digest-approval:{p.id}:{dw.week}", p.pm_user_id, p, "digest_approval", p.name,
                                p.id or 0, {"week": dw.week, "date": calendar.local_date(p, _aware(dw.due_at))}))
    return out


def _aware(at: datetime) -> datetime:
    """A stored instant (SQLite may return it naive) as UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _since_on_the_wall(project: Project, sent_at: datetime, now: datetime) -> timedelta:
    """How long ago `sent_at` was on the project's wall clock: 09:00 yesterday is 24 hours
    before 09:00 today even on the night clocks go forward (23 real hours)."""
    return calendar.local_now(project, now).replace(tzinfo=None) - \
        calendar.local_now(project, sent_at).replace(tzinfo=None)


def _due_again(project: Project, sent_at: datetime) -> datetime:
    """When an item sent at `sent_at` may be sent again, on the project's wall clock (naive)."""
    return calendar.local_now(project, sent_at).replace(tzinfo=None) + REPEAT_AFTER


def due_batches(session: Session, projects: list[Project], now: datetime,
                is_member: Callable[[str], bool] | None = None) -> dict[Batch, list[ReminderItem]]:
    """Items per batch (person, time zone, local day) that are due now: in their project's
    reminder window, not snoozed, and not sent to that person in the last 24 hours of the
    project's wall clock (`is_member`: see `items_for`). A batch that would leave out an item
    of an earlier day's DM only because its 24 hours are not over yet (yesterday's DM went
    later in the day: the bot started then, or a tick came late) waits for it, as long as it
    is due again before today's working hours end, so the day's one DM carries it."""
    in_window = [p for p in projects if is_reminder_time(p, now)]
    items = items_for(session, in_window, now, is_member)
    if not items:
        return {}
    users = {i.user_id for i in items}
    keys = {i.key for i in items}
    sent = session.exec(select(ReminderItemSent.user_id, ReminderItemSent.item_key, func.max(ReminderItemSent.sent_at))
                        .where(col(ReminderItemSent.user_id).in_(users), col(ReminderItemSent.item_key).in_(keys),
                               ReminderItemSent.sent_at > now - REPEAT_AFTER - timedelta(hours=2))
                        .group_by(ReminderItemSent.user_id, ReminderItemSent.item_key)).all()
    last_sent = {(user, key): _aware(at) for user, key, at in sent}
    snoozed = set(session.exec(select(Snooze.user_id, Snooze.item_key).where(
        col(Snooze.user_id).in_(users), col(Snooze.item_key).in_(keys), Snooze.until > now)).all())
    batches: dict[Batch, list[ReminderItem]] = defaultdict(list)
    held: set[Batch] = set()
    for item in items:
        batch = batch_of(item, now)
        sent_at = last_sent.get((item.user_id, item.key))
        if sent_at is not None and _since_on_the_wall(item.project, sent_at, now) < REPEAT_AFTER:
            if calendar.local_date(item.project, sent_at) < batch.day and _due_again(item.project, sent_at) < \
                    datetime.combine(batch.day, item.project.work_end):
                held.add(batch)  # yesterday's item is due again before today's window ends: wait for it
            continue
        if (item.user_id, item.key) in snoozed or any(i.key == item.key for i in batches[batch]):
            continue
        batches[batch].append(item)
    return {b: items for b, items in batches.items() if items and b not in held}


def record_sent(session: Session, items: list[ReminderItem], now: datetime) -> None:
    for item in items:
        session.add(ReminderItemSent(team_id=item.project.team_id, user_id=item.user_id, item_key=item.key,
                                     sent_at=now))
    session.flush()


def snooze(session: Session, *, user_id: str, item_key: str, until: datetime) -> None:
    row = session.exec(select(Snooze).where(Snooze.user_id == user_id, Snooze.item_key == item_key)).first()
    if row is None:
        row = Snooze(user_id=user_id, item_key=item_key, until=until)
    else:
        row.until = until
    session.add(row)
    session.flush()
