"""Recurring and milestone-done satisfaction prompts, posted by the scheduler, with a cooldown."""

from __future__ import annotations

from datetime import timedelta

from bot.db import session_scope
from bot.jobs.feedback_prompts import run_feedback_prompts
from bot.services import milestones


def prompts_posted(fake_slack):
    return [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0CLIENT"
            and c.status == 200 and "prompt" in str(c.params.get("metadata", {}).get("event_payload", {}))]


def test_recurring_prompt_follows_the_cadence_in_working_hours(deps, fake_slack, make_project, clock):
    make_project(feedback_cadence_weeks=2)  # created Wed 18 Nov, 18:00 in Shanghai
    clock.advance(days=13, hours=16)  # Wed 2 Dec 10:00 Shanghai: 13 days 16 hours, not yet two weeks
    assert run_feedback_prompts(deps) == []
    clock.advance(days=1)  # Thu 3 Dec 10:00: past two weeks
    assert [(t, s) for _, t, s in run_feedback_prompts(deps)] == [("recurring", "posted")]
    assert run_feedback_prompts(deps) == []
    assert len(prompts_posted(fake_slack)) == 1
    clock.advance(days=4, hours=10)  # Sunday: not a working day, nothing even when due later
    assert run_feedback_prompts(deps) == []


def test_a_done_milestone_prompts_once_within_the_cooldown(deps, fake_slack, make_project, clock, engine):
    project = make_project()
    clock.advance(days=1, hours=-8)  # Thu 19 Nov 10:00 in Shanghai
    with session_scope(engine) as s:
        m1 = milestones.create(s, clock, project=project, actor="U0PM",
                               data=milestones.MilestoneInput(name="Beta", due_date="2026-12-01"))
        m2 = milestones.create(s, clock, project=project, actor="U0PM",
                               data=milestones.MilestoneInput(name="Launch", due_date="2026-12-20"))
    with session_scope(engine) as s:
        milestones.update(s, clock, project=project, milestone=s.get(type(m1), m1.id), actor="U0PM",
                          change=milestones.MilestoneChange(done=True))
    assert [(t, s) for _, t, s in run_feedback_prompts(deps)] == [("milestone", "posted")]
    clock.advance(days=3)
    with session_scope(engine) as s:
        milestones.update(s, clock, project=project, milestone=s.get(type(m2), m2.id), actor="U0PM",
                          change=milestones.MilestoneChange(done=True))
    assert run_feedback_prompts(deps) == []  # within the 14-day cooldown
    clock.advance(timedelta(days=14))
    assert run_feedback_prompts(deps) == []  # that milestone is old news by now
    assert len(prompts_posted(fake_slack)) == 1
