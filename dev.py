#!/usr/bin/env python3
"""One-command set-up for PM Bot: creates .venv, installs the project, then runs a task.

    python3 dev.py demo        set up and run the offline demo on the embedded SQLite database
    python3 dev.py test [...]  set up and run the whole test suite (extra args go to pytest)
    python3 dev.py run         set up and start the bot (needs Slack settings, see README)

Only Python 3.11+ with pip and venv is needed. Nothing has to be activated by hand.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".pmbot-installed"


def _python() -> Path:
    return BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file also runs on an older python3
        sys.exit(f"PM Bot needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not _python().exists():
        print("Creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    print("Installing PM Bot and its dependencies into .venv …", flush=True)
    pip = [str(_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(digest)


def main(argv: list[str]) -> int:
    task, rest = (argv[0], argv[1:]) if argv else ("demo", [])
    ensure_env()
    if task == "test":
        return subprocess.call([str(_python()), "-m", "pytest", *rest], cwd=ROOT)
    if task in {"demo", "run", "migrate", "digest", "remind"}:
        return subprocess.call([str(_python()), "-m", "bot", task, *rest], cwd=ROOT)
    if task == "setup":
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
