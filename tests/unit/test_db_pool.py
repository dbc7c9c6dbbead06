"""Pooled PostgreSQL connections the server closed are replaced at checkout, without a round
trip (bot/db.py `discard_closed_connections`, issue 13: SQLAlchemy's pre-ping asked the server
at every checkout)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, text

from bot.db import make_engine


def _terminate(url: str, pid: int) -> None:
    admin = make_engine(url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        for _ in range(100):  # gone from the server's list once its process ended
            if not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar():
                break
            time.sleep(0.05)
    admin.dispose()


def test_a_pooled_connection_the_server_ended_is_replaced_unseen_and_a_live_one_is_reused(pg_url):
    if pg_url is None:
        pytest.skip("PostgreSQL run only (PMBOT_TEST_DATABASE_URL)")
    pool = make_engine(pg_url)
    statements: list[str] = []
    event.listen(pool, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with pool.connect() as conn:
        first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with pool.connect() as conn:  # the same pooled connection
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == first
    assert statements == ["SELECT pg_backend_pid()"] * 2
    assert not pool.pool._pre_ping  # the check is local (a round trip per checkout before)
    _terminate(pg_url, first)
    with pool.connect() as conn:  # the dead one is thrown away at checkout: no error reaches us
        again = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    assert again != first
    pool.dispose()
