"""Which channels a user belongs to, so they only ever see projects of those channels."""

from __future__ import annotations

from slack_sdk import WebClient


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
