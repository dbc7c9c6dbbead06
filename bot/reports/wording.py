"""Report wording shared by the Block Kit builders and the Markdown export: plain values in,
localised text out (no Slack, no database)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.i18n import t
from bot.models import Requirement


def hours_text(value: Decimal | None) -> str:
    if value is None:
        return "–"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def days_text(days: int | None, lang: str) -> str:
    if days is None:
        return "–"
    return t("reports.days", lang, days=abs(days), signed=f"{days:+d}")


def slip_text(m: Any, lang: str) -> str:
    """A milestone line's slip (its `slip_days`): late, early or on the planned date."""
    days = m.slip_days
    if days == 0:
        return t("reports.slip_none", lang)
    return t("reports.slip_late" if days > 0 else "reports.slip_early", lang, days=abs(days))


# Shared by exports and messages: a requirement's reference, a stored time as the project sees it

@lru_cache(maxsize=512)
def zone(name: str | None) -> ZoneInfo:
    """The zone called `name`; UTC when the name is empty or unknown (old or hand-edited data)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def ref(req: Requirement) -> str:
    return f"REQ-{req.id}"


def local_day(dt: datetime | None, timezone: str) -> date | None:
    """The date a stored UTC time falls on where the project is."""
    return dt.astimezone(zone(timezone)).date() if dt is not None else None


def local(dt: datetime | None, timezone: str, *, with_zone: bool = False, lang: str | None = None) -> str:
    """A stored UTC time as the project sees it: `2026-11-18 18:00` (`2026-11-18 18:00（Asia/Shanghai）`)."""
    if dt is None:
        return ""
    text = dt.astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M")
    return t("format.with_zone", lang, time=text, zone=timezone) if with_zone else text
