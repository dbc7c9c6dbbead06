"""Daily reminders: one DM per person per day, batching everything due for them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import select

from bot.blocks.reminders import reminder_message
from bot.deps import Deps
from bot.flows.delivery import deliver_many
from bot.models import Project, ProjectStatus
from bot.services import outbox, reminders

log = logging.getLogger(__name__)


@dataclass
class RemindReport:
    sent: dict[str, list[str]] = field(default_factory=dict)  # user → item keys
    messages: dict[str, dict] = field(default_factory=dict)  # dry run: user → message


def run_reminders(deps: Deps, *, now: datetime | None = None, dry_run: bool = False) -> RemindReport:
    """Send each person their batch. Idempotent within the day: the DM's key names the person
    and the date, and each item is remembered for 24 hours."""
    now = now or deps.clock.now()
    report = RemindReport()
    to_send: list[int] = []
    with deps.session() as session:
        if not dry_run:  # queued by an earlier run that stopped or failed before sending them
            to_send.extend(outbox.unsent(session, kind="reminder", since=now - reminders.REPEAT_AFTER))
        projects = list(session.exec(select(Project).where(Project.status == ProjectStatus.active)))
        batches = reminders.due_batches(session, projects, now)
        for user_id, items in sorted(batches.items()):
            key = f"remind:{items[0].project.team_id}:{user_id}:{now.date().isoformat()}"
            if outbox.exists(session, key) is not None:
                continue
            message = reminder_message(items)
            report.sent[user_id] = [i.key for i in items]
            if dry_run:
                report.messages[user_id] = message
                continue
            row = outbox.enqueue(session, key=key, team_id=items[0].project.team_id, kind="reminder",
                                 user_id=user_id, now=now, payload=message)
            reminders.record_sent(session, items, now)
            to_send.append(row.id or 0)
    deliver_many(deps, to_send)
    return report
