"""Shared plumbing of the benchmarks: the fake Slack Web API, a throwaway database, and
`pmbot run` (or another server) as a real subprocess on a loopback port.

Not a benchmark itself; `ack_latency.py` and `memory.py` import it. Everything listens on
127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the fake Slack lives in tests/fakes, outside the installed package
    sys.path.insert(0, str(ROOT))

from tests.fakes import payloads  # noqa: E402
from tests.fakes.slack_api import Call, FakeSlack  # noqa: E402

TEAM = "T0TEAM"
CLIENT_CHANNEL = "C0CLIENT"
INTERNAL_CHANNEL = "C0INTERNAL"
PM = "U0PM"
CLIENT = "U0CLIENT"
BOT_TOKEN = "xoxb-bench-token"
PMBOT = ROOT / ".venv" / "bin" / "pmbot"


def machine() -> str:
    """One line naming what the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; {load_average()}")


def load_average() -> str:
    """The 1-minute load average: other work on the machine skews the figures."""
    return f"load average {os.getloadavg()[0]:.2f}"


def team_users(n: int) -> list[str]:
    """The people who type `/req` in the benchmark: the PM and n-1 colleagues."""
    return [PM, *(f"U0DEV{i:03d}" for i in range(1, n))]


class BenchSlack(FakeSlack):
    """The fake Slack Web API, telling a waiting load generator when a response_url it handed
    out was answered (the end of a click whose outcome is posted there)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._waiters: dict[str, tuple[threading.Event, list[float]]] = {}
        self._waiters_lock = threading.Lock()

    def expect_response(self, name: str) -> None:
        """Get ready to wait for a POST to response_url(`name`) (call before sending the request)."""
        with self._waiters_lock:
            self._waiters[name] = (threading.Event(), [])

    def wait_response(self, name: str, timeout: float) -> float | None:
        """time.perf_counter() when response_url(`name`) was answered, or None after `timeout`."""
        with self._waiters_lock:
            event, at = self._waiters[name]
        if not event.wait(timeout):
            return None
        with self._waiters_lock:
            self._waiters.pop(name, None)
        return at[0]

    def _answered(self, call: Call) -> None:
        super()._answered(call)
        if call.method == "response_url":
            with self._waiters_lock:
                waiter = self._waiters.get(str(call.params.get("_name")))
            if waiter is not None and not waiter[0].is_set():
                waiter[1].append(time.perf_counter())
                waiter[0].set()


def start_fake_slack(users: list[str]) -> BenchSlack:
    fake = BenchSlack(team_id=TEAM)
    fake.start()
    for user in users:
        fake.add_user(user, name=user.lower(), tz="Europe/Berlin")
    fake.add_user(CLIENT, team_id="T0EXT", name="chris.client", locale="zh-CN")
    fake.set_channel(CLIENT_CHANNEL, name="client-acme", is_ext_shared=True)
    fake.set_channel(INTERNAL_CHANNEL, name="acme-team")
    fake.set_members(CLIENT_CHANNEL, [*users, CLIENT])
    fake.set_members(INTERNAL_CHANNEL, users)
    return fake


@contextlib.contextmanager
def no_collector_pauses() -> Iterator[None]:
    """No garbage-collector pass in THIS process while a phase is measured: this process is the
    load generator and the fake Slack that a server's Web API calls wait on. A full pass over
    its ~150,000 objects stopped every thread for 50-95 ms, and the 10-20 requests in flight
    then were the p99 of whichever server was being measured (the top 1% of a phase's requests
    were all sent within the same few milliseconds). Collected before; collecting again after.
    The servers' own collectors run as they always do: they are what is measured."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psycopg_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@contextlib.contextmanager
def database(kind: str, pg_dir: str | None = None) -> Iterator[str]:
    """A fresh, empty database URL: an SQLite file in a temporary folder, or a throwaway
    PostgreSQL cluster (scripts/pg_throwaway.sh) that is stopped and deleted afterwards. With
    `pg_dir`, the cluster there (started if it is not running, left running afterwards) gets a
    fresh database of its own, dropped afterwards."""
    if kind == "postgresql" and pg_dir:
        with _database_in_cluster(pg_dir) as url:
            yield url
        return
    tmp = tempfile.mkdtemp(prefix=f"pmbot-bench-{kind}-")
    os.chmod(tmp, 0o755)  # the throwaway cluster may run as an unprivileged user
    try:
        if kind == "sqlite":
            yield f"sqlite:///{tmp}/bench.db"
            return
        script = str(ROOT / "scripts" / "pg_throwaway.sh")
        started = subprocess.run([script, "start", tmp], check=True, capture_output=True, text=True, timeout=180)
        url = started.stdout.strip().splitlines()[-1]
        _postmaster_pid_files[url] = Path(tmp) / "data" / "postmaster.pid"
        try:
            yield url
        finally:
            _postmaster_pid_files.pop(url, None)
            subprocess.run([script, "stop", tmp], capture_output=True, timeout=120)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_postmaster_pid_files: dict[str, Path] = {}


