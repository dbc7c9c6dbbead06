"""Three real `pmbot run` processes behind a (round-robin) load balancer, on one PostgreSQL, each
with its scheduler on: every request is stored once, every digest and reminder sent once."""

from __future__ import annotations

import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import select

from bot.clock import SystemClock
from bot.flows import outbox_keys
from bot.flows.outbox_keys import digest as digest_key
from bot.models import Outbox, Project, Requirement
from bot.services import calendar, reminders
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, TEAM, SlackDriver
from tests.e2e.helpers import submit_project
from tests.resilience.helpers import (
    NOT_POSTGRES_REASON,
    ON_POSTGRES,
    accepted_posts,
    add_reminder_items,
    backdate_projects,
    bot_env,
    due_now_fields,
    free_port,
    pmbot,
    posted_keys,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not ON_POSTGRES, reason=NOT_POSTGRES_REASON)]

PROCESSES = 3
REQUESTS = 60
TICK_STARTED = 'pmbot_job_runs_started_total{job="pmbot-tick"}'  # from /metrics
TICK_DONE = 'pmbot_job_duration_seconds_count{job="pmbot-tick"}'


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _metric(base: str, series: str) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def test_three_processes_on_one_postgres_store_each_request_once_and_send_each_message_once(
        fake_slack, database_url, engine, session, people, tmp_path):
    now = datetime.now(UTC)
    due = due_now_fields(now)
    ports = [free_port() for _ in range(PROCESSES)]
    logs = [tmp_path / f"bot{i}.log" for i in range(PROCESSES)]
    procs = [pmbot(["run"], bot_env(fake_slack, database_url, PORT=str(port), SCHEDULER_ENABLED="true",
                                    LOG_LEVEL="INFO", METRICS_ENABLED="true"), tmp_path, log)
             for port, log in zip(ports, logs, strict=True)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    drivers = [SlackDriver(base, fake_slack) for base in bases]
    try:
        for base, proc in zip(bases, procs, strict=True):
            wait_until(lambda b=base, p=proc: _healthy(b) or p.poll() is not None, timeout=60, what=f"{base} up")
            assert proc.poll() is None, "a bot process died at start-up"

        # The PM sets the project up (through the first process) …
        resp = submit_project(drivers[0], people.pm, timezone=due["timezone"], weekday=str(due["digest_weekday"]),
                              digest_time=due["digest_time"], working_days=[str(d) for d in due["working_days"]])
        assert resp.status_code == 200 and not resp.content, resp.text
        project = session.exec(select(Project)).one()
        backdate_projects(engine)  # it existed before its digest was due (a few minutes ago)
        add_reminder_items(engine, SystemClock(), project.id, risk_owner=people.dev.id)
        ticks_before = [_metric(base, TICK_STARTED) for base in bases]

        # … and 60 quick captures from four people arrive, spread round-robin over the processes.
        authors = [people.pm, people.dev, people.client, people.outsider]

        def capture(i: int) -> httpx.Response:
            return drivers[i % PROCESSES].command("/req", f"Scale-out request {i:02d}", user=authors[i % 4])

        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(capture, range(REQUESTS)))
        assert [a.status_code for a in answers] == [200] * REQUESTS
        assert all(":white_check_mark:" in a.json()["text"] for a in answers), [a.text for a in answers]

        # Slow posts: a tick sending the digests and reminders is still at it when the other
        # processes tick (they started within a second of each other), so they really race.
        fake_slack.delay("chat.postMessage", 1.5, times=1000)

        # Every scheduler ticks (at start-up, then every 60 s): wait until each has run a whole
        # tick that began after the set-up, and the messages due are in Slack.
        week = calendar.week_key(calendar.today(project, now))
        expected = {digest_key(project.id, week, "client"): 1, digest_key(project.id, week, "internal"): 1,
                    **{outbox_keys.reminder(TEAM, user, project.timezone, calendar.today(project, now).isoformat(),
                                            reminders.reminder_start(project).strftime("%H%M")): 1
                       for user in (people.dev.id, people.pm.id)}}

        def ticked_after_setup() -> bool:
            return all(_metric(base, TICK_DONE) > before for base, before in zip(bases, ticks_before, strict=True))

        wait_until(lambda: ticked_after_setup() and set(_scheduled(accepted_posts(fake_slack))) >= set(expected),
                   timeout=150, interval=0.5, what="every process to tick and the digests and reminders to go out")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=60) for proc in procs]
        for driver in drivers:
            driver.http.close()

    outputs = [log.read_text() for log in logs]
    # Stopped cleanly on SIGTERM.
    assert codes == [0] * PROCESSES, outputs
    assert not [o for o in outputs if "Traceback" in o], outputs
    # Every request stored exactly once.
    titles = Counter(r.title for r in session.exec(select(Requirement)).all())
    assert titles == {f"Scale-out request {i:02d}": 1 for i in range(REQUESTS)}
    # Every digest (client and internal) and every reminder DM: exactly once, across the three.
    channels = [CLIENT_CHANNEL, INTERNAL_CHANNEL, fake_slack.dm_channel(people.dev.id),
                fake_slack.dm_channel(people.pm.id)]
    assert _scheduled(posted_keys(fake_slack, channels)) == expected
    assert _scheduled(accepted_posts(fake_slack)) == expected
    rows = {r.key: r for r in session.exec(select(Outbox)).all()}
    assert all(rows[k].status == "sent" for k in expected)
    # All three served requests.
    served = [o.count("slack request") for o in outputs]
    assert all(n >= REQUESTS // PROCESSES for n in served), served
    senders = Counter(rows[k].claimed_by for k in expected)
    print(f"\nrequests served per process: {served}; scheduled messages sent by: {dict(senders)}")


def _scheduled(keys: Counter[str]) -> dict[str, int]:
    return {k: n for k, n in keys.items() if k.startswith(("digest:", "remind:"))}
