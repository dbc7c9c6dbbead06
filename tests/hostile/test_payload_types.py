"""Every kind of payload Slack sends, spoiled by hypothesis: fields missing, values of the wrong
type, another kind's `type`. Through signed requests to the running server:

- never a 5xx, never an unhandled error in the log;
- a payload the guard refuses (bot/slack/guard.py `problem`) is a 400 with ONE log line, and
  nothing ran (no Slack call) and nothing was stored; any other is a 200;
- a kind that stores nothing (events, shortcuts, modal closings, options, url_verification,
  legacy attachments) changed no row.

The kinds: slash commands, block actions, view submissions and closings, options requests,
global and message shortcuts, legacy interactive messages, events (app_home_opened,
reaction_added, member_joined_channel, message) and url_verification.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from bot.blocks import ids
from bot.slack import guard
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, PEOPLE, TEAM
from tests.fakes import payloads
from tests.hostile import catalogue
from tests.hostile import world as w
from tests.hostile.harness import Hostile
from tests.hostile.strategies import HOSTILE, hostile_text, mutated, signed_interaction, unsign, wrong_value

USERS = [PEOPLE.pm, PEOPLE.dev, PEOPLE.guest, PEOPLE.client]
CHANNELS = [CLIENT_CHANNEL, INTERNAL_CHANNEL, "D0PMBOT"]
TYPES = ["block_actions", "view_submission", "view_closed", "block_suggestion", "shortcut", "message_action",
         "interactive_message", "event_callback", "url_verification", "something_new", ""]

Built = dict[str, Any]


def _json(built: tuple[str, dict[str, str]]) -> Built:
    return json.loads(built[0])


def _command(draw: st.DrawFn, world: w.World, url: str) -> Built:
    command = draw(st.sampled_from(["/req", "/change", "/risk", "/milestone", "/feedback", "/digest", "/project"]))
    text = draw(st.sampled_from(["", "list", "help", "export", "show", "preview"]))
    body = payloads.slash_command(command, text, user=draw(st.sampled_from(USERS)),
                                  channel_id=draw(st.sampled_from(CHANNELS)), team_id=TEAM, response_url=url)[0]
    from urllib.parse import parse_qsl

    return dict(parse_qsl(body, keep_blank_values=True))


def _action(draw: st.DrawFn, world: w.World, url: str) -> Built:
    action_id, value = draw(st.sampled_from([
        (ids.REQ_CONFIRM, str(world.a.req["awaiting"])), (ids.CHANGE_APPROVE, str(world.a.cr["assessed"])),
        (ids.HOME_REFRESH, "refresh"), (ids.MILESTONE_EDIT, str(world.a.milestone["open"])),
        (ids.REQ_LIST_PAGE + ":next", json.dumps({"s": "", "page": 1}))]))
    return unsign(payloads.block_actions(action_id, value, user=draw(st.sampled_from(USERS)),
                                         channel_id=draw(st.sampled_from(CHANNELS)), response_url=url))


def _view_submission(draw: st.DrawFn, world: w.World, url: str) -> Built:
    callback_id, meta, values = draw(st.sampled_from([
        (ids.REQ_MODAL, {"project_id": world.a.project},
         {ids.REQ_BLOCK_TITLE: {ids.VALUE: payloads.plain_text("Spoiled payloads")}}),
        (ids.RISK_REVIEW_MODAL, {"risk_id": world.a.risk["open"]}, {}),
        (ids.DIGEST_NOTE_MODAL, {"project_id": world.a.project, "week": world.a.week},
         {ids.DIGEST_NOTE_BLOCK: {ids.VALUE: payloads.plain_text("A note")}})]))
    return unsign(payloads.view_submission(callback_id, values, user=draw(st.sampled_from(USERS)),
                                           private_metadata=json.dumps(meta), response_urls=[url]))


def _view_closed(draw: st.DrawFn, world: w.World, url: str) -> Built:
    return unsign(payloads.view_closed(draw(st.sampled_from([ids.REQ_MODAL, ids.PROJECT_MODAL, "other"])),
                                       user=draw(st.sampled_from(USERS)),
                                       private_metadata=json.dumps({"project_id": world.a.project})))


def _options(draw: st.DrawFn, world: w.World, url: str) -> Built:
    return unsign(payloads.block_suggestion(draw(st.sampled_from([ids.PROJECT_TZ_ACTION, ids.PROJECT_CALENDAR_ACTION,
                                                                  "other_select"])),
                                            draw(st.one_of(st.sampled_from(["", "Berl", "asia/sh", "中国"]),
                                                           hostile_text)),
                                            user=draw(st.sampled_from(USERS)),
                                            view={"callback_id": ids.PROJECT_MODAL, "private_metadata": draw(
                                                st.sampled_from(["", '{"lang": "zh-CN"}', '{"lang": ["x"]}',
                                                                 '{"lang": 3}', "[1]"]))}))


def _shortcut(draw: st.DrawFn, world: w.World, url: str) -> Built:
    return unsign(payloads.global_shortcut("pmbot_shortcut", user=draw(st.sampled_from(USERS))))


def _message_action(draw: st.DrawFn, world: w.World, url: str) -> Built:
    """A message shortcut: ours (issue 14: capture as …) or one the app does not have."""
    callback_id = draw(st.sampled_from([*catalogue.SHORTCUTS, "pmbot_capture"]))
    return unsign(payloads.message_shortcut(callback_id, user=draw(st.sampled_from(USERS)),
                                            channel_id=draw(st.sampled_from(CHANNELS)), response_url=url,
                                            message_text=draw(hostile_text),
                                            message_user=draw(st.sampled_from(["U0CLIENT", "U0PM", "UBOT"])),
                                            message_team=draw(st.sampled_from([TEAM, "T0EXT"]))))


def _capture_reaction(draw: st.DrawFn, world: w.World, url: str) -> Built:
    """The capture reaction (issue 14) on a message seeded in the fake, or on one it does not have."""
    user = draw(st.sampled_from(USERS))
    channel = draw(st.sampled_from(CHANNELS))
    ts = draw(st.sampled_from([world.seed_message(channel, draw(hostile_text)), "1700000000.000100"]))
    return _json(payloads.reaction_added(draw(st.sampled_from(["memo", "memo::skin-tone-2", "+1"])), user=user,
                                         channel=channel, ts=ts, item_user="U0CLIENT"))


def _interactive_message(draw: st.DrawFn, world: w.World, url: str) -> Built:
    return unsign(payloads.interactive_message("legacy", draw(hostile_text), user=draw(st.sampled_from(USERS)),
                                               response_url=url))


def _event(draw: st.DrawFn, world: w.World, url: str) -> Built:
    user = draw(st.sampled_from(USERS))
    channel = draw(st.sampled_from(CHANNELS))
    which = draw(st.sampled_from(["app_home_opened", "app_home_opened", *catalogue.EVENTS, "member_joined_channel",
                                  "message"]))
    if which == "app_home_opened":
        return _json(payloads.app_home_opened(user, tab=draw(st.sampled_from(["home", "messages"]))))
    if which == "reaction_added":
        return _json(payloads.reaction_added(draw(st.sampled_from(["+1", "white_check_mark"])), user=user,
                                             channel=channel))
    if which == "member_joined_channel":
        return _json(payloads.member_joined_channel(user, channel=channel, inviter=PEOPLE.pm.id))
    return _json(payloads.message_event(draw(hostile_text), user=user, channel=channel,
                                        channel_type=draw(st.sampled_from(["channel", "im"]))))


def _url_verification(draw: st.DrawFn, world: w.World, url: str) -> Built:
    return _json(payloads.url_verification(draw(st.sampled_from(["abc", "3eZbrw1aBm2rZgRNFdxV"]))))


KINDS: dict[str, Callable[[st.DrawFn, w.World, str], Built]] = {
    "command": _command, "block_actions": _action, "view_submission": _view_submission,
    "view_closed": _view_closed, "block_suggestion": _options, "shortcut": _shortcut,
    "message_action": _message_action, "interactive_message": _interactive_message, "event_callback": _event,
    "capture_reaction": _capture_reaction,
    "url_verification": _url_verification,
}
# Kinds whose every answer leaves the database as it was.
STORE_NOTHING = {"view_closed", "block_suggestion", "shortcut", "message_action", "interactive_message",
                 "event_callback", "url_verification"}


def paths(node: Any, prefix: str = "", depth: int = 0) -> Iterator[str]:
    """Every dotted path in a payload, four levels deep."""
    if depth >= 4:
        return
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        path = f"{prefix}{key}"
        yield path
        yield from paths(value, path + ".", depth + 1)


@st.composite
def spoiled(draw: st.DrawFn, kind: str, world: w.World, url: str) -> Built:
    payload = KINDS[kind](draw, world, url)
    if draw(st.integers(0, 4)) == 0:  # a fifth of the examples keep Slack's shape
        return payload
    every = sorted(set(paths(payload)))
    deletions = draw(st.lists(st.sampled_from(every), max_size=3, unique=True), label="deleted")
    replacements = draw(st.lists(st.tuples(st.sampled_from(every), wrong_value), max_size=3), label="replaced")
    if kind != "command" and draw(st.integers(0, 5)) == 0:
        replacements.append(("type", draw(st.sampled_from(TYPES))))
    return mutated(payload, deletions, replacements)


def request_of(kind: str, payload: Built) -> tuple[str, dict[str, str]]:
    """As Slack sends it: a form for a command (JSON once a field is not text), a form with a
    `payload` field for an interaction, JSON for the Events API."""
    if kind == "command":
        if all(isinstance(v, str) for v in payload.values()):
            body = urlencode(payload)
            return body, payloads.sign(body)
    elif kind not in ("event_callback", "url_verification", "capture_reaction"):
        return signed_interaction(payload)
    body = json.dumps(payload)
    return body, payloads.sign(body)


@pytest.fixture
def guard_lines(caplog):
    caplog.set_level(logging.WARNING, logger=guard.__name__)
    return caplog


@pytest.mark.parametrize("kind", list(KINDS))
@HOSTILE
@given(data=st.data())
def test_every_payload_kind_spoiled(hostile, world, guard_lines, kind, data):
    url = hostile.fake.response_url(f"{kind}{len(hostile.fake.calls)}")
    payload = data.draw(spoiled(kind, world, url))
    guard_lines.clear()
    outcome = hostile.send(request_of(kind, payload))
    what = f"{kind} {json.dumps(payload, default=str)[:1500]}"
    Hostile.check(outcome, what=what)
    refusals = [r for r in guard_lines.records if r.name == guard.__name__]
    why = guard.problem(payload)
    event(f"HTTP {outcome.response.status_code}")
    if why:
        assert outcome.response.status_code == 400, f"{what}: {why}, yet HTTP {outcome.response.status_code}"
        assert len(refusals) == 1 and refusals[0].exc_info is None, [r.getMessage() for r in refusals]
        assert not outcome.calls and outcome.before == outcome.after, what
    else:
        assert outcome.response.status_code == 200, f"{what}: HTTP {outcome.response.status_code}"
        assert not refusals, [r.getMessage() for r in refusals]
    if kind in STORE_NOTHING:
        assert outcome.before == outcome.after, f"{what}: stored {outcome.changed_tables()}"
