"""Milestone acceptance (验收) end to end: signed requests in, recorded Slack calls and stored rows
out. Request from `/milestone list` and after *Mark done*, the client's Accept / Report issues,
request again, the acceptance record, auto-accept on the scheduler's tick with a controlled
clock, and refusals for everyone who may not act."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from bot.blocks import ids
from bot.clock import FrozenClock
from bot.db import session_scope
from bot.jobs.scheduler import tick
from bot.models import Acceptance, AcceptanceIssue, ActivityLog, FeedbackPrompt, Milestone, Project
from bot.services import milestones
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, OTHER_ORG, START
from tests.e2e.helpers import project_values
from tests.fakes import payloads as p

V = ids.VALUE


def done_milestone(engine, project, name: str = "Beta release", *, done_at: datetime | None = None) -> Milestone:
    """A milestone marked done through the service (long ago by default: only what the test
    does can prompt for feedback)."""
    at = FrozenClock(done_at or START - timedelta(days=20))
    with session_scope(engine) as s:
        proj = s.get(Project, project.id)
        m = milestones.create(s, at, project=proj, actor="U0PM", allow_past_due=True, data=milestones.MilestoneInput(
            name=name, due_date="2026-11-01", progress="80"))
        milestones.update(s, at, project=proj, milestone=m, actor="U0PM", change=milestones.MilestoneChange(done=True))
        s.expunge(m)
        return m


def buttons(blocks: list[dict]) -> dict[str, str]:
    """action_id → value of every button drawn."""
    out = {}
    for b in blocks:
        for e in b.get("elements", []) if b.get("type") == "actions" else []:
            out[e["action_id"]] = e["value"]
        if b.get("accessory", {}).get("type") == "button":
            out[b["accessory"]["action_id"]] = b["accessory"]["value"]
    return out


def text_of(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def acc_of(session, milestone_id: int) -> Acceptance | None:
    session.expire_all()
    return session.exec(select(Acceptance).where(Acceptance.milestone_id == milestone_id)).first()


def log_actions(session, milestone_id: int) -> list[ActivityLog]:
    session.expire_all()
    return list(session.exec(select(ActivityLog).where(ActivityLog.entity_type == "milestone",
                                                       ActivityLog.entity_id == milestone_id)
                             .order_by(ActivityLog.id)))


def posts_to(fake, channel: str) -> list:
    return [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == channel]


def request_acceptance(slack, fake, user, milestone_id: int, delivery: str = "Checkout with Alipay, on staging",
                       link: str = "https://staging.example.com/checkout", *, channel: str = INTERNAL_CHANNEL):
    """Click *Request acceptance* and submit its form; the delivery posted to the client channel."""
    before_views, before_posts = len(fake.calls_to("views.open")), len(posts_to(fake, CLIENT_CHANNEL))
    slack.action(ids.ACC_REQUEST, str(milestone_id), user=user, channel_id=channel)
    view = fake.wait_for("views.open", before_views + 1)[-1].params["view"]
    assert view["callback_id"] == ids.ACC_REQUEST_MODAL
    resp = slack.submit(ids.ACC_REQUEST_MODAL, {ids.ACC_BLOCK_DELIVERY: {V: p.plain_text(delivery)},
                                                ids.ACC_BLOCK_LINK: {V: p.plain_text(link)}},
                        user=user, private_metadata=view["private_metadata"])
    assert resp.status_code == 200 and not resp.content.strip(b"{}"), resp.text
    eventually(lambda: len(posts_to(fake, CLIENT_CHANNEL)) > before_posts)
    return posts_to(fake, CLIENT_CHANNEL)[-1], view


def eventually(check, timeout: float = 5.0):
    """Poll until `check()` is truthy (the bot answers Slack before it finishes delivering)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.02)


def last_response(fake, count: int) -> dict:
    return fake.wait_for("response_url", count)[-1].params


# Request, accept ---------------------------------------------------------------------------------


