"""The guard in front of Bolt's dispatch: only a signed payload of the shape Bolt reads gets in.

Bolt reads fields of a payload before any listener of ours runs: `body["view"]["type"]` while
it builds the arguments of the first middleware, `"id" in body["team"]` while it builds the
context, `body["actions"][0]["action_id"]` while it matches listeners. A signed payload without
one of them (or with a value of another type there) was an HTTP 500 with a traceback. The guard
checks, in this order, and answers the first failure itself:

1. the signature (HTTP only; Socket Mode has none)             → 401, as Bolt answers it;
2. the body is a JSON object: a form, a form with a JSON
   `payload` field, or JSON; nested at most `MAX_DEPTH` deep    → 400;
3. the fields Bolt reads for the payload's kind (`SHAPES`, and
   `COMMON` for the ids Bolt takes into the context) have
   Slack's types                                                → 400.

Every refusal is ONE log line at WARNING (no traceback, no payload: it may hold user text).
In Socket Mode a refused envelope is acknowledged (Slack would deliver it again otherwise) and
logged the same way; it never raises in the socket client's thread.

The guard checks what Bolt needs and the ids every payload of a kind carries (who clicked), not
what a listener makes of the rest: a modal whose `state` is garbage still reaches its listener,
which answers inline. A payload of a kind Slack may add later (an unknown `type`) passes; Bolt
routes nothing on it and the error handler acknowledges it (`bot/handlers/errors.py`).

It also hands Bolt the payload it parsed itself: Bolt takes any form body whose text contains
the word "payload" for an interaction and reads it as `{}`, so `/req Add payload limits` was
never routed (HTTP 404).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import BoltContext, BoltRequest
from slack_bolt.request.internals import build_context

from bot.slack.sanitize import clean

log = logging.getLogger(__name__)

MAX_DEPTH = 64  # Slack's deepest payloads (rich text in a message in a view) nest about 12 deep


@dataclass(frozen=True)
class Refused:
    """The answer to a request that does not reach Bolt."""

    status: int
    error: str


UNSIGNED = Refused(401, "invalid request")
MALFORMED = Refused(400, "malformed request")

_MISSING = object()


# What a field must hold ------------------------------------------------------------------------


def _is_text(v: Any) -> bool:
    return isinstance(v, str)


def _is_objects(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, dict) for x in v)


# name: (test, words for the log line)
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "id": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "text": (_is_text, "a string"),
    "text?": (lambda v: v is _MISSING or v is None or _is_text(v), "a string or null"),
    "object": (lambda v: isinstance(v, dict), "an object"),
    "object~": (lambda v: v is _MISSING or isinstance(v, dict), "an object (or absent)"),
    "object?": (lambda v: v is _MISSING or v is None or isinstance(v, dict), "an object or null"),
    "ref?": (lambda v: v is _MISSING or v is None or isinstance(v, str | dict), "an id, an object or null"),
    "objects": (lambda v: _is_objects(v) and bool(v), "a non-empty list of objects"),
    "objects~": (lambda v: v is _MISSING or _is_objects(v), "a list of objects (or absent)"),
    "objects?": (lambda v: v is _MISSING or v is None or _is_objects(v), "a list of objects or null"),
}

Shape = list[tuple[str, str]]

# The ids Bolt takes into the context from any payload, and from the objects it looks into
# for them (`event`, `event.item`, `message`, ... and the first authorization).
COMMON: Shape = [("enterprise", "ref?"), ("team", "ref?"), ("user", "ref?"), ("channel", "ref?"),
                 ("team.id", "text?"), ("enterprise_id", "text?"), ("team_id", "text?"),
                 ("authorizations", "objects?")]
NESTED = ("event", "item", "message", "previous_message", "assistant_thread")

# The top level only: what Bolt's built-in middleware and its context read.
TOP: Shape = [("event", "object~"), ("response_url", "text?"), ("response_urls", "objects~"),
              ("response_urls.*.response_url", "text?"), ("view", "object?"),
              ("view.app_installed_team_id", "text?")]

_INTERACTION: Shape = [("user.id", "id")]
_VIEW: Shape = [*_INTERACTION, ("view", "object"), ("view.callback_id", "text"), ("view.type", "id")]
_CALLBACK: Shape = [*_INTERACTION, ("callback_id", "text")]

# Per kind of payload: the fields Bolt reads to match a listener and build its arguments.
SHAPES: dict[str, Shape] = {
    # Slack sends every slash command with a response_url and a trigger_id; the handlers
    # answer through the one and open forms with the other.
    "command": [("command", "id"), ("user_id", "id"), ("text", "text?"), ("channel_id", "text?"),
                ("response_url", "text"), ("trigger_id", "text")],
    "ssl_check": [("token", "text")],
    # Slack sends a trigger_id with every click and shortcut; handlers open forms with it.
    "block_actions": [*_INTERACTION, ("trigger_id", "text"), ("actions", "objects"), ("actions.*.action_id", "id")],
    "view_submission": _VIEW,
    "view_closed": _VIEW,
    "block_suggestion": [*_INTERACTION, ("action_id", "id"), ("value", "text")],
    "shortcut": [*_CALLBACK, ("trigger_id", "text")],
    # A message shortcut comes with a response_url too: the capture answers through it.
    "message_action": [*_CALLBACK, ("trigger_id", "text"), ("response_url", "text")],
    "interactive_message": [*_CALLBACK, ("actions", "objects")],
    "dialog_submission": _CALLBACK,
    "dialog_cancellation": _CALLBACK,
    "dialog_suggestion": [*_CALLBACK, ("value", "text?")],
    "workflow_step_edit": [("callback_id", "text"), ("workflow_step", "object")],
    "event_callback": [("event", "object"), ("event.type", "id")],
    "url_verification": [("challenge", "id")],
    "app_rate_limited": [],
}
# Per event type, what Bolt (message events) or our listener (app_home_opened) reads.
EVENT_SHAPES: dict[str, Shape] = {
    "app_home_opened": [("event.user", "id")],
    "message": [("event.message", "object?"), ("event.previous_message", "object?")],
    "workflow_step_execute": [("event.workflow_step", "object~")],
}


# Reading a payload -------------------------------------------------------------------------------


def _values(node: Any, parts: list[str]) -> Iterator[Any]:
    """The values at a dotted path (`*` = every item of a list); _MISSING where there is none."""
    if not parts:
        yield node
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        for item in node if isinstance(node, list) else []:
            yield from _values(item, rest)
    elif isinstance(node, dict):
        yield from _values(node.get(head, _MISSING), rest)
    else:
        yield _MISSING


def _violation(payload: dict[str, Any], shape: Shape, prefix: str = "") -> str | None:
    for path, check in shape:
        test, words = CHECKS[check]
        for value in _values(payload, path.split(".")):
            if not test(value):
                found = "missing" if value is _MISSING else f"a {type(value).__name__}"
                return f"{prefix}{path} must be {words}, not {found}"
    return None


def _context_violation(node: dict[str, Any], prefix: str = "") -> str | None:
    """COMMON on the payload and on every object Bolt looks into for the context's ids."""
    found = _violation(node, COMMON, prefix)
    if found:
        return found
    children = [(key, node[key]) for key in NESTED if isinstance(node.get(key), dict)]
    authorizations = node.get("authorizations")
    if isinstance(authorizations, list) and authorizations:
        children.append(("authorizations.0", authorizations[0]))
    for key, child in children:
        found = _context_violation(child, f"{prefix}{key}.")
        if found:
            return found
    return None


