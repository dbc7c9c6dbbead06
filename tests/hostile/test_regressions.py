"""The failing examples the hostile-input properties and the authorization matrix found, each
kept as a plain end-to-end test (signed requests to the real server)."""

from __future__ import annotations

import json

from bot.blocks import ids
from bot.models import Requirement
from tests.conftest import CLIENT_CHANNEL, PEOPLE
from tests.fakes import payloads
from tests.hostile.harness import Hostile
from tests.hostile.strategies import signed_interaction, unsign


def click(hostile: Hostile, action_id: str, value: object = None, *, user=PEOPLE.pm, channel: str = CLIENT_CHANNEL,
          change: dict | None = None, **kwargs):
    """A click, optionally with fields of Slack's payload replaced (`change`: path -> value)."""
    kwargs.setdefault("response_url", hostile.fake.response_url(f"click{len(hostile.fake.calls)}"))
    built = payloads.block_actions(action_id, None, user=user, channel_id=channel, **kwargs)
    payload = unsign(built)
    payload["actions"][0]["value"] = value
    for path, new in (change or {}).items():
        node = payload
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = new
    return hostile.send(signed_interaction(payload))


def submit(hostile: Hostile, callback_id: str, values: object, *, user=PEOPLE.pm, meta: object = None):
    built = payloads.view_submission(callback_id, {}, user=user, private_metadata=json.dumps(meta) if meta else "")
    payload = unsign(built)
    payload["view"]["state"]["values"] = values
    return hostile.send(signed_interaction(payload))


def answers(outcome) -> list[str]:
    return [str(c.params.get("text", "")) for c in outcome.calls
            if c.method in ("response_url", "chat.postEphemeral", "chat.postMessage")]


# Clicks in the App Home carry no response_url -----------------------------------------------


def test_a_decision_clicked_in_the_app_home_is_recorded_and_answered_by_dm(hostile, world, session):
    """The App Home shows Confirm / Approve buttons; Slack sends those clicks without a
    response_url. The handler's answer used to raise ("respond is unsupported here") after the
    decision was stored: an error in the log and nothing for the user."""
    req_id = world.a.req["awaiting"]
    outcome = click(hostile, ids.REQ_CONFIRM, str(req_id), user=PEOPLE.client, response_url=None,
                    view={"id": "V0HOME", "type": "home"})
    Hostile.check(outcome, what="confirm from the App Home")
    assert session.get(Requirement, req_id).status == "confirmed"
    dms = [c for c in outcome.calls if c.method == "chat.postMessage" and c.params.get("channel") == "DU0CLIENT"]
    assert dms and "REQ-" in dms[-1].params["text"]


def test_a_refusal_in_the_app_home_is_told_by_dm_too(hostile, world):
    outcome = click(hostile, ids.INTAKE_NEW_REQUIREMENT, str(world.a.project), response_url=None,
                    view={"id": "V0HOME", "type": "home"})
    Hostile.check(outcome, what="intake from the App Home")
    assert any("no longer exists" in a for a in answers(outcome))


# Payloads of the wrong shape -------------------------------------------------------------------


def test_a_body_bolt_cannot_parse_is_a_400_not_a_500(hostile, world):
    """`"enterprise": false` made Bolt's request parsing raise (before the signature check): HTTP
    500 with a traceback, for any sender."""
    payload = unsign(payloads.block_actions(ids.RISK_EDIT, "1", user=PEOPLE.pm))
    payload["enterprise"] = False
    outcome = hostile.send(signed_interaction(payload))
    assert outcome.response.status_code == 400
    assert not outcome.errors and not outcome.calls
