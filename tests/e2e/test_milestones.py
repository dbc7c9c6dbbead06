"""`/milestone` end to end: add, list with progress and status, update, mark done."""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlmodel import select

from bot.blocks import ids
from bot.db import session_scope
from bot.models import ActivityLog, Milestone, Risk
from bot.services import milestones
from tests.fakes import payloads as p

V = ids.VALUE


def ms_values(name: str = "Beta release", due: str | None = "2026-12-01", progress: str | None = "40",
              description: str | None = None) -> dict:
    return {
        ids.MILESTONE_BLOCK_NAME: {V: p.plain_text(name)},
        ids.MILESTONE_BLOCK_DUE: {V: p.datepicker(due)},
        ids.MILESTONE_BLOCK_PROGRESS: {V: p.number(progress)},
        ids.MILESTONE_BLOCK_DESCRIPTION: {V: p.plain_text(description)},
    }


def edit_values(due: str = "2026-12-01", progress: str | None = "40", done: bool = False) -> dict:
    return {
        ids.MILESTONE_BLOCK_DUE: {V: p.datepicker(due)},
        ids.MILESTONE_BLOCK_PROGRESS: {V: p.number(progress)},
        ids.MILESTONE_BLOCK_DONE: {V: p.checkboxes([ids.MILESTONE_DONE_OPTION] if done else [])},
    }


def next_call(fake, method: str, action):
    before = len(fake.calls_to(method))
    result = action()
    return fake.wait_for(method, before + 1)[before], result


def all_milestones(session) -> list[Milestone]:
    session.expire_all()
    return list(session.exec(select(Milestone).order_by(Milestone.id)))


def test_add_a_milestone_from_the_modal(slack, fake_slack, people, make_project, session):
    make_project()
    opened, _ = next_call(fake_slack, "views.open", lambda: slack.command("/milestone", "", user=people.dev,
                                                                         channel_id="C0INTERNAL"))
    view = opened.params["view"]
    assert view["callback_id"] == ids.MILESTONE_MODAL
    due = next(b for b in view["blocks"] if b["block_id"] == ids.MILESTONE_BLOCK_DUE)
    assert due["element"]["initial_date"] == "2026-11-18"  # today, in Asia/Shanghai
    told, resp = next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.MILESTONE_MODAL, ms_values("Beta <!channel>"), user=people.dev, private_metadata=view["private_metadata"]))
    assert resp.status_code == 200 and not resp.content.strip(b"{}")
    [m] = all_milestones(session)
    assert (m.name, m.due_date, m.progress, m.created_by) == ("Beta <!channel>", date(2026, 12, 1), 40, "U0DEV")
    assert told.params["channel"] == "C0INTERNAL" and "▓▓▓▓░░░░░░ 40%" in told.params["text"]
    assert "&lt;!channel&gt;" in told.params["text"]
    [entry] = session.exec(select(ActivityLog).where(ActivityLog.entity_type == "milestone"))
    assert entry.action == "created" and entry.after["due_date"] == "2026-12-01"


def test_bad_input_is_answered_inline(slack, people, make_project, session):
    project = make_project()
    meta = json.dumps({"project_id": project.id, "origin_channel": "C0CLIENT"})
    resp = slack.submit(ids.MILESTONE_MODAL, ms_values("  ", due=None, progress="150"), user=people.pm,
                        private_metadata=meta)
    errors = resp.json()["errors"]
    assert set(errors) == {ids.MILESTONE_BLOCK_NAME, ids.MILESTONE_BLOCK_DUE, ids.MILESTONE_BLOCK_PROGRESS}
    assert "0 to 100" in errors[ids.MILESTONE_BLOCK_PROGRESS]
    assert all_milestones(session) == []


def test_a_past_due_date_is_saved_only_after_the_warning(slack, fake_slack, people, make_project, session):
    project = make_project()
    meta = json.dumps({"project_id": project.id, "origin_channel": "C0CLIENT"})
    past = ms_values("Kick-off", due="2026-11-10")
    resp = slack.submit(ids.MILESTONE_MODAL, past, user=people.pm, private_metadata=meta, view_id="V0FORM1")
    warning = resp.json()["errors"][ids.MILESTONE_BLOCK_DUE]
    assert "2026-11-10 is already in the past" in warning and "Submit again" in warning
    assert all_milestones(session) == []
    # another date in the past is warned about again
    other = ms_values("Kick-off", due="2026-11-11")
    resp = slack.submit(ids.MILESTONE_MODAL, other, user=people.pm, private_metadata=meta, view_id="V0FORM1")
    assert resp.json()["response_action"] == "errors"
    # a different form (or person) is warned on its own
    resp = slack.submit(ids.MILESTONE_MODAL, past, user=people.pm, private_metadata=meta, view_id="V0FORM2")
    assert resp.json()["response_action"] == "errors"
    # the same form submitted again unchanged is saved
    _told, resp = next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.MILESTONE_MODAL, past, user=people.pm, private_metadata=meta, view_id="V0FORM1"))
    assert not resp.content.strip(b"{}")
    [m] = all_milestones(session)
    assert m.due_date == date(2026, 11, 10)


