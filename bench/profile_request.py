#!/usr/bin/env python3
"""Where PM Bot's time goes per request: cProfile of its in-process handling of a quick capture,
a Confirm click, a modal submission and `/req list`.

    .venv/bin/python bench/profile_request.py                     # SQLite, 200 requests per path
    .venv/bin/python bench/profile_request.py --database-url postgresql://…   # a PostgreSQL database
    .venv/bin/python bench/profile_request.py --paths capture click --top 25 --timer wall

The Bolt app is built by `bot.app.create_app` as `pmbot run` builds it, against the fake Slack
Web API (tests/fakes/slack_api.py) on loopback and a fresh migrated database with one project.
Requests are signed exactly as Slack signs them (tests/fakes/payloads.py) and handed to
`app.dispatch` in this thread, the way the Starlette adapter hands them over. To let cProfile
see the whole handling, the listener runs in the dispatching thread (Bolt's
process_before_response), so a handler's work after ack() is inside the profile too; what this
leaves out is the dispatching thread's wait for the ack (bot/slack/acks.py: an Event since issue
13; Bolt's own runner polled every 10 ms), the guard, the access line and the HTTP server.

For each path, after --warmup unmeasured requests, --requests requests unprofiled (their CPU and
wall milliseconds per request: the real cost) and --requests more under cProfile: per request,
database transactions and SQL statements, the Web API calls the bot made, own time by area
(Bolt, SQLAlchemy, bot/handlers, …), then the --top functions by cumulative and by own time. The timer is this thread's
CPU time (--timer cpu, the default: the fake Slack's threads are not counted) or wall time
(--timer wall: waits on the database and on the Web API count). cProfile's own overhead inflates
every call a little; compare the shares, not the absolute figures, with bench/ack_latency.py.

The data: captures by a team member in the client channel; Confirm clicks by the client
approver on requirements created and sent for confirmation through PM Bot's services (their
confirmation requests are in the fake's channel); submissions of the requirement modal that
`/req` opened (its fields filled in, its private_metadata kept, a new view id each time);
`/req list` of the project, which holds a few hundred requirements by then.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _harness as h
from _harness import payloads

PATHS = ("capture", "click", "modal", "list")
TITLES = {
    "capture": "quick capture: /req <title>",
    "click": "Confirm click (req_confirm) on a confirmation request",
    "modal": "requirement modal submitted (req_modal)",
    "list": "/req list",
}


@dataclass
class Counters:
    """What the bot did while a path ran: transactions, statements, Web API calls."""

    transactions: int = 0
    statements: int = 0
    log: list[str] | None = None  # the statements' text, while set


def build_app(url: str, fake: h.FakeSlack) -> Any:
    from sqlalchemy import event

    from bot.app import create_app
    from bot.config import Settings
    from bot.db import make_engine

    settings = Settings(
        slack_bot_token=h.BOT_TOKEN, slack_signing_secret=payloads.SIGNING_SECRET, slack_app_token=None,
        slack_api_url=fake.url, database_url=url, port=0, scheduler_enabled=False, log_level="WARNING",
    )
    # SQLITE_SYNCHRONOUS=normal, as bench/ack_latency.py runs PM Bot (full waits for the disk
    # at every commit: time, not CPU, that hid the CPU in a sampling profile)
    engine = make_engine(h.psycopg_url(url), synchronous="normal")
    counters = Counters()

    @event.listens_for(engine, "begin")
    def _begin(_conn: Any) -> None:
        counters.transactions += 1

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if counters.log is not None:
            counters.log.append(" ".join(statement.split())[:110])
        if not statement.lstrip().upper().startswith("BEGIN"):
            counters.statements += 1

    app = create_app(settings, engine=engine)
    # The listener in the dispatching thread, so that cProfile sees all of it (see the docstring).
    app._listener_runner.process_before_response = True
    return app, counters


def dispatch(app: Any, built: tuple[str, dict[str, str]]) -> Any:
    from slack_bolt.request import BoltRequest

    body, headers = built
    response = app.dispatch(BoltRequest(body=body, headers=headers))
    if response.status != 200:
        raise RuntimeError(f"the bot answered {response.status}: {response.body[:300]}")
    return response


def modal_template(app: Any, fake: h.BenchSlack, user: payloads.SlackUser) -> dict[str, Any]:
    """The requirement modal as PM Bot opens it for `/req` in the project channel."""
    before = len(fake.calls_to("views.open"))
    dispatch(app, payloads.slash_command("/req", "", user=user, channel_id=h.CLIENT_CHANNEL, team_id=h.TEAM,
                                         response_url=fake.response_url("modal-open")))
    calls = fake.wait_for("views.open", before + 1)
    return calls[-1].params["view"]


def modal_values(view: dict[str, Any], title: str) -> dict[str, dict[str, Any]]:
    """state.values for the view's inputs: text fields filled, selects on their initial option."""
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks", []):
        element = block.get("element") if block.get("type") == "input" else None
        if not element:
            continue
        kind, action_id = element.get("type"), element.get("action_id")
        if kind == "plain_text_input":
            text = title if not values else f"Detail of {title}"
            state = payloads.plain_text(text)
        elif kind == "static_select":
            option = element.get("initial_option") or (element.get("options") or [{}])[0]
            state = payloads.static_select(option.get("value"))
        else:
            continue
        values[block["block_id"]] = {action_id: state}
    return values


