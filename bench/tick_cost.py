#!/usr/bin/env python3
"""What one scheduler tick costs: CPU milliseconds and SQL statements per tick, overall and per
step of `bot.jobs.scheduler.STEPS`, across a week of a controlled clock.

    .venv/bin/python bench/tick_cost.py                          # 50 projects, a tick every 15 min, SQLite
    .venv/bin/python bench/tick_cost.py --projects 200 --every 5
    .venv/bin/python bench/tick_cost.py --database-url postgresql://…   # an empty PostgreSQL database
    .venv/bin/python bench/tick_cost.py --pg-dir /tmp/pg-tick     # a fresh one in a throwaway cluster
    .venv/bin/python bench/tick_cost.py --profile 25              # and cProfile's top 25 functions

`pmbot run` ticks every 60 s, day and night, and most ticks find nothing due: their cost is
the bot's idle CPU. The bot is built by `bot.app.create_app` as `pmbot run` builds it, against
the fake Slack Web API (tests/fakes/slack_api.py) on loopback and a fresh migrated database
with --projects projects in varied time zones (Tokyo to Honolulu), working days, working hours,
public-holiday calendars and digest days; a quarter wait for their PM's approval, some ask
for feedback every week or two, some post a monthly report, some accept deliveries on their
own. Each project has people's work to be reminded of (a risk overdue for review, a late
milestone, a submitted change request, an open follow-up, an overdue client item) and decisions
the client owes (a requirement waiting for confirmation, a change request waiting for
approval), so every step has rows to look at.

The clock starts on Monday 16 November 2026 00:00 UTC (no public holiday that week in the
calendars used) and a tick comes every --every minutes for --days days: the first day warms
up (reminders, nudges and digests of the week are queued and sent then), the rest is measured.
Each tick's CPU is the ticking thread's (`time.thread_time`: senders' threads, when a tick
sends to several channels, and the fake Slack's threads are not counted; a tick that sends
nothing does all its work in this thread). Ticks that made no Web API call ("idle") are shown
apart from those that sent something.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import logging
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any

import _harness as h
from _harness import payloads

START = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # a Monday
ZONES = ["Asia/Tokyo", "America/New_York", "Europe/Berlin", "Australia/Sydney", "America/Los_Angeles",
         "Asia/Kolkata", "Europe/London", "America/Sao_Paulo", "Asia/Shanghai", "UTC", "Pacific/Honolulu"]
PEOPLE = [f"U0DEV{i:02d}" for i in range(12)]
PMS = [f"U0PM{i:02d}" for i in range(6)]
CLIENT = h.CLIENT


class Counters:
    """SQL statements (BEGIN not counted: SQLite's is a statement, PostgreSQL's is not) and
    transactions; the statements' text while `log` is set."""

    def __init__(self) -> None:
        self.statements = 0
        self.transactions = 0
        self.log: list[str] | None = None

    def statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            self.statements += 1
            if self.log is not None:
                self.log.append(" ".join(statement.split())[:150])

    def begin(self, _conn: Any) -> None:
        self.transactions += 1


