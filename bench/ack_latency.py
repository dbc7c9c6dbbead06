#!/usr/bin/env python3
"""Benchmark: how fast PM Bot acknowledges `/req <title>` quick captures, against a bare Bolt app.

    .venv/bin/python bench/ack_latency.py                          # SQLite, 1,000 requests, 20 at a time
    .venv/bin/python bench/ack_latency.py --database postgresql    # a throwaway PostgreSQL cluster
    .venv/bin/python bench/ack_latency.py --rates                  # the closed loop only

Starts the fake Slack Web API (tests/fakes/slack_api.py) in this process, then two servers as
real subprocesses on loopback ports: `pmbot run` in HTTP mode (scheduler off, LOG_LEVEL=WARNING)
on a fresh database with one project bound to the channel, and bench/bare_bolt.py, a Bolt app
whose `/req` handler only calls ack(), served by the same Starlette + uvicorn stack. Both get the
same warm-up, then, phase by phase, the same N signed `/req <title>` slash commands from a
rotating set of team members:

* closed loop (the issue's setting): C workers, each sending its next request as soon as the
  previous one is answered, so C are always in flight and the figures are set by how many
  requests per second the server can do;
* open loop at each --rates value: requests leave on a fixed schedule (at most C in flight), and
  a request's latency counts from its scheduled time, so a server falling behind is charged for it.

A request's latency runs until its HTTP response has been read. The load generator is plain
http.client keep-alive connections in threads: httpx costs the client 1.6-2.4 ms of CPU per
request, which on a small machine measured the client more than the bare app (--client httpx /
httpx-async to compare).

Prints, per phase and server, p50 / p95 / p99 / max, throughput, the server's CPU time per request
and errors (transport errors, non-200 answers, and for PM Bot an answer that is not the "Saved"
confirmation); the ratio of each percentile; whether every requirement was stored exactly once;
the peak RSS of `pmbot run`; and, column "others", the share of the machine's CPU that processes
other than the benchmark's (this one, the two servers, PostgreSQL) took meanwhile: on a shared
machine a busy neighbour distorts the figures, which are then flagged.

Goal (issue 7): in the closed loop, p99 at most 1.5x the bare app's, zero errors, all N
requirements stored. Exit status 0 when that goal is met, else 1.
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
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import _harness as h
import httpx
from _harness import payloads

GOAL_P99_RATIO = 1.5
NOISE_LIMIT = 0.10  # share of the machine's CPU other processes may take before the figures are flagged
PERCENTILES = (50, 95, 99)


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, of answered requests
    samples: list[tuple[float, float]] = field(default_factory=list)  # (sent at, latency) since the start
    errors: Counter = field(default_factory=Counter)
    wall: float = 0.0
    not_sent: int = 0
    server_cpu: float = 0.0  # CPU seconds the server process used during the phase
    others: float = 0.0  # share of the machine's CPU that other processes used meanwhile

    def pct(self, p: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return 1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def max_ms(self) -> float:
        return 1000 * max(self.latencies) if self.latencies else math.nan

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def build_requests(n: int, users: list[str], prefix: str, fake: h.FakeSlack) -> list[tuple[str, str, dict]]:
    """(title, body, headers) of n signed `/req <title>` commands, built before the clock starts."""
    out = []
    for i in range(n):
        user = payloads.SlackUser(id=users[i % len(users)], team_id=h.TEAM)
        title = f"{prefix} {i:05d}: export the monthly report as PDF"
        body, headers = payloads.slash_command(
            "/req", title, user=user, channel_id=h.CLIENT_CHANNEL, channel_name="client-acme", team_id=h.TEAM,
            response_url=fake.response_url(f"bench-{i}"), trigger_id=f"bench-trigger-{i}",
        )
        out.append((title, body, headers))
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


def _run_threads(base: str, requests: list[tuple[str, str, dict]], load: Load, check_saved: bool,
                 result: Result) -> None:
    lock = threading.Lock()
    next_index = 0
    t0 = time.perf_counter()
    deadline = t0 + load.max_seconds

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
        client = _Stdlib(base, load.timeout) if load.client == "stdlib" else _Httpx(base, load.timeout)
        try:
            while (i := take()) is not None:
                title, body, headers = requests[i]
                if load.rate:
                    # Open loop: the request is due at its slot; a late start counts against the
                    # server (no coordinated omission).
                    due = t0 + i / load.rate
                    time.sleep(max(0.0, due - time.perf_counter()))
                    started = due
                else:
                    started = time.perf_counter()
                try:
                    status, content = client.post(body.encode(), headers)
                except (OSError, http.client.HTTPException, httpx.HTTPError) as err:
                    result.errors[type(err).__name__] += 1
                    continue
                elapsed = time.perf_counter() - started
                if _check(result, status, content, title, check_saved):
                    with lock:
                        result.latencies.append(elapsed)
                        result.samples.append((started - t0, elapsed))
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(load.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(load.max_seconds + load.timeout + 10)
    result.wall = time.perf_counter() - t0


async def _run_async(base: str, requests: list[tuple[str, str, dict]], load: Load, check_saved: bool,
                     result: Result) -> None:
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
                title, body, headers = pending.pop()
                if load.rate:
                    due = t0 + i / load.rate
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    started = due
                else:
                    started = time.perf_counter()
                try:
                    response = await client.post("/slack/events", content=body.encode(), headers=headers)
                except httpx.HTTPError as err:
                    result.errors[type(err).__name__] += 1
                    continue
                elapsed = time.perf_counter() - started
                if _check(result, response.status_code, response.content, title, check_saved):
                    result.latencies.append(elapsed)
                    result.samples.append((started - t0, elapsed))

        await asyncio.gather(*(worker() for _ in range(load.concurrency)))
    result.wall = time.perf_counter() - t0


def _is_saved(content: bytes, title: str) -> bool:
    try:
        answer = json.loads(content)
    except ValueError:
        return False
    text = answer.get("text", "") if isinstance(answer, dict) else ""
    return "Saved" in text and title[:40] in text


def run_load(name: str, base: str, requests: list[tuple[str, str, dict]], load: Load, *,
             check_saved: bool) -> Result:
    result = Result(name)
    if load.client == "httpx-async":
        asyncio.run(_run_async(base, requests, load, check_saved, result))
    else:
        _run_threads(base, requests, load, check_saved, result)
    return result


@contextlib.contextmanager
def profiled(folder: Path | None, name: str, server: h.Server, idle: bool) -> Iterator[None]:
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
            "--output", str(out), *(["--idle"] if idle else [])]
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


def report(results: list[Result]) -> None:
    head = (f"{'':10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'req/s':>9}{'CPU ms/req':>11}"
            f"{'others':>8}  errors")
    print(head)
    for r in results:
        rate = len(r.latencies) / r.wall if r.wall else 0.0
        errs = ", ".join(f"{k}: {v}" for k, v in r.errors.items()) or "0"
        if r.not_sent:
            errs += f"; not sent (time limit): {r.not_sent}"
        print(f"{r.name:10}" + "".join(f"{r.pct(p):9.1f}" for p in PERCENTILES)
              + f"{r.max_ms:9.1f}{rate:9.0f}{1000 * r.server_cpu / max(1, len(r.latencies)):11.1f}"
              + f"{100 * r.others:7.0f}%  {errs}")


def _phases(args: argparse.Namespace) -> list[tuple[str, Load]]:
    base = Load(concurrency=args.concurrency, client=args.client, max_seconds=args.max_seconds, timeout=args.timeout)
    phases = [(f"closed loop, concurrency {args.concurrency}", base)]
    phases += [(f"open loop at {rate:g} req/s (at most {args.concurrency} in flight)", replace(base, rate=rate))
               for rate in args.rates]
    return phases


def _start_servers(fake: h.FakeSlack, url: str, log_dir: Path, servers: list[h.Server]) -> tuple[h.Server, h.Server]:
    pmbot = h.start_pmbot(fake.url, url, log_dir)
    servers.append(pmbot)
    port = h.free_port()
    bare = h.start_server("bare", [sys.executable, str(Path(__file__).with_name("bare_bolt.py"))], {
        "PORT": str(port), "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET, "SLACK_API_URL": fake.url,
        "LOG_LEVEL": "warning",
    }, port, log_dir)
    servers.append(bare)
    return bare, pmbot


def _write_samples(path: Path, phases: list[tuple[str, list[Result]]]) -> None:
    with open(path, "w") as fh:
        fh.write("phase,server,sent_at_s,latency_ms\n")
        for label, results in phases:
            for r in results:
                fh.writelines(f'"{label}",{r.name},{at:.4f},{1000 * lat:.2f}\n' for at, lat in r.samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=1000,
                        help="measured requests per server and phase (default 1000)")
    parser.add_argument("--concurrency", type=int, default=20, help="requests in flight at most (default 20)")
    parser.add_argument("--rates", type=float, nargs="*", default=[100], metavar="RATE",
                        help="after the closed loop, an open-loop phase at each of these rates, requests per "
                        "second (default: 100; none: closed loop only)")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests first (default 100)")
    parser.add_argument("--users", type=int, default=10, help="distinct people typing /req (default 10)")
    parser.add_argument("--max-seconds", type=float, default=300, help="time limit of each phase (default 300)")
    parser.add_argument("--timeout", type=float, default=10, help="per-request timeout, seconds (default 10)")
    parser.add_argument("--client", choices=("stdlib", "httpx", "httpx-async"), default="stdlib",
                        help="load generator: keep-alive http.client connections in threads (default, the "
                        "leanest), httpx.Client in threads, or one httpx.AsyncClient")
    parser.add_argument("--profile", type=Path, help="record each server with py-spy (pip install py-spy into "
                        ".venv) during each measured phase; writes collapsed stacks to this folder")
    parser.add_argument("--profile-idle", action="store_true", help="include idle (waiting) threads in --profile")
    parser.add_argument("--samples", type=Path, help="write every measured request (phase, server, sent at, "
                        "latency) to this CSV file")
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1 or args.users < 1 or any(r <= 0 for r in args.rates):
        parser.error("--requests, --concurrency, --users and --rates must be positive")

    phases = _phases(args)
    print(f"Machine: {h.machine()}")
    print(f"Database: {args.database}. Per server and phase: {args.requests} measured /req quick captures "
          f"(after {args.warmup} warm-up ones) from {args.users} users; load generator: {args.client}")
    users = h.team_users(args.users)
    run_id = uuid.uuid4().hex[:8]
    fake = h.start_fake_slack(users)
    servers: list[h.Server] = []
    try:
        with h.database(args.database) as url, tempfile.TemporaryDirectory(prefix="pmbot-bench-logs-") as logs:
            h.migrate_and_make_project(url)
            bare, pmbot = _start_servers(fake, url, Path(logs), servers)
            idle_kb = h.proc_status(pmbot.process.pid)["VmHWM"]
            pairs = (("bare Bolt", bare, False), ("PM Bot", pmbot, True))
            ours = [os.getpid(), bare.process.pid, pmbot.process.pid, *h.database_pids(url)]
            for name, server, _ in pairs:
                warm = build_requests(args.warmup, users, f"warm-up {run_id} {name}", fake)
                run_load(name, server.base, warm, phases[0][1], check_saved=False)

            done: list[tuple[str, list[Result]]] = []
            expected: set[str] = set()
            for k, (label, load) in enumerate(phases):
                measured = build_requests(args.requests, users, f"bench {run_id} p{k}", fake)
                expected |= {title for title, _, _ in measured}
                results = []
                for name, server, check in pairs:
                    cpu_before = h.cpu_seconds(server.process.pid)
                    with h.Interference(ours) as noise, profiled(args.profile, f"{name} p{k}", server,
                                                                 args.profile_idle):
                        result = run_load(name, server.base, measured, load, check_saved=check)
                    result.server_cpu = h.cpu_seconds(server.process.pid) - cpu_before
                    result.others = noise.share
                    results.append(result)
                done.append((label, results))
            peak_kb = h.proc_status(pmbot.process.pid)["VmHWM"]
            load_after = h.load_average()
            for server in servers:
                server.stop()
            if args.samples:
                _write_samples(args.samples, done)

            ratios = []
            for k, (label, results) in enumerate(done):
                print(f"\nPhase {k + 1}: {label}")
                report(results)
                bare_r, bot_r = results
                ratio = {p: bot_r.pct(p) / bare_r.pct(p) for p in PERCENTILES}
                ratios.append(ratio)
                print("PM Bot / bare: " + ", ".join(f"p{p} {ratio[p]:.2f}x" for p in PERCENTILES)
                      + f", max {bot_r.max_ms / bare_r.max_ms:.2f}x")

            counts = Counter(h.stored_titles(url, f"bench {run_id} "))
            missing = len(expected - counts.keys())
            duplicates = sum(c - 1 for c in counts.values() if c > 1)
            print(f"\nStored: {len(counts)} of {len(expected)} requirements sent to PM Bot "
                  f"({missing} missing, {duplicates} duplicates)")
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
            clean = (missing == 0 and duplicates == 0
                     and all(r.error_count == 0 and r.not_sent == 0 for _, rs in done for r in rs))
            ok = clean and ratios[0][99] <= GOAL_P99_RATIO
            print(f"Goal (closed loop, concurrency {args.concurrency}: p99 <= {GOAL_P99_RATIO}x bare; zero errors; "
                  f"all stored once): {'met' if ok else 'NOT met'} (p99 {ratios[0][99]:.2f}x, "
                  f"{'no' if clean else 'some'} errors or losses)")
            for (label, _), ratio in zip(done[1:], ratios[1:], strict=True):
                verdict = "within" if ratio[99] <= GOAL_P99_RATIO else "NOT within"
                print(f"  {label}: p99 {ratio[99]:.2f}x bare, {verdict} {GOAL_P99_RATIO}x")
            return 0 if ok else 1
    finally:
        for server in servers:
            server.stop()
        fake.stop()


if __name__ == "__main__":
    raise SystemExit(main())
