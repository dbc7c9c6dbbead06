"""`pmbot --version` (from the package metadata) and `pmbot backup FILE` (SQLite's online backup
API, while the bot may be writing; PostgreSQL: one line pointing to pg_dump)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tomllib
from importlib.metadata import version

from sqlalchemy.engine import make_url
from sqlmodel import select

from tests.deploy.helpers import ROOT, clean_env


def _pmbot(*args: str, cwd, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], env=clean_env(PYTHONPATH=str(ROOT), **env),
                          cwd=cwd, capture_output=True, text=True, timeout=60)


def test_version_comes_from_the_package_metadata(tmp_path):
    out = _pmbot("--version", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert out.stdout.strip() == f"pmbot {version('pmbot')}" == f"pmbot {declared}"


def test_backup_copies_the_sqlite_database_while_it_is_in_use(make_project, database_url, tmp_path, session):
    make_project("Backed Up Ltd")
    target = tmp_path / "backups" / "pmbot-backup.db"
    out = _pmbot("backup", str(target), cwd=tmp_path, DATABASE_URL=database_url)
    if make_url(database_url).get_backend_name() != "sqlite":
        assert out.returncode == 2 and "pg_dump" in out.stderr and len(out.stderr.splitlines()) == 1
        return
    assert out.returncode == 0, out.stderr
    assert str(target) in out.stdout
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("SELECT name FROM project").fetchall() == [("Backed Up Ltd",)]
        assert copy.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
    finally:
        copy.close()
    assert not list(target.parent.glob("*.partial"))
    # Again: the older backup is replaced whole.
    assert _pmbot("backup", str(target), cwd=tmp_path, DATABASE_URL=database_url).returncode == 0


def test_backup_without_a_database_says_so_in_one_line(tmp_path):
    out = _pmbot("backup", str(tmp_path / "b.db"), cwd=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/none.db")
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1 and "no SQLite database" in out.stderr


def test_migrate_with_the_database_away_says_so_in_one_line(tmp_path):
    from tests.deploy.helpers import free_port

    out = _pmbot("migrate", cwd=tmp_path, DATABASE_URL=f"postgres://pmbot:pw-secret@127.0.0.1:{free_port()}/pmbot")
    assert out.returncode == 1, out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith("pmbot: the database does not answer") and "pw-secret" not in line


def test_outbox_list_shows_what_failed_and_retry_queues_it_again(database_url, engine, clock, session, tmp_path):
    """Issue 11, item 1: `pmbot outbox list|retry [--key KEY]` shows and requeues what Slack refused."""
    from bot.db import session_scope
    from bot.models import Outbox
    from bot.services import outbox

    with session_scope(engine) as s:
        for key in ("digest:1:2026-W47:client", "remind:T0TEAM:U0PM:2026-11-18"):
            row_id = outbox.enqueue(s, key=key, team_id="T0TEAM", kind="digest", channel_id="C0GONE",
                                    payload={"text": "x"}, now=clock.now()).id
            assert outbox.claim(s, row_id, worker="w", now=clock.now())
            outbox.mark_failed(s, row_id, error="channel_not_found", now=clock.now(), permanent=True)
    listed = _pmbot("outbox", "list", cwd=tmp_path, DATABASE_URL=database_url)
    assert listed.returncode == 0, listed.stderr
    assert "digest:1:2026-W47:client" in listed.stdout and "channel_not_found" in listed.stdout
    retried = _pmbot("outbox", "retry", "--key", "digest:1:2026-W47:client", cwd=tmp_path, DATABASE_URL=database_url)
    assert retried.returncode == 0 and "Queued 1" in retried.stdout
    session.expire_all()
    states = {r.key: r.status for r in session.exec(select(Outbox))}
    assert states == {"digest:1:2026-W47:client": "pending", "remind:T0TEAM:U0PM:2026-11-18": "failed"}


def test_a_cli_run_says_which_messages_a_live_process_is_sending(database_url, engine, clock, fake_slack, tmp_path):
    """Issue 11, item 2: a run that finds claims held by live processes says so, with keys and ages."""
    from datetime import UTC, datetime

    from bot.db import session_scope
    from bot.services import outbox
    from bot.workers import this_worker
    from tests.fakes import payloads

    with session_scope(engine) as s:  # claimed just now by this (live) test process
        row_id = outbox.enqueue(s, key="digest:9:2026-W48:client", team_id="T0TEAM", kind="digest",
                                channel_id="C0CLIENT", payload={"text": "x"}, now=datetime.now(UTC)).id
        assert outbox.claim(s, row_id, worker=this_worker(), now=datetime.now(UTC))
    out = _pmbot("digest", cwd=tmp_path, DATABASE_URL=database_url, SLACK_BOT_TOKEN="xoxb-test",
                 SLACK_SIGNING_SECRET=payloads.SIGNING_SECRET, SLACK_API_URL=fake_slack.url)
    assert out.returncode == 0, out.stderr
    assert "being sent by another process" in out.stderr and "digest:9:2026-W48:client" in out.stderr
