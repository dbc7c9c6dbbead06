"""Each person in their language (issue 17), the remaining DMs: a message to one person follows
their Slack locale where it is known — the feedback follow-up to the PM (a live message, drawn
from the record, and its in-place update once resolved), the news of a comment on it, what Slack
refused to send, an overdue client item's escalation, the late-digest question and the note that
someone else posted the digest. What the channel reads stays in the project's language."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from bot.blocks import ids
from bot.db import session_scope
from bot.flows.delivery import deliver_due
from bot.flows.digest import run_due as run_digests
from bot.flows.reminders import send_nudges as run_nudges
from bot.flows.undelivered import tell_pms
from bot.models import ClientItem, FeedbackPrompt, FollowUp, Project
from bot.services import client_items, outbox
from tests.e2e.test_feedback import _rows, ask, click_score
from tests.fakes import payloads as p

FRIDAY_1000_SHANGHAI = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def dms(fake_slack, user: str = "U0PM") -> list[dict]:
    return [c.params for c in fake_slack.calls_to("chat.postMessage")
            if c.params["channel"] == f"D{user}" and c.status == 200]


def _dump(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _pm_reads(fake_slack, people, locale: str) -> None:
    fake_slack.add_user(people.pm.id, name=people.pm.name, tz="Asia/Shanghai", locale=locale)


# --- The feedback follow-up (a live message) ---------------------------------------------------


def test_the_follow_up_dm_and_its_resolved_update_are_in_the_pms_language(slack, fake_slack, people, session,
                                                                          make_project):
    """An English project; the PM reads Chinese in Slack. The client's prompt stays English."""
    _pm_reads(fake_slack, people, "zh-CN")
    make_project(language="en")
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)
    click_score(slack, fake_slack, people.client, f"{prompt.id}:1")
    fake_slack.wait_for("chat.postMessage", 2)
    [client_post] = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0CLIENT"]
    assert "How satisfied are you" in client_post["text"]
    [dm] = dms(fake_slack)
    shown = _dump(dm["blocks"])
    assert "收到一条需要您关注的反馈" in dm["text"] and "标记为已处理" in shown and "How satisfied" in shown
    assert "needs your attention" not in shown and "Resolve" not in shown

    [follow_up] = _rows(session, FollowUp)
    dm_ts = fake_slack.wait_for("chat.postMessage", 2)[1].response["ts"]
    slack.action(ids.FEEDBACK_RESOLVE, str(follow_up.id), user=people.pm, channel_id="DU0PM", message_ts=dm_ts)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["title"]["text"] == "标记为已处理" and "您采取了哪些措施？" in _dump(view["blocks"])  # the PM's form
    note = {ids.FEEDBACK_BLOCK_NOTE: {ids.VALUE: p.plain_text("Called Chris; the demo moves to Friday.")}}
    slack.submit(ids.FEEDBACK_RESOLVE_MODAL, note, user=people.pm, private_metadata=view["private_metadata"])
    update = fake_slack.wait_for("chat.update")[0].params
    assert update["ts"] == dm_ts and update["channel"] == "DU0PM"
    assert "的反馈——已处理" in update["text"]
    assert "由 <@U0PM> 于" in _dump(update["blocks"]) and "Called Chris" in _dump(update["blocks"])
    assert "resolved" not in update["text"]


def test_a_chinese_projects_follow_up_reaches_an_english_reading_pm_in_english(slack, fake_slack, people, session,
                                                                               make_project):
    """The other way round, with the news of a comment on the still-open follow-up."""
    _pm_reads(fake_slack, people, "en-US")
    make_project(language="zh-CN")
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)
    click_score(slack, fake_slack, people.client, f"{prompt.id}:2")
    fake_slack.wait_for("chat.postMessage", 2)
    [dm] = dms(fake_slack)
    assert "needs your attention" in dm["text"] and "Resolve" in _dump(dm["blocks"])
    assert "您对我们本周的工作满意吗？" in _dump(dm["blocks"])  # the question, as the client was asked it

    values = {ids.FEEDBACK_BLOCK_SCORE: {ids.VALUE: p.radio("2")},
              ids.FEEDBACK_BLOCK_COMMENT: {ids.VALUE: p.plain_text("Releases keep slipping")}}
    slack.submit(ids.FEEDBACK_COMMENT_MODAL, values, user=people.client,
                 private_metadata=json.dumps({"prompt_id": prompt.id}))
    fake_slack.wait_for("chat.postMessage", 3)
    news = dms(fake_slack)[-1]
    assert "New comment on feedback" in news["text"] and "Releases keep slipping" in _dump(news["blocks"])
    assert "有新的意见" not in news["text"]


