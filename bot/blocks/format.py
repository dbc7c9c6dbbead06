"""Formatting helpers the builders share: plain values in, text out (no services, no Slack).
Numbers, money, dates and names of days come from CLDR (bot/i18n/formatting.py)."""

from __future__ import annotations

from decimal import Decimal

from bot.i18n.formatting import format_currency, format_percent


def progress_bar(progress: int, width: int = 10) -> str:
    """`▓▓▓▓░░░░░░` for 40%."""
    filled = max(0, min(width, round(progress / 100 * width)))
    return "▓" * filled + "░" * (width - filled)


def money(amount: Decimal, currency: str | None = None, lang: str | None = None) -> str:
    """An amount as CLDR writes it: `€4,800.00` (with a currency), `4,800.00` (without)."""
    return format_currency(amount, currency, lang)


def percent(progress: int, lang: str | None = None) -> str:
    """`40%` in both languages (no space)."""
    return format_percent(progress, lang)


def week_number(week: str) -> str:
    """The week's number of an ISO week key: `47` for `2026-W47`."""
    return week.partition("-W")[2].lstrip("0")