def test_request_from_the_list_then_the_client_accepts(slack, fake_slack, people, make_project, engine, session):
    project = make_project()
    m = done_milestone(engine, project)
    slack.command("/milestone", "list", user=people.dev, channel_id=INTERNAL_CHANNEL)
    listed = last_response(fake_slack, 1)
    assert buttons(listed["blocks"])[ids.ACC_REQUEST] == str(m.id)

    post, view = request_acceptance(slack, fake_slack, people.dev, m.id, delivery="Checkout <!channel> *done*")
    assert "Beta release" in text_of(view["blocks"])
    blocks = post.params["blocks"]
    shown = text_of(blocks)
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown
    assert "<https://staging.example.com/checkout>" in shown and "<@U0CLIENT>" in shown
    acc = acc_of(session, m.id)
    assert (acc.status, acc.round, acc.requested_by) == ("requested", 1, "U0DEV")
    assert buttons(blocks)[ids.ACC_ACCEPT] == ids.decision_value(acc.id, acc.version)
    # the request's ts is kept, so the message is updated in place
    ts = eventually(lambda: acc_of(session, m.id).message_ts)
    assert ts

    value = buttons(blocks)[ids.ACC_ACCEPT]
    before = len(fake_slack.calls)
    slack.action(ids.ACC_ACCEPT, value, user=people.client, channel_id=CLIENT_CHANNEL)
    assert "Thank you! *Beta release* is accepted." in last_response(fake_slack, 2)["text"]  # to the client only
    answered, updated = (next(i for i, c in enumerate(fake_slack.calls[before:]) if c.method == m)
                         for m in ("response_url", "chat.update"))
    assert answered < updated  # the client's answer first: it says what was recorded
    update = fake_slack.wait_for("chat.update")[-1].params
    assert update["ts"] == ts and update["channel"] == CLIENT_CHANNEL
    assert "Accepted" in text_of(update["blocks"]) and ids.ACC_ACCEPT not in buttons(update["blocks"])
    acc = acc_of(session, m.id)
    assert (acc.status, acc.decided_by, acc.decided_on_behalf, acc.auto_accepted) == (
        "accepted", "U0CLIENT", False, False)
    assert acc.decided_at == START
    [notice] = eventually(lambda: [c for c in posts_to(fake_slack, INTERNAL_CHANNEL) if "accepted" in c.params["text"]])
    assert "Beta release" in notice.params["text"]
    entries = [e.action for e in log_actions(session, m.id)]
    assert entries[-2:] == ["acceptance_requested", "milestone_accepted"]

    # a second click (the old rendering) changes nothing and shows the request as it is now
    n = len(fake_slack.calls_to("response_url"))
    slack.action(ids.ACC_ACCEPT, value, user=people.client, channel_id=CLIENT_CHANNEL)
    answer = last_response(fake_slack, n + 1)
    assert "Nothing was recorded" in answer["text"] and "already accepted" in answer["text"]
    assert len([e for e in log_actions(session, m.id) if e.action == "milestone_accepted"]) == 1

    # the milestone shows accepted in the list, with its record
    n = len(fake_slack.calls_to("response_url"))
    slack.command("/milestone", "list", user=people.dev, channel_id=INTERNAL_CHANNEL)
    listed = last_response(fake_slack, n + 1)
    assert "*Accepted* by <@U0CLIENT>" in text_of(listed["blocks"])
    assert ids.ACC_REQUEST not in buttons(listed["blocks"]) and ids.ACC_EXPORT in buttons(listed["blocks"])


def test_mark_done_offers_request_acceptance(slack, fake_slack, people, make_project, engine):
    project = make_project()
    with session_scope(engine) as s:
        m = milestones.create(s, FrozenClock(START), project=s.get(Project, project.id), actor="U0PM",
                              data=milestones.MilestoneInput(name="Launch", due_date="2026-12-01", progress="50"))
        m_id, version = m.id, m.version
    stamp = {"version": version, "fields": {"due_date": "2026-12-01", "progress": 50, "done": False}}
    slack.submit(ids.MILESTONE_EDIT_MODAL, {
        ids.MILESTONE_BLOCK_DUE: {V: p.datepicker("2026-12-01")}, ids.MILESTONE_BLOCK_PROGRESS: {V: p.number("50")},
        ids.MILESTONE_BLOCK_DONE: {V: p.checkboxes([ids.MILESTONE_DONE_OPTION])}},
        user=people.dev, private_metadata=json.dumps({"milestone_id": m_id, "origin_channel": INTERNAL_CHANNEL,
                                                      "stamp": stamp}))
    told = fake_slack.wait_for("chat.postEphemeral")[-1].params
    assert buttons(told["blocks"])[ids.ACC_REQUEST] == str(m_id)


