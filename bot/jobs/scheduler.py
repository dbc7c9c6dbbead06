"""Build and start the scheduler: fixed job ids, `replace_existing`, a short tick."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from bot.deps import Deps
from bot.slack.post import deliver_due

log = logging.getLogger(__name__)

OUTBOX_JOB_ID = "outbox-retry"


def retry_outbox(deps: Deps) -> int:
    """Send every message whose earlier attempt failed (or whose sender died)."""
    sent = deliver_due(deps)
    if sent:
        log.info("outbox sweep sent %s message(s)", sent)
    return sent


def build_scheduler(deps: Deps) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    scheduler.add_job(retry_outbox, "interval", seconds=60, id=OUTBOX_JOB_ID, replace_existing=True,
                      args=[deps], misfire_grace_time=300)
    return scheduler


def start_scheduler(deps: Deps) -> BackgroundScheduler:
    scheduler = build_scheduler(deps)
    scheduler.start()
    log.info("scheduler started with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    return scheduler
