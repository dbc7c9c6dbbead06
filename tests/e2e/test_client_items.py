"""`/client` end to end: what we need from the client, through signed requests, with the fake
Slack Web API recording what was sent and a controlled clock (START: Wednesday 18 November 2026,
18:00 in Shanghai)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from bot.blocks import ids
from bot.db import session_scope
from bot.flows.digest import run_due as run_digests
from bot.flows.reminders import send_nudges as run_nudges
from bot.flows.reminders import send_reminders as run_reminders
from bot.models import ActivityLog, ClientItem, ClientItemExtension, Milestone, Project
from bot.services import client_items, export_changes, milestones
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, OTHER_ORG
from tests.fakes import payloads as p

V = ids.VALUE
FRIDAY_1000_SHANGHAI = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def items(session) -> list[ClientItem]:
    return list(session.exec(select(ClientItem).order_by(ClientItem.id)))


def log_of(session, item_id: int) -> list[str]:
    return [e.action for e in session.exec(select(ActivityLog).where(
        ActivityLog.entity_type == "client_item", ActivityLog.entity_id == item_id).order_by(ActivityLog.id))]


def buttons(blocks: list[dict]) -> list[str]:
    return [e["action_id"] for b in blocks if b.get("type") == "actions" for e in b["elements"]]


def value_of(blocks: list[dict], action_id: str) -> str:
    return next(e["value"] for b in blocks if b.get("type") == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


def block_id_of(blocks: list[dict], action_id: str) -> str:
    return next(b["block_id"] for b in blocks if b.get("type") == "actions"
                for e in b["elements"] if e["action_id"] == action_id)


def posts(fake_slack, channel: str = CLIENT_CHANNEL) -> list[dict]:
    return [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == channel]


def dms(fake_slack, user: str) -> list[dict]:
    return [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == f"D{user}"]


@pytest.fixture
def project(make_project):
    return make_project()


@pytest.fixture
def add_item(engine, clock, project):
    """An item straight through the service (when capturing it is not what a test is about)."""

    def add(title: str = "Logo files in SVG", *, due: str = "2026-11-19", owner: str = "U0CLIENT",
            milestone_id: int | None = None, proj: Project | None = None) -> ClientItem:
        with session_scope(engine) as s:
            pr = s.get(Project, (proj or project).id)
            return client_items.create(s, clock, project=pr, actor="U0PM", owners=None, data=client_items.ItemInput(
                title=title, owner_user_id=owner, due_date=due, milestone_id=milestone_id))

    return add


def quick(slack, people, text: str = "Logo files in SVG", user=None) -> dict:
    return slack.command("/client", text, user=user or people.dev).json()


# Capture ---------------------------------------------------------------------------------------


def test_form_offers_client_side_owners_and_posts_the_item_in_the_client_channel(slack, fake_slack, people, session,
                                                                                 project, engine, clock):
    with session_scope(engine) as s:
        ms = milestones.create(s, clock, project=s.get(Project, project.id), actor="U0PM",
                               data=milestones.MilestoneInput(name="Launch", due_date="2026-12-30", progress="10"))
    slack.command("/client", "", user=people.dev)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ids.CLIENT_MODAL
    owner = next(b for b in view["blocks"] if b.get("block_id") == ids.CLIENT_BLOCK_OWNER)
    offered = [o["value"] for o in owner["element"]["options"]]
    assert offered[0] == "U0CLIENT" and set(offered) == {"U0CLIENT", "U0OUTSIDER", "U0GUEST"}  # no team member
    due = next(b for b in view["blocks"] if b.get("block_id") == ids.CLIENT_BLOCK_DUE)
    assert due["element"]["initial_date"] == "2026-11-23"  # 3 working days after Wednesday

    values = {ids.CLIENT_BLOCK_TITLE: {V: p.plain_text("Test accounts <!channel>")},
              ids.CLIENT_BLOCK_DETAILS: {V: p.plain_text("Two staging users, please.")},
              ids.CLIENT_BLOCK_OWNER: {V: p.static_select("U0OUTSIDER")},
              ids.CLIENT_BLOCK_DUE: {V: p.datepicker("2026-11-25")},
              ids.CLIENT_BLOCK_MILESTONE: {V: p.static_select(str(ms.id))}}
    resp = slack.submit(ids.CLIENT_MODAL, values, user=people.dev, private_metadata=view["private_metadata"])
    assert not resp.content or "errors" not in resp.json()
    told = fake_slack.wait_for("chat.postEphemeral")[0].params
    [item] = items(session)
    assert (item.title, item.owner_user_id, item.due_date, item.milestone_id, item.status) == (
        "Test accounts <!channel>", "U0OUTSIDER", date(2026, 11, 25), ms.id, "open")
    assert log_of(session, item.id) == ["created"]
    assert f"CI-{item.id}" in told["text"] and buttons(told["blocks"]) == [ids.CLIENT_RECEIVED, ids.CLIENT_CANCEL]
    [post] = posts(fake_slack)
    shown = json.dumps([b for b in post["blocks"] if b["type"] != "actions"])  # mrkdwn; the dialog is plain text
    assert "<@U0OUTSIDER>" in shown and "Test accounts &lt;!channel&gt;" in shown and "<!channel>" not in shown
    assert "Launch" in shown
    assert buttons(post["blocks"]) == [ids.CLIENT_DONE, ids.CLIENT_MORE_TIME, ids.CLIENT_RECEIVED, ids.CLIENT_CANCEL]
    assert value_of(post["blocks"], ids.CLIENT_DONE) == f"{item.id}@{item.version}"
    assert session.get(ClientItem, item.id).message_ts  # kept for updates and threaded nudges


def test_form_errors_are_inline_and_nothing_is_stored(slack, people, session, project):
    meta = json.dumps({"project_id": project.id, "origin_channel": CLIENT_CHANNEL})
    base = {ids.CLIENT_BLOCK_TITLE: {V: p.plain_text("Copy texts")}, ids.CLIENT_BLOCK_OWNER: {V: p.static_select(
        "U0CLIENT")}, ids.CLIENT_BLOCK_DUE: {V: p.datepicker("2026-11-25")}}
    for change, block in [({ids.CLIENT_BLOCK_OWNER: {V: p.static_select("U0DEV")}}, ids.CLIENT_BLOCK_OWNER),
                          ({ids.CLIENT_BLOCK_DUE: {V: p.datepicker("2026-11-17")}}, ids.CLIENT_BLOCK_DUE),
                          ({ids.CLIENT_BLOCK_TITLE: {V: p.plain_text("  ")}}, ids.CLIENT_BLOCK_TITLE)]:
        body = slack.submit(ids.CLIENT_MODAL, {**base, **change}, user=people.dev, private_metadata=meta).json()
        assert body["response_action"] == "errors" and list(body["errors"]) == [block], block
    assert items(session) == []


def test_quick_item_is_owned_by_the_first_approver_and_due_in_three_working_days(slack, fake_slack, people, session,
                                                                                 project):
    body = quick(slack, people, "Brand guidelines &amp; fonts")
    [item] = items(session)
    assert (item.title, item.owner_user_id, item.due_date) == ("Brand guidelines & fonts", "U0CLIENT",
                                                               date(2026, 11, 23))
    assert body["response_type"] == "ephemeral" and f"CI-{item.id}" in body["text"]
    assert "<@U0CLIENT>" in posts(fake_slack)[0]["text"]


def test_quick_item_respects_the_project_holidays(slack, people, session, make_project, engine):
    project = make_project()
    with session_scope(engine) as s:
        s.get(Project, project.id).holidays = ["2026-11-19", "2026-11-20"]
    quick(slack, people)
    assert items(session)[0].due_date == date(2026, 11, 25)  # Mon, Tue, Wed


def test_guests_and_clients_may_not_use_the_command(slack, fake_slack, people, session, project):
    for user in (people.guest, people.client, people.outsider):
        for text in ("", "Logo", "list", "export"):
            before = len(fake_slack.calls_to("response_url"))
            resp = slack.command("/client", text, user=user)
            said = resp.json()["text"] if resp.content else ""
            if text in ("", "export"):  # answered by response_url after the acknowledgement
                said = fake_slack.wait_for("response_url", before + 1)[-1].params["text"]
            assert "Only members" in said, (user.id, text)
    assert items(session) == [] and fake_slack.calls_to("views.open") == []


# The client's side and the team's ------------------------------------------------------------


def test_client_marks_done_once_and_the_message_is_updated_in_place(slack, fake_slack, people, session, project):
    quick(slack, people)
    [post] = posts(fake_slack)
    [item] = items(session)
    done = value_of(post["blocks"], ids.CLIENT_DONE)
    before = len(fake_slack.calls)
    slack.action(ids.CLIENT_DONE, done, user=people.client, block_id=block_id_of(post["blocks"], ids.CLIENT_DONE))
    said = fake_slack.wait_for("response_url")[-1].params["text"]
    assert "Thank you" in said
    after = [c.method for c in fake_slack.calls[before:]]
    assert after.index("response_url") < after.index("chat.update")  # the client's answer first
    item = session.get(ClientItem, item.id)
    assert (item.status, item.closed_by, item.closed_how, item.closed_on_behalf) == ("done", "U0CLIENT", "done", False)
    assert log_of(session, item.id) == ["created", "done"]
    update = fake_slack.wait_for("chat.update")[-1].params
    assert update["ts"] == item.message_ts and buttons(update["blocks"]) == []
    assert "Marked done by <@U0CLIENT>" in json.dumps(update["blocks"])
    assert any("marked" in m["text"] for m in posts(fake_slack, INTERNAL_CHANNEL))
    # the same (now old) button again: nothing changes, the person is told it is done already
    slack.action(ids.CLIENT_DONE, done, user=people.client)
    assert "Marked done" in fake_slack.wait_for("response_url", 2)[-1].params["text"]
    assert log_of(session, item.id) == ["created", "done"]


def test_pm_marks_done_on_behalf_of_the_client(slack, fake_slack, people, session, project):
    quick(slack, people)
    [item] = items(session)
    slack.action(ids.CLIENT_DONE, f"{item.id}@{item.version}", user=people.pm)
    assert "on behalf of the client" in fake_slack.wait_for("response_url")[-1].params["text"]
    item = session.get(ClientItem, item.id)
    assert item.status == "done" and item.closed_on_behalf is True
    entry = session.exec(select(ActivityLog).where(ActivityLog.entity_id == item.id,
                                                   ActivityLog.action == "done")).one()
    assert entry.on_behalf_of_client is True


def test_people_who_may_not_act_are_refused_and_nothing_changes(slack, fake_slack, people, session, project):
    quick(slack, people)
    [item] = items(session)
    value = f"{item.id}@{item.version}"
    slack.action(ids.CLIENT_DONE, value, user=people.dev)  # a team member, neither PM nor owner
    assert "client's side" in fake_slack.wait_for("response_url", 1)[-1].params["text"]
    slack.action(ids.CLIENT_MORE_TIME, value, user=people.dev)
    assert "client's side" in fake_slack.wait_for("response_url", 2)[-1].params["text"]
    for action in (ids.CLIENT_RECEIVED, ids.CLIENT_CANCEL):
        for n, user in enumerate((people.client, people.guest), start=1):
            before = len(fake_slack.calls_to("response_url"))
            slack.action(action, value, user=user)
            assert "Only members" in fake_slack.wait_for("response_url", before + 1)[-1].params["text"], (action, n)
    assert session.get(ClientItem, item.id).status == "open" and log_of(session, item.id) == ["created"]
    assert fake_slack.calls_to("views.open") == []


def test_team_marks_received_or_cancels(slack, fake_slack, people, session, project, add_item):
    a, b = add_item("Copy texts"), add_item("Photos")
    slack.action(ids.CLIENT_RECEIVED, f"{a.id}@{a.version}", user=people.dev)
    slack.action(ids.CLIENT_CANCEL, f"{b.id}@{b.version}", user=people.pm)
    fake_slack.wait_for("response_url", 2)
    a, b = session.get(ClientItem, a.id), session.get(ClientItem, b.id)
    assert (a.status, a.closed_how, b.status, b.closed_how) == ("done", "received", "cancelled", "cancelled")
    assert log_of(session, a.id) == ["created", "received"] and log_of(session, b.id) == ["created", "cancelled"]


def test_need_more_time_keeps_every_extension_and_old_buttons_are_refused(slack, fake_slack, people, session, project):
    quick(slack, people)
    [post] = posts(fake_slack)
    [item] = items(session)
    old = value_of(post["blocks"], ids.CLIENT_MORE_TIME)
    slack.action(ids.CLIENT_MORE_TIME, old, user=people.client)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ids.CLIENT_EXTEND_MODAL
    # a date not after the current one is refused inline
    body = slack.submit(ids.CLIENT_EXTEND_MODAL, {ids.CLIENT_BLOCK_NEW_DUE: {V: p.datepicker("2026-11-23")}},
                        user=people.client, private_metadata=view["private_metadata"]).json()
    assert list(body["errors"]) == [ids.CLIENT_BLOCK_NEW_DUE]
    slack.submit(ids.CLIENT_EXTEND_MODAL, {ids.CLIENT_BLOCK_NEW_DUE: {V: p.datepicker("2026-11-30")},
                                           ids.CLIENT_BLOCK_NOTE: {V: p.plain_text("Designer is away")}},
                 user=people.client, private_metadata=view["private_metadata"])
    fake_slack.wait_for("chat.postEphemeral")
    item = session.get(ClientItem, item.id)
    assert item.status == "open" and item.due_date == date(2026, 11, 30)
    [ext] = session.exec(select(ClientItemExtension).where(ClientItemExtension.item_id == item.id))
    assert (ext.old_due_date, ext.new_due_date, ext.note, ext.by_user_id) == (
        date(2026, 11, 23), date(2026, 11, 30), "Designer is away", "U0CLIENT")
    assert log_of(session, item.id) == ["created", "extended"]
    update = fake_slack.wait_for("chat.update")[-1].params
    assert "Designer is away" in json.dumps(update["blocks"]) and value_of(update["blocks"], ids.CLIENT_DONE) == \
        f"{item.id}@{item.version}"
    # the Done button of the first rendering shows an older version: nothing changes
    slack.action(ids.CLIENT_DONE, value_of(post["blocks"], ids.CLIENT_DONE), user=people.client)
    assert "changed since" in fake_slack.wait_for("response_url")[-1].params["text"]
    assert session.get(ClientItem, item.id).status == "open"


# The list and the export ----------------------------------------------------------------------


def test_list_newest_due_first_with_filters_pages_and_the_viewers_buttons(slack, fake_slack, people, session, project,
                                                                         add_item):
    for n in range(11):
        add_item(f"Item {n:02d}", due=f"2026-12-{n + 1:02d}")
    done = add_item("Already there", due="2026-12-20")
    slack.action(ids.CLIENT_RECEIVED, f"{done.id}@{done.version}", user=people.dev)
    fake_slack.wait_for("response_url")
    body = slack.command("/client", "list", user=people.dev).json()
    text = json.dumps(body["blocks"])
    assert text.index("Item 10") < text.index("Item 09") and "Already there" not in text and "Item 00" not in text
    assert set(buttons(body["blocks"])) >= {ids.CLIENT_RECEIVED, ids.CLIENT_CANCEL}
    assert ids.CLIENT_DONE not in buttons(body["blocks"])  # not the client's side
    pager = next(e for b in body["blocks"] if b.get("type") == "actions" for e in b["elements"]
                 if e["action_id"].startswith(ids.CLIENT_LIST_PAGE))
    slack.action(pager["action_id"], pager["value"], user=people.dev)
    page2 = fake_slack.wait_for("response_url", 2)[-1].params
    assert "Item 00" in json.dumps(page2["blocks"])
    assert "Already there" in json.dumps(slack.command("/client", "list done", user=people.dev).json()["blocks"])
    pm_view = slack.command("/client", "list all", user=people.pm).json()
    assert ids.CLIENT_DONE in buttons(pm_view["blocks"])  # the PM acts on the client's behalf
    assert "`open`" in slack.command("/client", "list soon", user=people.dev).json()["text"]


def test_export_and_the_change_log_include_client_items(slack, fake_slack, people, session, project, add_item, engine):
    add_item("=HYPERLINK(\"http://evil\")")
    slack.command("/client", "export", user=people.dev)
    fake_slack.wait_for("files.completeUploadExternal")
    names = [name for name, _ in fake_slack.uploaded_files()]
    assert any(n.endswith(".md") for n in names) and any(n.endswith(".csv") for n in names)
    csv_text = next(data for name, data in fake_slack.uploaded_files() if name.endswith(".csv")).decode()
    assert "'=HYPERLINK" in csv_text
    with session_scope(engine) as s:
        pr = s.get(Project, project.id)
        md = export_changes.render(s, pr, "md")
        csv_log = export_changes.render(s, pr, "csv")
    assert "## Client items" in md and "CI-1" in md
    assert "CI-1" in csv_log and "'=HYPERLINK" in csv_log


# Overdue: nudges, escalation, the PM's reminder, the milestone at risk, the digest -------------


def test_overdue_item_is_nudged_in_its_thread_then_the_pm_is_told(slack, fake_slack, people, session, project, clock,
                                                                   deps):
    quick(slack, people)
    [item] = items(session)
    with session_scope(deps.engine) as s:  # due Thursday 19 November
        s.get(ClientItem, item.id).due_date = date(2026, 11, 19)
    clock.set(datetime(2026, 11, 19, 2, 0, tzinfo=UTC))  # the due date itself: not overdue
    assert run_nudges(deps) == []
    clock.set(FRIDAY_1000_SHANGHAI)
    assert run_nudges(deps) == [f"nudge:client:{item.id}:2026-11-19:1"]
    nudge = posts(fake_slack)[-1]
    assert nudge["thread_ts"] == session.get(ClientItem, item.id).message_ts
    assert "<@U0CLIENT>" in nudge["text"] and "Logo files in SVG" in nudge["text"]
    assert run_nudges(deps) == []
    clock.set(datetime(2026, 11, 21, 2, 0, tzinfo=UTC))  # Saturday: quiet
    assert run_nudges(deps) == []
    clock.set(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # Monday: 2 working days, next nudge after 3
    assert run_nudges(deps) == []
    clock.set(datetime(2026, 11, 25, 2, 0, tzinfo=UTC))  # Wednesday: 4 working days
    assert run_nudges(deps) == [f"nudge:client:{item.id}:2026-11-19:2"]
    clock.set(datetime(2026, 11, 26, 2, 0, tzinfo=UTC))  # Thursday: 5 working days, the threshold
    assert run_nudges(deps) == [f"escalate:client:{item.id}:2026-11-19"]
    [told] = dms(fake_slack, "U0PM")
    assert "Logo files in SVG" in told["text"] and "5 working days" in told["text"]


def test_pm_reminder_lists_overdue_items(deps, fake_slack, session, project, add_item, clock):
    add_item("Hosting credentials", due="2026-11-19")
    clock.set(datetime(2026, 11, 20, 1, 30, tzinfo=UTC))  # Friday 09:30 in Shanghai
    run_reminders(deps)
    [pm] = dms(fake_slack, "U0PM")
    assert "Hosting credentials" in json.dumps(pm["blocks"]) and "overdue" in json.dumps(pm["blocks"])


def test_overdue_item_blocking_a_milestone_puts_it_at_risk_and_the_digest_says_why(
        slack, fake_slack, people, session, project, add_item, clock, engine, deps):
    with session_scope(engine) as s:
        ms = milestones.create(s, clock, project=s.get(Project, project.id), actor="U0PM",
                               data=milestones.MilestoneInput(name="Launch", due_date="2027-01-29", progress="5"))
    item = add_item("Product photos", due="2026-11-19", milestone_id=ms.id)
    add_item("Legal texts", due="2026-12-04")
    with session_scope(engine) as s:
        assert milestones.statuses_for_project(s, project.id, date(2026, 11, 19))[ms.id] == "on_track"
        assert milestones.statuses_for_project(s, project.id, date(2026, 11, 20))[ms.id] == "at_risk"
    clock.set(datetime(2026, 11, 20, 8, 30, tzinfo=UTC))  # Friday 16:30 in Shanghai: the digest is due
    run_digests(deps)
    [digest] = [m for m in posts(fake_slack) if "What we need from you" in json.dumps(m["blocks"])]
    shown = json.dumps(digest["blocks"])
    assert "Product photos" in shown and "Legal texts" in shown and "overdue since" in shown
    assert "puts milestone *Launch* at risk" in shown
    assert shown.index("Waiting for your decision") < shown.index("What we need from you")  # next to it
    assert buttons(digest["blocks"]).count(ids.CLIENT_DONE) == 2
    assert f"{item.id}@{item.version}" in [value_of([b], ids.CLIENT_DONE) for b in digest["blocks"]
                                          if b.get("type") == "actions" and ids.CLIENT_DONE in buttons([b])]
    [internal] = [m for m in posts(fake_slack, INTERNAL_CHANNEL) if "What we need from the client" in
                  json.dumps(m["blocks"])]
    assert ids.CLIENT_DONE not in buttons(internal["blocks"])
    # a click from the digest acts like the one on the item's own message
    slack.action(ids.CLIENT_DONE, f"{item.id}@{item.version}", user=people.client,
                 block_id=f"{ids.CLIENT_ITEM_BLOCK}:{item.id}:digest")
    fake_slack.wait_for("response_url")
    assert session.get(ClientItem, item.id).status == "done"
    with session_scope(engine) as s:
        assert milestones.statuses_for_project(s, project.id, date(2026, 11, 20))[ms.id] == "on_track"
    assert session.get(Milestone, ms.id).done is False


# Simplified Chinese ----------------------------------------------------------------------------


def test_chinese_project_speaks_chinese_to_the_client(slack, fake_slack, people, session, make_project):
    make_project(language="zh-CN")
    fake_slack.add_user(people.dev.id, name=people.dev.name, locale="zh-CN")  # answers follow one's own Slack
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    body = quick(slack, people, "测试账号")
    assert "已发布到" in body["text"]
    [post] = posts(fake_slack)
    assert "我们需要您提供以下内容" in json.dumps(post["blocks"], ensure_ascii=False)
    labels = [e["text"]["text"] for b in post["blocks"] if b.get("type") == "actions" for e in b["elements"]]
    assert labels[:2] == ["已完成", "需要更多时间"]
    [item] = items(session)
    slack.action(ids.CLIENT_DONE, f"{item.id}@{item.version}", user=people.client)
    assert "谢谢您" in fake_slack.wait_for("response_url")[-1].params["text"]
    help_text = slack.command("/client", "help", user=people.dev).json()["text"]
    assert "/client list" in help_text and "客户" in help_text


# One unit of work per click and per form (issue 10) -----------------------------------------------


def test_each_click_and_form_opens_one_session_scope(slack, fake_slack, people, session, project, bolt_app):
    from tests.fakes.scopes import count_scopes

    quick(slack, people)
    quick(slack, people, "Photos")
    a, b = items(session)
    with count_scopes(bolt_app) as scopes:
        response = slack.action(ids.CLIENT_DONE, f"{a.id}@{a.version}", user=people.client)
    assert response.status_code == 200 and scopes.count == 1, scopes.where
    with count_scopes(bolt_app) as scopes:
        slack.action(ids.CLIENT_RECEIVED, f"{b.id}@{b.version}", user=people.dev)
    assert scopes.count == 1, scopes.where
    meta = json.dumps({"project_id": project.id, "origin_channel": CLIENT_CHANNEL})
    with count_scopes(bolt_app) as scopes:
        slack.submit(ids.CLIENT_MODAL, {ids.CLIENT_BLOCK_TITLE: {V: p.plain_text("Sign-off")},
                                        ids.CLIENT_BLOCK_OWNER: {V: p.static_select("U0OUTSIDER")},
                                        ids.CLIENT_BLOCK_DUE: {V: p.datepicker("2026-11-27")}},
                     user=people.dev, private_metadata=meta)
    assert scopes.count == 1, scopes.where
    c = items(session)[-1]
    assert (c.title, c.owner_user_id) == ("Sign-off", "U0OUTSIDER")
    with count_scopes(bolt_app) as scopes:
        slack.submit(ids.CLIENT_EXTEND_MODAL, {ids.CLIENT_BLOCK_NEW_DUE: {V: p.datepicker("2026-12-04")}},
                     user=people.outsider, private_metadata=json.dumps({"item_id": c.id, "version": c.version}))
    assert scopes.count == 1, scopes.where
    assert session.get(ClientItem, c.id).due_date == date(2026, 12, 4)
