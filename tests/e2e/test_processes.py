"""Several real `pmbot` processes on one database: each digest is sent exactly once."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from sqlmodel import select

from bot.models import Outbox
from tests.fakes import payloads


def _env(fake_slack, database_url: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.url, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}


def test_two_pmbot_digest_processes_racing_post_one_digest(fake_slack, make_project, database_url, session, clock):
    """Two processes run `pmbot digest` at the same moment, on the test's clock (not the real
    one: what is due must not depend on the day the suite runs), for a project whose digest is
    due now: one digest in the client channel, one in the internal channel."""
    now = clock.now()
    due = now - timedelta(minutes=10)
    clock.set(now - timedelta(hours=1))  # the project existed before this week's digest was due
    make_project(timezone="UTC", digest_weekday=due.weekday(), digest_time=due.strftime("%H:%M"),
                 working_days=list(range(7)))
    fake_slack.delay("chat.postMessage", 1.0, times=20)  # hold the first post so the two overlap
    env = _env(fake_slack, database_url)
    procs = [subprocess.Popen([sys.executable, "-m", "tests.fakes.clocked", now.isoformat(), "digest"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.status == 200]
    assert sorted(c.params["channel"] for c in posts) == ["C0CLIENT", "C0INTERNAL"], outputs
    rows = session.exec(select(Outbox).where(Outbox.kind == "digest")).all()
    assert len(rows) == 2 and {r.status for r in rows} == {"sent"}