@contextlib.contextmanager
def _database_in_cluster(pg_dir: str) -> Iterator[str]:
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    script = str(ROOT / "scripts" / "pg_throwaway.sh")
    started = subprocess.run([script, "start", pg_dir], check=True, capture_output=True, text=True, timeout=180)
    server = make_url(psycopg_url(started.stdout.strip().splitlines()[-1]))
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = server.set(database=name).render_as_string(hide_password=False)
        _postmaster_pid_files[url] = Path(pg_dir) / "data" / "postmaster.pid"
        try:
            yield url
        finally:
            _postmaster_pid_files.pop(url, None)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def outbox_owed(url: str, project_id: int) -> int:
    """How many of a project's outbox rows are still waiting or being sent (messages a server
    still owes Slack: work it has yet to do)."""
    from sqlalchemy import func
    from sqlmodel import Session, col, select

    from bot.db import make_engine
    from bot.models import Outbox

    engine = make_engine(psycopg_url(url), sqlite_immediate=False)
    try:
        with Session(engine) as s:
            return int(s.exec(select(func.count()).select_from(Outbox)
                              .where(col(Outbox.status).in_(["pending", "sending"]),
                                     Outbox.project_id == project_id)).one())
    finally:
        engine.dispose()


def database_pids(url: str) -> list[int]:
    """The PostgreSQL server process behind `url` when this module started it (its backends are
    its children); nothing for SQLite, which runs inside the bot."""
    pid_file = _postmaster_pid_files.get(url)
    with contextlib.suppress(OSError, ValueError, IndexError):
        return [int(pid_file.read_text().split()[0])] if pid_file else []
    return []


def migrate_and_make_project(url: str, *, pm: str = PM, name: str = "Bench Project",
                             client_channel: str = CLIENT_CHANNEL, internal_channel: str = INTERNAL_CHANNEL) -> int:
    """Bring the schema up to date and create one project bound to the bench channels, straight
    through the service (the modal is not what the benchmark is about)."""
    from bot.clock import SystemClock
    from bot.db import make_engine, session_scope
    from bot.migrate import upgrade
    from bot.services import projects

    engine = make_engine(psycopg_url(url))
    try:
        upgrade(engine)
        with session_scope(engine) as s:
            project = projects.create(
                s, SystemClock(), team_id=TEAM, enterprise_id=None, actor=pm,
                data=projects.ProjectInput(
                    name=name, client_name="Bench Ltd.", client_channel_id=client_channel,
                    internal_channel_id=internal_channel, pm_user_id=pm, client_approver_ids=[CLIENT],
                    timezone="Europe/Berlin", language="en",
                ),
            )
            assert project.id is not None
            return project.id
    finally:
        engine.dispose()


def stored_titles(url: str, prefix: str, project_id: int | None = None) -> list[str]:
    """Titles of the stored requirements that start with `prefix` (duplicates kept), of one
    project when `project_id` is given."""
    from sqlmodel import Session, col, select

    from bot.db import make_engine
    from bot.models import Requirement

    engine = make_engine(psycopg_url(url), sqlite_immediate=False)
    try:
        with Session(engine) as s:
            stmt = select(Requirement.title).where(col(Requirement.title).startswith(prefix))
            if project_id is not None:
                stmt = stmt.where(Requirement.project_id == project_id)
            return list(s.exec(stmt))
    finally:
        engine.dispose()


@dataclass
class Server:
    """A server subprocess on a loopback port."""

    name: str
    process: subprocess.Popen
    base: str
    log_path: Path

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def start_server(name: str, argv: list[str], env: dict[str, str], port: int, log_dir: Path,
                 ready_path: str = "/healthz", timeout: float = 60) -> Server:
    """Start `argv` with `env` added to this environment and wait (bounded) until GET
    `ready_path` answers 200 on 127.0.0.1:`port`."""
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the child, closed with the process
    process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                               cwd=log_dir)
    log.close()
    server = Server(name=name, process=process, base=f"http://127.0.0.1:{port}", log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.base + ready_path, timeout=2).status_code == 200:
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not answer {ready_path} within {timeout:.0f} s:\n{server.log_tail()}")