def seed(url: str, n: int, rng: random.Random) -> None:
    """n projects with work to remind of and decisions the client owes, created a month ago."""
    from bot.db import make_engine, session_scope
    from bot.migrate import upgrade
    from bot.models import (
        ChangeRequest,
        ChangeStatus,
        ClientItem,
        FeedbackResponse,
        FollowUp,
        Milestone,
        Project,
        Requirement,
        Risk,
    )
    from bot.reports.holiday_regions import default_calendar

    engine = make_engine(h.psycopg_url(url))
    created = START - timedelta(days=30)
    try:
        upgrade(engine)
        with session_scope(engine) as s:
            for i in range(n):
                zone = ZONES[i % len(ZONES)]
                country, subdivision = default_calendar(zone) if rng.random() < 0.6 else ("", "")
                start_hour = rng.choice([7, 8, 9, 9, 10])
                pm = PMS[i % len(PMS)]
                p = Project(team_id=h.TEAM, name=f"Tick Project {i:03d}", client_name=f"Client {i}",
                            client_channel_id=f"C0TICK{i:03d}", internal_channel_id=f"G0TICK{i:03d}",
                            pm_user_id=pm, client_approver_ids=[CLIENT], timezone=zone, language="en",
                            country=country, subdivision=subdivision,
                            working_days=rng.choice([[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0, 1, 2, 3], [1, 2, 3, 4, 5]]),
                            work_start=clock_time(start_hour, rng.choice([0, 30])),
                            work_end=clock_time(start_hour + rng.choice([6, 8, 9]), 0),
                            digest_weekday=rng.randint(0, 4), digest_time=clock_time(rng.randint(10, 16), 0),
                            preview_lead_minutes=rng.choice([60, 120]), require_pm_approval=i % 4 == 0,
                            feedback_cadence_weeks=rng.choice([0, 0, 1, 2]), monthly_report=i % 3 == 0,
                            monthly_report_since=created if i % 3 == 0 else None,
                            auto_accept_after_days=rng.choice([0, 3]), charts_enabled=False,
                            created_by=pm, created_at=created, updated_at=created)
                s.add(p)
                s.flush()
                person = PEOPLE[i % len(PEOPLE)]
                channel = p.client_channel_id
                s.add_all([
                    Risk(project_id=p.id, title=f"Risk {i}", owner_user_id=person, probability=4, impact=4,
                         next_review_date=START.date() - timedelta(days=3), created_at=created, updated_at=created),
                    Risk(project_id=p.id, title=f"Quiet risk {i}", owner_user_id=person, probability=1, impact=2,
                         next_review_date=START.date() + timedelta(days=60), mitigation="Plan B",
                         created_at=created, updated_at=created),
                    Milestone(project_id=p.id, name=f"Beta {i}", due_date=START.date() - timedelta(days=3),
                              progress=50, created_at=created, updated_at=created),
                    Milestone(project_id=p.id, name=f"Launch {i}", due_date=START.date() + timedelta(days=40),
                              progress=10, created_at=created, updated_at=created),
                    Requirement(project_id=p.id, title=f"SSO {i}", raised_by=pm, created_at=created,
                                updated_at=created, sent_for_confirmation_at=created,
                                confirmation_channel_id=channel, confirmation_ts="1.000100"),
                    Requirement(project_id=p.id, title=f"Export {i}", raised_by=pm, status="confirmed",
                                created_at=created, updated_at=created),
                    ChangeRequest(project_id=p.id, title=f"New page {i}", requested_by=CLIENT,
                                  requested_by_client=True, status=ChangeStatus.submitted,
                                  created_at=created, updated_at=created),
                    ChangeRequest(project_id=p.id, title=f"More reports {i}", requested_by=CLIENT,
                                  requested_by_client=True, status=ChangeStatus.assessed, assessed_at=created,
                                  approval_channel_id=channel, approval_ts="1.000200",
                                  created_at=created, updated_at=created),
                    ClientItem(project_id=p.id, title=f"Logo files {i}", owner_user_id=CLIENT,
                               due_date=START.date() - timedelta(days=2), channel_id=channel,
                               message_ts="1.000300", created_by=pm, created_at=created, updated_at=created),
                ])
                complaint = FeedbackResponse(project_id=p.id, user_id=CLIENT, responder_key=f"{p.id}:{CLIENT}",
                                             kind="complaint", comment="Slow replies", created_at=created,
                                             updated_at=created)
                s.add(complaint)
                s.flush()
                s.add(FollowUp(project_id=p.id, response_id=complaint.id, created_at=created))
    finally:
        engine.dispose()


