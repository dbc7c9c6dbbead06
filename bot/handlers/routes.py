"""One Bolt listener per kind of request, and a table of our listeners behind it.

Each handler module names its listeners in a `ROUTES` table (commands by name, buttons by
action_id — or by the prefix before ":" for ids that carry a value, like list pages —, forms
by callback_id, option menus by action_id, events by type). `register_handlers` registers ONE
Bolt listener per kind that looks the request up in the merged table: Bolt would otherwise try
some forty listeners in turn on every request, building each one's arguments (a quarter of a
quick capture's CPU time, bench/profile_request.py). A listener receives the arguments it names,
as with Bolt (ack, body, context, respond, view, …).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond, Say
from slack_sdk import WebClient

from bot.blocks.common import already_saved_view
from bot.flows import unit
from bot.i18n import normalise_language

log = logging.getLogger(__name__)

Listener = Callable[..., Any]


@dataclass(frozen=True)
class Routes:
    commands: dict[str, Listener] = field(default_factory=dict)
    actions: dict[str, Listener] = field(default_factory=dict)
    views: dict[str, Listener] = field(default_factory=dict)
    options: dict[str, Listener] = field(default_factory=dict)
    events: dict[str, Listener] = field(default_factory=dict)
    shortcuts: dict[str, Listener] = field(default_factory=dict)  # message and global shortcuts by callback_id

    def merged(self, other: Routes) -> Routes:
        out = Routes()
        for kind in ("commands", "actions", "views", "options", "events", "shortcuts"):
            mine, theirs = getattr(self, kind), getattr(other, kind)
            twice = mine.keys() & theirs.keys()
            if twice:
                raise ValueError(f"{kind} routed twice: {sorted(twice)}")
            getattr(out, kind).update({**mine, **theirs})
        return out


def action_route(action_id: str) -> str:
    """The table key of an action_id: itself, or what comes before ":" (`req_list_page:2:open`)."""
    return action_id.split(":", 1)[0]


@cache
def _wanted(fn: Listener) -> tuple[str, ...]:
    return tuple(inspect.signature(fn).parameters)


def _call(fn: Listener, available: dict[str, Any]) -> Any:
    return fn(**{name: available.get(name) for name in _wanted(fn)})


def _one_of(keys: Iterable[str], *, with_value: bool = False) -> re.Pattern[str]:
    """A pattern matching exactly these ids (and `id:…` with `with_value`): a request for an id
    nobody routes is left to Bolt, whose unhandled-request error handler acknowledges it."""
    alternatives = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)) or "(?!)"
    return re.compile(rf"^(?:{alternatives})" + (r"(?::.*)?$" if with_value else "$"), re.S)


def _dispatcher(table: dict[str, Listener], key_of: Callable[[dict[str, Any], Any], str], name: str) -> Listener:
    """The one Bolt listener of a kind: finds our listener by key and calls it with the
    arguments it names (`name` is what the kind's payload is called: command, action, view …)."""

    def dispatch(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond, say: Say,
                 client: WebClient, payload: dict[str, Any]) -> Any:
        key = key_of(body, payload)
        fn = table.get(key) or table[action_route(key)]
        arguments = {"ack": ack, "body": body, "context": context, "respond": respond, "say": say,
                     "client": client, "payload": payload, "logger": log, name: payload}
        with unit.answering():  # what a unit leaves for after the answer is sent on leaving
            if name != "view":
                return _call(fn, arguments)
            token = unit.submission.set((str(payload.get("id") or ""), key) if payload.get("id") else None)
            try:
                return _call(fn, arguments)
            except unit.AlreadySaved:
                log.info("modal %s (%s) was saved before: answered, nothing stored twice", payload.get("id"), key)
                ack(response_action="update", view=already_saved_view(_language(context, payload)))
                return None
            finally:
                unit.submission.reset(token)

    return dispatch


def _language(context: BoltContext, view: dict[str, Any]) -> str:
    """The language of the person who submitted (their Slack locale, when Bolt knows it)."""
    deps = context.get("deps")
    user = context.get("user_id")
    info = deps.users.info(deps.client, user) if deps is not None and user else None
    return normalise_language(getattr(info, "locale", None))


def register_routes(app: App, routes: Routes) -> None:
    app.command(_one_of(routes.commands))(
        _dispatcher(routes.commands, lambda body, _: str(body.get("command", "")), "command"))
    app.action({"type": "block_actions", "action_id": _one_of(routes.actions, with_value=True)})(
        _dispatcher(routes.actions, lambda _, action: str(action.get("action_id", "")), "action"))
    app.view(_one_of(routes.views))(
        _dispatcher(routes.views, lambda _, view: str(view.get("callback_id", "")), "view"))
    app.options(_one_of(routes.options))(
        _dispatcher(routes.options, lambda body, _: str(body.get("action_id", "")), "options"))
    if routes.shortcuts:
        app.shortcut(_one_of(routes.shortcuts))(
            _dispatcher(routes.shortcuts, lambda body, _: str(body.get("callback_id", "")), "shortcut"))
    for event_type, fn in routes.events.items():
        app.event(event_type)(fn)


def merge(tables: Iterable[Routes]) -> Routes:
    out = Routes()
    for table in tables:
        out = out.merged(table)
    return out
