"""The guard in front of Bolt's dispatch (bot/slack/guard.py), through signed requests to the
running server: a malformed signed payload of any kind is a 400 with one log line and no
traceback, nothing runs and nothing is stored; the signature is still checked first; and a
well-formed payload no listener takes is acknowledged."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlmodel import select

from bot.blocks import ids
from bot.db import make_engine
from bot.models import Requirement
from tests.conftest import CLIENT_CHANNEL, PEOPLE, TEAM
from tests.fakes import payloads
from tests.hostile.harness import Hostile, Outcome
from tests.hostile.strategies import signed_interaction, unsign

GUARD = "bot.slack.guard"


@pytest.fixture
def edge(slack, fake_slack, catcher, database_url) -> Iterator[Hostile]:
    """The hostile harness without the hostile world: these requests never reach a record."""
    counter = make_engine(database_url, sqlite_immediate=False)
    yield Hostile(slack, fake_slack, catcher, counter)
    counter.dispose()


@pytest.fixture
def lines(caplog):
    """The guard's log lines (any level) of the request under test."""
    caplog.set_level(logging.INFO)

    def of_guard() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == GUARD]

    of_guard.clear = caplog.clear  # type: ignore[attr-defined]
    return of_guard


def refused(outcome: Outcome, records: list[logging.LogRecord], *, status: int = 400) -> None:
    assert outcome.response.status_code == status, f"HTTP {outcome.response.status_code} {outcome.response.text!r}"
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.WARNING and records[0].exc_info is None
    assert not outcome.errors, [r.getMessage() for r in outcome.errors]
    assert not outcome.calls and outcome.before == outcome.after


def test_a_view_submission_whose_view_has_no_type_is_a_400_not_a_500(edge, make_project, lines, session):
    """Issue 10, item 8: Bolt read `body["view"]["type"]` while building its first middleware's
    arguments, and again in its own error handler: HTTP 500 with a traceback, before any
    listener ran."""
    values = {ids.REQ_BLOCK_TITLE: {ids.VALUE: payloads.plain_text("Export to CSV")}}
    payload = unsign(payloads.view_submission(ids.REQ_MODAL, values, user=PEOPLE.client,
                                              private_metadata=json.dumps({"project_id": make_project().id})))
    del payload["view"]["type"]
    outcome = edge.send(signed_interaction(payload))
    refused(outcome, lines())
    assert "view.type" in lines()[0].getMessage()
    assert not session.exec(select(Requirement).where(Requirement.title == "Export to CSV")).all()


def test_the_signature_is_checked_before_the_shape(edge, lines):
    payload = unsign(payloads.view_submission(ids.REQ_MODAL, {}, user=PEOPLE.client))
    del payload["view"]["type"]
    body, headers = signed_interaction(payload)
    for bad in ({**headers, "X-Slack-Signature": "v0=" + "0" * 64}, {"Content-Type": headers["Content-Type"]},
                payloads.sign(body, secret="another-secret"), payloads.sign(body, timestamp=1_000_000_000)):
        lines.clear()
        outcome = edge.send((body, bad))
        refused(outcome, lines(), status=401)
    lines.clear()
    outcome = edge.send((body, headers))  # the same body, signed: malformed
    refused(outcome, lines())


def _form(fields: dict[str, str]) -> tuple[str, dict[str, str]]:
    body = urlencode(fields)
    return body, payloads.sign(body)


def _json(data: Any) -> tuple[str, dict[str, str]]:
    body = json.dumps(data)
    return body, payloads.sign(body)


def _raw(body: str) -> tuple[str, dict[str, str]]:
    return body, payloads.sign(body)


def _event(event: Any, **top: Any) -> tuple[str, dict[str, str]]:
    data = json.loads(payloads.event_callback({"type": "app_home_opened", "user": "U0PM"})[0])
    data["event"] = event
    data.update(top)
    return _json(data)


def _interaction(built: tuple[str, dict[str, str]], change: dict[str, Any], drop: tuple[str, ...] = ()):
    payload = unsign(built)
    for path in drop:
        *parents, last = path.split(".")
        node = payload
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]
    for path, value in change.items():
        *parents, last = path.split(".")
        node = payload
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    return signed_interaction(payload)


PM = PEOPLE.pm
# Payloads to spoil (each test signs its request when it runs: signatures expire).
VIEW = payloads.view_submission(ids.REQ_MODAL, {}, user=PM)
CLOSED = payloads.view_closed(ids.REQ_MODAL, user=PM)
ACTION = payloads.block_actions(ids.REQ_CONFIRM, "1", user=PM)
OPTIONS = payloads.block_suggestion(ids.PROJECT_TZ_ACTION, "Berl", user=PM)
SHORTCUT = payloads.global_shortcut("pmbot_new_requirement", user=PM)
MESSAGE_ACTION = payloads.message_shortcut("pmbot_capture", user=PM)
ATTACHMENT = payloads.interactive_message("legacy_choice", user=PM)