def test_a_pm_slack_cannot_show_gets_the_follow_up_in_the_projects_language(slack, fake_slack, people, session,
                                                                           make_project):
    """Slack does not know the PM: the DM is not held back, and reads the project's language."""
    make_project(language="zh-CN", pm_user_id="U0GHOST")
    ask(slack, fake_slack, people.dev)
    [prompt] = _rows(session, FeedbackPrompt)
    click_score(slack, fake_slack, people.client, f"{prompt.id}:1")
    fake_slack.wait_for("chat.postMessage", 2)
    [dm] = dms(fake_slack, "U0GHOST")
    assert "收到一条需要您关注的反馈" in dm["text"]


# --- One-off DMs -------------------------------------------------------------------------------


def test_what_slack_refused_is_told_in_the_pms_language(deps, fake_slack, clock, make_project, people):
    _pm_reads(fake_slack, people, "zh-CN")
    project = make_project(language="en")
    with deps.session() as s:
        outbox.enqueue(s, key="owed:1", team_id="T0TEAM", kind="digest", channel_id="C0GONE", project_id=project.id,
                       payload={"text": "digest"}, now=clock.now())
    fake_slack.fail("chat.postMessage", error="channel_not_found")
    deliver_due(deps)
    assert tell_pms(deps) == 1
    [dm] = dms(fake_slack)
    shown = _dump(dm["blocks"])
    assert "Slack 拒绝了“Acme Web Shop”的部分消息" in dm["text"] and "channel_not_found" in shown
    assert "pmbot outbox retry" in shown and "请先排除原因" in shown and "Fix the cause" not in shown


def test_an_overdue_client_items_escalation_is_in_the_pms_language(deps, fake_slack, clock, make_project, people,
                                                                   engine):
    """A Chinese project, an English-reading PM: the nudge in the thread stays Chinese."""
    _pm_reads(fake_slack, people, "en-GB")
    project = make_project(language="zh-CN")
    with session_scope(engine) as s:
        item = client_items.create(s, clock, project=s.get(Project, project.id), actor="U0PM", owners=None,
                                   data=client_items.ItemInput(title="Logo files in SVG", owner_user_id="U0CLIENT",
                                                               due_date="2026-11-19"))
        s.get(ClientItem, item.id).due_date = date(2026, 11, 19)
    clock.set(datetime(2026, 11, 26, 2, 0, tzinfo=UTC))  # Thursday: 5 working days overdue, the threshold
    keys = run_nudges(deps)
    assert f"escalate:client:{item.id}:2026-11-19" in keys
    [told] = dms(fake_slack)
    assert "Logo files in SVG" in told["text"] and "5 working days overdue" in told["text"]
    assert "19 Nov 2026" in told["text"] or "Nov 19, 2026" in told["text"]  # the reader's CLDR date
    nudges = [c.params for c in fake_slack.calls_to("chat.postMessage")
              if c.params["channel"] == "C0CLIENT" and "温馨提醒" in c.params.get("text", "")]
    assert nudges  # the nudge in the item's thread reads the project's language


