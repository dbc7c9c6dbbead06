"""`pmbot run` when something it needs is wrong or away at start: one line naming the problem,
exit 2 for a token Slack rejects (waiting cannot help), otherwise retries with back-off while
/healthz answers and /readyz says what it waits for — no traceback, no crash loop."""

from __future__ import annotations

import httpx
import pytest

from tests.deploy.helpers import base_url, bot_settings, free_port, lines, start_bot, stop, wait_http, wait_until
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def fake():
    with FakeSlack() as fake:
        yield fake


def _waiting_for(env) -> str:
    ready = httpx.get(base_url(env) + "/readyz")
    assert ready.status_code == 503
    return ready.json()["checks"]["startup"]


def _retry_lines(log, needle: str) -> list[str]:
    return [line for line in lines(log) if needle in line and "trying again" in line]


@pytest.mark.parametrize("error", ["invalid_auth", "token_revoked"])
def test_a_rejected_token_prints_one_line_and_exits_2(fake, tmp_path, error):
    fake.fail("auth.test", error=error)
    env = bot_settings(fake, f"sqlite:///{tmp_path}/pmbot.db")
    proc, log = start_bot(env, tmp_path)
    assert proc.wait(timeout=60) == 2, log.read_text()
    (line,) = lines(log)
    assert "SLACK_BOT_TOKEN" in line and error in line
    assert "xoxb-test-secret" not in log.read_text()


def test_slack_unreachable_at_start_is_retried_while_healthz_answers(fake, tmp_path):
    env = bot_settings(fake, f"sqlite:///{tmp_path}/pmbot.db", SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    proc, log = start_bot(env, tmp_path)
    try:
        wait_http(base_url(env) + "/healthz", proc=proc, log=log)
        wait_until(lambda: _waiting_for(env) == "waiting for Slack", timeout=20, what="/readyz: waiting for Slack")
        assert httpx.post(base_url(env) + "/slack/events", content=b"{}").status_code == 503
        wait_until(lambda: len(_retry_lines(log, "Slack does not answer")) >= 2, timeout=20, what="two retries")
    finally:
        assert stop(proc) == 0, log.read_text()
    output = lines(log)
    assert "Traceback" not in log.read_text()
    assert not [line for line in output if " ERROR " in line], output  # slack_sdk's own lines are not repeated


def test_slack_failing_then_answering_brings_the_bot_up(fake, tmp_path):
    fake.fail("auth.test", status=503, times=2)  # the first check and the first retry
    env = bot_settings(fake, f"sqlite:///{tmp_path}/pmbot.db")
    proc, log = start_bot(env, tmp_path)
    try:
        wait_http(base_url(env) + "/readyz", proc=proc, log=log, timeout=30)
    finally:
        assert stop(proc) == 0, log.read_text()
    assert len(_retry_lines(log, "HTTP 503")) >= 1 and "Traceback" not in log.read_text()


def test_sqlite_folder_missing_is_retried_and_the_bot_comes_up_once_it_exists(fake, tmp_path):
    folder = tmp_path / "volume-not-mounted-yet"
    env = bot_settings(fake, f"sqlite:///{folder}/pmbot.db")
    proc, log = start_bot(env, tmp_path)
    try:
        wait_http(base_url(env) + "/healthz", proc=proc, log=log)
        assert httpx.get(base_url(env) + "/readyz").status_code == 503
        wait_until(lambda: _retry_lines(log, "the database does not answer"), timeout=20, what="a retry line")
        folder.mkdir()
        wait_http(base_url(env) + "/readyz", proc=proc, log=log, timeout=30)
    finally:
        assert stop(proc) == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def test_postgres_unreachable_with_a_heroku_style_url_is_retried_in_one_line_each(fake, tmp_path):
    env = bot_settings(fake, f"postgres://pmbot:pw-secret@127.0.0.1:{free_port()}/pmbot")
    proc, log = start_bot(env, tmp_path)
    try:
        wait_http(base_url(env) + "/healthz", proc=proc, log=log)
        wait_until(lambda: _waiting_for(env) == "waiting for the database", timeout=20, what="/readyz: the database")
        wait_until(lambda: len(_retry_lines(log, "the database does not answer")) >= 2, timeout=20,
                   what="two retries")
    finally:
        assert stop(proc) == 0, log.read_text()
    text = log.read_text()
    assert "Traceback" not in text and "pw-secret" not in text
    assert all(line.count("\n") == 0 for line in _retry_lines(log, "the database"))
