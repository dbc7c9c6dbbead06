"""Issue 13: claim locks live on pooled connections, so each is released before its connection
is handed on; a sender's lock must never outlive its delivery (PostgreSQL only)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.flows import claim_locks
from bot.flows.delivery import deliver
from bot.services import outbox


def _advisory_locks(deps, outbox_id: int) -> int:
    other = create_engine(deps.engine.url.render_as_string(hide_password=False), poolclass=NullPool)
    try:
        with other.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                     "AND classid = :ns AND objid = :id AND granted"),
                                {"ns": claim_locks.NAMESPACE, "id": outbox_id}).scalar()
    finally:
        other.dispose()


@pytest.fixture
def pg(deps):
    if deps.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL run only (PMBOT_TEST_DATABASE_URL)")
    return deps


def test_a_lock_is_held_while_sending_and_free_after_its_connection_went_back(pg, fake_slack):
    with pg.session() as s:
        row_id = outbox.enqueue(s, key="pool-1", team_id="T0TEAM", kind="test", channel_id="C0CLIENT",
                                payload={"text": "hello"}, now=pg.clock.now()).id
    with claim_locks.holding(pg.engine, row_id) as got:
        assert got is True
        assert _advisory_locks(pg, row_id) == 1
        assert claim_locks.is_free(pg.engine, row_id) is False  # another pooled connection is refused
    assert _advisory_locks(pg, row_id) == 0
    assert claim_locks.is_free(pg.engine, row_id) is True
    for _ in range(3):  # the pooled connections are reused: still nothing left behind
        assert deliver(pg, row_id) in (True, False)
    assert _advisory_locks(pg, row_id) == 0
    assert [c.params["text"] for c in fake_slack.calls_to("chat.postMessage")] == ["hello"]