def test_the_late_digest_question_is_in_the_pms_language(deps, fake_slack, make_project, clock, people, slack):
    _pm_reads(fake_slack, people, "zh-CN")
    make_project(language="en")
    clock.set(datetime(2026, 11, 23, 9, 30, tzinfo=UTC))  # Monday 17:30: Friday's digest more than a day late
    run_digests(deps)
    [question] = [d for d in dms(fake_slack) if "现在发布吗" in d["text"]]
    buttons = [e for b in question["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == [ids.DIGEST_POST_NOW, ids.DIGEST_SKIP]
    assert [b["text"]["text"] for b in buttons] == ["现在发布", "本周跳过"]
    assert "Acme Web Shop" in question["text"] and "was not running" not in question["text"]
    # *Post it now*: the answer is the PM's too; the digest in the channel stays English
    slack.action(ids.DIGEST_POST_NOW, buttons[0]["value"], user=people.pm, channel_id="DU0PM")
    answer = fake_slack.wait_for("response_url")[0].params
    assert "本周的周报已发布到 <#C0CLIENT>" in answer["text"]
    [digest] = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0CLIENT"]
    assert "Acme Web Shop" in digest["text"] and "周报" not in _dump(digest)


def test_the_pm_is_told_in_their_language_that_someone_else_posted_the_digest(slack, fake_slack, people,
                                                                              make_project, clock):
    """An English project; the PM reads Chinese, the developer who posts it English."""
    _pm_reads(fake_slack, people, "zh-CN")
    fake_slack.add_user(people.dev.id, name=people.dev.name, locale="en-US")
    make_project(language="en")
    clock.set(datetime(2026, 11, 20, 6, 0, tzinfo=UTC))  # Friday 14:00 Shanghai
    slack.command("/digest", "send", user=people.dev)
    question = fake_slack.wait_for("response_url")[0].params
    assert "<@U0PM>" in question["text"] and "周报" not in question["text"]
    confirm = next(e for b in question["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["action_id"] == ids.DIGEST_SEND_CONFIRM)
    slack.action(ids.DIGEST_SEND_CONFIRM, confirm["value"], user=people.dev)
    assert "is posted" in fake_slack.wait_for("response_url", 2)[1].params["text"]
    [digest] = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0CLIENT"]
    assert "Acme Web Shop" in digest["text"]
    [told] = [d for d in dms(fake_slack) if "<@U0DEV>" in d["text"]]
    assert "已将 *Acme Web Shop* 本周的周报发布到 <#C0CLIENT>" in told["text"]


def test_the_pms_digest_answers_are_in_their_language(slack, fake_slack, people, make_project):
    """A Chinese project; a developer who reads English asks to send the digest: the question and
    the answer are theirs; the PM (zh-CN in Slack) is told in Chinese; the channel reads Chinese."""
    fake_slack.add_user(people.dev.id, name=people.dev.name, locale="en-US")
    _pm_reads(fake_slack, people, "zh-CN")
    make_project(language="zh-CN")
    slack.command("/digest", "send", user=people.dev)
    question = fake_slack.wait_for("response_url")[0].params
    assert "Post this week's digest" in question["text"] and "<@U0PM>" in question["text"]
    assert "现在把" not in question["text"]
    confirm = next(e for b in question["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["action_id"] == ids.DIGEST_SEND_CONFIRM)
    slack.action(ids.DIGEST_SEND_CONFIRM, confirm["value"], user=people.dev)
    assert "is posted" in fake_slack.wait_for("response_url", 2)[1].params["text"]
    [told] = [d for d in dms(fake_slack) if "<@U0DEV>" in d["text"]]
    assert "已将" in told["text"]
    [digest] = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0CLIENT"]
    assert "Acme Web Shop 周报" in digest["text"]


def test_the_pms_preview_stays_in_the_projects_language(deps, fake_slack, make_project, clock, people, slack):
    """The preview shows the post as the channel will read it: the project's language, whatever
    the PM reads in Slack (documented so)."""
    _pm_reads(fake_slack, people, "zh-CN")
    make_project(language="en")
    clock.set(datetime(2026, 11, 20, 8, 0, tzinfo=UTC) - timedelta(minutes=60))
    from bot.flows.digest import send_previews

    send_previews(deps)
    [preview] = dms(fake_slack)
    assert "Weekly update" in _dump(preview["blocks"])
    # *Add a note*: the form is the PM's own, in their language
    add_note = next(e for b in preview["blocks"] if b["type"] == "actions" for e in b["elements"]
                    if e["action_id"] == ids.DIGEST_ADD_NOTE)
    slack.action(ids.DIGEST_ADD_NOTE, add_note["value"], user=people.pm, channel_id="DU0PM")
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["title"]["text"] == "周报说明" and "简短的个人说明" in _dump(view["blocks"])
