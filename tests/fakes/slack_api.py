"""A fake Slack Web API server on loopback, for tests that run the real bot end to end.

The bot is pointed at it through ``SLACK_API_URL`` (``FakeSlack.url``); slack_sdk's ``WebClient``
then POSTs to ``<url><method>`` (a JSON body for some methods, a form for the others; GET with a
query string is understood too).
Every request is recorded as a :class:`Call`; the answers follow Slack's documented shapes
closely enough for slack_sdk, Bolt and the bot to behave as they would against Slack.

Only the standard library is used, so the fake starts in a few milliseconds and needs no network.

Deliberately lenient where a strict Slack would make tests noisy: any token is accepted (a
missing one still answers ``not_authed``), unknown channels look like ordinary public channels
the bot is a member of, an unknown ``view_id`` in ``views.update`` is accepted, and methods the fake
does not model answer ``{"ok": true}`` (they are recorded like any other call).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Call", "FakeSlack"]

# Fields Slack takes as JSON *strings* in form-encoded requests; decoded so tests can inspect them.
JSON_FIELDS = frozenset({"blocks", "attachments", "view", "metadata", "files"})

APP_ID = "A0PMBOT"
MAX_MESSAGE_BLOCKS = 50  # chat.postMessage / chat.update
MAX_VIEW_BLOCKS = 100  # modals and Home tabs
MAX_VIEW_TITLE = 24
MAX_PRIVATE_METADATA = 3000
FIRST_TS_MICROS = 1_700_000_000_000_000


@dataclass
class Call:
    """One request the fake received, in arrival order.

    ``method`` is the Web API method (``"chat.postMessage"``), ``"response_url"`` for a POST to a
    :meth:`FakeSlack.response_url`, or ``"upload"`` for the file bytes sent to an upload URL.
    ``headers`` keys are lower-cased. ``status`` is the HTTP status the fake answered and
    ``response`` the JSON it answered (``None`` for plain-text answers).
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    status: int = 200
    response: dict[str, Any] | None = None
    path: str = ""
    body: bytes = b""
    verb: str = "POST"
    #: True once the answer was written back (or the client hung up before it could be).
    answered: bool = field(default=False, compare=False)

    @property
    def token(self) -> str | None:
        """The token the client sent (Authorization header first, then a ``token`` param)."""
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip() or None
        token = self.params.get("token")
        return token if isinstance(token, str) and token else None

    @property
    def ok(self) -> bool:
        return self.status == 200 and (self.response is None or bool(self.response.get("ok")))


@dataclass
class _Rule:
    """A pending fault or delay for one method, consumed one call at a time."""

    times: int
    status: int = 200
    retry_after: int = 0
    error: str | None = None
    seconds: float = 0.0


@dataclass
class _User:
    id: str
    team_id: str
    name: str
    real_name: str
    is_restricted: bool
    is_ultra_restricted: bool
    is_bot: bool
    enterprise_id: str | None
    tz: str
    locale: str
    deleted: bool
    email: str | None


@dataclass
class _Channel:
    id: str
    name: str
    is_ext_shared: bool = False
    is_private: bool = False
    is_member: bool = True
    members: list[str] | None = None