def requests_for(path: str, n: int, app: Any, fake: h.BenchSlack, url: str, project_id: int,
                 run: str) -> list[tuple[str, dict[str, str]]]:
    team = [payloads.SlackUser(id=u, team_id=h.TEAM) for u in h.team_users(5)]
    if path == "capture":
        return [payloads.slash_command("/req", f"{run} capture {i:05d}: export the monthly report as PDF",
                                       user=team[i % len(team)], channel_id=h.CLIENT_CHANNEL, team_id=h.TEAM,
                                       response_url=fake.response_url(f"{run}-cap-{i}"))
                for i in range(n)]
    if path == "list":
        return [payloads.slash_command("/req", "list", user=team[i % len(team)], channel_id=h.CLIENT_CHANNEL,
                                       team_id=h.TEAM, response_url=fake.response_url(f"{run}-list-{i}"))
                for i in range(n)]
    if path == "modal":
        view = modal_template(app, fake, team[0])
        return [payloads.view_submission(view["callback_id"], modal_values(view, f"{run} modal {i:05d}: SSO login"),
                                         user=team[i % len(team)], team_id=h.TEAM,
                                         private_metadata=view.get("private_metadata", ""),
                                         view_id=f"V{run}{i:05d}".upper())
                for i in range(n)]
    targets = h.awaiting_decision(url, project_id, n + 2, f"{run} click", fake, h.CLIENT_CHANNEL)
    style = click_style(app, fake, url, targets[:2], run)
    client = payloads.SlackUser(id=h.CLIENT, team_id="T0EXT", name="chris.client")
    return [payloads.block_actions("req_confirm", f"{i}@{v}" if style == "versioned" else str(i), user=client,
                                   channel_id=h.CLIENT_CHANNEL, team_id=h.TEAM, message_ts=ts,
                                   block_id=f"req_item:{i}:confirm", response_url=fake.response_url(f"{run}-c-{i}"))
            for i, v, ts in targets[2:]]


