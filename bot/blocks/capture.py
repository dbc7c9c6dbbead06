"""Capture from the conversation: the forms prefilled from a message, the source line every
record captured from a message shows ("from a message by @ann"), the receipt in the message's
thread and the answer to the person who reacted.

Pure builders: plain values in, dicts out. The forms are the kinds' own (built by their
builders), given our callback id, our metadata (the message's source) and the message's text.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from bot.blocks import ids
from bot.blocks.text import (
    BUTTON_TEXT,
    CONTEXT_TEXT,
    PRIVATE_METADATA,
    SECTION_TEXT,
    mention,
    mrkdwn,
    plain_text,
    safe,
)
from bot.i18n import t

# The capture form of each kind: our callback id, and the block each prefilled field goes to.
FORMS: dict[str, tuple[str, str | None, str]] = {
    "requirement": (ids.CAPTURE_REQ_MODAL, ids.REQ_BLOCK_TITLE, ids.REQ_BLOCK_DESCRIPTION),
    "change": (ids.CAPTURE_CHANGE_MODAL, ids.CHANGE_BLOCK_TITLE, ids.CHANGE_BLOCK_DESCRIPTION),
    "risk": (ids.CAPTURE_RISK_MODAL, ids.RISK_BLOCK_TITLE, ids.RISK_BLOCK_DESCRIPTION),
    "feedback": (ids.CAPTURE_FEEDBACK_MODAL, None, ids.FEEDBACK_BLOCK_TEXT),
}
KIND_OF_MODAL = {callback: kind for kind, (callback, _, _) in FORMS.items()}
KIND_OF_SHORTCUT = {ids.CAPTURE_REQ_SHORTCUT: "requirement", ids.CAPTURE_CHANGE_SHORTCUT: "change",
                    ids.CAPTURE_RISK_SHORTCUT: "risk", ids.CAPTURE_FEEDBACK_SHORTCUT: "feedback"}
PREFIXES = {"requirement": "REQ", "change": "CR", "risk": "RISK", "feedback": "FB"}
RECEIPT_EMOJI = "white_check_mark"


def ref(kind: str, record_id: int | None) -> str:
    return f"{PREFIXES[kind]}-{record_id}"


def _fill(block: dict[str, Any], value: str) -> None:
    element = block.get("element") or {}
    limit = element.get("max_length")
    if value:
        element["initial_value"] = value[:limit] if isinstance(limit, int) else value


def capture_form(view: dict[str, Any], kind: str, *, title: str, description: str,
                 metadata: dict[str, Any], lang: str, author: str | None) -> dict[str, Any]:
    """A kind's own form as a capture form: our callback id, the message's text in its fields,
    the source in its metadata and a line saying where the text comes from."""
    callback_id, title_block, text_block = FORMS[kind]
    out = copy.deepcopy(view)
    out["callback_id"] = callback_id
    out["private_metadata"] = json.dumps(metadata)[:PRIVATE_METADATA]
    for block in out.get("blocks", []):
        if title_block and block.get("block_id") == title_block:
            _fill(block, title)
        elif block.get("block_id") == text_block:
            _fill(block, description)
    note = t("capture.form_note", lang, user=mention(author) if author else t("capture.someone", lang))
    out["blocks"] = [{"type": "context", "elements": [mrkdwn(note, CONTEXT_TEXT)]}, *out.get("blocks", [])][:100]
    return out


def source_line(record: Any, lang: str) -> str | None:
    """"from a message by @ann" (linked to the message while it exists), or None for a record
    that was not captured from a message."""
    if not getattr(record, "source_ts", None):
        return None
    user = mention(record.source_user_id) or t("capture.someone", lang)
    link = getattr(record, "source_permalink", None)
    if link:
        return t("capture.from_message_link", lang, link=link_target(link), user=user)
    return t("capture.from_message", lang, user=user)


def link_target(url: str) -> str:
    """A URL as the target of a mrkdwn link (`<url|label>`): `&` escaped as Slack wants it (a
    reply's permalink carries `?thread_ts=…&cid=…`), and nothing that could end the link."""
    return (url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
            .replace(" ", "%20"))


def receipt(kind: str, record_id: int | None, title: str, lang: str, *, thread_ts: str) -> dict[str, Any]:
    """The bot's answer in the message's thread: "Captured as REQ-12: title"."""
    key = "capture.receipt_feedback" if kind == "feedback" else "capture.receipt"
    text = t(key, lang, ref=ref(kind, record_id), title=safe(title, 300))
    return {"text": text, "thread_ts": thread_ts, "unfurl_links": False,
            "blocks": [{"type": "section", "text": mrkdwn(text, SECTION_TEXT)}]}


def reaction(ts: str) -> dict[str, Any]:
    """reactions.add on the captured message."""
    return {"timestamp": ts, "name": RECEIPT_EMOJI}


def reacted_message(kind: str, record_id: int | None, title: str, lang: str, *, created: bool,
                    can_edit: bool, source: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The ephemeral answer to the person who reacted: "Captured REQ-12 · title" and, for a team
    member, *Add details* (reaction events carry no trigger_id: a button can open the form)."""
    key = "capture.reacted_new" if created else "capture.reacted_existing"
    text = t(key, lang, ref=ref(kind, record_id), title=safe(title, 300))
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(text, SECTION_TEXT)}]
    if source:
        blocks.append({"type": "context", "elements": [mrkdwn(source, CONTEXT_TEXT)]})
    if can_edit:
        blocks.append({"type": "actions", "block_id": f"{ids.REQ_ITEM_BLOCK}:{record_id}:notice", "elements": [
            {"type": "button", "action_id": ids.REQ_EDIT, "value": str(record_id), "style": "primary",
             "text": plain_text(t("capture.button_add_details", lang), BUTTON_TEXT)}]})
    return text, blocks


def already_text(kind: str, record_id: int | None, title: str, lang: str, source: str | None) -> str:
    """A shortcut on a message already captured as this kind: nothing opened."""
    text = t("capture.already", lang, ref=ref(kind, record_id), title=safe(title, 300))
    return f"{text}\n{source}" if source else text
