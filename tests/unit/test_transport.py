"""Keep-alive Web API calls (bot/slack/transport.py, issue 13): the clients PM Bot builds reuse
their connections, and everything slack_sdk did on urllib still holds on them: Slack's
answers, 429 with Retry-After, server errors, a connection the server closed while idle."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError

from bot.slack.client import RateGates, make_client
from bot.slack.transport import ConnectionPool, PooledRespond
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
