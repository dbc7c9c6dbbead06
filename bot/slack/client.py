"""Web API clients that honour SLACK_API_URL and retry what is worth retrying."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler

from bot.slack.transport import PooledWebClient

# Slack asks clients to wait Retry-After seconds on HTTP 429; server errors and dropped
# connections are retried with exponential back-off (0.5 s, 1 s, 2 s …).
RATE_LIMIT_RETRIES = 30
SERVER_ERROR_RETRIES = 3
CONNECTION_ERROR_RETRIES = 3


class RateGate:
    """The pace at which this process calls one Web API method, shared by all its threads.

    Slack answers 429 with Retry-After (whole seconds) when a workspace posts too fast. Waiting
    is mandatory, but finding the limit by hitting it costs up to a second each time, so the
    gate learns from the first 429: every sender pauses for Retry-After, and from then on sends
    are spaced evenly (a token bucket holding one token) at 95 % of what got through in the
    second before the 429. The 429s answered meanwhile to requests already on their way teach
    nothing new. After a calm spell the pace climbs back towards 96 % of that limit, and past
    it only after a long calm.

    A burst measures the limit only roughly: with fixed one-second windows, the second before
    the 429 may hold the end of the previous window too (up to twice the limit). So the pace it
    taught is a guess: if it fails before it has held two seconds, it is cut to 75 % at once;
    once a guess has held, it climbs, and a smooth pace that crosses the limit measures it well.
    """

    CALM_SECONDS = 5.0
    SPEED_UP = 1.05  # the pace's climb per second
    TRUST = 0.95  # after a 429: this share of what got through
    SLOW_DOWN = 0.75  # a guessed pace failed as it was: this share of it
    PROVE_SECONDS = 2.0  # a guessed pace climbs after holding this long
    NEAR = 0.96  # the climb goes up to this share of the last known limit…
    PROBE_SECONDS = 300.0  # …and past it only after this long without a 429

    def __init__(self, monotonic: Any = time.monotonic, sleep: Any = time.sleep) -> None:
        self._until = 0.0  # nobody sends before this
        self._pauses = 0  # how many times Slack said "wait" (a slot taken before one is void)
        self._rate: float | None = None  # sends per second; None = not limited yet
        self._taught: float | None = None  # the pace the last 429 set (before any climb)
        self._guessed = False  # … from a burst's count, or cut after that failed (not measured)
        self._next_slot = 0.0
        self._calm_since = -math.inf  # the end of the last pause
        self._climb_from = 0.0
        self._ceiling = 0.0  # what got through per second when Slack last said "wait"
        self._accepted: deque[float] = deque(maxlen=10_000)
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._sleep = sleep

    @property
    def rate(self) -> float | None:
        return self._rate

    def pause(self, seconds: float) -> None:
        """Slack said "retry after `seconds`": everyone waits, and the pace is lowered."""
        with self._lock:
            now = self._monotonic()
            lesson = now >= self._until  # not an answer to a request sent before the last 429
            resumed = self._calm_since  # when sending resumed after the pause before
            self._until = max(self._until, now + seconds)
            self._pauses += 1
            self._next_slot = max(self._next_slot, self._until)
            self._calm_since = self._until
            self._climb_from = max(self._climb_from, self._until)
            if not lesson:
                return
            self._climb_from = self._until
            # What got through per second in the last second (since sending resumed).
            since = max(now - 1.0, resumed)
            got_through = sum(1 for at in self._accepted if at >= since)
            per_second = got_through / (now - since) if now - since >= 0.5 else math.inf
            paced = self._rate
            guessed = paced is None  # a burst's count is a guess at the limit, not a measure
            if got_through <= 1 and (paced is None or now - since >= 0.5):
                self._rate = max(0.5, (paced or 2.0) * 0.5)  # hardly anything gets through
            elif paced is not None and self._guessed and paced <= (self._taught or 0.0):
                # A guessed pace failed before it began to climb: the guess was too high.
                self._ceiling = paced
                self._rate = max(1.0, paced * self.SLOW_DOWN)
                guessed = True
            else:  # a burst, or a pace that climbed past the limit: no more than it got through
                self._ceiling = min(paced or math.inf, per_second)
                self._rate = max(1.0, self._ceiling * self.TRUST)
            # A guess climbs once it has held PROVE_SECONDS (a pace above a one-second window's
            # limit fails within two); a measured pace after a calm spell.
            self._climb_from += self.PROVE_SECONDS if guessed else self.CALM_SECONDS
            self._taught = self._rate
            self._guessed = guessed

    def accepted(self) -> None:
        """Slack took a message: the measure of what gets through."""
        with self._lock:
            self._accepted.append(self._monotonic())

    def _climb(self, now: float) -> None:
        """The pace rises by SPEED_UP a second (after a calm spell, unless the last 429 cut it):
        up to NEAR the last known limit, past it only after PROBE_SECONDS without a 429 (with no
        known limit there is none to keep)."""
        assert self._rate is not None
        if now <= self._climb_from:
            return
        cap = self._ceiling * self.NEAR if self._ceiling and now - self._calm_since < self.PROBE_SECONDS else math.inf
        self._rate = max(self._rate, min(self._rate * self.SPEED_UP ** (now - self._climb_from), cap))
        self._climb_from = now

    def wait(self) -> None:
        """Block until this process may send its next message: not during a pause, and at
        most one message per 1/rate seconds (a slot taken before a 429 is void)."""
        while True:
            pauses: int | None = None
            with self._lock:
                now = self._monotonic()
                if now < self._until:  # Slack said wait: sit it out, then take a slot
                    left = self._until - now
                elif self._rate is None:
                    return
                else:
                    self._climb(now)
                    slot = max(now, self._next_slot)
                    self._next_slot = slot + 1.0 / self._rate
                    left, pauses = slot - now, self._pauses
                    if left <= 0:
                        return
            self._sleep(left)
            if pauses is not None:
                with self._lock:
                    if self._pauses == pauses:
                        return


class RateGates:
    """One pace per Web API method: Slack rate-limits each method on its own (its tier), so a
    429 on `users.info` must never slow `chat.postMessage`."""

    POST = "chat.postMessage"

    def __init__(self, monotonic: Any = time.monotonic, sleep: Any = time.sleep) -> None:
        self._gates: dict[str, RateGate] = {}
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._sleep = sleep

    def get(self, method: str) -> RateGate:
        with self._lock:
            gate = self._gates.get(method)
            if gate is None:
                gate = self._gates[method] = RateGate(self._monotonic, self._sleep)
            return gate

    def rates(self) -> dict[str, float | None]:
        with self._lock:
            return {m: g.rate for m, g in self._gates.items()}

    # The outbox sender's pace: chat.postMessage.
    def wait(self) -> None:
        self.get(self.POST).wait()

    def accepted(self) -> None:
        self.get(self.POST).accepted()


def method_of(url: str | None) -> str:
    """The Web API method a request URL calls (`…/api/users.info` → `users.info`)."""
    path = (url or "").split("?", 1)[0].rstrip("/")
    return path.rsplit("/", 1)[-1] or "unknown"


class SharedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Retries a 429 after Retry-After, and makes every other call of the process to the same
    method wait too (other methods keep their own pace)."""

    def __init__(self, gates: RateGates, max_retry_count: int = RATE_LIMIT_RETRIES) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.gates = gates

    def prepare_for_next_attempt(self, *, state: Any, request: Any, response: Any = None,
                                 error: Exception | None = None) -> None:
        if response is None:
            raise error  # type: ignore[misc]
        state.next_attempt_requested = True
        header = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
        value = header[0] if isinstance(header, list) else header
        try:
            seconds = float(value) if value is not None else 1.0
        except ValueError:
            seconds = 1.0
        gate = self.gates.get(method_of(getattr(request, "url", None)))
        gate.pause(seconds + random.uniform(0, 0.05))
        gate.wait()
        state.increment_current_attempt()


def retry_handlers(*, repeatable: bool = True, gate: RateGates | None = None) -> list[RetryHandler]:
    """Handlers for a client. A call that is not `repeatable` (posting a message) is retried
    only on 429, when Slack has certainly not acted: after a 5xx or a dropped connection the
    message may already be in the channel, so the outbox checks before it tries again."""
    rate_limit = SharedRateLimitRetryHandler(gate or RateGates())
    if not repeatable:
        return [rate_limit]
    return [
        rate_limit,
        ServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
        ConnectionErrorRetryHandler(max_retry_count=CONNECTION_ERROR_RETRIES),
    ]


def make_client(token: str | None, base_url: str, *, timeout: int = 15, repeatable: bool = True,
                gate: RateGates | None = None) -> WebClient:
    """A WebClient for `base_url` (Slack, GovSlack, a proxy or the tests' fake server), on the
    process's keep-alive connections (bot/slack/transport.py)."""
    return PooledWebClient(token=token, base_url=base_url, timeout=timeout,
                     retry_handlers=retry_handlers(repeatable=repeatable, gate=gate))
