"""Satisfaction prompts the scheduler posts: every N weeks, and when a milestone is done.

What is due is a rule of `bot.services.feedback.due_prompts` (never within a project's cooldown,
only in its working hours); each prompt is posted by the same use case as `/feedback ask`
(`bot.flows.feedback.post_prompt`), whose outbox key makes two processes post one prompt.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from bot.deps import Deps
from bot.flows.feedback import post_due_prompts

log = logging.getLogger(__name__)


def run_feedback_prompts(deps: Deps, *, now: datetime | None = None,
                         among: Collection[int] | None = None) -> list[tuple[int, str, str]]:
    """Post the prompts that are due (of the projects `among`, when given: the scheduler's tick
    passes those inside their working hours). Returns (project id, trigger, outcome) for each."""
    posted = post_due_prompts(deps, now or deps.clock.now(), among)
    for project_id, trigger, status in posted:
        log.info("feedback prompt for project %s (%s): %s", project_id, trigger, status)
    return posted
