"""Mrkdwn safety and Block Kit limits, in one place every builder uses.

User text is escaped (`&`, `<`, `>`) so nobody can inject `<!channel>`, mentions or links
through a title or a comment, and every text is cut to the limit of the field it goes in,
so Slack never rejects a message for its length.
"""

from __future__ import annotations

import re
from typing import Any

# Block Kit limits (https://api.slack.com/reference/block-kit)
SECTION_TEXT = 3000
SECTION_FIELD = 2000
CONTEXT_TEXT = 2000  # per element
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTION_ID = 255
MODAL_TITLE = 24
MODAL_BUTTON = 24
OPTION_TEXT = 75
OPTION_VALUE = 150
INPUT_LABEL = 2000
INPUT_HINT = 2000
PLACEHOLDER = 150
MESSAGE_TEXT = 40000
PRIVATE_METADATA = 3000
BLOCKS_PER_MESSAGE = 50
BLOCKS_PER_VIEW = 100
OPTIONS_PER_SELECT = 100
ELEMENTS_PER_ACTIONS = 25
FIELDS_PER_SECTION = 10

ELLIPSIS = "…"


def escape(text: object) -> str:
    """Escape the three characters mrkdwn treats as control characters."""
    s = "" if text is None else str(text)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis.

    A cut never splits an escape entity (`&amp;`, `&lt;`, `&gt;`) into something Slack would
    show as garbage."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:] and text.startswith(("&amp;", "&lt;", "&gt;"), amp):
        cut = cut[:amp]
    return cut + ELLIPSIS


def safe(text: object, limit: int = SECTION_TEXT) -> str:
    """User text made safe for a mrkdwn field: escaped, then truncated to `limit`."""
    return truncate(escape(text), limit)


def plain(text: object, limit: int) -> str:
    """Text for a `plain_text` field (no mrkdwn parsing there, so only the length matters).

    Blank text is replaced by a single space-free placeholder because Slack rejects empty
    plain_text objects."""
    s = "" if text is None else str(text)
    s = " ".join(s.split()) if "\n" in s and limit <= OPTION_TEXT else s
    s = truncate(s, limit)
    return s if s.strip() else "-"


def plain_text(text: object, limit: int, *, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": plain(text, limit), "emoji": emoji}


def mrkdwn(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    """A mrkdwn text object. `text` must already hold escaped user text."""
    return {"type": "mrkdwn", "text": truncate(text, limit) or " "}


def fit_blocks(blocks: list[dict[str, Any]], limit: int, overflow_text: str | None = None) -> list[dict]:
    """Keep at most `limit` blocks; when cut, the last one says that there is more."""
    if len(blocks) <= limit:
        return blocks
    if overflow_text is None:
        return blocks[:limit]
    return [*blocks[: limit - 1], {"type": "context", "elements": [mrkdwn(overflow_text, CONTEXT_TEXT)]}]


def fit_options(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return options[:OPTIONS_PER_SELECT]


def option(label: object, value: str) -> dict[str, Any]:
    return {"text": plain_text(label, OPTION_TEXT), "value": value[:OPTION_VALUE]}


def mention(user_id: str | None) -> str:
    """A user mention for an id the bot itself stored (never for text a user typed)."""
    if not user_id or not user_id.replace("_", "").isalnum():
        return ""
    return f"<@{user_id}>"


def channel_link(channel_id: str | None) -> str:
    if not channel_id or not channel_id.isalnum():
        return ""
    return f"<#{channel_id}>"


_SLACK_ENTITY = re.compile(r"<([@#!])?([^>|]*)(?:\|([^>]*))?>")


def from_slack_text(text: str) -> str:
    """What the user typed, from a slash command's text as Slack sends it (the one decoder every
    command uses): mentions, channels
    and links (`<@U1|ann>`, `<#C1|general>`, `<https://x|x>`) become their visible text and
    `&amp;`, `&lt;`, `&gt;` are decoded. Stored plain; escaped again wherever it is shown."""

    def visible(m: re.Match[str]) -> str:
        sigil, target, label = m.group(1), m.group(2), m.group(3)
        if sigil == "@":
            return "@" + (label or target)
        if sigil == "#":
            return "#" + (label or target)
        if sigil == "!":
            return label or "@" + target.split("^", 1)[0]
        return label or target

    text = _SLACK_ENTITY.sub(visible, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# A Slack message read as people read it (capture from the conversation, issue 14) -----------

MENTIONS_RESOLVED = 20  # names looked up for a message's mentions (the rest stay as ids)
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]{1,20})>")


def mentioned_users(text: str) -> list[str]:
    """The users a message mentions without a label (`<@U1>`), first ones first."""
    return list(dict.fromkeys(_USER_MENTION.findall(text or "")))[:MENTIONS_RESOLVED]


def readable(text: str, names: dict[str, str] | None = None) -> str:
    """The message as people read it: mentions by name (where `names` knows them), channels and
    links by their visible text, entities decoded; trailing spaces of lines and blank edges gone."""
    named = names or {}
    labelled = _USER_MENTION.sub(lambda m: f"<@{m.group(1)}|{named[m.group(1)]}>" if m.group(1) in named
                                 else m.group(0), text or "")
    plain = from_slack_text(labelled)
    return "\n".join(line.rstrip() for line in plain.strip().splitlines()).strip()
