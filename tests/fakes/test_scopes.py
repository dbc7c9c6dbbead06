"""The scope counter of tests/fakes/scopes.py counts what it should, and only that."""

from __future__ import annotations

import threading
import time

from bot.app import deps_of
from bot.db import session_scope
from tests.conftest import PEOPLE
from tests.fakes.scopes import count_scopes


def test_it_counts_the_scopes_of_the_request_s_listener_and_only_those(slack, bolt_app, deps):
    def listener(ack, context):
        ack()
        time.sleep(0.2)  # work after the ack is counted too: the counter waits for it
        with context["deps"].session():
            pass
        with context["deps"].session():
            pass
        with session_scope(deps.engine):  # as the outbox sender does: not counted
            pass
        sender = threading.Thread(target=_open_scopes, args=(deps,))
        sender.start()  # another thread (a sender's): not counted
        sender.join()

    bolt_app.action("scopes_test")(listener)
    with deps.session():  # the test's own scope, before: not counted
        pass
    with count_scopes(bolt_app) as scopes:
        with deps.session():  # the test's own, during: elsewhere
            pass
        response = slack.action("scopes_test", "1", user=PEOPLE.pm)
    assert response.status_code == 200
    assert scopes.count == 2, scopes.where
    assert all("test_scopes.py" in w and "listener" in w for w in scopes.where), scopes.where
    assert scopes.elsewhere == 2


def _open_scopes(deps, n: int = 1) -> None:
    for _ in range(n):
        with deps.session():
            pass


def test_it_counts_what_runs_as_serving_a_request(bolt_app):
    """`serving` is how the dispatch thread (middleware, the ack) and listener threads are marked."""
    deps = deps_of(bolt_app)
    with count_scopes(bolt_app) as scopes:
        scopes.serving(_open_scopes, deps, 2)
        _open_scopes(deps)
    assert scopes.count == 2 and scopes.elsewhere == 1
    scopes.reset()
    assert scopes.count == 0 and scopes.elsewhere == 0


def test_it_unwraps_everything_on_leaving(bolt_app):
    deps = deps_of(bolt_app)
    runner = bolt_app.listener_runner
    executor, lazy = runner.listener_executor, runner.lazy_listener_runner.executor
    with count_scopes(bolt_app) as outer, count_scopes(bolt_app) as inner:
        assert "session" in vars(deps) and "dispatch" in vars(bolt_app)
        inner.serving(outer.serving, _open_scopes, deps)
    assert inner.count == 1 and outer.count == 1  # nested counters both see it
    assert "session" not in vars(deps) and "dispatch" not in vars(bolt_app)
    assert runner.listener_executor is executor and runner.lazy_listener_runner.executor is lazy