def test_the_pm_accepts_on_behalf_of_the_client(slack, fake_slack, people, make_project, engine, session):
    project = make_project()
    m = done_milestone(engine, project)
    post, _ = request_acceptance(slack, fake_slack, people.dev, m.id)
    slack.action(ids.ACC_ACCEPT, buttons(post.params["blocks"])[ids.ACC_ACCEPT], user=people.pm,
                 channel_id=CLIENT_CHANNEL)
    answer = last_response(fake_slack, 1)
    assert "on behalf of the client" in answer["text"]
    acc = acc_of(session, m.id)
    assert (acc.status, acc.decided_by, acc.decided_on_behalf) == ("accepted", "U0PM", True)
    [entry] = [e for e in log_actions(session, m.id) if e.action == "milestone_accepted"]
    assert entry.on_behalf_of_client is True
    update = fake_slack.wait_for("chat.update")[-1].params
    assert "<@U0PM> on behalf of the client" in text_of(update["blocks"])


# Issues, request again, the record --------------------------------------------------------------


def test_issues_then_request_again_then_accept_and_export(slack, fake_slack, people, make_project, engine, session):
    project = make_project()
    m = done_milestone(engine, project)
    post, _ = request_acceptance(slack, fake_slack, people.dev, m.id)
    report = buttons(post.params["blocks"])[ids.ACC_REPORT_ISSUES]
    slack.action(ids.ACC_REPORT_ISSUES, report, user=people.client, channel_id=CLIENT_CHANNEL)
    view = fake_slack.wait_for("views.open", 2)[-1].params["view"]
    assert view["callback_id"] == ids.ACC_ISSUES_MODAL

    empty = slack.submit(ids.ACC_ISSUES_MODAL, {ids.ACC_BLOCK_ISSUES: {V: p.plain_text("  \n ")}},
                         user=people.client, private_metadata=view["private_metadata"])
    assert "at least one issue" in empty.json()["errors"][ids.ACC_BLOCK_ISSUES]
    assert acc_of(session, m.id).status == "requested"

    resp = slack.submit(ids.ACC_ISSUES_MODAL, {ids.ACC_BLOCK_ISSUES: {V: p.plain_text(
        "- Receipt e-mail is English only\n2. Refund <@U0PM> button missing\n")}},
        user=people.client, private_metadata=view["private_metadata"])
    assert resp.status_code == 200 and not resp.content.strip(b"{}"), resp.text
    acc = acc_of(session, m.id)
    assert (acc.status, acc.decided_by) == ("issues_reported", "U0CLIENT")
    issues = list(session.exec(select(AcceptanceIssue).order_by(AcceptanceIssue.id)))
    assert [i.text for i in issues] == ["Receipt e-mail is English only", "Refund <@U0PM> button missing"]
    update = fake_slack.wait_for("chat.update")[-1].params
    assert "Receipt e-mail is English only" in text_of(update["blocks"])
    assert ids.ACC_ACCEPT not in buttons(update["blocks"])
    [notice] = eventually(lambda: [c for c in posts_to(fake_slack, INTERNAL_CHANNEL) if "issue" in c.params["text"]])
    shown = text_of(notice.params["blocks"])
    assert "Refund &lt;@U0PM&gt; button missing" in shown and "<@U0PM> button" not in shown
    assert buttons(notice.params["blocks"])[ids.ACC_REQUEST] == str(m.id)

    # the milestone lists the open issues and offers to ask again
    slack.command("/milestone", "list", user=people.dev, channel_id=INTERNAL_CHANNEL)
    listed = fake_slack.wait_for("response_url", 1)[-1].params
    assert "Issues reported" in text_of(listed["blocks"]) and "Receipt e-mail" in text_of(listed["blocks"])
    assert ids.ACC_REQUEST in buttons(listed["blocks"])

    post2, view2 = request_acceptance(slack, fake_slack, people.dev, m.id, delivery="Both fixed", link="")
    assert "Receipt e-mail is English only" in text_of(view2["blocks"])  # the form lists what it resolves
    assert post2.params["channel"] == CLIENT_CHANNEL and post2 is not post
    acc = acc_of(session, m.id)
    assert (acc.status, acc.round, acc.delivery, acc.link) == ("requested", 2, "Both fixed", None)
    session.expire_all()
    assert all(i.resolved_by == "U0DEV" and i.resolved_at == START
               for i in session.exec(select(AcceptanceIssue)))

    # the first request's Accept (an older version) changes nothing: the request as it is now is shown
    n = len(fake_slack.calls_to("response_url"))
    old_accept = buttons(post.params["blocks"])[ids.ACC_ACCEPT]
    slack.action(ids.ACC_ACCEPT, old_accept, user=people.client, channel_id=CLIENT_CHANNEL)
    stale = last_response(fake_slack, n + 1)
    assert "changed since you saw it" in stale["text"] and "Both fixed" in text_of(stale["blocks"])
    assert buttons(stale["blocks"])[ids.ACC_ACCEPT] == buttons(post2.params["blocks"])[ids.ACC_ACCEPT] != old_accept
    assert acc_of(session, m.id).status == "requested"

    slack.action(ids.ACC_ACCEPT, buttons(post2.params["blocks"])[ids.ACC_ACCEPT], user=people.client,
                 channel_id=CLIENT_CHANNEL)
    assert eventually(lambda: acc_of(session, m.id).status == "accepted")

    # the record, for invoicing: by DM, as Markdown
    slack.action(ids.ACC_EXPORT, str(m.id), user=people.pm, channel_id=INTERNAL_CHANNEL)
    fake_slack.wait_for("files.completeUploadExternal")
    [(name, data)] = fake_slack.uploaded_files()
    md = data.decode("utf-8")
    assert name.endswith(".md") and "Acceptance record" in md
    assert "Both fixed" in md and "**Accepted**" in md and "Accepted: chris.client, 2026-11-18 18:00" in md
    assert "- [x] Receipt e-mail is English only" in md and "resolved by dana.dev on 2026-11-18 18:00" in md
    assert "Refund \\<@U0PM\\> button missing" in md  # user text neutralised for Markdown
    assert "acceptance requested · dana.dev — Checkout with Alipay, on staging" in md  # the first round's delivery
    assert "issues reported · chris.client" in md


