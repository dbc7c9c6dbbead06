"""Issue 10, for change requests: the record stays exactly what the client agreed to.

- A client's *Approve* acts only on the version of the request it showed: once the team revised
  the assessment, an older Approve (the approval message not refreshed yet, the digest, the App
  Home, a reject form opened earlier) is refused with the request as it stands now, nothing is
  decided, and the approval message is refreshed. The current version decides as before.
- The approval message always ends as a rendering of the current record, also when its
  updates fail and are retried after later changes.
- A team member listed as a client approver decides *on behalf of* the client, and every
  message and the log say so.
- Each click or form opens exactly one session scope.
"""

from __future__ import annotations

import json
import time
from datetime import date

from sqlmodel import select

from bot.blocks import ids
from bot.models import ActivityLog, Milestone, Outbox
from tests.conftest import TEAM
from tests.e2e import test_changes as base
from tests.e2e.test_changes import assess, assess_values, button_ids, crs, fresh, next_call, raise_from_intake
from tests.fakes import payloads as p

V = ids.VALUE
flow, setup = base.flow, base.setup  # the fixtures of the `/change` tests


def showing(fake, ts: str, action_id: str = ids.CHANGE_APPROVE, channel: str = "C0CLIENT") -> str:
    """The value of a button of the message at `ts` as Slack shows it now (what a click sends)."""
    return next(iter(buttons(fake.message(channel, ts)["blocks"], action_id)))


def buttons(blocks: list[dict], action_id: str) -> list[str]:
    return [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id]


def client_updates(fake) -> list:
    return [c for c in fake.calls_to("chat.update") if c.ok and c.params["channel"] == "C0CLIENT"]


def revise(slack, fake, people, cr_id: int, *, user=None, **values) -> dict:
    """The team revises the assessment from `/change list` (*Revise assessment*); returns the
    form's metadata as it was opened."""
    user = user or people.pm
    name = f"revise-{len(fake.calls)}"  # this list's own response_url: a late answer to an earlier
    slack._post(p.slash_command("/change", "list", user=user, channel_id="C0INTERNAL",  # click is not
                                team_id=TEAM, response_url=fake.response_url(name), trigger_id=name))  # taken for it
    deadline = time.monotonic() + 10
    while not (mine := [c for c in fake.calls_to("response_url") if c.params.get("_name") == name]):
        assert time.monotonic() < deadline, "the list was never answered"
        time.sleep(0.02)
    call = mine[0]
    [value] = [v for v in buttons(call.params["blocks"], ids.CHANGE_ASSESS) if v == str(cr_id)]
    opened, _ = next_call(fake, "views.open", lambda: slack.action(ids.CHANGE_ASSESS, value, user=user,
                                                                  channel_id="C0INTERNAL", is_ephemeral=True))
    return opened.params["view"]


def submit_revision(slack, fake, people, view: dict, *, user=None, **values):
    user = user or people.pm
    before = len(fake.calls_to("chat.postEphemeral"))
    form = assess_values(**values)
    if ids.CHANGE_BLOCK_SHARE_COST not in [b.get("block_id") for b in view["blocks"]]:
        form.pop(ids.CHANGE_BLOCK_SHARE_COST)
    resp = slack.submit(ids.CHANGE_ASSESS_MODAL, form, user=user, private_metadata=view["private_metadata"])
    if resp.content.strip(b"{}"):
        return resp
    fake.wait_for("chat.postEphemeral", before + 1)
    return resp


