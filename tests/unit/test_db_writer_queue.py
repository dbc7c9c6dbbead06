"""SQLite writers of one process take turns first come, first served (bot.db.writer_turn):
a busy writer cannot starve another one, as SQLite's polling busy handler let it. On
PostgreSQL a few transactions at once take turns the same way (issue 13)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from bot.db import FairTurns, make_engine, session_scope


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    with session_scope(engine) as s:
        s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    yield engine
    engine.dispose()


def test_a_busy_writer_does_not_starve_another(sqlite_engine):
    stop = threading.Event()
    hot_started = threading.Event()

    def hot_writer() -> None:
        # Back-to-back write transactions, each holding the write lock for 5 ms (for 3 s at most).
        until = time.monotonic() + 3
        while not stop.is_set() and time.monotonic() < until:
            with session_scope(sqlite_engine) as s:
                s.execute(text("INSERT INTO t (who) VALUES ('hot')"))
                hot_started.set()
                time.sleep(0.005)

    hot = threading.Thread(target=hot_writer, daemon=True)
    hot.start()
    assert hot_started.wait(5)
    try:
        waits = []
        for _ in range(5):
            started = time.monotonic()
            with session_scope(sqlite_engine) as s:
                s.execute(text("INSERT INTO t (who) VALUES ('other')"))
            waits.append(time.monotonic() - started)
    finally:
        stop.set()
        hot.join(10)
    # Its turn comes after the hot writer's current transaction (5 ms), not seconds later.
    assert max(waits) < 0.25, waits
    with session_scope(sqlite_engine) as s:
        assert s.execute(text("SELECT count(*) FROM t WHERE who = 'other'")).scalar_one() == 5


def test_a_nested_scope_in_the_same_thread_does_not_wait_for_itself(sqlite_engine):
    done = threading.Event()

    def nested() -> None:
        with session_scope(sqlite_engine), session_scope(sqlite_engine) as inner:
            inner.execute(text("INSERT INTO t (who) VALUES ('inner')"))
        done.set()

    threading.Thread(target=nested, daemon=True).start()
    assert done.wait(5)


def test_fair_lock_serves_waiters_in_arrival_order_and_gives_up_after_its_timeout():
    lock = FairTurns(1)
    assert lock.acquire(timeout=1)
    order: list[int] = []
    queued = []

    def waiter(n: int) -> None:
        assert lock.acquire(timeout=5)
        order.append(n)
        lock.release()

    for n in range(4):
        th = threading.Thread(target=waiter, args=(n,), daemon=True)
        th.start()
        queued.append(th)
        time.sleep(0.05)  # each queues before the next starts
    late = threading.Thread(target=lambda: order.append(-1 if lock.acquire(timeout=0.05) else 99), daemon=True)
    late.start()
    late.join(5)
    lock.release()
    for th in queued:
        th.join(5)
    assert order == [99, 0, 1, 2, 3]


def test_fair_lock_hands_over_to_the_first_waiter_and_a_waiter_that_gave_up_leaves_the_queue():
    """A release passes the lock to the first waiter: the releaser cannot take it back ahead of
    the queue, and a waiter whose timeout ran out in the middle of the queue holds nobody up."""
    lock = FairTurns(1)
    assert lock.acquire(timeout=1)
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        assert lock.acquire(timeout=5)
        first_in.set()
        order.append("first")
        time.sleep(0.1)
        lock.release()

    def impatient() -> None:
        order.append("impatient gave up" if not lock.acquire(timeout=0.05) else "impatient")

    def last() -> None:
        assert lock.acquire(timeout=5)
        order.append("last")
        lock.release()

    threads = [threading.Thread(target=fn, daemon=True) for fn in (first, impatient, last)]
    for th in threads:
        th.start()
        time.sleep(0.03)
    threads[1].join(5)  # gave up while the lock was still held
    lock.release()
    assert lock.acquire(timeout=5)  # back in the queue, behind "last"
    order.append("releaser again")
    lock.release()
    for th in threads:
        th.join(5)
    assert first_in.is_set()
    assert order == ["impatient gave up", "first", "last", "releaser again"]


def test_turns_of_several_slots_let_that_many_in_and_queue_the_rest_in_order():
    turns = FairTurns(2)
    assert turns.acquire(timeout=1) and turns.acquire(timeout=1)  # re-entrant: still one slot
    inside: list[str] = []
    order: list[str] = []
    second_in, let_go = threading.Event(), threading.Event()

    def second() -> None:
        assert turns.acquire(timeout=5)
        inside.append("second")
        second_in.set()
        let_go.wait(5)
        turns.release()

    def queued(name: str) -> None:
        assert turns.acquire(timeout=5)
        order.append(name)
        turns.release()

    threading.Thread(target=second, daemon=True).start()
    assert second_in.wait(5)  # two slots: in at once beside the first holder
    waiting = [threading.Thread(target=queued, args=(n,), daemon=True) for n in ("third", "fourth")]
    for th in waiting:
        th.start()
        time.sleep(0.05)
    assert order == []  # both slots taken: they wait
    turns.release()
    assert order == []  # the first holder is still in (it took its turn twice)
    turns.release()
    for th in waiting:
        th.join(5)
    let_go.set()
    assert inside == ["second"] and order == ["third", "fourth"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_nested_scope_never_waits_for_itself_however_few_the_turns(tmp_path, pg_url, database):
    """Every slot taken by threads each opening a scope inside its scope: nobody waits for itself."""
    from bot import db

    if database == "postgresql" and pg_url is None:
        pytest.skip("PostgreSQL run only (PMBOT_TEST_DATABASE_URL)")
    engine = make_engine(pg_url if database == "postgresql" else f"sqlite:///{tmp_path / 'nested.db'}")
    done: list[int] = []

    def nested(n: int) -> None:
        with session_scope(engine), session_scope(engine) as inner:
            inner.execute(text("SELECT 1"))
            done.append(n)

    threads = [threading.Thread(target=nested, args=(n,), daemon=True) for n in range(db.PG_TURNS + 3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    engine.dispose()
    assert sorted(done) == list(range(db.PG_TURNS + 3))


def test_on_postgresql_a_turn_held_long_holds_the_others_up_a_moment_only(pg_url):
    """Turns held across something slow (a Slack call inside a unit of work): the next
    transaction waits PG_TURN_WAIT for one, then goes ahead without."""
    from bot import db

    if pg_url is None:
        pytest.skip("PostgreSQL run only (PMBOT_TEST_DATABASE_URL)")
    engine = make_engine(pg_url)
    holding, let_go = threading.Barrier(db.PG_TURNS + 1), threading.Event()

    def slow() -> None:
        with session_scope(engine) as s:
            s.execute(text("SELECT 1"))
            holding.wait(5)
            let_go.wait(10)

    threads = [threading.Thread(target=slow, daemon=True) for _ in range(db.PG_TURNS)]
    for th in threads:
        th.start()
    holding.wait(5)  # every turn taken
    started = time.monotonic()
    with session_scope(engine) as s:
        assert s.execute(text("SELECT 2")).scalar_one() == 2
    waited = time.monotonic() - started
    let_go.set()
    for th in threads:
        th.join(10)
    engine.dispose()
    assert db.PG_TURN_WAIT <= waited < db.PG_TURN_WAIT + 1.0, waited


# Issue 13: the digest job reads a batch beside the senders (bot.db.read_scope) -----------------


def test_a_long_read_in_a_read_scope_holds_up_no_writer_and_sees_one_snapshot(sqlite_engine):
    """Building a batch of digests (half a second of reading) held the write lock and the writers'
    queue: the senders, recording what they had sent, waited for it."""
    from bot.db import read_scope

    with read_scope(sqlite_engine) as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        wrote = threading.Event()

        def writer() -> None:
            with session_scope(sqlite_engine) as s:
                s.execute(text("INSERT INTO t (who) VALUES ('sender')"))
            wrote.set()

        threading.Thread(target=writer, daemon=True).start()
        assert wrote.wait(2)  # while the read is still open
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0  # its own snapshot
    with read_scope(sqlite_engine) as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
