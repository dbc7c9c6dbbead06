"""Acknowledgements have their own capacity: slow post-ack work never holds them back."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from bot.blocks import ids
from bot.db import session_scope
from bot.logs import context_fields
from bot.models import ChangeRequest, Project, Requirement
from bot.services import requirements
from tests.conftest import CLIENT_CHANNEL, TEAM
from tests.fakes import payloads as p
from tests.hostile.world import make_cr


def test_slow_post_ack_work_never_delays_the_next_acknowledgement(server, fake_slack, people, make_project):
    """Issue 11, item 5: with five slow Slack calls in flight (Bolt's pool of 5 threads busy with
    post-ack work), the next slash command was not acknowledged within Slack's 3 seconds."""
    make_project()
    fake_slack.delay("views.publish", 4.0, times=8)  # each click's post-ack work: 4 s on Slack
    clicks = [p.block_actions(ids.HOME_REFRESH, "x", user=people.dev, team_id=TEAM, channel_id="DU0DEV",
                              response_url=fake_slack.response_url(f"c{n}")) for n in range(8)]
    answers: list[int] = []
    threads = [threading.Thread(target=lambda c=c: answers.append(p.post(server, *c).status_code)) for c in clicks]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # every click acknowledged; their post-ack work now waits on Slack
    started = time.perf_counter()
    response = p.post(server, *p.slash_command("/req", "help", user=people.dev, team_id=TEAM,
                                               response_url=fake_slack.response_url("cmd")))
    took = time.perf_counter() - started
    for thread in threads:
        thread.join(timeout=30)
    assert response.status_code == 200 and "/req" in response.json()["text"]
    assert took < 1.5, f"the command waited {took:.1f} s for a thread"
    assert answers == [200] * 8
    assert len(fake_slack.wait_for("views.publish", 8, timeout=20)) == 8  # the post-ack work was done too


def _requirement(engine, clock, project, people) -> tuple[str, str, Any, Any]:
    with session_scope(engine) as s:
        req = requirements.create(s, clock, project=s.get(Project, project.id), actor=people.pm.id,
                                  raised_by_client=False, data=requirements.RequirementInput(title="Guest checkout"))
    return ids.REQ_DEFER, str(req.id), people.pm, lambda s: s.get(Requirement, req.id).status == "deferred"


def _change_request(engine, clock, project, people) -> tuple[str, str, Any, Any]:
    with session_scope(engine) as s:
        cr_id = make_cr(s, clock, s.get(Project, project.id), "submitted", tag="DM", client=people.client.id,
                        dev=people.dev.id)
    return ids.CHANGE_WITHDRAW, str(cr_id), people.client, lambda s: s.get(ChangeRequest, cr_id).status == "withdrawn"


@pytest.mark.parametrize("item", [_requirement, _change_request], ids=["requirement", "change request"])
def test_a_click_waiting_on_slack_never_holds_up_another_request_s_save(server, fake_slack, people, make_project,
                                                                          engine, clock, item):
    """A button clicked in a DM or the App Home acts on a project only for someone in one of its
    channels, which Slack must say (users.conversations). That lookup ran inside the click's
    transaction: on SQLite, with every writer of the process waiting for it, a quick capture in
    the client channel was not saved (nor acknowledged) until Slack answered."""
    project = make_project()
    fake_slack.set_members(CLIENT_CHANNEL, [people.pm.id, people.client.id])
    action, value, user, applied = item(engine, clock, project, people)
    fake_slack.delay("users.conversations", 2.5)
    click = p.block_actions(action, value, user=user, team_id=TEAM, channel_id=f"D{user.id}",
                            response_url=fake_slack.response_url("click"))
    clicked = threading.Thread(target=lambda: p.post(server, *click))
    clicked.start()
    time.sleep(0.5)  # the click is acknowledged; its work now waits on Slack
    started = time.perf_counter()
    response = p.post(server, *p.slash_command("/req", "Export to PDF", user=people.dev, team_id=TEAM,
                                               channel_id=CLIENT_CHANNEL, response_url=fake_slack.response_url("c")))
    took = time.perf_counter() - started
    clicked.join(timeout=30)
    assert response.status_code == 200 and "Export to PDF" in response.json()["text"]
    assert took < 1.5, f"the capture waited {took:.1f} s for the click's Slack call"
    fake_slack.wait_for("response_url", 1, timeout=10)
    with session_scope(engine) as s:  # and the click, once Slack answered, did what it was for
        assert applied(s)


def test_the_answer_leaves_at_ack_while_the_listener_goes_on(server, fake_slack, people, make_project):
    """Issue 13: the listener runs in the thread that dispatched its request, and its answer is
    handed over the moment it calls ack(), not when its work is done."""
    make_project()
    fake_slack.delay("views.publish", 1.5)  # the refresh's post-ack work: 1.5 s on Slack
    started = time.perf_counter()
    response = p.post(server, *p.block_actions(ids.HOME_REFRESH, "x", user=people.dev, team_id=TEAM,
                                               channel_id="DU0DEV", response_url=fake_slack.response_url("r")))
    answered = time.perf_counter() - started
    assert response.status_code == 200
    assert answered < 1.0, f"the answer waited {answered:.1f} s for the post-ack work"
    (published,) = fake_slack.wait_for("views.publish", 1, timeout=10)
    assert published.params["user_id"] == people.dev.id


class _Records(logging.Handler):
    """Each record with the request context it was logged in (read when it is logged)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[logging.LogRecord, dict]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record, context_fields(record)))


def test_lines_a_listener_logs_after_ack_carry_the_request_id(server, fake_slack, people, make_project):
    """What a listener logs after ack() (here: Slack refusing the App Home it published) names
    the request it serves, as the request's own access line does."""
    make_project()
    fake_slack.fail("views.publish", status=200, error="invalid_blocks")
    lines = _Records()
    logging.getLogger("bot.errors").addHandler(lines)
    try:
        response = p.post(server, *p.block_actions(ids.HOME_REFRESH, "x", user=people.dev, team_id=TEAM,
                                                   channel_id="DU0DEV", response_url=fake_slack.response_url("r")))
        assert response.status_code == 200
        deadline = time.monotonic() + 10
        while not lines.seen and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        logging.getLogger("bot.errors").removeHandler(lines)
    [(record, context)] = lines.seen
    assert record.getMessage() == "unhandled error in a Slack handler"
    assert context.get("request_id") == response.headers["x-request-id"]


def test_a_team_given_as_its_bare_id_is_answered_and_logged(server, fake_slack, people, make_project):
    """Slack names a team by an object or by its id alone; the guard lets both in, and the access
    line read `team.id` of a string: the exception cut the connection after the answer (found
    by tests/hostile/test_actions.py)."""
    make_project()
    body, _ = p.block_actions(ids.HOME_REFRESH, "x", user=people.dev, team_id=TEAM, channel_id="DU0DEV",
                              response_url=fake_slack.response_url("r"))
    payload = json.loads(parse_qs(body)["payload"][0])
    payload["team"] = TEAM
    body = urlencode({"payload": json.dumps(payload)})
    access, logger = _Records(), logging.getLogger("bot.access")
    level = logger.level
    logger.addHandler(access)
    logger.setLevel(logging.INFO)
    try:
        response = p.post(server, body, p.sign(body))
        deadline = time.monotonic() + 5  # the line is written once the answer has gone out
        while not access.seen and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        logger.removeHandler(access)
        logger.setLevel(level)
    assert response.status_code == 200
    [(line, _)] = access.seen
    assert line.__dict__["team"] == TEAM and line.__dict__["user"] == people.dev.id
    assert line.__dict__["status"] == 200