def test_approve_on_an_older_assessment_is_refused_everywhere_and_the_current_one_decides(
        flow, fake_slack, people, setup, session):
    slack = flow
    cr_id = raise_from_intake(slack, fake_slack, people, setup)
    assess(slack, fake_slack, people, cr_id, days="5", milestones_=[setup["beta"]])
    ts = crs(session)[0].approval_ts
    old_approve = showing(fake_slack, ts)
    old_reject = showing(fake_slack, ts, ids.CHANGE_REJECT)
    assert ids.parse_decision_value(old_approve) == (cr_id, crs(session)[0].version)  # the version shown
    # The digest carries Approve too, and so does the client approver's App Home.
    slack.command("/digest", "send", user=people.pm)
    digest = next(c for c in fake_slack.wait_for("chat.postMessage", 3) if c.params["channel"] == "C0CLIENT"
                  and ids.CHANGE_APPROVE in button_ids(c.params.get("blocks") or []))
    [digest_approve] = buttons(digest.params["blocks"], ids.CHANGE_APPROVE)
    slack.event({"type": "app_home_opened", "user": "U0CLIENT", "tab": "home", "channel": "DU0CLIENT",
                 "event_ts": "1.0"})
    home = fake_slack.wait_for("views.publish")[0]
    [home_approve] = buttons(home.params["view"]["blocks"], ids.CHANGE_APPROVE)
    assert old_approve == digest_approve == home_approve
    # The client opens the reject form on what they see now.
    opened, _ = next_call(fake_slack, "views.open", lambda: slack.action(
        ids.CHANGE_REJECT, old_reject, user=people.client, message_ts=ts))
    reject_form = opened.params["view"]

    # The team revises the assessment: ten days instead of five.
    view = revise(slack, fake_slack, people, cr_id)
    schedule = next(b for b in view["blocks"] if b.get("block_id") == ids.CHANGE_BLOCK_SCHEDULE)
    assert schedule["element"]["initial_value"] == "5"  # the form shows the current assessment
    updates = len(client_updates(fake_slack))
    submit_revision(slack, fake_slack, people, view, days="10", milestones_=[setup["beta"]])
    cr = crs(session)[0]
    assert cr.status == "assessed" and cr.schedule_impact_days == 10
    # The approval message is updated in place with the new assessment and new buttons.
    refreshed = fake_slack.wait_for("chat.update", len(fake_slack.calls_to("chat.update")))  # settled
    assert refreshed and len(client_updates(fake_slack)) == updates + 1
    now_shown = fake_slack.message("C0CLIENT", ts)
    assert "+10 days" in json.dumps(now_shown["blocks"]) and "+5 days" not in json.dumps(now_shown["blocks"])
    current = showing(fake_slack, ts)
    assert current == ids.decision_value(cr_id, cr.version) != old_approve

    # An Approve drawn before the revision is refused wherever it was drawn; nothing is decided.
    for where, value, extra in (("message not refreshed yet", old_approve, {"message_ts": ts}),
                                ("digest", digest_approve, {"message_ts": digest.response["ts"]})):
        before = len(client_updates(fake_slack))
        reply, _ = next_call(fake_slack, "response_url", lambda v=value, e=extra: slack.action(
            ids.CHANGE_APPROVE, v, user=people.client, **e))
        text = json.dumps(reply.params, ensure_ascii=False)
        assert "changed since you saw it" in reply.params["text"], where
        assert "+10 days" in text and buttons(reply.params["blocks"], ids.CHANGE_APPROVE) == [current], where
        assert reply.params.get("replace_original") in (False, "false", None)
        slack.settle()
        assert len(client_updates(fake_slack)) == before + 1, where  # the approval message is refreshed
        assert fake_slack.message("C0CLIENT", ts)["blocks"] == now_shown["blocks"]
    publishes = len(fake_slack.calls_to("views.publish"))
    dm, _ = next_call(fake_slack, "chat.postMessage", lambda: slack.action(
        ids.CHANGE_APPROVE, home_approve, user=people.client, response_url=None,
        view={"id": "VHOME", "type": "home", "callback_id": "", "state": {"values": {}}}))
    assert "changed since you saw it" in dm.params["text"] and dm.params["channel"] == "DU0CLIENT"
    fake_slack.wait_for("views.publish", publishes + 1)  # the App Home is drawn again, current
    assert buttons(fake_slack.calls_to("views.publish")[-1].params["view"]["blocks"], ids.CHANGE_APPROVE) == [current]
    # A reject form opened on the older version is refused next to its field.
    resp = slack.submit(ids.CHANGE_REJECT_MODAL, {ids.CHANGE_BLOCK_REJECT_REASON: {V: p.plain_text("Too slow")}},
                        user=people.client, private_metadata=reject_form["private_metadata"])
    body = resp.json()
    assert body["response_action"] == "errors"
    assert "changed since you opened this form" in body["errors"][ids.CHANGE_BLOCK_REJECT_REASON]
    assert "+10 days" in body["errors"][ids.CHANGE_BLOCK_REJECT_REASON]
    cr = crs(session)[0]
    assert cr.status == "assessed" and cr.decided_by is None
    assert session.get(Milestone, setup["beta"]).due_date == date(2026, 12, 1)
    assert fresh(session, select(ActivityLog).where(ActivityLog.action.in_(["approved", "rejected"]))) == []

    # The current version decides as before, and the plan moves by the revised impact.
    reply, _ = next_call(fake_slack, "response_url", lambda: slack.action(
        ids.CHANGE_APPROVE, current, user=people.client, message_ts=ts))
    assert reply.params["text"].startswith("You approved") and "2026-12-01 → 2026-12-11" in reply.params["text"]
    cr = crs(session)[0]
    assert cr.status == "approved" and cr.decided_by == people.client.id and not cr.decided_on_behalf
    assert session.get(Milestone, setup["beta"]).due_date == date(2026, 12, 11)
    fake_slack.wait_for("chat.update", len(fake_slack.calls_to("chat.update")))
    final = fake_slack.message("C0CLIENT", ts)
    assert button_ids(final["blocks"]) == [] and "Approved by <@U0CLIENT>" in json.dumps(final["blocks"])
    actions = [e.action for e in fresh(session, select(ActivityLog).where(ActivityLog.entity_type == "change_request")
                                       .order_by(ActivityLog.id))]
    assert actions == ["submitted", "assessed", "reassessed", "approved"]


