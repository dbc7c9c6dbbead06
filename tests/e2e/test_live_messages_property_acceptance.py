"""Issue 10, "messages rendered at send time", as a property for milestone acceptance: whatever a
delivery goes through (requests again, answers on the current and on an older version, issues,
the scheduler's auto-accept) while Slack calls fail and queued messages are delivered in any
order, once the retry sweep is done the delivery in the client channel equals a rendering of the
current record (the latest round's message; an earlier round's keeps its last rendering).

The steps call the use cases of `bot.flows.acceptance` (what the handlers call) against the fake
Web API; the expectation is drawn by `render_request` from the record as it is now.
"""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.db import session_scope
from bot.flows import acceptance as flow
from bot.flows.outbox_keys import Target, TargetKind
from bot.flows.plan_scope import Refused, Who
from bot.models import Acceptance, Outbox, OutboxStatus, Project
from bot.services import milestones, outbox, projects
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, TEAM
from tests.e2e.live_messages import TROUBLE, sweep, trouble

PM = Who(user_id="U0PM", is_team=True, lang="en", channel_id=INTERNAL_CHANNEL)
CLIENT = Who(user_id="U0CLIENT", is_team=False, lang="en", channel_id=CLIENT_CHANNEL)

STEPS = st.lists(st.sampled_from(["request", "accept", "accept_stale", "report", "auto", *TROUBLE]),
                 min_size=1, max_size=12)


def _acc(engine, milestone_id: int) -> Acceptance | None:
    with session_scope(engine) as s:
        acc = s.exec(select(Acceptance).where(Acceptance.milestone_id == milestone_id)).first()
        if acc is not None:
            s.expunge(acc)
        return acc


def _step(deps, engine, clock, fake_slack, milestone_id: int, step: str, rnd: random.Random) -> None:
    acc = _acc(engine, milestone_id)
    try:
        if step == "request":
            flow.request(deps, PM, milestone_id=milestone_id, delivery=f"Delivery at {clock.now():%H:%M}", link="")
        elif step in ("accept", "accept_stale") and acc is not None:
            flow.decide(deps, CLIENT, "accept", acc.id, acc.version - (step == "accept_stale"))
        elif step == "report" and acc is not None:
            flow.decide(deps, CLIENT, "report_issues", acc.id, acc.version, issues_text="Logo blurry", from_form=True)
        elif step == "auto":
            clock.advance(days=3)
            flow.run_due(deps, now=clock.now())
        elif step in TROUBLE:
            trouble(step, deps, engine, clock, fake_slack, rnd)
    except Refused:
        pass  # a refused step (wrong status, nothing to answer yet…) changes nothing


def acc_project(session, acc: Acceptance) -> int | None:
    from bot.models import Milestone

    milestone = session.get(Milestone, acc.milestone_id)
    return milestone.project_id if milestone is not None else None


S = None


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(steps=STEPS, seed=st.integers(0, 2**16))
@example(steps=["fail_post", "request", "accept_stale", "deliver_shuffled", "accept"], seed=0)
@example(steps=["request", "fail_update", "report", "request", "fail_update", "accept", "deliver_shuffled"], seed=1)
@example(steps=["request", "auto", "auto", "fail_update", "auto"], seed=2)
@example(steps=["fail_post", "request", "auto", "fail_post", "deliver_shuffled"], seed=0)  # given up after 72 h
@example(steps=["request", "fail_update", "accept", "auto", "deliver_shuffled"], seed=0)  # the update given up
def test_the_delivery_message_ends_as_a_rendering_of_the_record(deps, engine, clock, fake_slack, make_project,
                                                                 steps, seed):
    rnd = random.Random(seed)
    clock.set(clock.now().replace(hour=2))  # inside Shanghai's working hours
    with session_scope(engine) as s:  # one project for every example (a channel has one project)
        project = projects.for_channel(s, TEAM, CLIENT_CHANNEL)
    project = project or make_project(auto_accept_after_days=3)
    with session_scope(engine) as s:  # a fresh done milestone per example
        proj = s.get(Project, project.id)
        at = FrozenClock(clock.now() - timedelta(days=30))
        m = milestones.create(s, at, project=proj, actor="U0PM", allow_past_due=True,
                              data=milestones.MilestoneInput(name="Beta", due_date="2026-11-01"))
        milestones.update(s, at, project=proj, milestone=m, actor="U0PM", change=milestones.MilestoneChange(done=True))
        milestone_id = m.id
    for step in steps:
        _step(deps, engine, clock, fake_slack, milestone_id, step, rnd)

    sweep(deps, engine, clock, fake_slack)

    acc = _acc(engine, milestone_id)
    if acc is None:  # never requested: nothing in the client channel about it
        return
    if acc.message_ts is None:
        # Slack failed the post until its retry window (OUTBOX_RETRY_HOURS, 72 h; each "auto"
        # step moves three days on) was over: it was given up, and is reported as undelivered.
        with session_scope(engine) as s:
            given_up = [r.key for r in outbox.failed(s, project_id=acc_project(s, acc))]
        assert any(k.startswith("acc-request:") for k in given_up), given_up
        return
    target = Target(TargetKind.acceptance, acc.id)
    with session_scope(engine) as s:
        expected = flow.render_request(s, target)
        last_update = s.exec(select(Outbox).where(Outbox.target == str(target), Outbox.method == "chat.update")
                             .order_by(col(Outbox.id).desc())).first()
    assert acc.message_channel_id == CLIENT_CHANNEL
    shown = fake_slack.message(CLIENT_CHANNEL, acc.message_ts)
    assert shown is not None and expected is not None
    if last_update is not None and last_update.status == OutboxStatus.failed:
        # Slack failed the last in-place update until its retry window was over (an "auto" step
        # moves three days on): the message keeps its last rendering, and the update is given up
        # and reported as undelivered, as a post is.
        assert last_update.last_error == "service_unavailable"
        return
    assert shown["blocks"] == expected.payload["blocks"] and shown["text"] == expected.payload["text"]
