"""Issue 10, "messages rendered at send time", as a property: whatever a requirement goes
through (edits, sending, decisions, stale clicks, team actions) while Slack calls fail and queued
updates are delivered in any order, once the retry sweep is done the confirmation request in the
client channel equals a rendering of the current record.

The steps call the use cases of `bot.flows.requirements` (what the handlers call), against the
fake Web API; the expectation is drawn by the registered renderer from the record as it is now.
The sweep delivers each due row the way `deliver_due` does, without its one-second pace per
channel (which would only make the test slow).
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.db import session_scope
from bot.flows import requirements as flow
from bot.flows.outbox_keys import Target, TargetKind
from bot.handlers.common import Actor
from bot.models import Requirement
from bot.services import projects, requirements
from bot.slack.users import UserKind
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, TEAM
from tests.e2e.live_messages import TROUBLE, sweep, trouble

PM = Actor(user_id="U0PM", kind=UserKind.team)
CLIENT = Actor(user_id="U0CLIENT", kind=UserKind.external)

STEPS = st.lists(st.one_of(
    st.tuples(st.just("edit"), st.sampled_from(["Export to CSV", "Export to CSV and PDF", "Export everything"])),
    st.tuples(st.sampled_from(["send", "confirm", "confirm_stale", "request_changes", "defer", "drop", "mark_done",
                               *TROUBLE]), st.none()),
), min_size=1, max_size=12)


def _version(engine, req_id: int) -> int:
    with session_scope(engine) as s:
        req = s.get(Requirement, req_id)
        assert req is not None
        return req.version




def _step(deps, engine, clock, fake_slack, req_id: int, project_id: int, step: str, arg, rnd: random.Random):
    try:
        if step == "edit":
            flow.save(deps, PM, project_id=project_id, req_id=req_id, stamp=None,
                      data=requirements.RequirementInput(title=arg, description=f"About {arg}"))
        elif step == "send":
            flow.send(deps, PM, req_id, INTERNAL_CHANNEL, "item")
        elif step in ("confirm", "confirm_stale"):
            version = _version(engine, req_id) - (step == "confirm_stale")
            flow.decide(deps, CLIENT, "confirm", req_id, version, channel_id=CLIENT_CHANNEL, where="confirm")
        elif step == "request_changes":
            flow.decide(deps, CLIENT, "request_changes", req_id, _version(engine, req_id), comment="More, please",
                        from_form=True)
        elif step in flow.TEAM_ACTIONS:
            flow.team_action(deps, PM, step, req_id, INTERNAL_CHANNEL, "item")
        elif step in TROUBLE:
            trouble(step, deps, engine, clock, fake_slack, rnd)
    except flow.Refused:
        pass  # not possible now (wrong status, closed…): nothing changed, as the use case says


S = None  # a step without an argument


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(steps=STEPS, seed=st.integers(0, 2**16))
@example(steps=[("send", S), ("defer", S)], seed=0)
@example(steps=[("send", S), ("fail_update", S), ("edit", "Export to CSV and PDF"), ("confirm", S)], seed=1)
@example(steps=[("send", S), ("fail_update", S), ("confirm", S), ("edit", "Export everything"),
                ("deliver_shuffled", S), ("mark_done", S)], seed=2)
@example(steps=[("fail_post", S), ("send", S), ("request_changes", S), ("edit", "Export everything"),
                ("send", S), ("confirm_stale", S), ("deliver_shuffled", S)], seed=3)
@example(steps=[("send", S), ("fail_update", S), ("edit", "Export to CSV"), ("fail_update", S), ("confirm", S),
                ("deliver_shuffled", S), ("drop", S)], seed=4)
def test_the_confirmation_message_ends_as_a_rendering_of_the_record(deps, engine, clock, fake_slack, make_project,
                                                                     steps, seed):
    rnd = random.Random(seed)
    with session_scope(engine) as s:  # one project for every example (a channel has one project)
        project = projects.for_channel(s, TEAM, CLIENT_CHANNEL)
    project = project or make_project()
    with session_scope(engine) as s:  # a fresh requirement per example
        req = requirements.create(s, clock, project=s.get(type(project), project.id), actor="U0PM",
                                  raised_by_client=False, data=requirements.RequirementInput(title="Export"))
        req_id = req.id
    for step, arg in steps:
        _step(deps, engine, clock, fake_slack, req_id, project.id, step, arg, rnd)

    sweep(deps, engine, clock, fake_slack)

    with session_scope(engine) as s:
        stored = s.get(Requirement, req_id)
        assert stored is not None
        expected = flow.render_confirmation(s, Target(TargetKind.requirement, req_id))
        sent = stored.sent_for_confirmation_at is not None
        ts, channel = stored.confirmation_ts, stored.confirmation_channel_id
    if not sent:
        assert expected is None
        return
    assert ts is not None and channel == CLIENT_CHANNEL  # the request was posted (late, perhaps)
    shown = fake_slack.message(CLIENT_CHANNEL, ts)
    assert shown is not None and expected is not None
    assert shown["blocks"] == expected.payload["blocks"] and shown["text"] == expected.payload["text"]