def test_a_revision_from_an_older_form_keeps_what_others_changed_and_answers_collisions_inline(
        flow, fake_slack, people, setup, session):
    slack = flow
    cr_id = raise_from_intake(slack, fake_slack, people, setup)
    assess(slack, fake_slack, people, cr_id, days="5", effort="16", milestones_=[setup["beta"]])
    older = revise(slack, fake_slack, people, cr_id, user=people.dev)
    newer = revise(slack, fake_slack, people, cr_id, user=people.pm)
    submit_revision(slack, fake_slack, people, newer, user=people.pm, days="7", effort="16",
                    milestones_=[setup["beta"]])
    # The older form changes the effort only: the days the PM set stay.
    submit_revision(slack, fake_slack, people, older, user=people.dev, days="5", effort="20",
                    milestones_=[setup["beta"]])
    cr = crs(session)[0]
    assert cr.schedule_impact_days == 7 and str(cr.effort_hours) in ("20", "20.00")
    # Changing the days from the older form collides with the PM's change: answered at the field.
    resp = submit_revision(slack, fake_slack, people, older, user=people.dev, days="3", effort="20",
                           milestones_=[setup["beta"]])
    body = resp.json()
    assert body["response_action"] == "errors" and set(body["errors"]) == {ids.CHANGE_BLOCK_SCHEDULE}
    assert "changed this meanwhile" in body["errors"][ids.CHANGE_BLOCK_SCHEDULE]
    assert "+7" in body["errors"][ids.CHANGE_BLOCK_SCHEDULE]
    assert crs(session)[0].schedule_impact_days == 7


def test_the_final_approval_message_equals_the_record_after_failed_updates(
        flow, fake_slack, people, setup, session, deps, clock):
    """Updates of the approval message fail while the assessment is revised and the request
    approved; retried later, the message ends as a rendering of the current record."""
    from bot.db import session_scope
    from bot.flows import changes as flows
    from bot.flows.delivery import deliver_due
    from bot.flows.outbox_keys import parse_target

    slack = flow
    cr_id = raise_from_intake(slack, fake_slack, people, setup)
    assess(slack, fake_slack, people, cr_id, days="5", milestones_=[setup["beta"]])
    ts = crs(session)[0].approval_ts
    fake_slack.fail("chat.update", error="internal_error")  # the revision's update of the approval message
    view = revise(slack, fake_slack, people, cr_id)
    submit_revision(slack, fake_slack, people, view, days="10", milestones_=[setup["beta"]])
    assert "+5 days" in json.dumps(fake_slack.message("C0CLIENT", ts)["blocks"])  # not refreshed yet
    current = ids.decision_value(cr_id, crs(session)[0].version)  # e.g. from the refreshed list
    reply, _ = next_call(fake_slack, "response_url", lambda: slack.action(
        ids.CHANGE_APPROVE, current, user=people.client, is_ephemeral=True))
    assert reply.params["text"].startswith("You approved")
    for _ in range(5):
        clock.advance(hours=1)
        deliver_due(deps)
    with session_scope(deps.engine) as s:
        drawn = flows.draw_approval(s, parse_target(flows.approval_target(cr_id)))
        pending = s.exec(select(Outbox).where(Outbox.target == flows.approval_target(cr_id),
                                              Outbox.status != "sent")).all()
    assert pending == []
    shown = fake_slack.message("C0CLIENT", ts)
    assert shown["blocks"] == drawn.payload["blocks"] and shown["text"] == drawn.payload["text"]
    assert "+10 days" in json.dumps(shown["blocks"]) and button_ids(shown["blocks"]) == []
    assert "Approved by <@U0CLIENT>" in json.dumps(shown["blocks"])


