"""`/req` end to end: signed requests in, recorded Slack calls and stored rows out."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlmodel import select

from bot.blocks import ids
from bot.db import session_scope
from bot.models import ActivityLog, Outbox, Requirement
from bot.services import csv_cells, projects, requirements
from bot.services.permissions import Decider
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, OTHER_CHANNEL, OTHER_ORG
from tests.fakes import payloads as p

V = ids.VALUE


def values(title: str | None = "Customers can pay with Alipay", *, description: str | None = None,
           priority: str = "must", acceptance: str | None = None, project: int | None = None) -> dict:
    out = {
        ids.REQ_BLOCK_TITLE: {V: p.plain_text(title)},
        ids.REQ_BLOCK_DESCRIPTION: {V: p.plain_text(description)},
        ids.REQ_BLOCK_PRIORITY: {V: p.static_select(priority)},
        ids.REQ_BLOCK_ACCEPTANCE: {V: p.plain_text(acceptance)},
    }
    if project is not None:
        out["project"] = {V: p.static_select(str(project))}
    return out


def reqs(session) -> list[Requirement]:
    session.expire_all()  # objects read before are refreshed, not served from the identity map
    return list(session.exec(select(Requirement).order_by(Requirement.id)))


def log_of(session, req_id: int) -> list[ActivityLog]:
    session.expire_all()
    return list(session.exec(select(ActivityLog).where(ActivityLog.entity_type == "requirement",
                                                       ActivityLog.entity_id == req_id)
                             .order_by(ActivityLog.id)))


def buttons(blocks: list[dict]) -> list[str]:
    return [e["action_id"] for b in blocks if b.get("type") == "actions" for e in b["elements"]]


def value_of(blocks: list[dict], action_id: str = ids.REQ_CONFIRM) -> str:
    """The value a button carries as drawn (decision buttons carry the version they showed)."""
    return next(e["value"] for b in blocks if b.get("type") == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


def actions_block_id(blocks: list[dict], req_id: int) -> str:
    return next(b["block_id"] for b in blocks if b.get("type") == "actions" and f":{req_id}:" in b["block_id"])


@pytest.fixture
def project(make_project):
    return make_project()


@pytest.fixture
def add_req(engine, clock, project):
    """A requirement straight through the service (when capturing it is not what a test is about)."""

    def add(title: str = "Guest checkout", *, priority: str = "should", by: str = "U0DEV", status: str = "proposed",
            description: str = "", acceptance: str = "") -> Requirement:
        with session_scope(engine) as s:
            proj = s.get(type(project), project.id)
            req = requirements.create(s, clock, project=proj, actor=by, raised_by_client=False,
                                      data=requirements.RequirementInput(title=title, priority=priority,
                                                                         description=description,
                                                                         acceptance_criteria=acceptance))
            decider = Decider(user_id="U0CLIENT", on_behalf_of_client=False)
            if status in ("confirmed", "changes_requested", "done"):
                requirements.send_for_confirmation(s, clock, req=req, project=proj, actor="U0PM")
            if status in ("confirmed", "done"):
                requirements.confirm(s, clock, req=req, project=proj, decider=decider)
            if status == "done":
                requirements.mark_done(s, clock, req=req, project=proj, actor="U0PM")
            if status == "changes_requested":
                requirements.request_changes(s, clock, req=req, project=proj, decider=decider, comment="More")
            if status in ("deferred", "dropped"):
                getattr(requirements, {"deferred": "defer", "dropped": "drop"}[status])(
                    s, clock, req=req, project=proj, actor="U0PM")
            return req

    return add


def send_for_confirmation(slack, fake_slack, people, req_id: int) -> dict:
    """The PM clicks Send for confirmation; returns the message posted in the client channel."""
    before = len(fake_slack.calls_to("response_url"))
    slack.action(ids.REQ_SEND, str(req_id), user=people.pm, channel_id=INTERNAL_CHANNEL,
                 block_id=f"req_item:{req_id}:item", is_ephemeral=True)
    fake_slack.wait_for("response_url", before + 1)
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == CLIENT_CHANNEL]
    return posts[-1].params


# Capture ---------------------------------------------------------------------------------------


def test_capture_by_modal_stores_logs_and_replies_with_buttons(slack, fake_slack, people, session, project):
    resp = slack.command("/req", "", user=people.dev)
    assert resp.status_code == 200
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ids.REQ_MODAL
    block_ids = [b.get("block_id") for b in view["blocks"]]
    assert [b for b in block_ids if b and b.startswith("req_")] == [
        ids.REQ_BLOCK_TITLE, ids.REQ_BLOCK_DESCRIPTION, ids.REQ_BLOCK_PRIORITY, ids.REQ_BLOCK_ACCEPTANCE]
    assert "project" not in block_ids  # run in the project's channel: no picker
    prio = next(b for b in view["blocks"] if b.get("block_id") == ids.REQ_BLOCK_PRIORITY)
    assert [o["value"] for o in prio["element"]["options"]] == ["must", "should", "could", "wont"]

    resp = slack.submit(ids.REQ_MODAL, values(description="Most customers pay by phone.",
                                              acceptance="- Alipay at checkout\n- Paid within 10 s"),
                        user=people.dev, private_metadata=view["private_metadata"])
    assert resp.status_code == 200
    assert not resp.content or "errors" not in resp.json()
    told = fake_slack.wait_for("chat.postEphemeral")[0].params
    [req] = reqs(session)
    assert (req.title, req.priority, req.status, req.raised_by, req.raised_by_client) == (
        "Customers can pay with Alipay", "must", "proposed", "U0DEV", False)
    assert req.acceptance_criteria == "- Alipay at checkout\n- Paid within 10 s"
    [created] = log_of(session, req.id)
    assert created.action == "created" and created.actor_user_id == "U0DEV"
    assert created.after["title"] == "Customers can pay with Alipay" and created.after["status"] == "proposed"
    assert told["user"] == "U0DEV" and told["channel"] == CLIENT_CHANNEL
    assert f"REQ-{req.id}" in told["text"]
    assert buttons(told["blocks"]) == [ids.REQ_EDIT, ids.REQ_SEND, ids.REQ_DEFER, ids.REQ_DROP]


def test_modal_input_errors_are_inline_and_nothing_is_stored(slack, people, session, project):
    meta = json.dumps({"project_id": project.id, "origin_channel": CLIENT_CHANNEL})
    for bad, block in [
        (values(title="   "), ids.REQ_BLOCK_TITLE),
        (values(title=None), ids.REQ_BLOCK_TITLE),
        (values(title="x" * 201), ids.REQ_BLOCK_TITLE),
        (values(description="d" * 3001), ids.REQ_BLOCK_DESCRIPTION),
        (values(acceptance="a" * 3001), ids.REQ_BLOCK_ACCEPTANCE),
        (values(priority="urgent"), ids.REQ_BLOCK_PRIORITY),
    ]:
        body = slack.submit(ids.REQ_MODAL, bad, user=people.dev, private_metadata=meta).json()
        assert body["response_action"] == "errors", block
        assert list(body["errors"]) == [block]
    assert "200" in slack.submit(ids.REQ_MODAL, values(title="x" * 201), user=people.dev,
                                 private_metadata=meta).json()["errors"][ids.REQ_BLOCK_TITLE]
    assert reqs(session) == []
    # the limits themselves are accepted
    resp = slack.submit(ids.REQ_MODAL, values(title="t" * 200, description="d" * 3000, acceptance="a" * 3000),
                        user=people.dev, private_metadata=meta)
    assert not resp.content or "errors" not in resp.json()
    assert len(reqs(session)) == 1


def test_quick_capture_stores_at_once_and_replies_with_the_item(slack, fake_slack, people, session, project):
    # Slack sends the text HTML-encoded, with mentions as entities (should_escape: true)
    resp = slack.command("/req", "Pay &amp; ship &lt;!channel&gt; for <@U0CLIENT|chris>, 支付宝", user=people.dev)
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    [req] = reqs(session)
    assert req.title == "Pay & ship <!channel> for @chris, 支付宝"
    assert req.priority == "should" and req.status == "proposed"
    mrkdwn = json.dumps([b for b in body["blocks"] if b["type"] != "actions"], ensure_ascii=False)
    assert "Pay &amp; ship &lt;!channel&gt; for @chris, 支付宝" in mrkdwn and "<!channel>" not in mrkdwn
    assert buttons(body["blocks"]) == [ids.REQ_EDIT, ids.REQ_SEND, ids.REQ_DEFER, ids.REQ_DROP]
    assert [e.action for e in log_of(session, req.id)] == ["created"]


def test_quick_capture_title_too_long_is_refused_and_nothing_stored(slack, people, session, project):
    body = slack.command("/req", "word " * 60, user=people.dev).json()
    assert body["response_type"] == "ephemeral"
    assert "299" in body["text"] and "200" in body["text"] and "Nothing was saved" in body["text"]
    assert reqs(session) == []


def test_client_captures_through_the_intake_button(slack, fake_slack, people, session, project):
    slack.action(ids.INTAKE_NEW_REQUIREMENT, str(project.id), user=people.client, channel_id=CLIENT_CHANNEL)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ids.REQ_MODAL
    slack.submit(ids.REQ_MODAL, values("Wishlist shared with friends", priority="could"), user=people.client,
                 private_metadata=view["private_metadata"])
    thanks = fake_slack.wait_for("chat.postEphemeral")[0].params
    [req] = reqs(session)
    assert req.raised_by == people.client.id and req.raised_by_client is True
    assert thanks["user"] == people.client.id and thanks["channel"] == CLIENT_CHANNEL
    assert "Thank you" in thanks["text"]
    assert "blocks" not in thanks or buttons(thanks["blocks"]) == []  # not a decider of an unsent item
    # the team hears of it in the internal channel
    notice = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == INTERNAL_CHANNEL]
    assert notice and "raised a new requirement" in notice[0]["text"] and "<@U0CLIENT>" in notice[0]["text"]

    # a guest of our workspace is a client too
    slack.action(ids.INTAKE_NEW_REQUIREMENT, str(project.id), user=people.guest, channel_id=CLIENT_CHANNEL)
    view = fake_slack.wait_for("views.open", 2)[1].params["view"]
    slack.submit(ids.REQ_MODAL, values("Invoice as PDF"), user=people.guest,
                 private_metadata=view["private_metadata"])
    fake_slack.wait_for("chat.postEphemeral", 2)
    assert reqs(session)[1].raised_by_client is True


def test_intake_button_of_another_channel_or_project_is_refused(slack, fake_slack, people, project):
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    slack.action(ids.INTAKE_NEW_REQUIREMENT, str(project.id), user=people.client, channel_id=OTHER_CHANNEL)
    slack.action(ids.INTAKE_NEW_REQUIREMENT, "999", user=people.client, channel_id=CLIENT_CHANNEL)
    slack.action(ids.INTAKE_NEW_REQUIREMENT, "1; drop table", user=people.client, channel_id=CLIENT_CHANNEL)
    replies = fake_slack.wait_for("response_url", 3)
    # an answer to the client alone: in their own Slack language (zh-CN)
    assert all("该条目已不存在" in r.params["text"] for r in replies)
    assert fake_slack.calls_to("views.open") == []


def test_modal_outside_a_project_channel_has_a_project_picker(slack, fake_slack, people, session, project):
    slack.command("/req", "", user=people.dev, channel_id=OTHER_CHANNEL)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    picker = next(b for b in view["blocks"] if b.get("block_id") == "project")
    assert [o["value"] for o in picker["element"]["options"]] == [str(project.id)]
    body = slack.submit(ids.REQ_MODAL, values(), user=people.dev,
                        private_metadata=view["private_metadata"]).json()
    assert body["response_action"] == "errors" and "project" in body["errors"]
    slack.submit(ids.REQ_MODAL, values(project=project.id), user=people.dev,
                 private_metadata=view["private_metadata"])
    fake_slack.wait_for("chat.postEphemeral")
    assert [r.project_id for r in reqs(session)] == [project.id]
    # quick capture outside: the modal again, prefilled
    slack.command("/req", "Export orders to Excel", user=people.dev, channel_id=OTHER_CHANNEL)
    view = fake_slack.wait_for("views.open", 2)[1].params["view"]
    title = next(b for b in view["blocks"] if b.get("block_id") == ids.REQ_BLOCK_TITLE)
    assert title["element"]["initial_value"] == "Export orders to Excel"


def test_no_projects_closed_project_help_and_unknown_subcommand(slack, fake_slack, people, session, make_project,
                                                                 engine, clock):
    slack.command("/req", "", user=people.dev, channel_id=OTHER_CHANNEL)
    assert "/project setup" in fake_slack.wait_for("response_url")[0].params["text"]
    assert "/req list" in slack.command("/req", "help", user=people.dev).json()["text"]
    out = slack.command("/req", "lsit", user=people.dev, channel_id=OTHER_CHANNEL).json()["text"]
    assert "`/req lsit`" in out and "/req export" in out
    assert "/project setup" in slack.command("/req", "list", user=people.dev, channel_id=OTHER_CHANNEL).json()["text"]
    project = make_project()
    with session_scope(engine) as s:
        projects.close(s, clock, project=s.get(type(project), project.id), actor="U0PM")
    assert "closed" in slack.command("/req", "Something new", user=people.dev).json()["text"]
    assert reqs(session) == []


# Confirmation with the client --------------------------------------------------------------


def test_send_for_confirmation_posts_to_the_client_channel_and_records_the_message(
        slack, fake_slack, people, session, add_req):
    req = add_req("Checkout <!channel> & pay")
    post = send_for_confirmation(slack, fake_slack, people, req.id)
    assert buttons(post["blocks"]) == [ids.REQ_CONFIRM, ids.REQ_REQUEST_CHANGES]
    text = json.dumps(post["blocks"])
    assert "Checkout &lt;!channel&gt; &amp; pay" in text and "<!channel>" not in text
    assert "<@U0CLIENT>" in text  # the approvers are asked by name
    stored = reqs(session)[0]
    assert stored.status == "proposed" and stored.sent_for_confirmation_at is not None
    ts = fake_slack.messages(CLIENT_CHANNEL)[-1]["ts"]
    assert (stored.confirmation_channel_id, stored.confirmation_ts) == (CLIENT_CHANNEL, ts)
    assert "sent to <#C0CLIENT>" in fake_slack.calls_to("response_url")[-1].params["text"]
    assert [e.action for e in log_of(session, req.id)] == ["created", "sent_for_confirmation"]
    # a second click does not post again
    slack.action(ids.REQ_SEND, str(req.id), user=people.pm, channel_id=INTERNAL_CHANNEL,
                 block_id=f"req_item:{req.id}:item", is_ephemeral=True)
    refusal = fake_slack.wait_for("response_url", 2)[-1].params
    assert "already been sent" in refusal["text"] and refusal["replace_original"] is False
    assert len([m for m in fake_slack.messages(CLIENT_CHANNEL)]) == 1


def test_client_confirms_message_updated_in_place_and_replay_recorded_once(
        slack, fake_slack, people, session, add_req):
    req = add_req()
    post = send_for_confirmation(slack, fake_slack, people, req.id)
    ts = reqs(session)[0].confirmation_ts
    replies = len(fake_slack.calls_to("response_url"))
    for _ in range(2):  # a double click (or Slack's retry) sends the same action twice
        slack.action(ids.REQ_CONFIRM, value_of(post["blocks"]), user=people.client, channel_id=CLIENT_CHANNEL,
                     message_ts=ts,
                     block_id=f"req_item:{req.id}:confirm")
    answers = fake_slack.wait_for("response_url", replies + 2)[replies:]
    stored = reqs(session)[0]
    assert stored.status == "confirmed" and stored.decided_by == "U0CLIENT" and stored.decided_on_behalf is False
    decisions = [e for e in log_of(session, req.id) if e.action == "confirmed"]
    assert len(decisions) == 1 and decisions[0].before == {"status": "proposed"}
    assert decisions[0].after["status"] == "confirmed"
    texts = sorted(a.params["text"] for a in answers)
    assert any("Thank you" in x for x in texts) and any("already decided" in x for x in texts)
    [update] = fake_slack.calls_to("chat.update")
    assert update.params["ts"] == ts and update.params["channel"] == CLIENT_CHANNEL
    shown = fake_slack.message(CLIENT_CHANNEL, ts)
    assert buttons(shown["blocks"]) == []
    # who and when, in the project's time zone (Asia/Shanghai: 10:00 UTC is 18:00)
    assert "Confirmed by <@U0CLIENT> on 2026-11-18 18:00 (Asia/Shanghai)" in json.dumps(shown["blocks"])
    assert "on behalf" not in json.dumps(shown["blocks"])


def test_a_change_landing_while_an_update_is_on_its_way_is_what_slack_shows_last(
        slack, fake_slack, people, session, add_req):
    """The client confirms; Slack is slow with that update. Meanwhile the team marks the
    requirement done, and that update lands first. The slow one lands after it, showing
    "Confirmed": the sender sees the record moved on and updates the message once more."""
    import time

    req = add_req()
    post = send_for_confirmation(slack, fake_slack, people, req.id)
    ts = reqs(session)[0].confirmation_ts
    fake_slack.delay("chat.update", 1.5, times=1)
    slack.action(ids.REQ_CONFIRM, value_of(post["blocks"]), user=people.client, channel_id=CLIENT_CHANNEL,
                 message_ts=ts, block_id=f"req_item:{req.id}:confirm", settle=False)
    deadline = time.monotonic() + 5
    while reqs(session)[0].status != "confirmed":
        assert time.monotonic() < deadline, "the confirmation was not stored"
        time.sleep(0.02)
    slack.action(ids.REQ_DONE, str(req.id), user=people.dev, channel_id=INTERNAL_CHANNEL,
                 block_id=f"req_item:{req.id}:item")
    fake_slack.wait_for("chat.update", 3, timeout=10)  # done, the slow confirmed one, then the redraw
    assert reqs(session)[0].status == "done"
    updates = [c for c in fake_slack.calls_to("chat.update") if c.params["ts"] == ts]
    assert len(updates) == 3
    fast, slow, last = (c.params["text"] for c in updates)
    assert "Done" in fast and "Done" not in slow  # recorded as they land; the slow one drawn before the change
    assert "Done" in last and fake_slack.message(CLIENT_CHANNEL, ts)["text"] == last


def test_the_client_hears_of_a_confirmation_before_slack_has_taken_its_message_update(
        slack, fake_slack, people, session, engine, add_req):
    """The note to the client who confirmed says what was recorded, so it goes first: it no
    longer waits for the update of the confirmation message and the team's notice, two Web API
    round trips (Slack slow here: a second each). Both follow, from the same claimed rows, sent
    from the process's pool of senders, not from the thread that served the click."""
    import time

    req = add_req()
    post = send_for_confirmation(slack, fake_slack, people, req.id)
    ts = reqs(session)[0].confirmation_ts
    notes = len(fake_slack.calls_to("response_url"))
    fake_slack.delay("chat.update", 1.0)
    fake_slack.delay("chat.postMessage", 1.0)
    clicked = time.time()
    slack.action(ids.REQ_CONFIRM, value_of(post["blocks"]), user=people.client, channel_id=CLIENT_CHANNEL,
                 message_ts=ts, block_id=f"req_item:{req.id}:confirm", settle=False)
    note = fake_slack.wait_for("response_url", notes + 1)[notes]
    assert "confirmed" in note.params["text"].lower() and reqs(session)[0].status == "confirmed"
    assert note.at - clicked < 0.9, f"the note waited {note.at - clicked:.1f} s for Slack's other calls"
    # …and the thread that served the click is free for the next request: the update and the
    # notice are sent by the process's few senders (bot/flows/after_answer.py) meanwhile
    slack.listeners.wait_idle(timeout=0.5)
    assert [c for c in fake_slack.calls_to("chat.update") if c.params["ts"] == ts] == []  # still under way
    slack.settle()
    [update] = [c for c in fake_slack.calls_to("chat.update") if c.params["ts"] == ts]
    assert buttons(update.params["blocks"]) == [] and "Confirmed" in update.params["text"]
    notice = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == INTERNAL_CHANNEL][-1]
    assert "confirmed" in notice.params["text"].lower()
    with session_scope(engine) as s:  # everything the confirmation owed was sent and recorded
        assert set(s.exec(select(Outbox.status))) == {"sent"}


