"""Issue 17, public-holiday calendars, end to end: the scheduler's real tick on a controlled
clock against the fake Web API, and the project form through signed requests.

- A Chinese project around the 2026 National Day holiday (1–7 October off, Sunday 20 September
  and Saturday 10 October make-up working days, as the `holidays` package gives them): its
  reminders come on working days only, Saturday 10 October included; a digest whose Friday is a
  holiday is posted on the next working day; a nudge counts the make-up Saturday as a working
  day.
- A Berlin project around Christmas and New Year, and a New York project around Thanksgiving:
  the same, with their own holidays.
- The project form offers the calendar (defaulting from the time zone), in English and in
  Simplified Chinese; what is picked is stored, shown by `/project show` and can be changed.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from bot.blocks import ids
from bot.flows import outbox_keys
from bot.jobs.scheduler import tick
from bot.models import Project, Requirement, Risk
from bot.services import calendar
from tests.e2e.helpers import project_values
from tests.fakes import payloads


def posts(fake_slack, channel: str | None = None):
    return [c for c in fake_slack.calls_to("chat.postMessage") if c.status == 200 and c.response
            and c.response.get("ok") and (channel is None or c.params["channel"] == channel)]


def key_of(call) -> str:
    return str(call.params.get("metadata", {}).get("event_payload", {}).get("key", ""))


def posted_at(call) -> datetime:
    return datetime.fromtimestamp(float(call.response["ts"]), UTC).replace(microsecond=0)


def run(deps, clock, until: datetime, every: timedelta = timedelta(hours=1)) -> None:
    while clock.now() < until:
        tick(deps)
        clock.advance(seconds=every.total_seconds())


def seed(session, project: Project, clock, *, sent_for_confirmation: datetime) -> None:
    """A risk overdue for review (the developer is reminded on every working day) and a
    requirement waiting for the client's confirmation since `sent_for_confirmation`."""
    now = clock.now()
    session.add(Risk(project_id=project.id, title="Vendor late", owner_user_id="U0DEV",
                     next_review_date=date(2026, 1, 5), created_at=now, updated_at=now))
    session.add(Requirement(project_id=project.id, title="SSO login", raised_by="U0PM", created_at=now,
                            updated_at=now, sent_for_confirmation_at=sent_for_confirmation,
                            confirmation_channel_id="C0CLIENT", confirmation_ts="1.000100"))
    session.commit()


def local_days(project: Project, calls) -> list[date]:
    return sorted({calendar.local_now(project, posted_at(c)).date() for c in calls})


def outcome(fake_slack, project: Project) -> dict:
    """What reached people, in the project's local time."""
    reminders = [c for c in posts(fake_slack, "DU0DEV") if key_of(c).startswith("remind:")]
    digests = [c for c in posts(fake_slack, "C0CLIENT") if key_of(c).startswith("digest:")]
    nudges = [c for c in posts(fake_slack) if key_of(c).startswith("nudge:")]
    escalations = [c for c in posts(fake_slack) if key_of(c).startswith("escalate:")]
    for call in posts(fake_slack):
        assert calendar.within_working_hours(project, posted_at(call)), (key_of(call), posted_at(call))
    return {
        "reminder_days": local_days(project, reminders),
        "digests": [(outbox_keys.digest_week(key_of(c)), calendar.local_text(project, posted_at(c))) for c in digests],
        "nudges": [calendar.local_text(project, posted_at(c)) for c in nudges],
        "escalations": [calendar.local_text(project, posted_at(c)) for c in escalations],
    }


def test_a_chinese_project_around_national_day_2026_works_the_make_up_saturday(
        deps, fake_slack, make_project, clock, session):
    clock.set(datetime(2026, 9, 27, 16, 0, tzinfo=UTC))  # Monday 28 September, 00:00 in Shanghai
    project = make_project("Shanghai shop", timezone="Asia/Shanghai", internal_channel_id=None)  # digest Fridays 16:00
    assert (project.country, project.subdivision) == ("CN", "")  # from its time zone
    seed(session, project, clock, sent_for_confirmation=datetime(2026, 9, 29, 2, 0, tzinfo=UTC))  # Tue 10:00

    run(deps, clock, until=datetime(2026, 10, 12, 16, 0, tzinfo=UTC))  # … until Tuesday 13 October
    seen = outcome(fake_slack, project)
    # Nothing from 1 to 7 October nor on Sunday 11; Saturday 10 October is a working day.
    assert seen["reminder_days"] == [date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 8),
                                     date(2026, 10, 9), date(2026, 10, 10), date(2026, 10, 12)]
    # Friday 25 September (Mid-Autumn Festival) and Friday 2 October are holidays: those weeks'
    # digests come on the next working day, Monday 28 September and Thursday 8 October.
    assert seen["digests"] == [("2026-W39", "2026-09-28 16:00"), ("2026-W40", "2026-10-08 16:00"),
                               ("2026-W41", "2026-10-09 16:00")]
    # Waiting since Tuesday 29 September: 3 working days on 9 October (30 Sep, 8 Oct, 9 Oct), 5 on
    # Monday 12 October (the make-up Saturday counts).
    assert seen["nudges"] == ["2026-10-09 09:00"]
    assert seen["escalations"] == ["2026-10-12 09:00"]