def test_a_team_member_listed_as_client_approver_decides_on_behalf_of_the_client(
        flow, fake_slack, people, setup, session, engine):
    from bot.db import session_scope
    from bot.models import Project

    with session_scope(engine) as s:
        project = s.get(Project, setup["project"].id)
        project.client_approver_ids = [people.client.id, people.dev.id]
        s.add(project)
    slack = flow
    cr_id = raise_from_intake(slack, fake_slack, people, setup)
    assess(slack, fake_slack, people, cr_id, days="5", milestones_=[setup["beta"]])
    ts = crs(session)[0].approval_ts
    reply, _ = next_call(fake_slack, "response_url", lambda: slack.action(
        ids.CHANGE_APPROVE, showing(fake_slack, ts), user=people.dev, message_ts=ts))
    assert "on behalf of the client" in reply.params["text"]
    cr = crs(session)[0]
    assert cr.status == "approved" and cr.decided_by == people.dev.id and cr.decided_on_behalf
    [entry] = fresh(session, select(ActivityLog).where(ActivityLog.action == "approved"))
    assert entry.on_behalf_of_client
    slack.settle()
    assert "Approved by <@U0DEV> on behalf of the client" in json.dumps(fake_slack.message("C0CLIENT", ts)["blocks"])
    told = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0INTERNAL"][-1]
    assert "on behalf of the client" in told.params["text"]


def test_each_click_and_form_opens_one_session_scope(flow, fake_slack, people, setup, session, deps):
    slack = flow
    cr_id = raise_from_intake(slack, fake_slack, people, setup)
    opened = {"n": 0}
    real = type(deps).session

    def counting(self):
        opened["n"] += 1
        return real(self)

    def scopes(action) -> int:
        opened["n"] = 0
        action()
        return opened["n"]

    deps.session = counting.__get__(deps)  # the sender's own transactions do not go through here
    try:
        view, _ = next_call(fake_slack, "views.open", lambda: slack.action(
            ids.CHANGE_ASSESS, str(cr_id), user=people.dev, channel_id="C0INTERNAL"))
        assert opened["n"] == 1
        n = scopes(lambda: next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
            ids.CHANGE_ASSESS_MODAL, assess_values(milestones_=[setup["beta"]]), user=people.dev,
            private_metadata=view.params["view"]["private_metadata"])))
        assert n == 1
        ts = crs(session)[0].approval_ts
        old = ids.decision_value(cr_id, 1)
        assert scopes(lambda: next_call(fake_slack, "response_url", lambda: slack.action(
            ids.CHANGE_APPROVE, old, user=people.client, message_ts=ts))) == 1  # stale: refused
        assert scopes(lambda: next_call(fake_slack, "views.open", lambda: slack.action(
            ids.CHANGE_REJECT, showing(fake_slack, ts, ids.CHANGE_REJECT), user=people.client,
            message_ts=ts))) == 1
        assert scopes(lambda: next_call(fake_slack, "response_url", lambda: slack.action(
            ids.CHANGE_APPROVE, showing(fake_slack, ts), user=people.client, message_ts=ts))) == 1
        assert scopes(lambda: next_call(fake_slack, "response_url", lambda: slack.command(
            "/change", "list", user=people.pm))) == 1
        assert scopes(lambda: slack.command("/change", "Quick one", user=people.dev)) == 1
    finally:
        del deps.session
    assert crs(session)[0].status == "approved"
