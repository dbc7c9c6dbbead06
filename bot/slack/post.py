"""Posting to Slack so that a message is never posted twice.

Only the Slack side lives here: how a payload is sent, which errors are final, and how a
message we may already have posted is found again (every channel post carries Slack message
metadata naming its outbox key). Claiming rows, rendering them and recording the outcome is
the outbox sender's work (`bot.flows.delivery`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.deps import Deps

log = logging.getLogger(__name__)

METADATA_EVENT = "pmbot_message"
# digest chart: the outbox method of a file upload (files.getUploadURLExternal, the upload itself,
# files.completeUploadExternal, as slack_sdk's files_upload_v2 does); no channel: the file is
# private to the bot and shown by the messages that name it (an image block's slack_file id).
FILE_UPLOAD = "files.uploadV2"
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
    "restricted_action",
    "message_not_found",
    "cant_update_message",
}

# Slack rejects our token: nothing can be sent until an operator fixes it, but the messages are
# not at fault, so they wait (see outbox.mark_failed) instead of being dropped.
TOKEN_ERRORS = {"invalid_auth", "account_inactive", "token_revoked", "token_expired", "not_authed"}

# Failures that say "not now" rather than "never".
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


def error_code(err: SlackApiError) -> str:
    return str(err.response.get("error", "")) if err.response is not None else ""


def is_transient(err: SlackApiError) -> bool:
    response = err.response
    if response is None:
        return True
    return response.status_code >= 500 or response.status_code == 429 or response.get("error") in TRANSIENT_ERRORS


def _ours(deps: Deps, message: dict[str, Any], key: str) -> bool:
    """Posted by this bot (not a staging install, not the other organisation's PM Bot in a
    shared channel) under outbox `key`."""
    meta = message.get("metadata") or {}
    if meta.get("event_type") != METADATA_EVENT or (meta.get("event_payload") or {}).get("key") != key:
        return False
    me = deps.workspace
    if me.bot_id:
        return message.get("bot_id") == me.bot_id
    return bool(me.bot_user_id) and message.get("user") == me.bot_user_id


HISTORY_PAGE = 200
HISTORY_PAGES = 50  # at most 10,000 messages since the row was queued


def find_already_posted(deps: Deps, channel: str, key: str, *, since: datetime) -> str | None:
    """The ts of a message this bot already posted under outbox `key` (found by its metadata),
    if any: the channel is read from `since` (when the row was queued) onwards, page by page."""
    oldest = f"{max(since.timestamp() - 60, 0):.6f}"
    latest: str | None = None
    try:
        for _ in range(HISTORY_PAGES):
            params: dict[str, Any] = {"channel": channel, "include_all_metadata": True, "limit": HISTORY_PAGE,
                                      "oldest": oldest}
            if latest:
                params["latest"] = latest
            history = deps.client.conversations_history(**params)
            messages = history.get("messages", [])
            for message in messages:
                if _ours(deps, message, key):
                    return message.get("ts")
            if not history.get("has_more") or not messages:
                return None
            latest = min(str(m.get("ts")) for m in messages)  # newest first: go further back
    except SlackApiError as err:
        if is_transient(err):
            # Slack is struggling: we cannot tell whether the message is there, and posting
            # blindly could post it twice. Let the outbox try again later.
            raise
        log.warning("could not read history of %s to check for %s: %s", channel, key, err)
    return None


def find_already_replied(deps: Deps, channel: str, thread_ts: str, key: str) -> str | None:
    """The ts of a reply this bot already posted in a thread under outbox `key` (replies are not
    in conversations.history: the thread is read instead, up to HISTORY_PAGES pages)."""
    cursor: str | None = None
    try:
        for _ in range(HISTORY_PAGES):
            params: dict[str, Any] = {"channel": channel, "ts": thread_ts, "include_all_metadata": True,
                                      "limit": HISTORY_PAGE}
            if cursor:
                params["cursor"] = cursor
            thread = deps.client.conversations_replies(**params)
            for message in thread.get("messages", []):
                if _ours(deps, message, key):
                    return message.get("ts")
            cursor = (thread.get("response_metadata") or {}).get("next_cursor")
            if not thread.get("has_more") or not cursor:
                return None
    except SlackApiError as err:
        if is_transient(err):
            raise
        log.warning("could not read the thread %s in %s to check for %s: %s", thread_ts, channel, key, err)
    return None


def add_reaction(deps: Deps, channel: str | None, payload: dict[str, Any]) -> None:
    """reactions.add; a reaction the bot already added is done (a retry after a lost answer)."""
    try:
        deps.client.reactions_add(channel=channel, timestamp=payload["timestamp"], name=payload["name"])
    except SlackApiError as err:
        if error_code(err) != "already_reacted":
            raise
    return None


def find_already_uploaded(deps: Deps, filename: str, *, since: datetime) -> str | None:
    """The id of a file this bot already uploaded as `filename` since `since` (a sender that died
    after Slack took the upload but before recording it), if any. Filenames name their outbox row
    (`digest-12-2026-W47.png`). Without the files:read scope, or when Slack refuses for good, it
    says so in the log and the file is uploaded again (a second private copy nobody is shown)."""
    me = deps.workspace
    try:
        listed = deps.client.files_list(user=me.bot_user_id, ts_from=str(int(max(since.timestamp() - 60, 0))),
                                        types="images", count=HISTORY_PAGE)
    except SlackApiError as err:
        if is_transient(err):
            raise  # try again later rather than upload blindly
        log.warning("could not list uploaded files to check for %s: %s", filename, err)
        return None
    for file in listed.get("files") or []:
        if file.get("name") == filename and (not me.bot_user_id or file.get("user") == me.bot_user_id):
            return str(file.get("id") or "") or None
    return None


def open_dm(deps: Deps, user_id: str) -> str:
    return deps.client.conversations_open(users=user_id)["channel"]["id"]


def _message_call(client: WebClient, method: str, **fields: Any) -> SlackResponse:
    """`chat.update` / `chat.postMessage` as slack_sdk's `chat_update` / `chat_postMessage` send
    it (the fields as JSON, none that is None), without their walk over the blocks to turn
    Block Kit objects into dicts: the outbox's payloads are dicts already (issue 13: that walk
    was 2% of a Confirm click's CPU)."""
    return client.api_call(method, json={k: v for k, v in fields.items() if v is not None})


