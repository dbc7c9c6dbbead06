"""/healthz is liveness (no database), /readyz readiness: 503 while the database does not answer,
the schema is behind, or Slack rejects the token; one warning line when a check starts failing
(not one per probe, never a traceback), one line when it passes again."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bot.health import Health
from bot.web import create_web_app
from tests.conftest import _Server
from tests.deploy.helpers import base_url, bot_settings, start_bot, stop, wait_http
from tests.resilience.helpers import NOT_POSTGRES_REASON, ON_POSTGRES, wait_until

PG_DIR = os.environ.get("PMBOT_TEST_PG_DIR") or ""
PG_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pg_throwaway.sh"


@pytest.fixture
def probed(bolt_app, settings, engine):
    """The bot served in-process, with its Health object at hand."""
    health = Health.of_running_app(settings, engine)
    with _Server(create_web_app(bolt_app, health=health)) as base:
        yield base, health


def _warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.health" and r.levelno >= logging.WARNING]


def test_readyz_is_503_while_the_schema_is_behind_with_one_warning(probed, engine, caplog):
    base, _health = probed
    caplog.set_level(logging.INFO, logger="bot.health")
    with engine.begin() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        answers = [httpx.get(base + "/readyz") for _ in range(3)]
        assert {a.status_code for a in answers} == {503}
        assert answers[0].json()["checks"]["schema"].startswith("behind (0001")
        assert httpx.get(base + "/healthz").status_code == 200  # liveness does not care
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert httpx.get(base + "/readyz").status_code == 200
    (warning,) = _warnings(caplog)
    assert "schema behind" in warning.getMessage() and warning.exc_info is None
    assert any("ready again: schema" in r.getMessage() for r in caplog.records)


def test_readyz_is_503_once_slack_rejects_the_token(probed, fake_slack, caplog):
    base, health = probed
    assert httpx.get(base + "/readyz").json()["checks"]["slack"] == "ok"
    fake_slack.fail("auth.test", error="token_revoked", times=5)
    health.token_checked_at = time.monotonic() - 3600  # due for its periodic re-check
    answer = httpx.get(base + "/readyz")
    assert answer.status_code == 503 and answer.json()["checks"]["slack"] == "token rejected (SLACK_BOT_TOKEN)"
    assert len(_warnings(caplog)) == 1


@pytest.mark.slow
@pytest.mark.restarts_postgres
@pytest.mark.postgres_only
@pytest.mark.skipif(not ON_POSTGRES, reason=NOT_POSTGRES_REASON)
@pytest.mark.skipif(not PG_DIR, reason="needs PMBOT_TEST_PG_DIR (scripts/pg_throwaway.sh's directory, set by .ci/run)")
def test_readyz_follows_postgres_stopping_and_starting_without_a_traceback(fake_slack, pg_url, tmp_path):
    env = bot_settings(fake_slack, pg_url)
    proc, log = start_bot(env, tmp_path)
    ready = base_url(env) + "/readyz"

    def pg(verb: str) -> None:
        subprocess.run(["bash", str(PG_SCRIPT), verb, PG_DIR], check=True, stdout=subprocess.DEVNULL, timeout=120)

    try:
        wait_http(ready, proc=proc, log=log, timeout=60)
        pg("stop")
        try:
            stopped = time.monotonic()
            wait_http(ready, status=503, timeout=5)
            print(f"\n/readyz said 503 {time.monotonic() - stopped:.1f} s after PostgreSQL stopped")
            for _ in range(5):  # more probes while it is down: no more lines
                assert httpx.get(ready, timeout=10).status_code == 503
                assert httpx.get(base_url(env) + "/healthz").status_code == 200
        finally:
            pg("start")
        wait_http(ready, timeout=30)
    finally:
        assert stop(proc) == 0, log.read_text()
    output = log.read_text()
    assert "Traceback" not in output, output
    down = [line for line in output.splitlines() if "not ready: database" in line]
    assert len(down) == 1, output
    wait_until(lambda: "ready again: database ok" in log.read_text(), timeout=1, what="the recovery line")
