"""Block pieces several features share."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks import ids
from bot.blocks.ids import PROJECT_PICKER_BLOCK
from bot.blocks.text import (
    BUTTON_TEXT,
    INPUT_HINT,
    INPUT_LABEL,
    MODAL_BUTTON,
    MODAL_TITLE,
    PRIVATE_METADATA,
    fit_options,
    option,
    plain_text,
)
from bot.i18n import t
from bot.models import Project

__all__ = ["PROJECT_PICKER_BLOCK", "input_block", "project_picker"]  # the id lives in ids.py


def project_picker(projects: list[Project], lang: str) -> dict[str, Any]:
    """An input to choose one of the user's projects, for modals opened outside a project channel."""
    options = fit_options([option(p.name, str(p.id)) for p in projects])
    element: dict[str, Any] = {"type": "static_select", "action_id": ids.VALUE, "options": options}
    if len(options) == 1:
        element["initial_option"] = options[0]
    return {
        "type": "input",
        "block_id": PROJECT_PICKER_BLOCK,
        "label": plain_text(t("common.pick_project", lang), INPUT_LABEL),
        "element": element,
    }


def input_block(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False,
                hint: str | None = None) -> dict[str, Any]:
    """A modal input: the block_id names the field, the element's action_id is `ids.VALUE`
    unless the element brings its own (an external select, say)."""
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": plain_text(label, INPUT_LABEL),
        "element": {**element, "action_id": element.get("action_id", ids.VALUE)},
        "optional": optional,
    }
    if hint:
        block["hint"] = plain_text(hint, INPUT_HINT)
    return block


def form_modal(callback_id: str, title: str, lang: str, blocks: list[dict[str, Any]], metadata: dict[str, Any],
               submit: str | None = None) -> dict[str, Any]:
    """A modal form: Save (or `submit`) and Cancel, `metadata` carried as its private_metadata."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain_text(title, MODAL_TITLE),
        "submit": plain_text(submit or t("common.save", lang), MODAL_BUTTON),
        "close": plain_text(t("common.cancel", lang), MODAL_BUTTON),
        "private_metadata": json.dumps(metadata)[:PRIVATE_METADATA],
        "blocks": blocks,
    }


def record_button(action_id: str, text: str, record_id: int | None, version: int, *, decision: bool,
                  style: str | None = None) -> dict[str, Any]:
    """A button about one record. A decision (Confirm, Approve, Reject …) carries the version it
    was drawn from (`ids.decision_value`), so a click on an older version can be refused."""
    value = ids.decision_value(record_id or 0, version) if decision else str(record_id)
    button: dict[str, Any] = {"type": "button", "action_id": action_id, "value": value,
                              "text": plain_text(text, BUTTON_TEXT)}
    if style:
        button["style"] = style
    return button


def already_saved_view(lang: str) -> dict[str, Any]:
    """What a form submitted twice shows (Slack resubmits after a slow first answer): it was
    saved the first time, and nothing was stored twice."""
    return {"type": "modal", "title": plain_text(t("common.already_saved_title", lang), MODAL_TITLE),
            "close": plain_text(t("common.close", lang), MODAL_BUTTON),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": t("common.already_saved", lang)}}]}
