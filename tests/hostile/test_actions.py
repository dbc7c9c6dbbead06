"""Hostile block_actions payloads for every action_id: values of the wrong type or for items of
other projects and workspaces, fields missing, huge and strange text, clicks from messages,
ephemeral messages, the App Home and modals. The bot answers every one (HTTP 200, no unhandled
exception), never sends user markup unescaped, and a refused click changes nothing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.blocks import ids
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, OTHER_CHANNEL, PEOPLE, TEAM
from tests.fakes import payloads
from tests.hostile import catalogue
from tests.hostile import world as w
from tests.hostile.conftest import ELSEWHERE, ELSEWHERE_CHANNEL
from tests.hostile.harness import Outcome
from tests.hostile.strategies import HOSTILE, hostile_text, mutated, signed_interaction, unsign, wrong_value

USERS = [PEOPLE.pm, PEOPLE.dev, PEOPLE.guest, PEOPLE.client, PEOPLE.outsider, ELSEWHERE]
CHANNELS = [CLIENT_CHANNEL, CLIENT_CHANNEL, INTERNAL_CHANNEL, OTHER_CHANNEL, "D0PMBOT", w.B_CLIENT_CHANNEL,
            w.X_CLIENT_CHANNEL, ELSEWHERE_CHANNEL]
# Fields Slack always sends that a handler might lean on; and places a value of the wrong type can go.
DELETABLE = ["actions.0.value", "actions.0.block_id", "actions.0.type", "actions.0.selected_option",
             "actions.0.text", "user.team_id", "user.name", "user.username", "team", "channel", "channel.id",
             "container", "container.channel_id", "message", "message.blocks", "state", "enterprise", "view",
             "view.private_metadata", "view.state", "response_url"]
REPLACEABLE = ["actions.0.block_id", "actions.0.selected_option", "channel", "channel.id", "container",
               "container.channel_id", "user.team_id", "team", "team.id", "message", "state", "view.private_metadata",
               "view.state", "view.state.values", "enterprise"]


@st.composite
def action_requests(draw: st.DrawFn, action_id: str, world: w.World) -> tuple[tuple[str, dict], dict]:
    items = draw(st.sampled_from([world.a, world.a, world.a, world.b, world.x]), label="project")
    valid = catalogue.valid_values(action_id, items)
    value = draw(st.one_of(st.sampled_from(valid), st.sampled_from(valid), wrong_value, hostile_text), label="value")
    user = draw(st.sampled_from(USERS), label="user")
    team = draw(st.sampled_from([TEAM, TEAM, user.team_id, "T0ELSE"]), label="team")
    where = draw(st.sampled_from(["message", "message", "ephemeral", "home", "modal"]), label="where")
    elem = draw(st.sampled_from([catalogue.element_type(action_id)] * 4 + ["button", "static_select",
                                                                          "users_select", "checkboxes"]))
    block_id = draw(st.one_of(st.sampled_from(catalogue.block_ids(action_id, items)), hostile_text), label="block")
    kwargs: dict = {}
    if where in ("message", "ephemeral"):
        kwargs.update(channel_id=draw(st.sampled_from(CHANNELS), label="channel"), is_ephemeral=where == "ephemeral",
                      response_url="RESPONSE_URL")
    else:
        kwargs["view"] = {"id": "V0HOME" if where == "home" else "V0MODAL", "type": "home" if where == "home"
                          else "modal", "callback_id": "" if where == "home" else ids.REQ_MODAL,
                          "private_metadata": json.dumps({"project_id": items.project})}
    built = payloads.block_actions(action_id, None, user=user, team_id=team, block_id=block_id if isinstance(
        block_id, str) else "b", action_type=elem, selected_option="x" if elem in ("overflow", "static_select")
        else None, **kwargs)
    payload = unsign(built)
    field = payloads._ACTION_VALUE_FIELD.get(elem, "value")
    if field == "selected_option" and draw(st.booleans()):
        payload["actions"][0][field] = {"text": {"type": "plain_text", "text": "x"}, "value": value}
    else:
        payload["actions"][0][field] = value
    deletions = draw(st.lists(st.sampled_from(DELETABLE), max_size=3, unique=True), label="deleted")
    replacements = draw(st.lists(st.tuples(st.sampled_from(REPLACEABLE), wrong_value), max_size=2), label="replaced")
    if draw(st.integers(0, 3)) == 0:  # a quarter of the examples keep Slack's shape
        deletions, replacements = [], []
    payload = mutated(payload, deletions, replacements)
    return signed_interaction(payload), payload


def assert_refusal_changed_nothing(outcome: Outcome, what: str) -> None:
    answers = [str(c.params.get("text", "")) for c in outcome.calls
               if c.method in ("response_url", "chat.postEphemeral", "chat.postMessage")]
    if answers and all(a in catalogue.REFUSALS for a in answers):
        assert outcome.before == outcome.after, f"{what}: refused, yet stored: {outcome.changed_tables()}"


@pytest.mark.parametrize("group", catalogue.ACTION_GROUPS, ids="|".join)
@HOSTILE
@given(data=st.data())
def test_hostile_block_actions(hostile, world, group, data):
    action_id = data.draw(st.sampled_from(group), label="action_id")
    built, payload = data.draw(action_requests(action_id, world))
    n = len(hostile.fake.calls)
    body = built[0].replace("RESPONSE_URL", hostile.fake.response_url(f"act{n}").replace(":", "%3A").replace(
        "/", "%2F"))
    built = (body, payloads.sign(body))
    outcome = hostile.send(built)
    what = f"{action_id} {payload.get('actions')}"
    hostile.check(outcome, what=what)
    assert_refusal_changed_nothing(outcome, what)


def test_the_catalogue_names_every_id():
    names = {n for n in dir(ids) if n.isupper()}
    listed = {getattr(ids, n) for n in names} - {getattr(ids, n) for n in catalogue.NOT_ACTIONS if hasattr(ids, n)}
    covered = {a.split(":")[0] for a in catalogue.ACTIONS} | set(catalogue.CALLBACKS) | set(catalogue.SHORTCUTS)
    assert listed - covered == set()
