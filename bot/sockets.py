"""A look at a pooled connection's socket, for the pools that reuse idle connections (the
database's in bot/db.py, the Web API's in bot/slack/transport.py)."""

from __future__ import annotations

import select


def readable_now(fd: int) -> bool:
    """Whether socket `fd` has something to read (or is closed) right now, without waiting. An
    idle connection has nothing to read: if it reads, the server closed it (or broke the
    protocol). poll(), not select(): select() refuses descriptors above 1023, which a busy
    process has."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fd], [], [], 0)  # Windows: no poll()
    return bool(readable)
