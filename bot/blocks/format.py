"""Formatting helpers the builders share: plain values in, text out (no services, no Slack)."""

from __future__ import annotations

from decimal import Decimal


def progress_bar(progress: int, width: int = 10) -> str:
    """`▓▓▓▓░░░░░░` for 40 %."""
    filled = max(0, min(width, round(progress / 100 * width)))
    return "▓" * filled + "░" * (width - filled)


def money(amount: Decimal) -> str:
    """An amount with thousands separators and two decimals: `4,800.00`."""
    return f"{amount:,.2f}"


def week_number(week: str) -> str:
    """The week's number of an ISO week key: `47` for `2026-W47`."""
    return week.partition("-W")[2].lstrip("0")
