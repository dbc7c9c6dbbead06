#!/usr/bin/env python3
"""Benchmark: PM Bot's quick captures and decision clicks against the floor and a bare Bolt app.

    .venv/bin/python bench/ack_latency.py                          # SQLite: 1,000 closed-loop, 3,000 per open-loop rate
    .venv/bin/python bench/ack_latency.py --database postgresql    # a throwaway PostgreSQL cluster
    .venv/bin/python bench/ack_latency.py --rates                  # the closed loop only
    .venv/bin/python bench/ack_latency.py --clicks 0               # no decision-click phase

Starts the fake Slack Web API (tests/fakes/slack_api.py) in this process, then three servers as
real subprocesses on loopback ports, all on the same stack (Bolt `App` with PM Bot's options,
Starlette + uvicorn, `app.dispatch` in the thread pool):

* bare: bench/bare_bolt.py, whose `/req` and `req_confirm` handlers only call ack();
* floor: bench/floor_bolt.py, doing only the work a quick capture cannot avoid (the requirement
  row and its activity-log row in one transaction, then the "Saved REQ-12 …" answer) and, for a
  Confirm click, the conditional UPDATE, one activity row and one outbox row, then ack;
* PM Bot: `pmbot run` in HTTP mode (scheduler off, LOG_LEVEL=WARNING).

floor and PM Bot share one fresh, migrated database (each its own project). All three get the
same warm-up, then, phase by phase, the same N signed `/req <title>` slash commands from a
rotating set of team members:

* closed loop (the issue's setting): C workers, each sending its next request as soon as the
  previous one is answered, so C are always in flight and the figures are set by how many
  requests per second the server can do;
* open loop at each --rates value: requests leave on a fixed schedule (at most C in flight), and
  a request's latency counts from its scheduled time, so a server falling behind is charged for it;
* decision clicks, closed loop: --clicks Confirm clicks by the client approver, each on its own
  requirement that PM Bot's services created and sent for confirmation beforehand (its
  confirmation request is in the fake's channel). PM Bot acknowledges a click at once and does
  the work after, then posts the outcome to the click's response_url: its latency runs until
  that post arrives (the "ack" line beside shows the acknowledgement alone). The floor commits,
  then acknowledges; its latency ends with the HTTP answer.

With --blocks N (default 5) each capture phase runs in N blocks per server, the servers taking
turns block by block, so that a machine that gets busier or quieter during a phase weighs on all
three alike. Each block follows --lead-in unmeasured captures (default 50) sent at the phase's
load by the same workers on the same connections, the measured ones following without a pause:
a block starts in the server's steady state, not cold after it sat idle while the others ran
(cold blocks once cost PM Bot 1.38x / 1.88x at 150 requests/s). The click phase runs in
--click-blocks blocks (default 4), without a lead-in (a click needs a requirement awaiting decision).

An open-loop phase measures --open-requests captures per server (default 3,000; the closed loop
--requests, 1,000 as the issue sets it). Its p99 is the 1% slowest: of 1,000 requests at
150/s, the ten slowest, so a single stall of this 2-CPU machine (30-50 ms, seen by a probe outside
the bench too) and the ten requests queued behind it decided the verdict for whichever server it
hit. With 3,000 the same p99 is estimated from thirty: one stall no longer decides it, several
still would.

A request's latency runs until its HTTP response has been read. The load generator is plain
http.client keep-alive connections in threads: httpx costs the client 1.6-2.4 ms of CPU per
request, which on a small machine measured the client more than the bare app (--client httpx /
httpx-async to compare).

Prints, per phase and server, p50 / p95 / p99 / max, requests per second, the server's CPU time
per request (user + system of its process, from /proc/<pid>/stat; on PostgreSQL also the
database server's) and errors (transport errors, non-200 answers, a capture answer that is not
the "Saved" confirmation, a click whose outcome never came); the PM Bot / floor ratio of each
percentile; whether every capture was stored exactly once and every click confirmed its
requirement; the peak RSS of `pmbot run`; and, column "others", the share of the machine's CPU
that other processes took meanwhile: on a shared machine a busy neighbour distorts the figures,
which are then flagged.

Targets (issue 13): PM Bot's p99 at most 2x the floor's in the closed loop, at most 1.2x in each
open-loop phase, at most 2x the click floor's for decision clicks; zero errors, every capture
stored once, every click applied. Exit status 0 when all are met, else 1; the figures are
printed either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import _harness as h
import httpx
from _harness import payloads

CAPTURE_CLOSED_GOAL = 2.0
CAPTURE_OPEN_GOAL = 1.2
CLICK_GOAL = 2.0
NOISE_LIMIT = 0.10  # share of the machine's CPU other processes may take before the figures are flagged
PERCENTILES = (50, 95, 99)
FLOOR_CLIENT_CHANNEL = "C0FLOORC"
FLOOR_INTERNAL_CHANNEL = "C0FLOORI"
CONFIRM = "req_confirm"
OUTCOME_TIMEOUT = 30.0  # seconds a click's outcome (the response_url post) may take
# perf_counter() to Unix time, for --samples (lines a slow request up with other records of the moment)
UNIX_MINUS_PERF = time.time() - time.perf_counter()


@dataclass
class Request:
    """One signed request, built before the clock starts."""

    title: str  # a capture's title ("" for a click)
    body: str
    headers: dict[str, str]
    outcome: str | None = None  # the response_url name whose answer ends the request, if any


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, of answered requests
    acks: list[float] = field(default_factory=list)  # seconds to the HTTP answer alone
    # (sent at, seconds since the start; latency; sent at, Unix time)
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    wall: float = 0.0
    not_sent: int = 0
    server_cpu: float = 0.0  # CPU seconds the server process used during the phase
    db_cpu: float | None = None  # CPU seconds the PostgreSQL server used meanwhile
    others: float = 0.0  # share of the machine's CPU that other processes used meanwhile

    def pct(self, p: float, values: list[float] | None = None) -> float:
        """Nearest-rank percentile, in milliseconds."""
        values = self.latencies if values is None else values
        if not values:
            return math.nan
        ordered = sorted(values)
        return 1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def max_ms(self) -> float:
        return 1000 * max(self.latencies) if self.latencies else math.nan

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def cpu_ms(self, seconds: float | None) -> float:
        return math.nan if seconds is None else 1000 * seconds / max(1, len(self.latencies))


def build_requests(n: int, users: list[str], prefix: str, fake: h.FakeSlack) -> list[Request]:
    """n signed `/req <title>` commands."""
    out = []
    for i in range(n):
        user = payloads.SlackUser(id=users[i % len(users)], team_id=h.TEAM)
        title = f"{prefix} {i:05d}: export the monthly report as PDF"
        body, headers = payloads.slash_command(
            "/req", title, user=user, channel_id=h.CLIENT_CHANNEL, channel_name="client-acme", team_id=h.TEAM,
            response_url=fake.response_url(f"bench-{i}"), trigger_id=f"bench-trigger-{i}",
        )
        out.append(Request(title, body, headers))
    return out


def click_value(req_id: int, version: int, style: str) -> str:
    return f"{req_id}@{version}" if style == "versioned" else str(req_id)


def build_clicks(targets: list[tuple[int, int, str]], style: str, prefix: str, fake: h.BenchSlack,
                 channel: str, *, wait_outcome: bool) -> list[Request]:
    """One signed Confirm click by the client approver per (id, version, ts) target, on its
    confirmation request; with `wait_outcome`, the request ends when its response_url is answered."""
    client = payloads.SlackUser(id=h.CLIENT, team_id="T0EXT", name="chris.client")
    out = []
    for i, (req_id, version, ts) in enumerate(targets):
        name = f"{prefix}-{i}"
        body, headers = payloads.block_actions(
            CONFIRM, click_value(req_id, version, style), user=client, channel_id=channel, team_id=h.TEAM,
            message_ts=ts, block_id=f"req_item:{req_id}:confirm", response_url=fake.response_url(name),
            trigger_id=f"{prefix}-trigger-{i}",
        )
        if wait_outcome:
            fake.expect_response(name)
        out.append(Request("", body, headers, name if wait_outcome else None))
    return out


class _Stdlib:
    """One keep-alive HTTP/1.1 connection (http.client): the leanest client, so that the
    figures are the server's, not the load generator's."""

    def __init__(self, base: str, timeout: float) -> None:
        url = urlsplit(base)
        self.host, self.port, self.timeout = url.hostname or "127.0.0.1", url.port or 80, timeout
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request("POST", "/slack/events", body=body, headers=headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class _Httpx:
    """One httpx.Client per worker thread."""

    def __init__(self, base: str, timeout: float) -> None:
        self.client = httpx.Client(base_url=base, timeout=timeout)

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        response = self.client.post("/slack/events", content=body, headers=headers)
        return response.status_code, response.content

    def close(self) -> None:
        self.client.close()


@dataclass
class Load:
    """How the requests are sent: `concurrency` workers; closed loop (each worker sends its next
    request as soon as the previous one is answered) unless `rate` paces the arrivals."""

    concurrency: int
    client: str = "stdlib"
    rate: float | None = None  # requests per second, open loop
    max_seconds: float = 300
    timeout: float = 10


def _check(result: Result, status: int, content: bytes, title: str, check_saved: bool) -> bool:
    if status != 200:
        result.errors[f"HTTP {status}"] += 1
        return False
    if check_saved and not _is_saved(content, title):
        result.errors["answer is not 'Saved'"] += 1
        return False
    return True


def _finish(result: Result, request: Request, started: float, acked: float, t0: float,
            fake: h.BenchSlack | None) -> None:
    """Record one answered request (its outcome waited for, when it has one)."""
    done = acked
    if request.outcome is not None and fake is not None:
        at = fake.wait_response(request.outcome, OUTCOME_TIMEOUT)
        if at is None:
            result.errors["no outcome on response_url"] += 1
            return
        done = max(at, acked)
    result.acks.append(acked - started)
    result.latencies.append(done - started)
    result.samples.append((started - t0, done - started, started + UNIX_MINUS_PERF))


def _run_threads(base: str, requests: list[Request], load: Load, check_saved: bool, result: Result,
                 fake: h.BenchSlack | None, skip: int = 0, on_measured: Callable[[], None] | None = None) -> None:
    """`skip`: the first requests are a lead-in, sent by the same workers on the same connections
    and not recorded; `on_measured` is called once, as the first recorded request is taken."""
    lock = threading.Lock()
    next_index = 0
    t_start = time.perf_counter()
    deadline = t_start + load.max_seconds
    # The measured part's start: for the open loop, the first recorded request's slot; for the
    # closed loop, the moment it is taken (set then).
    t0 = t_start + skip / load.rate if load.rate else t_start
    measured = threading.Event()
    if not skip:
        measured.set()
        if on_measured is not None:
            on_measured()

    def take() -> int | None:
        nonlocal next_index
        with lock:
            if next_index >= len(requests):
                return None
            if time.perf_counter() > deadline:
                result.not_sent += len(requests) - next_index
                next_index = len(requests)
                return None
            next_index += 1
            return next_index - 1

    def worker() -> None:
        nonlocal t0
        client = _Stdlib(base, load.timeout) if load.client == "stdlib" else _Httpx(base, load.timeout)
        try:
            while (i := take()) is not None:
                request = requests[i]
                if i == skip and skip:
                    if on_measured is not None:
                        on_measured()
                    if not load.rate:
                        t0 = time.perf_counter()
                    measured.set()
                if load.rate:
                    # Open loop: the request is due at its slot; a late start counts against the
                    # server (no coordinated omission).
                    due = t_start + i / load.rate
                    time.sleep(max(0.0, due - time.perf_counter()))
                    started = due
                else:
                    started = time.perf_counter()
                if i < skip:  # the lead-in: answered, not recorded
                    with contextlib.suppress(OSError, http.client.HTTPException, httpx.HTTPError):
                        client.post(request.body.encode(), request.headers)
                    continue
                try:
                    status, content = client.post(request.body.encode(), request.headers)
                except (OSError, http.client.HTTPException, httpx.HTTPError) as err:
                    with lock:
                        result.errors[type(err).__name__] += 1
                    continue
                acked = time.perf_counter()
                with lock:
                    ok = _check(result, status, content, request.title, check_saved)
                if ok:
                    outcome_wait = request.outcome is not None
                    if outcome_wait:  # wait outside the lock, record inside
                        sub = Result(result.name)
                        _finish(sub, request, started, acked, t0, fake)
                        with lock:
                            result.errors.update(sub.errors)
                            result.acks += sub.acks
                            result.latencies += sub.latencies
                            result.samples += sub.samples
                    else:
                        with lock:
                            _finish(result, request, started, acked, t0, fake)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(load.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(load.max_seconds + load.timeout + OUTCOME_TIMEOUT + 10)
    result.wall = time.perf_counter() - t0 if measured.is_set() else 0.0


async def _run_async(base: str, requests: list[Request], load: Load, check_saved: bool, result: Result,
                     fake: h.BenchSlack | None) -> None:
    pending = list(reversed(requests))
    limits = httpx.Limits(max_connections=load.concurrency, max_keepalive_connections=load.concurrency)
    t0 = time.perf_counter()
    deadline = t0 + load.max_seconds
    total = len(requests)

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=load.timeout) as client:

        async def worker() -> None:
            while pending:
                if time.perf_counter() > deadline:
                    result.not_sent += len(pending)
                    pending.clear()
                    return
                i = total - len(pending)
                request = pending.pop()
                if load.rate:
                    due = t0 + i / load.rate
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    started = due
                else:
                    started = time.perf_counter()
                try:
                    response = await client.post("/slack/events", content=request.body.encode(),
                                                 headers=request.headers)
                except httpx.HTTPError as err:
                    result.errors[type(err).__name__] += 1
                    continue
                acked = time.perf_counter()
                if _check(result, response.status_code, response.content, request.title, check_saved):
                    await asyncio.to_thread(_finish, result, request, started, acked, t0, fake)

        await asyncio.gather(*(worker() for _ in range(load.concurrency)))
    result.wall = time.perf_counter() - t0


def _is_saved(content: bytes, title: str) -> bool:
    try:
        answer = json.loads(content)
    except ValueError:
        return False
    text = answer.get("text", "") if isinstance(answer, dict) else ""
    return "Saved" in text and title[:40] in text


def run_load(name: str, base: str, requests: list[Request], load: Load, *, check_saved: bool,
             fake: h.BenchSlack | None = None, lead_in: list[Request] | None = None,
             on_measured: Callable[[], None] | None = None) -> Result:
    """`requests` sent under `load` and recorded. `lead_in`: sent first under the same load and
    not recorded; with the threaded clients by the same workers on the same connections, the
    measured requests following on without a pause. `on_measured` is called as they start."""
    result = Result(name)
    lead_in = lead_in or []
    with h.no_collector_pauses():
        if load.client == "httpx-async":
            if lead_in:
                asyncio.run(_run_async(base, lead_in, load, False, Result(name), None))
            if on_measured is not None:
                on_measured()
            asyncio.run(_run_async(base, requests, load, check_saved, result, fake))
        else:
            _run_threads(base, [*lead_in, *requests], load, check_saved, result, fake, skip=len(lead_in),
                         on_measured=on_measured)
    return result


@contextlib.contextmanager
def profiled(folder: Path | None, name: str, server: h.Server, idle: bool, gil: bool = False) -> Iterator[None]:
    """py-spy attached to the server while the block runs (nothing when `folder` is None)."""
    if folder is None:
        yield
        return
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name.replace(' ', '-').lower()}.txt"
    argv = [spy, "record", "--pid", str(server.process.pid), "--threads", "--format", "raw", "--rate", "200",
            "--output", str(out), *(["--idle"] if idle else []), *(["--gil"] if gil else [])]
    proc = subprocess.Popen(argv,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # let py-spy attach before the load starts
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"py-spy profile of {name}: {out}")


def report(results: list[Result], *, with_db: bool) -> None:
    head = (f"{'':10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'req/s':>9}{'CPU ms/req':>11}"
            + (f"{'DB ms/req':>10}" if with_db else "") + f"{'others':>8}  errors")
    print(head)
    for r in results:
        errs = ", ".join(f"{k}: {v}" for k, v in r.errors.items()) or "0"
        if r.not_sent:
            errs += f"; not sent (time limit): {r.not_sent}"
        print(f"{r.name:10}" + "".join(f"{r.pct(p):9.1f}" for p in PERCENTILES)
              + f"{r.max_ms:9.1f}{r.rate:9.0f}{r.cpu_ms(r.server_cpu):11.2f}"
              + (f"{r.cpu_ms(r.db_cpu):10.2f}" if with_db else "")
              + f"{100 * r.others:7.0f}%  {errs}")
    for r in results:
        if r.acks != r.latencies:  # the outcome was waited for
            print(f"  {r.name} acknowledgement alone: "
                  + ", ".join(f"p{p} {r.pct(p, r.acks):.1f} ms" for p in PERCENTILES))


def ratio_line(label: str, top: Result, bottom: Result) -> dict[int, float]:
    ratio = {p: top.pct(p) / bottom.pct(p) for p in PERCENTILES}
    cpu = top.cpu_ms(top.server_cpu) / bottom.cpu_ms(bottom.server_cpu) if bottom.server_cpu else math.nan
    print(f"{label}: " + ", ".join(f"p{p} {ratio[p]:.2f}x" for p in PERCENTILES)
          + f", max {top.max_ms / bottom.max_ms:.2f}x, req/s {top.rate / max(bottom.rate, 1e-9):.2f}x, "
          f"CPU/req {cpu:.2f}x")
    return ratio


def _phases(args: argparse.Namespace) -> list[tuple[str, Load]]:
    base = Load(concurrency=args.concurrency, client=args.client, max_seconds=args.max_seconds, timeout=args.timeout)
    phases = [(f"captures, closed loop, concurrency {args.concurrency}", base)]
    phases += [(f"captures, open loop at {rate:g} req/s (at most {args.concurrency} in flight)",
                replace(base, rate=rate)) for rate in args.rates]
    return phases


def _start_servers(fake: h.FakeSlack, url: str, floor_project: int, log_dir: Path,
                   servers: list[h.Server], synchronous: str) -> tuple[h.Server, h.Server, h.Server]:
    pmbot = h.start_pmbot(fake.url, url, log_dir, extra_env={"SQLITE_SYNCHRONOUS": synchronous})
    servers.append(pmbot)
    common = {"SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET, "SLACK_API_URL": fake.url, "LOG_LEVEL": "warning",
              "SQLITE_SYNCHRONOUS": synchronous,
              "PYTHONPATH": os.pathsep.join(p for p in (str(h.ROOT), os.environ.get("PYTHONPATH")) if p)}
    port = h.free_port()
    bare = h.start_server("bare", [sys.executable, str(Path(__file__).with_name("bare_bolt.py"))],
                          {**common, "PORT": str(port)}, port, log_dir)
    servers.append(bare)
    port = h.free_port()
    floor = h.start_server("floor", [sys.executable, str(Path(__file__).with_name("floor_bolt.py"))], {
        **common, "PORT": str(port), "DATABASE_URL": url, "FLOOR_PROJECT_ID": str(floor_project),
        "FLOOR_TEAM_ID": h.TEAM, "FLOOR_CLIENT_CHANNEL": FLOOR_CLIENT_CHANNEL,
    }, port, log_dir)
    servers.append(floor)
    return bare, floor, pmbot


def _write_samples(path: Path, phases: list[tuple[str, list[Result]]]) -> None:
    with open(path, "w") as fh:
        fh.write("phase,server,sent_at_s,sent_at_unix,latency_ms\n")
        for label, results in phases:
            for r in results:
                fh.writelines(f'"{label}",{r.name},{at:.4f},{unix:.4f},{1000 * lat:.2f}\n'
                              for at, lat, unix in r.samples)


def probe_click_style(fake: h.BenchSlack, url: str, pmbot: h.Server, targets: list[tuple[int, int, str]],
                      run_id: str) -> tuple[str, bool] | None:
    """Which Confirm value PM Bot accepts ("versioned" `12@3` or a "plain" id) and whether it
    posts the outcome to the response_url: one click of each kind, checked in the database."""
    for style, target in zip(("versioned", "plain"), targets, strict=False):
        [click] = build_clicks([target], style, f"probe-{run_id}-{style}", fake, h.CLIENT_CHANNEL, wait_outcome=True)
        assert click.outcome is not None
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(pmbot.base + "/slack/events", content=click.body.encode(), headers=click.headers, timeout=10)
        answered = fake.wait_response(click.outcome, 5) is not None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if h.statuses(url, [target[0]]).get(target[0]) == "confirmed":
                return style, answered
            time.sleep(0.1)
    return None


def wait_confirmed(url: str, ids: list[int], timeout: float) -> int:
    """How many of these requirements are confirmed, once all are or `timeout` ran out."""
    deadline = time.monotonic() + timeout
    while True:
        done = sum(1 for s in h.statuses(url, ids).values() if s == "confirmed")
        if done == len(ids) or time.monotonic() > deadline:
            return done
        time.sleep(0.2)


def wait_sent(url: str, project_id: int, timeout: float) -> int:
    """Wait (bounded) until the project's outbox holds nothing waiting or being sent; how many
    rows are still owed then."""
    deadline = time.monotonic() + timeout
    while True:
        owed = h.outbox_owed(url, project_id)
        if owed == 0 or time.monotonic() > deadline:
            return owed
        time.sleep(0.1)


def measure(name: str, server: h.Server, requests: list[Request], load: Load, args: argparse.Namespace,
            ours: list[int], db_pids: list[int], label: str, *, check_saved: bool,
            fake: h.BenchSlack | None = None, drain: Callable[[], None] | None = None,
            lead_in: list[Request] | None = None) -> Result:
    """One server's run of one phase (or block), with its CPU time (after `drain`: work it still
    does). `lead_in`: requests sent first at the same load, by the same workers on the same
    connections, and not measured, so that the measured ones meet a server already in its steady
    state, not one that sat idle while the others ran. CPU and interference count from the first
    measured request on."""
    before: dict[str, float] = {}
    noise = h.Interference(ours)

    def start() -> None:
        before["cpu"] = h.cpu_seconds(server.process.pid)
        if db_pids:
            before["db"] = h.tree_cpu_seconds(db_pids)
        noise.start()

    with profiled(args.profile, f"{name} {label}", server, args.profile_idle, args.profile_gil):
        result = run_load(name, server.base, requests, load, check_saved=check_saved, fake=fake,
                          lead_in=lead_in, on_measured=start)
        if drain is not None:
            drain()
    if "cpu" not in before:  # the time limit ran out within the lead-in: nothing was measured
        start()
    result.others = noise.stop()
    result.server_cpu = h.cpu_seconds(server.process.pid) - before["cpu"]
    if "db" in before:
        result.db_cpu = h.tree_cpu_seconds(db_pids) - before["db"]
    return result


def _merge(into: Result, block: Result) -> None:
    """Add one block's figures to a server's phase."""
    offset = into.wall
    into.latencies += block.latencies
    into.acks += block.acks
    into.samples += [(at + offset, latency, unix) for at, latency, unix in block.samples]
    into.errors.update(block.errors)
    into.others = ((into.others * into.wall + block.others * block.wall) / (into.wall + block.wall)
                   if into.wall + block.wall else 0.0)
    into.wall += block.wall
    into.not_sent += block.not_sent
    into.server_cpu += block.server_cpu
    if block.db_cpu is not None:
        into.db_cpu = (into.db_cpu or 0.0) + block.db_cpu


def interleaved(runs: list[tuple[str, list[Request], Callable[[list[Request]], Result]]],
                blocks: int) -> list[Result]:
    """Each server's requests in `blocks` blocks, the servers taking turns block by block (the
    first of a round moving on each round): a machine that gets busier or quieter during a phase
    weighs on every server alike, not on whichever ran last. `runs`: (name, requests, run a block)."""
    merged = [Result(name) for name, _, _ in runs]
    for b in range(blocks):
        for k in range(len(runs)):
            i = (k + b) % len(runs)
            _, requests, run = runs[i]
            size = -(-len(requests) // blocks)
            chunk = requests[b * size:(b + 1) * size]
            if chunk:
                _merge(merged[i], run(chunk))
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=1000,
                        help="measured requests per server and phase (default 1000)")
    parser.add_argument("--open-requests", type=int, default=3000,
                        help="measured requests per server in each open-loop phase (default 3000)")
    parser.add_argument("--concurrency", type=int, default=20, help="requests in flight at most (default 20)")
    parser.add_argument("--rates", type=float, nargs="*", default=[50, 100, 150], metavar="RATE",
                        help="after the closed loop, an open-loop phase at each of these rates, requests per "
                        "second (default: 50 100 150; none: closed loop only)")
    parser.add_argument("--clicks", type=int, default=1000,
                        help="measured Confirm clicks per server, closed loop (default 1000; 0: no click phase)")
    parser.add_argument("--warmup", type=int, default=100,
                        help="unmeasured requests first, captures and clicks each (default 100)")
    parser.add_argument("--users", type=int, default=10, help="distinct people typing /req (default 10)")
    parser.add_argument("--max-seconds", type=float, default=300, help="time limit of each phase (default 300)")
    parser.add_argument("--timeout", type=float, default=10, help="per-request timeout, seconds (default 10)")
    parser.add_argument("--client", choices=("stdlib", "httpx", "httpx-async"), default="stdlib",
                        help="load generator: keep-alive http.client connections in threads (default, the "
                        "leanest), httpx.Client in threads, or one httpx.AsyncClient")
    parser.add_argument("--profile", type=Path, help="record each server with py-spy (pip install py-spy into "
                        ".venv) during each measured phase; writes collapsed stacks to this folder")
    parser.add_argument("--profile-idle", action="store_true", help="include idle (waiting) threads in --profile")
    parser.add_argument("--profile-gil", action="store_true",
                        help="--profile only the thread holding the GIL (where the server's CPU goes)")
    parser.add_argument("--quick", action="store_true", help="a shorter run (300 captures per phase, 300 clicks, "
                        "50 warm-up): the same phases, noisier percentiles")
    parser.add_argument("--sqlite-synchronous", choices=("normal", "full"), default="normal",
                        help="SQLite's synchronous setting for PM Bot (SQLITE_SYNCHRONOUS) AND the floor, so both "
                        "promise the same durability (default normal, the issue's floor; PM Bot's own default is "
                        "full: an fsync per commit)")
    parser.add_argument("--pg-dir", help="with --database postgresql: use the throwaway cluster in this folder "
                        "(scripts/pg_throwaway.sh start DIR; started if needed, left running) with a fresh "
                        "database of its own, instead of a new cluster")
    parser.add_argument("--blocks", type=int, default=5,
                        help="each capture phase in this many blocks per server, the servers taking turns "
                             "block by block (default 5; 1: each server's phase in one go)")
    parser.add_argument("--lead-in", type=int, default=50,
                        help="unmeasured captures sent at the phase's load just before each capture block "
                             "(default 50)")
    parser.add_argument("--click-blocks", type=int, default=4,
                        help="the click phase in this many blocks per server, taking turns (default 4)")
    parser.add_argument("--samples", type=Path, help="write every measured request (phase, server, sent at: "
                        "seconds into the phase and Unix time, latency) to this CSV file")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.clicks, args.warmup = min(args.requests, 300), min(args.clicks, 300), min(args.warmup, 50)
        args.open_requests = min(args.open_requests, 300)
    if (args.requests < 1 or args.open_requests < 1 or args.concurrency < 1 or args.users < 1 or args.clicks < 0
            or any(r <= 0 for r in args.rates)):
        parser.error("--requests, --open-requests, --concurrency, --users and --rates must be positive, "
                     "--clicks not negative")
    if args.blocks < 1 or args.click_blocks < 1 or args.lead_in < 0:
        parser.error("--blocks and --click-blocks must be at least 1, --lead-in not negative")
    if args.profile:
        args.blocks = args.click_blocks = 1  # one py-spy recording per server and phase

    phases = _phases(args)
    print(f"Machine: {h.machine()}")
    sync = f" (synchronous={args.sqlite_synchronous}, PM Bot and floor)" if args.database == "sqlite" else ""
    print(f"Database: {args.database}{sync}. Per server: {args.requests} measured /req quick captures in the closed "
          f"loop, {args.open_requests} in each open-loop phase (after {args.warmup} warm-up ones) from {args.users} "
          f"users, in {args.blocks} block(s) with a lead-in of {args.lead_in}; "
          f"{args.clicks} Confirm clicks in {args.click_blocks} block(s); load generator: {args.client}")
    users = h.team_users(args.users)
    run_id = uuid.uuid4().hex[:8]
    fake = h.start_fake_slack(users)
    fake.set_channel(FLOOR_CLIENT_CHANNEL, name="client-floor", is_ext_shared=True)
    servers: list[h.Server] = []
    try:
        with (h.database(args.database, args.pg_dir) as url,
              tempfile.TemporaryDirectory(prefix="pmbot-bench-logs-") as logs):
            bot_project = h.migrate_and_make_project(url)
            floor_project = h.migrate_and_make_project(url, name="Floor Project", client_channel=FLOOR_CLIENT_CHANNEL,
                                                       internal_channel=FLOOR_INTERNAL_CHANNEL)
            click_sets: dict[str, list[tuple[int, int, str]]] = {}
            if args.clicks:
                n = args.warmup + args.clicks
                click_sets["PM Bot"] = h.awaiting_decision(url, bot_project, n + 2, f"click {run_id} bot", fake,
                                                           h.CLIENT_CHANNEL)
                click_sets["floor"] = h.awaiting_decision(url, floor_project, n, f"click {run_id} floor", fake,
                                                          FLOOR_CLIENT_CHANNEL)
            bare, floor, pmbot = _start_servers(fake, url, floor_project, Path(logs), servers,
                                                args.sqlite_synchronous)
            idle_kb = h.proc_status(pmbot.process.pid)["VmHWM"]
            trio = (("bare", bare, False), ("floor", floor, True), ("PM Bot", pmbot, True))
            db_pids = h.database_pids(url)
            ours = [os.getpid(), *(s.process.pid for s in servers), *db_pids]
            for name, server, _ in trio:
                warm = build_requests(args.warmup, users, f"warm-up {run_id} {name}", fake)
                run_load(name, server.base, warm, phases[0][1], check_saved=False)

            done: list[tuple[str, list[Result]]] = []
            expected: set[str] = set()
            for k, (label, load) in enumerate(phases):
                n = args.requests if load.rate is None else args.open_requests
                measured = build_requests(n, users, f"bench {run_id} p{k}", fake)
                expected |= {r.title for r in measured}
                results = interleaved(
                    [(name, measured, lambda chunk, name=name, server=server, check=check, k=k, load=load: measure(
                        name, server, chunk, load, args, ours, db_pids, f"p{k}", check_saved=check,
                        drain=(lambda: wait_sent(url, bot_project, OUTCOME_TIMEOUT)) if name == "PM Bot" else None,
                        lead_in=build_requests(args.lead_in, users, f"lead-in {run_id} p{k} {uuid.uuid4().hex[:6]}",
                                               fake)))
                     for name, server, check in trio], args.blocks)
                done.append((label, results))

            click_label = f"decision clicks (Confirm), closed loop, concurrency {args.concurrency}"
            click_style, click_outcome, click_applied = None, False, {}
            if args.clicks:
                bot_targets = click_sets["PM Bot"]
                probed = probe_click_style(fake, url, pmbot, bot_targets[:2], run_id)
                if probed is None:
                    print("\nPM Bot did not confirm a probe click (neither `id@version` nor a plain id): "
                          "no click phase.")
                else:
                    click_style, click_outcome = probed
                    load = phases[0][1]
                    warm_n = args.warmup
                    targets = {"bare": click_sets["floor"][warm_n:], "floor": click_sets["floor"],
                               "PM Bot": bot_targets[2:]}
                    channels = {"bare": FLOOR_CLIENT_CHANNEL, "floor": FLOOR_CLIENT_CHANNEL,
                                "PM Bot": h.CLIENT_CHANNEL}
                    for name, server, _ in trio[1:]:  # the bare app's clicks change nothing: no warm-up
                        warm = build_clicks(targets[name][:warm_n], click_style, f"warm-{run_id}-{name}", fake,
                                            channels[name], wait_outcome=name == "PM Bot" and click_outcome)
                        run_load(name, server.base, warm, load, check_saved=False, fake=fake)
                    runs = []
                    for name, server, _ in trio:
                        chosen = targets[name][:args.clicks] if name == "bare" else targets[name][warm_n:]
                        clicks = build_clicks(chosen, click_style, f"click-{run_id}-{name.replace(' ', '')}", fake,
                                              channels[name], wait_outcome=name == "PM Bot" and click_outcome)
                        ids_of = {id(c): t[0] for c, t in zip(clicks, chosen, strict=True)}

                        def block(chunk: list[Request], name: str = name, server: h.Server = server,
                                  ids_of: dict[int, int] = ids_of) -> Result:
                            ids = [ids_of[id(c)] for c in chunk]

                            def drain() -> None:
                                if name != "bare":
                                    click_applied[name] = click_applied.get(name, 0) + wait_confirmed(
                                        url, ids, OUTCOME_TIMEOUT)
                                if name == "PM Bot":  # the messages it owes are work too: counted
                                    wait_sent(url, bot_project, OUTCOME_TIMEOUT)

                            return measure(name, server, chunk, load, args, ours, db_pids, "clicks",
                                           check_saved=False, fake=fake, drain=drain)

                        runs.append((name, clicks, block))
                    done.append((click_label, interleaved(runs, args.click_blocks)))

            peak_kb = h.proc_status(pmbot.process.pid)["VmHWM"]
            load_after = h.load_average()
            for server in servers:
                server.stop()
            if args.samples:
                _write_samples(args.samples, done)

            verdicts: list[tuple[str, float, float]] = []  # (what, ratio, goal)
            for k, (label, results) in enumerate(done):
                print(f"\nPhase {k + 1}: {label}")
                report(results, with_db=bool(db_pids))
                bare_r, floor_r, bot_r = results
                ratio = ratio_line("PM Bot / floor", bot_r, floor_r)
                ratio_line("floor / bare  ", floor_r, bare_r)
                goals = {True: CLICK_GOAL, False: CAPTURE_CLOSED_GOAL if k == 0 else CAPTURE_OPEN_GOAL}
                goal = goals[label == click_label]
                verdicts.append((label, ratio[99], goal))

            counts = {name: Counter(h.stored_titles(url, f"bench {run_id} ", project))
                      for name, project in (("floor", floor_project), ("PM Bot", bot_project))}
            losses = 0
            print()
            for name, count in counts.items():
                missing = len(expected - count.keys())
                duplicates = sum(c - 1 for c in count.values() if c > 1)
                losses += missing + duplicates
                print(f"Stored by {name}: {len(count)} of {len(expected)} requirements sent "
                      f"({missing} missing, {duplicates} duplicates)")
            if args.clicks and click_style is not None:
                note = ("its outcome posted to the response_url" if click_outcome
                        else "no outcome on the response_url: acknowledgement only, work drained before CPU")
                print(f"Clicks: PM Bot took `{click_style}` Confirm values, {note}")
                for name, applied in click_applied.items():
                    losses += args.clicks - applied
                    print(f"Confirmed by {name}'s clicks: {applied} of {args.clicks}")
            elif args.clicks:
                losses += 1
            print(f"pmbot run peak RSS (VmHWM): {idle_kb / 1024:.1f} MB idle after start-up, "
                  f"{peak_kb / 1024:.1f} MB after the run; {load_after} at the end")
            for server in servers:
                # uvicorn re-raises the SIGTERM it shut down on, hence -15 after a clean stop.
                if server.process.returncode not in (0, -signal.SIGTERM, None):
                    print(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")

            noisy = max(r.others for _, rs in done for r in rs)
            if noisy > NOISE_LIMIT:
                print(f"WARNING: other processes took up to {100 * noisy:.0f}% of the machine's CPU during a "
                      "measurement (column 'others'); run again on a quiet machine.")
            clean = losses == 0 and all(r.error_count == 0 and r.not_sent == 0 for _, rs in done for r in rs)
            print(f"\nTargets (issue 13), PM Bot p99 / floor p99; {'no' if clean else 'SOME'} errors or losses:")
            ok = clean
            for label, ratio99, goal in verdicts:
                met = ratio99 <= goal
                ok = ok and met
                print(f"  {label}: {ratio99:.2f}x, goal <= {goal:g}x: {'met' if met else 'NOT met'}")
            print(f"All targets {'met' if ok else 'NOT met'}")
            return 0 if ok else 1
    finally:
        for server in servers:
            server.stop()
        fake.stop()


if __name__ == "__main__":
    raise SystemExit(main())
