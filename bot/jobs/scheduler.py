"""Build and start the scheduler: one job with a fixed id that ticks every minute.

Each tick asks the database what is due — failed messages to retry, PM previews, digests,
reminders, nudges, feedback prompts, monthly reports — in each project's own time zone, and runs the flow that
sends it. Nothing scheduled is posted outside its project's working days and hours: what falls
due outside them (a missed run, an outage, a retry) waits for the next working hour, the retry
sweep included (`SCHEDULED`). A message Slack refused for good is told to the project's PM.
Nothing depends on the scheduler's memory, so a restart, a change of settings or a missed tick
changes nothing: the next tick catches up. Several processes may tick at once: the
outbox keys and claims decide who sends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import col, select

from bot.db import read_scope
from bot.deps import Deps
from bot.flows import acceptance, digest, reminders, reports, undelivered
from bot.flows.delivery import deliver_due
from bot.flows.outbox_keys import Kind
from bot.jobs.feedback_prompts import run_feedback_prompts
from bot.models import Outbox, OutboxStatus
from bot.services import calendar

log = logging.getLogger(__name__)

TICK_JOB_ID = "pmbot-tick"
TICK_SECONDS = 60

# Messages the scheduler posts on its own: retried only inside their project's working hours.
SCHEDULED = frozenset({Kind.digest, Kind.digest_late, Kind.preview, Kind.reminder, Kind.nudge, Kind.escalation,
                       Kind.feedback_prompt, Kind.acc_auto_notice,
                       Kind.monthly_report})  # reports (issue 16)


# Whether the outbox holds any message not sent yet (waiting, or claimed by a sender): one
# indexed read (ix_outbox_status_due), built once.
_ANY_OWED = select(Outbox.id).where(col(Outbox.status).in_([OutboxStatus.pending, OutboxStatus.sending])).limit(1)


def retry_due(deps: Deps, now: datetime, _among: Collection[int] | None = None) -> int:
    """The retry sweep, holding scheduled messages outside their project's working hours. Most
    minutes every message is sent: one read says so, and the sweep (taking back dead senders'
    claims, reading what is due, each in a write transaction) is not run."""
    with read_scope(deps.engine) as session:
        if session.exec(_ANY_OWED).first() is None:
            return 0
    return deliver_due(deps, keep=lambda session, ids: calendar.in_working_hours(session, ids, now, SCHEDULED))


# Work each tick does, in order: (deps, now, the projects inside their working hours now, or
# None for every active project).
Step = Callable[[Deps, datetime, Collection[int] | None], object]
STEPS: list[tuple[str, Step]] = [
    ("retry failed messages", retry_due),
    ("PM previews", lambda deps, now, among: digest.send_previews(deps, now=now, among=among)),
    ("weekly digests", lambda deps, now, among: digest.run_due(deps, now=now, among=among)),
    ("reminders", lambda deps, now, among: reminders.send_reminders(deps, now=now, among=among)),
    ("decision nudges", lambda deps, now, among: reminders.send_nudges(deps, now=now, among=among)),
    ("feedback prompts", lambda deps, now, among: run_feedback_prompts(deps, now=now, among=among)),
    ("auto-accept unanswered deliveries", lambda deps, now, _among: acceptance.run_due(deps, now=now)),
    ("monthly reports", lambda deps, now, among: reports.run_monthly(deps, now=now, among=among)),  # reports (issue 16)
    ("messages Slack refused: tell the PM", lambda deps, _now, _among: undelivered.tell_pms(deps)),
]


def tick(deps: Deps, now: datetime | None = None) -> None:
    """Do everything that is due. A failing step is logged and does not stop the others.
    Everything scheduled is due only inside its project's working hours: the projects inside
    them now are read once, and the steps look at those only. When there are none, nothing
    scheduled can be due: only the retry sweep runs (and it holds scheduled messages)."""
    now = now or deps.clock.now()
    among: list[int] | None
    try:
        with read_scope(deps.engine) as session:  # a read: no write turn taken every minute
            among = calendar.at_work(session, now)
    except Exception:
        log.exception("could not read the projects' working hours; running every step")
        among = None
    for name, fn in STEPS if among is None or among else STEPS[:1]:  # nights and weekends: only the retry sweep
        try:
            fn(deps, now, among)
        except Exception:
            log.exception("scheduled step %r failed; the next tick tries again", name)


def build_scheduler(deps: Deps) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    scheduler.add_job(tick, "interval", seconds=TICK_SECONDS, id=TICK_JOB_ID, replace_existing=True,
                      args=[deps], misfire_grace_time=TICK_SECONDS * 5, next_run_time=deps.clock.now())
    return scheduler


def start_scheduler(deps: Deps) -> BackgroundScheduler:
    scheduler = build_scheduler(deps)
    scheduler.start()
    log.info("scheduler started: ticking every %s s", TICK_SECONDS)
    return scheduler
