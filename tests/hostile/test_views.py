"""Hostile view_submission payloads for every modal: the bot opens each modal for real, then
hypothesis submits it with random values, elements of the wrong type, blocks missing and bad
private_metadata. The bot answers every one (HTTP 200, no unhandled exception), never sends user
markup unescaped, and a submission refused inline stores nothing at all."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session

from bot.blocks import ids
from bot.models import Acceptance, ChangeRequest, ClientItem, Requirement
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, OTHER_CHANNEL, PEOPLE, TEAM
from tests.fakes import payloads
from tests.hostile import catalogue
from tests.hostile import world as w
from tests.hostile.conftest import ELSEWHERE
from tests.hostile.harness import Hostile
from tests.hostile.strategies import (
    HOSTILE,
    hostile_text,
    mutated,
    signed_interaction,
    unsign,
    wrong_scalar,
    wrong_value,
)

USERS = [PEOPLE.pm, PEOPLE.dev, PEOPLE.guest, PEOPLE.client, PEOPLE.outsider, ELSEWHERE]
REAL_USERS = ["U0PM", "U0DEV", "U0GUEST", "U0CLIENT", "U0OUTSIDER", w.B_PM, "U0NOBODY", "W0GRID"]
REAL_CHANNELS = [CLIENT_CHANNEL, INTERNAL_CHANNEL, OTHER_CHANNEL, w.B_CLIENT_CHANNEL, "C0NEW", "D0PMBOT", "G0PRIVATE"]
TODAY = date(2026, 11, 18)
NUMBERISH = ["0", "3", "-2", "1.5", "1,5", "1e3", "１２", "²", "99999999999999999999", "nan", "inf", " 5 ", "101",
             "€", "0x1F"]

# How each modal is opened for real: (command or action, argument, user, channel). Some have a
# second way, with the project picker (outside a project channel).
OPENERS: dict[str, list[tuple[str, str, Any, str]]] = {
    ids.PROJECT_MODAL: [("/project", "setup", PEOPLE.pm, OTHER_CHANNEL),
                        ("/project", "edit", PEOPLE.pm, CLIENT_CHANNEL)],
    ids.REQ_MODAL: [("/req", "", PEOPLE.client, CLIENT_CHANNEL), ("/req", "", PEOPLE.pm, "D0PMBOT")],
    ids.REQ_CHANGES_MODAL: [(ids.REQ_REQUEST_CHANGES, "req:awaiting", PEOPLE.client, CLIENT_CHANNEL)],
    ids.CHANGE_MODAL: [("/change", "", PEOPLE.client, CLIENT_CHANNEL), ("/change", "", PEOPLE.pm, "D0PMBOT")],
    ids.CHANGE_ASSESS_MODAL: [(ids.CHANGE_ASSESS, "cr:submitted", PEOPLE.pm, INTERNAL_CHANNEL)],
    ids.CHANGE_REJECT_MODAL: [(ids.CHANGE_REJECT, "cr:assessed", PEOPLE.client, CLIENT_CHANNEL)],
    ids.MILESTONE_MODAL: [("/milestone", "", PEOPLE.pm, CLIENT_CHANNEL), ("/milestone", "", PEOPLE.pm, "D0PMBOT")],
    ids.MILESTONE_EDIT_MODAL: [(ids.MILESTONE_EDIT, "milestone:open", PEOPLE.pm, INTERNAL_CHANNEL)],
    ids.MILESTONE_PICK_MODAL: [("/milestone", "update", PEOPLE.pm, CLIENT_CHANNEL)],
    ids.RISK_MODAL: [("/risk", "", PEOPLE.pm, INTERNAL_CHANNEL), ("/risk", "", PEOPLE.pm, "D0PMBOT")],
    ids.RISK_REVIEW_MODAL: [(ids.RISK_SET_REVIEW, "risk:open", PEOPLE.pm, INTERNAL_CHANNEL)],
    ids.FEEDBACK_COMMENT_MODAL: [(ids.FEEDBACK_COMMENT, "prompt", PEOPLE.client, CLIENT_CHANNEL)],
    ids.FEEDBACK_MODAL: [("/feedback", "", PEOPLE.client, CLIENT_CHANNEL), ("/feedback", "", PEOPLE.pm, "D0PMBOT")],
    ids.FEEDBACK_RESOLVE_MODAL: [(ids.FEEDBACK_RESOLVE, "follow_up", PEOPLE.pm, "D0PMBOT")],
    ids.DIGEST_NOTE_MODAL: [(ids.DIGEST_ADD_NOTE, "week", PEOPLE.pm, "D0PMBOT")],
    # client items (issue 15)
    ids.CLIENT_MODAL: [("/client", "", PEOPLE.pm, CLIENT_CHANNEL)],
    ids.CLIENT_EXTEND_MODAL: [(ids.CLIENT_MORE_TIME, "client_item:open", PEOPLE.client, CLIENT_CHANNEL)],
    # Milestone acceptance
    ids.ACC_REQUEST_MODAL: [(ids.ACC_REQUEST, "milestone:done", PEOPLE.pm, INTERNAL_CHANNEL),
                            (ids.ACC_REQUEST, "acc_milestone:issues_reported", PEOPLE.dev, INTERNAL_CHANNEL)],
    ids.ACC_ISSUES_MODAL: [(ids.ACC_REPORT_ISSUES, "acc:requested", PEOPLE.client, CLIENT_CHANNEL)],
    # capture from the conversation (issue 14): opened by message shortcuts
    ids.CAPTURE_REQ_MODAL: [(f"shortcut:{ids.CAPTURE_REQ_SHORTCUT}", "", PEOPLE.client, CLIENT_CHANNEL)],
    ids.CAPTURE_CHANGE_MODAL: [(f"shortcut:{ids.CAPTURE_CHANGE_SHORTCUT}", "", PEOPLE.pm, CLIENT_CHANNEL)],
    ids.CAPTURE_RISK_MODAL: [(f"shortcut:{ids.CAPTURE_RISK_SHORTCUT}", "", PEOPLE.pm, INTERNAL_CHANNEL)],
    ids.CAPTURE_FEEDBACK_MODAL: [(f"shortcut:{ids.CAPTURE_FEEDBACK_SHORTCUT}", "", PEOPLE.client,
                                  CLIENT_CHANNEL)],
}


def _item_value(ref: str, items: w.Items) -> str:
    kind, _, state = ref.partition(":")
    if kind == "prompt":
        return str(items.prompt)
    if kind == "follow_up":
        return str(items.follow_up)
    if kind == "week":
        return f"{items.project}:{items.week}"
    return str(getattr(items, kind)[state])


# Decision buttons carry the version of the item they showed (the bot draws the current one).
DECISION_BUTTONS = {ids.CHANGE_REJECT: ChangeRequest, ids.REQ_REQUEST_CHANGES: Requirement,
                    ids.CLIENT_MORE_TIME: ClientItem, ids.ACC_REPORT_ISSUES: Acceptance}


def _button_value(hostile: Hostile, action_id: str, value: str) -> str:
    model = DECISION_BUTTONS.get(action_id)
    if model is None:
        return value

    with Session(hostile.counter) as s:
        return ids.decision_value(int(value), s.get(model, int(value)).version)


def open_modals(hostile: Hostile, world: w.World, callback_id: str) -> list[dict[str, Any]]:
    """The views the bot opens for `callback_id`, each way it can be opened."""
    views = []
    for n, (what, arg, user, channel) in enumerate(OPENERS[callback_id]):
        url = hostile.fake.response_url(f"open{n}")
        if what.startswith("/"):
            built = payloads.slash_command(what, arg, user=user, channel_id=channel, response_url=url,
                                           trigger_id=f"open-{n}")
        elif what.startswith("shortcut:"):  # a message shortcut on a client's message
            ts = hostile.fake.add_message(channel, "Could we <b>also</b> get a *CSV* export? <!channel>",
                                          user="U0CLIENT", team="T0EXT")
            built = payloads.message_shortcut(what.split(":", 1)[1], user=user, channel_id=channel,
                                              message_ts=ts, message_text="Could we <b>also</b> get a *CSV* export?",
                                              message_team="T0EXT", response_url=url, trigger_id=f"open-{n}")
        else:
            value = _button_value(hostile, what, _item_value(arg, world.a))
            built = payloads.block_actions(what, value, user=user, channel_id=channel,
                                           response_url=url, trigger_id=f"open-{n}")
        outcome = hostile.send(built, count_rows=False)
        opened = [c.params["view"] for c in outcome.calls if c.method == "views.open"]
        assert opened, f"{what} {arg} opened no modal: {[c.method for c in outcome.calls]} {outcome.response.text}"
        assert opened[-1]["callback_id"] == callback_id
        views.append({**opened[-1], "_opened_for": user})
    return views


# Element states -----------------------------------------------------------------------------


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    opts = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        opts += group.get("options") or []
    if element.get("initial_option"):
        opts.append(element["initial_option"])
    return opts or [payloads.option("Europe/Berlin"), payloads.option("Asia/Shanghai")]


@st.composite
def option_value(draw: st.DrawFn, element: dict[str, Any]) -> Any:
    opts = _options(element)
    return draw(st.one_of(st.sampled_from(opts), st.sampled_from(opts),
                          st.builds(lambda v: {"text": {"type": "plain_text", "text": "x"}, "value": v},
                                    st.one_of(wrong_scalar, st.sampled_from(NUMBERISH))),
                          st.none(), wrong_value))


@st.composite
def right_state(draw: st.DrawFn, element: dict[str, Any]) -> dict[str, Any]:
    """A state of the element's own type, with a value that may be valid, empty or absurd."""
    kind = element.get("type", "plain_text_input")
    state: dict[str, Any] = {"type": kind}
    if kind in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
        numberish = st.sampled_from(NUMBERISH)
        state["value"] = draw(st.one_of(hostile_text, numberish, numberish, numberish.map(lambda n: n + "%"),
                                        st.none(), st.just(""), wrong_scalar))
    elif kind in ("static_select", "radio_buttons", "external_select"):
        state["selected_option"] = draw(option_value(element))
    elif kind in ("multi_static_select", "checkboxes", "multi_external_select"):
        state["selected_options"] = draw(st.one_of(st.lists(option_value(element), max_size=4), wrong_value))
    elif kind == "users_select":
        state["selected_user"] = draw(st.one_of(st.sampled_from(REAL_USERS), st.none(), wrong_scalar))
    elif kind == "multi_users_select":
        state["selected_users"] = draw(st.one_of(st.lists(st.sampled_from(REAL_USERS), max_size=30), wrong_value))
    elif kind in ("conversations_select", "channels_select"):
        key = "selected_conversation" if kind == "conversations_select" else "selected_channel"
        state[key] = draw(st.one_of(st.sampled_from(REAL_CHANNELS), st.none(), wrong_scalar))
    elif kind == "datepicker":
        state["selected_date"] = draw(st.one_of(
            st.integers(-800, 800).map(lambda d: (TODAY + timedelta(days=d)).isoformat()), st.none(),
            st.sampled_from(["2026-02-30", "", "tomorrow", "9999-12-31", "0001-01-01", "2026-13-01", "2026-1-1",
                             "20261120", "2026-11-20T10:00:00"]), wrong_scalar))
    elif kind == "timepicker":
        state["selected_time"] = draw(st.one_of(st.sampled_from(["09:00", "16:30", "00:00", "23:59"]), st.none(),
                                                st.sampled_from(["25:00", "7:5", "", "noon", "12:60"]), wrong_scalar))
    else:
        state["value"] = draw(wrong_value)
    return state


