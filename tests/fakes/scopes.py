"""Counting the `deps.session()` scopes a request opens (issue 10: one click or submission, one
scope).

    with count_scopes(bolt_app) as scopes:
        slack.action(ids.REQ_CONFIRM, value, user=people.client)
    assert scopes.count == 1, scopes.where

While the block runs, `Deps.session` of the app's deps is wrapped, and so are Bolt's dispatch
and its listener executor: a scope counts when it is opened in a thread that serves a request
(the thread running Bolt's dispatch — middleware and the ack — or a listener thread). The outbox
sender is not counted: it opens its transactions with `bot.db.session_scope` directly, and in
threads of its own when it sends in parallel. Scopes opened elsewhere (a test's own setup, a
job) are tallied apart in `elsewhere`. On leaving the block the counter first waits until the
listener work it saw is over (Bolt acknowledges first and works on), then unwraps everything.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Executor, Future
from contextlib import AbstractContextManager
from typing import Any

from bot.app import deps_of

_NONE = object()

# Frames that are the plumbing of a scope, not where it was asked for.
_PLUMBING = ("tests/fakes/scopes.py", "bot/deps.py", "bot/flows/unit.py", "contextlib.py")


def _caller() -> str:
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not frame.filename.endswith(_PLUMBING):
            name = frame.filename.split("/bot/", 1)[-1] if "/bot/" in frame.filename else frame.filename
            return f"{name}:{frame.lineno} {frame.name}"
    return "?"


class _Serving(Executor):
    """Bolt's listener executor, marking its threads as serving and counting the work in flight."""

    def __init__(self, counter: ScopeCounter, inner: Executor) -> None:
        self.counter = counter
        self.inner = inner

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self.counter.idle:
            self.counter.in_flight += 1

        def run() -> Any:
            try:
                return self.counter.serving(fn, *args, **kwargs)
            finally:
                with self.counter.idle:
                    self.counter.in_flight -= 1
                    self.counter.idle.notify_all()

        return self.inner.submit(run)


class ScopeCounter:
    def __init__(self, bolt_app: Any) -> None:
        self.app = bolt_app
        self.deps = deps_of(bolt_app)
        self.where: list[str] = []  # where each counted scope was opened
        self.elsewhere = 0  # scopes opened by threads that serve no request
        self.in_flight = 0
        self.idle = threading.Condition()
        self._local = threading.local()
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return len(self.where)

    def reset(self) -> None:
        with self._lock:
            self.where.clear()
            self.elsewhere = 0

    def serving(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run `fn` in this thread as part of serving a request."""
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        try:
            return fn(*args, **kwargs)
        finally:
            self._local.depth = depth

    def wait_idle(self, timeout: float = 15.0) -> None:
        with self.idle:
            if not self.idle.wait_for(lambda: self.in_flight == 0, timeout=timeout):
                raise AssertionError(f"the listener work did not finish within {timeout}s")

    def _session(self, original: Callable[[], AbstractContextManager]) -> Callable[[], AbstractContextManager]:
        def session() -> AbstractContextManager:
            with self._lock:
                if getattr(self._local, "depth", 0):
                    self.where.append(_caller())
                else:
                    self.elsewhere += 1
            return original()

        return session

    def __enter__(self) -> ScopeCounter:
        runner = self.app.listener_runner
        self._executor = runner.listener_executor
        self._lazy_executor = runner.lazy_listener_runner.executor
        serving = _Serving(self, self._executor)
        runner.listener_executor = serving
        runner.lazy_listener_runner.executor = serving
        self._saved = [(obj, name, vars(obj).get(name, _NONE)) for obj, name in ((self.app, "dispatch"),
                                                                                (self.deps, "session"))]
        dispatch = self.app.dispatch
        self.app.dispatch = lambda req: self.serving(dispatch, req)
        self.deps.session = self._session(self.deps.session)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.wait_idle()
        finally:
            runner = self.app.listener_runner
            runner.listener_executor = self._executor
            runner.lazy_listener_runner.executor = self._lazy_executor
            for obj, name, before in self._saved:
                if before is _NONE:
                    delattr(obj, name)
                else:
                    setattr(obj, name, before)


def count_scopes(bolt_app: Any) -> ScopeCounter:
    """A context manager counting the `deps.session()` scopes requests open while it is active."""
    return ScopeCounter(bolt_app)
