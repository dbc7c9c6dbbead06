"""The HTTP face of the bot, served by uvicorn.

- `POST /slack/events` — Bolt (slash commands, interactivity, events).
- `GET /healthz`, `GET /readyz`, and `GET /metrics` when METRICS_ENABLED=true (`bot.health`).

Every Slack request passes `bot.slack.guard` first, and is logged as one line (request id,
team, user, command / action / view / event, status, latency) and its acknowledgement time
feeds the metrics (`SlackRequestLog`).
While `pmbot run` is still starting, `bot.health.StartingFront` answers the health paths and 503
for the rest, then hands everything to the app built by `create_web_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.app import deps_of
from bot.health import Health
from bot.logs import request_context
from bot.slack import guard
from bot.slack.acks import dispatch_here

log = logging.getLogger(__name__)
access_log = logging.getLogger("bot.access")

SLACK_PATH = "/slack/events"
PAYLOAD_KEY = "pmbot.payload"  # the ASGI scope's key for the payload the guard parsed
MAX_LOGGED_BODY = 1 << 20  # bodies larger than this are not parsed for the request line


def create_web_app(app: App, *, health: Health | None = None) -> ASGIApp:
    """Bolt's dispatch is synchronous, so it runs in a listener thread (`dispatch`) and never
    blocks the event loop that accepts the next request."""
    deps = deps_of(app)
    health = health or Health.of_running_app(deps.settings, deps.engine)
    settings = deps.settings
    signature = None if settings.socket_mode else guard.Signature(settings.signing_secret)

    async def slack_events(request: Request) -> Response:
        # The guard first: the size (413 before a byte too many is read), the signature (401),
        # then the payload's shape (400), all before Bolt parses anything (bot/slack/guard.py).
        body = await guard.read_body(request)
        if body is None:
            return JSONResponse({"error": "request_too_large"}, status_code=413)
        # The query from the scope: `request.url` would build the whole URL (host, scheme…) to get it.
        query = request.scope.get("query_string", b"").decode("latin-1")
        checked = guard.http_request(body, request.headers, query, signature)
        if isinstance(checked, guard.Refused):
            return JSONResponse({"error": checked.error}, status_code=checked.status)
        request.scope[PAYLOAD_KEY] = checked.body  # parsed once: the access line reads it too
        return to_starlette_response(await dispatch(app, checked))

    return SlackRequestLog(Starlette(routes=[
        Route(SLACK_PATH, slack_events, methods=["POST"]),
        *health.routes(),
    ]))


async def dispatch(app: App, request: BoltRequest) -> BoltResponse:
    """The answer to `request`, awaited until its listener calls ack() in one of Bolt's listener
    threads (`bot.slack.acks.dispatch_here`), which then goes on with the listener's work. Lines
    the listener logs carry this request's context (its id)."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[BoltResponse] = loop.create_future()

    def settle(response: BoltResponse) -> None:
        if not answered.done():
            answered.set_result(response)

    def answer(response: BoltResponse) -> None:  # called in the listener thread
        with contextlib.suppress(RuntimeError):  # the loop has closed (shutting down): nobody waits
            loop.call_soon_threadsafe(settle, response)

    context = contextvars.copy_context()
    app.listener_runner.listener_executor.submit(context.run, dispatch_here, app, request, answer)
    return await answered


# Request ids: a random prefix per process and a counter (a uuid4 per request cost a system call).
_ID_PREFIX = secrets.token_hex(4)
_ids = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ids) & 0xFFFFFFFF:08x}"


# One line per Slack request ------------------------------------------------------------------


def describe_payload(data: dict[str, Any]) -> dict[str, Any]:
    """What a Slack request is about: type, team, user, command / action / view / event. Never
    raises: a payload of a shape it does not know is described as `unparsed` (the access line
    must not fail the request it describes)."""
    try:
        return _describe(data)
    except (AttributeError, KeyError, IndexError, TypeError):
        return {"type": "unparsed"}


def _describe(data: dict[str, Any]) -> dict[str, Any]:
    if "command" in data:  # a slash command (form fields)
        out = {"type": "slash_command", "team": data.get("team_id"), "user": data.get("user_id"),
               "command": data.get("command")}
    elif isinstance(data.get("event"), dict):  # Events API
        event = data["event"]
        out = {"type": data.get("type"), "team": data.get("team_id"), "user": event.get("user"),
               "event": event.get("type")}
    else:  # interactivity: block_actions, view_submission, shortcut …
        actions = data.get("actions") or [{}]
        view = data.get("view") or {}
        out = {"type": data.get("type"), "team": _ref_id(data.get("team")), "user": _ref_id(data.get("user")),
               "action_id": actions[0].get("action_id") if isinstance(actions[0], dict) else None,
               "callback_id": view.get("callback_id") or data.get("callback_id")}
    return {k: v for k, v in out.items() if v}


def _ref_id(ref: Any) -> Any:
    """The id of a team, user… that Slack gives as an object with an id or as the id itself."""
    return ref.get("id") if isinstance(ref, dict) else ref if isinstance(ref, str) else None


def describe_slack_body(body: bytes) -> dict[str, Any]:
    """`describe_payload` of a raw request body (JSON events, a form, or a form's `payload`)."""
    try:
        text = body.decode("utf-8")
        if text.lstrip().startswith("{"):
            return describe_payload(json.loads(text))
        form = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
        return describe_payload(json.loads(form["payload"]) if "payload" in form else form)
    except (ValueError, AttributeError, KeyError, IndexError, TypeError, RecursionError):
        return {"type": "unparsed"}


class SlackRequestLog:
    """ASGI middleware for POST /slack/events: a request id for every line logged meanwhile,
    the acknowledgement latency (request in → response head out) into the metrics, and one
    access line when the answer went out. It copies the body as the app reads it (never reads
    it on its own, so a size guard in front of Bolt still decides how much is read)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != SLACK_PATH:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request_id = (headers.get("x-request-id") or new_request_id())[:64]
        chunks: list[bytes] = []
        size = 0
        acked: dict[str, Any] = {}

        async def tee() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                part = message.get("body", b"")
                size += len(part)
                if size <= MAX_LOGGED_BODY:
                    chunks.append(part)
            return message

        async def send_head(message: Message) -> None:
            if message["type"] == "http.response.start":
                acked["at"] = time.perf_counter()
                acked["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-request-id", request_id.encode("latin-1"))]}
            await send(message)

        with request_context(request_id=request_id):
            try:
                await self.app(scope, tee, send_head)
            finally:
                payload = scope.get(PAYLOAD_KEY)
                self._finish(started, acked, b"".join(chunks) if size <= MAX_LOGGED_BODY else b"",
                             payload if isinstance(payload, dict) else None)

    @staticmethod
    def _finish(started: float, acked: dict[str, Any], body: bytes, payload: dict[str, Any] | None = None) -> None:
        from bot import metrics

        about = describe_payload(payload) if payload is not None else describe_slack_body(body) if body else {}
        latency = acked.get("at", time.perf_counter()) - started
        status = acked.get("status", 500)
        if status == 200:
            metrics.observe_ack(str(about.get("type", "unknown")), latency)
        access_log.info("slack request", extra={**about, "status": status, "latency_ms": round(latency * 1000, 1)})
