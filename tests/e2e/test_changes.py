"""`/change` end to end: a client raises a change from the intake button, the team assesses it,
the client decides in the client channel, and the plan moves with it."""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from datetime import date

import pytest
from sqlmodel import select

from bot.blocks import ids
from bot.db import session_scope
from bot.models import ActivityLog, ChangeRequest, Milestone
from bot.services import changes, milestones
from tests.fakes import payloads as p

V = ids.VALUE


def cr_values(title: str = "Add PayPal", *, description: str | None = "Checkout with PayPal",
              reason: str | None = "Customers ask for it", milestones_: list[int] | None = None) -> dict:
    values = {
        ids.CHANGE_BLOCK_TITLE: {V: p.plain_text(title)},
        ids.CHANGE_BLOCK_DESCRIPTION: {V: p.plain_text(description)},
        ids.CHANGE_BLOCK_REASON: {V: p.plain_text(reason)},
    }
    if milestones_ is not None:
        values[ids.CHANGE_BLOCK_MILESTONES] = {V: p.multi_static_select([str(i) for i in milestones_])}
    return values


def assess_values(days: str | None = "5", effort: str | None = "16", *, amount: str | None = None,
                  currency: str | None = None, share: bool = False, milestones_: list[int] | None = None,
                  recommendation: str | None = "Worth doing before launch") -> dict:
    values = {
        ids.CHANGE_BLOCK_SCHEDULE: {V: p.number(days)},
        ids.CHANGE_BLOCK_EFFORT: {V: p.number(effort)},
        ids.CHANGE_BLOCK_COST_AMOUNT: {V: p.plain_text(amount)},
        ids.CHANGE_BLOCK_COST_CURRENCY: {V: p.plain_text(currency)},
        ids.CHANGE_BLOCK_RECOMMENDATION: {V: p.plain_text(recommendation)},
        ids.CHANGE_BLOCK_SHARE_COST: {V: p.checkboxes([ids.CHANGE_SHARE_COST_OPTION] if share else [])},
    }
    if milestones_ is not None:
        values[ids.CHANGE_BLOCK_MILESTONES] = {V: p.multi_static_select([str(i) for i in milestones_])}
    return values


def next_call(fake, method: str, action):
    """Run `action` and wait for the next call to `method`; return that call."""
    before = len(fake.calls_to(method))
    result = action()
    calls = fake.wait_for(method, before + 1)
    return calls[before], result


def crs(session) -> list[ChangeRequest]:
    return fresh(session, select(ChangeRequest).order_by(ChangeRequest.id))


def fresh(session, stmt) -> list:
    """Rows as committed now (the observer session would otherwise hand back the objects it has)."""
    session.expire_all()
    return list(session.exec(stmt))


