"""Builders of signed Slack HTTP requests (slash commands, interactions, events) for tests.

The payloads copy the field shapes Slack sends (as captured in Bolt's own scenario tests and in
Slack's payload reference), so the bot under test parses exactly what production gives it.
Each builder returns ``(body, headers)``: the raw body string and the headers Slack would send,
signed with :data:`SIGNING_SECRET` and stamped with the current time. Hand them to :func:`post`
or to ``slack_bolt.request.BoltRequest(body=body, headers=headers)``.

Shapes worth knowing (Slack's, not ours):

* slash commands are form-encoded fields; interactions are a form with a single ``payload`` field
  holding JSON; events are a JSON body.
* In interaction payloads ``user`` is an object with ``team_id`` (the user's own workspace, which
  differs from ``team.id`` for a Slack Connect user of another organisation); slash commands only
  carry ``user_id`` and the workspace where the command ran, so the bot must call ``users.info``
  to learn which organisation the user belongs to.
* ``view.state.values`` is ``block_id -> action_id -> element state``; empty inputs are ``null``
  (``value: null``, ``selected_option: null``, ``selected_date: null``) and ``number_input``
  values are strings.
* Bolt takes the workspace of a view payload from ``view.app_installed_team_id`` before ``team``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

__all__ = [
    "API_APP_ID",
    "SIGNING_SECRET",
    "VERIFICATION_TOKEN",
    "SlackUser",
    "app_home_opened",
    "as_shown",
    "block_actions",
    "block_suggestion",
    "channels_select",
    "checkboxes",
    "conversations_select",
    "datepicker",
    "event_callback",
    "external_user",
    "global_shortcut",
    "interactive_message",
    "member_joined_channel",
    "message_event",
    "message_shortcut",
    "multi_static_select",
    "multi_users",
    "number",
    "option",
    "plain_text",
    "post",
    "radio",
    "reaction_added",
    "reaction_removed",
    "sign",
    "slash_command",
    "static_select",
    "team_user",
    "timepicker",
    "url_verification",
    "users_select",
    "view_closed",
    "view_submission",
]

SIGNING_SECRET = "test-signing-secret"
VERIFICATION_TOKEN = "verification-token"  # deprecated by Slack but still sent in every payload
API_APP_ID = "A0PMBOT"
BOT_ID = "BBOT"
BOT_USER_ID = "UBOT"
DEFAULT_TEAM = "T0TEAM"
# Default response_url of message actions when a test passes none: refused at once on loopback,
# so a stray respond() can never reach hooks.slack.com. Pass FakeSlack.response_url() to capture.
UNROUTABLE_RESPONSE_URL = "http://127.0.0.1:9"

Headers = dict[str, str]
Request = tuple[str, Headers]

_seq = itertools.count(1)


def _unique() -> int:
    return next(_seq)


def _now_ts() -> str:
    """A Slack-style "seconds.micros" timestamp that never repeats within a run."""
    return f"{int(time.time())}.{_unique():06d}"


def _trigger_id() -> str:
    return f"{int(time.time())}.{_unique()}.{hashlib.sha1(str(_unique()).encode()).hexdigest()[:32]}"


def _domain(team_id: str) -> str:
    return team_id.lower()


# ---------------------------------------------------------------------------- signing


def sign(body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> Headers:
    """Headers Slack sends with ``body``: timestamp, v0 signature and the body's Content-Type.

    The signature is ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` under the signing
    secret. A JSON body (events) is ``application/json``, anything else is a form.
    """
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    content_type = "application/json" if body.lstrip().startswith("{") else "application/x-www-form-urlencoded"
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
    }


def _interaction(payload: Mapping[str, Any]) -> Request:
    body = urlencode({"payload": json.dumps(payload)})
    return body, sign(body)


def _json_request(payload: Mapping[str, Any]) -> Request:
    body = json.dumps(payload)
    return body, sign(body)


# ---------------------------------------------------------------------------- users


@dataclass
class SlackUser:
    """Who performs the action. ``name`` defaults to the lower-cased id."""

    id: str
    team_id: str = DEFAULT_TEAM
    name: str = ""
    enterprise_id: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            self.name = self.id.lower()

    def as_payload_user(self) -> dict[str, Any]:
        """The ``user`` object of interaction payloads."""
        return {"id": self.id, "username": self.name, "name": self.name, "team_id": self.team_id}


def team_user(id: str, name: str = "") -> SlackUser:
    """A member of the workspace the bot is installed in."""
    return SlackUser(id=id, team_id=DEFAULT_TEAM, name=name)


def external_user(id: str, team_id: str = "T0EXT", name: str = "", enterprise_id: str | None = None) -> SlackUser:
    """A Slack Connect user from another organisation, seen in a shared channel."""
    return SlackUser(id=id, team_id=team_id, name=name, enterprise_id=enterprise_id)


def _team(team_id: str, enterprise_id: str | None) -> dict[str, Any]:
    team: dict[str, Any] = {"id": team_id, "domain": _domain(team_id)}
    if enterprise_id:
        team["enterprise_id"] = enterprise_id
        team["enterprise_name"] = f"Org {enterprise_id}"
    return team


def _enterprise(enterprise_id: str | None) -> dict[str, Any] | None:
    return {"id": enterprise_id, "name": f"Org {enterprise_id}"} if enterprise_id else None


# ---------------------------------------------------------------------------- slash commands


def slash_command(
    command: str,
    text: str = "",
    *,
    user: SlackUser,
    channel_id: str = "C0CLIENT",
    channel_name: str = "client-acme",
    team_id: str = DEFAULT_TEAM,
    response_url: str,
    trigger_id: str | None = None,
    enterprise_id: str | None = None,
) -> Request:
    """A slash command invocation, form-encoded in Slack's field order.

    ``team_id`` is the workspace where the command runs, even for a Slack Connect user of another
    organisation: the payload carries no user team, so the bot has to ask ``users.info``.
    """
    fields: list[tuple[str, str]] = [
        ("token", VERIFICATION_TOKEN),
        ("team_id", team_id),
        ("team_domain", _domain(team_id)),
    ]
    if enterprise_id:
        fields += [("enterprise_id", enterprise_id), ("enterprise_name", f"Org {enterprise_id}")]
    fields += [
        ("channel_id", channel_id),
        ("channel_name", channel_name),
        ("user_id", user.id),
        ("user_name", user.name),
        ("command", command),
        ("text", text),
        ("api_app_id", API_APP_ID),
        ("is_enterprise_install", "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id or _trigger_id()),
    ]
    body = urlencode(fields)
    return body, sign(body)


# ---------------------------------------------------------------------------- element states


def option(value: str, text: str | None = None) -> dict[str, Any]:
    """An option object as Slack echoes it back (static selects, radios, checkboxes)."""
    return {"text": {"type": "plain_text", "text": text or value, "emoji": True}, "value": value}


def _options(values: Iterable[str | tuple[str, str]]) -> list[dict[str, Any]]:
    return [option(v) if isinstance(v, str) else option(v[0], v[1]) for v in values]


def plain_text(value: str | None) -> dict[str, Any]:
    """plain_text_input state; Slack sends ``null`` for an empty optional input."""
    return {"type": "plain_text_input", "value": value}


def static_select(value: str | None, text: str | None = None) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": option(value, text) if value is not None else None}


def multi_static_select(values: Iterable[str | tuple[str, str]]) -> dict[str, Any]:
    """``values`` are option values or (value, text) pairs."""
    return {"type": "multi_static_select", "selected_options": _options(values)}


def multi_users(ids: Iterable[str]) -> dict[str, Any]:
    return {"type": "multi_users_select", "selected_users": list(ids)}


def users_select(id: str | None) -> dict[str, Any]:
    return {"type": "users_select", "selected_user": id}


def conversations_select(id: str | None) -> dict[str, Any]:
    return {"type": "conversations_select", "selected_conversation": id}


def channels_select(id: str | None) -> dict[str, Any]:
    return {"type": "channels_select", "selected_channel": id}


def datepicker(iso: str | None) -> dict[str, Any]:
    """``iso`` is ``YYYY-MM-DD``."""
    return {"type": "datepicker", "selected_date": iso}


def timepicker(hhmm: str | None) -> dict[str, Any]:
    """``hhmm`` is ``HH:MM`` (24 h)."""
    return {"type": "timepicker", "selected_time": hhmm}


def checkboxes(values: Iterable[str | tuple[str, str]]) -> dict[str, Any]:
    return {"type": "checkboxes", "selected_options": _options(values)}


def radio(value: str | None, text: str | None = None) -> dict[str, Any]:
    return {"type": "radio_buttons", "selected_option": option(value, text) if value is not None else None}


def number(value: float | str | None) -> dict[str, Any]:
    """number_input state: Slack sends the number as a *string*."""
    return {"type": "number_input", "value": None if value is None else str(value)}


# ---------------------------------------------------------------------------- views

# Where each input element keeps its initial value, and where Slack puts it on submission.
_INITIAL_TO_STATE = {
    "initial_value": "value", "initial_option": "selected_option", "initial_options": "selected_options",
    "initial_user": "selected_user", "initial_users": "selected_users",
    "initial_conversation": "selected_conversation", "initial_conversations": "selected_conversations",
    "initial_channel": "selected_channel", "initial_channels": "selected_channels",
    "initial_date": "selected_date", "initial_time": "selected_time",
}
# What Slack sends for an input left empty, by element type.
_EMPTY_STATE = {
    "static_select": "selected_option", "external_select": "selected_option", "radio_buttons": "selected_option",
    "multi_static_select": "selected_options", "multi_external_select": "selected_options",
    "checkboxes": "selected_options", "users_select": "selected_user", "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation", "channels_select": "selected_channel",
    "datepicker": "selected_date", "timepicker": "selected_time",
}


def as_shown(view: Mapping[str, Any], changes: Mapping[str, Mapping[str, Any]] | None = None
             ) -> dict[str, dict[str, Any]]:
    """``state.values`` of a modal submitted as the bot drew it (every input at its initial
    value), with ``changes`` (block_id -> element state) typed over it."""
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") if block.get("type") == "input" else None
        if not isinstance(element, dict) or not block.get("block_id"):
            continue
        kind = element.get("type", "plain_text_input")
        state: dict[str, Any] = {"type": kind}
        field = _EMPTY_STATE.get(kind, "value")
        state[field] = [] if field in ("selected_options", "selected_users") else None
        for initial, shown in _INITIAL_TO_STATE.items():
            if initial in element:
                state[shown] = element[initial]
        values[block["block_id"]] = {element.get("action_id", "value"): state}
    for block_id, state in (changes or {}).items():
        action_id = next(iter(values.get(block_id, {})), "value")
        values[block_id] = {action_id: dict(state)}
    return values



def _view(
    *,
    view_id: str,
    callback_id: str,
    private_metadata: str,
    values: Mapping[str, Mapping[str, Any]],
    hash: str,
    team_id: str,
    installed_team_id: str | None,
    view_type: str = "modal",
    blocks: list[dict[str, Any]] | None = None,
    title: str = "PM Bot",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": view_id,
        "team_id": team_id,
        "type": view_type,
        "blocks": blocks or [],
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": {k: dict(v) for k, v in values.items()}},
        "hash": hash,
        "title": {"type": "plain_text", "text": title, "emoji": True},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
        "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": API_APP_ID,
        "external_id": "",
        "app_installed_team_id": installed_team_id or team_id,
        "bot_id": BOT_ID,
    }
    if isinstance(extra, Mapping) and isinstance(extra.get("title"), str):
        extra = {**extra, "title": {"type": "plain_text", "text": extra["title"], "emoji": True}}
    if view_type == "home":
        for key in ("close", "submit"):
            view[key] = None
    if extra:
        view.update(extra)
    return view


def _response_urls(response_urls: Iterable[str | Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Strings become Slack's entry shape, for a modal with a ``response_url_enabled`` input."""
    out = []
    for entry in response_urls or []:
        if isinstance(entry, str):
            out.append({"block_id": "rb", "action_id": "ra", "channel_id": "C0CLIENT", "response_url": entry})
        else:
            out.append(dict(entry))
    return out


def view_submission(
    callback_id: str,
    values: Mapping[str, Mapping[str, Any]],
    *,
    user: SlackUser,
    team_id: str = DEFAULT_TEAM,
    private_metadata: str = "",
    view_id: str | None = None,
    hash: str = "h",
    response_urls: Iterable[str | Mapping[str, Any]] | None = None,
    enterprise_id: str | None = None,
    installed_team_id: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    trigger_id: str | None = None,
) -> Request:
    """A modal submitted. ``values`` is ``state.values``: block_id -> action_id -> element state
    (build those with :func:`plain_text`, :func:`static_select`, ...).

    ``installed_team_id`` sets ``view.app_installed_team_id`` (defaults to ``team_id``); for a
    Slack Connect user Slack puts the user's workspace in ``team`` and the app's in that field.
    """
    payload = {
        "type": "view_submission",
        "team": _team(team_id, enterprise_id),
        "user": user.as_payload_user(),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or _trigger_id(),
        "view": _view(
            view_id=view_id or f"V{_unique():08d}",  # each opened modal has its own id
            callback_id=callback_id,
            private_metadata=private_metadata,
            values=values,
            hash=hash,
            team_id=team_id,
            installed_team_id=installed_team_id,
            blocks=blocks,
        ),
        "response_urls": _response_urls(response_urls),
        "is_enterprise_install": False,
        "enterprise": _enterprise(enterprise_id),
    }
    return _interaction(payload)


def view_closed(
    callback_id: str,
    *,
    user: SlackUser,
    team_id: str = DEFAULT_TEAM,
    private_metadata: str = "",
    view_id: str | None = None,
    hash: str = "h",
    values: Mapping[str, Mapping[str, Any]] | None = None,
    is_cleared: bool = False,
    enterprise_id: str | None = None,
    installed_team_id: str | None = None,
) -> Request:
    """A modal closed with Cancel/X (only sent for views opened with ``notify_on_close``).

    Unlike view_submission it has no ``trigger_id`` and no ``response_urls``.
    """
    view = _view(
        view_id=view_id or f"V{_unique():08d}",
        callback_id=callback_id,
        private_metadata=private_metadata,
        values=values or {},
        hash=hash,
        team_id=team_id,
        installed_team_id=installed_team_id,
        extra={"notify_on_close": True},
    )
    payload = {
        "type": "view_closed",
        "team": _team(team_id, enterprise_id),
        "user": user.as_payload_user(),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "view": view,
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": _enterprise(enterprise_id),
    }
    return _interaction(payload)


# ---------------------------------------------------------------------------- block actions

# Where each element type puts its value in a block_actions action (Slack's field names).
_ACTION_VALUE_FIELD = {
    "button": "value",
    "plain_text_input": "value",
    "number_input": "value",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "overflow": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
}


def _action(
    action_type: str,
    action_id: str,
    block_id: str,
    value: Any,
    selected_option: str | Mapping[str, Any] | None,
    text: str | None,
) -> dict[str, Any]:
    action: dict[str, Any] = {"action_id": action_id, "block_id": block_id, "type": action_type}
    field = _ACTION_VALUE_FIELD.get(action_type, "value")
    if field == "selected_option":
        chosen = selected_option if selected_option is not None else value
        if isinstance(chosen, str):
            action[field] = option(chosen)
        elif chosen is not None:
            action[field] = dict(chosen)
        else:
            action[field] = None  # deselected
    elif field == "selected_options":
        action[field] = _options(value or [])
    elif field == "value":
        if value is not None:  # a button without a value has no "value" key at all
            action[field] = value if action_type == "button" else str(value)
    else:
        action[field] = value
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": text or "Button", "emoji": True}
    action["action_ts"] = _now_ts()
    return action


def block_actions(
    action_id: str,
    value: Any = None,
    *,
    user: SlackUser,
    channel_id: str = "C0CLIENT",
    team_id: str = DEFAULT_TEAM,
    message_ts: str | None = None,
    message: Mapping[str, Any] | None = None,
    block_id: str = "b",
    action_type: str = "button",
    selected_option: str | Mapping[str, Any] | None = None,
    view: Mapping[str, Any] | None = None,
    response_url: str | None = None,
    trigger_id: str | None = None,
    container: Mapping[str, Any] | None = None,
    channel_name: str = "client-acme",
    text: str | None = None,
    is_ephemeral: bool = False,
    enterprise_id: str | None = None,
    installed_team_id: str | None = None,
) -> Request:
    """A Block Kit element used, in a message (default) or in a modal / Home tab (``view``).

    ``value`` is the element's natural value, placed where Slack puts it for ``action_type``: a
    button's ``value``, a users_select's ``selected_user``, a datepicker's ``selected_date``, a
    multi-select's list, ... For static_select / radio_buttons / overflow pass ``selected_option``
    (an option value or a full option object).

    Message actions carry ``channel``, ``message`` (unless ephemeral: Slack does not send it) and
    ``response_url``; view actions carry the full ``view`` (with its ``state``) and neither.
    ``view`` may be partial (e.g. ``{"id": "V1", "callback_id": "x", "state": {...}}``).
    """
    action = _action(action_type, action_id, block_id, value, selected_option, text)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": user.as_payload_user(),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": None,
        "trigger_id": trigger_id or _trigger_id(),
        "team": _team(team_id, enterprise_id),
        "enterprise": _enterprise(enterprise_id),
        "is_enterprise_install": False,
    }
    if view is not None:
        full = _view(
            view_id=str(view.get("id", "V0VIEW")),
            callback_id=str(view.get("callback_id", "")),
            private_metadata=str(view.get("private_metadata", "")),
            values=(view.get("state") or {}).get("values", {}),
            hash=str(view.get("hash", "h")),
            team_id=team_id,
            installed_team_id=installed_team_id,
            view_type=str(view.get("type", "modal")),
            blocks=view.get("blocks"),
            extra={k: v for k, v in view.items() if k != "state"},
        )
        payload["container"] = dict(container or {"type": "view", "view_id": full["id"]})
        payload["view"] = full
        if response_url is not None:
            payload["response_url"] = response_url
    else:
        ts = message_ts or (message or {}).get("ts") or _now_ts()
        payload["container"] = dict(
            container or {"type": "message", "message_ts": ts, "channel_id": channel_id, "is_ephemeral": is_ephemeral}
        )
        payload["channel"] = {"id": channel_id, "name": channel_name}
        if not is_ephemeral:
            shown = {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "app_id": API_APP_ID,
                "team": team_id,
                "text": "",
                "blocks": [],
                **(message or {}),
            }
            shown["ts"] = ts
            payload["message"] = shown
        payload["state"] = {"values": {}}
        payload["response_url"] = response_url or f"{UNROUTABLE_RESPONSE_URL}/actions/{team_id}/{_unique()}"
    payload["actions"] = [action]
    return _interaction(payload)


# ---------------------------------------------------------------------------- options, shortcuts, legacy


def block_suggestion(
    action_id: str,
    value: str = "",
    *,
    user: SlackUser,
    team_id: str = DEFAULT_TEAM,
    block_id: str = "b",
    view: Mapping[str, Any] | None = None,
    enterprise_id: str | None = None,
) -> Request:
    """An external_select asks for its options (typed ``value``), from a modal (default) or a
    message. Slack sends the whole view (with its state) when the select is in one."""
    payload: dict[str, Any] = {
        "type": "block_suggestion",
        "user": user.as_payload_user(),
        "container": {"type": "view", "view_id": "V0VIEW"},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": _team(team_id, enterprise_id),
        "enterprise": _enterprise(enterprise_id),
        "is_enterprise_install": False,
    }
    payload["view"] = _view(view_id="V0VIEW", callback_id=str((view or {}).get("callback_id", "")),
                            private_metadata=str((view or {}).get("private_metadata", "")), values={}, hash="h",
                            team_id=team_id, installed_team_id=None, blocks=(view or {}).get("blocks"))
    return _interaction(payload)


def global_shortcut(callback_id: str, *, user: SlackUser, team_id: str = DEFAULT_TEAM,
                    enterprise_id: str | None = None, trigger_id: str | None = None) -> Request:
    """A global shortcut (from the composer or the search bar): no channel, no message."""
    payload = {
        "type": "shortcut",
        "token": VERIFICATION_TOKEN,
        "action_ts": _now_ts(),
        "team": _team(team_id, enterprise_id),
        "user": user.as_payload_user(),
        "is_enterprise_install": False,
        "enterprise": _enterprise(enterprise_id),
        "callback_id": callback_id,
        "trigger_id": trigger_id or _trigger_id(),
    }
    return _interaction(payload)


def message_shortcut(callback_id: str, *, user: SlackUser, channel_id: str = "C0CLIENT",
                     team_id: str = DEFAULT_TEAM, message_text: str = "Hello", message_user: str = "U0CLIENT",
                     response_url: str | None = None, trigger_id: str | None = None,
                     message_ts: str | None = None, message_team: str | None = None,
                     message: Mapping[str, Any] | None = None, channel_name: str = "client-acme") -> Request:
    """A message shortcut (``message_action``) used on someone's message. ``message`` replaces the
    message Slack shows the app (a bot's message has ``bot_id``/``subtype``, a file share
    ``files``, a reply ``thread_ts``); ``message_team`` is its author's workspace (Slack Connect)."""
    ts = message_ts or _now_ts()
    shown: dict[str, Any] = {"type": "message", "user": message_user, "text": message_text, "ts": ts,
                             "team": message_team or team_id}
    if message is not None:
        shown = {"type": "message", "ts": ts, **dict(message)}
    payload = {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": _now_ts(),
        "team": _team(team_id, None),
        "user": user.as_payload_user(),
        "channel": {"id": channel_id, "name": channel_name},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or _trigger_id(),
        "response_url": response_url or f"{UNROUTABLE_RESPONSE_URL}/app/{team_id}/{_unique()}",
        "message_ts": shown["ts"],
        "message": shown,
    }
    return _interaction(payload)


def interactive_message(callback_id: str, value: str = "x", *, user: SlackUser, channel_id: str = "C0CLIENT",
                        team_id: str = DEFAULT_TEAM, response_url: str | None = None) -> Request:
    """A button of a legacy message attachment (``interactive_message``): actions have a name,
    no action_id."""
    payload = {
        "type": "interactive_message",
        "actions": [{"name": "choice", "type": "button", "value": value}],
        "callback_id": callback_id,
        "team": {"id": team_id, "domain": _domain(team_id)},
        "channel": {"id": channel_id, "name": "client-acme"},
        "user": {"id": user.id, "name": user.name},
        "action_ts": _now_ts(),
        "message_ts": _now_ts(),
        "attachment_id": "1",
        "token": VERIFICATION_TOKEN,
        "is_app_unfurl": False,
        "original_message": {"type": "message", "text": "Pick one", "ts": _now_ts()},
        "response_url": response_url or f"{UNROUTABLE_RESPONSE_URL}/actions/{team_id}/{_unique()}",
        "trigger_id": _trigger_id(),
    }
    return _interaction(payload)


# ---------------------------------------------------------------------------- events


def event_callback(
    event: Mapping[str, Any],
    *,
    team_id: str = DEFAULT_TEAM,
    event_id: str | None = None,
    enterprise_id: str | None = None,
    bot_user_id: str = BOT_USER_ID,
    is_ext_shared_channel: bool = False,
) -> Request:
    """An Events API delivery wrapping ``event``.

    ``authorizations`` names the installation the event is delivered for (Bolt reads team and
    bot user from it, and ignores the bot's own events by comparing ``event.user`` with its
    ``user_id``).
    """
    inner = dict(event)
    inner.setdefault("event_ts", _now_ts())
    payload: dict[str, Any] = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": enterprise_id,
        "api_app_id": API_APP_ID,
        "event": inner,
        "type": "event_callback",
        "event_id": event_id or f"Ev{_unique():08d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": enterprise_id,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": is_ext_shared_channel,
    }
    if enterprise_id:
        payload["enterprise_id"] = enterprise_id
    return _json_request(payload)


def app_home_opened(
    user: SlackUser,
    team_id: str = DEFAULT_TEAM,
    *,
    tab: str = "home",
    view: Mapping[str, Any] | None = None,
) -> Request:
    """The user opened the app's Home (``tab="home"``) or Messages tab. Slack includes ``view``
    only once a Home view has been published for this user."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user.id,
        "channel": "D" + user.id,
        "tab": tab,
        "event_ts": _now_ts(),
    }
    if view is not None:
        event["view"] = dict(view)
    return event_callback(event, team_id=team_id)


def message_event(
    text: str,
    *,
    user: SlackUser,
    channel: str = "C0CLIENT",
    team_id: str = DEFAULT_TEAM,
    ts: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    is_ext_shared_channel: bool = False,
) -> Request:
    """A ``message`` event from a person. ``event.team`` / ``user_team`` are the author's team."""
    stamp = ts or _now_ts()
    event: dict[str, Any] = {
        "type": "message",
        "user": user.id,
        "text": text,
        "ts": stamp,
        "team": user.team_id,
        "user_team": user.team_id,
        "source_team": user.team_id,
        "channel": channel,
        "event_ts": stamp,
        "channel_type": channel_type,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event_callback(event, team_id=team_id, is_ext_shared_channel=is_ext_shared_channel)


def reaction_added(reaction: str, *, user: SlackUser, channel: str = "C0CLIENT", item_user: str = BOT_USER_ID,
                   team_id: str = DEFAULT_TEAM, ts: str | None = None, event_id: str | None = None) -> Request:
    """Someone reacted to a message (``item`` names the message, ``item_user`` its author; ``ts``
    the message's ts). Slack sends no trigger_id with it."""
    event = {"type": "reaction_added", "user": user.id, "reaction": reaction, "item_user": item_user,
             "item": {"type": "message", "channel": channel, "ts": ts or _now_ts()}, "event_ts": _now_ts()}
    return event_callback(event, team_id=team_id, event_id=event_id)


def reaction_removed(reaction: str, *, user: SlackUser, channel: str = "C0CLIENT", item_user: str = BOT_USER_ID,
                     team_id: str = DEFAULT_TEAM, ts: str | None = None) -> Request:
    """Someone took their reaction back (the app is not subscribed to it: acknowledged, nothing more)."""
    event = {"type": "reaction_removed", "user": user.id, "reaction": reaction, "item_user": item_user,
             "item": {"type": "message", "channel": channel, "ts": ts or _now_ts()}, "event_ts": _now_ts()}
    return event_callback(event, team_id=team_id)


def member_joined_channel(user: SlackUser, *, channel: str = "C0CLIENT", inviter: str | None = None,
                          team_id: str = DEFAULT_TEAM) -> Request:
    """Someone joined a channel the bot is in (``team`` is the member's own workspace)."""
    event: dict[str, Any] = {"type": "member_joined_channel", "user": user.id, "channel": channel,
                             "channel_type": "C", "team": user.team_id, "event_ts": _now_ts()}
    if inviter:
        event["inviter"] = inviter
    return event_callback(event, team_id=team_id)


def url_verification(challenge: str) -> Request:
    """The handshake Slack sends when the Request URL is saved; the app echoes ``challenge``."""
    return _json_request({"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"})


# ---------------------------------------------------------------------------- transport


def post(base_url: str, body: str, headers: Mapping[str, str], timeout: float = 10) -> httpx.Response:
    """POST a built request to the bot's ``<base_url>/slack/events``."""
    return httpx.post(
        base_url.rstrip("/") + "/slack/events", content=body.encode(), headers=dict(headers), timeout=timeout
    )