@pytest.mark.parametrize("who", ["outsider", "dev", "guest"])
def test_non_approver_is_refused_and_nothing_changes(slack, fake_slack, people, session, add_req, who):
    req = add_req()
    send_for_confirmation(slack, fake_slack, people, req.id)
    replies = len(fake_slack.calls_to("response_url"))
    user = getattr(people, who)
    slack.action(ids.REQ_CONFIRM, str(req.id), user=user, block_id=f"req_item:{req.id}:confirm")
    slack.action(ids.REQ_REQUEST_CHANGES, str(req.id), user=user, block_id=f"req_item:{req.id}:confirm")
    answers = fake_slack.wait_for("response_url", replies + 2)[replies:]
    assert all("Only the client approvers" in a.params["text"] for a in answers)
    assert all(a.params["replace_original"] is False for a in answers)
    assert reqs(session)[0].status == "proposed"
    assert fake_slack.calls_to("chat.update") == [] and fake_slack.calls_to("views.open") == []
    assert [e.action for e in log_of(session, req.id)] == ["created", "sent_for_confirmation"]


def test_pm_confirms_on_behalf_of_the_client(slack, fake_slack, people, session, add_req):
    req = add_req()
    post = send_for_confirmation(slack, fake_slack, people, req.id)
    slack.action(ids.REQ_CONFIRM, value_of(post["blocks"]), user=people.pm, block_id=f"req_item:{req.id}:confirm")
    fake_slack.wait_for("response_url", 2)
    stored = reqs(session)[0]
    assert stored.status == "confirmed" and stored.decided_by == "U0PM" and stored.decided_on_behalf is True
    [entry] = [e for e in log_of(session, req.id) if e.action == "confirmed"]
    assert entry.on_behalf_of_client is True and entry.actor_user_id == "U0PM"
    shown = json.dumps(fake_slack.message(CLIENT_CHANNEL, stored.confirmation_ts)["blocks"])
    assert "<@U0PM> on behalf of the client" in shown
    assert "on behalf of the client" in fake_slack.calls_to("response_url")[-1].params["text"]


