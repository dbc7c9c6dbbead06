"""What requests owe Slack once they have their answer, sent by a few threads of its own.

A decision (Confirm, Approve, Accept, …) owes two Web API calls besides the clicker's note: the
live message's update and the team's notice (`Unit.after_the_answer`). They went from the
thread that served the request, once it had answered. Under a burst of clicks every serving
thread then made both calls, so each click's note waited its turn for the interpreter behind the
other clicks' sends: at 20 clicks in flight the note's p99 was 2.4-3x the click floor's
(bench/ack_latency.py, issue 13). Handed to these few threads instead, the sends wait while
requests are being answered and follow within moments; the work is the same (each click's CPU
went down a little: fewer threads contend for the interpreter).

What waits here was claimed in the database by the unit that owes it, so a process that dies
with sends waiting leaves them to the retry sweep, which takes over a dead sender's claims, as
a crash before did. Two bounds keep a long stall (Slack down, or pacing us after a 429) from
turning that into a double send (a claim older than PMBOT_CLAIM_TIMEOUT_SECONDS may be taken
over by another sender):

* past `BACKLOG` requests waiting, the serving thread sends itself, as before;
* sends whose claim is older than half the claim timeout when their turn comes are left to
  the sweep (bot/flows/delivery.py `send_claimed`).

`pmbot run` waits for what is owed here when it stops (`stop`); tests wait with `wait_idle`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

# Four threads send what clicks owe: Slack paces chat.update and chat.postMessage far below what
# four threads send even at 300 ms a call, and fewer threads leave more to the answers.
THREADS = 4
BACKLOG = 256  # requests whose sends may wait here; past that, the serving thread sends

Send = Callable[[], object]


class AfterAnswer:
    """A small pool for the sends requests leave for after their answer (see the module)."""

    def __init__(self, threads: int = THREADS, backlog: int = BACKLOG) -> None:
        self.threads = threads
        self.backlog = backlog
        self._executor: ThreadPoolExecutor | None = None
        self._waiting = 0  # requests handed over whose sends are not done
        self._generation = 0  # moves on at `stop`: what a stopped pool still runs counts no more
        self._changed = threading.Condition()

    def hand_over(self, sends: list[Send]) -> bool:
        """Send `sends` (one request's, in order) from the pool; False when too many wait
        already: the caller sends them itself."""
        with self._changed:
            if self._waiting >= self.backlog:
                return False
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="pmbot-after-answer")
            self._waiting += 1
            executor, generation = self._executor, self._generation
        executor.submit(self._run, sends, generation)
        return True

    def _run(self, sends: list[Send], generation: int) -> None:
        try:
            run_all(sends)
        finally:
            with self._changed:
                if generation == self._generation:
                    self._waiting -= 1
                    self._changed.notify_all()

    @property
    def waiting(self) -> int:
        """Requests whose sends are waiting or under way."""
        with self._changed:
            return self._waiting

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every send handed over is done; False if some were still owed after
        `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._waiting == 0, timeout=timeout)

    def stop(self, timeout: float) -> int:
        """Let the sends under way and those waiting finish within `timeout` seconds; those
        still waiting then are dropped from memory (their rows stay claimed: the sweep sends
        them). Returns how many requests' sends were left so. The pool starts afresh if used
        again."""
        done = self.wait_idle(timeout)
        with self._changed:
            executor, self._executor = self._executor, None
            left = 0 if done else self._waiting
            self._waiting = 0
            self._generation += 1
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        if left:
            log.warning("stopping with the sends of %d answered requests still owed: the retry sweep sends them"
                        " once their claims are taken over", left)
        return left


def run_all(sends: list[Send]) -> None:
    """Run one request's sends in order; one that fails unexpectedly is logged, and what it did
    not send is left to the sweep (a claimed row after the claim timeout, as after a crash; a
    pending one at its next pass)."""
    for send in sends:
        try:
            send()
        except Exception:
            log.exception("sending what a request owed after its answer failed; the sweep will retry")


pool = AfterAnswer()  # the process's
