"""Acknowledgements have their own capacity: slow post-ack work never holds them back."""

from __future__ import annotations

import json
import logging
import threading
import time
from urllib.parse import parse_qs, urlencode

from bot.blocks import ids
from bot.logs import context_fields
from tests.conftest import TEAM
from tests.fakes import payloads as p


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
