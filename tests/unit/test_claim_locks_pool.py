"""Issue 13: on PostgreSQL a process backs all its claims with ONE advisory lock, held on a
connection of its own while it lives, instead of a lock per message (two round trips each);
it takes the lock again when that connection is lost (PostgreSQL only)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.flows import claim_locks
from bot.flows.delivery import deliver
from bot.services import outbox
from bot.workers import this_worker


def _ask(deps, sql: str, **params):
    other = create_engine(deps.engine.url.render_as_string(hide_password=False), poolclass=NullPool,
                          isolation_level="AUTOCOMMIT")
    try:
        with other.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        other.dispose()


def _lock_holders(deps) -> list[tuple[int, int]]:
    """(backend pid, key) of every sender lock of this process held on the server (other test
    processes hold theirs)."""
    return [tuple(r) for r in _ask(deps, "SELECT pid, objid::bigint FROM pg_locks WHERE locktype = 'advisory' "
                                         "AND granted AND classid = :ns AND objid = :key ORDER BY pid",
                                   ns=claim_locks.NAMESPACE, key=claim_locks.key_of(this_worker()))]


@pytest.fixture
def pg(deps):
    if deps.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL run only (PMBOT_TEST_DATABASE_URL)")
    return deps


def _enqueue(deps, key: str) -> int:
    with deps.session() as s:
        return outbox.enqueue(s, key=key, team_id="T0TEAM", kind="test", channel_id="C0CLIENT",
                              payload={"text": key}, now=deps.clock.now()).id


def test_one_lock_per_process_backs_every_claim_and_is_taken_again_after_its_connection_died(pg, fake_slack):
    mine = claim_locks.key_of(this_worker())
    for n in range(3):
        assert deliver(pg, _enqueue(pg, f"lock-{n}")) is True
    [(pid, key)] = _lock_holders(pg)  # one lock, this process's …
    assert key == mine
    assert _ask(pg, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = :pid",
                pid=pid) == [(1,)]  # … and none per message
    with pg.engine.connect() as conn:  # seen alive by any process; a name that holds no lock is gone
        assert claim_locks.gone(pg.engine, conn, [this_worker(), "other-host:9:9"]) == {"other-host:9:9"}

    assert _ask(pg, "SELECT pg_terminate_backend(:pid)", pid=pid) == [(True,)]  # a server restart, say
    for _ in range(100):
        if not _lock_holders(pg):
            break
        time.sleep(0.05)
    assert _lock_holders(pg) == []
    assert deliver(pg, _enqueue(pg, "lock-after")) is True  # the next claim takes it again first
    [(again, key)] = _lock_holders(pg)
    assert key == mine and again != pid
    assert [c.params["text"] for c in fake_slack.calls_to("chat.postMessage")] == [
        "lock-0", "lock-1", "lock-2", "lock-after"]
