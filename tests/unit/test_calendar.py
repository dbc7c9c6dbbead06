from datetime import UTC, date, datetime, time, timedelta

from bot.models import Project
from bot.services import calendar


def project(**kw) -> Project:
    base = dict(team_id="T", name="P", client_channel_id="C", pm_user_id="U", created_by="U",
                timezone="Asia/Shanghai", digest_weekday=4, digest_time=time(16, 0))
    base.update(kw)
    return Project(**base)


def test_digest_is_due_at_local_time_in_each_time_zone():
    monday = date(2026, 11, 16)
    shanghai = calendar.digest_due_at(project(timezone="Asia/Shanghai"), monday)
    la = calendar.digest_due_at(project(timezone="America/Los_Angeles"), monday)
    assert shanghai == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)   # Fri 16:00 +08:00
    assert la == datetime(2026, 11, 21, 0, 0, tzinfo=UTC)         # Fri 16:00 -08:00


def test_holiday_moves_the_digest_to_the_next_working_day_skipping_the_weekend():
    p = project(holidays=["2026-11-20"])
    assert calendar.digest_due_at(p, date(2026, 11, 16)) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_custom_working_days_are_respected():
    p = project(working_days=[6, 0, 1, 2, 3], digest_weekday=4)  # Sunday–Thursday week
    assert calendar.digest_due_at(p, date(2026, 11, 16)) == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def test_working_days_between_skips_weekends_and_holidays():
    p = project(timezone="UTC", holidays=["2026-11-19"])
    mon = datetime(2026, 11, 16, 10, tzinfo=UTC)
    assert calendar.working_days_between(p, mon, datetime(2026, 11, 18, 9, tzinfo=UTC)) == 2
    assert calendar.working_days_between(p, mon, datetime(2026, 11, 20, 9, tzinfo=UTC)) == 3  # Thu is a holiday
    assert calendar.working_days_between(p, mon, datetime(2026, 11, 23, 9, tzinfo=UTC)) == 4  # weekend skipped
    assert calendar.working_days_between(p, mon, mon) == 0


def test_working_hours_follow_the_project_time_zone():
    p = project(timezone="Asia/Shanghai")
    assert calendar.within_working_hours(p, datetime(2026, 11, 18, 2, 0, tzinfo=UTC))      # 10:00 local
    assert not calendar.within_working_hours(p, datetime(2026, 11, 18, 12, 0, tzinfo=UTC))  # 20:00 local
    assert not calendar.within_working_hours(p, datetime(2026, 11, 21, 2, 0, tzinfo=UTC))   # Saturday


def test_recent_weeks_are_last_and_this_week_in_local_time():
    p = project(timezone="Asia/Shanghai")
    # Sunday 20:00 UTC is already Monday in Shanghai
    weeks = calendar.recent_digest_weeks(p, datetime(2026, 11, 22, 20, 0, tzinfo=UTC))
    assert [w for w, _ in weeks] == ["2026-W47", "2026-W48"]


def test_next_working_moment_holds_what_falls_due_outside_working_hours():
    p = project(timezone="Europe/Berlin")
    friday_evening = datetime(2026, 11, 20, 19, 0, tzinfo=UTC)  # 20:00 in Berlin
    assert calendar.next_working_moment(p, friday_evening) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Mon 09:00
    inside = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert calendar.next_working_moment(p, inside) == inside


def test_working_time_between_counts_only_working_hours():
    p = project(timezone="Europe/Berlin")
    friday_16 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    monday_09 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert calendar.working_time_between(p, friday_16, monday_09) == timedelta(hours=2)
    assert calendar.working_time_between(p, friday_16, monday_09 + timedelta(hours=8)) == timedelta(hours=10)
    assert calendar.working_day_length(p) == timedelta(hours=9)


def test_a_preview_falls_inside_working_hours_before_its_digest():
    p = project(timezone="Europe/Berlin", digest_weekday=0, digest_time=time(9, 0), preview_lead_minutes=120)
    due = calendar.digest_due_at(p, date(2026, 11, 23))  # Monday 09:00
    assert calendar.preview_at(p, due) == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # Friday 16:00
    p2 = project(timezone="Europe/Berlin", preview_lead_minutes=120)  # Friday 16:00: two hours before
    due2 = calendar.digest_due_at(p2, date(2026, 11, 16))
    assert calendar.preview_at(p2, due2) == due2 - timedelta(hours=2)


def test_a_closure_longer_than_a_week_keeps_the_weeks_it_pushed_on():
    closure = [(date(2026, 12, 24) + timedelta(days=n)).isoformat() for n in range(14)]
    p = project(timezone="Europe/Berlin", holidays=closure)
    thursday = datetime(2027, 1, 7, 15, 0, tzinfo=UTC)  # 16:00, work resumed
    due = {week: at for week, at in calendar.recent_digest_weeks(p, thursday) if at <= thursday}
    assert set(due) == {"2026-W52", "2026-W53"} and set(due.values()) == {thursday}
