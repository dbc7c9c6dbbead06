"""On PostgreSQL a claim is also held as a session-level advisory lock.

The server releases an advisory lock when the connection that took it dies, whatever the host:
so a row marked `sending` whose lock is free was claimed by a sender that is gone, and any
process may take it over at once instead of waiting out PMBOT_CLAIM_TIMEOUT_SECONDS. The locks
live on connections of their own (a pool of their own), so they never take a connection the rest
of the bot needs. A lock is released explicitly before its connection goes back to that pool; a
connection whose release failed is thrown away (its lock dies with it). Until issue 13 each
claim opened a new connection: a new server process per message, ~10 ms of the database's CPU.
SQLite (one host) needs none of this: `bot.workers` tells a dead process there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import Engine, create_engine, text

from bot.db import discard_closed_connections

NAMESPACE = 0x706D62  # "pmb": the first key of every claim lock; the second is the row's id


def applies(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


POOL_SIZE = 10  # connections kept for claim locks; more are opened (and closed) under a burst
_TRY = text("SELECT pg_try_advisory_lock(:ns, :id)")
_UNLOCK = text("SELECT pg_advisory_unlock(:ns, :id)")
_TRY_ALL = text("SELECT id, pg_try_advisory_lock(:ns, id) FROM unnest(CAST(:ids AS int[])) AS id ORDER BY id")
_UNLOCK_ALL = text("SELECT pg_advisory_unlock_all()")


@cache
def _lock_engine(url: str) -> Engine:
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=50, isolation_level="AUTOCOMMIT")
    discard_closed_connections(engine)
    return engine


@contextmanager
def holding(engine: Engine, outbox_id: int) -> Iterator[bool]:
    """Hold the claim lock of row `outbox_id` for the block; False when a live sender holds it."""
    if not applies(engine):
        yield True
        return
    conn = _lock_engine(engine.url.render_as_string(hide_password=False)).connect()
    got = False
    try:
        got = bool(conn.execute(_TRY, {"ns": NAMESPACE, "id": outbox_id}).scalar())
        yield got
    finally:
        try:
            if got and not conn.execute(_UNLOCK, {"ns": NAMESPACE, "id": outbox_id}).scalar():
                conn.invalidate()  # not ours any more?! never hand such a connection on
        except Exception:
            conn.invalidate()  # the connection is broken: its session, and the lock, are gone
        finally:
            conn.close()


def is_free(engine: Engine, outbox_id: int) -> bool:
    """True when no live sender holds the row's claim lock (its holder, if any, is gone)."""
    with holding(engine, outbox_id) as got:
        return got


class Held:
    """Claim locks taken one by one on ONE connection of the lock pool, for the rows one unit of
    work owes (`delivery.claim_owed`): a connection per lock, checked out side by side until the
    rows are sent, outgrew the pool under load, and each connection past it was a new server
    process (issue 13). The locks of a unit's rows are tried in one round trip (`take_all`).
    `close` releases them all at once (the connection is the unit's alone while it is out) and
    hands the connection back, or throws it away when that failed: its locks die with it. On
    SQLite every lock is free."""

    def __init__(self, engine: Engine) -> None:
        self._conn = _lock_engine(engine.url.render_as_string(hide_password=False)).connect() \
            if applies(engine) else None
        self._ids: set[int] = set()

    def take_all(self, outbox_ids: list[int]) -> set[int]:
        """Try the locks of these rows in one round trip; the ids whose lock this holds now."""
        if self._conn is None:
            return set(outbox_ids)
        wanted = sorted(set(outbox_ids) - self._ids)
        if wanted:
            rows = self._conn.execute(_TRY_ALL, {"ns": NAMESPACE, "ids": wanted}).all()
            self._ids.update(outbox_id for outbox_id, got in rows if got)
        return self._ids & set(outbox_ids)

    def release(self, outbox_id: int) -> None:
        if self._conn is None or outbox_id not in self._ids:
            return
        self._ids.discard(outbox_id)
        if not self._conn.execute(_UNLOCK, {"ns": NAMESPACE, "id": outbox_id}).scalar():
            self._conn.invalidate()  # not ours any more?! never hand such a connection on
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self._ids:  # the connection is this unit's alone: every lock on it is one of ours
                conn.execute(_UNLOCK_ALL)
        except Exception:
            conn.invalidate()  # the connection is broken: its session, and the locks, are gone
        finally:
            self._ids.clear()
            conn.close()
