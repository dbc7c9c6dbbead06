"""Build and start the scheduler: one job with a fixed id that ticks every minute.

Each tick asks the database what is due — previews, digests, reminders, nudges, feedback
prompts, failed messages to retry — in each project's own time zone. Nothing depends on the
scheduler's memory, so a restart, a change of settings or a missed tick changes nothing: the
next tick catches up. Several processes may tick at once: the outbox keys and claims decide
who sends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler

from bot.deps import Deps
from bot.flows.delivery import deliver_due

log = logging.getLogger(__name__)

TICK_JOB_ID = "pmbot-tick"
TICK_SECONDS = 60

# Work each tick does, in order. Features add theirs (e.g. recurring feedback prompts).
TickStep = Callable[[Deps, datetime], object]
STEPS: list[tuple[str, TickStep]] = []


def step(name: str) -> Callable[[TickStep], TickStep]:
    def wrap(fn: TickStep) -> TickStep:
        STEPS.append((name, fn))
        return fn

    return wrap


def _register_default_steps() -> None:
    if STEPS:
        return
    from bot.jobs.nudges import run_nudges
    from bot.jobs.reminders import run_reminders
    from bot.jobs.weekly_digest import run_digests, send_previews

    STEPS.extend([
        ("retry failed messages", lambda deps, now: deliver_due(deps)),
        ("PM previews", lambda deps, now: send_previews(deps, now=now)),
        ("weekly digests", lambda deps, now: run_digests(deps, now=now)),
        ("reminders", lambda deps, now: run_reminders(deps, now=now)),
        ("decision nudges", lambda deps, now: run_nudges(deps, now=now)),
    ])
    try:  # recurring and milestone feedback prompts, when that feature is installed
        from bot.jobs.feedback_prompts import run_feedback_prompts

        STEPS.append(("feedback prompts", lambda deps, now: run_feedback_prompts(deps, now=now)))
    except ModuleNotFoundError as err:
        if err.name != "bot.jobs.feedback_prompts":
            raise


def tick(deps: Deps, now: datetime | None = None) -> None:
    """Do everything that is due. A failing step is logged and does not stop the others."""
    _register_default_steps()
    now = now or deps.clock.now()
    for name, fn in STEPS:
        try:
            fn(deps, now)
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