# Refusals ---------------------------------------------------------------------------------------


def test_people_who_may_not_act_are_refused_and_nothing_changes(slack, fake_slack, people, make_project, engine,
                                                                 session):
    project = make_project()
    m = done_milestone(engine, project)
    # the client side may not request acceptance
    slack.action(ids.ACC_REQUEST, str(m.id), user=people.client, channel_id=CLIENT_CHANNEL)
    assert "team" in last_response(fake_slack, 1)["text"]
    slack.action(ids.ACC_REQUEST, str(m.id), user=people.guest, channel_id=CLIENT_CHANNEL)
    last_response(fake_slack, 2)
    assert fake_slack.calls_to("views.open") == [] and acc_of(session, m.id) is None

    post, _ = request_acceptance(slack, fake_slack, people.dev, m.id)
    accept = buttons(post.params["blocks"])[ids.ACC_ACCEPT]
    report = buttons(post.params["blocks"])[ids.ACC_REPORT_ISSUES]
    views = len(fake_slack.calls_to("views.open"))
    for n, user in enumerate((people.outsider, people.dev, people.guest)):
        slack.action(ids.ACC_ACCEPT, accept, user=user, channel_id=CLIENT_CHANNEL)
        assert "approver" in last_response(fake_slack, 3 + 2 * n)["text"]
        slack.action(ids.ACC_REPORT_ISSUES, report, user=user, channel_id=CLIENT_CHANNEL)
        assert "approver" in last_response(fake_slack, 4 + 2 * n)["text"]
    assert len(fake_slack.calls_to("views.open")) == views
    # a forged form submission is refused too
    acc = acc_of(session, m.id)
    resp = slack.submit(ids.ACC_ISSUES_MODAL, {ids.ACC_BLOCK_ISSUES: {V: p.plain_text("x")}}, user=people.outsider,
                        private_metadata=json.dumps({"acc_id": acc.id, "version": acc.version}))
    assert "approver" in resp.json()["errors"][ids.ACC_BLOCK_ISSUES]
    # asking again while it awaits the client is refused
    slack.action(ids.ACC_REQUEST, str(m.id), user=people.dev, channel_id=INTERNAL_CHANNEL)
    assert "already awaiting" in last_response(fake_slack, 9)["text"]
    acc = acc_of(session, m.id)
    assert (acc.status, acc.version, acc.decided_by) == ("requested", 1, None)
    assert fake_slack.calls_to("chat.update") == []
    # another project's channel cannot reach it
    slack.action(ids.ACC_ACCEPT, accept, user=people.client, channel_id="C0OTHER")
    last_response(fake_slack, 10)
    assert acc_of(session, m.id).status == "requested"
    # nor can a form naming a milestone of a project whose channels the person is not in
    other = make_project("Beta Portal", client_channel_id="C0BCLIENT", internal_channel_id="C0BINTERNAL",
                         pm_user_id="U0PMB", client_approver_ids=["U0CLIENTB"])
    theirs = done_milestone(engine, other, "Their launch")
    resp = slack.submit(ids.ACC_REQUEST_MODAL, {ids.ACC_BLOCK_DELIVERY: {V: p.plain_text("Sneaky")}},
                        user=people.dev, private_metadata=json.dumps({"milestone_id": theirs.id}))
    assert "no longer exists" in resp.json()["errors"][ids.ACC_BLOCK_DELIVERY]
    assert acc_of(session, theirs.id) is None