def send(deps: Deps, *, method: str, channel: str | None, payload: dict[str, Any], key: str,
         retried: bool, since: datetime) -> str | None:
    """Send one message; returns its ts. A retried post first looks for itself in the channel."""
    payload = dict(payload)
    if method == FILE_UPLOAD:  # digest chart: a file of our own, shared by the messages that show it
        if retried:
            found = find_already_uploaded(deps, payload["filename"], since=since)
            if found:
                log.info("outbox %s was already uploaded as %s; not uploading again", key, found)
                return found
        resp = deps.client.files_upload_v2(content=payload["content"], filename=payload["filename"],
                                           title=payload.get("title"), alt_txt=payload.get("alt_txt") or None)
        return str((resp.get("file") or {}).get("id") or "") or None
    if method == "chat.update":
        return _message_call(deps.client, "chat.update", channel=channel, **payload).get("ts")
    if method == "chat.postEphemeral":
        deps.client.chat_postEphemeral(channel=channel, user=payload.pop("user"), **payload)
        return None
    if method == "reactions.add":
        return add_reaction(deps, channel, payload)
    if retried and channel and payload.get("thread_ts"):
        found = find_already_replied(deps, channel, str(payload["thread_ts"]), key)
        if found:
            log.info("outbox %s was already posted in its thread as %s; not posting again", key, found)
            return found
    elif retried and channel:
        found = find_already_posted(deps, channel, key, since=since)
        if found:
            log.info("outbox %s was already posted as %s; not posting again", key, found)
            return found
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"key": key}}
    assert deps.post_client is not None
    # The process's pace (after a 429), taken here rather than before the claim: what reaches
    # Slack is spaced as the gate spaces it, however long the database took meanwhile.
    deps.gate.wait()
    resp = _message_call(deps.post_client, "chat.postMessage", channel=channel, metadata=metadata, **payload)
    deps.gate.accepted()
    return resp.get("ts")
