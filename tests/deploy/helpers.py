"""What the deployment tests share: a wheel built from this checkout, a fresh virtual
environment with only that wheel installed, throwaway databases, and real `pmbot` processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.db import make_engine
from tests.fakes import payloads
from tests.fakes.slack_api import FakeSlack
from tests.resilience.helpers import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("PMBOT_TEST_DATABASE_URL") or ""
# What a source distribution of the project holds: enough to build the wheel.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "bot")


def build_wheel(out: Path) -> Path:
    """`pip wheel --no-deps` on a copy of the sources (the checkout itself stays untouched)."""
    src = out / "src"
    src.mkdir(parents=True)
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.exists():
            shutil.copy2(path, src / name)
    dist = out / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
                    "-w", str(dist), str(src)], check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("pmbot-*.whl")
    return wheel


def make_venv(where: Path, wheel: Path) -> Path:
    """A fresh virtual environment holding the wheel; its dependencies come from the running
    interpreter's site-packages (a .pth line each, like --system-site-packages), never the
    checkout, whose `bot` is nowhere on the new environment's path."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(where)
    py = where / ("Scripts" if os.name == "nt" else "bin") / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "_pmbot_test_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--force-reinstall", "-q",
                    "--disable-pip-version-check", str(wheel)], check=True, capture_output=True, timeout=300)
    return py.parent


def clean_env(**settings: str) -> dict[str, str]:
    """An environment with nothing of the test's own (no PYTHONPATH pointing at the checkout)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONUNBUFFERED": "1",
           "HOME": os.environ.get("HOME", "/")}
    env.update(settings)
    return env


@contextmanager
def fresh_database(kind: str, where: Path) -> Iterator[str]:
    """An empty database: an SQLite file under `where`, or a new PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{where / 'pmbot.db'}"
        return
    base = make_url(PG_URL)
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    name = f"{base.database}_deploy_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base.render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        # The plain form a self-hoster pastes (no +psycopg driver).
        yield base.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_http(url: str, *, status: int = 200, timeout: float = 30.0, proc: subprocess.Popen | None = None,
              log: Path | None = None) -> httpx.Response:
    """Poll `url` until it answers `status`; fail early when `proc` died."""

    def probe() -> httpx.Response | None:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"pmbot exited {proc.returncode}: {log.read_text() if log else ''}")
        try:
            resp = httpx.get(url, timeout=2)
        except httpx.HTTPError:
            return None
        return resp if resp.status_code == status else None

    return wait_until(probe, timeout=timeout, interval=0.1, what=f"{url} to answer {status}")


def bot_settings(fake: FakeSlack, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `pmbot run` of this checkout on a free loopback port."""
    env = clean_env(PYTHONPATH=str(ROOT), SLACK_BOT_TOKEN="xoxb-test-secret", SLACK_API_URL=fake.url,
                    SLACK_SIGNING_SECRET=payloads.SIGNING_SECRET, DATABASE_URL=database_url, HOST="127.0.0.1",
                    PORT=str(free_port()), SCHEDULER_ENABLED="false", LOG_LEVEL="INFO")
    env.update(extra)
    return env


def start_bot(env: dict[str, str], cwd: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    """`python -m bot run` (or ARGS) in `cwd`; both output streams into cwd/bot.log."""
    log = cwd / "bot.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", *(args or ("run",))], env=env, cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT)
    return proc, log


def base_url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['PORT']}"


def lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.strip()]


def stop(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


__all__ = ["PG_URL", "ROOT", "base_url", "bot_settings", "build_wheel", "clean_env", "free_port", "fresh_database",
           "lines", "make_venv", "start_bot", "stop", "wait_http", "wait_until"]