def test_a_milestone_not_done_cannot_be_sent(slack, fake_slack, people, make_project, engine):
    project = make_project()
    with session_scope(engine) as s:
        m = milestones.create(s, FrozenClock(START), project=s.get(Project, project.id), actor="U0PM",
                              data=milestones.MilestoneInput(name="Launch", due_date="2026-12-01"))
        m_id = m.id
    slack.action(ids.ACC_REQUEST, str(m_id), user=people.dev, channel_id=INTERNAL_CHANNEL)
    assert "not done yet" in last_response(fake_slack, 1)["text"]
    assert fake_slack.calls_to("views.open") == []


# Auto-accept, with a controlled clock -------------------------------------------------------------

# Wednesday 18 November 2026, 18:00 in Shanghai (START) is when the request is sent.
THU_1100 = datetime(2026, 11, 19, 3, 0, tzinfo=UTC)
FRI_1100 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
SAT_1100 = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
MON_0830 = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
MON_1000 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_auto_accept_after_n_working_days_warned_one_day_before(slack, fake_slack, people, make_project, engine,
                                                                session, deps, clock):
    project = make_project()
    # the PM turns it on in the project's settings (`/project edit`)
    slack.command("/project", "edit", user=people.pm, channel_id=CLIENT_CHANNEL)
    form = fake_slack.wait_for("views.open")[-1].params["view"]
    setting = next(b for b in form["blocks"] if b["block_id"] == ids.PROJECT_BLOCK_AUTO_ACCEPT)
    assert setting["element"]["initial_option"]["value"] == "0"  # off by default
    assert "After 3 working days" in text_of(setting["element"]["options"])
    resp = slack.submit(ids.PROJECT_MODAL, {**project_values(), ids.PROJECT_BLOCK_AUTO_ACCEPT: {
        V: p.static_select("3")}}, user=people.pm, private_metadata=form["private_metadata"])
    assert resp.status_code == 200 and not resp.content.strip(b"{}"), resp.text
    assert session.get(Project, project.id).auto_accept_after_days == 3
    shown = slack.command("/project", "show", user=people.pm, channel_id=CLIENT_CHANNEL)
    assert "After 3 working days" in shown.text
    m = done_milestone(engine, project)
    post, view = request_acceptance(slack, fake_slack, people.dev, m.id)
    assert "3 working days" in text_of(view["blocks"])
    assert "accepted automatically on Mon, Nov 23, 2026" in text_of(post.params["blocks"])
    ts = eventually(lambda: acc_of(session, m.id).message_ts)

    def thread_posts():
        return [c for c in posts_to(fake_slack, CLIENT_CHANNEL) if c.params.get("thread_ts") == ts]

    for moment in (START, THU_1100):
        clock.set(moment)
        tick(deps, moment)
    assert thread_posts() == [] and acc_of(session, m.id).status == "requested"

    clock.set(FRI_1100)  # one working day before
    tick(deps, FRI_1100)
    [warning] = thread_posts()
    assert "accepted automatically on Mon, Nov 23, 2026" in warning.params["text"]
    clock.advance(hours=2)
    tick(deps, clock.now())
    assert len(thread_posts()) == 1  # exactly once

    for moment in (SAT_1100, MON_0830):  # the weekend and before working hours: nothing
        clock.set(moment)
        tick(deps, moment)
    assert acc_of(session, m.id).status == "requested"

    clock.set(MON_1000)
    tick(deps, MON_1000)
    acc = acc_of(session, m.id)
    assert (acc.status, acc.auto_accepted, acc.decided_by, acc.decided_at) == ("accepted", True, "pmbot", MON_1000)
    update = fake_slack.wait_for("chat.update")[-1].params
    assert update["ts"] == ts and "*Accepted* automatically" in text_of(update["blocks"])
    assert any("accepted automatically" in c.params["text"] for c in posts_to(fake_slack, INTERNAL_CHANNEL))
    updates = len(fake_slack.calls_to("chat.update"))
    clock.advance(minutes=1)
    tick(deps, clock.now())
    assert len([e for e in log_actions(session, m.id) if e.action == "milestone_accepted"]) == 1
    # acceptance prompts for satisfaction (the milestone was done weeks ago: that alone no longer does)
    session.expire_all()
    [prompt] = session.exec(select(FeedbackPrompt))
    assert prompt.trigger == "milestone"
    assert len(fake_slack.calls_to("chat.update")) >= updates


