"""Knowing when the bot has finished what a request set off: its listener, and what that
listener does after its answer (a decision's message update and notices go after the clicker's
note, bot/flows/unit.py `after_the_answer`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any


class InFlight:
    """How much work is under way, and a wait until there is none."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = threading.Condition()

    def enter(self) -> None:
        with self._changed:
            self.count += 1

    def leave(self) -> None:
        with self._changed:
            self.count -= 1
            self._changed.notify_all()

    @contextmanager
    def counting(self) -> Iterator[None]:
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def wait_idle(self, timeout: float) -> bool:
        """False when work was still under way after `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self.count == 0, timeout=timeout)


class ListenerTracker(Executor):
    """Bolt's listener executor, counting the work still running."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.running = InFlight()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        self.running.enter()  # from submission on, not from when a thread takes it

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self.running.leave()

        return self.inner.submit(run)

    def wait_idle(self, timeout: float = 15.0) -> None:
        if not self.running.wait_idle(timeout):
            raise AssertionError(f"the bot's background work did not finish within {timeout}s")


def track_listeners(bolt_app: Any) -> ListenerTracker:
    """The tracker of `bolt_app`'s listener executor (put in place on first use)."""
    runner = bolt_app.listener_runner
    if isinstance(runner.listener_executor, ListenerTracker):
        return runner.listener_executor
    tracker = ListenerTracker(runner.listener_executor)
    runner.listener_executor = tracker
    runner.lazy_listener_runner.executor = tracker
    return tracker
