"""On PostgreSQL a claim is also held as a session-level advisory lock.

The server releases an advisory lock when the connection that took it dies, whatever the host:
so a row marked `sending` whose lock is free was claimed by a sender that is gone, and any
process may take it over at once instead of waiting out PMBOT_CLAIM_TIMEOUT_SECONDS. The locks
live on connections of their own (no pool), so they never take a connection the rest of the
bot needs. SQLite (one host) needs none of this: `bot.workers` tells a dead process there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

NAMESPACE = 0x706D62  # "pmb": the first key of every claim lock; the second is the row's id


def applies(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@cache
def _lock_engine(url: str) -> Engine:
    return create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


@contextmanager
def holding(engine: Engine, outbox_id: int) -> Iterator[bool]:
    """Hold the claim lock of row `outbox_id` for the block; False when a live sender holds it."""
    if not applies(engine):
        yield True
        return
    conn = _lock_engine(engine.url.render_as_string(hide_password=False)).connect()
    try:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:ns, :id)"), {"ns": NAMESPACE, "id": outbox_id}).scalar()
        yield bool(got)
    finally:
        conn.close()  # the session ends: the lock goes with it


def is_free(engine: Engine, outbox_id: int) -> bool:
    """True when no live sender holds the row's claim lock (its holder, if any, is gone)."""
    with holding(engine, outbox_id) as got:
        return got