def test_acceptance_respects_the_feedback_cooldown(slack, fake_slack, people, make_project, engine, session, deps,
                                                  clock):
    project = make_project()
    with session_scope(engine) as s:
        s.add(FeedbackPrompt(project_id=project.id, question="How are we doing?", created_at=START - timedelta(days=3)))
    m = done_milestone(engine, project)
    post, _ = request_acceptance(slack, fake_slack, people.dev, m.id)
    slack.action(ids.ACC_ACCEPT, buttons(post.params["blocks"])[ids.ACC_ACCEPT], user=people.client,
                 channel_id=CLIENT_CHANNEL)
    fake_slack.wait_for("chat.update")
    clock.set(THU_1100)
    tick(deps, THU_1100)
    session.expire_all()
    assert len(list(session.exec(select(FeedbackPrompt)))) == 1  # within the cooldown: no new prompt


def test_auto_accept_is_off_by_default(slack, fake_slack, people, make_project, engine, session, deps, clock):
    project = make_project()
    m = done_milestone(engine, project)
    request_acceptance(slack, fake_slack, people.dev, m.id)
    clock.set(datetime(2026, 12, 30, 3, 0, tzinfo=UTC))
    tick(deps, clock.now())
    assert acc_of(session, m.id).status == "requested"


# Simplified Chinese --------------------------------------------------------------------------------


def test_in_simplified_chinese(slack, fake_slack, people, make_project, engine, session):
    project = make_project(language="zh-CN")
    for person in (people.dev, people.client):  # answers and forms follow one's own Slack (issue 17)
        fake_slack.add_user(person.id, team_id=OTHER_ORG if person is people.client else None, name=person.name,
                            locale="zh-CN")
    m = done_milestone(engine, project, name="测试版")
    post, view = request_acceptance(slack, fake_slack, people.dev, m.id, delivery="支付功能")
    assert view["title"]["text"] == "提交验收"
    shown = text_of(post.params["blocks"])
    assert "交付验收" in shown and "请您验收" in shown
    assert {e["text"]["text"] for b in post.params["blocks"] if b.get("type") == "actions"
            for e in b["elements"]} == {"验收通过", "反馈问题"}
    slack.action(ids.ACC_ACCEPT, buttons(post.params["blocks"])[ids.ACC_ACCEPT], user=people.client,
                 channel_id=CLIENT_CHANNEL)
    assert "谢谢您" in last_response(fake_slack, 1)["text"]
    update = fake_slack.wait_for("chat.update")[-1].params
    assert "验收通过" in text_of(update["blocks"])
    [notice] = eventually(lambda: posts_to(fake_slack, INTERNAL_CHANNEL))
    assert "客户已验收" in notice.params["text"]


# The digest and the App Home ------------------------------------------------------------------------


