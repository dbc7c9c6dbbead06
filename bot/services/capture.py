"""Capture from the conversation: the rules that turn a Slack message into a record's fields.

No Slack imports: a message comes in as plain values (its text as Slack sends it, its author,
where it is), and what comes out is what the forms and the record keep.

- The text is decoded from Slack's markup (`<@U1>` → `@ann`, `<#C1|general>` → `#general`,
  `<https://x|x>` → `x`, `&amp;` → `&`): stored plain, escaped again wherever it is shown.
- The title is the first sentence, else the first line, cut at a word within the kind's title
  limit; the description is the whole message within its limit. A 40,000-character message is
  cut, never refused.
- One record of each kind per message (`Source.key`): the database holds it with a unique index
  on (channel, ts), so a second capture, a reaction removed and added again, or two processes
  racing find the record that is there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from bot.models import LONG_TEXT_MAX, RISK_TITLE_MAX, ChangeRequest, FeedbackResponse, Requirement, Risk
from bot.services import changes, requirements

KINDS = ("requirement", "change", "risk", "feedback")
TEAM_ONLY_KINDS = frozenset({"risk"})
MODELS: dict[str, Any] = {"requirement": Requirement, "change": ChangeRequest, "risk": Risk,
                          "feedback": FeedbackResponse}
TITLE_MAX = {"requirement": requirements.TITLE_MAX, "change": changes.TITLE_MAX, "risk": RISK_TITLE_MAX,
             "feedback": 0}  # feedback has no title: the whole message is its text
TEXT_MAX = {"requirement": requirements.TEXT_MAX, "change": changes.TEXT_MAX, "risk": LONG_TEXT_MAX,
            "feedback": 3000}
DEFAULT_EMOJI = "memo"
EMOJI_MAX = 64

_SENTENCE_END = re.compile(r"(?<=[.!?])\s|[。！？]")
_TS = re.compile(r"^\d{1,12}\.\d{1,8}$")
_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_EMOJI = re.compile(r"^[a-z0-9_+'\-]{1,64}$")
_PERMALINK = re.compile(r"^https://[^\s<>|\"]{1,492}$")


@dataclass(frozen=True)
class Source:
    """Where a record was captured from: the message (channel, ts), its thread (where the
    receipt goes), its author and its permalink (None once the message is gone)."""

    channel_id: str
    ts: str
    user_id: str | None = None
    thread_ts: str | None = None
    permalink: str | None = None
    author_team: str | None = None

    def as_meta(self) -> dict[str, Any]:
        """The compact form a modal's private_metadata carries."""
        return {k: v for k, v in {"c": self.channel_id, "ts": self.ts, "u": self.user_id, "tt": self.thread_ts,
                                  "p": self.permalink, "ut": self.author_team}.items() if v}


def parse_meta(value: object) -> Source | None:
    """A `Source` from a modal's private_metadata (untrusted: anything malformed is none)."""
    if not isinstance(value, dict):
        return None
    channel, ts = value.get("c"), value.get("ts")
    if not (isinstance(channel, str) and _ID.match(channel) and isinstance(ts, str) and _TS.match(ts)):
        return None

    def ident(key: str) -> str | None:
        v = value.get(key)
        return v if isinstance(v, str) and _ID.match(v) else None

    thread = value.get("tt")
    link = value.get("p")
    return Source(channel_id=channel, ts=ts, user_id=ident("u"), author_team=ident("ut"),
                  thread_ts=thread if isinstance(thread, str) and _TS.match(thread) else None,
                  permalink=link if isinstance(link, str) and _PERMALINK.match(link) else None)


def is_permalink(value: object) -> bool:
    return isinstance(value, str) and bool(_PERMALINK.match(value))


def is_ts(value: object) -> bool:
    return isinstance(value, str) and bool(_TS.match(value))


def _cut(text: str, limit: int) -> str:
    """At most `limit` characters, at a word where there is one in the last fifth, with "…"."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit * 0.8:
        head = head[:space]
    return head.rstrip(" ,;:-") + "…"


def title_of(text: str, limit: int) -> str:
    """The first sentence (or line) of `text`, within `limit` characters."""
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    match = _SENTENCE_END.search(first_line)
    sentence = first_line[: match.end()].strip() if match else first_line
    sentence = sentence.rstrip() if sentence.endswith(("?", "!", "？", "！")) else sentence.rstrip(".。 ")
    return _cut(sentence or first_line, limit)


def description_of(text: str, limit: int) -> str:
    """The whole message within `limit`."""
    return _cut(text, limit)


@dataclass(frozen=True)
class Prefill:
    title: str
    description: str


def prefill(kind: str, text: str) -> Prefill:
    """What a kind's form shows for a message (feedback: the message is its text)."""
    if kind == "feedback":
        return Prefill(title="", description=description_of(text, TEXT_MAX[kind]))
    return Prefill(title=title_of(text, TITLE_MAX[kind]), description=description_of(text, TEXT_MAX[kind]))


def normalise_emoji(value: str | None) -> str | None:
    """A reaction name as the project keeps it (`:memo:` → `memo`, skin tones dropped); "" for
    off; None when it is not an emoji name."""
    name = (value or "").strip().strip(":").lower().split("::", 1)[0]
    if name in ("", "off", "none", "-"):
        return ""
    return name if _EMOJI.match(name) else None


def reaction_name(value: object) -> str:
    """A reaction_added event's reaction, without a skin tone (`thumbsup::skin-tone-2`)."""
    return str(value or "").split("::", 1)[0]


def captured(session: Session, kind: str, channel_id: str, ts: str) -> Any | None:
    """The record of `kind` captured from the message, if there is one."""
    model = MODELS[kind]
    return session.exec(select(model).where(model.source_channel_id == channel_id, model.source_ts == ts)).first()


def keep(record: Any, source: Source) -> None:
    """Write the source onto the record (bookkeeping columns: its version does not change)."""
    record.source_channel_id = source.channel_id
    record.source_ts = source.ts
    record.source_permalink = source.permalink
    record.source_user_id = source.user_id


def source_of(record: Any) -> dict[str, Any] | None:
    """The source as the activity log and the exports keep it."""
    if not getattr(record, "source_ts", None):
        return None
    return {"channel": record.source_channel_id, "ts": record.source_ts, "permalink": record.source_permalink,
            "author": record.source_user_id}


def source_text(record: Any, names: dict[str, str] | None = None) -> str:
    """The source for an export cell: the permalink, else "channel/ts", and the author."""
    if not getattr(record, "source_ts", None):
        return ""
    author = (names or {}).get(record.source_user_id or "", record.source_user_id or "")
    where = record.source_permalink or f"{record.source_channel_id}/{record.source_ts}"
    return f"{where} (@{author})" if author else where
