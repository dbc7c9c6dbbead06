"""The outbox sends each message once: retries after failures, survives crashes and races."""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager, nullcontext
from datetime import timedelta

import pytest
from sqlalchemy import event, text
from sqlmodel import select

from bot.flows import outbox_keys
from bot.flows.delivery import deliver, deliver_due
from bot.models import Outbox
from bot.services import outbox
from bot.slack.post import METADATA_EVENT

# Senders of another host. Named afresh for each test process: on PostgreSQL their advisory locks
# are the cluster's, shared by the test workers' databases, so one worker's held lock made another
# worker's "gone" sender look alive.
_RUN = uuid.uuid4().hex[:8]
OTHER_SENDER = f"other-host-{_RUN}:1:1"
SECOND_SENDER = f"other-host-{_RUN}:2:2"


def _enqueue(deps, key="k1", channel="C0CLIENT"):
    with deps.session() as s:
        row = outbox.enqueue(s, key=key, team_id="T0TEAM", kind="test", channel_id=channel,
                             payload={"text": "hello"}, now=deps.clock.now())
        return row.id


@contextmanager
def hold_claim_lock(deps, worker: str):
    """What a live sender of another process holds on PostgreSQL while it lives (nothing on
    SQLite): its process's advisory lock, on a connection of its own, released when it closes."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from bot.flows.claim_locks import NAMESPACE, key_of

    if deps.engine.dialect.name != "postgresql":
        yield
        return
    other = create_engine(deps.engine.url.render_as_string(hide_password=False), poolclass=NullPool)
    with other.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:ns, :key)"), {"ns": NAMESPACE, "key": key_of(worker)})
        yield
    other.dispose()


def _row(session, key="k1") -> Outbox:
    return session.exec(select(Outbox).where(Outbox.key == key)).one()


def test_same_key_is_enqueued_once(deps, session):
    a, b = _enqueue(deps), _enqueue(deps)
    assert a == b
    assert len(session.exec(select(Outbox))) == 1


def test_delivered_once_with_metadata_naming_the_key(deps, fake_slack, session):
    row_id = _enqueue(deps)
    assert deliver(deps, row_id) is True
    assert deliver(deps, row_id) is False
    [post] = fake_slack.calls_to("chat.postMessage")
    assert post.params["metadata"] == {"event_type": METADATA_EVENT, "event_payload": {"key": "k1"}}
    row = _row(session)
    assert row.status == "sent" and row.message_ts == fake_slack.messages("C0CLIENT")[0]["ts"]


def test_a_server_error_is_retried_later_without_posting_twice(deps, fake_slack, session, clock):
    row_id = _enqueue(deps)
    fake_slack.fail("chat.postMessage", status=500)
    assert deliver(deps, row_id) is False
    row = _row(session)
    assert row.status == "pending" and row.attempts == 1 and row.not_before > clock.now()
    assert deliver_due(deps) == 0  # not yet: back-off
    clock.advance(minutes=1)
    assert deliver_due(deps) == 1
    # Before posting again it looked for an earlier copy in the channel.
    assert fake_slack.calls_to("conversations.history")
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.status == 200]) == 1
    assert _row(session).status == "sent"


def test_rate_limits_wait_for_retry_after_and_succeed(deps, fake_slack, session):
    row_id = _enqueue(deps)
    fake_slack.fail("chat.postMessage", status=429, retry_after=0, times=2)
    assert deliver(deps, row_id) is True
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [429, 429, 200]


def test_a_crash_between_post_and_record_is_recovered_without_a_second_post(deps, fake_slack, session, clock):
    row_id = _enqueue(deps)
    # What a process that died right after Slack accepted the message leaves behind:
    with deps.session() as s:
        assert outbox.claim(s, row_id, worker="dead-process", now=clock.now())
    ts = fake_slack.add_message("C0CLIENT", "hello", user="UBOT", ts=f"{clock.now().timestamp() + 1:.6f}",
                                metadata={"event_type": METADATA_EVENT, "event_payload": {"key": "k1"}},
                                bot_id=fake_slack.bot_id)
    with hold_claim_lock(deps, "dead-process"):
        assert deliver_due(deps) == 0  # the claim is fresh and its owner alive: it may still be working
    clock.advance(minutes=6)
    assert deliver_due(deps) == 1
    assert fake_slack.calls_to("chat.postMessage") == []
    row = _row(session)
    assert row.status == "sent" and row.message_ts == ts


def test_recovery_ignores_another_apps_message_and_reads_past_the_newest_page(deps, fake_slack, session, clock):
    """Issue 11, item 2: a re-claim accepted any message carrying the key, whichever app posted
    it (a staging install, the other organisation's PM Bot in a shared channel), and read only
    the newest 200 messages."""
    row_id = _enqueue(deps)
    with deps.session() as s:
        assert outbox.claim(s, row_id, worker="dead-process", now=clock.now())
    meta = {"event_type": METADATA_EVENT, "event_payload": {"key": "k1"}}
    base = clock.now().timestamp()
    fake_slack.add_message("C0CLIENT", "theirs", user="UOTHERBOT", bot_id="BOTHERAPP", metadata=meta,
                           ts=f"{base + 1:.6f}")
    clock.advance(minutes=6)
    assert deliver_due(deps) == 1
    [post] = [c for c in fake_slack.calls_to("chat.postMessage") if c.status == 200]
    assert post.params["text"] == "hello"

    # ours, followed by 450 newer messages: found on the third page, not posted again
    second = _enqueue(deps, key="k2")
    base = clock.now().timestamp()
    with deps.session() as s:
        assert outbox.claim(s, second, worker="dead-process", now=clock.now())
    ours = fake_slack.add_message("C0CLIENT", "hello", user="UBOT", bot_id=fake_slack.bot_id,
                                  metadata={"event_type": METADATA_EVENT, "event_payload": {"key": "k2"}},
                                  ts=f"{base + 10:.6f}")
    for n in range(450):
        fake_slack.add_message("C0CLIENT", f"chatter {n}", user="U0DEV", ts=f"{base + 11 + n:.6f}")
    clock.advance(minutes=6)
    assert deliver_due(deps) == 1
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.status == 200]) == 1
    session.expire_all()
    assert session.get(Outbox, second).message_ts == ours


def test_two_senders_racing_send_once(deps, fake_slack):
    row_id = _enqueue(deps)
    fake_slack.delay("chat.postMessage", 0.3)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(deliver(deps, row_id))) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [False, False, False, True]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_permanent_errors_stop_retrying(deps, fake_slack, session, clock):
    row_id = _enqueue(deps)
    fake_slack.fail("chat.postMessage", error="channel_not_found")
    assert deliver(deps, row_id) is False
    assert _row(session).status == "failed"
    clock.advance(timedelta(hours=2))
    assert deliver_due(deps) == 0


def test_a_claim_left_by_a_dead_process_on_this_host_is_taken_over_at_once(deps, fake_slack, session, clock):
    """Issue 11, items 2 and 9: claims die with their process. A rerun right after a crash used
    to wait out PMBOT_CLAIM_TIMEOUT_SECONDS (5 minutes) for every row the dead run had claimed."""
    import subprocess
    import sys

    from bot.workers import is_dead, this_worker

    gone = subprocess.run([sys.executable, "-c", "from bot.workers import this_worker; print(this_worker())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert is_dead(gone) and not is_dead(this_worker()) and not is_dead(OTHER_SENDER)
    dead_row, live_row = _enqueue(deps, key="dead"), _enqueue(deps, key="live")
    with deps.session() as s:
        assert outbox.claim(s, dead_row, worker=gone, now=clock.now())
        assert outbox.claim(s, live_row, worker=OTHER_SENDER, now=clock.now())
    with hold_claim_lock(deps, OTHER_SENDER):  # (on PostgreSQL a live sender holds its lock)
        assert deliver_due(deps) == 1  # no waiting for the timeout
    assert _row(session, "dead").status == "sent"
    assert _row(session, "live").status == "sending"  # another host's claim: it may be working


def test_on_postgresql_a_claim_whose_lock_is_free_is_taken_over_from_any_host(deps, fake_slack, session, clock, pg_url):
    """Issue 11, item 2: on PostgreSQL each sender holds a session-level advisory lock, which the
    server releases when its process's connection dies: a claim left by a process of another host
    is taken over at once, and one whose holder is alive (its lock held) is left alone."""
    import pytest

    if pg_url is None:
        pytest.skip("PostgreSQL run only (PMBOT_TEST_DATABASE_URL)")
    gone, alive = _enqueue(deps, key="gone"), _enqueue(deps, key="alive")
    with deps.session() as s:  # both claimed a moment ago by processes of another host
        assert outbox.claim(s, gone, worker=OTHER_SENDER, now=clock.now())
        assert outbox.claim(s, alive, worker=SECOND_SENDER, now=clock.now())
    with hold_claim_lock(deps, SECOND_SENDER):  # the live one holds its lock, as a live sender does
        assert deliver_due(deps) == 1
        assert _row(session, "gone").status == "sent"
        assert _row(session, "alive").status == "sending"
    clock.advance(minutes=1)
    assert deliver_due(deps) == 1  # its holder's connection is gone: taken over at once
    assert _row(session, "alive").status == "sent"


def test_a_row_waiting_for_another_takes_that_one_over_when_its_sender_dies_meanwhile(deps, fake_slack, session,
                                                                                      clock):
    """A digest waits for its chart (`after_key`) while another sender uploads it. When that
    sender dies during the wait, the waiting one sends the chart itself, then the digest: it
    used to wait out its 30 s and postpone the digest past the end of a one-shot `pmbot digest`."""
    import time

    first = _enqueue(deps, key="first")
    with deps.session() as s:
        second = outbox.enqueue(s, key="second", team_id="T0TEAM", kind="test", channel_id="C0CLIENT",
                                payload={"text": "after"}, now=clock.now(), after_key="first").id
        assert outbox.claim(s, first, worker=OTHER_SENDER, now=clock.now())
    sent: list[bool] = []
    waiting = threading.Thread(target=lambda: sent.append(deliver(deps, second)))
    with hold_claim_lock(deps, OTHER_SENDER):  # the other sender, alive (on PostgreSQL: its lock held)
        waiting.start()
        time.sleep(0.5)
        assert sent == [] and fake_slack.calls_to("chat.postMessage") == []
        clock.advance(timedelta(seconds=deps.settings.claim_timeout_seconds + 1))  # … then it is gone
    waiting.join(timeout=10)
    assert sent == [True]
    assert [c.params["text"] for c in fake_slack.calls_to("chat.postMessage")] == ["hello", "after"]
    assert _row(session, "first").status == "sent" and _row(session, "second").status == "sent"
    assert _row(session, "second").attempts == 1  # not postponed on the way


def test_on_postgresql_a_unit_of_work_leaves_a_row_a_live_sender_of_another_host_is_sending(deps, fake_slack, session,
                                                                                          clock, pg_url):
    """A unit claims what it owes in its own transaction (issue 13), but a queued row that a
    live sender of another host is sending (its lock held) is left to that sender: no second
    post. Once that sender is gone, the sweep takes the row over at once."""
    import pytest

    from bot.flows.unit import unit_of_work

    if not pg_url:
        pytest.skip("PostgreSQL run only (PMBOT_TEST_DATABASE_URL)")
    row_id = _enqueue(deps)
    with deps.session() as s:
        assert outbox.claim(s, row_id, worker="other-host:7:7", now=clock.now())
    with hold_claim_lock(deps, "other-host:7:7"):
        with unit_of_work(deps) as u:
            again = u.owe(key="k1", kind="test", channel_id="C0CLIENT", payload={"text": "hello"})
            assert again.id == row_id
        assert u.sent == set() and fake_slack.calls_to("chat.postMessage") == []
        assert deliver(deps, row_id) is False and deliver_due(deps) == 0
        assert _row(session).status == "sending" and _row(session).claimed_by == "other-host:7:7"
    assert deliver_due(deps) == 1  # the other sender is gone: the sweep sends it, once
    assert len(fake_slack.calls_to("chat.postMessage")) == 1 and _row(session).status == "sent"


def test_a_new_row_is_returned_as_it_was_stored(deps, session, clock):
    """`enqueue` reads back only a new row's id (issue 13) and builds the rest from what it
    inserted: every column, with the values the database holds."""
    with deps.session() as s:
        new = outbox.enqueue(s, key="as-stored", team_id="T0TEAM", kind="test", channel_id="C0CLIENT",
                             payload={"text": "hello", "blocks": [{"type": "divider"}]}, now=clock.now(),
                             target="req:7", claim_for="me:1:1")
        again = outbox.enqueue(s, key="as-stored", team_id="T0TEAM", kind="test", payload={}, now=clock.now())
    assert new.inserted is True and again.inserted is False
    stored = _row(session, "as-stored")
    for column in Outbox.__table__.c:  # type: ignore[attr-defined]
        assert getattr(new, column.name) == getattr(stored, column.name), column.name
        assert getattr(again, column.name) == getattr(stored, column.name), column.name


def test_sends_are_recorded_in_one_statement_fenced_by_the_claim(deps, session, clock):
    """`mark_sent_all` (issue 13): each row its own ts, channel and hash; a row whose claim
    another sender took over is left to it; and it tells which rows' records moved on (a newer
    row for the same target was queued)."""
    ids = {}
    with deps.session() as s:
        for key, target in [("a", "req:1"), ("b", "req:2"), ("c", None)]:
            ids[key] = outbox.enqueue(s, key=key, team_id="T0TEAM", kind="test", payload={}, now=clock.now(),
                                      target=target, claim_for="me:1:1" if key != "c" else "other:2:2").id
        newer = outbox.enqueue(s, key="a-again", team_id="T0TEAM", kind="test", payload={}, now=clock.now(),
                               target="req:1").id
        got = outbox.mark_sent_all(s, [(ids["a"], "1.1", "C1", "h1"), (ids["b"], "2.2", None, None),
                                       (ids["c"], "3.3", "C3", "h3")], now=clock.now(), worker="me:1:1")
    assert got == {ids["a"]: True, ids["b"]: False}
    a, b, c = _row(session, "a"), _row(session, "b"), _row(session, "c")
    assert (a.status, a.message_ts, a.channel_id, a.rendered_hash) == ("sent", "1.1", "C1", "h1")
    assert (b.status, b.message_ts, b.channel_id, b.rendered_hash) == ("sent", "2.2", None, None)
    assert (c.status, c.message_ts) == ("sending", None)
    assert session.get(Outbox, newer).status == "pending"


def test_what_units_sent_meanwhile_is_recorded_in_one_transaction(deps, fake_slack, session):
    """Units that finish sending while the process's writer turn is taken queue their records,
    and the next writer records them all in one transaction (bot/group_commit.py, issue 13):
    each row sent once and recorded as sent, with its ts, and each unit told what it sent."""
    from bot.db import is_sqlite, writer_turn
    from bot.flows.delivery import _records_of
    from bot.flows.unit import unit_of_work

    records = _records_of(deps)
    before = records.batches
    fake_slack.delay("chat.postMessage", 1.0, times=4)  # all four still in Slack when the turn is taken
    units: dict[int, set[int]] = {}

    def one(n: int) -> None:
        with unit_of_work(deps) as u:
            u.owe(key=f"gc{n}", kind="test", channel_id="C0CLIENT", payload={"text": f"m{n}"})
        units[n] = u.sent

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + 15  # a slow machine: the four wait 1 s in Slack at the same time
    while True:  # all four committed (claimed by this process) and on their way to Slack
        with deps.session() as s:
            if len(s.exec(select(Outbox).where(Outbox.key.startswith("gc"), Outbox.status == "sending")).all()) == 4:
                break
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # SQLite has one writer turn: taken here, the first to finish sending waits for it, the
    # others behind that one. PostgreSQL runs three transactions at once: nothing to hold.
    with writer_turn(deps.engine) if is_sqlite(deps.engine) else nullcontext():
        while is_sqlite(deps.engine) and len(records._queue) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    for th in threads:
        th.join(5)
    if is_sqlite(deps.engine):
        assert records.batches == before + 1
    else:
        assert before < records.batches <= before + 4
    assert sorted(c.params["text"] for c in fake_slack.calls_to("chat.postMessage")) == ["m0", "m1", "m2", "m3"]
    for n in range(4):
        row = _row(session, f"gc{n}")
        assert row.status == "sent" and row.message_ts and units[n] == {row.id}


def test_an_update_is_queued_unless_one_is_pending_in_one_statement(deps, engine, session, clock):
    """`enqueue_update` (issue 13: the pending check was a SELECT of its own on every decision):
    a pending update of the same target draws the newest state when sent, so none is added;
    one a sender has taken (sending, or sent) does not count; another target's does not count.
    Each call is one statement, and a new row is returned as it was stored."""
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement.split()[0].upper())

    def queue(target: str, claim_for: str | None = None):
        with deps.session() as s:
            before = len(statements)
            row = outbox.enqueue_update(s, key=outbox_keys.update(target), team_id="T0TEAM", kind="update",
                                        target=target, now=clock.now(), channel_id="C0CLIENT", claim_for=claim_for)
            assert [st for st in statements[before:] if st != "BEGIN"] == ["INSERT"]
            return row

    event.listen(engine, "before_cursor_execute", seen)
    try:
        first = queue("req:1")
        assert first is not None and first.status == "pending" and first.inserted
        assert queue("req:1") is None  # the pending one will show this change too
        other = queue("req:2")  # another message's update is its own
        with deps.session() as s:
            assert outbox.claim(s, first.id, worker="me:1:1", now=clock.now())
        taken = queue("req:1", claim_for="me:1:1")  # the pending one is being sent: it may show the old state
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert other is not None and taken is not None and taken.status == "sending"
    stored = {r.id: r for r in session.exec(select(Outbox).where(Outbox.method == "chat.update"))}
    assert sorted(stored) == sorted([first.id, other.id, taken.id])
    for column in Outbox.__table__.c:  # type: ignore[attr-defined]
        assert getattr(taken, column.name) == getattr(stored[taken.id], column.name), column.name
    assert (stored[first.id].target, stored[other.id].target) == ("req:1", "req:2")


def test_on_postgresql_an_update_being_claimed_right_now_does_not_count_as_pending(deps, engine, session, clock,
                                                                                 pg_url):
    """A pending update whose row a sender holds locked (its claim not committed: it may have
    drawn the record before this change) is skipped, not waited for: a new update is queued."""
    if pg_url is None:
        pytest.skip("row locks: PostgreSQL only")
    with deps.session() as s:
        held = outbox.enqueue_update(s, key=outbox_keys.update("req:9"), team_id="T0TEAM", kind="update",
                                     target="req:9", now=clock.now())
    assert held is not None
    with engine.connect() as sender:  # a sender's transaction, claiming it
        sender.execute(text("SELECT id FROM outbox WHERE id = :id FOR UPDATE"), {"id": held.id})
        started = time.monotonic()
        with deps.session() as s:
            new = outbox.enqueue_update(s, key=outbox_keys.update("req:9"), team_id="T0TEAM", kind="update",
                                        target="req:9", now=clock.now())
        assert time.monotonic() - started < 2
        sender.rollback()
    assert new is not None and new.id != held.id
    assert len(session.exec(select(Outbox).where(Outbox.target == "req:9"))) == 2