def test_request_changes_with_a_comment_then_edit_and_send_again(slack, fake_slack, people, session, add_req):
    req = add_req(acceptance="Works")
    post = send_for_confirmation(slack, fake_slack, people, req.id)
    first_ts = reqs(session)[0].confirmation_ts
    slack.action(ids.REQ_REQUEST_CHANGES, value_of(post["blocks"], ids.REQ_REQUEST_CHANGES), user=people.client,
                 message_ts=first_ts,
                 block_id=f"req_item:{req.id}:confirm")
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ids.REQ_CHANGES_MODAL
    blank = slack.submit(ids.REQ_CHANGES_MODAL, {ids.REQ_BLOCK_COMMENT: {V: p.plain_text("  ")}},
                         user=people.client, private_metadata=view["private_metadata"]).json()
    assert blank["response_action"] == "errors" and ids.REQ_BLOCK_COMMENT in blank["errors"]
    assert reqs(session)[0].status == "proposed"
    comment = 'Also WeChat Pay, please — and keep "guest" <b>checkout</b>'
    resp = slack.submit(ids.REQ_CHANGES_MODAL, {ids.REQ_BLOCK_COMMENT: {V: p.plain_text(comment)}},
                        user=people.client, private_metadata=view["private_metadata"])
    assert not resp.content or "errors" not in resp.json()
    thanks = fake_slack.wait_for("chat.postEphemeral")[-1].params
    assert thanks["user"] == "U0CLIENT" and "Thank you" in thanks["text"]
    stored = reqs(session)[0]
    assert (stored.status, stored.change_comment, stored.decided_by) == ("changes_requested", comment, "U0CLIENT")
    [entry] = [e for e in log_of(session, req.id) if e.action == "changes_requested"]
    assert entry.after["change_comment"] == comment and entry.before == {"status": "proposed"}
    shown = json.dumps(fake_slack.message(CLIENT_CHANNEL, first_ts)["blocks"])
    assert "Changes requested by <@U0CLIENT>" in shown and "&lt;b&gt;checkout&lt;/b&gt;" in shown
    assert buttons(fake_slack.message(CLIENT_CHANNEL, first_ts)["blocks"]) == []

    # the team edits it and sends it again: a new request, proposed again
    slack.action(ids.REQ_EDIT, str(req.id), user=people.dev, channel_id=INTERNAL_CHANNEL,
                 block_id=f"req_item:{req.id}:item")
    edit_view = fake_slack.wait_for("views.open", 2)[1].params["view"]
    title_block = next(b for b in edit_view["blocks"] if b.get("block_id") == ids.REQ_BLOCK_TITLE)
    assert title_block["element"]["initial_value"] == "Guest checkout"
    slack.submit(ids.REQ_MODAL, values("Guest checkout", priority="should", acceptance="Works\nWeChat Pay too"),
                 user=people.dev, private_metadata=edit_view["private_metadata"])
    fake_slack.wait_for("chat.postEphemeral", 2)
    [edited] = [e for e in log_of(session, req.id) if e.action == "edited"]
    assert edited.before == {"acceptance_criteria": "Works"}
    assert edited.after == {"acceptance_criteria": "Works\nWeChat Pay too"}
    send_for_confirmation(slack, fake_slack, people, req.id)
    stored = reqs(session)[0]
    assert stored.status == "proposed" and stored.change_comment is None
    assert stored.confirmation_ts != first_ts
    assert len(fake_slack.messages(CLIENT_CHANNEL)) == 2