def test_own_closures_come_on_top_of_the_public_calendar(deps, fake_slack, make_project, clock, session):
    clock.set(datetime(2026, 9, 27, 16, 0, tzinfo=UTC))
    project = make_project("Shanghai shop", timezone="Asia/Shanghai", internal_channel_id=None,
                           holidays_text="2026-10-09, 2026-10-10")
    seed(session, project, clock, sent_for_confirmation=datetime(2026, 9, 29, 2, 0, tzinfo=UTC))
    clock.set(datetime(2026, 10, 7, 16, 0, tzinfo=UTC))  # Thursday 8 October, 00:00
    run(deps, clock, until=datetime(2026, 10, 12, 16, 0, tzinfo=UTC))
    seen = outcome(fake_slack, project)
    assert seen["reminder_days"] == [date(2026, 10, 8), date(2026, 10, 12)]  # closed on the 9th and the 10th
    assert seen["digests"] == [("2026-W40", "2026-10-08 16:00"), ("2026-W41", "2026-10-12 16:00")]


def test_a_project_without_a_public_calendar_keeps_to_its_working_weekdays(deps, fake_slack, make_project, clock,
                                                                         session):
    clock.set(datetime(2026, 9, 27, 16, 0, tzinfo=UTC))
    project = make_project("Shanghai shop", timezone="Asia/Shanghai", internal_channel_id=None, country="")
    assert project.country == ""
    seed(session, project, clock, sent_for_confirmation=datetime(2026, 9, 29, 2, 0, tzinfo=UTC))
    run(deps, clock, until=datetime(2026, 10, 5, 16, 0, tzinfo=UTC))  # until Tuesday 6 October
    seen = outcome(fake_slack, project)
    assert seen["reminder_days"] == [date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 1),
                                     date(2026, 10, 2), date(2026, 10, 5)]
    assert seen["digests"] == [("2026-W40", "2026-10-02 16:00")]


def test_a_berlin_project_around_christmas_and_new_year(deps, fake_slack, make_project, clock, session):
    clock.set(datetime(2026, 12, 20, 23, 0, tzinfo=UTC))  # Monday 21 December, 00:00 in Berlin
    project = make_project("Berlin shop", timezone="Europe/Berlin", internal_channel_id=None)  # Fridays 16:00
    assert (project.country, project.subdivision) == ("DE", "BE")
    seed(session, project, clock, sent_for_confirmation=datetime(2026, 12, 22, 9, 0, tzinfo=UTC))  # Tue 10:00
    run(deps, clock, until=datetime(2027, 1, 4, 23, 0, tzinfo=UTC))  # … until Tuesday 5 January
    seen = outcome(fake_slack, project)
    # 25 December and 1 January (Fridays) are public holidays; 24 and 31 December are not.
    assert seen["reminder_days"] == [date(2026, 12, 21), date(2026, 12, 22), date(2026, 12, 23), date(2026, 12, 24),
                                     date(2026, 12, 28), date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31),
                                     date(2027, 1, 4)]
    assert seen["digests"] == [("2026-W52", "2026-12-28 16:00"), ("2026-W53", "2027-01-04 16:00")]
    # Waiting since Tuesday 22 December: 3 working days on Monday 28 (23, 24, 28).
    assert seen["nudges"] == ["2026-12-28 09:00"]
    assert seen["escalations"] == ["2026-12-30 09:00"]


def test_a_new_york_project_around_thanksgiving(deps, fake_slack, make_project, clock, session):
    clock.set(datetime(2026, 11, 23, 5, 0, tzinfo=UTC))  # Monday 23 November, 00:00 in New York
    project = make_project("New York shop", timezone="America/New_York", internal_channel_id=None,
                           digest_weekday=3)  # Thursdays 16:00
    assert (project.country, project.subdivision) == ("US", "NY")
    seed(session, project, clock, sent_for_confirmation=datetime(2026, 11, 23, 15, 0, tzinfo=UTC))  # Mon 10:00
    run(deps, clock, until=datetime(2026, 12, 1, 5, 0, tzinfo=UTC))  # … until Tuesday 1 December
    seen = outcome(fake_slack, project)
    assert seen["reminder_days"] == [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 27),
                                     date(2026, 11, 30)]  # not on Thanksgiving, Thursday 26
    assert seen["digests"] == [("2026-W48", "2026-11-27 16:00")]  # Thursday's digest on Friday
    assert seen["nudges"] == ["2026-11-27 09:00"]  # 24, 25, 27 November


