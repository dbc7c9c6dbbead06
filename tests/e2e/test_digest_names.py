"""The weekly digest names what happened this week, and carries a chart uploaded once.

Controlled clock (START is Wed 2026-11-18 10:00 UTC; the digest is due Friday 16:00 in
Shanghai), the real app and the fake Slack Web API on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlmodel import select

from bot.app import create_app, deps_of
from bot.blocks import ids
from bot.blocks.digest_chart import CHART_BLOCK_ID, CHART_FILE_PLACEHOLDER
from bot.flows.delivery import deliver_due
from bot.flows.digest import run_due as run_digests
from bot.models import ChangeRequest, FeedbackResponse, Milestone, Outbox, Project, Requirement
from tests.e2e.helpers import submit_project

FRIDAY_SHANGHAI = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def digests_in(fake_slack, channel="C0CLIENT"):
    return [c for c in fake_slack.calls_to("chat.postMessage")
            if c.params.get("channel") == channel and c.status == 200 and c.response.get("ok")
            and str(c.params.get("metadata", {}).get("event_payload", {}).get("key", "")).startswith("digest:")]


def text_of(call) -> str:
    return "\n".join(b.get("text", {}).get("text", "") for b in call.params["blocks"] if b["type"] == "section")


def images_of(call) -> list[dict]:
    return [b for b in call.params["blocks"] if b["type"] == "image"]


def seed_week(session, project, clock, *, requirements: int = 2, anonymous: bool = False):
    """A week with something of every kind, named: requirements raised and confirmed, change
    requests raised and decided (one with a cost the PM shared, one without), a milestone done,
    feedback of several kinds."""
    now = clock.now()
    week_ago = now - timedelta(days=30)
    for i in range(requirements):
        session.add(Requirement(project_id=project.id, title=f"Export to PDF {i} <!here>", raised_by="U0CLIENT",
                                raised_by_client=True, created_at=now, updated_at=now))
    session.add(Requirement(project_id=project.id, title="Single sign-on", raised_by="U0PM", status="confirmed",
                            decided_by="U0CLIENT", decided_at=now, created_at=week_ago, updated_at=now))
    session.add(ChangeRequest(project_id=project.id, title="Add dark mode", requested_by="U0CLIENT",
                              status="submitted", created_at=now, updated_at=now))
    session.add(ChangeRequest(project_id=project.id, title="Second language", requested_by="U0CLIENT",
                              status="approved", schedule_impact_days=5, effort_hours=Decimal("40"),
                              cost_amount=Decimal("4800.00"), cost_currency="EUR", share_cost_with_client=False,
                              assessed_at=week_ago, decided_at=now, decided_by="U0CLIENT",
                              created_at=week_ago, updated_at=now))
    session.add(ChangeRequest(project_id=project.id, title="Bigger logo", requested_by="U0CLIENT",
                              status="rejected", schedule_impact_days=1, cost_amount=Decimal("300.00"),
                              cost_currency="USD", share_cost_with_client=True, assessed_at=week_ago,
                              decided_at=now, decided_by="U0CLIENT", created_at=week_ago, updated_at=now))
    session.add(Milestone(project_id=project.id, name="Design signed off", due_date=now.date() + timedelta(days=1),
                          progress=100, done=True, done_at=now, created_at=week_ago, updated_at=now))
    session.add(Milestone(project_id=project.id, name="Beta", due_date=now.date() + timedelta(days=20),
                          progress=30, created_at=week_ago, updated_at=now))
    for n, (kind, score) in enumerate([("score", 5), ("score", 4), ("praise", None), ("suggestion", None)]):
        session.add(FeedbackResponse(project_id=project.id, user_id=None if anonymous else f"UCLIENT{n}",
                                     responder_key=f"k{n}", kind=kind, score=score, comment="Lovely",
                                     created_at=now, updated_at=now))
    # two weeks ago: a score for the satisfaction trend
    session.add(FeedbackResponse(project_id=project.id, user_id=None, responder_key="old", kind="score", score=3,
                                 created_at=now - timedelta(days=14), updated_at=now - timedelta(days=14)))
    session.commit()


def test_the_digest_names_what_happened_this_week(deps, fake_slack, make_project, clock, session):
    project = make_project(anonymous_feedback=True)
    seed_week(session, project, clock, requirements=7, anonymous=True)
    clock.set(FRIDAY_SHANGHAI)
    run_digests(deps)
    [client] = digests_in(fake_slack)
    [internal] = digests_in(fake_slack, "C0INTERNAL")
    text = text_of(client)
    req_ids = [r.id for r in session.exec(select(Requirement).order_by(Requirement.id))]
    # requirements raised: newest first, five of them named, then where to see the rest
    assert "*New requirements (7)*" in text
    assert f"*REQ-{req_ids[6]}* · Export to PDF 6 &lt;!here&gt;" in text
    assert "Export to PDF 1 " not in text and "…and 2 more: `/req list`" in text
    assert "<!here>" not in str(client.params["blocks"])
    assert f"*Requirements confirmed (1)*\n• *REQ-{req_ids[7]}* · Single sign-on" in text
    # change requests: raised, and decided with their impact; the cost only where the PM shared it
    crs = {c.title: c.id for c in session.exec(select(ChangeRequest))}
    assert f"*New change requests (1)*\n• *CR-{crs['Add dark mode']}* · Add dark mode" in text
    assert f"*CR-{crs['Second language']}* · Second language: approved (+5 days)" in text
    assert f"*CR-{crs['Bigger logo']}* · Bigger logo: rejected (+1 day) · $300.00" in text
    assert "4,800.00" not in text and "40 h" not in text
    internal_text = text_of(internal)
    assert "Second language: approved (+5 days) · €4,800.00 · 40 h effort" in internal_text
    # milestones completed this week
    assert "*Milestones completed (1)*\n• *Design signed off* — done " in text
    # feedback: counts and average, never who (the project is anonymous)
    assert "*Feedback received*\n• Scores: 2, average 4.5 / 5\n• Praise: 1 · Suggestions: 1" in text
    assert "UCLIENT" not in str(client.params) and "UCLIENT" not in str(internal.params)
    # the whole message stays within Block Kit's limits
    assert len(client.params["blocks"]) <= 50


def test_a_chinese_digest_names_things_in_chinese(deps, fake_slack, make_project, clock, session):
    project = make_project(language="zh-CN")
    seed_week(session, project, clock, requirements=6)
    clock.set(FRIDAY_SHANGHAI)
    run_digests(deps)
    [client] = digests_in(fake_slack)
    text = text_of(client)
    assert "*新增需求（6）*" in text and "……还有 1 项：`/req list`" in text
    assert "*已确认的需求（1）*" in text
    assert "Second language：已批准（工期 +5 天）" in text
    assert "*已完成的里程碑（1）*\n• *Design signed off* — 于 " in text
    assert "*收到的反馈*\n• 2 条评分，平均 4.5 / 5 分\n• 表扬 1 条 · 建议 1 条" in text
    [image] = images_of(client)
    assert image["title"]["text"].startswith("进度图表") and "里程碑" in image["alt_text"]


def test_the_chart_is_uploaded_once_and_shown_in_both_digests(deps, fake_slack, make_project, clock, session):
    project = make_project()
    seed_week(session, project, clock)
    clock.set(FRIDAY_SHANGHAI)
    run_digests(deps)
    run_digests(deps)
    [(filename, png)] = fake_slack.uploaded_files()
    assert filename == f"digest-{project.id}-2026-W47.png" and png.startswith(b"\x89PNG\r\n\x1a\n")
    [upload] = fake_slack.completed_uploads
    assert upload["channels"] == []  # private to the bot: shown only through the digests' image blocks
    file_id = upload["file_id"]
    for post in digests_in(fake_slack) + digests_in(fake_slack, "C0INTERNAL"):
        [image] = images_of(post)
        assert image["slack_file"] == {"id": file_id} and image["block_id"] == CHART_BLOCK_ID
        assert "Beta 30 %" in image["alt_text"] and "Client satisfaction by week" in image["alt_text"]
    # the chart's own upload call came before the digest's post
    calls = [c.method for c in fake_slack.calls]
    assert calls.index("files.completeUploadExternal") < calls.index("chat.postMessage")


def test_a_crash_between_upload_and_post_uploads_once_and_posts_once(settings, engine, clock, fake_slack,
                                                                      make_project, session):
    make_project()
    clock.set(FRIDAY_SHANGHAI)
    fake_slack.ts_clock = lambda: clock.now().timestamp()  # Slack's clock is the bot's
    first = deps_of(create_app(settings, engine=engine, clock=clock))
    first.worker = "process-a"
    # Process A uploads the chart, then its posts do not get through (Slack fails, then A dies
    # holding the client digest's claim).
    fake_slack.fail("chat.postMessage", error="fatal_error", times=4)
    run_digests(first)
    assert len(fake_slack.uploaded_files()) == 1 and digests_in(fake_slack) == []
    rows = {r.key: r for r in session.exec(select(Outbox))}
    chart = next(r for k, r in rows.items() if k.startswith("digest-chart:"))
    assert chart.status == "sent" and chart.message_ts == fake_slack.completed_uploads[0]["file_id"]
    client_row = next(r for k, r in rows.items() if k.endswith(":client"))
    with first.session() as s:
        r = s.get(Outbox, client_row.id)
        r.status, r.claimed_by, r.claimed_at = "sending", "dead-process", clock.now()
        s.add(r)
    fake_slack.clear_faults()

    clock.advance(minutes=10)  # the dead process's claim expires; process B takes over
    second = deps_of(create_app(settings, engine=engine, clock=clock))
    second.worker = "process-b"
    deliver_due(second)
    run_digests(second)
    deliver_due(second)
    [client] = digests_in(fake_slack)
    [internal] = digests_in(fake_slack, "C0INTERNAL")
    assert len(fake_slack.uploaded_files()) == 1
    file_id = fake_slack.completed_uploads[0]["file_id"]
    assert images_of(client)[0]["slack_file"] == {"id": file_id}
    assert images_of(internal)[0]["slack_file"] == {"id": file_id}


def test_a_chart_that_cannot_be_uploaded_does_not_hold_the_digest(deps, fake_slack, make_project, clock, session):
    make_project()
    clock.set(FRIDAY_SHANGHAI)
    fake_slack.fail("files.getUploadURLExternal", error="internal_error", times=100)
    run_digests(deps)
    assert digests_in(fake_slack) == []  # the digest waits a little for its chart …
    clock.advance(minutes=11)
    deliver_due(deps)
    [client] = digests_in(fake_slack)  # … then goes without it
    assert images_of(client) == [] and CHART_FILE_PLACEHOLDER not in str(client.params)
    assert len(digests_in(fake_slack, "C0INTERNAL")) == 1
    assert fake_slack.uploaded_files() == []
    assert session.exec(select(Outbox).where(Outbox.key.like("digest-chart:%"))).one().status == "skipped"


def test_charts_off_in_the_project_form(deps, fake_slack, make_project, clock, session, slack, people):
    project = make_project()
    assert submit_project(slack, people.pm, project_id=project.id, options=["charts_off"]).status_code == 200
    session.expire_all()
    assert session.get(Project, project.id).charts_enabled is False
    # the edit form shows the setting as it is
    slack.command("/project", "edit", user=people.pm)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    options = next(b for b in view["blocks"] if b.get("block_id") == ids.PROJECT_BLOCK_OPTIONS)["element"]
    assert [o["value"] for o in options.get("initial_options", [])] == ["charts_off"]

    clock.set(FRIDAY_SHANGHAI)
    run_digests(deps)
    [client] = digests_in(fake_slack)
    assert images_of(client) == [] and fake_slack.uploaded_files() == []
    assert not session.exec(select(Outbox).where(Outbox.key.like("digest-chart:%"))).all()


def test_a_crash_during_the_upload_finds_the_file_slack_took_and_does_not_upload_again(deps, fake_slack,
                                                                                       make_project, clock, session):
    make_project()
    clock.set(FRIDAY_SHANGHAI)
    fake_slack.fail("chat.postMessage", error="fatal_error", times=4)
    run_digests(deps)
    [upload] = fake_slack.completed_uploads
    # The sender died after Slack completed the upload and before it recorded the file: the
    # row is still claimed by the dead process, with no file id.
    chart = session.exec(select(Outbox).where(Outbox.key.like("digest-chart:%"))).one()
    with deps.session() as s:
        r = s.get(Outbox, chart.id)
        r.status, r.message_ts, r.claimed_by, r.claimed_at = "sending", None, "dead-process", clock.now()
        s.add(r)
    fake_slack.clear_faults()
    clock.advance(minutes=10)  # the dead sender's claim expires
    deliver_due(deps)
    [client] = digests_in(fake_slack)
    [internal] = digests_in(fake_slack, "C0INTERNAL")
    assert len(fake_slack.uploaded_files()) == 1 and fake_slack.calls_to("files.list")
    for post in (client, internal):
        assert images_of(post)[0]["slack_file"] == {"id": upload["file_id"]}