def test_impossible_transitions_are_refused_with_a_clear_message(slack, fake_slack, people, session, add_req):
    dropped = add_req("Old idea", status="dropped")
    slack.action(ids.REQ_CONFIRM, str(dropped.id), user=people.client, block_id=f"req_item:{dropped.id}:confirm")
    assert "was dropped" in fake_slack.wait_for("response_url")[0].params["text"]
    proposed = add_req("Fresh")
    slack.action(ids.REQ_DONE, str(proposed.id), user=people.dev, channel_id=INTERNAL_CHANNEL,
                 block_id=f"req_item:{proposed.id}:item")
    assert "waiting for the client" in fake_slack.wait_for("response_url", 2)[1].params["text"]
    confirmed = add_req("Agreed", status="confirmed")
    slack.action(ids.REQ_EDIT, str(confirmed.id), user=people.dev, channel_id=INTERNAL_CHANNEL,
                 block_id=f"req_item:{confirmed.id}:item")
    text = fake_slack.wait_for("response_url", 3)[2].params["text"]
    assert "already confirmed" in text and "change request" in text
    assert [r.status for r in reqs(session)] == ["dropped", "proposed", "confirmed"]
    assert fake_slack.calls_to("views.open") == []


def test_buttons_on_unknown_or_foreign_requirements_are_refused(slack, fake_slack, people, session, make_project,
                                                                add_req, engine, clock):
    other = make_project("Other shop", client_channel_id=OTHER_CHANNEL, internal_channel_id=None)
    with session_scope(engine) as s:
        foreign = requirements.create(s, clock, project=s.get(type(other), other.id), actor="U0DEV",
                                      raised_by_client=False, data=requirements.RequirementInput(title="Theirs"))
    slack.action(ids.REQ_DEFER, str(foreign.id), user=people.dev, channel_id=CLIENT_CHANNEL)
    slack.action(ids.REQ_CONFIRM, "424242", user=people.pm, channel_id=CLIENT_CHANNEL)
    slack.action(ids.REQ_DROP, "-1", user=people.dev, channel_id=CLIENT_CHANNEL)
    answers = fake_slack.wait_for("response_url", 3)
    assert all("no longer exists" in a.params["text"] for a in answers)
    assert reqs(session)[0].status == "proposed"


