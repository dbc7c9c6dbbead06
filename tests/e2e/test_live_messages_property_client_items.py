"""Issue 10, "messages rendered at send time", as a property for client items (issue 15):
whatever an item goes through (extensions, done, received, cancelled, clicks on an older
version) while Slack calls fail and queued updates are delivered in any order, once the retry
sweep is done the item's message in the client channel equals a rendering of the current record.

The steps call the use cases of `bot.flows.client_items` (what the handlers call) against the
fake Web API; the expectation is drawn by `render_item` from the record as it is now.
"""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.db import session_scope
from bot.flows import client_items as flow
from bot.flows.outbox_keys import Target, TargetKind
from bot.handlers.common import Actor
from bot.models import ClientItem
from bot.services import projects
from bot.slack.users import UserKind
from tests.conftest import CLIENT_CHANNEL, TEAM
from tests.e2e.live_messages import TROUBLE, sweep, trouble

DEV = Actor(user_id="U0DEV", kind=UserKind.team)
CLIENT = Actor(user_id="U0CLIENT", kind=UserKind.external)

STEPS = st.lists(st.one_of(
    st.tuples(st.just("extend"), st.integers(1, 20)),
    st.tuples(st.sampled_from(["done", "done_stale", "receive", "cancel", "extend_stale", *TROUBLE]), st.none()),
), min_size=1, max_size=10)
S = None


def _item(engine, item_id: int) -> ClientItem:
    with session_scope(engine) as s:
        item = s.get(ClientItem, item_id)
        assert item is not None
        return item


def _step(deps, engine, clock, fake_slack, item_id: int, step: str, arg, rnd: random.Random) -> None:
    item = _item(engine, item_id)  # a refused step changes nothing
    if step in ("done", "done_stale"):
        flow.act(deps, CLIENT, "done", item_id, item.version - (step == "done_stale"), CLIENT_CHANNEL)
    elif step in ("receive", "cancel"):
        flow.act(deps, DEV, step, item_id, item.version, CLIENT_CHANNEL)
    elif step in ("extend", "extend_stale"):
        new_due = item.due_date + timedelta(days=arg or 3)
        with contextlib.suppress(flow.Refused):
            flow.extend(deps, CLIENT, item_id, item.version - (step == "extend_stale"), new_due=new_due.isoformat(),
                        note="More time")
    elif step in TROUBLE:
        trouble(step, deps, engine, clock, fake_slack, rnd)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(steps=STEPS, seed=st.integers(0, 2**16), post_fails=st.booleans())
@example(steps=[("extend", 3), ("fail_update", S), ("done", S)], seed=0, post_fails=False)
@example(steps=[("extend", 2), ("done_stale", S), ("deliver_shuffled", S), ("extend", 5), ("cancel", S)], seed=1,
         post_fails=True)
@example(steps=[("fail_update", S), ("extend", 1), ("fail_update", S), ("extend", 4), ("deliver_shuffled", S),
                ("receive", S)], seed=2, post_fails=False)
def test_the_item_message_ends_as_a_rendering_of_the_record(deps, engine, clock, fake_slack, make_project, steps,
                                                            seed, post_fails):
    rnd = random.Random(seed)
    with session_scope(engine) as s:  # one project for every example (a channel has one project)
        project = projects.for_channel(s, TEAM, CLIENT_CHANNEL)
    project = project or make_project()
    if post_fails:
        fake_slack.fail("chat.postMessage", error="service_unavailable")
    item_id = flow.quick(deps, DEV, CLIENT_CHANNEL, "Logo files in SVG").item.id
    assert item_id is not None
    for step, arg in steps:
        _step(deps, engine, clock, fake_slack, item_id, step, arg, rnd)

    sweep(deps, engine, clock, fake_slack)

    with session_scope(engine) as s:
        stored = s.get(ClientItem, item_id)
        assert stored is not None
        expected = flow.render_item(s, Target(TargetKind.client_item, item_id))
        ts, channel = stored.message_ts, stored.channel_id
    assert ts is not None and channel == CLIENT_CHANNEL and expected is not None  # posted (late, perhaps)
    shown = fake_slack.message(CLIENT_CHANNEL, ts)
    assert shown is not None
    assert shown["blocks"] == expected.payload["blocks"] and shown["text"] == expected.payload["text"]
