"""Issue 11, item 4: nothing scheduled reaches anyone outside the project's working days and
hours, through the scheduler's real tick, a controlled clock and the fake Web API.

- a digest missed during an outage, and the "digest is late" question, wait for the next
  working hour (not Saturday 02:00);
- a digest whose sending failed is retried by the sweep only inside working hours;
- with "post only after the PM approves" and a digest due at the start of the day, the preview
  reaches the PM the working day before, and a digest still waiting on the PM is said so in the
  App Home and the next reminder;
- a closure longer than a week (24 Dec – 6 Jan) drops no digest: each missed week's digest is
  posted when work resumes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from bot.blocks import ids
from bot.jobs.scheduler import tick
from bot.models import Outbox
from bot.services import calendar


def posted_at(call) -> datetime:
    """When the fake Slack posted a message (its ts follows the bot's clock)."""
    return datetime.fromtimestamp(float(call.response["ts"]), UTC).replace(microsecond=0)


def posts(fake_slack, channel: str | None = None):
    return [c for c in fake_slack.calls_to("chat.postMessage") if c.status == 200 and c.response
            and c.response.get("ok") and (channel is None or c.params["channel"] == channel)]


def key_of(call) -> str:
    return str(call.params.get("metadata", {}).get("event_payload", {}).get("key", ""))


def run(deps, clock, until: datetime, every: timedelta = timedelta(minutes=15)) -> None:
    """The scheduler ticking every `every` of controlled clock until `until`."""
    while clock.now() < until:
        tick(deps)
        clock.advance(seconds=every.total_seconds())


def test_after_an_outage_the_digest_and_the_late_question_wait_for_the_next_working_hour(
        deps, fake_slack, make_project, clock):
    clock.set(datetime(2026, 11, 16, 8, 0, tzinfo=UTC))  # Monday
    friday = make_project("Friday shop", timezone="Europe/Berlin")  # digest Fridays 16:00
    thursday = make_project("Thursday shop", timezone="Europe/Berlin", digest_weekday=3,
                            client_channel_id="C0OTHER", internal_channel_id=None)
    # The bot is down from Thursday morning until Saturday 02:00 in Berlin (01:00 UTC).
    clock.set(datetime(2026, 11, 21, 1, 0, tzinfo=UTC))
    run(deps, clock, until=datetime(2026, 11, 23, 8, 0, tzinfo=UTC))  # … until Monday 09:00
    assert posts(fake_slack) == []  # not at 02:00 on Saturday, nor on Sunday

    run(deps, clock, until=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # Monday 09:00 – 10:00
    [digest] = [c for c in posts(fake_slack, "C0CLIENT")]
    assert key_of(digest) == "digest:1:2026-W47:client"
    assert posted_at(digest) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # the first working hour
    # Thursday's digest is more than a working day late: the PM is asked, in working hours.
    [question] = [c for c in posts(fake_slack, "DU0PM") if key_of(c).startswith("digest-late:")]
    assert "Thursday shop" in question.params["text"]
    assert posts(fake_slack, "C0OTHER") == []
    for call in posts(fake_slack):
        assert calendar.within_working_hours(friday, posted_at(call))
        assert calendar.within_working_hours(thursday, posted_at(call))


def test_a_digest_that_failed_to_send_is_retried_only_inside_working_hours(deps, fake_slack, make_project, clock,
                                                                           session):
    clock.set(datetime(2026, 11, 16, 8, 0, tzinfo=UTC))
    project = make_project(timezone="Europe/Berlin", internal_channel_id=None)
    clock.set(datetime(2026, 11, 20, 14, 0, tzinfo=UTC))  # Friday 15:00 in Berlin
    fake_slack.fail("chat.postMessage", status=503, times=10_000)  # Slack is down from 15:00 …
    run(deps, clock, until=datetime(2026, 11, 20, 18, 0, tzinfo=UTC))  # … until 19:00
    fake_slack.clear_faults()
    assert session.exec(select(Outbox).where(Outbox.kind == "digest")).one().status == "pending"

    run(deps, clock, until=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # the weekend, then Monday morning
    [digest] = posts(fake_slack, "C0CLIENT")
    assert posted_at(digest) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00, not Friday 19:00
    assert calendar.within_working_hours(project, posted_at(digest))


def test_an_approval_preview_of_a_digest_due_at_the_start_of_the_day_comes_the_working_day_before(
        deps, fake_slack, make_project, clock, slack, people):
    clock.set(datetime(2026, 11, 16, 8, 0, tzinfo=UTC))
    project = make_project(timezone="Europe/Berlin", require_pm_approval=True, digest_weekday=0,
                           digest_time="09:00", internal_channel_id=None)
    clock.set(datetime(2026, 11, 19, 8, 0, tzinfo=UTC))  # Thursday 09:00 in Berlin
    run(deps, clock, until=datetime(2026, 11, 23, 7, 45, tzinfo=UTC))  # until Monday 08:45
    [preview] = [c for c in posts(fake_slack, "DU0PM") if key_of(c).startswith("preview:")]
    assert key_of(preview) == "preview:1:2026-W48"
    assert posted_at(preview) == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # Friday 16:00: two hours before 18:00
    assert "waits for your approval" in str(preview.params["blocks"])

    run(deps, clock, until=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # Monday 08:45 – 10:00
    assert posts(fake_slack, "C0CLIENT") == []  # it waits for the PM
    # The PM's reminder of Monday morning says the digest waits on them …
    [reminder] = [c for c in posts(fake_slack, "DU0PM") if key_of(c).startswith("remind:")]
    assert "waits for your approval" in str(reminder.params["blocks"]) and "2026-W48" in str(reminder.params["blocks"])
    assert calendar.within_working_hours(project, posted_at(reminder))
    # … and so does the App Home.
    slack.event({"type": "app_home_opened", "user": "U0PM", "tab": "home", "channel": "DU0PM", "event_ts": "1.0"})
    home = fake_slack.wait_for("views.publish")[0]
    assert "waits for your approval" in str(home.params["view"]["blocks"])

    post_now = next(e for b in preview.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                    if e["action_id"] == ids.DIGEST_POST_NOW)
    slack.action(ids.DIGEST_POST_NOW, post_now["value"], user=people.pm, channel_id="DU0PM")
    fake_slack.wait_for("response_url")
    assert len(posts(fake_slack, "C0CLIENT")) == 1
    for call in posts(fake_slack):
        assert calendar.within_working_hours(project, posted_at(call))


def test_a_closure_over_the_new_year_drops_no_digest(deps, fake_slack, make_project, clock):
    clock.set(datetime(2026, 12, 14, 8, 0, tzinfo=UTC))
    closure = [(datetime(2026, 12, 24) + timedelta(days=n)).date().isoformat() for n in range(14)]  # 24 Dec – 6 Jan
    project = make_project(timezone="Europe/Berlin", internal_channel_id=None, holidays_text=", ".join(closure))
    assert project.holidays == closure
    clock.set(datetime(2026, 12, 18, 0, 0, tzinfo=UTC))
    run(deps, clock, until=datetime(2027, 1, 9, 0, 0, tzinfo=UTC), every=timedelta(hours=1))
    digests = posts(fake_slack, "C0CLIENT")
    # Each week's digest, exactly once: the two the closure pushed on are posted when work resumes.
    assert [key_of(c) for c in digests] == ["digest:1:2026-W51:client", "digest:1:2026-W52:client",
                                            "digest:1:2026-W53:client", "digest:1:2027-W01:client"]
    assert [calendar.local_text(project, posted_at(c)) for c in digests] == [
        "2026-12-18 16:00", "2027-01-07 16:00", "2027-01-07 16:00", "2027-01-08 16:00"]
    assert [c for c in posts(fake_slack, "DU0PM") if key_of(c).startswith("digest-late:")] == []