# Team actions --------------------------------------------------------------------------------


def test_defer_drop_done_are_logged_and_team_only(slack, fake_slack, people, session, add_req):
    a, b, c = add_req("A"), add_req("B", status="confirmed"), add_req("C", status="confirmed")
    slack.action(ids.REQ_DEFER, str(a.id), user=people.guest, block_id=f"req_item:{a.id}:item")
    assert "Only members of the team" in fake_slack.wait_for("response_url")[0].params["text"]
    for action, req in [(ids.REQ_DEFER, a), (ids.REQ_DROP, b), (ids.REQ_DONE, c)]:
        n = len(fake_slack.calls_to("response_url"))
        slack.action(action, str(req.id), user=people.dev, channel_id=INTERNAL_CHANNEL,
                     block_id=f"req_item:{req.id}:item", is_ephemeral=True)
        reply = fake_slack.wait_for("response_url", n + 1)[-1].params
        assert reply["replace_original"] is True and f"REQ-{req.id}" in reply["text"]
    assert [r.status for r in reqs(session)] == ["deferred", "dropped", "done"]
    for req, action, before in [(a, "deferred", "proposed"), (b, "dropped", "confirmed"), (c, "done", "confirmed")]:
        entry = log_of(session, req.id)[-1]
        assert (entry.action, entry.before, entry.after, entry.actor_user_id) == (
            action, {"status": before}, {"status": action}, "U0DEV")


