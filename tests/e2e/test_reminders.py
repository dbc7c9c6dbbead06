"""Reminders, decision nudges and the App Home, with a controlled clock."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

from bot.blocks import ids
from bot.flows.reminders import send_nudges as run_nudges
from bot.flows.reminders import send_reminders as run_reminders
from bot.models import ChangeRequest, FeedbackResponse, FollowUp, Milestone, Requirement, Risk
from tests.conftest import TEAM
from tests.fakes import payloads

THURSDAY_0930_SHANGHAI = datetime(2026, 11, 19, 1, 30, tzinfo=UTC)


def dms(fake_slack, user):
    return [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == f"D{user}" and c.status == 200]


def seed(session, project, clock):
    now = clock.now()
    session.add(Risk(project_id=project.id, title="Vendor <@U0PM> late", owner_user_id="U0DEV",
                     next_review_date=date(2026, 11, 18), created_at=now, updated_at=now))
    session.add(Risk(project_id=project.id, title="Data loss", probability=4, impact=4, owner_user_id="U0DEV",
                     next_review_date=date(2026, 12, 30), created_at=now, updated_at=now))
    session.add(Milestone(project_id=project.id, name="Beta", due_date=date(2026, 11, 17), progress=60,
                          created_at=now, updated_at=now))
    session.add(ChangeRequest(project_id=project.id, title="Dark mode", requested_by="U0CLIENT",
                              created_at=now - timedelta(days=7), updated_at=now))
    session.add(Requirement(project_id=project.id, title="SSO login", raised_by="U0DEV", created_at=now,
                            updated_at=now, sent_for_confirmation_at=now - timedelta(days=6)))
    response = FeedbackResponse(project_id=project.id, user_id="U0CLIENT", responder_key="U0CLIENT", kind="complaint",
                                comment="Too slow", created_at=now, updated_at=now)
    session.add(response)
    session.flush()
    session.add(FollowUp(project_id=project.id, response_id=response.id, created_at=now))
    session.commit()


def test_one_batched_dm_per_person_without_repeats_within_24_hours(deps, fake_slack, make_project, clock, session):
    project = make_project()
    seed(session, project, clock)
    run_reminders(deps)  # 18:00 in Shanghai: after working hours
    assert fake_slack.calls_to("chat.postMessage") == []

    clock.set(THURSDAY_0930_SHANGHAI)
    run_reminders(deps)
    [pm] = dms(fake_slack, "U0PM")
    [dev] = dms(fake_slack, "U0DEV")
    pm_text, dev_text = str(pm.params["blocks"]), str(dev.params["blocks"])
    for expected in ("Beta", "Dark mode", "SSO login", "follow-up"):
        assert expected in pm_text
    assert "Vendor &lt;@U0PM&gt; late" in dev_text and "<@U0PM>" not in dev_text
    assert "Data loss" in dev_text and "no mitigation" in dev_text
    assert "Vendor" not in pm_text

    clock.advance(hours=2)
    run_reminders(deps)
    assert len(dms(fake_slack, "U0PM")) == 1 and len(dms(fake_slack, "U0DEV")) == 1

    clock.advance(hours=22, minutes=5)  # Friday 09:35: more than 24 h later
    run_reminders(deps)
    assert len(dms(fake_slack, "U0PM")) == 2


def test_snoozed_items_wait_and_weekends_are_quiet(deps, fake_slack, make_project, clock, session, slack, people):
    project = make_project()
    seed(session, project, clock)
    clock.set(THURSDAY_0930_SHANGHAI)
    run_reminders(deps)
    [dev] = dms(fake_slack, "U0DEV")
    blocks = dev.params["blocks"]
    at = next(i for i, b in enumerate(blocks) if "Data loss" in str(b.get("text")))
    act, menu = blocks[at + 1]["elements"]
    assert act["action_id"] == ids.RISK_EDIT and menu["action_id"] == ids.REMINDER_SNOOZE
    week = next(o for o in menu["options"] if o["value"].endswith("|7d"))
    slack.action(ids.REMINDER_SNOOZE, None, user=people.dev, channel_id="DU0DEV", action_type="overflow",
                 selected_option=week)
    assert "Snoozed for a week" in fake_slack.wait_for("response_url")[0].params["text"]

    clock.set(datetime(2026, 11, 21, 1, 30, tzinfo=UTC))  # Saturday 09:30
    run_reminders(deps)
    assert len(dms(fake_slack, "U0DEV")) == 1

    clock.set(datetime(2026, 11, 23, 1, 30, tzinfo=UTC))  # Monday 09:30
    run_reminders(deps)
    latest = dms(fake_slack, "U0DEV")[-1]
    assert len(dms(fake_slack, "U0DEV")) == 2
    assert "Data loss" not in str(latest.params["blocks"]) and "Vendor" in str(latest.params["blocks"])


def test_nudge_in_the_thread_then_escalation_to_the_pm(deps, fake_slack, make_project, clock, session):
    project = make_project()
    sent = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
    session.add(Requirement(project_id=project.id, title="SSO login", raised_by="U0DEV", created_at=sent,
                            updated_at=sent, sent_for_confirmation_at=sent, confirmation_channel_id="C0CLIENT",
                            confirmation_ts="1763258400.000100"))
    session.commit()
    clock.set(datetime(2026, 11, 18, 2, 0, tzinfo=UTC))  # 2 working days
    assert run_nudges(deps) == []

    clock.set(datetime(2026, 11, 19, 2, 0, tzinfo=UTC))  # 3 working days
    assert run_nudges(deps) == ["nudge:requirement:1"]
    [nudge] = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "C0CLIENT"]
    assert nudge.params["thread_ts"] == "1763258400.000100"
    assert "<@U0CLIENT>" in nudge.params["text"] and "3 working days" in nudge.params["text"]
    assert run_nudges(deps) == []

    clock.set(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # Monday: 5 working days (weekend not counted)
    assert run_nudges(deps) == ["escalate:requirement:1"]
    [escalation] = dms(fake_slack, "U0PM")
    assert "SSO login" in escalation.params["text"] and "5 working days" in escalation.params["text"]


def test_app_home_shows_projects_and_what_waits_on_the_user(slack, fake_slack, make_project, clock, session):
    project = make_project()
    seed(session, project, clock)
    slack.event({"type": "app_home_opened", "user": "U0CLIENT", "tab": "home", "channel": "DU0CLIENT",
                 "event_ts": "1.0"})
    home = fake_slack.wait_for("views.publish")[0]
    assert home.params["user_id"] == "U0CLIENT"
    text = str(home.params["view"]["blocks"])
    assert "Acme Web Shop" in text and "SSO login" in text

    slack.event({"type": "app_home_opened", "user": "U0PM", "tab": "home", "channel": "DU0PM", "event_ts": "1.1"})
    pm_home = fake_slack.wait_for("views.publish", 2)[1]
    assert "Dark mode" in str(pm_home.params["view"]["blocks"])


def test_cli_remind_dry_run_sends_nothing(tmp_path, fake_slack):
    env = {"PATH": "/usr/bin:/bin", "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET,
           "SLACK_API_URL": fake_slack.url, "DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    proc = subprocess.run([sys.executable, "-m", "bot", "remind", "--dry-run"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "No reminder is due." in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "bot", "digest", "--dry-run"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "No digest is due." in proc.stdout
    assert fake_slack.calls_to("chat.postMessage") == []


def test_a_reminder_button_opens_the_work_it_asks_for(deps, fake_slack, make_project, clock, session, slack, people):
    project = make_project()
    seed(session, project, clock)
    clock.set(THURSDAY_0930_SHANGHAI)
    run_reminders(deps)
    [pm] = dms(fake_slack, "U0PM")
    assess = next(e for b in pm.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e.get("action_id") == ids.CHANGE_ASSESS)
    slack.action(ids.CHANGE_ASSESS, assess["value"], user=people.pm, channel_id="DU0PM")
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ids.CHANGE_ASSESS_MODAL


def posted_at(call) -> datetime:
    """When the fake Slack posted a message (its ts follows the bot's clock)."""
    return datetime.fromtimestamp(float(call.response["ts"]), UTC)


def test_a_pm_with_projects_in_tokyo_and_new_york_gets_each_batch_on_its_own_working_day(
        deps, fake_slack, make_project, clock, session):
    """Issue 11, item 3: the reminder DM was keyed by the UTC date, so the Tokyo batch took the
    day and the New York items never came."""
    from bot.jobs.scheduler import tick
    from bot.services import calendar

    clock.set(datetime(2026, 11, 15, 12, 0, tzinfo=UTC))  # Sunday
    tokyo = make_project("Tokyo shop", timezone="Asia/Tokyo")
    new_york = make_project("New York shop", timezone="America/New_York", client_channel_id="C0OTHER",
                            internal_channel_id=None)
    for project, name in ((tokyo, "Tokyo beta"), (new_york, "New York beta")):
        session.add(Milestone(project_id=project.id, name=name, due_date=date(2026, 11, 10), progress=50,
                              created_at=clock.now(), updated_at=clock.now()))
    session.commit()

    clock.set(datetime(2026, 11, 16, 0, 0, tzinfo=UTC))  # Monday 09:00 in Tokyo, Sunday 19:00 in New York
    while clock.now() < datetime(2026, 11, 19, 0, 0, tzinfo=UTC):  # ticks every hour for three days
        tick(deps)
        clock.advance(hours=1)

    got: dict[str, list[date]] = {"Tokyo beta": [], "New York beta": []}
    for dm in dms(fake_slack, "U0PM"):
        shown = str(dm.params["blocks"])
        for name, project in (("Tokyo beta", tokyo), ("New York beta", new_york)):
            if name in shown:
                assert calendar.within_working_hours(project, posted_at(dm))
                got[name].append(calendar.local_date(project, posted_at(dm)))
    days = [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)]
    assert got == {"Tokyo beta": days, "New York beta": days}
    assert len(dms(fake_slack, "U0PM")) == 6  # one DM per person and local working day of each time zone


