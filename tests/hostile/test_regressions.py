"""The failing examples the hostile-input properties and the authorization matrix found, each
kept as a plain end-to-end test (signed requests to the real server)."""

from __future__ import annotations

import json

from sqlmodel import select

from bot.blocks import ids
from bot.models import Milestone, Project, Requirement, Risk
from tests.conftest import CLIENT_CHANNEL, PEOPLE, TEAM
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
    shown = ids.decision_value(req_id, session.get(Requirement, req_id).version)  # as the App Home draws it
    outcome = click(hostile, ids.REQ_CONFIRM, shown, user=PEOPLE.client, response_url=None,
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


def test_a_menu_option_that_is_not_an_object_is_refused(hostile, world):
    """`selected_option: "4"` (a string where Slack sends an object) raised AttributeError."""
    payload = unsign(payloads.block_actions(ids.CHANGE_WITHDRAW, None, user=PEOPLE.client,
                                            response_url=hostile.fake.response_url("r1")))
    payload["actions"][0] |= {"type": "static_select", "selected_option": str(world.a.cr["withdrawable"])}
    del payload["actions"][0]["text"]
    outcome = hostile.send(signed_interaction(payload))
    Hostile.check(outcome, what="selected_option as a string")
    assert answers(outcome)


def test_a_snooze_with_an_option_that_is_not_an_object_is_refused(hostile, world):
    outcome = click(hostile, ids.REMINDER_SNOOZE, None, action_type="overflow", selected_option="x",
                    change={"actions.0.selected_option": "risk_review:1|1d"})
    Hostile.check(outcome, what="snooze with selected_option as a string")


def test_digits_that_are_not_ascii_are_not_ids(hostile, world):
    """`"²".isdigit()` is True but int("²") raises: the value of a button crashed the handler."""
    for action_id, value in [(ids.REQ_CONFIRM, "²"), (ids.FEEDBACK_SCORE + ":2", "²:2"),
                             (ids.DIGEST_POST_NOW, f"²:{world.a.week}"), (ids.MILESTONE_EDIT, "①")]:
        outcome = click(hostile, action_id, value)
        Hostile.check(outcome, what=f"{action_id} {value!r}")
        assert answers(outcome), action_id


def test_ids_too_large_for_the_database_are_refused(hostile, world):
    outcome = submit(hostile, ids.RISK_REVIEW_MODAL, {}, meta={"risk_id": 10**30})
    Hostile.check(outcome, what="risk_id 10**30")
    assert outcome.view_errors


def test_an_id_that_is_a_boolean_is_refused(hostile, world, session):
    """`{"project_id": true}`: isinstance(True, int) let it through as project 1 (and PostgreSQL
    refuses to compare an integer column with a boolean)."""
    outcome = submit(hostile, ids.FEEDBACK_MODAL, {}, user=PEOPLE.client, meta={"project_id": True})
    Hostile.check(outcome, what="project_id true")
    assert outcome.view_errors


def test_a_block_id_that_is_not_text_is_ignored(hostile, world, session):
    """`block_id: 1` raised AttributeError in parse_item_block_id after the change was stored."""
    req_id = world.a.req["confirmed"]
    outcome = click(hostile, ids.REQ_DONE, str(req_id), change={"actions.0.block_id": 1})
    Hostile.check(outcome, what="block_id 1")
    assert session.get(Requirement, req_id).status == "done"


def test_a_pager_value_of_the_wrong_type_shows_the_first_page(hostile, world):
    """`value: [null]` made json.loads raise TypeError."""
    outcome = click(hostile, ids.CHANGE_LIST_PAGE + ":prev", [None])
    Hostile.check(outcome, what="pager value [null]")
    assert any("not found" in a or "no longer exists" in a for a in answers(outcome))


def test_a_channel_of_the_wrong_type_is_no_channel(hostile, world):
    """`channel: {"id": [...]}` reached the database as a bind parameter (ProgrammingError)."""
    outcome = click(hostile, ids.CHANGE_ASSESS, str(world.a.cr["submitted"]),
                    change={"channel": {"id": ["C0CLIENT"]}, "container": {"channel_id": {"x": 1}}})
    Hostile.check(outcome, what="channel id as a list")


def test_modal_state_that_is_not_an_object_is_answered_inline(hostile, world, session):
    """`state.values: true` raised AttributeError before the ack: HTTP 500."""
    before = len(session.exec(select(Project)).all())
    for callback_id, meta in [(ids.REQ_MODAL, {"project_id": world.a.project}),
                              (ids.MILESTONE_EDIT_MODAL, {"milestone_id": world.a.milestone["open"]}),
                              (ids.PROJECT_MODAL, {"project_id": None})]:
        outcome = submit(hostile, callback_id, True, meta=meta)
        Hostile.check(outcome, what=f"{callback_id} values=true")
        assert outcome.view_errors, callback_id
    assert len(session.exec(select(Project)).all()) == before


def test_a_digest_week_that_is_not_a_week_is_refused(hostile, world):
    """private_metadata `week: 1` (and a button's `1:abcd-Wxy`) raised ValueError in the handler."""
    outcome = submit(hostile, ids.DIGEST_NOTE_MODAL, {ids.DIGEST_NOTE_BLOCK: {ids.VALUE: payloads.plain_text("Hi")}},
                     meta={"project_id": world.a.project, "week": 1})
    Hostile.check(outcome, what="week 1")
    assert outcome.view_errors
    outcome = click(hostile, ids.DIGEST_SKIP, f"{world.a.project}:abcd-Wxy")
    Hostile.check(outcome, what="week abcd-Wxy")


def test_progress_in_digits_that_are_not_decimal_is_answered_inline(hostile, world, session):
    """Found by the view property: progress "²" passed isdigit() and int() raised (HTTP 500)."""
    values = {ids.MILESTONE_BLOCK_NAME: {ids.VALUE: payloads.plain_text("Beta")},
              ids.MILESTONE_BLOCK_DUE: {ids.VALUE: payloads.datepicker("2026-12-20")},
              ids.MILESTONE_BLOCK_PROGRESS: {ids.VALUE: payloads.number("²")}}
    outcome = submit(hostile, ids.MILESTONE_MODAL, values, meta={"project_id": world.a.project})
    Hostile.check(outcome, what="progress ²")
    assert ids.MILESTONE_BLOCK_PROGRESS in (outcome.view_errors or {})
    values[ids.MILESTONE_BLOCK_PROGRESS] = {ids.VALUE: payloads.number("５０")}  # a Chinese IME's digits
    outcome = submit(hostile, ids.MILESTONE_MODAL, values, meta={"project_id": world.a.project})
    Hostile.check(outcome, what="progress ５０")
    assert outcome.view_errors is None
    assert session.exec(select(Milestone).where(Milestone.name == "Beta")).one().progress == 50


def test_nul_in_user_text_is_dropped(hostile, world, session):
    """Found on PostgreSQL by the command and view properties: PostgreSQL refuses NUL in text
    (and in any query parameter), so `/req a\x00b` and a resolve note "\x00" were HTTP 500s."""
    built = payloads.slash_command("/req", "Pay\x00 by card", user=PEOPLE.client, channel_id=CLIENT_CHANNEL,
                                   team_id=TEAM, response_url=hostile.fake.response_url("nul"))
    outcome = hostile.send(built)
    Hostile.check(outcome, what="/req with NUL")
    assert session.exec(select(Requirement).where(Requirement.title == "Pay by card")).one()
    outcome = submit(hostile, ids.FEEDBACK_RESOLVE_MODAL, {ids.FEEDBACK_BLOCK_NOTE: {ids.VALUE: payloads.plain_text(
        "\x00")}}, meta={"follow_up_id": world.a.follow_up})
    Hostile.check(outcome, what="resolve note NUL")
    outcome = click(hostile, ids.REQ_CONFIRM, "\x00", channel="C0\x00")
    Hostile.check(outcome, what="NUL in a value and a channel id")


def test_a_message_captured_by_reaction_with_nul_in_its_text_is_stored_without_it(hostile, world, session):
    """Found on PostgreSQL by the payload property: the capture reaction stores the message's text
    as Slack's Web API gives it (conversations.replies), which the guard never sees; a NUL in it
    was an unhandled error and nothing was captured."""
    ts = world.seed_message(CLIENT_CHANNEL, "Pay\x00 by card, odd \ud800 one")
    outcome = hostile.send(payloads.reaction_added("memo", user=PEOPLE.client, channel=CLIENT_CHANNEL, ts=ts,
                                                   item_user="U0CLIENT"))
    Hostile.check(outcome, what="a captured message with NUL")
    [title] = session.exec(select(Requirement.title).where(Requirement.title.startswith("Pay"))).all()
    assert title == "Pay by card, odd \ufffd one"


def test_a_lone_surrogate_in_user_text_is_replaced(hostile, world, session):
    """JSON may escape a lone UTF-16 surrogate; no database driver can encode it."""
    outcome = submit(hostile, ids.REQ_MODAL, {ids.REQ_BLOCK_TITLE: {ids.VALUE: payloads.plain_text("Odd \ud800 one")}},
                     user=PEOPLE.client, meta={"project_id": world.a.project})
    Hostile.check(outcome, what="lone surrogate")
    assert session.exec(select(Requirement).where(Requirement.title.startswith("Odd "))).one()


# Buttons carrying another project's ids (found by the authorization matrix) ----------------------


def refused_and_unchanged(hostile: Hostile, outcome, what: str) -> None:
    Hostile.check(outcome, what=what)
    told = " ".join(answers(outcome))
    assert "no longer exists" in told and "Beta" not in told, f"{what}: {told!r}"
    assert not any(c.method == "views.open" for c in outcome.calls), what


def test_close_with_another_project_s_id_is_refused(hostile, world, session):
    """The PM of A clicked *Close* carrying project B's id in A's channel: B was closed."""
    outcome = click(hostile, ids.PROJECT_CLOSE_CONFIRM, str(world.b.project))
    refused_and_unchanged(hostile, outcome, "close B from A's channel")
    assert session.get(Project, world.b.project).status == "active"


def test_risk_buttons_act_only_on_projects_within_reach(hostile, world, session):
    """Risk buttons looked the risk up by id alone: B's register could be read and changed
    from A's channel or a DM by anyone of the team."""
    risk_id = world.b.risk["open"]
    for action_id, value, channel in [
            (ids.RISK_EDIT, str(risk_id), CLIENT_CHANNEL), (ids.RISK_SET_REVIEW, str(risk_id), "D0PM"),
            (ids.RISK_CLOSED, json.dumps({"id": risk_id, "from": "open", "page": 1}), CLIENT_CHANNEL),
            (ids.RISK_LIST_PAGE + ":next", json.dumps({"project": world.b.project, "page": 1}), "D0PM")]:
        outcome = click(hostile, action_id, value, channel=channel)
        refused_and_unchanged(hostile, outcome, f"{action_id} of B in {channel}")
    assert session.get(Risk, risk_id).status == "open"


def test_feedback_buttons_act_only_on_projects_within_reach(hostile, world):
    for action_id, value in [(ids.FEEDBACK_RESOLVE, str(world.b.follow_up)),
                             (ids.FEEDBACK_POST_ANYWAY, json.dumps({"project": world.b.project, "after": None})),
                             (ids.FEEDBACK_LIST_PAGE + ":next", json.dumps({"project": world.b.project, "page": 1}))]:
        outcome = click(hostile, action_id, value, user=PEOPLE.dev, channel=CLIENT_CHANNEL)
        refused_and_unchanged(hostile, outcome, f"{action_id} of B")


def test_change_and_milestone_buttons_in_a_dm_need_the_project_s_channels(hostile, world):
    """From a DM (no project bound) the assess / update forms opened for any project's items."""
    for action_id, value in [(ids.CHANGE_ASSESS, str(world.b.cr["submitted"])),
                             (ids.MILESTONE_EDIT, str(world.b.milestone["open"]))]:
        outcome = click(hostile, action_id, value, user=PEOPLE.dev, channel="D0DEV")
        refused_and_unchanged(hostile, outcome, f"{action_id} of B in a DM")
    # ... while the same buttons for A's items still work there for A's team.
    outcome = click(hostile, ids.CHANGE_ASSESS, str(world.a.cr["submitted"]), user=PEOPLE.dev, channel="D0DEV")
    assert any(c.method == "views.open" for c in outcome.calls)


# Escaping --------------------------------------------------------------------------------------


def test_an_unknown_project_subcommand_is_escaped(hostile, world):
    """`/project <!channel>` quoted the word back unescaped: a ping of the whole channel."""
    built = payloads.slash_command("/project", "<!channel>", user=PEOPLE.pm, channel_id=CLIENT_CHANNEL,
                                   team_id=TEAM, response_url=hostile.fake.response_url("p"))
    outcome = hostile.send(built)
    Hostile.check(outcome, what="/project <!channel>")
    assert "&lt;!channel&gt;" in outcome.response.json()["text"]
