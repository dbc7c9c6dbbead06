"""Each person in their language (issue 17): DMs and ephemeral answers follow the person's Slack
locale (users.info with include_locale) where it is known; channel posts follow the project's
language; zh-TW / zh-HK readers get English until a Traditional Chinese catalogue exists."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from bot.blocks import ids
from bot.flows.reminders import send_nudges as run_nudges
from bot.flows.reminders import send_reminders as run_reminders
from bot.models import Milestone, Requirement, Risk
from tests.conftest import OTHER_ORG
from tests.e2e.test_changes import (  # noqa: F401 - `flow` and `setup` are fixtures used here
    approval_post,
    assess,
    flow,
    next_call,
    raise_from_intake,
    setup,
    showing,
)
from tests.fakes import payloads

THURSDAY_0930_SHANGHAI = datetime(2026, 11, 19, 1, 30, tzinfo=UTC)


def dms(fake_slack, user):
    return [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == f"D{user}" and c.status == 200]


def _seed(session, project, clock):
    now = clock.now()
    session.add(Risk(project_id=project.id, title="Vendor late", owner_user_id="U0DEV",
                     next_review_date=date(2026, 11, 18), created_at=now, updated_at=now))
    session.add(Milestone(project_id=project.id, name="Beta", due_date=date(2026, 11, 17), progress=60,
                          created_at=now, updated_at=now))
    session.commit()


def test_fake_slack_tells_the_locale_only_when_asked(fake_slack, deps, people):
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    plain = deps.client.users_info(user="U0CLIENT")["user"]
    asked = deps.client.users_info(user="U0CLIENT", include_locale=True)["user"]
    assert "locale" not in plain and asked["locale"] == "zh-CN"


def test_each_person_gets_their_daily_reminder_in_their_own_language(deps, fake_slack, make_project, clock,
                                                                     session, people):
    """An English project: the PM reads Chinese in Slack, the developer English."""
    fake_slack.add_user(people.pm.id, name=people.pm.name, tz="Asia/Shanghai", locale="zh-CN")
    project = make_project(language="en")
    _seed(session, project, clock)
    clock.set(THURSDAY_0930_SHANGHAI)
    run_reminders(deps)
    [pm], [dev] = dms(fake_slack, "U0PM"), dms(fake_slack, "U0DEV")
    pm_text, dev_text = str(pm.params["blocks"]), str(dev.params["blocks"])
    assert "早上好" in pm_text and "里程碑 *Beta* 已逾期" in pm_text and "60%" in pm_text
    assert "Good morning" in dev_text and "Vendor late" in dev_text and "早上好" not in dev_text
    # dates in the DM are CLDR's, in the reader's language
    assert "2026年11月17日周二" in pm_text
    assert "Wed, Nov 18, 2026" in dev_text


def test_traditional_chinese_readers_get_english_not_simplified(deps, fake_slack, make_project, clock,
                                                                 session, people):
    fake_slack.add_user(people.pm.id, name=people.pm.name, tz="Asia/Taipei", locale="zh-TW")
    project = make_project(language="zh-CN")
    _seed(session, project, clock)
    clock.set(THURSDAY_0930_SHANGHAI)
    run_reminders(deps)
    [pm] = dms(fake_slack, "U0PM")
    assert "Good morning" in str(pm.params["blocks"]) and "早上好" not in str(pm.params["blocks"])


def test_unknown_locale_falls_back_to_the_projects_language(deps, fake_slack, make_project, clock, session):
    """A PM Slack cannot show us: the DM still goes out, in the project's language."""
    project = make_project(language="zh-CN", pm_user_id="U0GHOST")
    _seed(session, project, clock)
    clock.set(THURSDAY_0930_SHANGHAI)
    run_reminders(deps)
    [pm] = dms(fake_slack, "U0GHOST")
    assert "早上好" in str(pm.params["blocks"])


def test_nudge_in_the_channel_follows_the_project_escalation_dm_the_pm(deps, fake_slack, make_project, clock,
                                                                       session, people):
    fake_slack.add_user(people.pm.id, name=people.pm.name, locale="zh-CN")
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    project = make_project(language="en")
    sent = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
    session.add(Requirement(project_id=project.id, title="SSO login", raised_by="U0DEV", created_at=sent,
                            updated_at=sent, sent_for_confirmation_at=sent, confirmation_channel_id="C0CLIENT",
                            confirmation_ts="1763258400.000100"))
    session.commit()
    clock.set(sent + timedelta(days=7))  # the next Monday: 5 working days
    assert sorted(run_nudges(deps)) == ["escalate:requirement:1", "nudge:requirement:1"]
    [nudge] = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0CLIENT"]
    # the client (zh-CN in Slack) reads the channel post in the project's language, English
    assert "5 working days" in nudge.params["text"] and "*Request changes*" in nudge.params["text"]
    [escalation] = dms(fake_slack, "U0PM")
    assert "SSO login" in escalation.params["text"] and "已等待客户确认 5 个工作日" in escalation.params["text"]


def test_ephemeral_answers_follow_the_person_channel_posts_the_project(slack, fake_slack, make_project, people):
    """A Chinese-speaking client in an English project is refused in Chinese; a team member who
    reads Chinese gets the help in Chinese; an English team member stays in English."""
    make_project(language="en")
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    refused = slack.command("/project", "show", user=people.client).json()
    assert "只有团队工作区的成员可以使用此功能" in refused["text"]
    fake_slack.add_user(people.dev.id, name=people.dev.name, locale="zh-CN")
    assert "记录需求" in slack.command("/req", "help", user=people.dev).json()["text"]
    assert "/req list" in slack.command("/req", "help", user=people.pm).json()["text"]
    assert "confirmed by the client" in slack.command("/req", "help", user=people.pm).json()["text"]


