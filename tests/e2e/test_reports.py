"""The monthly report and the close-out report, end to end: the scheduler's tick and signed
requests to the running app, the fake Slack Web API recording what was sent. Controlled clock."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import select

from bot.app import create_app, deps_of
from bot.blocks import ids
from bot.db import session_scope
from bot.flows.reports import close as close_project
from bot.flows.reports import run_monthly
from bot.jobs.scheduler import tick
from bot.models import (
    ActivityLog,
    ChangeRequest,
    ClientItem,
    FeedbackPrompt,
    FeedbackResponse,
    FollowUp,
    Milestone,
    Outbox,
    Project,
    Requirement,
)
from bot.services.errors import InvalidTransition
from tests.e2e.helpers import submit_project
from tests.fakes import payloads as p

# The project fixture is created at START (Wed 2026-11-18 10:00 UTC), in Asia/Shanghai (UTC+8).
NOV = datetime(2026, 11, 19, 2, 0, tzinfo=UTC)  # Thu 19 Nov, 10:00 in Shanghai


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def posts(fake_slack, channel: str, prefix: str) -> list[dict[str, Any]]:
    """Messages the bot posted in `channel` whose outbox key starts with `prefix`."""
    return [c.params for c in fake_slack.calls_to("chat.postMessage")
            if c.params.get("channel") == channel and c.status == 200
            and str(c.params.get("metadata", {}).get("event_payload", {}).get("key", "")).startswith(prefix)]


def seed_month(engine, project_id: int) -> None:
    """November in the life of a project: a prompt with two answers, an approved change request
    (cost not shared), a milestone moved by it and done late, three requirements raised and one
    confirmed."""
    with session_scope(engine) as s:
        prompt = FeedbackPrompt(project_id=project_id, question="How was the <!here> demo?", trigger="manual",
                                created_at=NOV)
        s.add(prompt)
        s.flush()
        for n, (user, score) in enumerate([("U0CLIENT", 4), ("U0OUTSIDER", 2)]):
            s.add(FeedbackResponse(project_id=project_id, prompt_id=prompt.id, user_id=user, responder_key=f"k{n}",
                                   score=score, created_at=NOV, updated_at=NOV))
        s.add(ChangeRequest(project_id=project_id, title="Add dark mode", requested_by="U0CLIENT", status="approved",
                            schedule_impact_days=5, effort_hours=Decimal("12.5"), cost_amount=Decimal("4800"),
                            cost_currency="EUR", share_cost_with_client=False, decided_by="U0CLIENT",
                            decided_at=NOV + timedelta(days=1), created_at=NOV, updated_at=NOV))
        beta = Milestone(project_id=project_id, name="Beta", due_date=date(2026, 11, 25), progress=100, done=True,
                         done_at=datetime(2026, 11, 30, 3, 0, tzinfo=UTC), created_at=NOV, updated_at=NOV)
        s.add(beta)
        s.flush()
        s.add(ActivityLog(team_id="T0TEAM", project_id=project_id, actor_user_id="U0PM", action="created",
                          entity_type="milestone", entity_id=beta.id, after={"due_date": "2026-11-20"},
                          created_at=NOV))
        s.add(ActivityLog(team_id="T0TEAM", project_id=project_id, actor_user_id="U0CLIENT", action="rescheduled",
                          entity_type="milestone", entity_id=beta.id, before={"due_date": "2026-11-20"},
                          after={"due_date": "2026-11-25", "days": 5}, created_at=NOV + timedelta(days=1)))
        s.add(Milestone(project_id=project_id, name="Launch", due_date=date(2026, 11, 27), progress=80,
                        created_at=NOV, updated_at=NOV))  # late: not done when November ended
        for n in range(3):
            s.add(Requirement(project_id=project_id, title=f"Export to PDF {n}", raised_by="U0CLIENT",
                              status="confirmed" if n == 0 else "proposed",
                              decided_at=NOV + timedelta(days=2) if n == 0 else None, created_at=NOV, updated_at=NOV))


# The monthly report -----------------------------------------------------------------------------


def test_monthly_report_once_on_the_first_working_day_across_restarts(deps, fake_slack, make_project, clock,
                                                                       settings, engine):
    # 1 December 2026 (a Tuesday) is one of the project's holidays: the report moves to the 2nd.
    project = make_project(monthly_report=True, holidays_text="2026-12-01")
    seed_month(engine, project.id)
    clock.set(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))  # Tue 10:00 in Shanghai, a holiday
    tick(deps)
    clock.set(datetime(2026, 12, 2, 0, 59, tzinfo=UTC))  # Wed 08:59, before the working day starts
    tick(deps)
    assert posts(fake_slack, "C0CLIENT", "monthly:") == [] and posts(fake_slack, "C0INTERNAL", "monthly:") == []

    clock.set(datetime(2026, 12, 2, 1, 0, tzinfo=UTC))  # Wed 09:00 in Shanghai
    tick(deps)
    tick(deps)
    restarted = deps_of(create_app(settings, engine=engine, clock=clock))  # another process, or after a restart
    tick(restarted)
    clock.set(datetime(2026, 12, 15, 3, 0, tzinfo=UTC))
    tick(restarted)
    [client] = posts(fake_slack, "C0CLIENT", "monthly:")
    [internal] = posts(fake_slack, "C0INTERNAL", "monthly:")
    assert client["metadata"]["event_payload"]["key"] == f"monthly:{project.id}:2026-11:client"
    assert "Monthly report · Acme Web Shop · 2026-11" in client["text"]

    # Client-safe: the trends without the cost; the internal version has the cost too.
    shown, full = _dump(client["blocks"]), _dump(internal["blocks"])
    for text in (shown, full):
        assert "How was the &lt;!here&gt; demo?: 3.0 / 5 (2 answers)" in text  # satisfaction per prompt
        assert "1 approved · schedule +5 days · effort 12.5 h" in text  # change requests and total impact
        assert "CR-1 Add dark mode: +5 days · 12.5 h" in text
        assert ("*Beta*: planned Fri, Nov 20, 2026 · due Wed, Nov 25, 2026 · done Mon, Nov 30, 2026 · 10 days late"
                in text)
        assert "*Launch*: planned Fri, Nov 27, 2026 · due Fri, Nov 27, 2026 · not done yet, late · 4 days late" in text
        assert "3 raised, 1 confirmed" in text
        assert "<!here>" not in text
    assert "4,800" not in shown and "€" not in shown and "EUR" not in shown
    assert "cost €4,800.00" in full  # money as CLDR writes it


def test_racing_processes_and_a_failed_post_still_give_one_report(settings, engine, clock, fake_slack,
                                                                   make_project):
    make_project(monthly_report=True)
    clock.set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))  # Tue 1 December, 09:00 in Shanghai
    a = deps_of(create_app(settings, engine=engine, clock=clock))
    b = deps_of(create_app(settings, engine=engine, clock=clock))
    a.worker, b.worker = "process-a", "process-b"
    fake_slack.fail("chat.postMessage", status=500, times=10)  # Slack is down for this tick's posts
    fake_slack.delay("chat.postMessage", 0.1, times=10)
    threads = [threading.Thread(target=run_monthly, args=(d,)) for d in (a, b, a, b)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert posts(fake_slack, "C0CLIENT", "monthly:") == []
    fake_slack.clear_faults()
    clock.set(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))  # an hour later, both processes tick again
    tick(a)
    tick(b)
    assert len(posts(fake_slack, "C0CLIENT", "monthly:")) == 1
    assert len(posts(fake_slack, "C0INTERNAL", "monthly:")) == 1


def test_a_weekend_first_moves_the_report_to_monday_and_a_late_setting_posts_nothing_late(
        slack, deps, fake_slack, make_project, clock, session, people):
    make_project(monthly_report=True, timezone="Europe/Berlin")
    other = make_project("Other shop", client_channel_id="C0OTHER", internal_channel_id=None,
                         timezone="Europe/Berlin")
    clock.set(datetime(2027, 8, 1, 8, 0, tzinfo=UTC))  # Sunday 1 August, 10:00 in Berlin
    tick(deps)
    assert posts(fake_slack, "C0CLIENT", "monthly:") == []
    clock.set(datetime(2027, 8, 3, 7, 0, tzinfo=UTC))  # Tuesday 09:00: the bot was down on Monday, catches up
    # The other project turns the report on now, through its edit form: July's report is not posted late.
    resp = submit_project(slack, people.pm, project_id=other.id, name="Other shop", client_channel="C0OTHER",
                          internal_channel=None, timezone="Europe/Berlin", options=["monthly_report"],
                          origin="C0OTHER")
    assert resp.status_code == 200
    assert session.get(Project, other.id).monthly_report is True
    tick(deps)
    tick(deps)
    [july] = posts(fake_slack, "C0CLIENT", "monthly:")
    assert "2027-07" in july["text"]
    assert posts(fake_slack, "C0OTHER", "monthly:") == []
    # A project with no internal channel gets the client version only; September brings August's.
    clock.set(datetime(2027, 9, 1, 7, 0, tzinfo=UTC))  # Wednesday 1 September, 09:00 in Berlin
    tick(deps)
    assert ["2027-08" in m["text"] for m in posts(fake_slack, "C0OTHER", "monthly:")] == [True]
    assert len(posts(fake_slack, "C0CLIENT", "monthly:")) == 2


def test_the_edit_form_offers_the_monthly_report_off_by_default(slack, fake_slack, people, make_project, session):
    project = make_project()
    assert project.monthly_report is False
    slack.command("/project", "edit", user=people.pm)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    options = next(b for b in view["blocks"] if b["block_id"] == ids.PROJECT_BLOCK_OPTIONS)["element"]
    assert "monthly_report" in [o["value"] for o in options["options"]]
    assert "monthly_report" not in [o["value"] for o in options.get("initial_options", [])]
    shown = slack.command("/project", "show", user=people.pm).json()
    assert "*Monthly report*\nOff" in [f["text"] for b in shown["blocks"] for f in b.get("fields", [])]


def test_monthly_report_in_chinese(deps, fake_slack, make_project, clock, engine):
    project = make_project(monthly_report=True, language="zh-CN")
    seed_month(engine, project.id)
    clock.set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))  # Tue 1 December, 09:00 in Shanghai
    tick(deps)
    [client] = posts(fake_slack, "C0CLIENT", "monthly:")
    [internal] = posts(fake_slack, "C0INTERNAL", "monthly:")
    assert client["text"].startswith("月报 · Acme Web Shop · 2026年11月")
    assert internal["text"].startswith("内部月报")
    shown = _dump(client["blocks"])
    assert "已批准 1 项 · 工期 +5 天 · 工作量 12.5 小时" in shown
    assert "新增 3 项，已确认 1 项" in shown and "延期 10 天" in shown
    assert "费用" not in shown and "费用 €4,800.00" in _dump(internal["blocks"])


# The close-out report ---------------------------------------------------------------------------


def seed_project_life(engine, project_id: int, clock) -> None:
    now = clock.now()
    with session_scope(engine) as s:
        for status in ("done", "done", "deferred", "dropped", "proposed"):
            s.add(Requirement(project_id=project_id, title=f"{status} <b>item</b>", raised_by="U0CLIENT",
                              status=status, created_at=now, updated_at=now))
        s.add(ChangeRequest(project_id=project_id, title="Add dark mode", requested_by="U0CLIENT", status="implemented",
                            schedule_impact_days=5, effort_hours=Decimal("12"), cost_amount=Decimal("4800"),
                            cost_currency="EUR", decided_at=now, created_at=now, updated_at=now))
        s.add(ChangeRequest(project_id=project_id, title="Skip", requested_by="U0CLIENT", status="rejected",
                            schedule_impact_days=50, created_at=now, updated_at=now))
        beta = Milestone(project_id=project_id, name="Beta", due_date=date(2026, 11, 25), progress=40,
                         created_at=now, updated_at=now)
        s.add(beta)
        s.flush()
        s.add(ActivityLog(team_id="T0TEAM", project_id=project_id, actor_user_id="U0PM", action="created",
                          entity_type="milestone", entity_id=beta.id, after={"due_date": "2026-11-20"}, created_at=now))
        prompt = FeedbackPrompt(project_id=project_id, question="How are we doing?", created_at=now - timedelta(days=1))
        s.add(prompt)  # a prompt yesterday: the feedback cooldown is running
        s.flush()
        bad = FeedbackResponse(project_id=project_id, prompt_id=prompt.id, user_id="U0CLIENT", responder_key="k",
                               score=2, comment="Slow answers", created_at=now, updated_at=now)
        s.add(bad)
        s.flush()
        s.add(FollowUp(project_id=project_id, response_id=bad.id, created_at=now))
        s.add(ClientItem(project_id=project_id, title="Logo files", owner_user_id="U0CLIENT", created_by="U0PM",
                         due_date=date(2026, 11, 27), created_at=now, updated_at=now))


def close_with_note(slack, fake_slack, user, went_well: str | None, to_improve: str | None) -> dict[str, Any]:
    opened = len(fake_slack.calls_to("views.open"))
    slack.command("/project", "close", user=user)
    view = fake_slack.wait_for("views.open", opened + 1)[opened].params["view"]
    values = {ids.PROJECT_CLOSE_BLOCK_WENT_WELL: {ids.VALUE: p.plain_text(went_well)},
              ids.PROJECT_CLOSE_BLOCK_TO_IMPROVE: {ids.VALUE: p.plain_text(to_improve)}}
    resp = slack.submit(ids.PROJECT_CLOSE_MODAL, values, user=user, private_metadata=view["private_metadata"])
    assert resp.status_code == 200 and not resp.content.strip(), resp.text  # closed: the modal just closes
    return view


def test_close_posts_the_report_internally_and_the_final_prompt_once(slack, fake_slack, people, make_project, engine,
                                                                    session, clock, database_url, monkeypatch,
                                                                    tmp_path):
    project = make_project()
    seed_project_life(engine, project.id, clock)
    view = close_with_note(slack, fake_slack, people.pm, "Weekly demos <!channel>", "Agree criteria earlier")
    assert "the internal channel <#C0INTERNAL>" in _dump(view)  # the form says where the report goes
    fake_slack.wait_for("chat.postMessage", 2)
    [report] = posts(fake_slack, "C0INTERNAL", "closeout:")
    text = _dump(report["blocks"])
    assert report["text"] == "Close-out report · Acme Web Shop"
    assert "2 delivered · 1 deferred · 1 dropped · 1 still open" in text
    assert "Delivered (2)" in text and "done &lt;b&gt;item&lt;/b&gt;" in text
    assert "1 approved · schedule +5 days · effort 12 h · cost €4,800.00" in text and "Skip" not in text
    assert "*Beta*: planned Fri, Nov 20, 2026 · due Wed, Nov 25, 2026 · not done yet · 5 days late" in text
    assert "average *2.0 / 5* over 1 question" in text
    assert "Follow-up #1 (2): Slow answers" in text
    assert "Client item CI-1 Logo files (due Fri, Nov 27, 2026)" in text  # its reference and a CLDR date
    assert "Weekly demos &lt;!channel&gt;" in text and "Agree criteria earlier" in text
    assert posts(fake_slack, "C0CLIENT", "closeout:") == []  # never in the client channel

    # The final satisfaction prompt, in the client channel despite the cooldown.
    [final] = posts(fake_slack, "C0CLIENT", "closeout-prompt:")
    assert "Acme Web Shop is complete" in final["text"]
    assert "What should we do better next time?" in _dump(final["blocks"])
    prompt = session.exec(select(FeedbackPrompt).where(FeedbackPrompt.trigger == "closeout")).one()
    # The client answers it although the project is closed; the comment asks what to do better.
    slack.action(f"{ids.FEEDBACK_SCORE}:5", f"{prompt.id}:5", user=people.client)
    fake_slack.wait_for("response_url")
    slack.action(ids.FEEDBACK_COMMENT, str(prompt.id), user=people.client)
    comment_view = fake_slack.wait_for("views.open", 2)[1].params["view"]
    assert "What should we do better next time?" in _dump(comment_view)
    answers = session.exec(select(FeedbackResponse).where(FeedbackResponse.prompt_id == prompt.id)).all()
    assert [a.score for a in answers] == [5]

    # Closing again (the command, an old button) changes nothing and posts nothing more.
    again = slack.command("/project", "close", user=people.pm).json()
    assert "already closed" in again["text"]
    slack.action(ids.PROJECT_CLOSE_CONFIRM, str(project.id), user=people.pm)
    assert "already closed" in fake_slack.wait_for("response_url", 2)[1].params["text"]
    assert len(session.exec(select(Outbox).where(Outbox.key.startswith("closeout"))).all()) == 2
    assert len(posts(fake_slack, "C0CLIENT", "closeout-prompt:")) == 1

    # The export, in Markdown.
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / "closeout.md"
    assert main(["export", "closeout", "--project", "Acme Web Shop", "--output", str(out)]) == 0
    md = out.read_text(encoding="utf-8")
    assert md.startswith("# Close-out report: Acme Web Shop")
    assert "### Delivered (2)" in md and "| Beta | 2026-11-20 | 2026-11-25 | – | 5 days late |" in md
    assert "1 approved; schedule +5 days; effort 12 h; cost €4,800.00" in md
    assert "Weekly demos \\<!channel>" in md and "Agree criteria earlier" in md
    assert main(["export", "closeout", "--project", "Acme Web Shop", "--format", "csv"]) == 2
    assert main(["export", "closeout", "--project", "Nope"]) == 1


def test_two_closes_at_the_same_moment_close_once(settings, engine, clock, fake_slack, make_project, session):
    project = make_project()
    a = deps_of(create_app(settings, engine=engine, clock=clock))
    b = deps_of(create_app(settings, engine=engine, clock=clock))
    outcomes: list[str] = []

    def close(deps) -> None:
        try:
            close_project(deps, user_id="U0PM", project_id=project.id, channel_id="C0CLIENT", went_well="Both")
            outcomes.append("closed")
        except InvalidTransition:
            outcomes.append("refused")

    threads = [threading.Thread(target=close, args=(d,)) for d in (a, b, a, b)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes) == ["closed", "refused", "refused", "refused"]
    assert len(posts(fake_slack, "C0INTERNAL", "closeout:")) == 1
    assert len(posts(fake_slack, "C0CLIENT", "closeout-prompt:")) == 1
    assert len(session.exec(select(FeedbackPrompt)).all()) == 1
    assert len(session.exec(select(ActivityLog).where(ActivityLog.action == "closed")).all()) == 1


def test_without_internal_channel_the_report_goes_to_the_pm_by_dm(slack, fake_slack, people, make_project, session):
    make_project(internal_channel_id=None)
    view = close_with_note(slack, fake_slack, people.dev, None, None)
    assert "you by DM" in _dump(view)
    fake_slack.wait_for("chat.postMessage", 2)
    [report] = posts(fake_slack, "DU0PM", "closeout:")
    assert "No note" in _dump(report["blocks"]) and "closed by <@U0DEV>" in _dump(report["blocks"])
    assert session.exec(select(Project)).one().status == "closed"


def test_close_out_in_chinese(slack, fake_slack, people, make_project, engine, clock, database_url, monkeypatch,
                              capsys):
    project = make_project(language="zh-CN")
    seed_project_life(engine, project.id, clock)
    close_with_note(slack, fake_slack, people.pm, "每周演示", None)
    fake_slack.wait_for("chat.postMessage", 2)
    [report] = posts(fake_slack, "C0INTERNAL", "closeout:")
    text = _dump(report["blocks"])
    assert report["text"] == "结项报告 · Acme Web Shop"
    assert "已交付 2 项 · 已延后 1 项 · 已放弃 1 项 · 仍未完成 1 项" in text and "每周演示" in text
    [final] = posts(fake_slack, "C0CLIENT", "closeout-prompt:")
    assert "已顺利完成" in final["text"] and "下次我们可以在哪些方面做得更好？" in _dump(final["blocks"])
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["export", "closeout", "--project", "Acme Web Shop", "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# 结项报告：Acme Web Shop") and "### 已交付（2）" in md and "每周演示" in md
