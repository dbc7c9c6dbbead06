"""Issue 17, public-holiday calendars: the one working-day rule of `bot.services.calendar` with a
country's calendar, the default from the time zone, and migration 0009's back-fill."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import text

from bot.db import make_engine
from bot.migrate import upgrade
from bot.models import Project
from bot.reports import holiday_regions
from bot.services import calendar


def project(**kw) -> Project:
    base = dict(team_id="T", name="P", client_channel_id="C", pm_user_id="U", created_by="U",
                timezone="Asia/Shanghai", country="CN", digest_weekday=4, digest_time=time(16, 0))
    base.update(kw)
    return Project(**base)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def test_china_national_day_2026_is_1_to_7_october_off_with_make_up_sunday_20_september_and_saturday_10_october():
    p = project()
    off = [d for d in days(date(2026, 9, 19), date(2026, 10, 11)) if not calendar.is_working_day(p, d)]
    assert off == [date(2026, 9, 19),  # Saturday
                   date(2026, 9, 25), date(2026, 9, 26), date(2026, 9, 27),  # Mid-Autumn Festival, the weekend
                   *days(date(2026, 10, 1), date(2026, 10, 7)),  # National Day
                   date(2026, 10, 11)]  # Sunday
    assert calendar.make_up_working_day(p, date(2026, 9, 20)) and calendar.make_up_working_day(p, date(2026, 10, 10))
    assert calendar.is_working_day(p, date(2026, 10, 10)) and calendar.is_working_day(p, date(2026, 9, 20))
    assert calendar.next_working_day(p, date(2026, 10, 1)) == date(2026, 10, 8)
    assert calendar.next_working_day(p, date(2026, 10, 10)) == date(2026, 10, 10)
    assert calendar.public_holiday_name(p, date(2026, 10, 1), "zh-CN") == "国庆节"
    assert calendar.public_holiday_name(p, date(2026, 10, 1), "en") == "National Day"
    assert calendar.public_holiday_name(p, date(2026, 10, 8), "en") == ""


def test_china_spring_festival_2026_and_its_make_up_saturdays():
    p = project()
    assert not any(calendar.is_working_day(p, d) for d in days(date(2026, 2, 15), date(2026, 2, 23)))
    assert calendar.is_working_day(p, date(2026, 2, 14)) and calendar.is_working_day(p, date(2026, 2, 28))


def test_make_up_days_count_in_working_days_between_and_working_time():
    p = project()
    sent = datetime(2026, 9, 29, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai
    assert calendar.working_days_between(p, sent, datetime(2026, 10, 7, 2, 0, tzinfo=UTC)) == 1  # 30 Sep
    assert calendar.working_days_between(p, sent, datetime(2026, 10, 10, 2, 0, tzinfo=UTC)) == 4  # + 8, 9, 10 Oct
    saturday = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)
    assert calendar.within_working_hours(p, saturday)
    assert calendar.next_working_moment(p, datetime(2026, 10, 1, 2, 0, tzinfo=UTC)) == \
        datetime(2026, 10, 8, 1, 0, tzinfo=UTC)  # Thursday 8 October, 09:00


def test_a_digest_due_on_a_public_holiday_moves_to_the_next_working_day():
    p = project()  # Fridays 16:00
    assert calendar.digest_due_at(p, date(2026, 9, 28)) == datetime(2026, 10, 8, 8, 0, tzinfo=UTC)
    assert calendar.digest_due_at(p, date(2026, 10, 5)) == datetime(2026, 10, 9, 8, 0, tzinfo=UTC)
    saturday = project(digest_weekday=5)  # a Saturday digest is posted on the make-up Saturday
    assert calendar.digest_due_at(saturday, date(2026, 10, 5)) == datetime(2026, 10, 10, 8, 0, tzinfo=UTC)


def test_first_working_day_of_the_month_follows_the_calendar():
    assert calendar.first_working_day_of_month(project(), date(2026, 10, 20)) == date(2026, 10, 8)
    assert calendar.first_working_day_of_month(project(country="DE", subdivision="BE"), date(2027, 1, 15)) == \
        date(2027, 1, 4)  # New Year's Day is a Friday
    assert calendar.first_working_day_of_month(project(country=""), date(2026, 10, 20)) == date(2026, 10, 1)


def test_a_coming_year_whose_make_up_days_the_package_lacks_is_named():
    china = project()
    known_2027 = bool(calendar.public_year("CN", "", 2027).working_weekend_days)
    assert calendar.make_up_days_unknown(china, datetime(2026, 11, 28, tzinfo=UTC)) == ([] if known_2027 else [2027])
    assert calendar.make_up_days_unknown(china, datetime(2026, 9, 1, tzinfo=UTC)) == []  # 2026's are in
    assert calendar.make_up_days_unknown(project(country="DE"), datetime(2026, 11, 28, tzinfo=UTC)) == []  # none


def test_own_closures_win_over_the_public_calendar():
    p = project(holidays=["2026-10-10", "2026-10-12"])
    assert not calendar.is_working_day(p, date(2026, 10, 10))  # a make-up Saturday the team takes off
    assert not calendar.is_working_day(p, date(2026, 10, 12))
    assert calendar.coming_days(p, datetime(2026, 9, 30, 2, 0, tzinfo=UTC), "en", days=14) == [
        *[(d, "public_holiday", "National Day") for d in (date(2026, 10, 1), date(2026, 10, 2))],
        *[(d, "public_holiday", name) for d, name in ((date(2026, 10, 5), "National Day (observed)"),
                                                       (date(2026, 10, 6), "Day off (substituted from 09/20/2026)"),
                                                       (date(2026, 10, 7), "Day off (substituted from 10/10/2026)"))],
        (date(2026, 10, 10), "closure", ""), (date(2026, 10, 12), "closure", "")]


def test_berlin_has_its_own_holidays_on_top_of_germany():
    berlin, germany = project(country="DE", subdivision="BE"), project(country="DE", subdivision="")
    womens_day = date(2027, 3, 8)  # a Monday: a public holiday in Berlin only
    assert not calendar.is_working_day(berlin, womens_day) and calendar.is_working_day(germany, womens_day)
    for p in (berlin, germany):
        assert not calendar.is_working_day(p, date(2026, 12, 25))  # Christmas, a Friday
        assert calendar.is_working_day(p, date(2026, 12, 24))
        assert calendar.is_working_day(p, date(2027, 10, 4))  # 3 October 2027 is a Sunday: Monday is worked


def test_new_york_thanksgiving_and_a_project_without_a_calendar():
    ny = project(timezone="America/New_York", country="US", subdivision="NY", digest_weekday=3)
    assert not calendar.is_working_day(ny, date(2026, 11, 26))
    assert calendar.next_working_day(ny, date(2026, 11, 26)) == date(2026, 11, 27)
    plain = project(country="")
    assert calendar.is_working_day(plain, date(2026, 10, 1)) and not calendar.is_working_day(plain, date(2026, 10, 10))


@pytest.mark.parametrize("country,subdivision", [("ZZ", ""), ("DE", "Atlantis")])
def test_a_calendar_the_package_does_not_know_gives_no_public_holidays(country, subdivision):
    p = project(country=country, subdivision=subdivision)
    assert calendar.is_working_day(p, date(2026, 10, 1)) and not calendar.is_working_day(p, date(2026, 10, 3))


@pytest.mark.parametrize("zone,expected", [
    ("Asia/Shanghai", ("CN", "")), ("Europe/Berlin", ("DE", "BE")), ("America/New_York", ("US", "NY")),
    ("America/Los_Angeles", ("US", "CA")), ("Europe/Paris", ("FR", "")), ("Asia/Tokyo", ("JP", "")),
    ("Asia/Hong_Kong", ("HK", "")), ("UTC", ("", "")), ("Etc/GMT+5", ("", "")), ("Mars/Olympus", ("", "")),
    ("", ("", "")), (None, ("", "")),
])
def test_the_default_calendar_comes_from_the_time_zone(zone, expected):
    assert holiday_regions.default_calendar(zone) == expected


def test_every_zone_of_the_subdivision_table_names_a_known_subdivision():
    for zone, subdivision in holiday_regions.ZONE_SUBDIVISIONS.items():
        country, picked = holiday_regions.default_calendar(zone)
        assert picked == subdivision, zone
        assert holiday_regions.is_known(country, subdivision)


def test_codes_and_names():
    assert holiday_regions.split("DE-BE") == ("DE", "BE") and holiday_regions.split("") == ("", "")
    assert holiday_regions.split("AU-NSW Western") == ("AU", "NSW Western")
    assert holiday_regions.join("CN", "") == "CN" and holiday_regions.join("", "X") == ""
    assert holiday_regions.country_name("DE", "en") == "Germany"
    assert holiday_regions.country_name("DE", "zh-CN") == "德国"
    assert holiday_regions.subdivision_name("US", "NY") == "New York"
    codes = [c.code for c in holiday_regions.choices("en")]
    assert {"CN", "DE", "DE-BE", "US", "US-NY"} <= set(codes) and len(codes) == len(set(codes))


def test_migration_0009_gives_existing_projects_the_calendar_of_their_time_zone(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    upgrade(engine, "0003")
    with engine.begin() as conn:
        for n, zone in enumerate(["Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC", "Mars/Olympus"], 1):
            conn.execute(text(
                "INSERT INTO project (id, team_id, name, client_name, client_channel_id, pm_user_id,"
                " client_approver_ids, timezone, language, digest_weekday, digest_time, preview_lead_minutes,"
                " require_pm_approval, working_days, holidays, work_start, work_end, nudge_after_days,"
                " escalate_after_days, feedback_cadence_weeks, feedback_cooldown_days, anonymous_feedback, status,"
                " created_by, created_at, updated_at) VALUES (:id, 'T1', :name, '', :channel, 'U1', '[]', :zone,"
                " 'en', 4, '16:00:00', 120, 0, '[0,1,2,3,4]', '[]', '09:00:00', '18:00:00', 3, 5, 0, 14, 0,"
                " 'active', 'U1', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"),
                {"id": n, "name": f"P{n}", "channel": f"C{n}", "zone": zone})
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT timezone, country, subdivision FROM project ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("Asia/Shanghai", "CN", ""), ("Europe/Berlin", "DE", "BE"),
                                        ("America/New_York", "US", "NY"), ("UTC", "", ""), ("Mars/Olympus", "", "")]
    engine.dispose()


def test_only_the_calendar_decides_which_days_are_worked():
    """Every job asks `bot.services.calendar`; no other module reads a project's working days,
    closures or public-holiday calendar to decide for itself (the form and its summary aside)."""
    import re
    from pathlib import Path

    import bot

    root = Path(bot.__file__).parent
    allowed = {"services/calendar.py", "services/holiday_regions.py", "services/projects.py", "blocks/project.py",
               "handlers/project.py", "models.py"}
    pattern = re.compile(r"\.(working_days|holidays|country|subdivision)\b")
    offenders = [f"{path.relative_to(root)}:{n}" for path in root.rglob("*.py")
                 if path.relative_to(root).as_posix() not in allowed and "migrations" not in path.parts
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offenders == []
