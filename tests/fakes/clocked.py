"""Run `pmbot` in a subprocess on a controlled clock: `python -m tests.fakes.clocked ISO ARGS…`.

A test that creates its data with the frozen test clock must not then run a process on the real
one (what is due depends on the day the suite runs). This starts the clock at ISO (an aware ISO
8601 moment) and lets it tick from there, so the child sees the test's time, not the calendar's.
"""

from __future__ import annotations

import sys
from datetime import datetime

import time_machine


def main(argv: list[str]) -> int:
    at = datetime.fromisoformat(argv[0])
    if at.tzinfo is None:
        raise SystemExit("clocked: the moment needs a time zone offset")
    with time_machine.travel(at, tick=True):
        from bot.cli import main as pmbot

        return pmbot(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