# The project form --------------------------------------------------------------------------


def _calendar_block(view: dict) -> dict:
    return next(b for b in view["blocks"] if b["block_id"] == ids.PROJECT_BLOCK_CALENDAR)


def _options(slack, user, typed: str, view: dict | None = None) -> list[dict]:
    body, headers = payloads.block_suggestion(ids.PROJECT_CALENDAR_ACTION, typed, user=user,
                                              block_id=ids.PROJECT_BLOCK_CALENDAR, view=view)
    resp = slack.http.post("/slack/events", content=body.encode(), headers=headers)
    assert resp.status_code == 200
    return resp.json()["options"]


def _submit(slack, user, picked: str | None, *, project_id: int | None = None, timezone: str = "Asia/Shanghai",
            **fields):
    values = project_values(timezone=timezone, **fields)
    if picked is not None:
        values[ids.PROJECT_BLOCK_CALENDAR] = {ids.PROJECT_CALENDAR_ACTION: {
            "type": "external_select", "selected_option": payloads.option(picked)}}
    meta = json.dumps({"project_id": project_id, "origin_channel": "C0CLIENT"})
    return slack.submit(ids.PROJECT_MODAL, values, user=user, private_metadata=meta)


def _project(session) -> Project:
    session.expire_all()
    return session.exec(select(Project)).one()


def test_the_setup_form_offers_the_calendar_of_the_time_zone_and_stores_the_one_picked(
        slack, fake_slack, people, session, clock):
    slack.command("/project", "setup", user=people.pm)  # the PM's Slack time zone is Europe/Berlin
    view = fake_slack.wait_for("views.open")[0].params["view"]
    block = _calendar_block(view)
    assert block["label"]["text"] == "Public holidays"
    assert "make-up working days" in block["hint"]["text"]
    assert block["element"]["initial_option"] == {"text": {"type": "plain_text", "text": "Germany · Berlin (DE-BE)",
                                                           "emoji": True}, "value": "DE-BE"}
    closures = next(b for b in view["blocks"] if b["block_id"] == ids.PROJECT_BLOCK_HOLIDAYS)
    assert closures["label"]["text"] == "Own closures (optional)"

    found = _options(slack, people.pm, "new york", view)
    assert {"text": {"type": "plain_text", "text": "United States · New York (US-NY)", "emoji": True},
            "value": "US-NY"} in found
    assert [o["value"] for o in _options(slack, people.pm, "china", view)][0] == "CN"
    assert _options(slack, people.pm, "none", view)[0]["value"] == ids.CALENDAR_NONE

    resp = _submit(slack, people.pm, "US-NY", timezone="America/New_York")
    assert resp.content in (b"", b"{}") or "errors" not in resp.json()
    project = _project(session)
    assert (project.country, project.subdivision) == ("US", "NY")

    clock.set(datetime(2026, 11, 18, 15, 0, tzinfo=UTC))
    shown = str(slack.command("/project", "show", user=people.pm).json()["blocks"])
    assert "*Public holidays*\\nUnited States · New York (US-NY)" in shown
    assert "Thanksgiving Day" in shown  # among the coming days off


def test_a_calendar_not_in_the_list_is_refused_next_to_the_field(slack, people, session):
    for picked in ("XX", "DE-Atlantis", "D€-BE"):
        body = _submit(slack, people.pm, picked).json()
        assert body["response_action"] == "errors"
        assert body["errors"] == {ids.PROJECT_BLOCK_CALENDAR: "Pick a calendar from the list."}
    assert session.exec(select(Project)).all() == []


def test_the_edit_form_shows_the_project_calendar_and_changes_it(slack, fake_slack, people, session, make_project):
    project = make_project(timezone="Europe/Berlin")
    assert (project.country, project.subdivision) == ("DE", "BE")
    slack.command("/project", "edit", user=people.pm)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert _calendar_block(view)["element"]["initial_option"]["value"] == "DE-BE"
    meta = json.loads(view["private_metadata"])

    values = project_values(name=project.name, timezone="Europe/Berlin")
    values[ids.PROJECT_BLOCK_CALENDAR] = {ids.PROJECT_CALENDAR_ACTION: {
        "type": "external_select", "selected_option": payloads.option("DE-BY")}}
    resp = slack.submit(ids.PROJECT_MODAL, values, user=people.pm, private_metadata=json.dumps(meta))
    assert resp.content in (b"", b"{}") or "errors" not in resp.json()
    assert (_project(session).country, _project(session).subdivision) == ("DE", "BY")

    # None: the project keeps to its working weekdays and own closures.
    slack.command("/project", "edit", user=people.pm)
    view = fake_slack.wait_for("views.open", count=2)[1].params["view"]
    values[ids.PROJECT_BLOCK_CALENDAR] = {ids.PROJECT_CALENDAR_ACTION: {
        "type": "external_select", "selected_option": payloads.option(ids.CALENDAR_NONE)}}
    slack.submit(ids.PROJECT_MODAL, values, user=people.pm, private_metadata=view["private_metadata"])
    assert (_project(session).country, _project(session).subdivision) == ("", "")
    shown = str(slack.command("/project", "show", user=people.pm).json()["blocks"])
    assert "None: working days and own closures only" in shown