def build_deps(url: str, fake: h.FakeSlack, clock: Any) -> tuple[Any, Counters]:
    from sqlalchemy import event

    from bot.app import create_app, deps_of
    from bot.config import Settings
    from bot.db import make_engine

    settings = Settings(
        slack_bot_token=h.BOT_TOKEN, slack_signing_secret=payloads.SIGNING_SECRET, slack_app_token=None,
        slack_api_url=fake.url, database_url=url, port=0, scheduler_enabled=False, log_level="WARNING",
    )
    engine = make_engine(h.psycopg_url(url))
    counters = Counters()
    event.listen(engine, "before_cursor_execute", counters.statement)
    event.listen(engine, "begin", counters.begin)
    deps = deps_of(create_app(settings, engine=engine, clock=clock))
    deps.channel_interval = 0.0  # no per-channel pause: a week of ticks in seconds
    return deps, counters


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=50, help="projects (default 50)")
    parser.add_argument("--every", type=int, default=15, help="minutes between two ticks (default 15)")
    parser.add_argument("--days", type=int, default=7, help="days of ticks, the first a warm-up (default 7)")
    parser.add_argument("--database-url", help="an empty PostgreSQL (or SQLite) database instead of a "
                        "throwaway SQLite file; it is migrated and seeded")
    parser.add_argument("--pg-dir", help="a fresh database in the throwaway PostgreSQL cluster in this folder "
                        "(scripts/pg_throwaway.sh; started if need be), dropped afterwards")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP",
                        help="also profile the measured ticks and list the TOP functions by cumulative time")
    parser.add_argument("--sql", action="store_true", help="print the SQL statements of the last idle tick")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.projects < 1 or args.every < 1 or args.days < 2:
        parser.error("--projects and --every must be positive, --days at least 2")

    from bot.clock import FrozenClock
    from bot.jobs import scheduler

    logging.basicConfig(level=logging.ERROR)
    print(f"Machine: {h.machine()}")
    clock = FrozenClock(START)
    fake = h.start_fake_slack([*PEOPLE, *PMS])
    fake.ts_clock = lambda: clock.now().timestamp()  # Slack's ts follow the bot's clock
    try:
        with tempfile.TemporaryDirectory(prefix="pmbot-tick-") as tmp, contextlib.ExitStack() as stack:
            url = args.database_url or f"sqlite:///{tmp}/tick.db"
            if args.pg_dir:
                url = stack.enter_context(h.database("postgresql", args.pg_dir))
            print(f"Database: {h.psycopg_url(url).split('@')[-1] if url.startswith('postgres') else 'SQLite (WAL)'}; "
                  f"{args.projects} projects; a tick every {args.every} min for {args.days} days "
                  f"from {START:%a %d %b %Y %H:%M} UTC (the first day a warm-up)")
            for i in range(args.projects):
                fake.set_channel(f"C0TICK{i:03d}", name=f"client-{i}", is_ext_shared=True)
                fake.set_channel(f"G0TICK{i:03d}", name=f"team-{i}")
                fake.set_members(f"C0TICK{i:03d}", [PEOPLE[i % len(PEOPLE)], PMS[i % len(PMS)], CLIENT])
            seed(url, args.projects, random.Random(args.seed))
            deps, counters = build_deps(url, fake, clock)
            return run(args, deps, counters, fake, clock, scheduler)
    finally:
        fake.stop()


