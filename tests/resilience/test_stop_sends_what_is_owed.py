"""`pmbot run` told to stop (SIGTERM) right after answering a few Confirm clicks still sends what
those clicks owe Slack before it exits: the update of each confirmation message and the team's
notice wait for the process's senders (bot/flows/after_answer.py), Slack being slow here, some
of them still queued, and go out during the graceful stop, exit status 0, every outbox row
recorded as sent."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlmodel import col, select

from bot.blocks import ids
from bot.clock import SystemClock
from bot.db import session_scope
from bot.flows.after_answer import THREADS
from bot.models import Outbox, Project, Requirement
from bot.services import requirements
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, SlackDriver
from tests.e2e.helpers import submit_project
from tests.resilience.helpers import bot_env, free_port, pmbot, wait_until

pytestmark = pytest.mark.slow

CLICKS = 2 * THREADS  # more than the process has senders: some clicks' sends wait their turn at the stop
SLACK_SECONDS = 1.0  # each chat.update and chat.postMessage: the sends outlast the answers


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _awaiting_confirmation(engine, fake_slack, project_id: int) -> list[tuple[int, int, str]]:
    """CLICKS requirements sent for confirmation through the services, each with its message in
    the client channel: (id, version, ts)."""
    clock = SystemClock()  # the bot in its own process runs on the real clock
    out = []
    with session_scope(engine) as s:
        project = s.get(Project, project_id)
        for i in range(CLICKS):
            req = requirements.create(s, clock, project=project, actor=project.pm_user_id,
                                      data=requirements.RequirementInput(title=f"Export {i} as CSV"),
                                      raised_by_client=False)
            requirements.send_for_confirmation(s, clock, req=req, project=project, actor=project.pm_user_id)
            ts = fake_slack.add_message(CLIENT_CHANNEL, f"REQ-{req.id} awaits confirmation",
                                        user=fake_slack.bot_user_id, bot_id=fake_slack.bot_id)
            requirements.set_confirmation_message(s, req, channel_id=CLIENT_CHANNEL, ts=ts)
            out.append((req.id, req.version, ts))
    return out


def test_a_stop_right_after_the_answers_still_sends_what_the_clicks_owe(fake_slack, database_url, engine, session,
                                                                        people, tmp_path):
    port = free_port()
    proc = pmbot(["run"], bot_env(fake_slack, database_url, PORT=str(port), SCHEDULER_ENABLED="false"), tmp_path,
                 tmp_path / "bot.log")
    base = f"http://127.0.0.1:{port}"
    driver = SlackDriver(base, fake_slack)
    try:
        wait_until(lambda: _healthy(base) or proc.poll() is not None, timeout=60, what="pmbot run to be ready")
        assert proc.poll() is None, (tmp_path / "bot.log").read_text()
        assert submit_project(driver, people.pm).status_code == 200
        project = session.exec(select(Project)).one()
        targets = _awaiting_confirmation(engine, fake_slack, project.id)
        fake_slack.delay("chat.update", SLACK_SECONDS, times=CLICKS)
        fake_slack.delay("chat.postMessage", SLACK_SECONDS, times=CLICKS)
        notes = len(fake_slack.calls_to("response_url"))

        def click(target: tuple[int, int, str]) -> httpx.Response:
            req_id, version, ts = target
            return driver.action(ids.REQ_CONFIRM, f"{req_id}@{version}", user=people.client,
                                 channel_id=CLIENT_CHANNEL, message_ts=ts, block_id=f"req_item:{req_id}:confirm",
                                 settle=False)

        with ThreadPoolExecutor(CLICKS) as clicking:
            assert [r.status_code for r in clicking.map(click, targets)] == [200] * CLICKS
        answered = fake_slack.wait_for("response_url", notes + CLICKS)[notes:]
        assert all("confirmed" in a.params["text"].lower() for a in answered)
        updated = {c.params["ts"] for c in fake_slack.calls_to("chat.update")}
        assert not updated & {ts for _, _, ts in targets}, "Slack was to take longer than the answers"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, (tmp_path / "bot.log").read_text()
    finally:
        driver.http.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    # before it exited, the process sent every update and notice its answers owed
    updated = [c.params["ts"] for c in fake_slack.calls_to("chat.update")]
    assert sorted(updated) == sorted(ts for _, _, ts in targets)
    notices = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == INTERNAL_CHANNEL
               and "confirmed" in c.params["text"].lower()]
    assert len(notices) == CLICKS
    session.expire_all()
    ids_ = [req_id for req_id, _, _ in targets]
    assert set(session.exec(select(Requirement.status).where(col(Requirement.id).in_(ids_)))) == {"confirmed"}
    assert set(session.exec(select(Outbox.status))) == {"sent"}