def start_pmbot(slack_url: str, url: str, log_dir: Path, *, scheduler: bool = False,
                extra_env: dict[str, str] | None = None) -> Server:
    """`pmbot run` of this checkout in HTTP mode against the Slack Web API at `slack_url` and
    the database at `url`."""
    port = free_port()
    env = {
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "DATABASE_URL": url,
        "PORT": str(port),
        "SCHEDULER_ENABLED": "true" if scheduler else "false",
        "LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    argv = [str(PMBOT), "run"] if PMBOT.exists() else [sys.executable, "-m", "bot", "run"]
    return start_server("pmbot", argv, {**env, "SLACK_APP_TOKEN": ""}, port, log_dir, ready_path="/readyz")


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (peak RSS) and friends of a process, in kB, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key.startswith("Vm") and value.strip().endswith("kB"):
                out[key] = int(value.split()[0])
    return out


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()


def tree_cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by these processes and all their descendants, the live ones and the
    ones already gone (their time is in their parent's cutime / cstime)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                children.setdefault(int(_stat(int(entry))[1]), []).append(int(entry))
    ticks, stack, seen = 0, list(pids), set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = _stat(pid)
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        stack.extend(children.get(pid, []))
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy (all CPUs, everything but idle and iowait)."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


class Interference:
    """How much CPU other processes on the machine took while a measurement ran: a busy
    neighbour slows both servers unevenly and makes the figures worthless."""

    def __init__(self, ours: list[int]) -> None:
        self.ours = ours

    def start(self) -> None:
        self._wall = time.monotonic()
        self._busy = machine_busy_seconds()
        self._ours = tree_cpu_seconds(self.ours)

    def stop(self) -> float:
        """The share of the machine other processes took since `start`."""
        wall = time.monotonic() - self._wall
        others = (machine_busy_seconds() - self._busy) - (tree_cpu_seconds(self.ours) - self._ours)
        self.share = max(0.0, others) / max(1e-9, wall * (os.cpu_count() or 1))
        return self.share

    def __enter__(self) -> Interference:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (children not included)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def awaiting_decision(url: str, project_id: int, n: int, prefix: str, fake: FakeSlack,
                      channel: str) -> list[tuple[int, int, str]]:
    """n requirements of the project, created and sent for confirmation through PM Bot's own
    services, each with its confirmation request posted in `channel` of the fake (so the update
    in place after a decision finds it): (id, version, message ts) of each."""
    from sqlmodel import col, select

    from bot.clock import SystemClock
    from bot.db import make_engine, session_scope
    from bot.models import Project, Requirement
    from bot.services import requirements

    engine = make_engine(psycopg_url(url))
    clock = SystemClock()
    try:
        ids: list[int] = []
        with session_scope(engine) as s:
            project = s.get(Project, project_id)
            assert project is not None
            for i in range(n):
                req = requirements.create(s, clock, project=project, actor=project.pm_user_id,
                                          data=requirements.RequirementInput(title=f"{prefix} {i:05d}: a CSV export"),
                                          raised_by_client=False)
                requirements.send_for_confirmation(s, clock, req=req, project=project, actor=project.pm_user_id)
                ts = fake.add_message(channel, f"REQ-{req.id} awaits confirmation", user=fake.bot_user_id,
                                      bot_id=fake.bot_id)
                requirements.set_confirmation_message(s, req, channel_id=channel, ts=ts)
                assert req.id is not None
                ids.append(req.id)
        with session_scope(engine) as s:
            rows = s.exec(select(Requirement.id, Requirement.version, Requirement.confirmation_ts)
                          .where(col(Requirement.id).in_(ids)).order_by(col(Requirement.id))).all()
            return [(int(i), int(v), str(ts)) for i, v, ts in rows]
    finally:
        engine.dispose()


def statuses(url: str, ids: list[int]) -> dict[int, str]:
    """The status of each of these requirements now."""
    from sqlmodel import Session, col, select

    from bot.db import make_engine
    from bot.models import Requirement

    engine = make_engine(psycopg_url(url), sqlite_immediate=False)
    try:
        with Session(engine) as s:
            rows = s.exec(select(Requirement.id, Requirement.status).where(col(Requirement.id).in_(ids))).all()
            return {int(i): str(status) for i, status in rows}
    finally:
        engine.dispose()
