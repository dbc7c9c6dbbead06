"""Fast checks of the hardening pieces (the slow end-to-end proofs are in tests/resilience)."""

from __future__ import annotations

import json

import pytest
from slack_bolt import BoltResponse
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from bot.config import ConfigError, load_settings
from bot.flows.delivery import deliver_many
from bot.handlers.errors import handle_error
from bot.i18n import t
from bot.models import Outbox
from bot.services import outbox
from bot.shutdown import request_stop, reset

DB_DOWN = OperationalError("SELECT 1", {}, Exception("connection refused"))


# PMBOT_CLAIM_TIMEOUT_SECONDS -----------------------------------------------------------------


def test_claim_timeout_defaults_to_five_minutes_and_is_validated():
    assert load_settings({}).claim_timeout_seconds == 300
    assert load_settings({"PMBOT_CLAIM_TIMEOUT_SECONDS": "30"}).claim_timeout_seconds == 30
    for bad in ("0", "-5", "soon", "1.5"):
        with pytest.raises(ConfigError) as err:
            load_settings({"PMBOT_CLAIM_TIMEOUT_SECONDS": bad})
        assert err.value.variable == "PMBOT_CLAIM_TIMEOUT_SECONDS"


def test_an_abandoned_claim_is_taken_over_after_the_configured_timeout(deps, fake_slack, clock, session):
    """Where nothing tells whether the claim's holder lives (SQLite, a holder on another host),
    or its holder lives on but never finished (on PostgreSQL: its process's lock is held, issue
    13): taken over once the claim is older than the timeout, not before. (On PostgreSQL a holder
    whose lock is free is taken over at once: tests/unit/test_outbox.py.)"""
    from tests.unit.test_outbox import hold_claim_lock

    deps.settings = deps.settings.model_copy(update={"claim_timeout_seconds": 20})
    with deps.session() as s:
        row_id = outbox.enqueue(s, key="k", team_id="T0TEAM", kind="test", channel_id="C0CLIENT",
                                payload={"text": "hi"}, now=clock.now()).id
        assert outbox.claim(s, row_id, worker="stuck-host:1:1", now=clock.now())
    from bot.flows.delivery import deliver_due

    with hold_claim_lock(deps, "stuck-host:1:1"):
        clock.advance(seconds=15)
        assert deliver_due(deps) == 0
        clock.advance(seconds=10)
        assert deliver_due(deps) == 1
    assert session.exec(select(Outbox)).one().status == "sent"


# Stopping between two messages ---------------------------------------------------------------


def test_deliver_many_stops_between_messages_when_asked(deps, fake_slack, clock, session):
    with deps.session() as s:
        ids = [outbox.enqueue(s, key=f"k{i}", team_id="T0TEAM", kind="test", channel_id="C0CLIENT",
                              payload={"text": "hi"}, now=clock.now()).id for i in range(3)]
    assert deliver_many(deps, ids[:1]) == 1
    request_stop()
    try:
        assert deliver_many(deps, ids[1:]) == 0
    finally:
        reset()
    rows = session.exec(select(Outbox).order_by(Outbox.id)).all()
    assert [r.status for r in rows] == ["sent", "pending", "pending"]  # nothing left claimed
    assert outbox.unsent(session, keys=["k0", "k1", "k2"]) == ids[1:]


# The error handler's answers -------------------------------------------------------------------


def _handle(body: dict) -> tuple[BoltResponse | None, BoltResponse]:
    response = BoltResponse(status=500)
    returned = handle_error(DB_DOWN, body, {}, response)
    return returned, response


def test_a_command_that_fails_before_ack_gets_an_ephemeral_try_again():
    returned, _ = _handle({"command": "/req", "text": "x", "user_id": "U1"})
    assert returned is not None and returned.status == 200
    assert json.loads(returned.body) == {"response_type": "ephemeral", "text": t("common.error_try_again", "en")}


def test_a_modal_that_fails_before_ack_stays_open_with_the_message_under_its_first_field():
    view = {"blocks": [{"type": "section", "block_id": "intro"}, {"type": "input", "block_id": "title"},
                       {"type": "input", "block_id": "more"}], "state": {"values": {}}}
    returned, _ = _handle({"type": "view_submission", "user": {"id": "U1"}, "view": view})
    assert returned is not None and json.loads(returned.body) == {
        "response_action": "errors", "errors": {"title": t("common.error_try_again", "en")}}
    # a view without input blocks: a notice pushed on top, the submitted view kept under it
    returned, _ = _handle({"type": "view_submission", "user": {"id": "U1"}, "view": {"blocks": []}})
    assert returned is not None and json.loads(returned.body)["response_action"] == "push"


