"""Which channels a user belongs to (they only ever see projects of those channels), and whether a
channel is shared with another organisation (never an internal channel)."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError


def channels_of_user(client: WebClient, user_id: str) -> set[str]:
    """Every public and private channel `user_id` is a member of that the bot can see."""
    channels: set[str] = set()
    cursor: str | None = None
    while True:
        resp = client.users_conversations(
            user=user_id, types="public_channel,private_channel", exclude_archived=True, limit=999, cursor=cursor
        )
        channels.update(c["id"] for c in resp.get("channels", []) if c.get("id"))
        cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return channels


def is_shared_externally(client: WebClient, channel_id: str) -> bool:
    """Is the channel shared with another organisation (Slack Connect), or on its way to be?
    A channel the bot cannot see is taken to be shared: it cannot be vouched for."""
    try:
        channel = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as err:
        if err.response.get("error") not in {"channel_not_found", "not_in_channel", "missing_scope"}:
            raise
        return True
    return bool(channel.get("is_ext_shared") or channel.get("is_pending_ext_shared"))
