"""A Socket Mode endpoint on loopback standing in for Slack's (`wss://wss-primary.slack.com/…`).

Point a FakeSlack at it (`fake.socket_mode_url = socket.url`): the bot's `apps.connections.open`
then answers this `ws://` URL, the bot connects, gets Slack's `hello`, and the test pushes
envelopes (`send(type, payload)`) and reads the acknowledgements the bot sends back
(`wait_ack(envelope_id)`). Uses the `websockets` package's threaded server.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

__all__ = ["FakeSocketMode"]


class FakeSocketMode:
    def __init__(self) -> None:
        self.acks: dict[str, tuple[float, dict[str, Any]]] = {}
        self.sent_at: dict[str, float] = {}
        self._conn: ServerConnection | None = None
        self._connected = threading.Condition()
        self._ids = itertools.count(1)
        self._server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, name="FakeSocketMode", daemon=True)

    @property
    def url(self) -> str:
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket=fake"

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def _handle(self, conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0PMBOT"},
                              "debug_info": {"host": "fake", "approximate_connection_time": 3600}}))
        with self._connected:
            self._conn = conn
            self._connected.notify_all()
        try:
            for raw in conn:
                message = json.loads(raw)
                envelope_id = message.get("envelope_id")
                if envelope_id:
                    with self._connected:
                        self.acks[envelope_id] = (time.monotonic(), message)
                        self._connected.notify_all()
        except ConnectionClosed:
            pass

    def wait_connected(self, timeout: float = 30.0) -> None:
        with self._connected:
            if not self._connected.wait_for(lambda: self._conn is not None, timeout):
                raise AssertionError("the bot did not open the Socket Mode connection")

    def send(self, envelope_type: str, payload: dict[str, Any]) -> str:
        """Push an envelope as Slack does; return its envelope_id."""
        envelope_id = f"env-{next(self._ids)}"
        assert self._conn is not None, "not connected"
        self.sent_at[envelope_id] = time.monotonic()
        self._conn.send(json.dumps({"envelope_id": envelope_id, "type": envelope_type, "payload": payload,
                                    "accepts_response_payload": envelope_type != "events_api",
                                    "retry_attempt": 0, "retry_reason": ""}))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 3.0) -> tuple[float, dict[str, Any]]:
        """(seconds from sending to the ack, the ack message); fails after `timeout`."""
        with self._connected:
            if not self._connected.wait_for(lambda: envelope_id in self.acks, timeout):
                raise AssertionError(f"no acknowledgement of {envelope_id} within {timeout} s")
            at, message = self.acks[envelope_id]
        return at - self.sent_at[envelope_id], message
