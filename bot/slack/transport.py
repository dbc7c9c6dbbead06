"""Keep-alive HTTP for the Web API and response_url calls.

slack_sdk's synchronous clients send each call through `urllib.request.urlopen`, which opens a
new connection (a TCP and, on Slack, a TLS handshake) for every call and closes it after. A
Confirm click makes three calls (the live message, the team's notice, the answer on the
response_url), so that was three handshakes per click and a fifth of its CPU (issue 13). Here
the same calls reuse idle connections, one pool per host shared by the process's threads;
slack_sdk still builds the request, retries and parses the answer as it always does.

An answer's header block is read into http.client's own `HTTPMessage` line by line rather
than through the email package's feed parser, which took a tenth of a Confirm click's CPU
(three answers per click; issue 13). Status, framing (length, chunked) and keep-alive are
decided exactly as http.client decides them.

A pooled connection that the server closed while it sat idle is noticed before it is reused
(it reads as closed) and thrown away; one that fails anyway raises the connection error the
caller's retry handlers already deal with, as a dropped connection did before. Calls through a
proxy keep slack_sdk's own path.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import threading
import time
from collections import deque
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_bolt.context.respond import Respond
from slack_bolt.util.utils import convert_to_dict_list
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

from bot.sockets import readable_now

MAX_HEADER_LINE = 65536  # http.client's own limits
MAX_HEADERS = 100
IDLE_SECONDS = 30.0  # an idle connection older than this is closed rather than reused
MAX_IDLE_PER_HOST = 32


class ConnectionPool:
    """Idle keep-alive connections by (scheme, host, port), shared by threads: a thread takes
    one for a call and gives it back when the answer has been read."""

    def __init__(self, *, idle_seconds: float = IDLE_SECONDS, max_idle: int = MAX_IDLE_PER_HOST) -> None:
        self._idle: dict[tuple[str, str, int], deque[tuple[http.client.HTTPConnection, float]]] = {}
        self._lock = threading.Lock()
        self._idle_seconds = idle_seconds
        self._max_idle = max_idle

    def request(self, url: str, *, method: str, body: bytes | None, headers: dict[str, str], timeout: float,
                context: ssl.SSLContext | None = None) -> tuple[int, str, http.client.HTTPMessage, bytes]:
        """Send one request and read its whole answer: (status, reason, headers, body)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, host, port)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn = self._take(key) or self._connect(key, timeout, context)
        try:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()
        else:
            self._give_back(key, conn)
        return response.status, response.reason, response.msg, data

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for queue in idle.values():
            for conn, _ in queue:
                conn.close()

    def _take(self, key: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        now = time.monotonic()
        while True:
            with self._lock:
                queue = self._idle.get(key)
                if not queue:
                    return None
                conn, since = queue.pop()  # the most recently used: the likeliest to be alive
            if now - since < self._idle_seconds and _still_open(conn):
                return conn
            conn.close()

    def _give_back(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            queue = self._idle.setdefault(key, deque())
            if len(queue) < self._max_idle:
                queue.append((conn, time.monotonic()))
                return
        conn.close()

    @staticmethod
    def _connect(key: tuple[str, str, int], timeout: float, context: ssl.SSLContext | None
                 ) -> http.client.HTTPConnection:
        scheme, host, port = key
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.response_class = _Response
        conn.connect()
        if conn.sock is not None:  # a request and its answer are small: never wait to fill a segment
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn


class _Response(http.client.HTTPResponse):
    """http.client's response, its headers read by `read_headers` (CPython's `begin` otherwise)."""

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()  # type: ignore[attr-defined]
            if status != http.client.CONTINUE:
                break
            read_headers(self.fp)  # a 100 Continue's headers: skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = read_headers(self.fp)
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding) and encoding.lower() == "chunked"
        self.chunk_left = None
        self.will_close = self._check_close()  # type: ignore[attr-defined]
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or 100 <= status < 200 \
                or self._method == "HEAD":  # type: ignore[attr-defined]
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True  # the body ends when the connection does


def read_headers(fp: Any) -> http.client.HTTPMessage:
    """A header block as the email package would read it (names as sent, values left-stripped,
    folded lines joined), up to the blank line; http.client's limits on line length and count."""
    msg = http.client.HTTPMessage()
    name: str | None = None
    value = ""
    count = 0
    while True:
        line = fp.readline(MAX_HEADER_LINE + 1)
        if len(line) > MAX_HEADER_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            break
        count += 1
        if count > MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        text = line.decode("iso-8859-1")
        if text[0] in " \t" and name is not None:  # a folded line continues the value
            value += text
            continue
        if name is not None:
            msg[name] = value.rstrip("\r\n")
        name, colon, value = text.partition(":")
        if not colon:  # not a header: nothing the email package would keep either
            name = None
            continue
        value = value.lstrip(" \t")
    if name is not None:
        msg[name] = value.rstrip("\r\n")
    return msg


def content_type(headers: http.client.HTTPMessage) -> tuple[str, str]:
    """(media type, charset) of an answer, lower case as the email package gives them; text is
    UTF-8 unless it says otherwise."""
    media, *params = (headers.get("content-type") or "").split(";")
    charset = "utf-8"
    for param in params:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip().strip('"'):
            charset = val.strip().strip('"').lower()
    return media.strip().lower(), charset


def _still_open(conn: http.client.HTTPConnection) -> bool:
    """An idle connection has nothing to read: if it reads, the server closed it (or broke the
    protocol), and it must not carry the next request."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        return not readable_now(sock.fileno())
    except (OSError, ValueError):
        return False


POOL = ConnectionPool()  # the process's pool: every client below shares it


def _open(url: str, req: Request, timeout: float, context: ssl.SSLContext | None
          ) -> tuple[int, http.client.HTTPMessage, bytes]:
    """What urlopen gave slack_sdk: the answer of a 2xx, HTTPError for any other status."""
    status, reason, headers, body = POOL.request(url, method=req.get_method(), body=req.data,  # type: ignore[arg-type]
                                                 headers=dict(req.header_items()), timeout=timeout, context=context)
    if not 200 <= status < 300:
        raise HTTPError(url, status, reason, headers, io.BytesIO(body))
    return status, headers, body


class PooledWebClient(WebClient):
    """slack_sdk's WebClient, its calls on the process's keep-alive connections."""

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not url.lower().startswith("http"):
            return super()._perform_urllib_http_request_internal(url, req)
        status, headers, body = _open(url, req, self.timeout, self.ssl)
        media, charset = content_type(headers)
        if media == "application/gzip":  # admin.analytics.getFile
            return {"status": status, "headers": headers, "body": body}
        return {"status": status, "headers": headers, "body": body.decode(charset)}


class PooledWebhookClient(WebhookClient):
    """slack_sdk's WebhookClient (a response_url), on the process's keep-alive connections."""

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if self.proxy is not None or not url.lower().startswith("http"):
            return super()._perform_http_request_internal(url, req)
        status, headers, body = _open(url, req, self.timeout, self.ssl)
        return WebhookResponse(url=url, status_code=status, headers=headers,  # type: ignore[arg-type]
                               body=body.decode(content_type(headers)[1]))


class PooledRespond(Respond):
    """Bolt's `respond`, answering on the process's keep-alive connections (the message is
    built as Bolt builds it)."""

    def __call__(self, text: str | dict = "", blocks: Any = None, attachments: Any = None,  # type: ignore[override]
                 response_type: str | None = None, replace_original: bool | None = None,
                 delete_original: bool | None = None, unfurl_links: bool | None = None,
                 unfurl_media: bool | None = None, thread_ts: str | None = None,
                 metadata: dict[str, Any] | None = None) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        client = PooledWebhookClient(url=self.response_url, proxy=self.proxy, ssl=self.ssl)
        if isinstance(text, dict):
            return client.send_dict(_message(**text))
        return client.send_dict(_message(text, blocks, attachments, response_type=response_type,
                                         replace_original=replace_original, delete_original=delete_original,
                                         unfurl_links=unfurl_links, unfurl_media=unfurl_media, thread_ts=thread_ts,
                                         metadata=metadata))


def _message(text: str = "", blocks: Any = None, attachments: Any = None, **options: Any) -> dict[str, Any]:
    """The response_url message: the text always, blocks and attachments when there are any,
    the other options when set."""
    message: dict[str, Any] = {"text": text}
    if blocks:
        message["blocks"] = convert_to_dict_list(blocks)
    if attachments:
        message["attachments"] = convert_to_dict_list(attachments)
    message.update({k: v for k, v in options.items() if v is not None})
    return message
