"""Issue 10, "messages rendered at send time", as a property for change requests: whatever a
request goes through (assessment and revisions, decisions on the current and on an older version,
withdrawal) while Slack calls fail and queued updates are delivered in any order, once the retry
sweep is done the approval request in the client channel equals a rendering of the current record.

The steps call the use cases of `bot.flows.changes` (what the handlers call, `finish`ing what a
form's flow queued), against the fake Web API; the expectation is drawn by `draw_approval` from
the record as it is now. The sweep delivers each due row the way `deliver_due` does, without its
one-second pace per channel (which would only make the test slow).
"""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.db import session_scope
from bot.flows import changes as flow
from bot.flows import outbox_keys
from bot.flows.outbox_keys import Target, TargetKind
from bot.handlers.common import Actor
from bot.models import ChangeRequest, Milestone
from bot.services import changes, milestones, outbox, projects
from bot.slack.users import UserKind
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, TEAM
from tests.e2e.live_messages import TROUBLE, sweep, trouble

PM = Actor(user_id="U0PM", kind=UserKind.team)
CLIENT = Actor(user_id="U0CLIENT", kind=UserKind.external)

STEPS = st.lists(st.one_of(
    st.tuples(st.just("assess"), st.sampled_from(["3", "5", "10"])),  # the first one sends it to the client
    st.tuples(st.sampled_from(["approve", "approve_stale", "reject", "withdraw",
                               *TROUBLE]), st.none()),
), min_size=1, max_size=12)


def _version(engine, cr_id: int) -> int:
    with session_scope(engine) as s:
        cr = s.get(ChangeRequest, cr_id)
        assert cr is not None
        return cr.version




def _step(deps, engine, clock, fake_slack, cr_id: int, ms_id: int, step: str, arg, rnd: random.Random):
    # A refused step (wrong status, a decided request…) answers `ok=False` and changes nothing.
    if step == "assess":
        reply = flow.assess(deps, PM, cr_id=cr_id, stamp=None, share_shown=False, channel_id=INTERNAL_CHANNEL,
                            data=changes.AssessmentInput(schedule_impact_days=arg, effort_hours="16",
                                                         milestone_ids=[ms_id]))
        flow.finish(deps, reply)  # the handler acknowledges the form, then sends what was queued
    elif step in ("approve", "approve_stale"):
        version = _version(engine, cr_id) - (step == "approve_stale")
        flow.decide(deps, CLIENT, cr_id=cr_id, version=version, channel_id=CLIENT_CHANNEL, approve=True)
    elif step == "reject":
        reply = flow.decide(deps, CLIENT, cr_id=cr_id, version=_version(engine, cr_id), channel_id=CLIENT_CHANNEL,
                            approve=False, in_form=True, reason="Too slow")
        flow.finish(deps, reply)
    elif step == "withdraw":
        flow.withdraw(deps, PM, cr_id=cr_id, channel_id=INTERNAL_CHANNEL)
    elif step in TROUBLE:
        trouble(step, deps, engine, clock, fake_slack, rnd)


S = None  # a step without an argument


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(steps=STEPS, seed=st.integers(0, 2**16))
@example(steps=[("withdraw", S)], seed=0)
@example(steps=[("assess", "5"), ("fail_update", S), ("assess", "10"), ("approve", S)], seed=1)
@example(steps=[("fail_post", S), ("assess", "5"), ("assess", "10"), ("approve_stale", S),
                ("deliver_shuffled", S), ("approve", S)], seed=2)
@example(steps=[("assess", "3"), ("fail_update", S), ("assess", "5"), ("fail_update", S), ("reject", S),
                ("deliver_shuffled", S), ("withdraw", S)], seed=3)
@example(steps=[("assess", "5"), ("fail_update", S), ("withdraw", S), ("approve", S), ("deliver_shuffled", S)],
         seed=4)
def test_the_approval_message_ends_as_a_rendering_of_the_record(deps, engine, clock, fake_slack, make_project,
                                                                 steps, seed):
    rnd = random.Random(seed)
    with session_scope(engine) as s:  # one project and milestone for every example (a channel has one project)
        project = projects.for_channel(s, TEAM, CLIENT_CHANNEL)
    project = project or make_project()
    with session_scope(engine) as s:
        ms = s.exec(select(Milestone).where(Milestone.project_id == project.id)).first()
        if ms is None:
            due = (clock.now() + timedelta(days=60)).date().isoformat()
            ms = milestones.create(s, clock, project=s.get(type(project), project.id), actor="U0PM",
                                   data=milestones.MilestoneInput(name="Beta", due_date=due))
        ms_id = ms.id
    with session_scope(engine) as s:  # a fresh request per example, raised by the PM (who may withdraw it)
        cr = changes.submit(s, clock, project=s.get(type(project), project.id), actor="U0PM", by_client=False,
                            data=changes.ChangeInput(title="Export to PDF too", milestone_ids=[ms_id]))
        cr_id = cr.id
    posted_before = len(fake_slack.messages(CLIENT_CHANNEL))
    for step, arg in steps:
        _step(deps, engine, clock, fake_slack, cr_id, ms_id, step, arg, rnd)

    sweep(deps, engine, clock, fake_slack)

    with session_scope(engine) as s:
        stored = s.get(ChangeRequest, cr_id)
        assert stored is not None
        expected = flow.draw_approval(s, Target(TargetKind.change, cr_id))
        sent = outbox.exists(s, outbox_keys.cr_approval(cr_id)) is not None
        ts, channel = stored.approval_ts, stored.approval_channel_id
    if not sent:  # never assessed: no approval request, in the client channel or anywhere
        assert ts is None and channel is None
        assert len(fake_slack.messages(CLIENT_CHANNEL)) == posted_before
        return
    assert ts is not None and channel == CLIENT_CHANNEL  # the request was posted (late, perhaps)
    shown = fake_slack.message(CLIENT_CHANNEL, ts)
    assert shown is not None and expected is not None
    assert shown["blocks"] == expected.payload["blocks"] and shown["text"] == expected.payload["text"]
