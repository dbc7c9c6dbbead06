"""Next / Previous buttons for ephemeral lists."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks.text import BUTTON_TEXT, BUTTON_VALUE, CONTEXT_TEXT, mrkdwn, plain_text
from bot.i18n import t


def page_count(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def pager(action_id: str, *, page: int, total: int, per_page: int, lang: str,
          state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A context line "Page 2 of 5" and the buttons to move, each carrying `state` + the page.

    Both buttons share `action_id`; the page to show is in the button's JSON value."""
    pages = page_count(total, per_page)
    blocks: list[dict[str, Any]] = [
        {"type": "context", "elements": [mrkdwn(t("common.page", lang, page=page, pages=pages), CONTEXT_TEXT)]}
    ]
    buttons = []
    if page > 1:
        buttons.append({"type": "button", "action_id": f"{action_id}:prev",
                        "text": plain_text(t("common.previous", lang), BUTTON_TEXT),
                        "value": json.dumps({**(state or {}), "page": page - 1})[:BUTTON_VALUE]})
    if page < pages:
        buttons.append({"type": "button", "action_id": f"{action_id}:next",
                        "text": plain_text(t("common.next", lang), BUTTON_TEXT),
                        "value": json.dumps({**(state or {}), "page": page + 1})[:BUTTON_VALUE]})
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


def page_state(value: str | None) -> dict[str, Any]:
    """The state a pager button carried; `page` is always a positive int."""
    try:
        data = json.loads(value or "{}") if isinstance(value, str | None) else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    page = data.get("page")
    data["page"] = page if isinstance(page, int) and not isinstance(page, bool) and 0 < page < 100_000 else 1
    return data