def test_a_reminder_run_asking_slack_for_a_language_never_holds_up_a_save(deps, server, fake_slack, make_project,
                                                                          clock, session, people):
    """Each reminder DM is written in its reader's language, which Slack says (users.info). The
    run asked inside its transaction: on SQLite a quick capture waited until Slack answered."""
    project = make_project()
    seed(session, project, clock)
    clock.set(THURSDAY_0930_SHANGHAI)
    warm = payloads.post(server, *payloads.slash_command("/req", "help", user=people.dev, team_id=TEAM,
                                                         response_url=fake_slack.response_url("warm")))
    assert warm.status_code == 200  # the developer's details are known from here on; the PM's are not
    fake_slack.delay("users.info", 2.5)  # the PM's locale, for the PM's reminder
    run = threading.Thread(target=run_reminders, args=(deps,))
    run.start()
    time.sleep(0.5)  # the run is waiting on Slack
    started = time.perf_counter()
    response = payloads.post(server, *payloads.slash_command("/req", "Export to PDF", user=people.dev, team_id=TEAM,
                                                             response_url=fake_slack.response_url("c")))
    took = time.perf_counter() - started
    run.join(timeout=30)
    assert response.status_code == 200 and "Export to PDF" in response.json()["text"]
    assert took < 1.5, f"the capture waited {took:.1f} s for the reminder run's Slack call"
    assert [c.params["user"] for c in fake_slack.calls_to("users.info")].count("U0PM") == 1  # asked once
    [pm] = dms(fake_slack, "U0PM")  # and the run did its work: in the PM's language
    assert "Beta" in str(pm.params["blocks"])
    assert len(dms(fake_slack, "U0DEV")) == 1