def test_digest_and_app_home_show_what_awaits_and_what_was_accepted(slack, fake_slack, people, make_project, engine,
                                                                     session):
    project = make_project(client_approver_ids=["U0CLIENT", "U0DEV"])  # a team member stands in for the client
    m = done_milestone(engine, project)
    request_acceptance(slack, fake_slack, people.pm, m.id)
    acc = acc_of(session, m.id)
    shown_value = ids.decision_value(acc.id, acc.version)

    slack.command("/digest", "preview", user=people.pm)
    preview = last_response(fake_slack, 1)
    assert "Deliveries awaiting your acceptance" in text_of(preview["blocks"])
    assert buttons(preview["blocks"])[ids.ACC_ACCEPT] == shown_value

    slack.event({"type": "app_home_opened", "user": "U0DEV", "tab": "home", "channel": "DU0DEV", "event_ts": "1.0"})
    home = fake_slack.wait_for("views.publish")[-1].params["view"]
    assert "Delivery awaiting your acceptance: *Beta release*" in text_of(home["blocks"])
    assert buttons(home["blocks"])[ids.ACC_ACCEPT] == shown_value

    # accepted from the App Home (recorded on behalf of the client: a team member)
    slack.action(ids.ACC_ACCEPT, shown_value, user=people.dev, channel_id=None,
                 view={"id": "V0HOME", "type": "home", "callback_id": ""})
    assert eventually(lambda: acc_of(session, m.id).status == "accepted")
    acc = acc_of(session, m.id)
    assert (acc.decided_by, acc.decided_on_behalf) == ("U0DEV", True)

    slack.command("/digest", "preview", user=people.pm)
    preview = last_response(fake_slack, 2)
    assert "Accepted this week" in text_of(preview["blocks"]) and "Beta release" in text_of(preview["blocks"])
    assert ids.ACC_ACCEPT not in buttons(preview["blocks"])
    n = len(fake_slack.calls_to("views.publish"))
    slack.event({"type": "app_home_opened", "user": "U0DEV", "tab": "home", "channel": "DU0DEV", "event_ts": "2.0"})
    home = fake_slack.wait_for("views.publish", n + 1)[-1].params["view"]
    assert "Accepted this week: Beta release" in text_of(home["blocks"])


def test_an_issues_form_sent_after_the_delivery_was_accepted_records_nothing(slack, fake_slack, people, make_project,
                                                                             engine, session):
    project = make_project()
    m = done_milestone(engine, project)
    post, _ = request_acceptance(slack, fake_slack, people.dev, m.id)
    blocks = post.params["blocks"]
    slack.action(ids.ACC_REPORT_ISSUES, buttons(blocks)[ids.ACC_REPORT_ISSUES], user=people.client,
                 channel_id=CLIENT_CHANNEL)
    form = fake_slack.wait_for("views.open", 2)[-1].params["view"]
    slack.action(ids.ACC_ACCEPT, buttons(blocks)[ids.ACC_ACCEPT], user=people.pm, channel_id=CLIENT_CHANNEL)
    assert eventually(lambda: acc_of(session, m.id).status == "accepted")
    resp = slack.submit(ids.ACC_ISSUES_MODAL, {ids.ACC_BLOCK_ISSUES: {V: p.plain_text("Too late")}},
                        user=people.client, private_metadata=form["private_metadata"])
    assert "already accepted" in resp.json()["errors"][ids.ACC_BLOCK_ISSUES]
    session.expire_all()
    assert list(session.exec(select(AcceptanceIssue))) == []
    assert acc_of(session, m.id).decided_by == "U0PM"


# One unit of work per request (issue 10) ----------------------------------------------------------


def test_each_acceptance_request_opens_one_session_scope(slack, fake_slack, people, make_project, engine, session,
                                                         bolt_app):
    from tests.fakes.scopes import count_scopes

    project = make_project()
    m = done_milestone(engine, project)
    slack.action(ids.ACC_REQUEST, str(m.id), user=people.dev, channel_id=INTERNAL_CHANNEL)
    view = fake_slack.wait_for("views.open")[-1].params["view"]
    with count_scopes(bolt_app) as scopes:
        resp = slack.submit(ids.ACC_REQUEST_MODAL, p.as_shown(view, {ids.ACC_BLOCK_DELIVERY: p.plain_text("Done")}),
                            user=people.dev, private_metadata=view["private_metadata"], blocks=view["blocks"])
    assert resp.status_code == 200 and scopes.count == 1, scopes.where
    acc = acc_of(session, m.id)
    with count_scopes(bolt_app) as scopes:
        slack.action(ids.ACC_ACCEPT, ids.decision_value(acc.id, acc.version), user=people.client)
        last_response(fake_slack, 1)
    assert scopes.count == 1, scopes.where
    assert acc_of(session, m.id).status == "accepted"
