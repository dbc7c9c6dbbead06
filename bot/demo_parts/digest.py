"""`pmbot demo`: this week's client and internal digest, the PM preview and today's reminders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from bot import demo
from bot.blocks.digest import digest_message, preview_message
from bot.blocks.reminders import reminder_message
from bot.models import Project
from bot.services import calendar, digests, reminders


def _facts(session: Session, project: Project) -> digests.DigestFacts:
    return digests.collect(session, [project], datetime.now(UTC))[project.id or 0]


def _client(session: Session, project: Project) -> list[dict[str, Any]]:
    return digest_message(_facts(session, project), internal=False)["blocks"]


def _internal(session: Session, project: Project) -> list[dict[str, Any]]:
    return digest_message(_facts(session, project), internal=True)["blocks"]


def _preview(session: Session, project: Project) -> list[dict[str, Any]]:
    facts = _facts(session, project)
    _week, due = calendar.recent_digest_weeks(project, datetime.now(UTC))[-1]
    return preview_message(facts, due=calendar.local_date(project, due) or due.date(),
                           requires_approval=project.require_pm_approval)["blocks"]


def _reminders(session: Session, project: Project) -> list[dict[str, Any]]:
    items = [i for i in reminders.items_for(session, [project], datetime.now(UTC)) if i.user_id == project.pm_user_id]
    if not items:
        return [{"type": "section", "text": {"type": "mrkdwn", "text": "Nothing to remind the PM of today."}}]
    return reminder_message(items)["blocks"]


demo.SECTIONS.extend([
    ("Weekly digest, client channel", "digest-client", _client),
    ("Weekly digest, internal channel", "digest-internal", _internal),
    ("PM preview (DM before the digest is due)", "digest-preview", _preview),
    ("Today's reminders for the PM (DM)", "reminders-pm", _reminders),
])
