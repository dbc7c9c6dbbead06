"""Report wording shared by the Block Kit builders and the Markdown export: plain values in,
localised text out (no Slack, no database)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.i18n import t


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
