"""Capture from the conversation end to end: signed message_action payloads and reaction_added
event envelopes in, recorded Slack calls and stored rows out (issue 14)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from bot.blocks import ids
from bot.db import session_scope
from bot.flows import delivery
from bot.models import ActivityLog, ChangeRequest, FeedbackResponse, Outbox, Project, Requirement, Risk
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, OTHER_CHANNEL, TEAM
from tests.fakes import payloads as p

V = ids.VALUE
ASK = ("Could the invoice page also show the VAT number? <@U0PM> said it is easy. "
       "See <https://example.com/spec|the spec> &amp; the <#C0INTERNAL|acme-team> notes.")


@pytest.fixture
def project(make_project):
    return make_project()


def _rows(session, model):
    session.expire_all()
    return list(session.exec(select(model).order_by(model.id)))


def shortcut(slack, callback_id, *, user, channel=CLIENT_CHANNEL, ts=None, text=ASK, author="U0CLIENT",
             author_team="T0EXT", message=None):
    """The shortcut used on a message posted (seeded) in `channel`."""
    fake = slack.fake
    if ts is None and message is None:
        ts = fake.add_message(channel, text, user=author, team=author_team, user_team=author_team)
    elif ts is None:
        ts = fake.add_message(channel, message.get("text", ""), user=message.get("user", "UBOT"),
                              **{k: v for k, v in message.items() if k not in ("text", "user")})
    url = slack._response_url()
    response = slack._post(p.message_shortcut(callback_id, user=user, channel_id=channel, team_id=TEAM,
                                              message_ts=ts, message_text=text, message_user=author,
                                              message_team=author_team, message=message, response_url=url,
                                              trigger_id=f"trigger-{slack._n}"))
    assert response.status_code == 200
    return ts


def opened_view(fake, count=1):
    return fake.wait_for("views.open", count)[count - 1].params["view"]


def submit_shown(slack, view, user, **changes):
    return slack.submit(view["callback_id"], p.as_shown(view, changes), user=user,
                        private_metadata=view["private_metadata"])


def told(fake, count=1) -> str:
    return json.dumps(fake.wait_for("response_url", count)[count - 1].params, ensure_ascii=False)


def receipts(fake, channel, ts):
    return [c.params for c in fake.calls_to("chat.postMessage")
            if c.ok and c.params.get("channel") == channel and c.params.get("thread_ts") == ts]


def react(slack, reaction, *, user, channel=CLIENT_CHANNEL, ts, author="U0CLIENT"):
    """Events are handled after their acknowledgement: the driver waits until that is done."""
    response = slack._post(p.reaction_added(reaction, user=user, channel=channel, ts=ts, item_user=author,
                                            team_id=TEAM))
    assert response.status_code == 200


# Message shortcuts ---------------------------------------------------------------------------


def test_capture_as_requirement_prefills_keeps_the_source_and_answers_in_the_thread(
        slack, fake_slack, people, session, project):
    ts = shortcut(slack, ids.CAPTURE_REQ_SHORTCUT, user=people.pm)
    view = opened_view(fake_slack)
    assert view["callback_id"] == ids.CAPTURE_REQ_MODAL
    fields = {b["block_id"]: b["element"] for b in view["blocks"] if b.get("type") == "input"}
    assert fields[ids.REQ_BLOCK_TITLE]["initial_value"] == "Could the invoice page also show the VAT number?"
    description = fields[ids.REQ_BLOCK_DESCRIPTION]["initial_value"]
    assert description.startswith("Could the invoice page also show the VAT number? @pat.pm said it is easy.")
    assert "the spec & the #acme-team notes" in description and "<" not in description
    meta = json.loads(view["private_metadata"])
    assert meta["source"]["c"] == CLIENT_CHANNEL and meta["source"]["ts"] == ts
    assert meta["source"]["p"].endswith(f"/archives/{CLIENT_CHANNEL}/p{ts.replace('.', '')}")

    assert submit_shown(slack, view, people.pm).status_code == 200
    fake_slack.wait_for("reactions.add")
    [req] = _rows(session, Requirement)
    assert (req.source_channel_id, req.source_ts, req.source_user_id) == (CLIENT_CHANNEL, ts, "U0CLIENT")
    assert req.source_permalink == meta["source"]["p"]
    assert req.raised_by == "U0CLIENT" and req.raised_by_client  # a client's message is raised by the client
    assert req.status == "proposed"
    [receipt] = receipts(fake_slack, CLIENT_CHANNEL, ts)
    assert receipt["text"] == f"Captured as *REQ-{req.id}*: Could the invoice page also show the VAT number?"
    [added] = fake_slack.calls_to("reactions.add")
    assert added.params == {"channel": CLIENT_CHANNEL, "timestamp": ts, "name": "white_check_mark"}
    assert fake_slack.message(CLIENT_CHANNEL, ts)["reactions"][0]["name"] == "white_check_mark"
    confirmation = fake_slack.wait_for("chat.postEphemeral")[-1].params
    assert "from <https://" in json.dumps(confirmation["blocks"]) and "by <@U0CLIENT>" in json.dumps(
        confirmation["blocks"])
    log = [e for e in _rows(session, ActivityLog) if e.entity_type == "requirement" and e.action == "captured"]
    assert log and log[0].after["source"]["ts"] == ts and log[0].actor_user_id == "U0PM"
    assert log[0].before == {"raised_by": "U0PM", "raised_by_client": False}
    assert log[0].after["raised_by"] == "U0CLIENT" and log[0].after["raised_by_client"] is True

    # The list shows where it came from.
    listed = slack.command("/req", "list", user=people.dev).text
    assert "from <https://" in listed and "a message> by <@U0CLIENT>" in listed


def test_capture_in_chinese_project(slack, fake_slack, people, session, make_project):
    make_project(language="zh-CN")
    ts = shortcut(slack, ids.CAPTURE_REQ_SHORTCUT, user=people.dev, text="发票页面能否显示税号？谢谢。",
                  author="U0CLIENT")
    view = opened_view(fake_slack)
    fields = {b["block_id"]: b["element"] for b in view["blocks"] if b.get("type") == "input"}
    assert fields[ids.REQ_BLOCK_TITLE]["initial_value"] == "发票页面能否显示税号？"
    assert "来自 <@U0CLIENT> 的一条消息" in json.dumps(view["blocks"], ensure_ascii=False)
    submit_shown(slack, view, people.dev)
    fake_slack.wait_for("reactions.add")
    [req] = _rows(session, Requirement)
    [receipt] = receipts(fake_slack, CLIENT_CHANNEL, ts)
    assert receipt["text"] == f"已记录为 *REQ-{req.id}*：发票页面能否显示税号？"


def test_capture_elsewhere_says_how_to_set_up_a_project(slack, fake_slack, people, session, project):
    shortcut(slack, ids.CAPTURE_REQ_SHORTCUT, user=people.dev, channel=OTHER_CHANNEL)
    assert "/project setup" in told(fake_slack)
    assert not fake_slack.calls_to("views.open") and not _rows(session, Requirement)


@pytest.mark.parametrize("who", ["client", "outsider", "guest"])
def test_risk_shortcut_is_for_the_team_only(slack, fake_slack, people, session, project, who):
    shortcut(slack, ids.CAPTURE_RISK_SHORTCUT, user=getattr(people, who))
    assert "Only members of the team's workspace" in told(fake_slack)
    assert not fake_slack.calls_to("views.open") and not _rows(session, Risk)


def test_risk_from_the_internal_channel_and_none_in_the_client_thread(slack, fake_slack, people, session, project):
    ts = shortcut(slack, ids.CAPTURE_RISK_SHORTCUT, user=people.dev, channel=INTERNAL_CHANNEL,
                  text="The payment provider may not be certified in time.\nWe should ask them.",
                  author="U0PM", author_team=TEAM)
    view = opened_view(fake_slack)
    assert view["callback_id"] == ids.CAPTURE_RISK_MODAL
    submit_shown(slack, view, people.dev)
    fake_slack.wait_for("reactions.add")
    [risk] = _rows(session, Risk)
    assert risk.title == "The payment provider may not be certified in time"
    assert (risk.source_channel_id, risk.source_ts, risk.source_user_id) == (INTERNAL_CHANNEL, ts, "U0PM")
    assert receipts(fake_slack, INTERNAL_CHANNEL, ts)[0]["text"].startswith(f"Captured as *RISK-{risk.id}*")

    # From the client channel: recorded, but the client's thread learns nothing of an internal risk.
    ts2 = shortcut(slack, ids.CAPTURE_RISK_SHORTCUT, user=people.dev, text="We might be late with the API.")
    view = opened_view(fake_slack, 2)
    submit_shown(slack, view, people.dev)
    fake_slack.wait_for("chat.postEphemeral", 2)
    assert len(_rows(session, Risk)) == 2
    assert not receipts(fake_slack, CLIENT_CHANNEL, ts2) and len(fake_slack.calls_to("reactions.add")) == 1


def test_change_request_and_feedback_from_a_message(slack, fake_slack, people, session, project):
    ts = shortcut(slack, ids.CAPTURE_CHANGE_SHORTCUT, user=people.pm, text="Please move the launch to March.")
    view = opened_view(fake_slack)
    assert view["callback_id"] == ids.CAPTURE_CHANGE_MODAL
    submit_shown(slack, view, people.pm)
    fake_slack.wait_for("reactions.add")
    [cr] = _rows(session, ChangeRequest)
    assert cr.title == "Please move the launch to March" and cr.requested_by == "U0CLIENT" and cr.requested_by_client
    assert cr.source_ts == ts
    assert receipts(fake_slack, CLIENT_CHANNEL, ts)[0]["text"].startswith(f"Captured as *CR-{cr.id}*")

    ts2 = shortcut(slack, ids.CAPTURE_FEEDBACK_SHORTCUT, user=people.pm, text="The new dashboard is great!")
    view = opened_view(fake_slack, 2)
    assert view["callback_id"] == ids.CAPTURE_FEEDBACK_MODAL
    text = next(b for b in view["blocks"] if b.get("block_id") == ids.FEEDBACK_BLOCK_TEXT)
    assert text["element"]["initial_value"] == "The new dashboard is great!"
    submit_shown(slack, view, people.pm, **{ids.FEEDBACK_BLOCK_KIND: p.radio("praise")})
    fake_slack.wait_for("reactions.add", 2)
    [fb] = _rows(session, FeedbackResponse)
    assert fb.source_ts == ts2 and fb.comment == "The new dashboard is great!"
    assert fb.user_id == "U0CLIENT" and fb.kind == "praise"  # the client's praise (counted), recorded by the PM
    assert receipts(fake_slack, CLIENT_CHANNEL, ts2)[0]["text"].startswith(f"Recorded as feedback (*FB-{fb.id}*)")
    listed = slack.command("/feedback", "list", user=people.pm)
    shown = listed.text + json.dumps([c.params for c in fake_slack.calls_to("response_url")])
    assert "a message> by <@U0CLIENT>" in shown  # the recent feedback names its source
    before = len(fake_slack.calls_to("response_url"))
    slack.command("/change", "list", user=people.pm)
    assert "from <https://" in json.dumps(fake_slack.wait_for("response_url", before + 1)[-1].params)


def test_bot_and_file_only_messages_are_refused(slack, fake_slack, people, session, project):
    shortcut(slack, ids.CAPTURE_REQ_SHORTCUT, user=people.pm,
             message={"user": "UBOT", "bot_id": "BOTHER", "subtype": "bot_message", "text": "Digest"})
    assert "posted by an app" in told(fake_slack)
    shortcut(slack, ids.CAPTURE_REQ_SHORTCUT, user=people.pm, message={
        "user": "U0CLIENT", "text": "", "files": [{"id": "F1", "name": "screenshot.png"}], "subtype": "file_share"})
    assert "no text to capture" in told(fake_slack, 2)
    assert not fake_slack.calls_to("views.open") and not _rows(session, Requirement)


def test_a_huge_message_is_cut_to_the_limits(slack, fake_slack, people, session, project):
    text = ("word " * 8000).strip()  # 39,999 characters, no sentence end
    shortcut(slack, ids.CAPTURE_REQ_SHORTCUT, user=people.pm, text=text)
    view = opened_view(fake_slack)
    assert fake_slack.calls_to("views.open")[0].ok  # Slack took the view
    fields = {b["block_id"]: b["element"] for b in view["blocks"] if b.get("type") == "input"}
    assert len(fields[ids.REQ_BLOCK_TITLE]["initial_value"]) <= 200
    assert len(fields[ids.REQ_BLOCK_DESCRIPTION]["initial_value"]) <= 3000
    submit_shown(slack, view, people.pm)
    fake_slack.wait_for("reactions.add")
    [req] = _rows(session, Requirement)
    assert req.title.endswith("…") and len(req.description) <= 3000


def test_a_message_deleted_before_submission_keeps_the_text_and_drops_the_link(
        slack, fake_slack, people, session, project):
    ts = shortcut(slack, ids.CAPTURE_REQ_SHORTCUT, user=people.pm, text="Add a dark mode.")
    view = opened_view(fake_slack)
    assert fake_slack.delete_message(CLIENT_CHANNEL, ts)
    submit_shown(slack, view, people.pm)
    fake_slack.wait_for("chat.postEphemeral")
    [req] = _rows(session, Requirement)
    assert req.title == "Add a dark mode" and req.source_ts == ts and req.source_permalink is None
    assert not receipts(fake_slack, CLIENT_CHANNEL, ts) and not fake_slack.calls_to("reactions.add")
    assert "(since deleted)" in json.dumps(fake_slack.calls_to("chat.postEphemeral")[-1].params["blocks"])


def test_a_second_shortcut_points_at_the_record(slack, fake_slack, people, session, project):
    ts = shortcut(slack, ids.CAPTURE_REQ_SHORTCUT, user=people.pm, text="Export to Excel.")
    submit_shown(slack, opened_view(fake_slack), people.pm)
    fake_slack.wait_for("reactions.add")
    shortcut(slack, ids.CAPTURE_REQ_SHORTCUT, user=people.dev, ts=ts, text="Export to Excel.")
    [req] = _rows(session, Requirement)
    assert f"already captured as *REQ-{req.id}*" in told(fake_slack)
    assert len(fake_slack.calls_to("views.open")) == 1


# The capture reaction -------------------------------------------------------------------------


def test_memo_captures_a_clients_message_once(slack, fake_slack, people, session, project):
    ts = fake_slack.add_message(CLIENT_CHANNEL, "We also need a PDF invoice. Thanks!", user="U0CLIENT", team="T0EXT")
    react(slack, "memo", user=people.dev, ts=ts)
    ephemeral = fake_slack.wait_for("chat.postEphemeral")[0].params
    fake_slack.wait_for("reactions.add")
    [req] = _rows(session, Requirement)
    assert req.title == "We also need a PDF invoice" and req.status == "proposed"
    assert req.raised_by == "U0CLIENT" and req.raised_by_client and req.source_ts == ts
    assert ephemeral["user"] == "U0DEV" and ephemeral["text"] == f"Captured *REQ-{req.id}* · We also need a PDF invoice"
    button = next(e for b in ephemeral["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert (button["action_id"], button["value"], button["text"]["text"]) == (ids.REQ_EDIT, str(req.id), "Add details")
    [receipt] = receipts(fake_slack, CLIENT_CHANNEL, ts)
    assert receipt["text"] == f"Captured as *REQ-{req.id}*: We also need a PDF invoice"

    # Add details opens the edit form (the ephemeral's button has a trigger_id).
    slack.action(ids.REQ_EDIT, str(req.id), user=people.dev, block_id=f"req_item:{req.id}:notice")
    assert opened_view(fake_slack)["callback_id"] == ids.REQ_MODAL

    # Someone else reacts; the reaction is removed and added again: still one requirement, one receipt.
    react(slack, "memo", user=people.pm, ts=ts)
    slack._post(p.reaction_removed("memo", user=people.dev, channel=CLIENT_CHANNEL, ts=ts, team_id=TEAM))
    react(slack, "memo", user=people.dev, ts=ts)
    calls = fake_slack.wait_for("chat.postEphemeral", 3)
    # Events are handled after their acknowledgement, so the two answers may come in either order.
    later = {c.params["user"]: c.params["text"] for c in calls[1:]}
    assert set(later) == {"U0PM", "U0DEV"}
    assert later["U0PM"] == f"Already captured as *REQ-{req.id}* · We also need a PDF invoice"
    assert "Already captured" in later["U0DEV"]
    assert len(_rows(session, Requirement)) == 1
    assert len(receipts(fake_slack, CLIENT_CHANNEL, ts)) == 1 and len(fake_slack.calls_to("reactions.add")) == 1


def test_memo_in_chinese_and_a_client_reacting(slack, fake_slack, people, session, make_project):
    make_project(language="zh-CN")
    ts = fake_slack.add_message(CLIENT_CHANNEL, "希望支持微信支付。", user="U0CLIENT", team="T0EXT")
    react(slack, "memo", user=people.client, ts=ts)
    ephemeral = fake_slack.wait_for("chat.postEphemeral")[0].params
    fake_slack.wait_for("reactions.add")
    [req] = _rows(session, Requirement)
    assert ephemeral["text"] == f"已记录 *REQ-{req.id}* · 希望支持微信支付"
    assert not any(b["type"] == "actions" for b in ephemeral["blocks"])  # editing is the team's
    assert receipts(fake_slack, CLIENT_CHANNEL, ts)[0]["text"] == f"已记录为 *REQ-{req.id}*：希望支持微信支付"


def test_reactions_that_capture_nothing(slack, fake_slack, people, session, project):
    elsewhere = fake_slack.add_message(OTHER_CHANNEL, "Lunch?", user="U0DEV")
    react(slack, "memo", user=people.dev, channel=OTHER_CHANNEL, ts=elsewhere, author="U0DEV")
    other_emoji = fake_slack.add_message(CLIENT_CHANNEL, "Nice work.", user="U0CLIENT", team="T0EXT")
    react(slack, "tada", user=people.dev, ts=other_emoji)
    by_bot = fake_slack.add_message(CLIENT_CHANNEL, "Digest", user="UBOT", bot_id="BBOT")
    react(slack, "memo", user=people.dev, ts=by_bot, author="UBOT")
    react(slack, "memo", user=people.dev, ts="1700000000.000100")  # gone
    assert not _rows(session, Requirement)
    assert not fake_slack.calls_to("chat.postEphemeral") and not fake_slack.calls_to("reactions.add")


def test_the_capture_emoji_is_a_project_setting(slack, fake_slack, people, session, make_project, engine):
    project = make_project()
    with session_scope(engine) as s:
        s.get(Project, project.id).capture_emoji = "pushpin"
    ts = fake_slack.add_message(INTERNAL_CHANNEL, "Log in with SSO.", user="U0PM")
    react(slack, "memo", user=people.dev, channel=INTERNAL_CHANNEL, ts=ts, author="U0PM")
    react(slack, "pushpin", user=people.dev, channel=INTERNAL_CHANNEL, ts=ts, author="U0PM")
    fake_slack.wait_for("reactions.add")
    [req] = _rows(session, Requirement)
    assert req.raised_by == "U0PM" and not req.raised_by_client and req.source_channel_id == INTERNAL_CHANNEL

    with session_scope(engine) as s:
        s.get(Project, project.id).capture_emoji = ""  # off
    ts2 = fake_slack.add_message(INTERNAL_CHANNEL, "And SAML.", user="U0PM")
    react(slack, "pushpin", user=people.dev, channel=INTERNAL_CHANNEL, ts=ts2, author="U0PM")
    react(slack, "memo", user=people.dev, channel=INTERNAL_CHANNEL, ts=ts2, author="U0PM")
    assert len(_rows(session, Requirement)) == 1 and len(fake_slack.calls_to("reactions.add")) == 1


def test_a_reply_in_a_thread_is_captured_and_answered_there(slack, fake_slack, people, session, project):
    parent = fake_slack.add_message(CLIENT_CHANNEL, "Feedback on the beta:", user="U0CLIENT", team="T0EXT")
    reply = fake_slack.add_message(CLIENT_CHANNEL, "Search should find SKUs.", user="U0OUTSIDER", team="T0EXT",
                                   thread_ts=parent)
    react(slack, "memo", user=people.pm, ts=reply, author="U0OUTSIDER")
    fake_slack.wait_for("reactions.add")
    [req] = _rows(session, Requirement)
    assert req.source_ts == reply and req.raised_by == "U0OUTSIDER" and req.raised_by_client
    assert receipts(fake_slack, CLIENT_CHANNEL, parent)[0]["text"].startswith(f"Captured as *REQ-{req.id}*")
    assert fake_slack.calls_to("reactions.add")[0].params["timestamp"] == reply
    ephemeral = fake_slack.wait_for("chat.postEphemeral")[0].params
    assert ephemeral["user"] == "U0PM" and ephemeral["thread_ts"] == parent  # shown in the thread


def test_a_file_only_message_is_answered_to_the_reactor(slack, fake_slack, people, session, project):
    ts = fake_slack.add_message(CLIENT_CHANNEL, "", user="U0CLIENT", team="T0EXT", files=[{"id": "F1"}])
    react(slack, "memo", user=people.dev, ts=ts)
    ephemeral = fake_slack.wait_for("chat.postEphemeral")[0].params
    assert "no text to capture" in ephemeral["text"] and "blocks" not in ephemeral
    assert not _rows(session, Requirement)


def test_the_receipt_is_posted_once_when_its_answer_was_lost(slack, fake_slack, people, session, project, deps,
                                                            engine):
    ts = fake_slack.add_message(CLIENT_CHANNEL, "Add an audit log.", user="U0CLIENT", team="T0EXT")
    react(slack, "memo", user=people.dev, ts=ts)
    fake_slack.wait_for("reactions.add")
    fake_slack.wait_for("chat.postEphemeral")
    # Slack posted the receipt and added the reaction, but the answers were lost: both are retried.
    with session_scope(engine) as s:
        rows = [r for r in s.exec(select(Outbox)) if r.kind in ("capture_receipt", "capture_reaction")]
        assert len(rows) == 2
        for row in rows:
            row.status, row.sent_at, row.message_ts = "pending", None, None
        ids_ = [r.id for r in rows]
    delivery.deliver_now(deps, ids_)
    assert len(receipts(fake_slack, CLIENT_CHANNEL, ts)) == 1
    assert fake_slack.message(CLIENT_CHANNEL, ts)["reactions"] == [
        {"name": "white_check_mark", "users": ["UBOT"], "count": 1}]
    with session_scope(engine) as s:
        assert all(s.get(Outbox, i).status == "sent" for i in ids_)


def test_the_project_form_sets_the_capture_emoji(slack, fake_slack, people, session, project):
    slack.command("/project", "edit", user=people.pm)
    view = opened_view(fake_slack)
    field = next(b for b in view["blocks"] if b.get("block_id") == ids.PROJECT_BLOCK_CAPTURE_EMOJI)
    assert field["element"]["initial_value"] == "memo" and field["label"]["text"] == "Capture reaction"
    bad = submit_shown(slack, view, people.pm, **{ids.PROJECT_BLOCK_CAPTURE_EMOJI: p.plain_text("not an emoji!")})
    assert bad.json()["errors"] == {ids.PROJECT_BLOCK_CAPTURE_EMOJI: "Type an emoji name such as memo or pushpin, "
                                                                     "or off."}
    ok = submit_shown(slack, view, people.pm, **{ids.PROJECT_BLOCK_CAPTURE_EMOJI: p.plain_text(":pushpin:")})
    assert ok.status_code == 200 and "errors" not in ok.text
    session.expire_all()
    assert session.get(Project, project.id).capture_emoji == "pushpin"
    edited = [e for e in _rows(session, ActivityLog) if e.entity_type == "project" and e.action == "edited"]
    assert edited[-1].after == {"capture_emoji": "pushpin"}
    slack.command("/project", "edit", user=people.pm)
    view = opened_view(fake_slack, 2)
    submit_shown(slack, view, people.pm, **{ids.PROJECT_BLOCK_CAPTURE_EMOJI: p.plain_text("off")})
    session.expire_all()
    assert session.get(Project, project.id).capture_emoji == ""


def test_exports_name_the_source_message(slack, fake_slack, people, session, project):
    ts = fake_slack.add_message(CLIENT_CHANNEL, "Show prices with VAT.", user="U0CLIENT", team="T0EXT")
    react(slack, "memo", user=people.dev, ts=ts)
    fake_slack.wait_for("reactions.add")
    slack.command("/req", "export", user=people.dev)
    fake_slack.wait_for("files.completeUploadExternal")
    files = {name: content.decode() for name, content in fake_slack.uploaded_files()}
    link = f"/archives/{CLIENT_CHANNEL}/p{ts.replace('.', '')}"
    [csv_text] = [c for n, c in files.items() if n.endswith(".csv")]
    header, row = csv_text.splitlines()[:2]
    assert header.endswith(",source") and link in row and "(@chris.client)" in row
    [md] = [c for n, c in files.items() if n.endswith(".md")]
    assert "From a message: https://" in md and link in md


def test_the_change_log_export_names_the_source(slack, fake_slack, people, session, project):
    ts = shortcut(slack, ids.CAPTURE_CHANGE_SHORTCUT, user=people.pm, text="Please add a second currency.")
    submit_shown(slack, opened_view(fake_slack), people.pm)
    fake_slack.wait_for("reactions.add")
    slack.command("/change", "list export", user=people.pm)
    fake_slack.wait_for("files.completeUploadExternal")
    files = {name: content.decode("utf-8-sig") for name, content in fake_slack.uploaded_files()}
    [csv_text] = [c for n, c in files.items() if n.endswith(".csv")]
    header, row = csv_text.splitlines()[:2]
    assert header.endswith(",Source message") and f"p{ts.replace('.', '')}" in row
    [md] = [c for n, c in files.items() if n.endswith(".md")]
    assert "**Source message:** https://" in md


def test_a_closed_projects_channel_captures_nothing(slack, fake_slack, people, session, project, engine):
    with session_scope(engine) as s:
        s.get(Project, project.id).status = "closed"
    shortcut(slack, ids.CAPTURE_REQ_SHORTCUT, user=people.pm)
    assert "closed" in told(fake_slack) and not fake_slack.calls_to("views.open")
    ts = fake_slack.add_message(CLIENT_CHANNEL, "One more thing.", user="U0CLIENT", team="T0EXT")
    react(slack, "memo", user=people.dev, ts=ts)
    assert not _rows(session, Requirement) and not fake_slack.calls_to("reactions.add")


def test_a_parent_deleted_under_its_replies_counts_as_deleted(slack, fake_slack, people, session, project):
    ts = shortcut(slack, ids.CAPTURE_REQ_SHORTCUT, user=people.pm, text="Add SSO.")
    fake_slack.add_message(CLIENT_CHANNEL, "Which provider?", user="U0PM", thread_ts=ts)
    view = opened_view(fake_slack)
    # Slack keeps a deleted parent with replies as a tombstone.
    assert fake_slack.delete_message(CLIENT_CHANNEL, ts)
    fake_slack.add_message(CLIENT_CHANNEL, "This message was deleted.", user="USLACKBOT", ts=ts, subtype="tombstone")
    submit_shown(slack, view, people.pm)
    fake_slack.wait_for("chat.postEphemeral")
    [req] = _rows(session, Requirement)
    assert req.title == "Add SSO" and req.source_permalink is None and not fake_slack.calls_to("reactions.add")


def test_the_confirmation_request_shows_the_source(slack, fake_slack, people, session, project):
    ts = fake_slack.add_message(CLIENT_CHANNEL, "Invoices in PDF/A for archiving.", user="U0CLIENT", team="T0EXT")
    react(slack, "memo", user=people.pm, ts=ts)
    fake_slack.wait_for("reactions.add")
    [req] = _rows(session, Requirement)
    slack.action(ids.REQ_SEND, str(req.id), user=people.pm, channel_id=INTERNAL_CHANNEL,
                 block_id=f"req_item:{req.id}:item", is_ephemeral=True)
    fake_slack.wait_for("response_url")
    [request] = [c.params for c in fake_slack.calls_to("chat.postMessage")
                 if c.params["channel"] == CLIENT_CHANNEL and not c.params.get("thread_ts")]
    shown = json.dumps(request["blocks"])
    assert f"REQ-{req.id}" in shown and "a message> by <@U0CLIENT>" in shown


def test_a_channel_the_bot_cannot_read_keeps_the_link_and_posts_nothing(slack, fake_slack, people, session, project):
    ts = shortcut(slack, ids.CAPTURE_REQ_SHORTCUT, user=people.pm, text="Add a status page.")
    view = opened_view(fake_slack)
    fake_slack.fail("conversations.replies", error="not_in_channel")
    submit_shown(slack, view, people.pm)
    fake_slack.wait_for("chat.postEphemeral")
    [req] = _rows(session, Requirement)
    assert req.source_ts == ts and req.source_permalink  # it was shown; Slack would not say it is gone
    assert not receipts(fake_slack, CLIENT_CHANNEL, ts) and not fake_slack.calls_to("reactions.add")