def test_team_only(slack, fake_slack, people, make_project, session):
    project = make_project()
    assert "Only members" in slack.command("/milestone", "", user=people.guest).json()["text"]
    assert "Only members" in slack.command("/milestone", "list", user=people.client).json()["text"]
    meta = json.dumps({"project_id": project.id, "origin_channel": "C0CLIENT"})
    resp = slack.submit(ids.MILESTONE_MODAL, ms_values(), user=people.outsider, private_metadata=meta)
    assert "Only members" in resp.json()["errors"][ids.MILESTONE_BLOCK_NAME]
    assert "/milestone list" in slack.command("/milestone", "help", user=people.client).json()["text"]
    assert all_milestones(session) == [] and fake_slack.calls_to("views.open") == []


def test_list_shows_progress_due_date_and_status(slack, fake_slack, people, make_project, engine, clock):
    project = make_project()
    with session_scope(engine) as s:
        def add(name, due, progress, created=None):
            m = milestones.create(s, clock, project=project, actor="U0PM", allow_past_due=True,
                                  data=milestones.MilestoneInput(name=name, due_date=due, progress=str(progress)))
            if created:
                m.created_at = created
            return m
        add("Design", "2026-11-10", 100)
        add("Beta", "2026-11-20", 50, created=clock.now() - timedelta(days=18))  # 18/20 = 90 % expected
        risky = add("Launch", "2027-02-01", 10)
        add("Docs", "2027-01-10", 0)
        done = add("Kick-off", "2026-10-01", 100)
        done.done = True
        s.add(Risk(project_id=project.id, title="Payment provider", probability=4, impact=4, milestone_id=risky.id))
    call, _ = next_call(fake_slack, "response_url", lambda: slack.command("/milestone", "list", user=people.pm))
    blocks = call.params["blocks"]
    lines = [b["text"]["text"] for b in blocks if b["type"] == "section"][1:]
    assert [line.split("*")[1] for line in lines] == ["Design", "Beta", "Docs", "Launch", "Kick-off"]
    assert "Late" in lines[0] and "8 days overdue" in lines[0] and "▓▓▓▓▓▓▓▓▓▓ 100%" in lines[0]
    assert "At risk" in lines[1] and "▓▓▓▓▓░░░░░ 50%" in lines[1] and "in 2 days" in lines[1]
    assert "On track" in lines[2] and "░░░░░░░░░░ 0%" in lines[2]
    assert "At risk" in lines[3]  # the open high risk
    assert "Done" in lines[4]
    assert all(b["accessory"]["action_id"] == ids.MILESTONE_EDIT for b in blocks if b["type"] == "section"
               and "accessory" in b)


def test_update_from_the_list_marks_done_and_logs_it(slack, fake_slack, people, make_project, engine, clock,
                                                     session):
    project = make_project(language="zh-CN")
    fake_slack.add_user(people.dev.id, name=people.dev.name, locale="zh-CN")  # the form is read in their language
    with session_scope(engine) as s:
        m = milestones.create(s, clock, project=project, actor="U0PM",
                              data=milestones.MilestoneInput(name="Beta", due_date="2026-12-01", progress="40"))
    opened, _ = next_call(fake_slack, "views.open", lambda: slack.action(
        ids.MILESTONE_EDIT, str(m.id), user=people.dev, channel_id="C0INTERNAL", is_ephemeral=True))
    view = opened.params["view"]
    assert view["callback_id"] == ids.MILESTONE_EDIT_MODAL and view["title"]["text"] == "更新里程碑"
    told, resp = next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.MILESTONE_EDIT_MODAL, edit_values("2026-12-03", "70", done=True), user=people.dev,
        private_metadata=view["private_metadata"]))
    assert not resp.content.strip(b"{}")
    assert "已完成" in told.params["text"]
    [m] = all_milestones(session)
    assert m.done and m.progress == 100 and m.due_date == date(2026, 12, 3)
    log = list(session.exec(select(ActivityLog).where(ActivityLog.entity_type == "milestone")
                            .order_by(ActivityLog.id)))
    assert [e.action for e in log] == ["created", "milestone_done", "edited"]
    assert log[1].actor_user_id == "U0DEV" and log[2].after == {"due_date": "2026-12-03"}
    # a guest cannot press the button (told in their own Slack language, English)
    reply, _ = next_call(fake_slack, "response_url", lambda: slack.action(
        ids.MILESTONE_EDIT, str(m.id), user=people.guest, is_ephemeral=True))
    assert "Only members of the team" in reply.params["text"]