@dataclass
class _Pending:
    """A file between files.getUploadURLExternal and files.completeUploadExternal."""

    file_id: str
    filename: str | None
    length: int | None
    data: bytes | None = None
    title: str | None = None
    completed: bool = False


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str
    json_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _json_answer(payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> _Answer:
    return _Answer(
        status=status,
        body=json.dumps(payload).encode(),
        content_type="application/json; charset=utf-8",
        json_body=payload,
        headers=headers or {},
    )


def _text_answer(text: str, status: int = 200) -> _Answer:
    return _Answer(status=status, body=text.encode(), content_type="text/plain; charset=utf-8")


def _err(error: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": error, **extra}


def _messages(*messages: str) -> dict[str, Any]:
    return {"messages": list(messages)}


def _invalid(*messages: str) -> dict[str, Any]:
    """Slack's answer to a malformed argument: the reasons are in response_metadata.messages."""
    return _err("invalid_arguments", response_metadata=_messages(*messages))


def _too_long(limit: int, unit: str, pointer: str) -> str:
    return f"[ERROR] must be less than {limit + 1} {unit} [json-pointer:{pointer}]"


def _truthy(value: Any) -> bool:
    """slack_sdk sends booleans as "1"/"0" in forms and as true/false in JSON."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _ts_key(ts: Any) -> Decimal | None:
    try:
        return Decimal(str(ts))
    except (InvalidOperation, ValueError):
        return None


def _split_ids(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return []


def _decode_json_fields(params: dict[str, Any]) -> dict[str, Any]:
    for key in JSON_FIELDS & params.keys():
        value = params[key]
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            # A malformed value is left as sent; the method handler may reject it.
            with contextlib.suppress(json.JSONDecodeError):
                params[key] = json.loads(value)
    return params


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if ctype == "application/json":
        loaded = json.loads(body.decode("utf-8"))
        return loaded if isinstance(loaded, dict) else {"_json": loaded}
    if ctype == "multipart/form-data":
        # files.upload (v1) and friends: text parts become str, file parts bytes.
        msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        out: dict[str, Any] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True) or b""
            out[name] = payload if part.get_filename() else payload.decode("utf-8", "replace")
        return out
    if ctype in ("application/x-www-form-urlencoded", ""):
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return {"_raw": body}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a burst of new connections (the Web API client opens
    # one per call) overflowed it and the kernel dropped SYNs, each retried after 1 s
    # (bench/ack_latency.py's 1-3 s click tails, issue 13). Slack's own edge drops none.
    request_queue_size = 128
    fake: FakeSlack


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Slack; every answer sets Content-Length
    # The head and the body leave in two writes: without this, the body waited for the
    # client's delayed ACK of the head (40 ms) on a reused connection.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake.connections += 1

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer, call = self.server.fake._serve(self.command, self.path, headers, body)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(answer.body)
            self.wfile.flush()
        finally:
            self.server.fake._answered(call)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output quiet


class FakeSlack:
    """A Slack Web API look-alike served on ``127.0.0.1:<free port>`` from a daemon thread.

    Use as a context manager (``with FakeSlack() as slack: ...``) or call :meth:`start` /
    :meth:`stop`. All public methods are thread-safe; the bot's threads and the test thread can
    use the fake at the same time.
    """

    def __init__(
        self,
        team_id: str = "T0TEAM",
        enterprise_id: str | None = None,
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
    ) -> None:
        self.team_id = team_id
        self.enterprise_id = enterprise_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_domain = team_id.lower()

        self.calls: list[Call] = []
        self.uploads: dict[str, bytes] = {}
        #: Modals opened/pushed/updated, by view id (latest state of each).
        self.views: dict[str, dict[str, Any]] = {}
        #: The Home tab last published for each user id.
        self.home_views: dict[str, dict[str, Any]] = {}
        #: files.completeUploadExternal requests, one dict per file shared.
        self.completed_uploads: list[dict[str, Any]] = []
        #: Exceptions raised inside the fake itself (answered HTTP 500); a test can assert none.
        self.errors: list[BaseException] = []
        #: TCP connections accepted so far (a keep-alive client reuses one for many calls).
        self.connections = 0
        #: What apps.connections.open answers as the Socket Mode WebSocket URL (tests.fakes.socket_mode).
        self.socket_mode_url: str | None = None

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._faults: dict[str, deque[_Rule]] = {}
        self._delays: dict[str, deque[_Rule]] = {}
        self._users: dict[str, _User] = {}
        self._channels: dict[str, _Channel] = {}
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._pending: dict[str, _Pending] = {}
        self._last_micros = FIRST_TS_MICROS
        # Message ts follow this clock, as Slack's follow real time: the tests that run the bot
        # on a frozen clock point it at that clock (a crash recovery reads history from the
        # time a message was queued onwards, so the two must agree).
        self.ts_clock: Callable[[], float] = time.time
        self._id_counter = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        # A short poll interval keeps stop() (which waits for the serve loop) fast.
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeSlack", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The Web API base URL to give the bot as SLACK_API_URL (ends with ``/api/``)."""
        return self.base + "/api/"

    def response_url(self, name: str = "r1") -> str:
        """A response_url for payloads; POSTs to it are recorded as method ``"response_url"``."""
        return f"{self.base}/response/{name}"

    # ------------------------------------------------------------------ recorded calls

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until at least ``count`` calls to ``method`` were recorded and answered; return
        all recorded calls to it.

        The bot often answers Slack (ack) before it calls the Web API from a worker thread, so
        tests wait for the call rather than sleep. The wait ends once the fake's answer went out,
        not once the bot has acted on it: state the bot derives from the answer (a ts it stores,
        say) may land a moment later, so poll for that.
        """
        with self._changed:
            done = self._changed.wait_for(
                lambda: sum(c.method == method and c.answered for c in self.calls) >= count, timeout=timeout
            )
            calls = [c for c in self.calls if c.method == method]
            if not done:
                seen = ", ".join(f"{c.method}[{c.status}]" for c in self.calls) or "nothing"
                raise AssertionError(
                    f"expected {count} call(s) to {method} within {timeout}s, got {len(calls)}; recorded: {seen}"
                )
            return calls

    def reset(self) -> None:
        """Forget recorded calls (state such as users, channels and history is kept)."""
        with self._lock:
            self.calls.clear()

    # ------------------------------------------------------------------ fault injection

    def fail(
        self,
        method: str,
        status: int = 429,
        times: int = 1,
        retry_after: int = 0,
        error: str | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail.

        With ``error`` the answer is HTTP 200 ``{"ok": false, "error": error}`` (how Slack reports
        most failures); otherwise HTTP ``status``: 429 carries ``Retry-After: <retry_after>``,
        5xx answers ``{"ok": false, "error": "internal_error"}``.
        """
        with self._lock:
            rule = _Rule(times=times, status=status, retry_after=retry_after, error=error)
            self._faults.setdefault(method, deque()).append(rule)

    def clear_faults(self, method: str | None = None) -> None:
        """Forget the failures still queued (for `method`, or all): Slack is back."""
        with self._lock:
            if method is None:
                self._faults.clear()
            else:
                self._faults.pop(method, None)

    def delay(self, method: str, seconds: float, times: int = 1) -> None:
        """Sleep ``seconds`` before answering the next ``times`` calls to ``method``."""
        with self._lock:
            self._delays.setdefault(method, deque()).append(_Rule(times=times, seconds=seconds))

    # ------------------------------------------------------------------ registry set-up

    def add_user(
        self,
        user_id: str,
        *,
        team_id: str | None = None,
        name: str | None = None,
        real_name: str | None = None,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        is_bot: bool = False,
        enterprise_id: str | None = None,
        tz: str = "UTC",
        locale: str = "en-US",
        deleted: bool = False,
        email: str | None = None,
    ) -> None:
        """Register a user for users.info. ``team_id`` defaults to the fake's own team."""
        uname = name or user_id.lower()
        with self._lock:
            self._users[user_id] = _User(
                id=user_id,
                team_id=team_id or self.team_id,
                name=uname,
                real_name=real_name or uname,
                is_restricted=is_restricted or is_ultra_restricted,
                is_ultra_restricted=is_ultra_restricted,
                is_bot=is_bot,
                enterprise_id=enterprise_id,
                tz=tz,
                locale=locale,
                deleted=deleted,
                email=email,
            )

    def set_channel(
        self,
        channel_id: str,
        name: str | None = None,
        is_ext_shared: bool = False,
        *,
        is_private: bool = False,
        is_member: bool = True,
    ) -> None:
        """Describe a channel for conversations.info. ``is_member=False`` makes posts answer
        ``not_in_channel`` as Slack does when the bot was never invited."""
        with self._lock:
            ch = self._channel(channel_id)
            if name is not None:
                ch.name = name
            ch.is_ext_shared = is_ext_shared
            ch.is_private = is_private
            ch.is_member = is_member

    def set_members(self, channel_id: str, user_ids: Iterable[str]) -> None:
        """Set conversations.members; chat.postEphemeral to a non-member then answers
        ``user_not_in_channel``."""
        with self._lock:
            self._channel(channel_id).members = list(user_ids)

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        **extra: Any,
    ) -> str:
        """Seed channel history with a message from someone else (for conversations.history)."""
        with self._lock:
            message: dict[str, Any] = {"type": "message", "user": user, "text": text}
            message["ts"] = ts or self._next_ts()
            if blocks is not None:
                message["blocks"] = blocks
            if thread_ts is not None:
                message["thread_ts"] = thread_ts
            if metadata is not None:
                message["metadata"] = metadata
            message.update(extra)
            self._store(channel, message)
            return str(message["ts"])

    def delete_message(self, channel: str, ts: str) -> bool:
        """Someone deleted a message (conversations.history / replies and chat.getPermalink no
        longer find it). True when there was one."""
        with self._lock:
            found = self._find(self._resolve_channel(channel), ts)
            if found is None:
                return False
            self._history[self._resolve_channel(channel)].remove(found)
            return True

    # ------------------------------------------------------------------ inspection

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """The id of the bot's DM with ``user_id`` (what conversations.open answers)."""
        return "D" + user_id

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Stored messages of ``channel`` (user ids map to their DM), oldest first, replies included."""
        with self._lock:
            return [dict(m) for m in self._history.get(self._resolve_channel(channel), [])]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._find(self._resolve_channel(channel), ts)
            return dict(found) if found is not None else None

    def uploaded_files(self) -> list[tuple[str, bytes]]:
        """(filename, bytes) per file uploaded, in upload order; the title stands in for a missing
        filename."""
        with self._lock:
            out = []
            for file_id, data in self.uploads.items():
                pending = self._pending.get(file_id)
                label = (pending.filename or pending.title) if pending else None
                out.append((label or file_id, data))
            return out

    # ------------------------------------------------------------------ request handling

    def _serve(self, verb: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[_Answer, Call]:
        at = time.time()
        parts = urlsplit(raw_path)
        path = parts.path
        params: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            params.update(_parse_body(headers.get("content-type", ""), body))
        except (ValueError, UnicodeDecodeError):
            params["_raw"] = body
        _decode_json_fields(params)

        if path.startswith("/api/"):
            method = path[len("/api/") :]
        elif path.startswith("/response/"):
            method = "response_url"
            params["_name"] = path[len("/response/") :]
        elif path.startswith("/upload/"):
            method = "upload"
            params = {"file_id": path[len("/upload/") :], "length": len(body)}
        else:
            method = path.lstrip("/") or "/"

        with self._lock:
            delay = self._take(self._delays, method)
        if delay is not None and delay.seconds > 0:
            time.sleep(delay.seconds)

        with self._lock:
            fault = self._take(self._faults, method)
            if fault is not None:
                answer = self._fault_answer(method, fault)
            else:
                try:
                    answer = self._dispatch(method, path, params, headers, body)
                except Exception as exc:  # a bug in the fake must not hang the client
                    self.errors.append(exc)
                    answer = _json_answer(_err("fake_slack_crashed", detail=repr(exc)), status=500)
        call = Call(
            method=method,
            params=params,
            headers=headers,
            at=at,
            status=answer.status,
            response=answer.json_body,
            path=path,
            body=body,
            verb=verb,
        )
        # Recorded before the answer is written, so a synchronous client finds its call recorded
        # as soon as it returns; wait_for() additionally waits until the answer went out.
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        return answer, call

    def _answered(self, call: Call) -> None:
        with self._changed:
            call.answered = True
            self._changed.notify_all()

    @staticmethod
    def _take(rules: dict[str, deque[_Rule]], method: str) -> _Rule | None:
        queue = rules.get(method)
        if not queue:
            return None
        rule = queue[0]
        rule.times -= 1
        if rule.times <= 0:
            queue.popleft()
        return rule

    @staticmethod
    def _fault_answer(method: str, fault: _Rule) -> _Answer:
        if method in ("response_url", "upload"):
            return _text_answer(fault.error or "internal_error", status=404 if fault.error else fault.status)
        if fault.error is not None:
            return _json_answer(_err(fault.error))
        if fault.status == 429:
            return _json_answer(_err("ratelimited"), status=429, headers={"Retry-After": str(fault.retry_after)})
        if fault.status >= 500:
            return _json_answer(_err("internal_error"), status=fault.status)
        return _json_answer(_err("fatal_error"), status=fault.status)

    def _dispatch(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str], body: bytes
    ) -> _Answer:
        if method == "response_url":
            return _text_answer("ok")
        if method == "upload":
            file_id = params["file_id"]
            if file_id not in self._pending:
                return _text_answer("invalid_file_id", status=404)
            self._pending[file_id].data = body
            self.uploads[file_id] = body
            return _text_answer(f"OK - {len(body)}")
        if not path.startswith("/api/"):
            return _text_answer("not_found", status=404)
        has_token = headers.get("authorization", "").lower().startswith("bearer ") or params.get("token")
        if not has_token:
            return _json_answer(_err("not_authed"))
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return _json_answer({"ok": True})
        return _json_answer(handler(params))

    # ------------------------------------------------------------------ state helpers (lock held)

    def _next_ts(self) -> str:
        micros = max(self._last_micros + 100, int(self.ts_clock() * 1_000_000))
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._id_counter):08d}"

    def _resolve_channel(self, channel: str) -> str:
        # Posting to a user id posts to the app's DM with that user, as Slack does.
        if channel[:1] in ("U", "W"):
            return self.dm_channel(channel)
        return channel

    def _channel(self, channel_id: str) -> _Channel:
        ch = self._channels.get(channel_id)
        if ch is None:
            ch = _Channel(id=channel_id, name=channel_id.lower())
            self._channels[channel_id] = ch
        return ch

    def _store(self, channel: str, message: dict[str, Any]) -> None:
        history = self._history.setdefault(channel, [])
        history.append(message)
        history.sort(key=lambda m: _ts_key(m["ts"]) or Decimal(0))

    def _find(self, channel: str, ts: Any) -> dict[str, Any] | None:
        for m in self._history.get(channel, []):
            if m["ts"] == ts:
                return m
        return None

    def _replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [m for m in self._history.get(channel, []) if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]

    def _render(self, channel: str, message: dict[str, Any], include_metadata: bool) -> dict[str, Any]:
        """A stored message as conversations.history / replies show it."""
        out = {k: v for k, v in message.items() if not k.startswith("_")}
        if not include_metadata:
            out.pop("metadata", None)
        is_parent = message.get("thread_ts", message["ts"]) == message["ts"]
        replies = self._replies(channel, message["ts"]) if is_parent else []
        if replies:
            users = list(dict.fromkeys(str(r.get("user", "")) for r in replies))
            out.update(
                thread_ts=message["ts"],
                reply_count=len(replies),
                reply_users_count=len(users),
                reply_users=users,
                latest_reply=replies[-1]["ts"],
            )
        return out

    def _bot_message(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "team": self.team_id,
            "text": params.get("text") or "",
            "ts": ts,
        }
        for key in ("blocks", "attachments", "metadata"):
            if params.get(key) not in (None, ""):
                message[key] = params[key]
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        return message

    @staticmethod
    def _check_blocks(params: dict[str, Any], limit: int) -> dict[str, Any] | None:
        blocks = params.get("blocks")
        if blocks in (None, ""):
            return None
        if not isinstance(blocks, list):
            return _err("invalid_blocks_format")
        if len(blocks) > limit:
            return _err("invalid_blocks", response_metadata=_messages(_too_long(limit, "items", "/blocks")))
        return None

    @staticmethod
    def _check_view(view: Any) -> dict[str, Any] | None:
        if not isinstance(view, dict):
            return _invalid("[ERROR] missing required field: view")
        problems = []
        title = view.get("title")
        if isinstance(title, dict) and len(str(title.get("text", ""))) > MAX_VIEW_TITLE:
            problems.append(_too_long(MAX_VIEW_TITLE, "characters", "/view/title/text"))
        if len(view.get("blocks") or []) > MAX_VIEW_BLOCKS:
            problems.append(_too_long(MAX_VIEW_BLOCKS, "items", "/view/blocks"))
        if len(str(view.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
            problems.append(_too_long(MAX_PRIVATE_METADATA, "characters", "/view/private_metadata"))
        if problems:
            return _invalid(*problems)
        return None

    def _view_object(
        self,
        view: dict[str, Any],
        *,
        view_id: str,
        root_view_id: str | None = None,
        previous: str | None = None,
    ) -> dict[str, Any]:
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type", "modal"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{next(self._id_counter):08x}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous,
            "root_view_id": root_view_id or view_id,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    # ------------------------------------------------------------------ Web API methods (lock held)

    def _m_api_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "args": {k: v for k, v in params.items() if k != "token"}}

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.socket_mode_url is None:
            return _err("invalid_auth")  # as Slack answers a bot token here; a test sets the URL
        return {"ok": True, "url": self.socket_mode_url}

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Test Workspace",
            "user": "pm-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }
        if self.enterprise_id:
            out["enterprise_id"] = self.enterprise_id
        return out

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(params.get("user", "")))
        if user is None:
            return _err("user_not_found")
        try:
            offset = ZoneInfo(user.tz).utcoffset(None)
            tz_offset = int(offset.total_seconds()) if offset is not None else 0
        except (ZoneInfoNotFoundError, ValueError):
            tz_offset = 0
        out: dict[str, Any] = {
            "id": user.id,
            "team_id": user.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "color": "9f69e7",
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": user.tz,
            "tz_offset": tz_offset,
            "profile": {
                "real_name": user.real_name,
                "real_name_normalized": user.real_name,
                "display_name": user.name,
                "display_name_normalized": user.name,
                "team": user.team_id,
                **({"email": user.email} if user.email else {}),
            },
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": user.is_restricted,
            "is_ultra_restricted": user.is_ultra_restricted,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
        }
        # Like Slack, the locale is only there when asked for.
        if _truthy(params.get("include_locale")):
            out["locale"] = user.locale
        if user.enterprise_id:
            out["enterprise_user"] = {
                "id": user.id,
                "enterprise_id": user.enterprise_id,
                "enterprise_name": f"Org {user.enterprise_id}",
                "is_admin": False,
                "is_owner": False,
                "is_primary_owner": False,
                "teams": [user.team_id],
            }
        return {"ok": True, "user": out}

    def _m_conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channels.get(str(params.get("channel", "")))
        members = list(channel.members or []) if channel else []
        return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}

    def _m_users_conversations(self, params: dict[str, Any]) -> dict[str, Any]:
        """Channels (set with set_members) the user belongs to."""
        user = str(params.get("user", ""))
        channels = [
            {"id": cid, "name": ch.name, "is_channel": True}
            for cid, ch in self._channels.items()
            if ch.members is not None and user in ch.members
        ]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _m_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(params.get("channel", ""))
        if not channel_id:
            return _err("channel_not_found")
        if channel_id.startswith("D"):
            return {
                "ok": True,
                "channel": {
                    "id": channel_id,
                    "created": 1_700_000_000,
                    "is_im": True,
                    "is_org_shared": False,
                    "user": channel_id[1:],
                    "is_user_deleted": False,
                },
            }
        ch = self._channels.get(channel_id) or _Channel(id=channel_id, name=channel_id.lower())
        out: dict[str, Any] = {
            "id": ch.id,
            "name": ch.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": ch.is_private,
            "created": 1_700_000_000,
            "is_archived": False,
            "is_general": False,
            "is_shared": ch.is_ext_shared,
            "is_ext_shared": ch.is_ext_shared,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "is_member": ch.is_member,
            "context_team_id": self.team_id,
            "name_normalized": ch.name,
        }
        if _truthy(params.get("include_num_members")):
            out["num_members"] = len(ch.members or [])
        return {"ok": True, "channel": out}

    def _m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": params["channel"]}}
        users = _split_ids(params.get("users"))
        if not users:
            return _err("users_list_not_supplied")
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": self.dm_channel(users[0])}}

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        raw_channel = str(params.get("channel") or "")
        if not raw_channel:
            return _err("channel_not_found")
        channel = self._resolve_channel(raw_channel)
        known = self._channels.get(channel)
        if known is not None and not known.is_member:
            return _err("not_in_channel")
        if not any(params.get(k) not in (None, "", []) for k in ("text", "blocks", "attachments")):
            return _err("no_text")
        problem = self._check_blocks(params, MAX_MESSAGE_BLOCKS)
        if problem:
            return problem
        ts = self._next_ts()
        message = self._bot_message(params, ts)
        if _truthy(params.get("reply_broadcast")):
            message["subtype"] = "thread_broadcast"
        self._store(channel, message)
        return {"ok": True, "channel": channel, "ts": ts, "message": dict(message)}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        user = str(params.get("user") or "")
        if not channel:
            return _err("channel_not_found")
        if not user:
            return _err("user_not_found")
        known = self._channels.get(channel)
        if known is not None and not known.is_member:
            return _err("not_in_channel")
        if known is not None and known.members is not None and user not in known.members:
            return _err("user_not_in_channel")
        problem = self._check_blocks(params, MAX_MESSAGE_BLOCKS)
        if problem:
            return problem
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(str(params.get("channel") or ""))
        message = self._find(channel, params.get("ts"))
        if message is None:
            return _err("message_not_found")
        problem = self._check_blocks(params, MAX_MESSAGE_BLOCKS)
        if problem:
            return problem
        # Slack keeps fields that are not sent (blocks, attachments, metadata); text is replaced.
        if "text" in params:
            message["text"] = params["text"] or ""
        for key in ("blocks", "attachments", "metadata"):
            if key in params and params[key] is not None:
                message[key] = params[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "text": message["text"],
            "message": {k: v for k, v in message.items() if k != "edited"},
        }

    def _m_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(str(params.get("channel") or ""))
        message = self._find(channel, params.get("ts"))
        if message is None:
            return _err("message_not_found")
        self._history[channel].remove(message)
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _m_chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        ts = str(params.get("message_ts") or "")
        if self._find(self._resolve_channel(channel), ts) is None:
            return _err("message_not_found")
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _window(self, messages: Iterator[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply oldest / latest (exclusive unless ``inclusive``) to messages."""
        inclusive = _truthy(params.get("inclusive"))
        oldest = _ts_key(params.get("oldest") or 0)
        latest = _ts_key(params.get("latest")) if params.get("latest") else None
        out = []
        for m in messages:
            key = _ts_key(m["ts"])
            if key is None:
                continue
            if oldest is not None and (key < oldest or (key == oldest and not inclusive)):
                continue
            if latest is not None and (key > latest or (key == latest and not inclusive)):
                continue
            out.append(m)
        return out

    @staticmethod
    def _limit(params: dict[str, Any], default: int) -> int:
        try:
            return max(1, int(params.get("limit") or default))
        except (TypeError, ValueError):
            return default

    def _m_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        if not channel:
            return _err("channel_not_found")
        include_metadata = _truthy(params.get("include_all_metadata"))
        top_level = (
            m
            for m in self._history.get(channel, [])
            if "thread_ts" not in m or m["thread_ts"] == m["ts"] or m.get("subtype") == "thread_broadcast"
        )
        window = self._window(top_level, params)
        window.reverse()  # newest first
        limit = self._limit(params, 100)
        page = window[:limit]
        return {
            "ok": True,
            "messages": [self._render(channel, m, include_metadata) for m in page],
            "has_more": len(window) > limit,
            "pin_count": 0,
            "response_metadata": {"next_cursor": ""},
        }

    def _m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        found = self._find(channel, params.get("ts"))
        if found is None:
            return _err("thread_not_found")
        parent_ts = str(found.get("thread_ts") or found["ts"])
        parent = self._find(channel, parent_ts) or found
        thread = [parent, *self._replies(channel, parent_ts)]
        window = self._window(iter(thread), params)
        limit = self._limit(params, 1000)
        include_metadata = _truthy(params.get("include_all_metadata"))
        rendered = []
        for m in window[:limit]:
            shown = self._render(channel, m, include_metadata)
            if m is not parent:
                shown.setdefault("thread_ts", parent_ts)
                shown["parent_user_id"] = parent.get("user")
            rendered.append(shown)
        return {
            "ok": True,
            "messages": rendered,
            "has_more": len(window) > limit,
            "response_metadata": {"next_cursor": ""},
        }

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not (params.get("trigger_id") or params.get("interactivity_pointer")):
            return _invalid("[ERROR] missing trigger_id")
        view = params.get("view")
        problem = self._check_view(view)
        if problem:
            return problem
        assert isinstance(view, dict)
        view_id = self._next_id("V")
        shown = self._view_object(view, view_id=view_id)
        self.views[view_id] = shown
        return {"ok": True, "view": shown}

    def _m_views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        if not (params.get("trigger_id") or params.get("interactivity_pointer")):
            return _invalid("[ERROR] missing trigger_id")
        view = params.get("view")
        problem = self._check_view(view)
        if problem:
            return problem
        assert isinstance(view, dict)
        view_id = self._next_id("V")
        shown = self._view_object(view, view_id=view_id)
        self.views[view_id] = shown
        return {"ok": True, "view": shown}

    def _m_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        problem = self._check_view(view)
        if problem:
            return problem
        assert isinstance(view, dict)
        view_id = params.get("view_id")
        if not view_id:
            external_id = params.get("external_id")
            matches = [v["id"] for v in self.views.values() if external_id and v["external_id"] == external_id]
            if not matches:
                return _err("not_found")
            view_id = matches[0]
        previous = self.views.get(str(view_id))
        shown = self._view_object(
            view,
            view_id=str(view_id),
            root_view_id=previous["root_view_id"] if previous else None,
            previous=previous["previous_view_id"] if previous else None,
        )
        self.views[str(view_id)] = shown
        return {"ok": True, "view": shown}

    def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("user_id") or "")
        if not user_id:
            return _invalid("[ERROR] missing user_id")
        view = params.get("view")
        problem = self._check_view(view)
        if problem:
            return problem
        assert isinstance(view, dict)
        previous = self.home_views.get(user_id)
        view_id = previous["id"] if previous else self._next_id("V")
        shown = self._view_object({**view, "type": view.get("type", "home")}, view_id=view_id)
        self.home_views[user_id] = shown
        return {"ok": True, "view": shown}

    def _m_pins_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        message = self._find(self._resolve_channel(channel), params.get("timestamp"))
        if message is None:
            return _err("message_not_found")
        pinned = message.setdefault("pinned_to", [])
        if channel in pinned:
            return _err("already_pinned")
        pinned.append(channel)
        return {"ok": True}

    def _m_reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        name = str(params.get("name") or "")
        message = self._find(self._resolve_channel(channel), params.get("timestamp"))
        if message is None:
            return _err("message_not_found")
        if not name:
            return _err("invalid_name")
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if self.bot_user_id in reaction["users"]:
                    return _err("already_reacted")
                reaction["users"].append(self.bot_user_id)
                reaction["count"] += 1
                return {"ok": True}
        reactions.append({"name": name, "users": [self.bot_user_id], "count": 1})
        return {"ok": True}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = params.get("filename")
        if not filename:
            return _invalid("[ERROR] missing filename")
        try:
            length = int(params.get("length") or 0)
        except (TypeError, ValueError):
            return _invalid("[ERROR] length must be an integer")
        file_id = self._next_id("F")
        self._pending[file_id] = _Pending(file_id=file_id, filename=str(filename), length=length)
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _m_files_list(self, params: dict[str, Any]) -> dict[str, Any]:
        """The completed uploads (newest first), filtered by `user` and `ts_from` like Slack."""
        user = params.get("user") or None
        try:
            ts_from = float(params.get("ts_from") or 0)
        except (TypeError, ValueError):
            return _invalid("[ERROR] ts_from must be a number")
        files = [{"id": u["file_id"], "name": u["filename"], "title": u["title"], "user": self.bot_user_id,
                  "created": int(u["created"]), "filetype": "png"}
                 for u in reversed(self.completed_uploads)
                 if u["created"] >= ts_from and (user is None or user == self.bot_user_id)]
        return {"ok": True, "files": files, "paging": {"count": len(files), "total": len(files), "page": 1, "pages": 1}}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if not isinstance(files, list) or not files:
            return _invalid("[ERROR] missing files")
        pending: list[_Pending] = []
        for item in files:
            p = self._pending.get(str(item.get("id"))) if isinstance(item, dict) else None
            if p is None or p.data is None:
                return _err("file_not_found")
            pending.append(p)
        channel_id = params.get("channel_id") or None
        channels = _split_ids(params.get("channels")) or ([str(channel_id)] if channel_id else [])
        answered = []
        for item, p in zip(files, pending, strict=True):
            p.title = str(item.get("title") or p.filename or p.file_id)
            p.completed = True
            self.completed_uploads.append(
                {
                    "file_id": p.file_id,
                    "filename": p.filename,
                    "title": p.title,
                    "channel_id": channel_id,
                    "channels": channels,
                    "initial_comment": params.get("initial_comment"),
                    "thread_ts": params.get("thread_ts"),
                    "data": p.data,
                    "created": self.ts_clock(),
                }
            )
            answered.append(
                {
                    "id": p.file_id,
                    "created": int(time.time()),
                    "timestamp": int(time.time()),
                    "name": p.filename,
                    "title": p.title,
                    "mimetype": "",
                    "filetype": "",
                    "user": self.bot_user_id,
                    "user_team": self.team_id,
                    "size": len(p.data or b""),
                    "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{p.file_id}/{p.filename}",
                    "permalink": f"https://{self.team_domain}.slack.com/files/{self.bot_user_id}/{p.file_id}",
                }
            )
        # Slack shares the files in a message of their own (posted asynchronously in reality).
        for channel in channels:
            message = self._bot_message(
                {"text": params.get("initial_comment") or "", "thread_ts": params.get("thread_ts")},
                self._next_ts(),
            )
            message["files"] = [{"id": f["id"], "name": f["name"], "title": f["title"]} for f in answered]
            message["upload"] = True
            self._store(self._resolve_channel(channel), message)
        return {"ok": True, "files": answered}
