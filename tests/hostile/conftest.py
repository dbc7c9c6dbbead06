"""Fixtures of the hostile-input and authorization tests (on top of tests/conftest.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.db import make_engine
from tests.fakes import payloads
from tests.hostile import world as w
from tests.hostile.harness import Hostile, LogCatcher

# A user of another workspace and organisation: in none of this workspace's channels.
ELSEWHERE = payloads.SlackUser(id="U0ELSE", team_id="T0ELSE", name="eve.elsewhere", enterprise_id="E0ELSE")
ELSEWHERE_CHANNEL = "C0ELSE"


@pytest.fixture
def catcher() -> Iterator[LogCatcher]:
    handler = LogCatcher()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


@pytest.fixture
def world(engine, clock, make_project, fake_slack) -> w.World:
    fake_slack.add_user(w.B_PM, name="pia.pm-b")
    fake_slack.add_user(w.B_CLIENT, team_id="T0EXTB", name="bo.client-b")
    fake_slack.add_user(w.X_PM, team_id=w.X_TEAM, name="xavier.pm")
    fake_slack.add_user(w.X_CLIENT, team_id="T0EXTX", name="xena.client")
    fake_slack.add_user(ELSEWHERE.id, team_id=ELSEWHERE.team_id, enterprise_id=ELSEWHERE.enterprise_id,
                        name=ELSEWHERE.name)
    fake_slack.set_channel(w.B_CLIENT_CHANNEL, name="client-beta", is_ext_shared=True)
    fake_slack.set_members(w.B_CLIENT_CHANNEL, [w.B_PM, w.B_CLIENT])
    fake_slack.set_channel(w.B_INTERNAL_CHANNEL, name="beta-team")
    fake_slack.set_members(w.B_INTERNAL_CHANNEL, [w.B_PM])
    fake_slack.set_channel(w.X_CLIENT_CHANNEL, name="client-xeno", is_ext_shared=True)
    fake_slack.set_members(w.X_CLIENT_CHANNEL, [w.X_PM, w.X_CLIENT])
    fake_slack.set_channel(ELSEWHERE_CHANNEL, name="elsewhere", is_ext_shared=True)
    fake_slack.set_members(ELSEWHERE_CHANNEL, [ELSEWHERE.id])
    world = w.build_world(engine, clock, make_project)
    world.fake = fake_slack  # capture (issue 14): payloads may name messages seeded in it
    return world


@pytest.fixture
def hostile(slack, fake_slack, catcher, database_url, world) -> Iterator[Hostile]:
    counter = make_engine(database_url, sqlite_immediate=False)
    yield Hostile(slack, fake_slack, catcher, counter)
    counter.dispose()
