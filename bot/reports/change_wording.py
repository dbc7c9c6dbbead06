"""The wording of change requests that the Slack views and the change-log export share: impact,
history lines, local times, amounts. Plain values in, localised text out (no Slack, no database);
who a user is comes in as a function."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.i18n import t
from bot.i18n.formatting import format_currency
from bot.i18n.names import CHANGE_STATUS_KEYS as STATUS_KEYS
from bot.models import ActivityLog, ChangeRequest, Project
from bot.reports.wording import local

Who = Callable[[str | None], str]


def local_time(at: datetime | None, project: Project) -> str:
    """`YYYY-MM-DD HH:MM` in the project's time zone ('' for no time)."""
    return local(at, project.timezone)


def hours(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def money(amount: Decimal | None, currency: str | None, lang: str | None = None) -> str:
    """The amount in its currency as CLDR writes it in `lang`: "€1,200.00"."""
    if amount is None:
        return ""
    return format_currency(amount, currency, lang)


def schedule_text(days: int | None, lang: str) -> str:
    if days is None:
        return ""
    if days == 0:
        return t("changes.impact_no_delay", lang)
    return t("changes.impact_days", lang, days=f"{days:+d}", count=abs(days))


def impact_text(cr: ChangeRequest, lang: str, *, to_client: bool) -> str:
    """"+5 days · 12 h · €1,200.00" (the cost only where it may be shown)."""
    if cr.schedule_impact_days is None and cr.effort_hours is None:
        return t("changes.not_assessed_yet", lang)
    parts = [schedule_text(cr.schedule_impact_days, lang),
             t("changes.impact_hours", lang, hours=hours(cr.effort_hours))]
    if cr.cost_visible(to_client=to_client):
        cost = money(cr.cost_amount, cr.cost_currency, lang)
        parts.append(cost if cr.share_cost_with_client else t("changes.cost_internal", lang, cost=cost))
    return " · ".join(p for p in parts if p)


def status_label(status: str, lang: str) -> str:
    return t(STATUS_KEYS[status], lang) if status in STATUS_KEYS else status


def history_line(entry: ActivityLog, project: Project, lang: str, who: Who,
                 milestone_names: dict[int, str] | None = None,
                 clean: Callable[[str], str] = str) -> str:
    """One line of a request's history: when, what, by whom (and the plan change it made).
    `clean` prepares typed text (a reason, a milestone name) for where the line is shown."""
    when = local_time(entry.created_at, project)
    user = who(entry.actor_user_id)
    if entry.on_behalf_of_client:
        user = t("permissions.on_behalf", lang, user=user)
    key = f"changes.history_{entry.action}"
    try:
        line = t(key, lang, when=when, user=user)
    except KeyError:
        line = t("changes.history_other", lang, when=when, user=user, action=entry.action)
    after = entry.after or {}
    if entry.action == "rejected" and after.get("reason"):
        line += t("changes.history_reason", lang, reason=clean(str(after["reason"])))
    moves = after.get("rescheduled") or []
    names = milestone_names or {}
    for move in moves:
        name = names.get(int(move.get("milestone_id") or 0), f"#{move.get('milestone_id')}")
        line += t("changes.history_moved", lang, name=clean(name), old=move.get("from"), new=move.get("to"))
    return line


def decision_moves(entries: list[ActivityLog]) -> list[dict[str, Any]]:
    """The milestone moves an approval made, from its log entry."""
    for entry in reversed(entries):
        if entry.action == "approved":
            return list((entry.after or {}).get("rescheduled") or [])
    return []
