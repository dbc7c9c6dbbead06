"""The SQLite log is copied back by the checkpointer's thread, not in a request's commit
(bot/checkpoints.py). Observed through the files: the sizes of the log and of the database file
(each row takes a page of its own)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.checkpoints import Checkpointer, start_for
from bot.db import BACKSTOP_PAGES, make_engine, session_scope

ROWS = 1_500  # one page each (a 3 KB blob): past SQLite's own checkpoint threshold of 1,000 pages
PAGE = 4096


def _engine(path: Path, **kw):
    engine = make_engine(f"sqlite:///{path}", synchronous="normal", **kw)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, body BLOB)"))
    raw = engine.raw_connection()  # the table in the database file itself, the log empty
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    return engine


def _write(engine, rows: int = ROWS) -> None:
    for _ in range(rows):  # a commit each, as requests make them
        with session_scope(engine) as session:
            session.execute(text("INSERT INTO item (body) VALUES (randomblob(3000))"))


def _database_pages(path: Path) -> float:
    """The database file's size in pages: what checkpoints have copied back (a row a page)."""
    return path.stat().st_size / PAGE


def _log_pages(path: Path) -> float:
    return Path(f"{path}-wal").stat().st_size / PAGE


def test_by_default_a_commit_copies_the_log_back_past_1000_pages(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "default.db")
    _write(engine)
    assert _log_pages(tmp_path / "default.db") < 1_100  # reset by the commits' own checkpoints
    assert _database_pages(tmp_path / "default.db") >= 900
    engine.dispose()


def test_with_background_checkpoints_the_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "bg.db"
    engine = _engine(path, background_checkpoints=True)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == BACKSTOP_PAGES
    _write(engine)
    assert _log_pages(path) > ROWS  # no commit checkpointed
    assert _database_pages(path) < 10

    busy, pages, copied = Checkpointer(engine).run_once()

    assert (busy, copied) == (0, pages) and pages > ROWS
    assert _database_pages(path) >= ROWS
    size = _log_pages(path)
    _write(engine, 10)  # the log starts again from its beginning: it does not grow
    assert _log_pages(path) == size
    engine.dispose()


def test_the_checkpointer_thread_copies_the_log_back_while_requests_commit(tmp_path: Path) -> None:
    path = tmp_path / "thread.db"
    engine = _engine(path, background_checkpoints=True)
    checkpointer = Checkpointer(engine, interval=0.05).start()
    try:
        _write(engine, 300)
        deadline = time.monotonic() + 10
        while _database_pages(path) < 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _database_pages(path) >= 300
    finally:
        checkpointer.stop()
    assert checkpointer._thread is not None and not checkpointer._thread.is_alive()
    engine.dispose()


def test_a_failing_checkpoint_is_logged_and_tried_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "gone.db"
    engine = _engine(path, background_checkpoints=True)
    checkpointer = Checkpointer(engine, interval=0.02)
    calls = {"n": 0}
    real = checkpointer.run_once

    def flaky() -> tuple[int, int, int]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return real()

    checkpointer.run_once = flaky  # type: ignore[method-assign]
    _write(engine, 20)
    checkpointer.start()
    try:
        deadline = time.monotonic() + 10
        while _database_pages(path) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        checkpointer.stop()
    assert _database_pages(path) >= 20 and calls["n"] >= 2
    assert "checkpointing the SQLite log failed (OperationalError)" in caplog.text
    engine.dispose()


def test_only_a_sqlite_file_gets_a_checkpointer(tmp_path: Path) -> None:
    assert start_for(make_engine("sqlite://", background_checkpoints=True)) is None  # in memory: no log
    assert start_for(make_engine("postgresql://nobody@127.0.0.1:1/none")) is None
    engine = _engine(tmp_path / "file.db", background_checkpoints=True)
    checkpointer = start_for(engine)
    assert checkpointer is not None and checkpointer._thread is not None and checkpointer._thread.is_alive()
    checkpointer.stop()
    engine.dispose()
