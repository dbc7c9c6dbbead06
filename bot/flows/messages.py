"""How the bot's messages are drawn when they are sent, and what is recorded once they are.

A row in the outbox either carries its payload (a one-off message: a digest, a notice, a
reminder) or names a *target*, a message that shows a record and lives on (a confirmation
request, an approval request, the intake message). A target's message is rendered from the
current record at send time, both when it is first posted and when it is updated in place, so
what Slack shows is never older than what the database holds.

Each flow module that owns such messages registers them in `registry()` below, explicitly; no
module registers anything by being imported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlmodel import Session

from bot.flows.outbox_keys import Target, TargetKind
from bot.models import Outbox


@dataclass(frozen=True)
class Rendered:
    """A message drawn from the record: where it goes, and what it says.

    `ts` is where the message already lives (None until it is posted)."""

    channel_id: str | None
    payload: dict[str, Any]
    ts: str | None = None

    def digest(self) -> str:
        """What was shown, as a short hash (to tell whether the record moved on since)."""
        shown = {k: v for k, v in self.payload.items() if k in ("text", "blocks", "attachments")}
        return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()[:32]


# Draw a target's message from the record as it is now; None when there is nothing to show
# (the record is gone, or the message was never posted and is not owed any more).
LiveRender = Callable[[Session, Target], Rendered | None]
# Record in the domain where a message went once it is in Slack (e.g. the confirmation's ts).
AfterSent = Callable[[Session, Outbox, str | None], None]
# Slack-side follow-up of a message once it is posted and recorded, outside any transaction
# (e.g. pin the intake message). Must not raise for what Slack refuses.
AfterPosted = Callable[[Any, Outbox, str], None]


class WaitFor(Exception):
    """A row cannot be sent yet (its `after_key` row is still on its way): try again a little later."""


# digest chart: make a stored payload ready to send, given the row it waits for (its `after_key`
# row, or None): draw a chart, fill in the file id another row uploaded. May raise `WaitFor`.
Prepare = Callable[[Session, Outbox, dict[str, Any], Outbox | None, datetime], dict[str, Any]]


@dataclass
class Registry:
    live: dict[TargetKind, LiveRender] = field(default_factory=dict)
    after_sent: dict[str, AfterSent] = field(default_factory=dict)
    after_posted: dict[str, AfterPosted] = field(default_factory=dict)
    prepare: dict[str, Prepare] = field(default_factory=dict)  # digest chart

    def add_prepare(self, kind: str, hook: Prepare) -> None:
        self.prepare[kind] = hook

    def add_live(self, kind: TargetKind, render: LiveRender) -> None:
        self.live[kind] = render

    def add_after_sent(self, kind: str, hook: AfterSent) -> None:
        self.after_sent[kind] = hook

    def add_after_posted(self, kind: str, hook: AfterPosted) -> None:
        self.after_posted[kind] = hook


@cache
def registry() -> Registry:
    """Every live message and after-send hook of the bot, registered by the flow that owns it."""
    from bot.flows import registrations

    reg = Registry()
    registrations.register_all(reg)
    return reg