def test_a_chinese_project_answers_an_english_reader_in_english(slack, fake_slack, make_project, people):
    make_project(language="zh-CN")
    text = slack.command("/project", "show", user=people.guest).json()["text"]
    assert "Only members of the team" in text
    fake_slack.add_user("U0HK", name="hk", locale="zh-HK", is_restricted=True)
    text = slack.command("/project", "show", user=payloads.SlackUser(id="U0HK", name="hk")).json()["text"]
    assert "Only members of the team" in text


def test_a_clients_decision_is_answered_in_their_language_and_posted_in_the_projects(
        flow, fake_slack, people, setup):  # noqa: F811 - the fixtures imported above
    """A change request in an English project, decided by a client whose Slack is in Chinese:
    the form and the answer are Chinese, the client channel's post stays English."""
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    view, _ = next_call(fake_slack, "views.open", lambda: flow.action(
        ids.INTAKE_CHANGE_REQUEST, str(setup["project"].id), user=people.client))
    assert view.params["view"]["title"]["text"] == "变更请求"
    cr_id = raise_from_intake(flow, fake_slack, people, setup)
    assess(flow, fake_slack, people, cr_id, milestones_=[setup["beta"]])
    post = approval_post(fake_slack, cr_id)
    assert "is assessed" in json.dumps(post["blocks"])
    ts = fake_slack.messages("C0CLIENT")[-1]["ts"]
    reply, _ = next_call(fake_slack, "response_url", lambda: flow.action(
        ids.CHANGE_APPROVE, showing(fake_slack, ts), user=people.client, message_ts=ts))
    assert reply.params["text"].startswith("您已批准")
    assert "截止日期 2026-12-01 → 2026-12-06" in reply.params["text"]
    shown = [c.params for c in fake_slack.calls_to("chat.update") if c.ok and c.params.get("ts") == ts]
    assert shown and "Approved by <@U0CLIENT>" in json.dumps(shown[-1])


def test_the_milestone_list_is_in_the_readers_language(slack, fake_slack, make_project, engine, clock, people):
    from bot.db import session_scope
    from bot.services import milestones

    project = make_project(language="en")
    with session_scope(engine) as s:
        milestones.create(s, clock, project=project, actor="U0PM",
                          data=milestones.MilestoneInput(name="Beta", due_date="2026-12-01", progress="40"))
    fake_slack.add_user(people.pm.id, name=people.pm.name, locale="zh-CN")
    call, _ = next_call(fake_slack, "response_url", lambda: slack.command("/milestone", "list", user=people.pm))
    shown = json.dumps(call.params["blocks"], ensure_ascii=False)
    assert "里程碑 — Acme Web Shop" in shown and "40%" in shown and "2026年12月1日周二" in shown
    call, _ = next_call(fake_slack, "response_url", lambda: slack.command("/milestone", "list", user=people.dev))
    shown = json.dumps(call.params["blocks"], ensure_ascii=False)
    assert "Milestones — Acme Web Shop" in shown and "Tue, Dec 1, 2026" in shown


def test_a_client_confirms_in_their_language_and_the_post_stays_in_the_projects(
        slack, fake_slack, people, session, make_project, engine, clock):
    from bot.db import session_scope
    from bot.services import requirements
    from tests.e2e.test_requirements import reqs, send_for_confirmation, value_of

    project = make_project(language="en")
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    with session_scope(engine) as s:
        req = requirements.create(s, clock, project=s.get(type(project), project.id), actor="U0DEV",
                                  raised_by_client=False, data=requirements.RequirementInput(title="Alipay"))
    post = send_for_confirmation(slack, fake_slack, people, req.id)
    assert [e["text"]["text"] for e in post["blocks"][-1]["elements"]] == ["Confirm", "Request changes"]
    slack.action(ids.REQ_CONFIRM, value_of(post["blocks"]), user=people.client, block_id=f"req_item:{req.id}:confirm")
    thanks = fake_slack.wait_for("response_url", 2)[-1].params["text"]
    assert thanks.startswith(":white_check_mark: 谢谢您！")
    shown = json.dumps(fake_slack.message("C0CLIENT", reqs(session)[0].confirmation_ts)["blocks"])
    assert "Confirmed by <@U0CLIENT>" in shown


def test_a_satisfaction_answer_is_thanked_in_the_readers_language(slack, fake_slack, people, session,
                                                                   make_project):
    from bot.models import FeedbackPrompt
    from tests.e2e.test_feedback import _rows, ask, click_score

    make_project(language="zh-CN")
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="en-GB")
    reply = ask(slack, fake_slack, people.pm)  # the PM's Slack is English: told in English
    assert "<#C0CLIENT>" in reply["text"] and "已发布" not in reply["text"]
    post = fake_slack.wait_for("chat.postMessage")[0].params
    assert "您对我们本周的工作满意吗？" in post["text"]  # the channel reads the project's language
    [prompt] = _rows(session, FeedbackPrompt)
    thanks = click_score(slack, fake_slack, people.client, f"{prompt.id}:4")
    assert thanks["text"].startswith(":pray: Thank you")
