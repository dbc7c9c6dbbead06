"""Satisfaction prompts the scheduler posts: every N weeks, and when a milestone is done.

Never more than one prompt per project within its cooldown (default 14 days), so clients are
not tired of surveys: `post_prompt` checks it, and its key makes two processes post one prompt.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import col, func, select

from bot.deps import Deps
from bot.models import ActivityLog, FeedbackPrompt, Project, ProjectStatus
from bot.services import calendar
from bot.slack.feedback_prompts import post_prompt

log = logging.getLogger(__name__)

MILESTONE_FRESH = timedelta(days=2)  # a milestone done longer ago no longer prompts


def due_prompts(deps: Deps, now: datetime) -> list[tuple[int, str]]:
    """(project id, trigger) of the prompts due now, in the projects' working hours."""
    with deps.session() as session:
        projects = [p for p in session.exec(select(Project).where(Project.status == ProjectStatus.active))
                    if calendar.within_working_hours(p, now)]
        if not projects:
            return []
        ids = [p.id for p in projects]
        last = dict(session.exec(select(FeedbackPrompt.project_id, func.max(FeedbackPrompt.created_at))
                                 .where(col(FeedbackPrompt.project_id).in_(ids))
                                 .group_by(FeedbackPrompt.project_id)).all())
        done = dict(session.exec(select(ActivityLog.project_id, func.max(ActivityLog.created_at))
                                 .where(col(ActivityLog.project_id).in_(ids), ActivityLog.action == "milestone_done",
                                        ActivityLog.created_at > now - MILESTONE_FRESH)
                                 .group_by(ActivityLog.project_id)).all())
    due: list[tuple[int, str]] = []
    for p in projects:
        assert p.id is not None
        previous = last.get(p.id)
        previous = previous.replace(tzinfo=now.tzinfo) if previous is not None and previous.tzinfo is None else previous
        cooled = previous is None or now - previous >= timedelta(days=p.feedback_cooldown_days)
        if not cooled:
            continue
        milestone_done = done.get(p.id)
        if milestone_done is not None and (previous is None or _aware(milestone_done, now) > previous):
            due.append((p.id, "milestone"))
        elif p.feedback_cadence_weeks > 0 and now - (previous or p.created_at) >= timedelta(
                weeks=p.feedback_cadence_weeks):
            due.append((p.id, "recurring"))
    return due


def _aware(value: datetime, now: datetime) -> datetime:
    return value.replace(tzinfo=now.tzinfo) if value.tzinfo is None else value


def run_feedback_prompts(deps: Deps, *, now: datetime | None = None) -> list[tuple[int, str, str]]:
    """Post the prompts that are due. Returns (project id, trigger, outcome) for each."""
    now = now or deps.clock.now()
    results = []
    for project_id, trigger in due_prompts(deps, now):
        outcome = post_prompt(deps, project_id=project_id, actor="pmbot", trigger=trigger)
        log.info("feedback prompt for project %s (%s): %s", project_id, trigger, outcome.status)
        results.append((project_id, trigger, outcome.status))
    return results
