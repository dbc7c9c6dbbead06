"""`pmbot demo`: the monthly report (this month so far) and the close-out report, as they would
be posted if the sample project were closed now (reports, issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from bot import demo
from bot.blocks.reports import closeout_message, monthly_message
from bot.demo_parts.language import sample_text
from bot.models import Project
from bot.services import calendar, reports


def _monthly(internal: bool):
    def build(session: Session, project: Project) -> list[dict[str, Any]]:
        month = reports.month_key(calendar.today(project, datetime.now(UTC)))
        return monthly_message(reports.monthly(session, project, month), internal=internal)["blocks"]
    return build


def _closeout(session: Session, project: Project) -> list[dict[str, Any]]:
    facts = reports.closeout(session, project)
    lang = project.language
    facts.went_well = facts.went_well or sample_text("Weekly demos kept the client close to the work.", lang)
    facts.to_improve = facts.to_improve or sample_text("Agree on acceptance criteria before building.", lang)
    return closeout_message(facts)["blocks"]


demo.SECTIONS.extend([
    ("Monthly report, client channel (this month so far)", "monthly-client", _monthly(False)),
    ("Monthly report, internal channel", "monthly-internal", _monthly(True)),
    ("Close-out report, internal channel (were the project closed now)", "closeout", _closeout),
])
