"""On PostgreSQL a sender's claims are backed by one advisory lock that its process holds.

A claim on an outbox row names its holder (`bot.workers.this_worker`). Each process holds one
session-level advisory lock, keyed by its worker name, on a connection of its own for as long as
it lives; the server releases the lock when that connection dies, whatever the host. So a row
marked `sending` whose holder's lock is free was claimed by a sender that is gone, and any
process may take it over at once instead of waiting out PMBOT_CLAIM_TIMEOUT_SECONDS.

Until issue 13 each claim took a lock of its own: a round trip to try it and one to release it
per message, on connections of a pool of their own, about a tenth of a Confirm click's CPU.
SQLite (one host) needs none of this: `bot.workers` tells a dead process there.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from bot.db import closed_by_server

log = logging.getLogger(__name__)

NAMESPACE = 0x706D62  # "pmb": the first key of every sender's lock; the second is its worker's key

_TRY = text("SELECT pg_try_advisory_lock(:ns, :key)")
# Whose locks are held: a catalogue read, no lock taken (two-key advisory locks show their keys
# as classid and objid, with objsubid 2).
_HELD = text("SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
             "AND classid = CAST(:ns AS oid) AND objsubid = 2 AND objid = ANY(CAST(:keys AS oid[]))")


def applies(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def key_of(worker: str) -> int:
    """The lock key of a worker name: 31 bits of its hash. Two live workers sharing a key (about
    one chance in two billion per pair) only look alive to each other's takers a little longer:
    a claim is never taken over from a live sender."""
    return int.from_bytes(hashlib.blake2b(worker.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


class _Holder:
    """A worker's lock on one database, on a connection of its own (outside every pool)."""

    def __init__(self, url: str, worker: str) -> None:
        self._engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._key = key_of(worker)
        self._conn: Connection | None = None
        self._held = False
        self._mutex = threading.Lock()

    def ensure(self) -> bool:
        """Hold the lock (taking it again after the connection was lost: a restart of the
        server). A local check while it is held, no round trip. False when it could not be taken."""
        with self._mutex:
            if self._conn is not None and self._held and not closed_by_server(self._conn.connection.dbapi_connection):
                return True
            self._close()
            try:
                self._conn = self._engine.connect()
                self._held = bool(self._conn.execute(_TRY, {"ns": NAMESPACE, "key": self._key}).scalar())
            except Exception:
                log.warning("could not take this sender's lock on the database", exc_info=True)
                self._close()
                return False
            if not self._held:  # a live process holds this key (see key_of): tried again at the next claim
                log.warning("this sender's lock is held by another connection; claims look alive meanwhile")
            return self._held

    def _close(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            try:
                conn.invalidate()  # never reused: closing the connection releases the lock
                conn.close()
            except Exception:
                pass


# By database and worker name: a process has one name (`bot.workers.this_worker`), but tests run
# several "processes" in one, each with a name and a lock of its own.
_HOLDERS: dict[tuple[str, str], _Holder] = {}
_HOLDERS_MUTEX = threading.Lock()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def hold(engine: Engine, worker: str) -> bool:
    """Make sure this process holds its sender's lock on `engine`'s database before it claims
    anything there (a claim committed without it would look abandoned). True on SQLite."""
    if not applies(engine):
        return True
    url = _url(engine)
    with _HOLDERS_MUTEX:
        holder = _HOLDERS.get((url, worker))
        if holder is None:
            holder = _HOLDERS[url, worker] = _Holder(url, worker)
    return holder.ensure()


def gone(engine: Engine, conn: Connection, workers: Iterable[str]) -> set[str]:
    """Which of these senders hold no lock: their process is gone (one catalogue read on
    `conn`). Empty on SQLite."""
    names = {w for w in workers if w}
    if not applies(engine) or not names:
        return set()
    alive = {int(k) for (k,) in conn.execute(_HELD, {"ns": NAMESPACE, "keys": sorted({key_of(w) for w in names})})}
    return {w for w in names if key_of(w) not in alive}
