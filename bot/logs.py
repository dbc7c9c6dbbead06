"""One log format for the whole process: PM Bot, Bolt, slack_sdk, uvicorn, APScheduler, Alembic.

`setup_logging(settings)` installs a single handler on the root logger (standard error); every
library logs through it. `LOG_FORMAT=text` (default) writes

    2026-11-18T10:00:00.123Z INFO bot.web: slack request request_id=… team=T… user=U… …

and `LOG_FORMAT=json` one JSON object a line with `time`, `level`, `logger`, `message` and, when
known, `request_id`, `team`, `user`, `command`, `action_id`, `callback_id`, `event`, `type`,
`latency_ms`, plus `exception` (the traceback as one string) for an error with one.

Request context: `with request_context(request_id=…, team=…)` makes every line logged in that
context (thread or task) carry those fields. APScheduler's per-run INFO chatter ("Running job …",
"… executed successfully") is logged at DEBUG.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

# Fields a line may carry beyond time, level, logger and message, in this order.
CONTEXT_FIELDS = ("request_id", "team", "user", "type", "command", "action_id", "callback_id", "event",
                  "status", "latency_ms")
_context: ContextVar[dict[str, Any] | None] = ContextVar("pmbot_log_context", default=None)


@contextmanager
def request_context(**fields: Any) -> Iterator[None]:
    """Attach `fields` to every line logged inside this block (in this thread or task)."""
    merged = {**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def context_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context fields of a record: `extra=` given to the call wins over the context."""
    out: dict[str, Any] = dict(_context.get() or {})
    for name in CONTEXT_FIELDS:
        value = record.__dict__.get(name)
        if value is not None:
            out[name] = value
    return {k: out[k] for k in CONTEXT_FIELDS if out.get(k) is not None}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`TIME LEVEL logger: message key=value …`, the traceback (if any) below."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        fields = context_fields(record)
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line (a traceback goes inside it, as `exception`)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": _timestamp(record), "level": record.levelname, "logger": record.name,
                               "message": record.getMessage()}
        out.update(context_fields(record))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class _SchedulerChatter(logging.Filter):
    """APScheduler logs every run of every job at INFO: demoted to DEBUG (shown only then)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("apscheduler") and record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self.level <= logging.DEBUG
        return True


class _Handler(logging.StreamHandler):
    """The handler this module installs (a second set-up replaces it). Without a stream of its
    own it writes to whatever `sys.stderr` is at the time of each line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._own_stream = stream
        super().__init__(stream)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return self._own_stream or sys.stderr

    @stream.setter
    def stream(self, value: TextIO | None) -> None:
        self._own_stream = value if value is not sys.stderr else None


# The slack_sdk loggers that test `logger.level` itself before building a debug line.
SLACK_SDK_SELF_LEVELLED = ("slack_sdk.web.base_client", "slack_sdk.webhook.client")


def setup_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Route every logger of the process through one handler in one format."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    handler = _Handler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_SchedulerChatter(numeric))
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, _Handler) or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # Libraries that configure themselves (uvicorn is given log_config=None) log through the root.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "apscheduler", "slack_bolt", "slack_sdk", "alembic"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
        lib.setLevel(logging.NOTSET)
    # slack_sdk decides whether to build its debug lines (each Web API call's whole JSON body and
    # answer, as text) from its own logger's level, not the effective one: left unset, it built
    # them on every call only for them to be dropped (issue 13).
    for name in SLACK_SDK_SELF_LEVELLED:
        logging.getLogger(name).setLevel(logging.NOTSET if numeric <= logging.DEBUG else numeric)
    # "Context impl …", "Will assume transactional DDL" on every start: shown at DEBUG only.
    logging.getLogger("alembic").setLevel(logging.WARNING if numeric > logging.DEBUG else logging.DEBUG)