def test_a_generic_failure_says_so_and_an_options_request_gets_no_options():
    returned = handle_error(RuntimeError("bug"), {"command": "/req", "user_id": "U1"}, {}, BoltResponse(status=500))
    assert returned is not None and json.loads(returned.body)["text"] == t("common.error_generic", "en")
    returned, _ = _handle({"type": "block_suggestion", "user": {"id": "U1"}})
    assert returned is not None and json.loads(returned.body) == {"options": []}


def test_after_ack_only_the_response_url_is_left(fake_slack):
    url = fake_slack.response_url("after-ack")
    assert handle_error(DB_DOWN, {"type": "block_actions", "user": {"id": "U1"}, "response_url": url}, {}, None) is None
    [told] = fake_slack.calls_to("response_url")
    assert told.params["text"] == t("common.error_try_again", "en") and told.params["replace_original"] is False


def test_the_answer_is_in_the_persons_language_when_slack_already_told_us(deps, fake_slack):
    fake_slack.add_user("U0CLIENT", team_id="T0EXT", locale="zh-CN")  # the client's Slack is in Chinese
    deps.users.info(deps.client, "U0CLIENT")  # a handler looked the client up before failing
    calls = len(fake_slack.calls)
    returned = handle_error(DB_DOWN, {"command": "/req", "user_id": "U0CLIENT"}, {"deps": deps},
                            BoltResponse(status=500))
    assert returned is not None and json.loads(returned.body)["text"] == t("common.error_try_again", "zh-CN")
    assert len(fake_slack.calls) == calls  # no Slack call on the error path


# A lost answer, then Slack's history unreadable for a while ------------------------------------


def test_when_history_cannot_be_read_the_outbox_waits_instead_of_posting_blindly(deps, fake_slack, clock, session):
    from bot.flows.delivery import deliver_due
    from bot.slack.post import METADATA_EVENT

    with deps.session() as s:
        row_id = outbox.enqueue(s, key="k", team_id="T0TEAM", kind="test", channel_id="C0CLIENT",
                                payload={"text": "hi"}, now=clock.now()).id
        assert outbox.claim(s, row_id, worker="dead", now=clock.now())  # it died after posting:
    fake_slack.add_message("C0CLIENT", "hi", user="UBOT", bot_id=fake_slack.bot_id,
                           metadata={"event_type": METADATA_EVENT, "event_payload": {"key": "k"}})
    clock.advance(minutes=6)
    fake_slack.fail("conversations.history", status=500, times=4)  # beyond the client's 3 retries
    assert deliver_due(deps) == 0
    row = session.exec(select(Outbox)).one()
    assert row.status == "pending" and fake_slack.calls_to("chat.postMessage") == []
    clock.advance(minutes=2)
    assert deliver_due(deps) == 1  # history readable again: found, not posted a second time
    assert fake_slack.calls_to("chat.postMessage") == []
    assert session.exec(select(Outbox)).one().status == "sent"


# Long outages ----------------------------------------------------------------------------------


def test_a_three_hour_outage_loses_nothing_and_posts_each_message_once(deps, fake_slack, clock, session):
    """Issue 11, item 1: rows became `failed` after ~63 minutes of back-off and nothing retried
    them. Slack now fails every chat.postMessage for three hours of controlled clock while the
    sweep runs every minute; afterwards each owed message is in Slack exactly once."""
    from bot.flows.delivery import deliver_due

    targets = [("C0CLIENT", None), ("C0INTERNAL", None), (None, "U0PM")]
    with deps.session() as s:
        for n, (channel, user) in enumerate(targets):
            outbox.enqueue(s, key=f"owed:{n}", team_id="T0TEAM", kind="test", channel_id=channel, user_id=user,
                           payload={"text": f"message {n}"}, now=clock.now())
    fake_slack.fail("chat.postMessage", status=500, times=10_000)
    for _minute in range(180):
        deliver_due(deps)
        clock.advance(minutes=1)
        assert session.exec(select(Outbox).where(Outbox.status == "failed")).all() == []
    fake_slack.clear_faults()
    for _minute in range(15):
        deliver_due(deps)
        clock.advance(minutes=1)
    session.expire_all()
    rows = session.exec(select(Outbox).order_by(Outbox.id)).all()
    assert [r.status for r in rows] == ["sent", "sent", "sent"]
    posted = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.status == 200]
    assert sorted(posted) == ["message 0", "message 1", "message 2"]


