"""The pool that sends what requests owe after their answer (bot/flows/after_answer.py), and the
rule that keeps a long wait there from becoming a double send (bot/flows/delivery.py
`send_claimed`). The end-to-end order (note first, then the update) is in the e2e tests."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlmodel import select

from bot.flows.after_answer import AfterAnswer
from bot.flows.delivery import claim_owed, deliver_due, send_claimed
from bot.models import Outbox
from bot.services import outbox


def test_one_request_s_sends_go_in_order_from_the_pool_s_own_threads():
    pool = AfterAnswer(threads=2)
    ran: list[tuple[str, str]] = []
    lock = threading.Lock()

    def send(name: str):
        def run() -> None:
            with lock:
                ran.append((name, threading.current_thread().name))
        return run

    try:
        assert pool.hand_over([send("update"), send("notice")])
        assert pool.wait_idle(5)
    finally:
        pool.stop(5)
    assert [name for name, _ in ran] == ["update", "notice"]
    assert all(thread.startswith("pmbot-after-answer") for _, thread in ran)
    assert threading.current_thread().name not in {thread for _, thread in ran}


def test_a_send_that_fails_is_logged_and_the_next_one_still_goes(caplog):
    pool = AfterAnswer(threads=1)
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    try:
        with caplog.at_level(logging.ERROR, logger="bot.flows.after_answer"):
            assert pool.hand_over([broken, lambda: ran.append("notice")])
            assert pool.wait_idle(5)
    finally:
        pool.stop(5)
    assert ran == ["notice"]
    assert "the sweep will retry" in caplog.text and "boom" in caplog.text


def test_past_its_backlog_the_pool_refuses_and_the_serving_thread_sends_itself():
    pool = AfterAnswer(threads=1, backlog=2)
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def slow() -> None:
        started.set()
        release.wait(5)
        ran.append("first")

    try:
        assert pool.hand_over([slow])
        assert started.wait(5)
        assert pool.hand_over([lambda: ran.append("second")])  # waits behind the first
        assert pool.waiting == 2
        assert not pool.hand_over([lambda: ran.append("third")])  # full: not taken, never run here
        release.set()
        assert pool.wait_idle(5)
    finally:
        release.set()
        pool.stop(5)
    assert ran == ["first", "second"]
    assert pool.waiting == 0


def test_stopping_waits_for_what_is_owed_then_leaves_the_rest_and_starts_afresh_if_used_again(caplog):
    pool = AfterAnswer(threads=1)
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def stuck() -> None:
        started.set()
        release.wait(10)
        ran.append("stuck")

    # what is owed and goes through is sent before stop returns
    assert pool.hand_over([lambda: ran.append("a")]) and pool.hand_over([lambda: ran.append("b")])
    assert pool.stop(5) == 0
    assert ran == ["a", "b"]

    # a send that does not end within the timeout: the one behind it is left (to the sweep)
    ran.clear()
    try:
        assert pool.hand_over([stuck]) and started.wait(5)
        assert pool.hand_over([lambda: ran.append("behind")])
        with caplog.at_level(logging.WARNING, logger="bot.flows.after_answer"):
            assert pool.stop(0.2) == 2  # the one under way and the one behind it were owed
        assert "the retry sweep sends them" in caplog.text
    finally:
        release.set()
    assert pool.wait_idle(1)  # the stopped pool's work no longer counts
    assert pool.hand_over([lambda: ran.append("after")]) and pool.wait_idle(5)
    pool.stop(5)
    assert "behind" not in ran and "after" in ran


# A claim that waited too long is left to the sweep ------------------------------------------


def _claimed_row(deps):
    with deps.session() as s:
        row_id = outbox.enqueue(s, key="k1", team_id="T0TEAM", kind="test", channel_id="C0CLIENT",
                                payload={"text": "hello"}, now=deps.clock.now()).id
        claimed = claim_owed(deps, s, [row_id])
    assert [row.id for row, _ in claimed.rows] == [row_id]
    return row_id, claimed


def test_claimed_messages_are_sent_while_their_claim_is_young(deps, fake_slack, clock, session):
    row_id, claimed = _claimed_row(deps)
    clock.advance(seconds=deps.settings.claim_timeout_seconds // 2 - 1)
    assert send_claimed(deps, claimed) == {row_id}
    assert [c.params["text"] for c in fake_slack.calls_to("chat.postMessage")] == ["hello"]


def test_claimed_messages_that_waited_past_half_the_claim_timeout_are_left_to_the_sweep(
        deps, fake_slack, clock, session, caplog):
    """Another sender may take a claim over once it is older than the claim timeout: sending it
    that late could post it twice. So it stays claimed, and the sweep sends it once, after the
    timeout."""
    row_id, claimed = _claimed_row(deps)
    clock.advance(seconds=deps.settings.claim_timeout_seconds // 2 + 1)
    with caplog.at_level(logging.WARNING, logger="bot.flows.delivery"):
        assert send_claimed(deps, claimed) == set()
    assert "left to the retry sweep" in caplog.text
    assert fake_slack.calls_to("chat.postMessage") == []
    row = session.exec(select(Outbox).where(Outbox.id == row_id)).one()
    assert row.status == "sending" and row.claimed_by == deps.worker

    assert deliver_due(deps) == 0  # its claim is not stale yet: nobody sends it
    clock.advance(timedelta(seconds=deps.settings.claim_timeout_seconds))
    assert deliver_due(deps) == 1
    assert [c.params["text"] for c in fake_slack.calls_to("chat.postMessage")] == ["hello"]
    session.expire_all()
    assert session.exec(select(Outbox).where(Outbox.id == row_id)).one().status == "sent"
