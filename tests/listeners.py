"""Knowing when the bot has finished what a request set off: its listener, and what that
listener does after its answer (a decision's message update and notices go after the clicker's
note, bot/flows/unit.py `after_the_answer`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any


class ListenerTracker(Executor):
    """Bolt's listener executor, counting the work still running."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.pending = 0
        self.cond = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self.cond:
            self.pending += 1

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                with self.cond:
                    self.pending -= 1
                    self.cond.notify_all()

        return self.inner.submit(run)

    def wait_idle(self, timeout: float = 15.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.pending == 0, timeout=timeout):
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
