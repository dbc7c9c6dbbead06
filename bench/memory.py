#!/usr/bin/env python3
"""Benchmark: peak memory (RSS) of `pmbot run`, idle and while it sends 2,000 projects' digests.

    .venv/bin/python bench/memory.py                          # SQLite
    .venv/bin/python bench/memory.py --database postgresql    # a throwaway PostgreSQL cluster
    .venv/bin/python bench/memory.py --projects 0             # idle only

1. Idle: `pmbot run` as it is deployed (HTTP mode, scheduler on, LOG_LEVEL=WARNING) on a fresh
   database holding one project, against the fake Slack Web API (tests/fakes/slack_api.py).
   Once GET /healthz answers and the scheduler's first tick is over (--settle seconds), prints
   the process's peak RSS (VmHWM from /proc/<pid>/status) and current RSS. Goal: under 100 MB
   (issue 13; it was 150 MB).
2. Digest run (needs bench/digest_send.py, which brings the rate-limited fake Slack, and
   bench/digest_build.py, which seeds the projects): a fresh database with --projects projects
   (~30 requirements, 10 change requests, 8 milestones, 10 risks and 50 feedback answers each),
   every one's weekly digest due ten minutes ago; a fresh `pmbot run` whose scheduler posts them
   (client + internal channel) through a fake Slack allowing about one message per second per
   channel and --workspace-rate per second overall (HTTP 429 + Retry-After beyond). RSS is sampled
   every 0.2 s until every digest was posted (or the time limit); prints the peak (VmHWM), the
   time taken and duplicates / misses. Goal: under 400 MB.

Everything listens on 127.0.0.1; every wait is bounded. Exit status 0 when the goals are met.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _harness as h

IDLE_GOAL_MB = 100
RUN_GOAL_MB = 400


def idle(database: str, settle: float) -> float:
    """Peak RSS (MB) of an idle `pmbot run` after start-up and its scheduler's first tick."""
    fake = h.start_fake_slack(h.team_users(3))
    try:
        with h.database(database) as url, tempfile.TemporaryDirectory(prefix="pmbot-bench-logs-") as logs:
            h.migrate_and_make_project(url)
            server = h.start_pmbot(fake.url, url, Path(logs), scheduler=True)
            try:
                time.sleep(settle)
                status = h.proc_status(server.process.pid)
            finally:
                server.stop()
    finally:
        fake.stop()
    peak, rss = status["VmHWM"] / 1024, status["VmRSS"] / 1024
    print(f"idle `pmbot run` (scheduler on, {settle:g} s after /healthz answered): peak RSS {peak:.1f} MB, "
          f"RSS now {rss:.1f} MB (goal: under {IDLE_GOAL_MB} MB)")
    return peak


def make_all_due(url: str, now: datetime) -> None:
    """Every project's digest due ten minutes ago, this week, on a working day (all in UTC,
    created just before, so no earlier week is owed and none is late enough to ask the PM)."""
    from sqlalchemy import update

    from bot.db import make_engine
    from bot.models import Project

    due = (now - timedelta(minutes=10)).replace(second=0, microsecond=0)
    engine = make_engine(h.psycopg_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(update(Project).values(
                timezone="UTC", working_days=list(range(7)), holidays=[], digest_weekday=due.weekday(),
                digest_time=due.time(), created_at=due - timedelta(minutes=1), preview_lead_minutes=0,
            ))
    finally:
        engine.dispose()


def digest_run(database: str, projects: int, workspace_rate: int, limit: float) -> float | None:
    """Peak RSS (MB) of `pmbot run` while its scheduler posts `projects` projects' digests."""
    try:
        from digest_build import seed
        from digest_send import RateLimitedSlack
    except ImportError as err:
        print(f"digest run: skipped ({err.name} is not in bench/ of this checkout)")
        return None
    from bot.db import make_engine
    from bot.migrate import upgrade

    slack = RateLimitedSlack(workspace_rate)
    try:
        with h.database(database) as url, tempfile.TemporaryDirectory(prefix="pmbot-bench-logs-") as logs:
            engine = make_engine(h.psycopg_url(url))
            upgrade(engine)
            t0 = time.monotonic()
            seed(engine, projects)
            engine.dispose()
            make_all_due(url, datetime.now(UTC))
            print(f"digest run: seeded {projects} projects in {time.monotonic() - t0:.0f} s")

            expected = 2 * projects
            lower_bound = expected / workspace_rate
            deadline = time.monotonic() + max(limit, 3 * lower_bound + 120)
            server = h.start_pmbot(slack.url, url, Path(logs), scheduler=True)
            started = time.monotonic()
            peak_rss = 0
            try:
                while time.monotonic() < deadline and server.process.poll() is None:
                    peak_rss = max(peak_rss, h.proc_status(server.process.pid)["VmRSS"])
                    with slack.lock:
                        sent = sum(1 for _, key, _ in slack.posted if key.startswith("digest:"))
                    if sent >= expected:
                        break
                    time.sleep(0.2)
                elapsed = time.monotonic() - started
                status = h.proc_status(server.process.pid)
            finally:
                server.stop()
    finally:
        slack.server.shutdown()

    counts = Counter(key for _, key, _ in slack.posted if key.startswith("digest:"))
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    misses = expected - len(counts)
    # VmHWM lags the per-thread RSS counters a little, so a sample may top it.
    peak = max(status["VmHWM"], peak_rss) / 1024
    print(f"digest run: {len(counts)} of {expected} digest messages posted in {elapsed:.0f} s from start-up "
          f"(lower bound {lower_bound:.0f} s at {workspace_rate}/s); {duplicates} duplicates, {misses} misses; "
          f"{slack.limited} answers 429")
    print(f"`pmbot run` during the run: peak RSS {peak:.1f} MB, RSS at the end {status['VmRSS'] / 1024:.1f} MB "
          f"(goal: under {RUN_GOAL_MB} MB)")
    return peak if misses == 0 and duplicates == 0 else float("inf")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--settle", type=float, default=10, help="seconds idle before measuring (default 10)")
    parser.add_argument("--projects", type=int, default=2000, help="projects in the digest run; 0 skips it")
    parser.add_argument("--workspace-rate", type=int, default=50, help="messages per second the fake Slack "
                        "allows workspace-wide in the digest run (default 50)")
    parser.add_argument("--max-seconds", type=float, default=600, help="time limit of the digest run")
    args = parser.parse_args()

    print(f"Machine: {h.machine()}")
    print(f"Database: {args.database}")
    ok = idle(args.database, args.settle) < IDLE_GOAL_MB
    if args.projects > 0:
        peak = digest_run(args.database, args.projects, args.workspace_rate, args.max_seconds)
        if peak is not None:
            ok = ok and peak < RUN_GOAL_MB
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
