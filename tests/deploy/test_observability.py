"""What an operator sees of a running bot: LOG_FORMAT=json (one object a line, request context
on the request line, no scheduler chatter, no start-up warnings) and /metrics (outbox by state
and kind, oldest pending age, Slack calls and 429s by method, ack latency by request type, job
durations, last tick). One real `pmbot run` for the module, on its own SQLite file."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.db import make_engine, session_scope
from bot.migrate import upgrade
from bot.models import Outbox
from tests.deploy.helpers import base_url, bot_settings, lines, start_bot, stop, wait_http, wait_until
from tests.fakes import payloads
from tests.fakes.slack_api import FakeSlack

PM = payloads.SlackUser(id="U0PM", team_id="T0TEAM", name="pat.pm")


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    where = tmp_path_factory.mktemp("observed")
    url = f"sqlite:///{where}/pmbot.db"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as s:  # a message owed for later: pending, an hour old
        s.add(Outbox(key="test:metrics:1", team_id="T0TEAM", kind="digest", channel_id="C0CLIENT",
                     payload={"text": "later"}, created_at=datetime.now(UTC) - timedelta(hours=1),
                     not_before=datetime.now(UTC) + timedelta(days=30)))
    engine.dispose()
    with FakeSlack() as fake:
        fake.add_user(PM.id, name=PM.name)
        env = bot_settings(fake, url, LOG_FORMAT="json", METRICS_ENABLED="true", SCHEDULER_ENABLED="true")
        proc, log = start_bot(env, where)
        try:
            wait_http(base_url(env) + "/readyz", proc=proc, log=log, timeout=60)
            fake.fail("users.info", status=429, retry_after=0)  # the command's look-up meets one 429
            body, headers = payloads.slash_command("/project", "", user=PM, response_url=fake.response_url())
            resp = httpx.post(base_url(env) + "/slack/events", content=body.encode(), headers=headers, timeout=10)
            assert resp.status_code == 200
            yield {"env": env, "log": log, "fake": fake, "request_id": resp.headers["x-request-id"]}
        finally:
            assert stop(proc) == 0, log.read_text()


def _metrics(env) -> str:
    resp = httpx.get(base_url(env) + "/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    return resp.text


def _value(text: str, series: str) -> float | None:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def test_metrics_report_outbox_slack_calls_acks_and_the_scheduler(running):
    env = running["env"]

    def after_a_tick() -> str | None:
        text = _metrics(env)
        return text if _value(text, 'pmbot_job_duration_seconds_count{job="pmbot-tick"}') else None

    text = wait_until(after_a_tick, timeout=30, what="a finished tick")
    assert _value(text, 'pmbot_outbox_rows{kind="digest",state="pending"}') == 1
    assert _value(text, "pmbot_outbox_oldest_pending_age_seconds") >= 3600
    assert _value(text, 'pmbot_slack_api_rate_limited_total{method="users.info"}') == 1
    assert _value(text, 'pmbot_slack_api_calls_total{method="users.info",status="429"}') == 1
    assert _value(text, 'pmbot_slack_api_calls_total{method="users.info",status="200"}') >= 1
    assert _value(text, 'pmbot_ack_latency_seconds_count{type="slash_command"}') == 1
    last_tick = _value(text, "pmbot_scheduler_last_tick_timestamp_seconds")
    assert last_tick and abs(last_tick - datetime.now(UTC).timestamp()) < 120


def test_json_logs_one_object_a_line_with_the_request_context(running):
    wait_until(lambda: any('"slack request"' in line for line in lines(running["log"])), timeout=10,
               what="the request line")
    records = [json.loads(line) for line in lines(running["log"])]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    (request,) = [r for r in records if r["message"] == "slack request"]
    assert request["request_id"] == running["request_id"]
    assert request["team"] == "T0TEAM" and request["user"] == PM.id and request["command"] == "/project"
    assert request["type"] == "slash_command" and request["status"] == 200 and request["latency_ms"] >= 0
    # No scheduler chatter at INFO, no warnings at a clean start, uvicorn in the same format.
    assert not [r for r in records if r["logger"].startswith("apscheduler")], records
    assert not [r for r in records if r["level"] in {"WARNING", "ERROR", "CRITICAL"}], records
    assert any(r["logger"].startswith("uvicorn") for r in records)


def test_metrics_are_off_unless_enabled(server):
    assert httpx.get(server + "/metrics").status_code == 404