def button_ids(blocks: list[dict]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def showing(fake, ts: str, action_id: str = ids.CHANGE_APPROVE, channel: str = "C0CLIENT") -> str:
    """The value of a button of the message at `ts` as Slack shows it now: what a click sends
    (decision buttons carry the version they were drawn from)."""
    blocks = fake.message(channel, ts)["blocks"]
    return next(e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


@pytest.fixture
def setup(make_project, engine, clock):
    """The sample project with two milestones."""
    project = make_project()
    with session_scope(engine) as s:
        beta = milestones.create(s, clock, project=project, actor="U0PM",
                                 data=milestones.MilestoneInput(name="Beta", due_date="2026-12-01", progress="40"))
        launch = milestones.create(s, clock, project=project, actor="U0PM",
                                   data=milestones.MilestoneInput(name="Launch", due_date="2027-01-15"))
    return {"project": project, "beta": beta.id, "launch": launch.id}


def raise_from_intake(slack, fake, people, setup, *, user=None, title="Add PayPal") -> int:
    """A client presses *Change request* on the intake message and submits the form."""
    user = user or people.client
    view, _ = next_call(fake, "views.open", lambda: slack.action(ids.INTAKE_CHANGE_REQUEST,
                                                                str(setup["project"].id), user=user))
    view = view.params["view"]
    _told, resp = next_call(fake, "chat.postEphemeral", lambda: slack.submit(
        ids.CHANGE_MODAL, cr_values(title, milestones_=[setup["beta"]]), user=user,
        private_metadata=view["private_metadata"]))
    assert resp.status_code == 200 and not resp.content.strip(b"{}"), resp.text
    with session_scope_of(slack) as s:
        return max(c.id for c in s.exec(select(ChangeRequest)))


def session_scope_of(slack):
    return session_scope(slack.engine)


def assess(slack, fake, people, cr_id: int, *, user=None, **values) -> None:
    user = user or people.dev
    opened, _ = next_call(fake, "views.open", lambda: slack.action(ids.CHANGE_ASSESS, str(cr_id), user=user,
                                                                  channel_id="C0INTERNAL"))
    meta = opened.params["view"]["private_metadata"]
    before = len(fake.calls_to("chat.postEphemeral"))
    resp = slack.submit(ids.CHANGE_ASSESS_MODAL, assess_values(**values), user=user, private_metadata=meta)
    assert resp.status_code == 200 and not resp.content.strip(b"{}"), resp.text
    fake.wait_for("chat.postEphemeral", before + 1)


def approval_post(fake, cr_id: int) -> dict:
    posts = [c for c in fake.calls_to("chat.postMessage")
             if c.ok and c.params["channel"] == "C0CLIENT" and c.params["metadata"]["event_payload"]["key"]
             == f"cr-approval:{cr_id}"]
    assert len(posts) == 1
    return posts[0].params


@pytest.fixture
def flow(slack, engine, fake_slack, people, setup):
    slack.engine = engine
    return slack


def test_client_raises_team_assesses_client_approves_and_the_plan_moves(flow, fake_slack, people, setup, session):
    slack = flow
    # 1. The client (another organisation) opens the form from the intake button.
    opened, _ = next_call(fake_slack, "views.open", lambda: slack.action(
        ids.INTAKE_CHANGE_REQUEST, str(setup["project"].id), user=people.client))
    view = opened.params["view"]
    assert view["callback_id"] == ids.CHANGE_MODAL
    milestone_block = next(b for b in view["blocks"] if b["block_id"] == ids.CHANGE_BLOCK_MILESTONES)
    assert [o["value"] for o in milestone_block["element"]["options"]] == [str(setup["beta"]), str(setup["launch"])]
    resp = slack.submit(ids.CHANGE_MODAL, cr_values(milestones_=[setup["beta"]]), user=people.client,
                        private_metadata=view["private_metadata"])
    assert resp.status_code == 200 and not resp.content.strip(b"{}")
    told = fake_slack.wait_for("chat.postEphemeral")[0]
    assert told.params["user"] == people.client.id and "CR-1" in told.params["text"]
    assert ids.CHANGE_WITHDRAW in button_ids(told.params["blocks"])
    [cr] = crs(session)
    assert cr.status == "submitted" and cr.requested_by == people.client.id and cr.requested_by_client
    assert cr.title == "Add PayPal" and cr.reason == "Customers ask for it"
    # 2. The team is told in the internal channel, with an Assess button: after the client's answer.
    notice = next(c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0INTERNAL")
    assert fake_slack.calls.index(notice) > fake_slack.calls.index(told)
    assert "waiting for assessment" in str(notice.params["blocks"])
    assert button_ids(notice.params["blocks"]) == [ids.CHANGE_ASSESS]

    # 3. A developer assesses it: five days, 16 hours, an internal cost.
    opened, _ = next_call(fake_slack, "views.open", lambda: slack.action(
        ids.CHANGE_ASSESS, str(cr.id), user=people.dev, channel_id="C0INTERNAL"))
    assess_view = opened.params["view"]
    assert ids.CHANGE_BLOCK_SHARE_COST not in [b.get("block_id") for b in assess_view["blocks"]]  # PM only
    ms_block = next(b for b in assess_view["blocks"] if b.get("block_id") == ids.CHANGE_BLOCK_MILESTONES)
    assert [o["value"] for o in ms_block["element"]["initial_options"]] == [str(setup["beta"])]
    values = assess_values("5", "16", amount="1200", currency="eur", milestones_=[setup["beta"]])
    values.pop(ids.CHANGE_BLOCK_SHARE_COST)
    resp = slack.submit(ids.CHANGE_ASSESS_MODAL, values, user=people.dev,
                        private_metadata=assess_view["private_metadata"])
    assert resp.status_code == 200 and not resp.content.strip(b"{}")
    fake_slack.wait_for("chat.postEphemeral", 2)
    cr = crs(session)[0]
    assert cr.status == "assessed" and cr.schedule_impact_days == 5 and cr.cost_currency == "EUR"
    assert cr.assessed_by == people.dev.id
    # The client channel gets the request with its impact, Approve / Reject, and no internal cost.
    post = approval_post(fake_slack, cr.id)
    shown = json.dumps(post["blocks"], ensure_ascii=False)
    assert "+5 days" in shown and "16 h" in shown and "Beta" in shown and "2026-12-01" in shown
    assert "1,200" not in shown and "1200" not in shown
    assert button_ids(post["blocks"]) == [ids.CHANGE_APPROVE, ids.CHANGE_REJECT]
    ts = fake_slack.messages("C0CLIENT")[-1]["ts"]
    assert cr.approval_channel_id == "C0CLIENT" and cr.approval_ts == ts
    # The team's notice loses its Assess button.
    refreshed = fake_slack.wait_for("chat.update")[0]
    assert refreshed.params["ts"] == notice.response["ts"] and button_ids(refreshed.params["blocks"]) == []

    # 4. The client approves, in the client channel.
    reply, _ = next_call(fake_slack, "response_url", lambda: slack.action(
        ids.CHANGE_APPROVE, showing(fake_slack, ts), user=people.client, message_ts=ts))
    assert "approved" in reply.params["text"] and "2026-12-01 → 2026-12-06" in reply.params["text"]
    cr = crs(session)[0]
    assert cr.status == "approved" and cr.decided_by == people.client.id and not cr.decided_on_behalf
    # The message is updated in place, after the client's answer: who, when; no buttons any more.
    slack.settle()
    update = fake_slack.calls_to("chat.update")[-1]
    assert fake_slack.calls.index(update) > fake_slack.calls.index(reply)
    assert update.params["channel"] == "C0CLIENT" and update.params["ts"] == ts
    text = json.dumps(update.params["blocks"], ensure_ascii=False)
    assert "Approved by <@U0CLIENT> on 2026-11-18 18:00" in text  # Asia/Shanghai
    assert button_ids(update.params["blocks"]) == []
    assert "2026-12-01 → *2026-12-06*" in text
    # 5. The milestone moved by exactly the impact; the log holds old and new dates.
    assert session.get(Milestone, setup["beta"]).due_date == date(2026, 12, 6)
    assert session.get(Milestone, setup["launch"]).due_date == date(2027, 1, 15)
    [moved] = fresh(session, select(ActivityLog).where(ActivityLog.action == "rescheduled"))
    assert moved.entity_id == setup["beta"] and moved.before == {"due_date": "2026-12-01"}
    assert moved.after["due_date"] == "2026-12-06" and moved.after["change_request_id"] == cr.id
    actions = [e.action for e in session.exec(select(ActivityLog).where(ActivityLog.entity_type == "change_request")
                                              .order_by(ActivityLog.id))]
    assert actions == ["submitted", "assessed", "approved"]
    # The team hears about the decision.
    decided = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0INTERNAL"]
    assert "Approved by" in decided[-1].params["text"]


def test_non_approvers_are_refused_and_nothing_changes(flow, fake_slack, people, setup, session):
    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    assess(flow, fake_slack, people, cr_id, milestones_=[setup["beta"]])
    ts = approval_post(fake_slack, cr_id) and fake_slack.messages("C0CLIENT")[-1]["ts"]
    for user in (people.outsider, people.dev, people.guest):
        reply, _ = next_call(fake_slack, "response_url", lambda u=user: flow.action(
            ids.CHANGE_APPROVE, showing(fake_slack, ts), user=u, message_ts=ts))
        assert "Only the client approvers" in reply.params["text"]
        assert reply.params.get("replace_original") in (False, "false", None)
    reply, _ = next_call(fake_slack, "response_url", lambda: flow.action(
        ids.CHANGE_REJECT, showing(fake_slack, ts, ids.CHANGE_REJECT), user=people.outsider, message_ts=ts))
    assert "Only the client approvers" in reply.params["text"]
    assert crs(session)[0].status == "assessed"
    assert session.get(Milestone, setup["beta"]).due_date == date(2026, 12, 1)
    assert [c for c in fake_slack.calls_to("chat.update") if c.params["channel"] == "C0CLIENT"] == []


def test_reject_with_a_reason_by_the_pm_on_behalf_of_the_client(flow, fake_slack, people, setup, session):
    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    assess(flow, fake_slack, people, cr_id, milestones_=[setup["beta"]])
    ts = fake_slack.messages("C0CLIENT")[-1]["ts"]
    reject = showing(fake_slack, ts, ids.CHANGE_REJECT)
    opened, _ = next_call(fake_slack, "views.open", lambda: flow.action(
        ids.CHANGE_REJECT, reject, user=people.pm, message_ts=ts))
    view = opened.params["view"]
    assert view["callback_id"] == ids.CHANGE_REJECT_MODAL
    assert crs(session)[0].status == "assessed"  # opening the form decides nothing
    values = {ids.CHANGE_BLOCK_REJECT_REASON: {V: p.plain_text("Not before launch <!here>")}}
    _told, resp = next_call(fake_slack, "chat.postEphemeral", lambda: flow.submit(
        ids.CHANGE_REJECT_MODAL, values, user=people.pm, private_metadata=view["private_metadata"]))
    assert resp.status_code == 200 and not resp.content.strip(b"{}")
    cr = crs(session)[0]
    assert cr.status == "rejected" and cr.decision_reason == "Not before launch <!here>"
    assert cr.decided_by == people.pm.id and cr.decided_on_behalf
    [entry] = fresh(session, select(ActivityLog).where(ActivityLog.action == "rejected"))
    assert entry.on_behalf_of_client and entry.after["reason"] == "Not before launch <!here>"
    update = [c for c in fake_slack.calls_to("chat.update") if c.params["channel"] == "C0CLIENT"][-1]
    text = json.dumps(update.params["blocks"])
    assert "Rejected by <@U0PM> on behalf of the client" in text
    assert "&lt;!here&gt;" in text and "<!here>" not in text
    assert session.get(Milestone, setup["beta"]).due_date == date(2026, 12, 1)
    # A decided request offers no more Reject form.
    reply, _ = next_call(fake_slack, "response_url", lambda: flow.action(
        ids.CHANGE_REJECT, reject, user=people.client, message_ts=ts))
    assert "already rejected by <@U0PM>" in reply.params["text"]


def test_double_click_makes_one_decision_and_the_second_is_told(flow, fake_slack, people, setup, session):
    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    assess(flow, fake_slack, people, cr_id, milestones_=[setup["beta"]])
    ts = fake_slack.messages("C0CLIENT")[-1]["ts"]
    before = len(fake_slack.calls_to("response_url"))
    value = showing(fake_slack, ts)
    flow.action(ids.CHANGE_APPROVE, value, user=people.client, message_ts=ts)
    flow.action(ids.CHANGE_APPROVE, value, user=people.client, message_ts=ts)
    replies = fake_slack.wait_for("response_url", before + 2)[before:]
    texts = sorted(r.params["text"] for r in replies)
    assert sum("already approved by <@U0CLIENT>" in t for t in texts) == 1, texts
    assert sum(t.startswith("You approved") for t in texts) == 1, texts
    assert session.get(Milestone, setup["beta"]).due_date == date(2026, 12, 6)
    decisions = fresh(session, select(ActivityLog).where(ActivityLog.action.in_(["approved", "rejected"])))
    assert len(decisions) == 1


def test_concurrent_approve_and_reject_from_two_people_one_wins(flow, fake_slack, people, setup, session, server):
    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    assess(flow, fake_slack, people, cr_id, milestones_=[setup["beta"]])
    ts = fake_slack.messages("C0CLIENT")[-1]["ts"]
    opened, _ = next_call(fake_slack, "views.open", lambda: flow.action(
        ids.CHANGE_REJECT, showing(fake_slack, ts, ids.CHANGE_REJECT), user=people.pm, message_ts=ts))
    meta = opened.params["view"]["private_metadata"]
    approve = p.block_actions(ids.CHANGE_APPROVE, showing(fake_slack, ts), user=people.client, message_ts=ts,
                              response_url=fake_slack.response_url("client-approve"))
    reject = p.view_submission(ids.CHANGE_REJECT_MODAL, {ids.CHANGE_BLOCK_REJECT_REASON: {V: p.plain_text("No")}},
                               user=people.pm, private_metadata=meta)
    barrier = threading.Barrier(2)
    answers: dict[str, object] = {}

    def send(name, request):
        barrier.wait()
        answers[name] = p.post(server, *request)

    threads = [threading.Thread(target=send, args=("approve", approve)),
               threading.Thread(target=send, args=("reject", reject))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    client_reply = next(c for c in fake_slack.wait_for("response_url", timeout=10)
                        if c.params.get("_name") == "client-approve")
    reject_answer = answers["reject"]
    cr = crs(session)[0]
    decisions = list(fresh(session, select(ActivityLog).where(ActivityLog.action.in_(["approved", "rejected"]))))
    assert len(decisions) == 1
    if cr.status == "approved":
        assert reject_answer.json()["response_action"] == "errors"
        assert "already approved" in reject_answer.json()["errors"][ids.CHANGE_BLOCK_REJECT_REASON]
        assert client_reply.params["text"].startswith("You approved")
        assert session.get(Milestone, setup["beta"]).due_date == date(2026, 12, 6)
    else:
        assert cr.status == "rejected"
        assert not reject_answer.content.strip(b"{}")
        assert "already rejected" in client_reply.params["text"]
        assert session.get(Milestone, setup["beta"]).due_date == date(2026, 12, 1)


def test_withdraw_by_the_author_only(flow, fake_slack, people, setup, session):
    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    reply, _ = next_call(fake_slack, "response_url", lambda: flow.action(
        ids.CHANGE_WITHDRAW, str(cr_id), user=people.outsider))
    assert "Only the person who raised" in reply.params["text"]
    assert crs(session)[0].status == "submitted"
    assess(flow, fake_slack, people, cr_id, milestones_=[setup["beta"]])
    ts = fake_slack.messages("C0CLIENT")[-1]["ts"]
    approve = showing(fake_slack, ts)
    reply, _ = next_call(fake_slack, "response_url", lambda: flow.action(
        ids.CHANGE_WITHDRAW, str(cr_id), user=people.client))
    assert "withdrawn" in reply.params["text"]
    cr = crs(session)[0]
    assert cr.status == "withdrawn" and cr.withdrawn_at is not None
    update = [c for c in fake_slack.calls_to("chat.update") if c.params["channel"] == "C0CLIENT"][-1]
    assert update.params["ts"] == ts and button_ids(update.params["blocks"]) == []
    assert "Withdrawn by <@U0CLIENT>" in json.dumps(update.params["blocks"])
    reply, _ = next_call(fake_slack, "response_url", lambda: flow.action(
        ids.CHANGE_APPROVE, approve, user=people.client, message_ts=ts))
    assert "withdrawn by its author" in reply.params["text"]
    assert session.get(Milestone, setup["beta"]).due_date == date(2026, 12, 1)


def test_assessment_refuses_bad_numbers_inline_and_stores_nothing(flow, fake_slack, people, setup, session):
    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    meta = json.dumps({"cr_id": cr_id, "channel": "C0INTERNAL"})
    posts = len(fake_slack.calls_to("chat.postMessage"))
    resp = flow.submit(ids.CHANGE_ASSESS_MODAL, assess_values("400", "10001", amount="12.345", currency="EURO"),
                       user=people.dev, private_metadata=meta)
    body = resp.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {ids.CHANGE_BLOCK_SCHEDULE, ids.CHANGE_BLOCK_EFFORT, ids.CHANGE_BLOCK_COST_AMOUNT,
                                   ids.CHANGE_BLOCK_COST_CURRENCY, ids.CHANGE_BLOCK_SHARE_COST} - {
        ids.CHANGE_BLOCK_SHARE_COST}
    assert "-365 and 365" in body["errors"][ids.CHANGE_BLOCK_SCHEDULE]
    resp = flow.submit(ids.CHANGE_ASSESS_MODAL, assess_values("-366", "-1"), user=people.dev, private_metadata=meta)
    assert set(resp.json()["errors"]) == {ids.CHANGE_BLOCK_SCHEDULE, ids.CHANGE_BLOCK_EFFORT}
    # only the PM may share the cost with the client
    resp = flow.submit(ids.CHANGE_ASSESS_MODAL, assess_values(amount="100", currency="EUR", share=True),
                       user=people.dev, private_metadata=meta)
    assert "Only the project manager" in resp.json()["errors"][ids.CHANGE_BLOCK_SHARE_COST]
    # and only the team assesses
    resp = flow.submit(ids.CHANGE_ASSESS_MODAL, assess_values(), user=people.client, private_metadata=meta)
    assert "Only members of the team" in resp.json()["errors"][ids.CHANGE_BLOCK_SCHEDULE]
    reply, _ = next_call(fake_slack, "response_url", lambda: flow.action(
        ids.CHANGE_ASSESS, str(cr_id), user=people.guest, channel_id="C0CLIENT"))
    assert "Only members of the team" in reply.params["text"]
    cr = crs(session)[0]
    assert cr.status == "submitted" and cr.schedule_impact_days is None
    assert len(fake_slack.calls_to("chat.postMessage")) == posts
    assert list(session.exec(select(ActivityLog).where(ActivityLog.action == "assessed"))) == []


def test_pm_shares_the_cost_with_the_client(flow, fake_slack, people, setup, session):
    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    opened, _ = next_call(fake_slack, "views.open", lambda: flow.action(
        ids.CHANGE_ASSESS, str(cr_id), user=people.pm, channel_id="C0INTERNAL"))
    assert ids.CHANGE_BLOCK_SHARE_COST in [b.get("block_id") for b in opened.params["view"]["blocks"]]
    next_call(fake_slack, "chat.postEphemeral", lambda: flow.submit(
        ids.CHANGE_ASSESS_MODAL, assess_values("0", "2.5", amount="1,200.50", currency="CNY", share=True),
        user=people.pm, private_metadata=opened.params["view"]["private_metadata"]))
    post = approval_post(fake_slack, cr_id)
    shown = json.dumps(post["blocks"], ensure_ascii=False)
    assert "CN¥1,200.50" in shown and "no delay" in shown and "2.5 h" in shown
    assert crs(session)[0].share_cost_with_client


def test_a_team_request_without_internal_channel_goes_to_the_pm_by_dm(slack, fake_slack, people, make_project,
                                                                      session):
    make_project(internal_channel_id=None)
    # What Slack sends (should_escape): typed "<b> & <!channel>" and a real @channel mention.
    resp = slack.command("/change", "Dark mode &lt;b&gt; &amp; &lt;!channel&gt; <!channel>", user=people.dev)
    body = resp.json()
    assert body["response_type"] == "ephemeral" and "CR-1" in body["text"]
    assert "Dark mode &lt;b&gt; &amp; &lt;!channel&gt; @channel" in body["text"]
    dm = fake_slack.wait_for("chat.postMessage")[0]
    assert dm.params["channel"] == "DU0PM"
    assert button_ids(dm.params["blocks"]) == [ids.CHANGE_ASSESS]
    assert "<!channel>" not in json.dumps(dm.params["blocks"])
    [cr] = crs(session)
    assert cr.title == "Dark mode <b> & <!channel> @channel"
    assert not cr.requested_by_client and cr.requested_by == "U0DEV"


def test_change_command_help_modal_unbound_channel_and_dm_picker(slack, fake_slack, people, setup):
    assert "/change list" in slack.command("/change", "help", user=people.pm).json()["text"]
    out = slack.command("/change", "", user=people.pm, channel_id="C0OTHER").json()["text"]
    assert "/project setup" in out
    opened, _ = next_call(fake_slack, "views.open", lambda: slack.command("/change", "", user=people.guest))
    blocks = [b.get("block_id") for b in opened.params["view"]["blocks"]]
    assert ids.CHANGE_BLOCK_MILESTONES in blocks and "project" not in blocks
    # In a DM: a project picker, and the typed text as the title.
    opened, _ = next_call(fake_slack, "views.open", lambda: slack.command("/change", "Bigger logo", user=people.dev,
                                                                         channel_id="DU0DEV"))
    view = opened.params["view"]
    picker = next(b for b in view["blocks"] if b["block_id"] == "project")
    assert [o["text"]["text"] for o in picker["element"]["options"]] == ["Acme Web Shop"]
    title = next(b for b in view["blocks"] if b["block_id"] == ids.CHANGE_BLOCK_TITLE)
    assert title["element"]["initial_value"] == "Bigger logo"
    values = {**cr_values("Bigger logo"), "project": {V: p.static_select(str(setup["project"].id))}}
    told, resp = next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.CHANGE_MODAL, values, user=people.dev, private_metadata=view["private_metadata"]))
    assert resp.status_code == 200 and "CR-1" in told.params["text"]


def test_intake_button_of_another_channel_is_refused(slack, fake_slack, people, setup, make_project):
    other = make_project("Other", client_channel_id="C0OTHER", internal_channel_id=None)
    reply, _ = next_call(fake_slack, "response_url", lambda: slack.action(
        ids.INTAKE_CHANGE_REQUEST, str(other.id), user=people.client, channel_id="C0CLIENT"))
    assert "no longer exists" in reply.params["text"]
    reply, _ = next_call(fake_slack, "response_url", lambda: slack.action(
        ids.INTAKE_CHANGE_REQUEST, "12abc", user=people.client))
    assert "no longer exists" in reply.params["text"]
    assert fake_slack.calls_to("views.open") == []


def test_list_is_paginated_with_history_and_buttons_per_viewer(flow, fake_slack, people, setup, session, engine,
                                                               clock):
    project = setup["project"]
    with session_scope(engine) as s:
        for n in range(11):
            changes.submit(s, clock, project=project, actor="U0DEV", by_client=False,
                           data=changes.ChangeInput(title=f"Team change {n}"))
    cr_id = raise_from_intake(flow, fake_slack, people, setup, title="Client change")
    assess(flow, fake_slack, people, cr_id, amount="900", currency="EUR", milestones_=[setup["beta"]])
    # The client approver (a guest of the channel could do the same) sees their request first.
    call, resp = next_call(fake_slack, "response_url", lambda: flow.command("/change", "list", user=people.guest))
    reply = call.params
    assert reply["response_type"] == "ephemeral"
    blocks = reply["blocks"]
    assert len(blocks) <= 50
    text = json.dumps(blocks, ensure_ascii=False)
    assert text.index("Client change") < text.index("Team change 10") < text.index("Team change 2")
    assert "Team change 1\"" not in text and "Team change 0" not in text  # page 2
    assert "Page 1 of 2" in text
    assert "submitted by <@U0CLIENT>" in text and "assessed by <@U0DEV>" in text
    assert "900" not in text  # the guest is client-side: no internal cost
    assert ids.CHANGE_ASSESS not in button_ids(blocks) and ids.CHANGE_APPROVE not in button_ids(blocks)
    assert resp.status_code == 200
    # The PM: Assess on submitted ones, Approve / Reject (on behalf) on the assessed one, internal cost.
    call, _ = next_call(fake_slack, "response_url", lambda: flow.command("/change", "list", user=people.pm))
    pm_blocks = call.params["blocks"]
    assert button_ids(pm_blocks).count(ids.CHANGE_ASSESS) == 10
    labels = [e["text"]["text"] for b in pm_blocks if b["type"] == "actions" for e in b["elements"]
              if e["action_id"] == ids.CHANGE_ASSESS]
    assert labels.count("Assess") == 9 and labels.count("Revise assessment") == 1  # the assessed one
    assert ids.CHANGE_APPROVE in button_ids(pm_blocks)
    assert "€900.00 (internal)" in json.dumps(pm_blocks, ensure_ascii=False)
    nxt = next(e for b in pm_blocks if b["type"] == "actions" for e in b["elements"]
               if e["action_id"] == f"{ids.CHANGE_LIST_PAGE}:next")
    reply, _ = next_call(fake_slack, "response_url", lambda: flow.action(
        nxt["action_id"], nxt["value"], user=people.pm, is_ephemeral=True))
    page2 = json.dumps(reply.params["blocks"])
    assert "Team change 0" in page2 and "Page 2 of 2" in page2 and reply.params["replace_original"] in (True, "true")
    # filtered by status
    call, _ = next_call(fake_slack, "response_url", lambda: flow.command("/change", "list assessed", user=people.pm))
    only = call.params
    assert "Client change" in json.dumps(only["blocks"]) and "Team change" not in json.dumps(only["blocks"])
    out = flow.command("/change", "list pending", user=people.pm).json()["text"]
    assert "pending" in out and "submitted" in out


def test_implemented_after_approval_from_the_list(flow, fake_slack, people, setup, session):
    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    assess(flow, fake_slack, people, cr_id, milestones_=[setup["beta"]])
    ts = fake_slack.messages("C0CLIENT")[-1]["ts"]
    next_call(fake_slack, "response_url", lambda: flow.action(ids.CHANGE_APPROVE, showing(fake_slack, ts),
                                                               user=people.client,
                                                               message_ts=ts))
    reply, _ = next_call(fake_slack, "response_url", lambda: flow.action(
        ids.CHANGE_IMPLEMENTED, str(cr_id), user=people.client, is_ephemeral=True))
    assert "Only members of the team" in reply.params["text"]
    reply, _ = next_call(fake_slack, "response_url", lambda: flow.action(
        ids.CHANGE_IMPLEMENTED, str(cr_id), user=people.dev, channel_id="C0INTERNAL", is_ephemeral=True))
    assert "implemented" in reply.params["text"]
    assert crs(session)[0].status == "implemented"
    update = fake_slack.calls_to("chat.update")[-1]  # the approval message shows it, after the answer
    assert update.params["ts"] == ts and fake_slack.calls.index(update) > fake_slack.calls.index(reply)
    call, _ = next_call(fake_slack, "response_url", lambda: flow.command("/change", "list", user=people.pm))
    blocks = call.params["blocks"]
    history = json.dumps(blocks)
    for word in ("submitted by", "assessed by", "approved by <@U0CLIENT>", "marked implemented by <@U0DEV>"):
        assert word in history


def test_a_button_for_another_projects_request_is_refused(flow, fake_slack, people, setup, make_project, engine,
                                                           clock, session):
    other = make_project("Other", client_channel_id="C0OTHER", internal_channel_id=None)
    with session_scope(engine) as s:
        cr = changes.submit(s, clock, project=other, actor="U0DEV", by_client=False,
                            data=changes.ChangeInput(title="Elsewhere"))
    reply, _ = next_call(fake_slack, "response_url", lambda: flow.action(
        ids.CHANGE_ASSESS, str(cr.id), user=people.pm, channel_id="C0CLIENT"))
    assert "no longer exists" in reply.params["text"]
    assert fake_slack.calls_to("views.open") == []


def test_export_sends_markdown_and_csv_to_the_users_dm(flow, fake_slack, people, setup, session):
    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    assess(flow, fake_slack, people, cr_id, amount="900", currency="EUR", milestones_=[setup["beta"]])
    resp = flow.command("/change", "list export", user=people.pm)
    assert "Preparing" in resp.json()["text"]
    fake_slack.wait_for("response_url")
    done = fake_slack.calls_to("response_url")[-1].params
    assert "direct messages" in done["text"]
    [complete] = fake_slack.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == "DU0PM"
    files = dict(fake_slack.uploaded_files())
    md_name = next(n for n in files if n.endswith(".md"))
    csv_name = next(n for n in files if n.endswith(".csv"))
    assert md_name.startswith("change-log-acme-web-shop-2026-11-18")
    assert "Add PayPal" in files[md_name].decode()
    rows = list(csv.DictReader(io.StringIO(files[csv_name].decode())))
    assert rows[0]["Cost"] == "€900.00" and rows[0]["Status"] == "Assessed"


def test_export_for_a_client_side_user_leaves_internal_costs_out(flow, fake_slack, people, setup):
    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    assess(flow, fake_slack, people, cr_id, amount="900", currency="EUR", milestones_=[setup["beta"]])
    flow.command("/change", "list export", user=people.guest)
    fake_slack.wait_for("response_url")
    files = dict(fake_slack.uploaded_files())
    assert all(b"900" not in data for data in files.values())


def test_export_from_the_cli(setup, engine, clock, database_url, monkeypatch, capsys):
    from bot.cli import main

    with session_scope(engine) as s:
        changes.submit(s, clock, project=setup["project"], actor="U0DEV", by_client=False,
                       data=changes.ChangeInput(title="From the CLI"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["export", "changes", "--project", "Acme Web Shop", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ID,Title,Status") and "From the CLI" in out


def test_a_decision_made_before_the_post_got_through_still_updates_it(flow, fake_slack, people, setup, session,
                                                                       deps, clock):
    """The client channel post failed (and waits for a retry) while the client approved from a list:
    the post is drawn from the record when it finally goes out, so it shows the decision and no
    live Approve button is left behind."""
    from bot.flows.delivery import deliver_due

    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    fake_slack.fail("chat.postMessage", error="fatal_error")
    assess(flow, fake_slack, people, cr_id, milestones_=[setup["beta"]])
    assert crs(session)[0].approval_ts is None
    listed = ids.decision_value(cr_id, crs(session)[0].version)  # the list's button
    reply, _ = next_call(fake_slack, "response_url", lambda: flow.action(
        ids.CHANGE_APPROVE, listed, user=people.client, is_ephemeral=True))
    assert reply.params["text"].startswith("You approved")
    clock.advance(minutes=5)
    assert deliver_due(deps) == 1  # the approval post, at last
    ts = crs(session)[0].approval_ts
    post = approval_post(fake_slack, cr_id)
    assert ts and button_ids(post["blocks"]) == [] and "Approved by <@U0CLIENT>" in json.dumps(post)
    assert fake_slack.message("C0CLIENT", ts)["blocks"] == post["blocks"]
    assert deliver_due(deps) == 0  # nothing left to correct


def test_withdrawn_before_assessment_the_team_notice_loses_its_button(slack, fake_slack, people, setup, session):
    call, _ = next_call(fake_slack, "chat.postMessage", lambda: slack.command("/change", "Bigger logo",
                                                                             user=people.dev))
    notice_ts = call.response["ts"]
    [cr] = crs(session)
    reply, _ = next_call(fake_slack, "response_url", lambda: slack.action(
        ids.CHANGE_WITHDRAW, str(cr.id), user=people.dev, is_ephemeral=True))
    assert "withdrawn" in reply.params["text"]
    update = fake_slack.calls_to("chat.update")[-1]
    assert fake_slack.calls.index(update) > fake_slack.calls.index(reply)  # the author's answer first
    assert update.params["channel"] == "C0INTERNAL" and update.params["ts"] == notice_ts
    assert button_ids(update.params["blocks"]) == [] and "Withdrawn by <@U0DEV>" in json.dumps(update.params)
    reply, _ = next_call(fake_slack, "response_url", lambda: slack.action(
        ids.CHANGE_ASSESS, str(cr.id), user=people.pm, channel_id="C0INTERNAL"))
    assert "already *Withdrawn*" in reply.params["text"] and crs(session)[0].status == "withdrawn"


@pytest.mark.parametrize("version", [2**63, -1, "9" * 30])
def test_a_reject_form_whose_version_was_tampered_with_decides_nothing(flow, fake_slack, people, setup, session,
                                                                        version, caplog):
    """private_metadata is the client's to send back: a version no row can hold (past SQLite's
    INTEGER, found by the hostile-views property test on a request not assessed yet) is refused
    like any bad version, with an answer, never an error."""
    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    meta = {"cr_id": cr_id, "version": version, "channel": "C0CLIENT"}
    resp = flow.submit(ids.CHANGE_REJECT_MODAL, {ids.CHANGE_BLOCK_REJECT_REASON: {V: p.plain_text("No")}},
                       user=people.client, private_metadata=json.dumps(meta))
    assert resp.status_code == 200
    assert crs(session)[0].status == "submitted"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
