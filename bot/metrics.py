"""Prometheus metrics, served on `GET /metrics` when METRICS_ENABLED=true.

What is counted where:
- Slack Web API calls and 429 answers, by method: every attempt of a client that went through
  `instrument_client` (the app's clients are, in `bot.app.create_app`), retries included.
- Acknowledgement latency, by request type (slash command, block action, view submission,
  event …): `observe_ack`, from the HTTP edge (`bot.web`) and the Socket Mode handler.
- Job durations and the time of the last scheduler tick: `watch_scheduler` listens to
  APScheduler's events (no code in the jobs).
- Outbox rows by state and kind, and the age of the oldest pending row: read from the database
  when /metrics is scraped (so every replica reports the same, shared queue).

The registry is this module's own (not prometheus_client's global one).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.error import HTTPError

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from bot.db import holds_any_turn

log = logging.getLogger(__name__)

disable_created_metrics()  # no `_created` series beside each counter and histogram
REGISTRY = CollectorRegistry()

SLACK_CALLS = Counter("pmbot_slack_api_calls", "Slack Web API call attempts, by method and HTTP status",
                      ["method", "status"], registry=REGISTRY)
SLACK_RATE_LIMITED = Counter("pmbot_slack_api_rate_limited", "Slack Web API answers 429 (rate limited), by method",
                             ["method"], registry=REGISTRY)
ACK_LATENCY = Histogram("pmbot_ack_latency_seconds", "Time from receiving a Slack request to acknowledging it",
                        ["type"], buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0),
                        registry=REGISTRY)
JOB_STARTED = Counter("pmbot_job_runs_started", "Scheduled job runs begun, by job", ["job"], registry=REGISTRY)
JOB_DURATION = Histogram("pmbot_job_duration_seconds", "Scheduled job run time, by job",
                         ["job"], buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300), registry=REGISTRY)
SLACK_CALLS_IN_TRANSACTION = Counter(
    "pmbot_slack_api_calls_in_transaction",
    "Slack Web API calls made inside a database transaction (other saves wait on them), by method",
    ["method"], registry=REGISTRY)
LAST_TICK = Gauge("pmbot_scheduler_last_tick_timestamp_seconds",
                  "Unix time at which the scheduler last finished a run of a job", registry=REGISTRY)


# Slack calls -----------------------------------------------------------------------------------


def instrument_client(client: Any) -> Any:
    """Count every HTTP attempt `client` (a slack_sdk WebClient) makes, by method and status."""
    if getattr(client, "_pmbot_instrumented", False):
        return client
    inner = client._perform_urllib_http_request_internal

    def attempt(url: str, req: Any) -> Any:
        method = url.rstrip("/").rsplit("/", 1)[-1] or "unknown"
        if holds_any_turn():  # a bug: Slack is asked before or after a transaction, never inside
            SLACK_CALLS_IN_TRANSACTION.labels(method).inc()
            log.warning("Slack Web API %s called inside a database transaction: other saves wait on it", method)
        try:
            resp = inner(url, req)
        except HTTPError as err:
            SLACK_CALLS.labels(method, str(err.code)).inc()
            if err.code == 429:
                SLACK_RATE_LIMITED.labels(method).inc()
            raise
        except Exception:
            SLACK_CALLS.labels(method, "error").inc()
            raise
        SLACK_CALLS.labels(method, str(resp.get("status", ""))).inc()
        return resp

    client._perform_urllib_http_request_internal = attempt
    client._pmbot_instrumented = True
    return client


# Acknowledgements -----------------------------------------------------------------------------


def observe_ack(request_type: str, seconds: float) -> None:
    ACK_LATENCY.labels(request_type or "unknown").observe(seconds)


# Scheduler ---------------------------------------------------------------------------------------


def watch_scheduler(scheduler: Any) -> None:
    """Time each job run (from submission to its end) and note when the last one ended."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED

    started: dict[tuple[str, Any], float] = {}
    lock = threading.Lock()

    def listen(event: Any) -> None:
        if event.code == EVENT_JOB_SUBMITTED:
            with lock:
                for run_time in event.scheduled_run_times:
                    started[(event.job_id, run_time)] = time.monotonic()
            JOB_STARTED.labels(event.job_id).inc()
            return
        with lock:
            begun = started.pop((event.job_id, event.scheduled_run_time), None)
        if begun is not None:
            JOB_DURATION.labels(event.job_id).observe(time.monotonic() - begun)
        LAST_TICK.set(time.time())

    scheduler.add_listener(listen, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)


# Outbox (read at scrape time) ----------------------------------------------------------------------


class OutboxCollector(Collector):
    """`pmbot_outbox_rows{state,kind}` and `pmbot_outbox_oldest_pending_age_seconds`."""

    def __init__(self) -> None:
        self.engine: Engine | None = None

    def describe(self) -> Iterator[Any]:
        return iter(())  # no query when registered

    def collect(self) -> Iterator[Any]:
        from bot.models import Outbox, OutboxStatus

        rows = GaugeMetricFamily("pmbot_outbox_rows", "Outbox rows, by state and kind", labels=["state", "kind"])
        oldest = GaugeMetricFamily("pmbot_outbox_oldest_pending_age_seconds",
                                   "Age of the oldest pending outbox row (0 when none is pending)")
        if self.engine is None:
            return
        try:
            with self.engine.connect() as conn:
                counts = conn.execute(select(Outbox.status, Outbox.kind, func.count())
                                      .group_by(Outbox.status, Outbox.kind)).all()
                first = conn.execute(select(func.min(Outbox.created_at))
                                     .where(Outbox.status == OutboxStatus.pending)).scalar()
        except Exception as err:  # the database is away: /readyz says so; /metrics still answers
            log.debug("metrics: outbox not readable: %s", type(err).__name__)
            return
        for status, kind, count in counts:
            rows.add_metric([str(status), str(kind)], count)
        age = 0.0
        if first is not None:
            first = first if first.tzinfo else first.replace(tzinfo=UTC)
            age = max(0.0, (datetime.now(UTC) - first).total_seconds())
        oldest.add_metric([], age)
        yield rows
        yield oldest


_OUTBOX = OutboxCollector()
REGISTRY.register(_OUTBOX)


def watch_outbox(engine: Engine) -> None:
    """Report the outbox of `engine`'s database on /metrics (the process's latest app's)."""
    _OUTBOX.engine = engine


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
