#!/usr/bin/env python3
"""Benchmark: sending 2,000 projects' digests under Slack's rate limits (issue 7).

A fake Slack Web API on loopback enforces about one message per second per channel and a
workspace-wide limit (fixed one-second windows), answering HTTP 429 with Retry-After beyond
them, like Slack. PM Bot's digest job then posts every due digest (client + internal channel).

    .venv/bin/python bench/digest_send.py --no-charts          # 2,000 projects, 50 messages/s
    .venv/bin/python bench/digest_send.py --projects 200       # with each digest's chart
    .venv/bin/python bench/digest_send.py --projects 200 --workspace-rate 20

The clock is frozen on Tuesday 17 November 2026, 10:00 UTC (a week without public holidays in
China, Germany (Berlin) and the US (California)). Each project keeps its time zone (Shanghai,
Berlin, Los Angeles) and its zone's public-holiday calendar; its digest day is Tuesday, its
digest time half an hour before the clock's local time and its working hours around it, so every
project is inside its working hours with its digest just due (the bench checks this first).

Prints: total time against the lower bound the limits allow, the 429s received, duplicates and
misses (by the message metadata key), the charts uploaded and the process's peak RSS. Goal:
within 1.15x the bound (without charts), zero duplicates, zero misses, and no request sent while
Slack asked to wait.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from digest_build import seed  # bench/ is on sys.path when this script runs
from sqlalchemy import select, update
from sqlmodel import Session

from bot.app import create_app, deps_of
from bot.clock import FrozenClock
from bot.config import Settings
from bot.db import make_engine
from bot.flows.digest import run_due as run_digests
from bot.migrate import upgrade
from bot.models import Project
from bot.reports.holiday_regions import default_calendar
from bot.services import calendar

# Tuesday 10:00 UTC = 18:00 in Shanghai, 11:00 in Berlin, 02:00 in Los Angeles: still Tuesday in
# every zone, and no public holiday that week in any of their calendars.
NOW = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)


def make_due(engine) -> None:
    """Give every project a digest due at NOW under the working-calendar rules: a Tuesday
    digest half an hour before NOW's local time, working hours from an hour before to three
    hours after it, the zone's public-holiday calendar. Fails loudly if one is not due."""
    with engine.begin() as conn:
        zones = [row[0] for row in conn.execute(select(Project.timezone).distinct())]
        for name in zones:
            local = NOW.astimezone(calendar.zone(name))
            country, subdivision = default_calendar(name)
            conn.execute(update(Project).where(Project.timezone == name).values(
                digest_weekday=local.weekday(), digest_time=(local - timedelta(minutes=30)).time(),
                work_start=(local - timedelta(hours=1)).time(), work_end=(local + timedelta(hours=3)).time(),
                working_days=[0, 1, 2, 3, 4], holidays=[], country=country, subdivision=subdivision))
    with Session(engine) as session:
        for p in session.scalars(select(Project)):
            due = [d for _, d in calendar.recent_digest_weeks(p, NOW) if p.created_at < d <= NOW]
            assert calendar.within_working_hours(p, NOW) and due, f"{p.name} ({p.timezone}) is not due at {NOW}"


