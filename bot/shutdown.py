"""A process-wide "please stop" flag.

`pmbot digest` / `pmbot remind` set it on SIGTERM, and `pmbot run` sets it when the server
stops, before waiting for the scheduler. Loops that send many messages check it between two
messages, so a run stops after the message under way: no claim is left behind, and what was
not sent stays queued for the next run.
"""

from __future__ import annotations

import threading

_stop = threading.Event()


def request_stop() -> None:
    _stop.set()


def stop_requested() -> bool:
    return _stop.is_set()


def reset() -> None:
    """Forget a stop request (for a process that goes on, e.g. a test)."""
    _stop.clear()