def test_taking_back_a_request_updates_the_client_message(slack, fake_slack, people, session, add_req):
    req = add_req()
    send_for_confirmation(slack, fake_slack, people, req.id)
    ts = reqs(session)[0].confirmation_ts
    before = len(fake_slack.calls)
    slack.action(ids.REQ_DEFER, str(req.id), user=people.pm, channel_id=INTERNAL_CHANNEL,
                 block_id=f"req_item:{req.id}:item")
    fake_slack.wait_for("response_url", 2)
    after = [c.method for c in fake_slack.calls[before:]]
    assert after.index("response_url") < after.index("chat.update")  # the PM's answer first
    shown = fake_slack.message(CLIENT_CHANNEL, ts)
    assert buttons(shown["blocks"]) == [] and "Deferred" in json.dumps(shown["blocks"])


# /req list -----------------------------------------------------------------------------------


def listed(blocks: list[dict]) -> list[str]:
    return re.findall(r"REQ-\d+ · Requirement (\d\d)", json.dumps(blocks, ensure_ascii=False))


def test_list_is_paginated_newest_first_with_the_viewers_buttons(slack, fake_slack, people, session, add_req, clock):
    for i in range(1, 24):
        add_req(f"Requirement {i:02d}")
        clock.advance(minutes=1)
    body = slack.command("/req", "list", user=people.dev).json()
    assert body["response_type"] == "ephemeral"
    titles = listed(body["blocks"])
    assert titles == [f"{i:02d}" for i in range(23, 13, -1)]
    assert len(body["blocks"]) <= 50
    pager = body["blocks"][-1]
    assert [e["action_id"] for e in pager["elements"]] == [f"{ids.REQ_LIST_PAGE}:next"]
    nxt = pager["elements"][0]["value"]
    slack.action(f"{ids.REQ_LIST_PAGE}:next", nxt, user=people.dev, is_ephemeral=True)
    page2 = fake_slack.wait_for("response_url")[0].params
    assert page2["replace_original"] is True
    assert listed(page2["blocks"]) == [f"{i:02d}" for i in range(13, 3, -1)]
    nxt = page2["blocks"][-1]["elements"][-1]["value"]
    slack.action(f"{ids.REQ_LIST_PAGE}:next", nxt, user=people.dev, is_ephemeral=True)
    page3 = fake_slack.wait_for("response_url", 2)[1].params
    assert listed(page3["blocks"]) == ["03", "02", "01"]
    assert [e["action_id"] for e in page3["blocks"][-1]["elements"]] == [f"{ids.REQ_LIST_PAGE}:prev"]
    assert "Page 3 of 3" in json.dumps(page3["blocks"])


def test_list_buttons_depend_on_who_looks_and_filter_works(slack, fake_slack, people, session, add_req):
    waiting = add_req("Waiting")
    add_req("Agreed", status="confirmed")
    send_for_confirmation(slack, fake_slack, people, waiting.id)

    def by_title(blocks):
        out, current = {}, None
        for b in blocks:
            m = re.search(r"REQ-\d+ · (\w+)", json.dumps(b, ensure_ascii=False)) if b.get("type") == "section" else None
            if m:
                current = m.group(1)
                out[current] = []
            if b.get("type") == "actions" and current:
                out[current] = [e["action_id"] for e in b["elements"]]
        return out

    dev = by_title(slack.command("/req", "list", user=people.dev).json()["blocks"])
    assert dev == {"Agreed": [ids.REQ_DONE, ids.REQ_DEFER, ids.REQ_DROP],
                   "Waiting": [ids.REQ_EDIT, ids.REQ_DEFER, ids.REQ_DROP]}
    client = by_title(slack.command("/req", "list", user=people.client).json()["blocks"])
    assert client == {"Agreed": [], "Waiting": [ids.REQ_CONFIRM, ids.REQ_REQUEST_CHANGES]}
    guest = by_title(slack.command("/req", "list", user=people.guest).json()["blocks"])
    assert guest == {"Agreed": [], "Waiting": []}
    pm = by_title(slack.command("/req", "list", user=people.pm).json()["blocks"])
    assert pm["Waiting"][:2] == [ids.REQ_CONFIRM, ids.REQ_REQUEST_CHANGES]

    confirmed = slack.command("/req", "list confirmed", user=people.dev).json()
    assert list(by_title(confirmed["blocks"])) == ["Agreed"]
    assert "I don't know the status" in slack.command("/req", "list later", user=people.dev).json()["text"]

    # acting from the list redraws the list in place
    block_id = actions_block_id(confirmed["blocks"], reqs(session)[1].id)
    slack.action(ids.REQ_DONE, str(reqs(session)[1].id), user=people.dev, block_id=block_id, is_ephemeral=True)
    redrawn = fake_slack.wait_for("response_url", 2)[-1].params
    assert redrawn["replace_original"] is True and "marked done" in json.dumps(redrawn["blocks"])
    assert reqs(session)[1].status == "done"


def test_client_confirms_from_the_list(slack, fake_slack, people, session, add_req):
    req = add_req()
    send_for_confirmation(slack, fake_slack, people, req.id)
    listing = slack.command("/req", "list", user=people.client).json()
    slack.action(ids.REQ_CONFIRM, value_of(listing["blocks"]), user=people.client,
                 block_id=actions_block_id(listing["blocks"], req.id), is_ephemeral=True)
    redrawn = fake_slack.wait_for("response_url", 2)[-1].params
    assert redrawn["replace_original"] is True
    assert reqs(session)[0].status == "confirmed"
    # the public request in the client channel is updated too
    shown = fake_slack.message(CLIENT_CHANNEL, reqs(session)[0].confirmation_ts)
    assert buttons(shown["blocks"]) == []


# /req export ---------------------------------------------------------------------------------