def test_milestone_update_command_picks_then_edits(slack, fake_slack, people, make_project, engine, clock,
                                                   session):
    project = make_project()
    with session_scope(engine) as s:
        m = milestones.create(s, clock, project=project, actor="U0PM",
                              data=milestones.MilestoneInput(name="Beta", due_date="2026-12-01"))
    opened, _ = next_call(fake_slack, "views.open", lambda: slack.command("/milestone", "update", user=people.pm))
    view = opened.params["view"]
    assert view["callback_id"] == ids.MILESTONE_PICK_MODAL
    resp = slack.submit(ids.MILESTONE_PICK_MODAL, {ids.MILESTONE_BLOCK_PICK: {V: p.static_select(str(m.id))}},
                        user=people.pm, private_metadata=view["private_metadata"])
    body = resp.json()
    assert body["response_action"] == "update" and body["view"]["callback_id"] == ids.MILESTONE_EDIT_MODAL
    edit = body["view"]
    due = next(b for b in edit["blocks"] if b.get("block_id") == ids.MILESTONE_BLOCK_DUE)
    assert due["element"]["initial_date"] == "2026-12-01"
    resp = slack.submit(ids.MILESTONE_EDIT_MODAL, edit_values(progress="abc"), user=people.pm,
                        private_metadata=edit["private_metadata"])
    assert ids.MILESTONE_BLOCK_PROGRESS in resp.json()["errors"]
    _told, resp = next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.MILESTONE_EDIT_MODAL, edit_values(progress="65"), user=people.pm,
        private_metadata=edit["private_metadata"]))
    [m] = all_milestones(session)
    assert m.progress == 65 and not m.done
    # a milestone of another project cannot be picked through a forged value
    other = make_project("Other", client_channel_id="C0OTHER", internal_channel_id=None)
    with session_scope(engine) as s:
        foreign = milestones.create(s, clock, project=other, actor="U0PM",
                                    data=milestones.MilestoneInput(name="Foreign", due_date="2026-12-01"))
    resp = slack.submit(ids.MILESTONE_PICK_MODAL, {ids.MILESTONE_BLOCK_PICK: {V: p.static_select(str(foreign.id))}},
                        user=people.pm, private_metadata=view["private_metadata"])
    assert resp.json()["response_action"] == "errors"


def test_list_pages_ten_at_a_time(slack, fake_slack, people, make_project, engine, clock):
    project = make_project()
    with session_scope(engine) as s:
        for i in range(12):
            milestones.create(s, clock, project=project, actor="U0PM", data=milestones.MilestoneInput(
                name=f"M{i:02d}", due_date=(date(2027, 1, 1) + timedelta(days=i)).isoformat()))
    call, _ = next_call(fake_slack, "response_url", lambda: slack.command("/milestone", "list", user=people.pm))
    text = json.dumps(call.params["blocks"])
    assert "M09" in text and "M10" not in text and "Page 1 of 2" in text
    nxt = next(e for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"])
    reply, _ = next_call(fake_slack, "response_url", lambda: slack.action(
        nxt["action_id"], nxt["value"], user=people.pm, is_ephemeral=True))
    page2 = json.dumps(reply.params["blocks"])
    assert "M10" in page2 and "M11" in page2 and "M09" not in page2
    # the page button of another channel's project is refused
    reply, _ = next_call(fake_slack, "response_url", lambda: slack.action(
        nxt["action_id"], nxt["value"], user=people.pm, channel_id="C0OTHER", is_ephemeral=True))
    assert "no longer exists" in reply.params["text"]


def test_outside_a_project_channel(slack, fake_slack, people, make_project, session):
    project = make_project()
    assert "/project setup" in slack.command("/milestone", "list", user=people.pm, channel_id="C0OTHER").json()["text"]
    opened, _ = next_call(fake_slack, "views.open", lambda: slack.command("/milestone", "", user=people.pm,
                                                                         channel_id="DU0PM"))
    view = opened.params["view"]
    assert view["blocks"][0]["block_id"] == "project"
    values = {**ms_values("Go live", due="2027-03-01"), "project": {V: p.static_select(str(project.id))}}
    next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.MILESTONE_MODAL, values, user=people.pm, private_metadata=view["private_metadata"]))
    assert [m.name for m in all_milestones(session)] == ["Go live"]