def _too_deep(payload: Any) -> bool:
    stack = [(payload, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def kind_of(payload: dict[str, Any]) -> str:
    """What Bolt takes the payload for: a command (any body with `command`), an SSL check, or
    its `type` ('' when it has none or a `type` that is not text)."""
    if payload.get("ssl_check") == "1":
        return "ssl_check"
    if "command" in payload:
        return "command"
    kind = payload.get("type")
    return kind if isinstance(kind, str) else ""


def problem(payload: Any) -> str | None:
    """Why Bolt cannot take `payload` (a few words for the log line), or None when it can."""
    if not isinstance(payload, dict):
        return f"the body is a {type(payload).__name__}, not an object"
    if _too_deep(payload):
        return f"the body nests more than {MAX_DEPTH} deep"
    kind = kind_of(payload)
    if not kind:
        return "neither a command nor a payload with a type"
    shape = [*SHAPES.get(kind, []), *TOP]
    if kind == "event_callback":
        event = payload.get("event")
        event_type = event.get("type") if isinstance(event, dict) else None
        shape += EVENT_SHAPES.get(event_type, []) if isinstance(event_type, str) else []
    view = payload.get("view")
    if kind == "view_submission" and isinstance(view, dict) and view.get("type") == "workflow_step":
        shape.append(("workflow_step", "object"))  # Bolt's legacy workflow steps read it
    return _violation(payload, shape) or _context_violation(payload)


def parse(body: str, content_type: str | None) -> Any:
    """The payload in a request body, read as Slack sends it (raises ValueError otherwise), its
    text made storable (bot/slack/sanitize.py)."""
    if not body:
        return {}
    if content_type == "application/json" or body.startswith("{"):
        return _storable_json(body)
    fields = dict(parse_qsl(body, keep_blank_values=True))  # a repeated field: its last value
    if "payload" in fields:  # an interaction: one form field holding JSON
        return _storable_json(fields["payload"])
    # Percent-decoding replaced every byte that is not UTF-8: only a NUL (raw or %00) is left to take out.
    return clean(fields) if "\x00" in body or "%00" in body else fields


# In JSON text, a NUL or a lone surrogate can only come from a \u escape: a raw NUL is refused by
# the parser, and the body was read as strict UTF-8, which holds no surrogate.
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _storable_json(text: str) -> Any:
    """`text` parsed; walked for unstorable text only when an escape may have put some there (the
    walk over every string of a click's payload, its message included, was 4% of its CPU)."""
    payload = json.loads(text)
    return clean(payload) if _UNSTORABLE_ESCAPE.search(text) else payload


def _refuse(refusal: Refused, kind: str, why: str) -> Refused:
    log.warning("refused a Slack request%s: %s", f" ({kind!r})" if kind else "", why)
    return refusal


def _kind(payload: Any) -> str:
    return kind_of(payload) if isinstance(payload, dict) else ""


class Signature:
    """Slack's request signature: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}` under the signing
    secret, the timestamp at most five minutes off. Computed on the raw bytes, so a body that is
    not even UTF-8 is refused as unsigned or as malformed, never with an exception."""

    MAX_AGE = 300

    def __init__(self, secret: str | None) -> None:
        self.secret = (secret or "").encode()

    def valid(self, body: bytes, headers: Mapping[str, str]) -> bool:
        if not self.secret:  # no secret configured: nothing can be signed with it
            return False
        lowered = {k.lower(): v for k, v in headers.items()}
        stamp, signature = lowered.get("x-slack-request-timestamp"), lowered.get("x-slack-signature")
        if not stamp or not signature or not stamp.isascii() or not stamp.isdigit():
            return False
        if abs(time.time() - int(stamp)) > self.MAX_AGE:
            return False
        digest = hmac.new(self.secret, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"v0={digest}", signature)


# The two ways in --------------------------------------------------------------------------------


def http_request(body: bytes, headers: Mapping[str, str], query: str,
                 signature: Signature | None) -> BoltRequest | Refused:
    """The BoltRequest for a POST to /slack/events, or the answer that refuses it."""
    if signature is not None and not signature.valid(body, headers):
        return _refuse(UNSIGNED, "", "bad or missing signature")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    content_type = content_type.split(";")[0].strip() if content_type else None
    try:
        text = body.decode("utf-8")
        payload = parse(text, content_type)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        return _refuse(MALFORMED, "", f"the body does not parse ({type(err).__name__})")
    why = problem(payload)
    if why:
        return _refuse(MALFORMED, _kind(payload), why)
    try:
        # Bolt would parse the body again (and misread some, see above): it gets our payload.
        request = BoltRequest(body="", query=query, headers=dict(headers))
        request.raw_body = text
        request.body = payload
        request.context = build_context(BoltContext(), payload)
        return request
    except Exception as err:  # a shape the table above missed: still one line, still a 400
        return _refuse(MALFORMED, _kind(payload), f"Bolt cannot read it ({type(err).__name__})")


def socket_request(payload: Any, headers: dict[str, Any] | None = None) -> BoltRequest | Refused:
    """The BoltRequest for a Socket Mode envelope's payload, or why it is refused."""
    payload = clean(payload)  # parsed by slack_sdk: walked for unstorable text
    why = problem(payload)
    if why:
        return _refuse(MALFORMED, _kind(payload), why)
    try:
        return BoltRequest(mode="socket_mode", body=payload, headers=headers)
    except Exception as err:
        return _refuse(MALFORMED, _kind(payload), f"Bolt cannot read it ({type(err).__name__})")


def handle_socket_request(app: Any, client: Any, req: Any) -> None:
    """Serve one Socket Mode request: a refused envelope is acknowledged, never raised."""
    from time import time

    from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
    from slack_sdk.socket_mode.response import SocketModeResponse

    start = time()
    checked = socket_request(req.payload, build_headers(req))
    if isinstance(checked, Refused):
        client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        return
    send_response(client, req, app.dispatch(checked), start)


def socket_mode_handler(app: Any, app_token: str | None) -> Any:
    """Bolt's Socket Mode handler, with the guard in front of its dispatch."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    class GuardedSocketModeHandler(SocketModeHandler):
        def handle(self, client: Any, req: Any) -> None:  # type: ignore[override]
            handle_socket_request(self.app, client, req)

    return GuardedSocketModeHandler(app, app_token)


# Slack's own payloads are far smaller (a modal's state stays well under 100 kB).
MAX_BODY = 1_000_000


async def read_body(request: Any, limit: int = MAX_BODY) -> bytes | None:
    """The request body, read only while it stays within `limit` bytes; None past it (answer
    413). A declared Content-Length over the limit is refused before a byte is read, and a body
    without one is read chunk by chunk, so a 40 MB POST never sits in memory."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        log.warning("refused a request of %s bytes (limit %d)", declared[:20], limit)
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            log.warning("refused a request body past %d bytes", limit)
            return None
        chunks.append(chunk)
    return b"".join(chunks)
