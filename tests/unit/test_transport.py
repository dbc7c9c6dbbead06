"""Keep-alive Web API calls (bot/slack/transport.py, issue 13): the clients PM Bot builds reuse
their connections, and everything slack_sdk did on urllib still holds on them: Slack's
answers, 429 with Retry-After, server errors, a connection the server closed while idle."""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError

from bot.slack.client import RateGates, make_client
from bot.slack.transport import ConnectionPool, PooledRespond, content_type, read_headers
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake
    assert fake.errors == []


def test_web_api_calls_and_response_url_answers_share_one_connection(slack: FakeSlack) -> None:
    client = make_client("xoxb-test", slack.url)
    before = slack.connections
    for n in range(5):
        assert client.chat_postMessage(channel="C1", text=f"hello {n}")["ok"]
    respond = PooledRespond(response_url=slack.response_url("r1"))
    respond(text="done", response_type="ephemeral", replace_original=False)
    posted = [c.params["text"] for c in slack.calls_to("chat.postMessage")]
    assert posted == [f"hello {n}" for n in range(5)]
    answered = slack.calls_to("response_url")
    assert [(c.params["text"], c.params["response_type"], c.params["replace_original"]) for c in answered] == [
        ("done", "ephemeral", False)]
    assert slack.connections - before == 1  # urlopen opened six


def test_rate_limits_and_slack_errors_come_through_as_before(slack: FakeSlack) -> None:
    client = make_client("xoxb-test", slack.url, gate=RateGates())
    slack.fail("chat.postMessage", status=429, retry_after=0)
    assert client.chat_postMessage(channel="C1", text="after a 429")["ok"]  # retried after Retry-After
    assert len(slack.calls_to("chat.postMessage")) == 2
    slack.fail("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C404", text="nowhere")
    assert refused.value.response["error"] == "channel_not_found"
    slack.fail("chat.update", status=503, times=1)
    ts = client.chat_postMessage(channel="C1", text="to update")["ts"]
    assert client.chat_update(channel="C1", ts=ts, text="after a 503")["ok"]  # retried (repeatable)
    assert [c.status for c in slack.calls_to("chat.update")] == [503, 200]


class _ClosingServer:
    """An HTTP/1.1 server that answers one request per connection, then closes it without
    saying so (as a load balancer does to an idle keep-alive connection)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                while len(body) < length:
                    body += conn.recv(65536)
                answer = json.dumps({"ok": True, "ts": f"{self.accepted}.0"}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(answer)).encode() + b"\r\n\r\n" + answer)


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    server = _ClosingServer()
    client = make_client("xoxb-test", f"http://127.0.0.1:{server.port}/api/")
    first = client.chat_postMessage(channel="C1", text="one")
    second = client.chat_postMessage(channel="C1", text="two")  # not on the closed connection
    assert (first["ts"], second["ts"]) == ("1.0", "2.0")
    assert server.accepted == 2
    server.sock.close()


def test_the_pool_keeps_a_bounded_number_of_idle_connections(slack: FakeSlack) -> None:
    pool = ConnectionPool(max_idle=2)
    url = slack.url + "chat.postMessage"
    barrier = threading.Barrier(4)
    slack.delay("chat.postMessage", 0.2, times=4)  # four calls on the way at once: four connections

    def call() -> None:
        barrier.wait()
        status, _, _, body = pool.request(url, method="POST", body=b"channel=C1&text=x", timeout=5,
                                          headers={"Content-Type": "application/x-www-form-urlencoded",
                                                   "Authorization": "Bearer xoxb-test"})
        assert status == 200 and json.loads(body)["ok"]

    threads = [threading.Thread(target=call) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(5)
    assert slack.connections == 4
    assert sum(len(q) for q in pool._idle.values()) == 2  # the other two were closed
    pool.close()
    assert pool._idle == {}


HEADER_BLOCKS = [
    b"Content-Type: application/json; charset=utf-8\r\nContent-Length: 12\r\n\r\n",
    b"X-A:  padded value  \r\nx-a: again\r\nSet-Cookie: 1\r\nSet-Cookie: 2\r\n\r\n",  # repeats kept
    b"X-Folded: first\r\n  second\r\n\tthird\r\nRetry-After: 3\r\n\r\n",  # obsolete line folding
    b"a:b\nc: d\n\n",  # bare LF
    b"Content-Type: text/plain; CHARSET=\"ISO-8859-1\"\r\nX-Latin: caf\xe9\r\n\r\n",
    b"\r\n",
]


@pytest.mark.parametrize("block", HEADER_BLOCKS)
def test_answer_headers_read_as_the_email_package_reads_them(block: bytes) -> None:
    ours = read_headers(io.BytesIO(block + b"BODY"))
    theirs = http.client.parse_headers(io.BytesIO(block + b"BODY"))
    assert ours.items() == theirs.items()
    assert ours.get("retry-after") == theirs.get("retry-after")
    assert content_type(ours) == (theirs.get_content_type() if theirs.get("content-type") else "",
                                  theirs.get_content_charset() or "utf-8")


def test_an_answer_with_too_many_or_too_long_headers_is_refused() -> None:
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        read_headers(io.BytesIO(b"".join(b"X-%d: v\r\n" % n for n in range(101)) + b"\r\n"))
    with pytest.raises(http.client.LineTooLong):
        read_headers(io.BytesIO(b"X-Long: " + b"v" * 70000 + b"\r\n\r\n"))


class _RawServer:
    """Answers each request on a connection with the next of `answers`, as raw bytes."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            while self.answers:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                conn.sendall(self.answers.pop(0))


def test_chunked_and_empty_answers_are_framed_and_the_connection_kept() -> None:
    """The body ends where http.client says it ends: chunked, a 204 without a length, and a
    100 Continue before the answer; the connection carries all three."""
    body = b'{"ok": true, "ts": "1.0"}'
    server = _RawServer([
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % 10 + body[:10] + b"\r\n" + b"%x\r\n" % (len(body) - 10) + body[10:] + b"\r\n0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\nX-Skipped: yes\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ])
    pool = ConnectionPool()
    url = f"http://127.0.0.1:{server.port}/api/chat.postMessage"
    answers = [pool.request(url, method="POST", body=b"x", headers={}, timeout=5) for _ in range(3)]
    assert [(status, data) for status, _, _, data in answers] == [(200, body), (204, b""), (200, b"ok")]
    assert answers[2][2].get("x-skipped") is None
    assert sum(len(q) for q in pool._idle.values()) == 1  # one connection, still open
    pool.close()
    server.sock.close()