class RateLimitedSlack:
    """Just enough of the Web API for the digest job, with Slack's pacing enforced."""

    def __init__(self, workspace_rate: int, channel_interval: float = 1.0) -> None:
        self.workspace_rate = workspace_rate
        self.channel_interval = channel_interval
        self.lock = threading.Lock()
        self.window = 0
        self.in_window = 0
        self.last_in_channel: dict[str, float] = {}
        self.posted: list[tuple[str, str, float]] = []  # (channel, key, time)
        self.limited = 0
        self.early = 0  # requests that arrived while an announced Retry-After was still running
        self.blocked_until = 0.0
        self.history: dict[str, list[dict]] = defaultdict(list)
        self.ts = 0
        self.uploads = 0  # digest chart: files uploaded
        self.started = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.path.startswith("/upload/"):  # digest chart: the file's bytes
                    self.rfile.read(length)
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"OK")
                    return
                raw = self.rfile.read(length).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(raw).items()}
                status, body, headers = fake.answer(self.path.rsplit("/", 1)[-1], params)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, method: str, params: dict) -> tuple[int, dict, dict]:
        if method == "auth.test":
            return 200, {"ok": True, "team_id": "T0BENCH", "user_id": "UBOT", "bot_id": "BBOT"}, {}
        if method == "conversations.open":
            return 200, {"ok": True, "channel": {"id": "D" + str(params.get("users"))}}, {}
        if method == "conversations.history":
            return 200, {"ok": True, "messages": self.history.get(str(params.get("channel")), [])}, {}
        if method == "files.getUploadURLExternal":  # digest chart (issue 16)
            with self.lock:
                self.uploads += 1
                file_id = f"F{self.uploads:09d}"
            return 200, {"ok": True, "file_id": file_id,
                         "upload_url": self.url.replace("/api/", f"/upload/{file_id}")}, {}
        if method == "files.completeUploadExternal":
            files = params.get("files")
            files = json.loads(files) if isinstance(files, str) else files or []
            return 200, {"ok": True, "files": [{"id": f.get("id"), "title": f.get("title")} for f in files]}, {}
        if method != "chat.postMessage":
            return 200, {"ok": True}, {}
        now = time.monotonic()
        channel = str(params.get("channel"))
        metadata = params.get("metadata")
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata or {}
        with self.lock:
            if now < self.blocked_until:
                self.early += 1
            window = int(now)
            if window != self.window:
                self.window, self.in_window = window, 0
            wait_channel = self.last_in_channel.get(channel, -1e9) + self.channel_interval - now
            if self.in_window >= self.workspace_rate or wait_channel > 0:
                self.limited += 1
                retry = max(window + 1 - now if self.in_window >= self.workspace_rate else 0, wait_channel)
                self.blocked_until = max(self.blocked_until, now + retry)
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(max(1, math.ceil(retry)))}
            self.in_window += 1
            self.last_in_channel[channel] = now
            self.ts += 1
            ts = f"1763600000.{self.ts:06d}"
            self.posted.append((channel, (metadata.get("event_payload") or {}).get("key", ""), now))
            self.history[channel].insert(0, {"ts": ts, "metadata": metadata})
        return 200, {"ok": True, "channel": channel, "ts": ts}, {}


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--workspace-rate", type=int, default=50, help="messages per second, workspace-wide")
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--no-charts", action="store_true", help="digests without their chart (issue 16)")
    args = parser.parse_args()

    slack = RateLimitedSlack(args.workspace_rate)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/send.db"
        engine = make_engine(url)
        upgrade(engine)
        # Created this week: each project owes this week's digest only (no missed earlier one).
        seed(engine, args.projects, created_at=datetime(2026, 11, 16, tzinfo=UTC))
        make_due(engine)
        if args.no_charts:
            with engine.begin() as conn:
                conn.execute(update(Project).values(charts_enabled=False))
        settings = Settings(slack_bot_token="xoxb-bench", slack_signing_secret="bench", slack_app_token=None,
                            slack_api_url=slack.url, database_url=url, port=0, scheduler_enabled=False,
                            log_level="WARNING")
        deps = deps_of(create_app(settings, engine=engine, clock=FrozenClock(NOW)))
        slack.started = started = time.monotonic()
        report = run_digests(deps)
        elapsed = time.monotonic() - started
        engine.dispose()

    week = calendar.week_key(NOW.date())
    expected = {f"digest:{i}:{week}:{aud}" for i in range(1, args.projects + 1) for aud in ("client", "internal")}
    counts = Counter(key for _, key, _ in slack.posted)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    misses = len(expected - set(counts))
    per_channel = Counter(channel for channel, _, _ in slack.posted)
    messages = len(expected)
    bound = max(messages / args.workspace_rate, (max(per_channel.values()) - 1) * 1.0 if per_channel else 0)
    print(f"projects: {args.projects}, digests due: {len(report.posted)}, messages to send: {messages}")
    print(f"limits: {args.workspace_rate} messages/s workspace-wide, 1 message/s per channel")
    print(f"total time: {elapsed:.1f} s; lower bound allowed by the limits: {bound:.1f} s; "
          f"ratio: {elapsed / bound:.2f} (goal: at most 1.15 without charts)")
    if slack.posted:
        first, last = min(t for *_, t in slack.posted) - slack.started, max(t for *_, t in slack.posted) - slack.started
        busiest = max(Counter(int(t) for *_, t in slack.posted).values())
        print(f"first message posted after {first:.1f} s (due digests gathered, built and queued), last after "
              f"{last:.1f} s; busiest second: {busiest} messages")
    print(f"429 answers: {slack.limited}; requests sent while told to wait: {slack.early}")
    print(f"duplicates: {duplicates}; misses: {misses}; charts uploaded: {slack.uploads}")
    print(f"peak RSS of this process (bot + fake Slack): {peak_rss_mb():.0f} MB")
    return 0 if duplicates == 0 and misses == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