def test_export_uploads_markdown_and_csv_to_the_users_dm(slack, fake_slack, people, session, add_req):
    tricky = [
        ("Pay, then ship", "must", 'He said "fast", twice', "- One\n- Two, three"),
        ("支付宝付款", "must", "第一行\n第二行", "付款成功后 10 秒内确认"),
        ("Report *bold* <b>html</b>", "could", "## Won't\n```\nnot code", ""),
        ("Native app", "wont", "", ""),
        ("Guest checkout", "should", "Line 1\r\nLine 2", "Works"),
    ]
    for title, priority, description, acceptance in tricky:
        add_req(title, priority=priority, description=description, acceptance=acceptance)
    post = send_for_confirmation(slack, fake_slack, people, reqs(session)[0].id)
    slack.action(ids.REQ_CONFIRM, value_of(post["blocks"]), user=people.client,
                 block_id=f"req_item:{reqs(session)[0].id}:confirm")
    fake_slack.wait_for("response_url", 2)

    body = slack.command("/req", "export", user=people.dev).json()
    assert body["response_type"] == "ephemeral"
    fake_slack.wait_for("response_url", 3)
    assert "direct message" in fake_slack.calls_to("response_url")[-1].params["text"]
    [done] = fake_slack.calls_to("files.completeUploadExternal")
    assert done.params["channel_id"] == "DU0DEV"
    files = dict(fake_slack.uploaded_files())
    md_name = next(n for n in files if n.endswith(".md"))
    csv_name = next(n for n in files if n.endswith(".csv"))
    assert md_name.startswith("requirements-acme-web-shop-2026-11-18")
    md, rows = files[md_name].decode("utf-8"), list(csv.reader(io.StringIO(files[csv_name].decode("utf-8"))))

    # Markdown: grouped Must, Should, Could, Won't, every requirement in its group
    groups = re.findall(r"^## (.+) \((\d+)\)$", md, flags=re.M)
    assert groups == [("Must have", "2"), ("Should have", "1"), ("Could have", "1"), ("Won't have this time", "1")]
    stored = reqs(session)
    for req in stored:
        assert f"### REQ-{req.id} · " in md
    assert "### REQ-1 · Pay, then ship" in md and "### REQ-2 · 支付宝付款" in md
    assert r"Report \*bold\* \<b\>html\</b\>" in md
    assert "\n\\## Won't\n" in md and "\n\\```\n" in md  # user text cannot break the structure
    assert "- One\n- Two, three" in md  # the user's list stays a list
    assert "**Confirmed by:** chris.client, 2026-11-18 18:00" in md
    must = md.split("## Should have")[0]
    assert "REQ-1" in must and "REQ-2" in must and "REQ-5" not in must

    # CSV: one row per requirement, read back as stored (formula-like cells behind an apostrophe)
    header, *data = rows
    assert header[:4] == ["ref", "title", "priority", "status"]
    col = {name: i for i, name in enumerate(header)}
    assert len(data) == len(stored)
    by_ref = {row[col["ref"]]: row for row in data}
    for req in stored:
        row = by_ref[f"REQ-{req.id}"]
        assert row[col["title"]] == req.title
        assert row[col["description"]] == req.description
        assert row[col["acceptance_criteria"]] == csv_cells.cell(req.acceptance_criteria)
        assert row[col["priority"]] == req.priority and row[col["status"]] == req.status
    first = by_ref["REQ-1"]
    assert first[col["decided_by"]] == "U0CLIENT" and first[col["decided_by_name"]] == "chris.client"
    assert first[col["decided_at"]] == "2026-11-18T18:00:00+08:00"


def test_export_failure_is_reported(slack, fake_slack, people, add_req):
    add_req()
    fake_slack.fail("files.getUploadURLExternal", error="not_allowed_token_type")
    slack.command("/req", "export", user=people.dev)
    text = fake_slack.wait_for("response_url")[0].params["text"]
    assert "could not send" in text and "not_allowed_token_type" in text



def test_editing_while_awaiting_the_client_refreshes_the_request_in_place(slack, fake_slack, people, session,
                                                                          add_req):
    req = add_req("Guest checkout")
    send_for_confirmation(slack, fake_slack, people, req.id)
    ts = reqs(session)[0].confirmation_ts
    meta = json.dumps({"project_id": req.project_id, "req_id": req.id, "origin_channel": INTERNAL_CHANNEL})
    slack.submit(ids.REQ_MODAL, values("Guest checkout, no sign-up"), user=people.dev, private_metadata=meta)
    fake_slack.wait_for("chat.postEphemeral")
    [update] = fake_slack.wait_for("chat.update")
    assert update.params["ts"] == ts
    shown = fake_slack.message(CLIENT_CHANNEL, ts)
    assert "Guest checkout, no sign-up" in json.dumps(shown["blocks"])
    assert buttons(shown["blocks"]) == [ids.REQ_CONFIRM, ids.REQ_REQUEST_CHANGES]
    # the client cannot edit (a forged submission is refused inline)
    body = slack.submit(ids.REQ_MODAL, values("Hijacked"), user=people.client, private_metadata=meta).json()
    assert body["response_action"] == "errors"
    assert reqs(session)[0].title == "Guest checkout, no sign-up"


def test_a_failed_post_is_retried_and_its_message_recorded(slack, fake_slack, people, session, add_req, deps, clock):
    from bot.flows.delivery import deliver_due

    req = add_req()
    fake_slack.fail("chat.postMessage", error="service_unavailable")
    slack.action(ids.REQ_SEND, str(req.id), user=people.pm, channel_id=INTERNAL_CHANNEL,
                 block_id=f"req_item:{req.id}:item")
    reply = fake_slack.wait_for("response_url")[0].params["text"]
    assert "could not post" in reply
    assert reqs(session)[0].status == "proposed" and reqs(session)[0].confirmation_ts is None
    # meanwhile the PM confirms on the client's behalf from the list
    slack.action(ids.REQ_CONFIRM, ids.decision_value(req.id, reqs(session)[0].version), user=people.pm,
                 channel_id=INTERNAL_CHANNEL, block_id=f"req_item:{req.id}:list::1", is_ephemeral=True)
    fake_slack.wait_for("response_url", 2)
    assert reqs(session)[0].status == "confirmed"
    clock.advance(minutes=10)
    assert deliver_due(deps) == 1
    stored = reqs(session)[0]
    [message] = fake_slack.messages(CLIENT_CHANNEL)
    assert stored.confirmation_ts == message["ts"]
    # the late post is drawn from the record when it goes out: decided, without live buttons
    assert deliver_due(deps) == 0 and fake_slack.calls_to("chat.update") == []
    shown = fake_slack.message(CLIENT_CHANNEL, message["ts"])
    assert buttons(shown["blocks"]) == [] and "on behalf of the client" in json.dumps(shown["blocks"])


