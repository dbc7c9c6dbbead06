"""The daily reminder DM (one message per person, the items grouped by project), and the
nudge and escalation of a decision the client owes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.blocks import ids
from bot.blocks.text import (
    BLOCKS_PER_MESSAGE,
    BUTTON_TEXT,
    HEADER_TEXT,
    OPTION_VALUE,
    mention,
    mrkdwn,
    option,
    plain_text,
    safe,
)
from bot.i18n import format_date, t
from bot.i18n.formatting import format_percent
from bot.models import Project

if TYPE_CHECKING:  # plain data; the builder needs no service at run time
    from bot.reports.facts import ReminderItem

_ACT = {  # item kind -> (action_id of the feature's own button, label key)
    "risk_review": (ids.RISK_SET_REVIEW, "reminders.act_review"),
    "risk_unmitigated": (ids.RISK_EDIT, "reminders.act_mitigate"),
    "milestone_late": (ids.MILESTONE_EDIT, "reminders.act_update"),
    "milestone_soon": (ids.MILESTONE_EDIT, "reminders.act_update"),
    "cr_assess": (ids.CHANGE_ASSESS, "reminders.act_assess"),
    "follow_up": (ids.FEEDBACK_RESOLVE, "reminders.act_resolve"),
}


def act_button(item: ReminderItem, lang: str) -> dict[str, Any] | None:
    """The button that opens what the item asks for, using the owning feature's own action."""
    found = _ACT.get(item.kind)
    if found is None:
        return None
    action_id, label = found
    return {"type": "button", "action_id": action_id, "value": str(item.entity_id),
            "text": plain_text(t(label, lang), BUTTON_TEXT)}


def item_text(item: ReminderItem, lang: str) -> str:
    params: dict[str, Any] = {"title": safe(item.title, 200)}
    for key, value in item.detail.items():
        params[key] = (format_date(value, lang) if key == "date"
                       else format_percent(value, lang) if key == "progress" else value)
    return t(f"reminders.{item.kind}", lang, **params)


def _snooze_menu(item: ReminderItem, lang: str) -> dict[str, Any]:
    return {
        "type": "overflow",
        "action_id": ids.REMINDER_SNOOZE,
        "options": [option(t("reminders.snooze_day", lang), f"{item.key}|1d"[:OPTION_VALUE]),
                    option(t("reminders.snooze_week", lang), f"{item.key}|7d"[:OPTION_VALUE])],
    }


def reminder_message(items: list[ReminderItem], lang: str | None = None) -> dict[str, Any]:
    """The person's daily DM, in `lang` (their own language; the first project's by default)."""
    lang = lang or items[0].project.language
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain_text(t("reminders.header", lang), HEADER_TEXT)}]
    by_project: dict[int, list[ReminderItem]] = {}
    for item in items:
        by_project.setdefault(item.project.id or 0, []).append(item)
    for group in by_project.values():
        blocks.append({"type": "context", "elements": [mrkdwn(t("reminders.project_line", lang,
                                                                 project=safe(group[0].project.name, 150)))]})
        for item in group:
            blocks.append({"type": "section", "text": mrkdwn(item_text(item, lang))})
            element = act_button(item, lang)
            blocks.append({"type": "actions", "block_id": f"remind:{item.key}"[:255],
                           "elements": [*([element] if element else []), _snooze_menu(item, lang)]})
    if len(blocks) > BLOCKS_PER_MESSAGE:
        hidden = len(blocks) - BLOCKS_PER_MESSAGE + 1
        blocks = blocks[: BLOCKS_PER_MESSAGE - 1] + [
            {"type": "context", "elements": [mrkdwn(t("common.and_more", lang, count=hidden))]}]
    return {"text": t("reminders.text", lang, count=len(items)), "blocks": blocks}


NUDGES = {"requirement": "reminders.nudge_requirement", "change": "reminders.nudge_change"}
ESCALATIONS = {"requirement": "reminders.escalate_requirement", "change": "reminders.escalate_change"}


def nudge_message(project: Project, kind: str, days: int, *, thread_ts: str | None) -> dict[str, Any]:
    """A polite nudge in the request's thread, naming the client approvers."""
    lang = project.language
    approvers = " ".join(mention(u) for u in project.client_approver_ids or []) or t("reminders.approvers_none", lang)
    return {"text": t(NUDGES[kind], lang, approvers=approvers, days=days), "thread_ts": thread_ts}


def escalation_message(project: Project, kind: str, title: str, days: int,
                       lang: str | None = None) -> dict[str, Any]:
    """The PM's DM once the client has kept a decision waiting too long (in the PM's language)."""
    return {"text": t(ESCALATIONS[kind], lang or project.language, title=safe(title, 200),
                      project=safe(project.name, 100), days=days)}