@st.composite
def state_values(draw: st.DrawFn, view: dict[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input" or not isinstance(block.get("element"), dict):
            continue
        element = block["element"]
        how = draw(st.sampled_from(["right"] * 9 + ["wrong_type", "missing", "junk", "renamed"]))
        if how == "missing":
            continue
        if how == "junk":
            values[block["block_id"]] = draw(wrong_value)
            continue
        other = draw(st.sampled_from([{"type": "plain_text_input"}, {"type": "static_select", "options": []},
                                      {"type": "users_select"}, {"type": "datepicker"}, {"type": "checkboxes"}]))
        state = draw(right_state(other if how == "wrong_type" else element))
        action_id = "not_the_action" if how == "renamed" else element.get("action_id", ids.VALUE)
        values[block["block_id"]] = {action_id: state}
    return draw(st.one_of(st.just(values), st.just(values), st.just(values), wrong_value))


@st.composite
def metadata_of(draw: st.DrawFn, view: dict[str, Any], world: w.World) -> Any:
    real = view.get("private_metadata") or ""
    try:
        data = json.loads(real) if real else {}
    except ValueError:
        data = {}
    ids_of = [world.a.project, world.b.project, world.x.project, *world.b.req.values(), *world.x.cr.values(),
              world.b.risk["open"], world.x.prompt, world.x.follow_up, world.b.milestone["open"],
              world.b.client_item["open"], world.x.client_item["open"], world.b.milestone["done"],
              *world.x.acc.values(), 0, -1]
    how = draw(st.sampled_from(["real"] * 6 + ["other ids", "wrong types", "not json", "empty"]))
    if how == "real" or not isinstance(data, dict):
        return real
    if how == "not json":
        return draw(st.one_of(hostile_text, st.sampled_from(["[]", "null", "1", '"x"', "{", "{}"])))
    if how == "empty":
        return ""
    out = dict(data)
    for key in list(out):
        if draw(st.booleans()):
            out[key] = draw(st.sampled_from(ids_of)) if how == "other ids" else draw(wrong_value)
    return json.dumps(out)


@st.composite
def submissions(draw: st.DrawFn, views: list[dict[str, Any]], world: w.World) -> dict[str, Any]:
    view = draw(st.sampled_from(views))
    # Mostly the person the modal was opened for, so most examples reach deep into the handler.
    user = draw(st.sampled_from([view["_opened_for"]] * 4 + USERS), label="user")
    team = draw(st.sampled_from([TEAM, TEAM, user.team_id, "T0ELSE"]), label="team")
    values = draw(state_values(view), label="values")
    meta = draw(metadata_of(view, world), label="private_metadata")
    built = payloads.view_submission(view["callback_id"], {}, user=user, team_id=team, private_metadata=meta,
                                     blocks=view.get("blocks"), installed_team_id=TEAM)
    payload = unsign(built)
    payload["view"]["state"]["values"] = values  # as generated: the builder would insist on dicts
    deletions = draw(st.lists(st.sampled_from(["view.state", "view.state.values", "view.private_metadata",
                                               "user.team_id", "team", "view.id", "view.blocks",
                                               "response_urls", "view.app_installed_team_id"]),
                              max_size=2, unique=True), label="deleted")
    if draw(st.integers(0, 3)) == 0:
        deletions = []
    return mutated(payload, deletions, [])


@pytest.mark.parametrize("callback_id", catalogue.CALLBACKS)
@HOSTILE
@given(data=st.data())
def test_hostile_view_submissions(hostile, world, callback_id, data, request):
    cache = request.node.__dict__.setdefault("_opened", {})
    if callback_id not in cache:
        cache[callback_id] = open_modals(hostile, world, callback_id)
    payload = data.draw(submissions(cache[callback_id], world))
    outcome = hostile.send(signed_interaction(payload))
    state = payload.get("view", {}).get("state")
    hostile.check(outcome, what=f"{callback_id} state={json.dumps(state)[:1500]} "
                               f"meta={payload['view'].get('private_metadata')!r} user={payload['user']['id']}")