def test_intake_message_of_a_new_project_carries_the_new_requirement_button(slack, fake_slack, people):
    from tests.e2e.helpers import submit_project

    submit_project(slack, people.pm)
    post = fake_slack.wait_for("chat.postMessage")[0].params
    assert ids.INTAKE_NEW_REQUIREMENT in buttons(post["blocks"])


def test_a_chinese_project_asks_and_records_in_chinese(slack, fake_slack, people, session, make_project, engine,
                                                       clock):
    project = make_project(language="zh-CN")
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    with session_scope(engine) as s:
        req = requirements.create(s, clock, project=s.get(type(project), project.id), actor="U0DEV",
                                  raised_by_client=False, data=requirements.RequirementInput(title="支持支付宝"))
    post = send_for_confirmation(slack, fake_slack, people, req.id)
    assert "请确认这条需求" in json.dumps(post["blocks"], ensure_ascii=False)
    assert [e["text"]["text"] for e in post["blocks"][-1]["elements"]] == ["确认", "请求修改"]
    slack.action(ids.REQ_CONFIRM, value_of(post["blocks"]), user=people.client, block_id=f"req_item:{req.id}:confirm")
    thanks = fake_slack.wait_for("response_url", 2)[-1].params["text"]
    assert "谢谢您" in thanks
    shown = json.dumps(fake_slack.message(CLIENT_CHANNEL, reqs(session)[0].confirmation_ts)["blocks"],
                       ensure_ascii=False)
    assert "已由 <@U0CLIENT> 于 2026-11-18 18:00（Asia/Shanghai） 确认" in shown


def test_export_csv_neutralises_formulas_in_titles_and_names(slack, fake_slack, people, session, project):
    """Issue 10, item 7: a client's title such as `=HYPERLINK(…)` must not
    become a live formula in the requirements CSV, as it already could not in the change log."""
    formula = '=HYPERLINK("http://evil.example","click")'
    slack.command("/req", formula, user=people.client)
    slack.command("/req", "-2+3", user=people.dev)
    slack.command("/req", "export", user=people.dev)
    fake_slack.wait_for("files.completeUploadExternal")
    files = dict(fake_slack.uploaded_files())
    rows = list(csv.reader(io.StringIO(files[next(n for n in files if n.endswith(".csv"))].decode("utf-8"))))
    header, *data = rows
    col = {name: i for i, name in enumerate(header)}
    titles = sorted(row[col["title"]] for row in data)
    assert titles == ["'-2+3", "'" + formula]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_each_command_click_and_submission_opens_one_session_scope(slack, fake_slack, people, session, deps,
                                                                    monkeypatch, project):
    """One use case, one unit of work: the project lookup, the checks, the change and the
    messages it owes share one `deps.session()` scope (the sender's own transactions aside)."""
    opened: list[int] = []
    real = deps.session

    def counting():
        opened.append(1)
        return real()

    monkeypatch.setattr(deps, "session", counting)

    def scopes(do) -> int:
        opened.clear()
        do()
        return len(opened)

    reply = {}
    assert scopes(lambda: reply.update(slack.command("/req", "Export to CSV", user=people.dev).json())) == 1
    req_id = int(value_of(reply["blocks"], ids.REQ_SEND))
    block = f"req_item:{req_id}:item"
    assert scopes(lambda: (slack.action(ids.REQ_SEND, str(req_id), user=people.pm, block_id=block),
                           fake_slack.wait_for("response_url"))) == 1
    post = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == CLIENT_CHANNEL][-1]
    assert scopes(lambda: (slack.action(ids.REQ_CONFIRM, value_of(post["blocks"]), user=people.client,
                                        block_id=f"req_item:{req_id}:confirm"),
                           fake_slack.wait_for("response_url", 2))) == 1
    assert scopes(lambda: slack.command("/req", "list", user=people.dev)) == 1
    meta = json.dumps({"project_id": project.id, "origin_channel": CLIENT_CHANNEL})
    assert scopes(lambda: (slack.submit(ids.REQ_MODAL, values("Invoices as PDF"), user=people.dev,
                                        private_metadata=meta), fake_slack.wait_for("chat.postEphemeral"))) == 1
    assert reqs(session)[0].status == "confirmed" and len(reqs(session)) == 2


def test_a_form_resubmitted_after_a_slow_answer_is_stored_once(slack, fake_slack, people, session, project):
    """Issue 11, item 5: a modal saved after 3 s is reported to the user as failed, and resubmitting
    it (the same view, as Slack sends it again) stored a duplicate."""
    slack.command("/req", "", user=people.dev)
    view_id = fake_slack.wait_for("views.open")[0].response["view"]["id"]
    view = slack.last_view()
    form = values("Export to PDF")
    first = slack.submit(ids.REQ_MODAL, form, user=people.dev, view_id=view_id,
                         private_metadata=view["private_metadata"])
    assert first.status_code == 200
    again = slack.submit(ids.REQ_MODAL, form, user=people.dev, view_id=view_id,
                         private_metadata=view["private_metadata"])
    assert again.status_code == 200
    answer = again.json()
    assert answer["response_action"] == "update" and "Already saved" in json.dumps(answer["view"])
    assert [r.title for r in reqs(session)] == ["Export to PDF"]
    # another form (another view) is a new requirement, as before
    slack.submit(ids.REQ_MODAL, values("Export to PDF"), user=people.dev, private_metadata=view["private_metadata"])
    assert [r.title for r in reqs(session)] == ["Export to PDF", "Export to PDF"]
