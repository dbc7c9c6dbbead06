"""`pmbot backup FILE`: a consistent copy of the SQLite database while the bot runs.

SQLite's online backup API copies page by page under its own locking, so writers may go on
(WAL included); the copy is written beside FILE and renamed into place, so FILE is either the
old complete backup or the new one. PostgreSQL is backed up with its own tool, `pg_dump`.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """Why no backup was written: `str()` is the one line to print."""


def backup(database_url: str, target: str | os.PathLike[str]) -> Path:
    """Copy the database of `database_url` to `target`; return the path written."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError("pmbot backup copies SQLite databases; for PostgreSQL use pg_dump, e.g. "
                          "pg_dump --format=custom --file=pmbot.dump \"$DATABASE_URL\" (see README: Backups)")
    source = url.database
    if not source or source == ":memory:":
        raise BackupError("DATABASE_URL points to an in-memory database: nothing to back up")
    if not Path(source).is_file():
        raise BackupError(f"no SQLite database at {source} (DATABASE_URL)")
    dest = Path(target).resolve()
    if dest == Path(source).resolve():
        raise BackupError("the backup file must not be the database itself")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    os.close(fd)
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            out = sqlite3.connect(partial)
            try:
                src.backup(out, pages=1024)
                ok = out.execute("PRAGMA integrity_check").fetchone()[0]
                if ok != "ok":
                    raise BackupError(f"the copy failed its integrity check ({ok})")
                # A self-contained file: no -wal beside it is needed to read it.
                out.execute("PRAGMA journal_mode=DELETE")
            finally:
                out.close()
        finally:
            src.close()
        os.replace(partial, dest)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return dest
