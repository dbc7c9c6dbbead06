"""The daily reminder DM: one message per person, the items grouped by project."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.blocks import ids
from bot.blocks.text import BLOCKS_PER_MESSAGE, HEADER_TEXT, OPTION_VALUE, mrkdwn, option, plain_text, safe
from bot.i18n import format_date, t
from bot.services.reminders import ReminderItem

# Buttons that act on an item, added by the features that own them: (lang, item) -> element.
ACT_BUTTONS: dict[str, Callable[[str, ReminderItem], dict[str, Any] | None]] = {}


def item_text(item: ReminderItem, lang: str) -> str:
    params: dict[str, Any] = {"title": safe(item.title, 200)}
    for key, value in item.detail.items():
        params[key] = format_date(value, lang) if key == "date" else value
    return t(f"reminders.{item.kind}", lang, **params)


def _snooze_menu(item: ReminderItem, lang: str) -> dict[str, Any]:
    return {
        "type": "overflow",
        "action_id": ids.REMINDER_SNOOZE,
        "options": [option(t("reminders.snooze_day", lang), f"{item.key}|1d"[:OPTION_VALUE]),
                    option(t("reminders.snooze_week", lang), f"{item.key}|7d"[:OPTION_VALUE])],
    }


def reminder_message(items: list[ReminderItem]) -> dict[str, Any]:
    lang = items[0].project.language
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain_text(t("reminders.header", lang), HEADER_TEXT)}]
    by_project: dict[int, list[ReminderItem]] = {}
    for item in items:
        by_project.setdefault(item.project.id or 0, []).append(item)
    for group in by_project.values():
        blocks.append({"type": "context", "elements": [mrkdwn(t("reminders.project_line", lang,
                                                                 project=safe(group[0].project.name, 150)))]})
        for item in group:
            block: dict[str, Any] = {"type": "section", "text": mrkdwn(item_text(item, lang)),
                                     "accessory": _snooze_menu(item, lang)}
            blocks.append(block)
            act = ACT_BUTTONS.get(item.kind)
            element = act(lang, item) if act else None
            if element:
                blocks.append({"type": "actions", "elements": [element]})
    if len(blocks) > BLOCKS_PER_MESSAGE:
        hidden = len(blocks) - BLOCKS_PER_MESSAGE + 1
        blocks = blocks[: BLOCKS_PER_MESSAGE - 1] + [
            {"type": "context", "elements": [mrkdwn(t("common.and_more", lang, count=hidden))]}]
    return {"text": t("reminders.text", lang, count=len(items)), "blocks": blocks}
