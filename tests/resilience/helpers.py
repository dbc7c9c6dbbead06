"""What the resilience tests share: projects whose digest and reminders are due *now* on the real
clock, real `pmbot` subprocesses, a scripted fake Slack, and counting what Slack really holds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from bot.slack.post import METADATA_EVENT
from tests.fakes import payloads
from tests.fakes.slack_api import FakeSlack

PG_URL = os.environ.get("PMBOT_TEST_DATABASE_URL") or ""
ON_POSTGRES = PG_URL.startswith("postgres")
NOT_POSTGRES_REASON = "needs PostgreSQL: set PMBOT_TEST_DATABASE_URL=postgresql://… (SQLite serves one process)"


def wait_until(condition: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str = "") -> Any:
    """Poll `condition` until it returns something truthy (returned); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


# Time: due now on the real clock ------------------------------------------------------------


def noon_zone(now: datetime) -> str:
    """A fixed-offset time zone in which it is between 12:00 and 13:00 at `now`.

    Reminders go out from 09:00 project time within working hours, and a digest due "a few
    minutes ago" must fall on today's date: local noon satisfies both whatever the UTC hour."""
    offset = 12 - now.astimezone(UTC).hour  # -11 … +12 hours
    if offset == 0:
        return "UTC"
    # POSIX sign convention: Etc/GMT-5 is five hours *ahead* of UTC.
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def due_now_fields(now: datetime, minutes_ago: int = 5) -> dict[str, Any]:
    """Project settings that make this week's digest due `minutes_ago` before `now`, every day a
    working day (ProjectInput field names)."""
    zone = noon_zone(now)
    due = now.astimezone(ZoneInfo(zone)) - timedelta(minutes=minutes_ago)
    return {"timezone": zone, "digest_weekday": due.weekday(), "digest_time": due.strftime("%H:%M"),
            "working_days": list(range(7))}


def backdate_projects(engine: Engine, hours: float = 1.0) -> None:
    """A digest is only due for a project that existed at its due time."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE project SET created_at = :at"),
                     {"at": datetime.now(UTC) - timedelta(hours=hours)})


# What Slack holds --------------------------------------------------------------------------


def posted_keys(fake: FakeSlack, channels: Iterable[str]) -> Counter[str]:
    """How many messages carrying each outbox key the channels hold (the bot's metadata)."""
    found: Counter[str] = Counter()
    for channel in channels:
        for message in fake.messages(channel):
            meta = message.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT:
                found[(meta.get("event_payload") or {}).get("key")] += 1
    return found


def accepted_posts(fake: FakeSlack) -> Counter[str]:
    """chat.postMessage calls the fake accepted (stored), by outbox key, whether or not the
    sender lived to read the answer."""
    found: Counter[str] = Counter()
    for call in fake.calls_to("chat.postMessage"):
        meta = call.params.get("metadata")
        if call.ok and isinstance(meta, dict):
            found[(meta.get("event_payload") or {}).get("key")] += 1
    return found


class Script:
    """Answers scripted call by call for some methods of a running FakeSlack.

    FakeSlack's own `fail`/`delay` queues always hit the *next* calls; a script can also let calls
    through ("ok") in between, e.g. `["ok", 500, ("429", 1), ("delay", 1.5)]`. Steps:
    "ok"; an int HTTP status (500, 503 …); ("429", retry_after); ("delay", seconds)."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.steps: dict[str, deque[Any]] = {}
        self._lock = threading.Lock()
        original = fake._serve

        def serve(verb: str, raw_path: str, headers: dict[str, str], body: bytes):
            path = urlsplit(raw_path).path
            if path.startswith("/api/"):
                self._apply(path[len("/api/"):])
            return original(verb, raw_path, headers, body)

        fake._serve = serve  # type: ignore[method-assign]

    def add(self, method: str, steps: Iterable[Any]) -> None:
        with self._lock:
            self.steps.setdefault(method, deque()).extend(steps)

    def left(self, method: str) -> int:
        with self._lock:
            return len(self.steps.get(method, ()))

    def _apply(self, method: str) -> None:
        with self._lock:
            queue = self.steps.get(method)
            step = queue.popleft() if queue else "ok"
        if step == "ok":
            return
        if isinstance(step, int):
            self.fake.fail(method, status=step)
        elif step[0] == "429":
            self.fake.fail(method, status=429, retry_after=int(step[1]))
        elif step[0] == "delay":
            self.fake.delay(method, float(step[1]))
        else:  # pragma: no cover - a typo in a test
            raise ValueError(f"unknown script step {step!r}")


# Real processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REPO = Path(__file__).resolve().parents[2]


def bot_env(fake: FakeSlack, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `pmbot` subprocess: the fake Slack, the test database, nothing else
    from the test's own environment (no stray .env either: run it in a temporary directory)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET, "SLACK_API_URL": fake.url,
           "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": str(REPO)}  # this checkout's code, not whichever copy is installed
    env.update(extra)
    return env


def pmbot_command(args: list[str], env: dict[str, str]) -> list[str]:
    """`python -m bot ARGS`; when the suite runs with the real clock moved to a fixed moment
    (PMBOT_TEST_REAL_NOW), the child's clock starts at the test's "now" too (tests.fakes.clocked)."""
    if not os.environ.get("PMBOT_TEST_REAL_NOW"):
        return [sys.executable, "-m", "bot", *args]
    return [sys.executable, "-m", "tests.fakes.clocked", datetime.now(UTC).isoformat(), *args]


def pmbot(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    """Start `python -m bot ARGS`, its output (both streams) into `log`."""
    out = log.open("ab")
    try:
        return subprocess.Popen(pmbot_command(args, env), env=env, cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT)
    finally:
        out.close()  # the child holds its own descriptor


# Reminder items ----------------------------------------------------------------------------


def add_reminder_items(engine: Engine, clock: Any, project_id: int, *, risk_owner: str) -> None:
    """An open risk due for review today (reminds `risk_owner`) and a milestone three days late
    (reminds the PM), through the services as the modals would create them."""
    from bot.db import session_scope
    from bot.models import Project
    from bot.services import calendar, milestones, risks

    with session_scope(engine) as s:
        project = s.get(Project, project_id)
        assert project is not None
        today = calendar.today(project, clock.now())
        risks.create(s, clock, project=project, actor=project.pm_user_id, data=risks.RiskInput(
            title=f"Vendor API may slip ({project.name})", owner_user_id=risk_owner, probability=3, impact=3,
            next_review=today.isoformat()))
        milestones.create(s, clock, project=project, actor=project.pm_user_id, allow_past_due=True,
                          data=milestones.MilestoneInput(name=f"Beta ({project.name})",
                                                         due_date=(today - timedelta(days=3)).isoformat(),
                                                         progress="40"))
