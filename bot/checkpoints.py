"""SQLite: the write-ahead log is copied back into the database by a thread of its own, not by
whichever request happens to commit.

In WAL mode SQLite copies the log into the database file (a checkpoint, fsync included) inside
the commit that leaves more than 1,000 pages in the log. Under 150 quick captures a second that
was every ~0.85 s, and that request, with those queued behind it for the writer turn, waited
5-12 ms more: they were most of the open loop's p99 (bench/ack_latency.py --samples, issue 13).

`pmbot run` checkpoints from here instead, every CHECKPOINT_SECONDS. A PASSIVE checkpoint lets
writers and readers go on meanwhile, and the interpreter is free while SQLite copies (the sqlite3
module releases it), so the requests served meanwhile do not wait for it. The engine's connections
still checkpoint themselves past `bot.db.BACKSTOP_PAGES` (`make_engine(background_checkpoints=True)`),
should this thread fall behind or stop: the log never grows without bound.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine

from bot.db import is_in_memory, is_sqlite

log = logging.getLogger(__name__)

# Each checkpoint that copies anything ends with an fsync, whose fixed cost the requests committing
# meanwhile feel: every half second made the open loop's tails worse than SQLite's own rule
# (p99 1.05-1.57x the floor's at 50 and 150 captures a second); every five seconds, 0.72-0.99x.
CHECKPOINT_SECONDS = 5.0


class Checkpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` on a connection of its own every `interval` seconds."""

    def __init__(self, engine: Engine, interval: float = CHECKPOINT_SECONDS) -> None:
        self.engine = engine
        self.interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: Any = None

    def run_once(self) -> tuple[int, int, int]:
        """One checkpoint: (busy, pages in the log, pages copied back), as SQLite reports them."""
        if self._connection is None:
            self._connection = self.engine.raw_connection()  # autocommit: no BEGIN is emitted
        cursor = self._connection.cursor()
        try:
            busy, pages, copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            cursor.close()
        return int(busy), int(pages), int(copied)

    def start(self) -> Checkpointer:
        self._thread = threading.Thread(target=self._loop, name="pmbot-checkpoint", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.run_once()
            except Exception as err:  # a locked or vanished file: the connections' backstop still holds
                log.warning("checkpointing the SQLite log failed (%s); trying again in %.1f s",
                            type(err).__name__, self.interval)
                self._forget_connection()
        self._forget_connection()

    def _forget_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception as err:  # closing a broken connection: nothing left to do
                log.debug("closing the checkpoint connection: %s", type(err).__name__)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop checkpointing (the last connection to close checkpoints what is left)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)


def start_for(engine: Engine) -> Checkpointer | None:
    """A running checkpointer for `engine` when it is a SQLite file's (None for PostgreSQL and
    for an in-memory database, which has no log)."""
    if not is_sqlite(engine) or is_in_memory(engine.url):
        return None
    return Checkpointer(engine).start()
