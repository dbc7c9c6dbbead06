"""Who holds a claim: this process's name, and whether another process is still alive.

A claim on an outbox row records its holder as `host:pid:start` (the process's start time, so a
pid the system reused for another process is not taken for the holder). A process that dies
leaves its claims behind; one on the same host can tell at once, without waiting for the claim
timeout, and take them over.
"""

from __future__ import annotations

import os
import socket
from functools import cache


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from the last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


@cache
def this_worker() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or '0'}"


def is_dead(worker: str | None) -> bool:
    """True only when `worker` ran on this host and is certainly gone (another host's process,
    or one we cannot check, counts as alive: its claim waits out the timeout)."""
    if not worker:
        return False
    host, _, rest = worker.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or not start:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return start != this_worker().rsplit(":", 1)[-1]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, someone else's
    now = _start_time(pid)
    return now is not None and start != "0" and now != start