def click_style(app: Any, fake: h.FakeSlack, url: str, targets: list[tuple[int, int, str]], run: str) -> str:
    """Whether the Confirm button's value is `id@version` or a plain id for this PM Bot."""
    client = payloads.SlackUser(id=h.CLIENT, team_id="T0EXT", name="chris.client")
    for style, (req_id, version, ts) in zip(("versioned", "plain"), targets, strict=True):
        value = f"{req_id}@{version}" if style == "versioned" else str(req_id)
        dispatch(app, payloads.block_actions("req_confirm", value, user=client, channel_id=h.CLIENT_CHANNEL,
                                             team_id=h.TEAM, message_ts=ts, block_id=f"req_item:{req_id}:confirm",
                                             response_url=fake.response_url(f"{run}-probe-{style}")))
        if h.statuses(url, [req_id]).get(req_id) == "confirmed":
            return style
    raise RuntimeError("PM Bot confirmed neither an `id@version` nor a plain-id Confirm click")


def _where(code: tuple[str, int, str]) -> str:
    file, line, func = code
    if file == "~":
        return func
    path = file
    for marker in ("site-packages/", str(h.ROOT) + "/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{line}({func})"


AREAS = (  # (marker in the file path, area), first match wins
    ("slack_bolt/", "Bolt"), ("slack_sdk/", "slack_sdk (Web API client)"), ("sqlalchemy/", "SQLAlchemy"),
    ("sqlmodel/", "SQLModel"), ("pydantic", "pydantic"), ("/bot/handlers/", "bot/handlers"),
    ("/bot/services/", "bot/services"), ("/bot/blocks/", "bot/blocks"), ("/bot/flows/", "bot/flows"),
    ("/bot/i18n/", "bot/i18n"), ("/bot/slack/", "bot/slack"), ("/bot/", "bot (other)"),
    ("/logging/", "logging"), ("/json/", "json"), ("/http/", "http / urllib / socket"),
    ("/urllib/", "http / urllib / socket"), ("socket", "http / urllib / socket"), ("ssl", "http / urllib / socket"),
    ("/bench/", "bench driver"),
)


def area_of(code: tuple[str, int, str]) -> str:
    file, _line, func = code
    if file == "~":  # a builtin: sqlite3 / psycopg calls are the database's, the rest Python's
        if "sqlite3" in func or "psycopg" in func:
            return "database driver"
        if "socket" in func or "select" in func or "poll" in func:
            return "http / urllib / socket"
        return "builtins"
    if "psycopg" in file:
        return "database driver"
    for marker, area in AREAS:
        if marker in file:
            return area
    return "stdlib / other"


def print_areas(stats: pstats.Stats, n_requests: int) -> None:
    raw: dict[Any, tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    own: Counter[str] = Counter()
    for code, (_cc, _nc, tt, _ct, _callers) in raw.items():
        own[area_of(code)] += tt
    total = sum(own.values()) or 1e-9
    print("  own time by area, ms per request (share): " + "; ".join(
        f"{area} {1000 * t / n_requests:.2f} ({100 * t / total:.0f}%)" for area, t in own.most_common() if t > 0))


def print_top(stats: pstats.Stats, n_requests: int, top: int) -> None:
    raw: dict[Any, tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    rows = [(code, nc, tt, ct) for code, (_cc, nc, tt, ct, _callers) in raw.items()]
    for title, index in (("cumulative", 3), ("own time", 2)):
        print(f"  top {top} by {title} (per request: calls, own ms, cumulative ms):")
        for code, nc, tt, ct in sorted(rows, key=lambda r: r[index], reverse=True)[:top]:
            print(f"    {nc / n_requests:7.1f} {1000 * tt / n_requests:8.3f} {1000 * ct / n_requests:8.3f}  "
                  f"{_where(code)}")


def profile_path(path: str, app: Any, counters: Counters, fake: h.BenchSlack, url: str, project_id: int,
                 args: argparse.Namespace, run: str) -> None:
    n = args.requests
    requests = requests_for(path, args.warmup + 2 * n + 1, app, fake, url, project_id, run)
    for built in requests[:args.warmup]:
        dispatch(app, built)
    plain_cpu0, plain_wall0 = time.thread_time(), time.perf_counter()
    for built in requests[args.warmup:args.warmup + n]:  # the same work without cProfile's overhead
        dispatch(app, built)
    plain_cpu, plain_wall = time.thread_time() - plain_cpu0, time.perf_counter() - plain_wall0
    measured = requests[args.warmup + n:-1]
    timer: Callable[[], float] = time.thread_time if args.timer == "cpu" else time.perf_counter
    calls_before = len(fake.calls)
    counters.transactions = counters.statements = 0
    profile = cProfile.Profile(timer)
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    profile.enable()
    for built in measured:
        dispatch(app, built)
    profile.disable()
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    time.sleep(0.2)  # Web API calls made from other threads, if any, land in the fake
    web = Counter(c.method for c in fake.calls[calls_before:])
    print(f"\n== {TITLES[path]}: {n} requests (after {args.warmup} warm-up) ==")
    print(f"  per request: {1000 * plain_cpu / n:.2f} ms CPU (this thread), {1000 * plain_wall / n:.2f} ms wall "
          f"without cProfile; {1000 * cpu / n:.2f} ms CPU, {1000 * wall / n:.2f} ms wall profiled; "
          f"{counters.transactions / n:.2f} transactions, {counters.statements / n:.2f} SQL statements")
    print("  Web API calls per request: " + (", ".join(f"{m} {c / n:.2f}" for m, c in web.most_common()) or "none"))
    if args.sql:
        counters.log = []
        dispatch(app, requests[-1])  # one more, unprofiled
        print("  SQL of one more request:")
        for statement in counters.log:
            print(f"    {statement}")
        counters.log = None
    stats = pstats.Stats(profile)
    print_areas(stats, n)
    print_top(stats, n, args.top)
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        stats.dump_stats(args.dump / f"{path}.pstats")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS), help="what to profile")
    parser.add_argument("--requests", type=int, default=200, help="profiled requests per path (default 200)")
    parser.add_argument("--warmup", type=int, default=30, help="unprofiled requests first (default 30)")
    parser.add_argument("--top", type=int, default=20, help="functions listed per ranking (default 20)")
    parser.add_argument("--timer", choices=("cpu", "wall"), default="cpu",
                        help="cProfile's clock: this thread's CPU time (default) or wall time")
    parser.add_argument("--database-url", help="an empty PostgreSQL (or SQLite) database to use instead of a "
                        "throwaway SQLite file; it is migrated and gets a project")
    parser.add_argument("--sql", action="store_true", help="print the SQL statements of one request per path")
    parser.add_argument("--dump", type=Path, help="also write each path's pstats file to this folder")
    args = parser.parse_args()
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be positive, --warmup not negative")

    from bot.logs import setup_logging

    setup_logging("WARNING")  # as `pmbot run` sets logging up (LOG_LEVEL=WARNING)
    print(f"Machine: {h.machine()}")
    run = uuid.uuid4().hex[:6]
    fake = h.start_fake_slack(h.team_users(5))
    try:
        with tempfile.TemporaryDirectory(prefix="pmbot-profile-") as tmp:
            url = args.database_url or f"sqlite:///{tmp}/profile.db"
            print(f"Database: {h.psycopg_url(url).split('@')[-1] if args.database_url else 'SQLite (WAL)'}; "
                  f"timer: {args.timer}")
            project_id = h.migrate_and_make_project(url, name=f"Profile Project {run}")
            app, counters = build_app(url, fake)
            for path in args.paths:
                profile_path(path, app, counters, fake, url, project_id, args, run)
            if fake.errors:
                print(f"\nThe fake Slack failed {len(fake.errors)} time(s): {fake.errors[0]!r}")
            failed = [c for c in fake.calls if not c.ok and c.method != "response_url"]
            if failed:
                print("\nWeb API calls that failed: " + json.dumps(Counter(
                    f"{c.method}: {(c.response or {}).get('error')}" for c in failed)))
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
