"""Reminder use cases: the daily reminder DMs, the nudges and escalations of decisions the
client owes, and snoozing an item.

- Reminders (SPEC §4): on working days from 09:00 project time, one DM per person and local
  working day of each time zone their projects are in, batching everything due for them there;
  the same item is not repeated to a person within 24 hours (`reminders.record_sent`) and a
  snoozed item waits. A reminder queued but not sent (an outage) is sent again only inside its
  project's working hours.
- Nudges: a requirement waiting for confirmation or a change request waiting for approval gets
  a polite nudge in its thread after `nudge_after_days` working days, naming the client
  approvers; after `escalate_after_days` the PM is told by DM. Each is sent once (its outbox key
  names the item), within the project's working hours.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from bot.blocks.reminders import escalation_message, nudge_message, reminder_message
from bot.deps import Deps
from bot.flows import outbox_keys
from bot.flows.delivery import deliver_many
from bot.flows.outbox_keys import Kind
from bot.flows.person_language import knowing_languages, language_of
from bot.flows.unit import unit_of_work
from bot.models import (
    ChangeRequest,
    ChangeStatus,
    Outbox,
    Project,
    ProjectStatus,
    Requirement,
    RequirementStatus,
)
from bot.services import calendar, outbox, reminders

KEYS_PER_QUERY = 500  # outbox keys looked up at once (SQLite binds at most 999 values in old builds)
SNOOZES = {"1d": timedelta(days=1), "7d": timedelta(days=7)}


@dataclass
class RemindReport:
    sent: dict[str, list[str]] = field(default_factory=dict)  # user → item keys
    messages: dict[str, dict] = field(default_factory=dict)  # dry run: user → message


def _active(session: Session, among: Collection[int] | None = None) -> list[Project]:
    return list(session.exec(calendar.among(select(Project).where(Project.status == ProjectStatus.active), among)
                             .order_by(col(Project.id))))


@knowing_languages
def send_reminders(deps: Deps, *, now: datetime | None = None, dry_run: bool = False,
                   among: Collection[int] | None = None) -> RemindReport:
    """Send each person their batches: one DM per person and local working day of each time
    zone their projects are in (`reminders.Batch`; the DM's key names them), each item
    remembered for 24 hours. Idempotent within the day. `among`: only these projects (the
    scheduler's tick passes those inside their working hours), else every active one."""
    report = RemindReport()
    to_send: list[int] = []
    with unit_of_work(deps, deliver=False) as u:
        now = now or u.now
        if not dry_run:  # queued by an earlier run that stopped or failed before sending them
            to_send.extend(calendar.in_working_hours(
                u.session, outbox.unsent(u.session, kind=Kind.reminder, since=now - reminders.REPEAT_AFTER), now))
        in_window = [p for p in _active(u.session, among) if reminders.is_reminder_time(p, now)]
        batches = reminders.due_batches(u.session, _not_reminded_yet(u.session, in_window, now), now)
        for batch, items in sorted(batches.items()):
            team_id = items[0].project.team_id
            key = outbox_keys.reminder(team_id, batch.user_id, batch.zone, batch.day.isoformat(),
                                       batch.start.strftime("%H%M"))
            if outbox.exists(u.session, key) is not None:
                continue
            message = reminder_message(items, language_of(deps, batch.user_id, items[0].project.language))
            report.sent.setdefault(batch.user_id, []).extend(i.key for i in items)
            if dry_run:
                report.messages[batch.user_id] = message
                continue
            row = u.owe(key=key, kind=Kind.reminder, project=items[0].project, user_id=batch.user_id,
                        payload=message, deliver=False)
            reminders.record_sent(u.session, items, now)
            to_send.append(row.id or 0)
    deliver_many(deps, to_send)
    return report


def _batch_key(team_id: str, user_id: str, project: Project, now: datetime) -> str:
    """The outbox key of the reminder DM that carries the project's items to `user_id` today
    (`reminders.batch_of`)."""
    return outbox_keys.reminder(team_id, user_id, calendar.tz(project).key, calendar.today(project, now).isoformat(),
                                reminders.reminder_start(project).strftime("%H%M"))


def _not_reminded_yet(session: Session, projects: list[Project], now: datetime) -> list[Project]:
    """The projects (inside their reminder window) that may still owe someone today's DM: a
    project whose every possible recipient already has today's DM of its batch has nothing
    more to send today (one DM per person and batch), so its items are not gathered again on
    every tick. With projects of several workspaces (a batch's key names the workspace of its
    first item) a project is left out only when the DM is queued under every one of them."""
    if not projects:
        return []
    teams = sorted({p.team_id for p in projects})
    recipients = reminders.recipients(session, projects)
    wanted = {p.id: [_batch_key(team, user, p, now) for user in sorted(recipients.get(p.id or 0, ())) for team in teams]
              for p in projects}
    queued = queued_keys(session, [k for keys in wanted.values() for k in keys])
    return [p for p in projects if not all(k in queued for k in wanted[p.id])]


@dataclass(frozen=True)
class _Waiting:
    kind: str  # requirement / change
    project: Project
    item_id: int
    title: str
    channel_id: str | None
    ts: str | None
    since: datetime


def _waiting(session: Session, projects: dict[int, Project]) -> list[_Waiting]:
    """Requests in the client channel that wait for the client's decision."""
    out = [_Waiting("requirement", projects[r.project_id], r.id or 0, r.title, r.confirmation_channel_id,
                    r.confirmation_ts, r.sent_for_confirmation_at or r.created_at)
           for r in session.exec(select(Requirement).where(
               col(Requirement.project_id).in_(projects), Requirement.status == RequirementStatus.proposed,
               col(Requirement.confirmation_ts).is_not(None)))]
    out += [_Waiting("change", projects[c.project_id], c.id or 0, c.title, c.approval_channel_id, c.approval_ts,
                     c.assessed_at or c.created_at)
            for c in session.exec(select(ChangeRequest).where(
                col(ChangeRequest.project_id).in_(projects), ChangeRequest.status == ChangeStatus.assessed,
                col(ChangeRequest.approval_ts).is_not(None)))]
    return out


@knowing_languages
def send_nudges(deps: Deps, *, now: datetime | None = None, among: Collection[int] | None = None) -> list[str]:
    """Queue and send the nudges and escalations that are due (of the projects `among`, when
    given: see `send_reminders`). Returns their keys.

    Most ticks find every waiting request already nudged (and escalated): the keys of the
    waiting requests are looked up in one query first, and only a request with a key not
    queued yet has its working days counted and its message drawn."""
    keys: list[str] = []
    to_send: list[int] = []
    with unit_of_work(deps, deliver=False) as u:
        now = now or u.now
        projects = {p.id or 0: p for p in _active(u.session, among) if calendar.within_working_hours(p, now)}
        waiting = _waiting(u.session, projects) if projects else []
        queued = queued_keys(u.session, [k for w in waiting for k in (outbox_keys.nudge(w.kind, w.item_id),
                                                                        outbox_keys.escalation(w.kind, w.item_id))])
        for w in waiting:
            p = w.project
            nudge_key, escalation_key = outbox_keys.nudge(w.kind, w.item_id), outbox_keys.escalation(w.kind, w.item_id)
            if nudge_key in queued and escalation_key in queued:
                continue
            days = calendar.working_days_between(p, w.since, now)
            owed = []
            if days >= p.nudge_after_days and nudge_key not in queued:
                owed.append((nudge_key, Kind.nudge, {"channel_id": w.channel_id or p.client_channel_id},
                             nudge_message(p, w.kind, days, thread_ts=w.ts)))
            if days >= p.escalate_after_days and escalation_key not in queued:
                owed.append((escalation_key, Kind.escalation, {"user_id": p.pm_user_id},
                             escalation_message(p, w.kind, w.title, days,
                                                language_of(deps, p.pm_user_id, p.language))))
            for key, kind, where, payload in owed:
                row = u.owe(key=key, kind=kind, project=p, payload=payload, deliver=False, **where)
                to_send.append(row.id or 0)
                keys.append(key)
    deliver_many(deps, to_send)
    from bot.flows import client_items  # overdue client items are nudged too (issue 15)

    return keys + client_items.send_nudges(deps, now=now, among=among)


def queued_keys(session: Session, keys: list[str]) -> set[str]:
    """Which of these outbox keys are queued already (sent or not), a few hundred per query."""
    found: set[str] = set()
    for n in range(0, len(keys), KEYS_PER_QUERY):
        found.update(session.exec(_QUEUED, params={"keys": keys[n:n + KEYS_PER_QUERY]}).all())
    return found


# Built once; the keys are bound as one list (no expression built per key).
_QUEUED = select(Outbox.key).where(col(Outbox.key).in_(bindparam("keys", expanding=True)))


def snooze(deps: Deps, *, user_id: str, item_key: str, span: str) -> timedelta:
    """Snooze one of the person's own reminder items for a day or a week."""
    with unit_of_work(deps) as u:
        reminders.snooze(u.session, user_id=user_id, item_key=item_key, until=u.now + SNOOZES[span])
    return SNOOZES[span]