def run(args: argparse.Namespace, deps: Any, counters: Counters, fake: h.FakeSlack, clock: Any,
        scheduler: Any) -> int:
    steps = list(scheduler.STEPS)
    step_cpu: dict[str, float] = defaultdict(float)
    step_sql: Counter[str] = Counter()

    def timed(name: str, fn: Any) -> Any:
        def wrapper(d: Any, now: datetime, *among: Any) -> Any:
            cpu0, sql0 = time.thread_time(), counters.statements
            try:
                return fn(d, now, *among)
            finally:
                if measuring:
                    step_cpu[name] += time.thread_time() - cpu0
                    step_sql[name] += counters.statements - sql0
        return wrapper

    scheduler.STEPS[:] = [(name, timed(name, fn)) for name, fn in steps]
    measuring = False
    warm_until = START + timedelta(days=1)
    end = START + timedelta(days=args.days)
    ticks: list[tuple[float, int, bool, int]] = []  # (CPU s, statements, idle, transactions)
    last_idle: list[str] = []
    profile = cProfile.Profile(time.thread_time) if args.profile else None
    try:
        while clock.now() < end:
            measuring = clock.now() >= warm_until
            calls0, cpu0, sql0, tx0 = len(fake.calls), time.thread_time(), counters.statements, counters.transactions
            counters.log = [] if args.sql and measuring else None
            if profile is not None and measuring:
                profile.enable()
            scheduler.tick(deps)
            if profile is not None and measuring:
                profile.disable()
            if measuring:
                idle = len(fake.calls) == calls0
                ticks.append((time.thread_time() - cpu0, counters.statements - sql0, idle,
                              counters.transactions - tx0))
                if idle and counters.log is not None:
                    last_idle = counters.log
            clock.advance(seconds=args.every * 60)
    finally:
        scheduler.STEPS[:] = steps
        counters.log = None
    posted = Counter(c.method for c in fake.calls if c.ok)
    failed = [c for c in fake.calls if not c.ok and c.method != "response_url"]
    n = len(ticks)
    idle = [t for t in ticks if t[2]]
    busy = [t for t in ticks if not t[2]]

    def line(title: str, rows: list[tuple[float, int, bool, int]]) -> str:
        if not rows:
            return f"  {title}: none"
        cpu = [1000 * r[0] for r in rows]
        return (f"  {title}: {len(rows)} ticks, {statistics.mean(cpu):.2f} ms CPU per tick (median "
                f"{statistics.median(cpu):.2f}, max {max(cpu):.1f}), {statistics.mean(r[1] for r in rows):.1f} "
                f"SQL statements and {statistics.mean(r[3] for r in rows):.1f} transactions per tick")

    print(f"\nMeasured: {n} ticks after the warm-up day")
    print(line("all ticks", ticks))
    print(line("idle ticks (no Web API call)", idle))
    print(line("ticks that sent", busy))
    print("  per step, over all measured ticks (ms CPU per tick, SQL statements per tick):")
    for name, _fn in steps:
        print(f"    {1000 * step_cpu[name] / n:7.2f} ms {step_sql[name] / n:6.1f} stmts  {name}")
    rest_cpu = sum(t[0] for t in ticks) - sum(step_cpu.values())
    rest_sql = sum(t[1] for t in ticks) - sum(step_sql.values())
    print(f"    {1000 * rest_cpu / n:7.2f} ms {rest_sql / n:6.1f} stmts  (the tick itself: who is at work)")
    print(f"  Web API calls over the whole run: {dict(posted.most_common())}"
          f"{f'; {len(failed)} failed' if failed else ''}")
    print(f"  outbox at the end: {outbox_fingerprint(deps)}")
    if last_idle:
        print("  SQL of the last idle tick:")
        for statement in last_idle:
            print(f"    {statement}")
    if profile is not None:
        stats = pstats.Stats(profile)
        raw: dict[Any, tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
        rows = [(code, nc, tt, ct) for code, (_cc, nc, tt, ct, _callers) in raw.items()]
        for title, index in (("cumulative", 3), ("own time", 2)):
            print(f"\n  top {args.profile} by {title} (per tick: calls, own ms, cumulative ms; profiled):")
            for code, nc, tt, ct in sorted(rows, key=lambda r: r[index], reverse=True)[:args.profile]:
                file, lineno, func = code
                where = func if file == "~" else f"{file.split('site-packages/')[-1].replace(str(h.ROOT) + '/', '')}" \
                    f":{lineno}({func})"
                print(f"    {nc / n:8.1f} {1000 * tt / n:8.3f} {1000 * ct / n:8.3f}  {where}")
    return 0


def outbox_fingerprint(deps: Any) -> str:
    """How many outbox rows there are by status, and a hash of their keys, kinds, statuses and
    creation times: two runs (before and after a change) that queued and sent the same messages
    at the same ticks print the same line."""
    import hashlib

    from sqlmodel import Session, select

    from bot.models import Outbox

    with Session(deps.engine) as session:
        rows = sorted(session.exec(select(Outbox.key, Outbox.kind, Outbox.status, Outbox.created_at)).all())
    by_status = Counter(status for _key, _kind, status, _at in rows)
    digest = hashlib.sha256(repr([(k, kind, st, at.isoformat()) for k, kind, st, at in rows]).encode()).hexdigest()
    return f"{len(rows)} rows ({', '.join(f'{n} {st}' for st, n in sorted(by_status.items()))}), sha256 {digest[:16]}"


if __name__ == "__main__":
    sys.exit(main())