def test_a_rejected_token_keeps_every_message_queued(deps, fake_slack, clock, session):
    """Issue 11, item 1: `invalid_auth` (a rotated token) counted as permanent and dropped all."""
    from bot.flows.delivery import deliver_due

    with deps.session() as s:
        outbox.enqueue(s, key="owed", team_id="T0TEAM", kind="test", channel_id="C0CLIENT",
                       payload={"text": "hello"}, now=clock.now())
    fake_slack.fail("chat.postMessage", error="invalid_auth", times=3)
    for _ in range(3):
        deliver_due(deps)
        clock.advance(minutes=1)
        assert session.exec(select(Outbox)).one().status == "pending"
    deliver_due(deps)
    session.expire_all()
    assert session.exec(select(Outbox)).one().status == "sent"


def test_a_permanent_error_stops_the_row_and_it_can_be_requeued(deps, fake_slack, clock, session):
    from bot.flows.delivery import deliver_due

    with deps.session() as s:
        outbox.enqueue(s, key="owed", team_id="T0TEAM", kind="test", channel_id="C0GONE",
                       payload={"text": "hello"}, now=clock.now())
    fake_slack.fail("chat.postMessage", error="channel_not_found")
    deliver_due(deps)
    with deps.session() as s:
        [row] = outbox.failed(s)
        assert row.last_error == "channel_not_found"
        assert outbox.requeue(s, now=clock.now(), key="owed") == 1
    deliver_due(deps)
    session.expire_all()
    assert session.exec(select(Outbox)).one().status == "sent"


def test_the_pm_is_told_once_per_batch_of_messages_slack_refused(deps, fake_slack, clock, session, make_project):
    """Issue 11, item 1: a permanent error stops the row and makes it visible: one DM to the PM
    per project about what could not be sent and why."""
    from bot.flows.delivery import deliver_due
    from bot.flows.undelivered import failed_for, tell_pms

    project = make_project()
    with deps.session() as s:
        outbox.enqueue(s, key="owed:1", team_id="T0TEAM", kind="digest", channel_id="C0GONE", project_id=project.id,
                       payload={"text": "digest"}, now=clock.now())
    fake_slack.fail("chat.postMessage", error="channel_not_found")
    deliver_due(deps)
    assert tell_pms(deps) == 1
    assert tell_pms(deps) == 0  # told once
    [dm] = [c for c in fake_slack.calls_to("chat.postMessage") if c.ok]
    assert dm.params["channel"] == "DU0PM"
    assert "channel_not_found" in json.dumps(dm.params["blocks"]) and "pmbot outbox retry" in json.dumps(dm.params)
    with deps.session() as s:
        assert [(f.key, f.error) for f in failed_for(s, project.id)] == [("owed:1", "channel_not_found")]
        outbox.enqueue(s, key="owed:2", team_id="T0TEAM", kind="reminder", user_id="U0GONE", project_id=project.id,
                       payload={"text": "reminder"}, now=clock.now())
    fake_slack.fail("chat.postMessage", error="user_not_found")
    deliver_due(deps)
    assert tell_pms(deps) == 1  # a new batch: told again, naming both
    last = [c for c in fake_slack.calls_to("chat.postMessage") if c.ok][-1]
    assert "user_not_found" in json.dumps(last.params["blocks"]) and "channel_not_found" in json.dumps(last.params)


def test_the_app_home_lists_what_slack_refused_for_the_pm(deps, fake_slack, clock, make_project):
    from bot.blocks.home import home_view
    from bot.flows.delivery import deliver_due
    from bot.flows.home import home

    project = make_project()
    with deps.session() as s:
        outbox.enqueue(s, key="owed:1", team_id="T0TEAM", kind="digest", channel_id="C0GONE", project_id=project.id,
                       payload={"text": "digest"}, now=clock.now())
    fake_slack.fail("chat.postMessage", error="not_in_channel")
    deliver_due(deps)
    pm_view = json.dumps(home_view("en", home(deps, "U0PM")))
    assert "Not sent, refused by Slack (1)" in pm_view and "not_in_channel" in pm_view
    assert "not_in_channel" not in json.dumps(home_view("en", home(deps, "U0DEV")))  # the PM's to fix
