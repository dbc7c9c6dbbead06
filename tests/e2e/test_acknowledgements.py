"""Acknowledgements have their own capacity: slow post-ack work never holds them back."""

from __future__ import annotations

import threading
import time

from bot.blocks import ids
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
