"""`respond` for clicks that carry no response_url.

Slack gives a response_url to clicks in messages only. Buttons in the App Home (the decision
and reminder buttons there) and in modals come without one, so Bolt leaves `respond` unset and
a handler's answer would be lost in an exception. There the answer goes to the user's DM with
the bot instead: the user is still told what happened (or why nothing did).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient

log = logging.getLogger(__name__)


class DirectMessageRespond:
    """Called like Bolt's `Respond`; posts the answer to the user's DM with the bot."""

    def __init__(self, client: WebClient, user_id: str) -> None:
        self.client = client
        self.user_id = user_id

    def __call__(self, text: str = "", blocks: list[dict[str, Any]] | None = None, *,
                 delete_original: bool | None = None, **_ignored: Any) -> None:
        # replace_original / response_type have no meaning in a DM; deleting means "say nothing".
        if delete_original or not (text or blocks):
            return
        channel = self.client.conversations_open(users=self.user_id)["channel"]["id"]
        kwargs: dict[str, Any] = {"blocks": blocks[:50]} if blocks else {}
        self.client.chat_postMessage(channel=channel, text=text or " ", **kwargs)


def fallback_respond(client: WebClient, body: Any) -> DirectMessageRespond | None:
    """The DM `respond` for an interaction without response_url, if it names a user."""
    if not isinstance(body, dict) or body.get("type") != "block_actions" or body.get("response_url"):
        return None
    user = body.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str) or not user_id:
        return None
    return DirectMessageRespond(client, user_id)