# One malformed example per kind of payload and per field Bolt reads (what it did before: a 500,
# or Bolt misread it and answered 404).
MALFORMED = {
    "command without user_id": lambda: _form({"command": "/req", "text": "list", "channel_id": CLIENT_CHANNEL,
                                      "team_id": TEAM}),
    "command with a number for a command": lambda: _json({"command": 7, "user_id": "U0PM", "team_id": TEAM}),
    "view_submission: view is a list": lambda: _interaction(VIEW, {"view": [1]}),
    "view_submission: no callback_id": lambda: _interaction(VIEW, {}, drop=("view.callback_id",)),
    "view_submission: workflow_step without the step": lambda: _interaction(VIEW, {"view.type": "workflow_step"}),
    "view_submission: no user": lambda: _interaction(VIEW, {}, drop=("user",)),
    "view_closed: no view type": lambda: _interaction(CLOSED, {}, drop=("view.type",)),
    "view_closed: view null": lambda: _interaction(CLOSED, {"view": None}),
    "block_actions: actions empty": lambda: _interaction(ACTION, {"actions": []}),
    "block_actions: action_id a number": lambda: _interaction(ACTION, {"actions.0.action_id": 12}),
    "block_actions: an action that is text": lambda: _interaction(ACTION, {"actions": ["req_confirm"]}),
    "block_actions: team a number": lambda: _interaction(ACTION, {"team": 5}),
    "block_actions: enterprise a list": lambda: _interaction(ACTION, {"enterprise": ["E1"]}),
    "block_actions: response_url a list": lambda: _interaction(ACTION, {"response_url": ["x"]}),
    "block_suggestion: no action_id": lambda: _interaction(OPTIONS, {}, drop=("action_id",)),
    "block_suggestion: value a number": lambda: _interaction(OPTIONS, {"value": 3}),
    "shortcut: no callback_id": lambda: _interaction(SHORTCUT, {}, drop=("callback_id",)),
    "shortcut: user a number": lambda: _interaction(SHORTCUT, {"user": 1}),
    "message_action: callback_id an object": lambda: _interaction(MESSAGE_ACTION, {"callback_id": {}}),
    "message_action: user null": lambda: _interaction(MESSAGE_ACTION, {"user": None}),
    # found by the hostile payload tests: a handler opened a form with the trigger_id, or
    # answered through the response_url, that Slack always sends and this payload lacked
    "block_actions: no trigger_id": lambda: _interaction(ACTION, {}, drop=("trigger_id",)),
    "shortcut: no trigger_id": lambda: _interaction(SHORTCUT, {}, drop=("trigger_id",)),
    "message_action: no trigger_id": lambda: _interaction(MESSAGE_ACTION, {}, drop=("trigger_id",)),
    "message_action: no response_url": lambda: _interaction(MESSAGE_ACTION, {}, drop=("response_url",)),
    "message event: the edited message's user a number": lambda: _event(
        {"type": "message", "subtype": "message_changed", "channel": "C0CLIENT", "message": {"user": 3}}),
    "interactive_message: no actions": lambda: _interaction(ATTACHMENT, {}, drop=("actions",)),
    "view_submission: response_urls null": lambda: _interaction(VIEW, {"response_urls": None}),
    "view_submission: a response_url entry that is text": lambda: _interaction(VIEW, {"response_urls": ["x"]}),
    "event_callback: no event": lambda: _event(None),
    "event_callback: event a string": lambda: _event("type"),
    "event_callback: event without a type": lambda: _event({"user": "U0PM"}),
    "app_home_opened: user an object": lambda: _event({"type": "app_home_opened", "user": {"id": "U0PM"}}),
    "reaction_added: item.channel a number": lambda: _event({"type": "reaction_added", "user": "U0PM", "reaction": "+1",
                                                     "item": {"type": "message", "channel": 5}}),
    "member_joined_channel: channel a number, shared": lambda: _event(
        {"type": "member_joined_channel", "user": "U0PM", "channel": 7}, is_ext_shared_channel=True),
    "message event: message a string": lambda: _event({"type": "message", "channel_type": "im", "message": "x"}),
    "authorizations a list of text": lambda: _event({"type": "app_home_opened", "user": "U0PM"}, authorizations=["x"]),
    "url_verification without a challenge": lambda: _json({"type": "url_verification", "token": "t"}),
    "a type that is not text": lambda: _json({"type": ["block_actions"], "user": {"id": "U0PM"}}),
    "a JSON list": lambda: _json([{"type": "block_actions"}]),
    "a JSON string": lambda: _json("block_actions"),
    "nested 100 deep": lambda: _raw('{"type": "event_callback", "event": {"type": "x", "d": ' + "[" * 100 + "]" * 100
                                    + "}}"),
    "nested 5000 deep": lambda: _raw('{"type": "event_callback", "event": {"type": "x", "d": ' + "[" * 5000
                                     + "]" * 5000 + "}}"),
    "an interaction that is not JSON": lambda: _form({"payload": "{not json"}),
    "nothing at all": lambda: _form({"token": "t"}),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_every_malformed_signed_payload_is_a_400_with_one_line(edge, lines, name):
    outcome = edge.send(MALFORMED[name]())
    refused(outcome, lines())


def test_a_body_that_is_not_utf8_is_a_400(edge, lines):
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D\xff\xfe"
    ts = int(time.time())
    digest = hmac.new(payloads.SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(ts),
               "X-Slack-Signature": f"v0={digest}"}
    response = edge.slack.http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 400
    assert len(lines()) == 1


# Well-formed payloads the bot has no listener for --------------------------------------------------

UNHANDLED = {
    # built when sent (signed with the clock of that moment, as Slack signs)
    "view_closed": lambda: payloads.view_closed(ids.REQ_MODAL, user=PM),
    "global shortcut": lambda: payloads.global_shortcut("pmbot_new_requirement", user=PM),
    "message shortcut": lambda: payloads.message_shortcut("pmbot_capture", user=PM),
    "interactive_message": lambda: payloads.interactive_message("legacy_choice", user=PM),
    "reaction_added": lambda: payloads.reaction_added("+1", user=PEOPLE.client),
    "member_joined_channel": lambda: payloads.member_joined_channel(PEOPLE.client),
    "a message event": lambda: payloads.message_event("hello", user=PEOPLE.client),
    "a link button": lambda: payloads.block_actions("open_docs_link", None, user=PM),
    "an unknown view": lambda: payloads.view_submission("some_old_modal", {}, user=PM),
    "an options request of another select": lambda: payloads.block_suggestion("other_select", "x", user=PM),
    "app_rate_limited": lambda: _json({"token": "t", "type": "app_rate_limited", "team_id": TEAM,
                               "minute_rate_limited": 1518467820, "api_app_id": payloads.API_APP_ID}),
    "a type Slack adds later": lambda: _json({"type": "something_new", "team_id": TEAM}),
}


@pytest.mark.parametrize("name", list(UNHANDLED))
def test_a_well_formed_payload_without_a_listener_is_acknowledged(edge, lines, name):
    """Slack retries an event that is not answered 200, and shows a warning for an interaction
    that is not; Bolt answered 404."""
    outcome = edge.send(UNHANDLED[name]())
    Hostile.check(outcome, what=name)
    assert outcome.response.status_code == 200
    assert not lines()
    assert outcome.before == outcome.after
    if name.startswith("an options request"):
        assert outcome.body == {"options": []}


def test_url_verification_is_answered(edge):
    outcome = edge.send(payloads.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"))
    assert outcome.response.status_code == 200
    assert outcome.body == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_a_command_whose_text_says_payload_is_routed(edge, make_project, session):
    make_project()
    """Bolt takes any form body containing the word "payload" for an interaction, and read such a
    command as `{}`: `/req Add payload limits` was never routed (HTTP 404)."""
    built = payloads.slash_command("/req", "Raise the payload limit", user=PEOPLE.client, channel_id=CLIENT_CHANNEL,
                                   team_id=TEAM, response_url=edge.fake.response_url("payload"))
    outcome = edge.send(built)
    Hostile.check(outcome, what="/req ... payload ...")
    assert outcome.response.status_code == 200
    assert session.exec(select(Requirement).where(Requirement.title == "Raise the payload limit")).one()


# Socket Mode: a malformed envelope is acknowledged and logged, never raised ----------------------


class SocketClient:
    """What Bolt's Socket Mode handler uses of the socket client: its answers are recorded."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("tests.socket")
        self.answers: list[Any] = []

    def send_socket_mode_response(self, response: Any) -> None:
        self.answers.append(response)


def _envelope(payload: Any, kind: str = "interactive"):
    from slack_sdk.socket_mode.request import SocketModeRequest

    return SocketModeRequest(type=kind, envelope_id=f"env-{len(str(payload))}", payload=payload)


@pytest.mark.parametrize("name", ["view_submission: no view type", "block_actions: action_id a number",
                                  "event_callback: event a string", "block_actions: team a number",
                                  "text (Slack's client wraps it as {'text': ...})"])
def test_socket_mode_acknowledges_a_malformed_envelope(bolt_app, fake_slack, lines, name):
    from bot.slack.guard import socket_mode_handler

    payload = {
        "view_submission: no view type": lambda: {**unsign(VIEW), "view": {"callback_id": ids.REQ_MODAL}},
        "block_actions: action_id a number": lambda: {**unsign(ACTION), "actions": [{"action_id": 3}]},
        "event_callback: event a string": lambda: {"type": "event_callback", "event": "x"},
        "block_actions: team a number": lambda: {**unsign(ACTION), "team": 5},
        "text (Slack's client wraps it as {'text': ...})": lambda: "payload",
    }[name]()
    handler = socket_mode_handler(bolt_app, "xapp-test")
    before = len(fake_slack.calls)  # create_app asked auth.test
    try:
        client, envelope = SocketClient(), _envelope(payload)
        handler.handle(client, envelope)
    finally:
        handler.close()
    assert [a.envelope_id for a in client.answers] == [envelope.envelope_id]
    assert len(lines()) == 1 and lines()[0].exc_info is None, [r.getMessage() for r in lines()]
    assert fake_slack.calls[before:] == []


def test_socket_mode_serves_a_well_formed_envelope(bolt_app, fake_slack, lines):
    from bot.slack.guard import handle_socket_request

    client = SocketClient()
    envelope = _envelope(unsign(payloads.view_closed("some_modal", user=PM)))
    handle_socket_request(bolt_app, client, envelope)
    assert [a.envelope_id for a in client.answers] == [envelope.envelope_id]
    assert not lines()
    client = SocketClient()
    envelope = _envelope(json.loads(payloads.app_home_opened(PM)[0]), kind="events_api")
    handle_socket_request(bolt_app, client, envelope)
    assert [a.envelope_id for a in client.answers] == [envelope.envelope_id]
    fake_slack.wait_for("views.publish")


def _peak_rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def test_a_40_mb_unsigned_body_is_refused_before_it_is_read(server):
    """Issue 11, item 6: an unsigned 40 MB POST was read and parsed before the signature was
    checked, and the process grew by about 120 MB each time. Now: 413 (or the connection is
    closed) without reading it; memory stays put; the next request is served."""
    import httpx

    chunk = b"x" * 65536

    def body():
        for _ in range(40 * 1024 * 1024 // len(chunk)):
            yield chunk

    before = _peak_rss_kb()
    for headers in ({"content-length": str(40 * 1024 * 1024)}, {}):  # declared, and streamed (chunked)
        try:
            response = httpx.post(server + "/slack/events", content=body(), headers=headers, timeout=30)
            assert response.status_code == 413
        except httpx.TransportError:
            pass  # the server closed the connection: also a refusal
    grown = _peak_rss_kb() - before
    assert grown < 10 * 1024, f"the process grew by {grown // 1024} MB"
    assert httpx.get(server + "/healthz", timeout=10).status_code == 200


def test_socket_mode_makes_the_payload_s_text_storable(bolt_app, fake_slack, make_project, session):
    """Text no database can store (NUL, a lone surrogate) is taken out at the edge in Socket Mode
    too, where slack_sdk hands over the payload already parsed."""
    from urllib.parse import parse_qsl

    from bot.slack.guard import handle_socket_request

    make_project()
    command = dict(parse_qsl(payloads.slash_command("/req", "Pay by card", user=PEOPLE.pm, channel_id=CLIENT_CHANNEL,
                                                    team_id=TEAM, response_url=fake_slack.response_url("s"))[0]))
    command["text"] = "Pay\x00 by card \ud800"
    client = SocketClient()
    handle_socket_request(bolt_app, client, _envelope(command, kind="slash_commands"))
    assert len(client.answers) == 1
    assert session.exec(select(Requirement.title)).one() == "Pay by card \ufffd"


@pytest.mark.parametrize(("raw", "seen"), [
    ('"Pay\\u0000 by card"', "Pay by card"),  # NUL: dropped
    ('"Odd \\ud800 one"', "Odd \ufffd one"),  # a lone surrogate: one replacement character
    ('"Smile \\ud83d\\ude00"', "Smile \U0001F600"),  # a pair is a character: kept
    ('"C:\\\\u0000"', "C:\\u0000"),  # an escaped backslash, then text: kept
])
def test_an_interaction_s_text_is_made_storable_only_where_needed(raw, seen):
    from bot.slack.guard import parse

    body = urlencode({"payload": '{"type": "block_actions", "text": ' + raw + "}"})
    assert parse(body, "application/x-www-form-urlencoded")["text"] == seen