def test_the_form_and_project_show_in_simplified_chinese(slack, fake_slack, people, session, clock):
    fake_slack.add_user(people.pm.id, name=people.pm.name, tz="Asia/Shanghai", locale="zh-CN")
    slack.command("/project", "setup", user=people.pm)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    block = _calendar_block(view)
    assert block["label"]["text"] == "公共假日"
    assert "调休" in block["hint"]["text"]
    assert block["element"]["initial_option"]["text"]["text"] == "中国（CN）"
    assert block["element"]["initial_option"]["value"] == "CN"
    found = _options(slack, people.pm, "berlin", view)
    assert {"text": {"type": "plain_text", "text": "德国 · Berlin（DE-BE）", "emoji": True}, "value": "DE-BE"} in found
    assert "CN" in [o["value"] for o in _options(slack, people.pm, "中国", view)]

    _submit(slack, people.pm, "CN", language="zh-CN")
    project = _project(session)
    assert project.country == "CN"
    clock.set(datetime(2026, 9, 15, 2, 0, tzinfo=UTC))
    shown = str(slack.command("/project", "show", user=people.pm).json()["blocks"])
    assert "*公共假日*\\n中国（CN）" in shown
    assert "国庆节" in shown and "调休上班" in shown  # 1 October off, 20 September a make-up working day

    # The edit form, in the project's language, shows its calendar.
    slack.command("/project", "edit", user=people.pm)
    block = _calendar_block(fake_slack.wait_for("views.open", count=2)[1].params["view"])
    assert block["label"]["text"] == "公共假日"
    assert block["element"]["initial_option"] == {"text": {"type": "plain_text", "text": "中国（CN）", "emoji": True},
                                                  "value": "CN"}
    # Near the year's end, a coming year whose 调休 the package does not carry yet is named.
    clock.set(datetime(2026, 11, 28, 2, 0, tzinfo=UTC))
    shown = str(slack.command("/project", "show", user=people.pm).json()["blocks"])
    known_2027 = bool(calendar.public_year("CN", "", 2027).working_weekend_days)
    assert ("2027 年的调休上班日尚未收录" in shown) is not known_2027
    assert "元旦" in shown  # 1 January 2027


def test_two_edit_forms_changing_the_calendar_the_second_is_told_and_an_older_form_keeps_it(
        slack, fake_slack, people, session, make_project):
    project = make_project(timezone="Europe/Berlin")
    slack.command("/project", "edit", user=people.pm)
    slack.command("/project", "edit", user=people.dev)
    first, second = (c.params["view"] for c in fake_slack.wait_for("views.open", count=2)[:2])
    values = project_values(name=project.name, timezone="Europe/Berlin")
    values[ids.PROJECT_BLOCK_CALENDAR] = {ids.PROJECT_CALENDAR_ACTION: {
        "type": "external_select", "selected_option": payloads.option("DE-BY")}}
    slack.submit(ids.PROJECT_MODAL, values, user=people.pm, private_metadata=first["private_metadata"])
    values[ids.PROJECT_BLOCK_CALENDAR] = {ids.PROJECT_CALENDAR_ACTION: {
        "type": "external_select", "selected_option": payloads.option("FR")}}
    body = slack.submit(ids.PROJECT_MODAL, values, user=people.dev, private_metadata=second["private_metadata"]).json()
    assert body["response_action"] == "errors"
    assert "DE-BY" in body["errors"][ids.PROJECT_BLOCK_CALENDAR]
    assert (_project(session).country, _project(session).subdivision) == ("DE", "BY")

    # A form drawn before the calendar field existed (no such block) leaves the calendar alone,
    # even with another time zone.
    del values[ids.PROJECT_BLOCK_CALENDAR]
    values[ids.PROJECT_BLOCK_TIMEZONE] = project_values(timezone="Asia/Shanghai")[ids.PROJECT_BLOCK_TIMEZONE]
    meta = json.dumps({"project_id": project.id, "origin_channel": "C0CLIENT"})
    resp = slack.submit(ids.PROJECT_MODAL, values, user=people.pm, private_metadata=meta)
    assert resp.content in (b"", b"{}") or "errors" not in resp.json()
    saved = _project(session)
    assert (saved.timezone, saved.country, saved.subdivision) == ("Asia/Shanghai", "DE", "BY")
