"""Deliver outbox rows to Slack exactly once.

Every channel message carries Slack message metadata naming its outbox key. When a row is
claimed again after a crash between posting and recording, the channel history is searched
for that key first, so the message is not posted twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlmodel import Session, col, select

from bot.deps import Deps
from bot.models import Outbox
from bot.services import outbox
from bot.shutdown import stop_requested

log = logging.getLogger(__name__)

METADATA_EVENT = "pmbot_message"
# Errors that will not go away by trying again.
PERMANENT_ERRORS = {
    "channel_not_found",
    "is_archived",
    "not_in_channel",
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "no_text",
    "user_not_found",
    "cannot_dm_bot",
    "account_inactive",
    "invalid_auth",
    "restricted_action",
    "message_not_found",
    "cant_update_message",
}

# Failures that say "not now" rather than "never".
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}

AfterSend = Callable[[Session, Outbox, str | None], None]
_after_send: dict[str, AfterSend] = {}


def on_sent(kind: str) -> Callable[[AfterSend], AfterSend]:
    """Register what to record in the domain once a message of `kind` is in Slack."""

    def wrap(fn: AfterSend) -> AfterSend:
        _after_send[kind] = fn
        return fn

    return wrap


def _transient(err: SlackApiError) -> bool:
    response = err.response
    if response is None:
        return True
    return response.status_code >= 500 or response.status_code == 429 or response.get("error") in TRANSIENT_ERRORS


def _find_already_posted(deps: Deps, row: Outbox, channel: str) -> str | None:
    """The ts of a message already posted for this row (found by its metadata), if any.

    A lost post is looked for soon after (claims expire in minutes), so the newest 200
    messages of the channel are enough."""
    try:
        history = deps.client.conversations_history(channel=channel, include_all_metadata=True, limit=200)
    except SlackApiError as err:
        if _transient(err):
            # Slack is struggling: we cannot tell whether the message is there, and posting
            # blindly could post it twice. Let the outbox try again later.
            raise
        log.warning("could not read history of %s to check for %s: %s", channel, row.key, err)
        return None
    for message in history.get("messages", []):
        meta = message.get("metadata") or {}
        if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("key") == row.key:
            return message.get("ts")
    return None


def _send(deps: Deps, row: Outbox) -> str | None:
    payload: dict[str, Any] = dict(row.payload)
    channel = row.channel_id
    if channel is None and row.user_id:
        channel = deps.client.conversations_open(users=row.user_id)["channel"]["id"]
    if row.method == "chat.update":
        resp = deps.client.chat_update(channel=channel, **payload)
        return resp.get("ts")
    if row.method == "chat.postEphemeral":
        deps.client.chat_postEphemeral(channel=channel, user=payload.pop("user"), **payload)
        return None
    if row.attempts > 1 and channel:
        found = _find_already_posted(deps, row, channel)
        if found:
            log.info("outbox %s was already posted as %s; not posting again", row.key, found)
            return found
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"key": row.key}}
    assert deps.post_client is not None
    resp = deps.post_client.chat_postMessage(channel=channel, metadata=metadata, **payload)
    deps.gate.accepted()
    return resp.get("ts")


def deliver(deps: Deps, outbox_id: int) -> bool:
    """Claim, send and record one row. True when this call sent it."""
    now = deps.clock.now()
    with deps.session() as session:
        if not outbox.claim(session, outbox_id, worker=deps.worker, now=now, claim_timeout=_claim_timeout(deps)):
            return False
    with deps.session() as session:
        row = session.get(Outbox, outbox_id)
        assert row is not None
    try:
        ts = _send(deps, row)
    except SlackApiError as err:
        code = str(err.response.get("error", "")) if err.response is not None else ""
        log.warning("sending %s failed: %s", row.key, code or err)
        with deps.session() as session:
            outbox.mark_failed(session, outbox_id, error=code or str(err), now=deps.clock.now(),
                               permanent=code in PERMANENT_ERRORS)
        return False
    except Exception as err:  # connection errors after the client's own retries
        log.exception("sending %s failed", row.key)
        with deps.session() as session:
            outbox.mark_failed(session, outbox_id, error=repr(err), now=deps.clock.now(), permanent=False)
        return False
    sent_at = deps.clock.now()
    with deps.session() as session:
        outbox.mark_sent(session, outbox_id, ts=ts, now=sent_at)
        row.message_ts, row.sent_at, row.status = ts, sent_at, "sent"
        hook = _after_send.get(row.kind)
        if hook is not None:
            hook(session, row, ts)
    return True


DELIVERY_THREADS = 8
CHANNEL_INTERVAL = 1.0  # seconds between two messages to the same channel


def deliver_many(deps: Deps, outbox_ids: Iterable[int | None], *, threads: int = DELIVERY_THREADS) -> int:
    """Send many rows concurrently across channels, in order within each channel (one sender
    per channel keeps Slack's per-channel pace). A 429 pauses every sender of the process
    (see `RateGate`). When the process is asked to stop, each sender stops between two
    messages and the rest stays queued. Returns how many this call sent."""
    wanted = [i for i in outbox_ids if i]
    if not wanted:
        return 0
    with deps.session() as session:
        rows = session.exec(select(Outbox.id, Outbox.channel_id, Outbox.user_id)
                            .where(col(Outbox.id).in_(wanted))).all()
    lanes: dict[str, list[int]] = {}
    for row_id, channel, user in sorted(rows, key=lambda r: r[0] or 0):
        lanes.setdefault(channel or f"dm:{user}", []).append(row_id or 0)

    def run_lane(ids: list[int]) -> int:
        sent = 0
        last = -CHANNEL_INTERVAL
        for n, row_id in enumerate(ids):
            if stop_requested():
                log.warning("stopping: %d message(s) of this channel left for the next run", len(ids) - n)
                break
            gap = CHANNEL_INTERVAL - (time.monotonic() - last)
            if gap > 0:  # Slack's pace within one channel: about one message per second
                time.sleep(gap)
            deps.gate.wait()
            last = time.monotonic()
            sent += deliver(deps, row_id)
        return sent

    if len(lanes) == 1 or threads <= 1:
        return sum(run_lane(ids) for ids in lanes.values())
    with ThreadPoolExecutor(max_workers=min(threads, len(lanes)), thread_name_prefix="pmbot-send") as pool:
        return sum(pool.map(run_lane, lanes.values()))


def deliver_due(deps: Deps, limit: int = 500) -> int:
    """Send whatever is waiting (the retry sweep). Returns how many were sent."""
    with deps.session() as session:
        ids = outbox.due(session, now=deps.clock.now(), limit=limit, claim_timeout=_claim_timeout(deps))
    return deliver_many(deps, ids)


def _claim_timeout(deps: Deps) -> timedelta:
    return timedelta(seconds=deps.settings.claim_timeout_seconds)

