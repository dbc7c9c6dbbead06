"""A project's working calendar: its time zone, working days, holidays and working hours.

Everything the jobs schedule is computed here from the project's own settings, so a change
takes effect at the next tick, without restarts. This is the one home of time zones: every
module that shows or computes a project's local date or time asks here (`zone`, `local_now`,
`local_date`, `local_text`), and an unknown zone name reads as UTC rather than failing.

ISO weeks ("2026-W47") name a digest's week: `week_key` builds one, `week_monday` gives its
first day (`bot.blocks.ids.parse_week` reads one back from untrusted input).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.models import Project


@cache
def timezone_names() -> tuple[str, ...]:
    """Every IANA time zone name this system knows, sorted (for the project form's picker)."""
    return tuple(sorted(available_timezones()))


def is_timezone(name: str) -> bool:
    if name not in timezone_names():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=512)
def zone(name: str | None) -> ZoneInfo:
    """The zone called `name`; UTC when the name is empty or unknown (old or hand-edited data)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def tz(project: Project) -> ZoneInfo:
    return zone(project.timezone)


def local_now(project: Project, now: datetime) -> datetime:
    return now.astimezone(tz(project))


def local_date(project: Project, at: datetime | None) -> date | None:
    """The date `at` falls on in the project's time zone."""
    return at.astimezone(tz(project)).date() if at is not None else None


def local_text(project: Project, at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """`at` in the project's time zone, formatted ('' when there is no moment)."""
    return at.astimezone(tz(project)).strftime(fmt) if at is not None else ""


def today(project: Project, now: datetime) -> date:
    return local_now(project, now).date()


def is_working_day(project: Project, day: date) -> bool:
    return day.weekday() in (project.working_days or []) and day.isoformat() not in (project.holidays or [])


def next_working_day(project: Project, day: date) -> date:
    """`day` itself when it is a working day, else the next one (looking at most a year ahead)."""
    for offset in range(366):
        candidate = day + timedelta(days=offset)
        if is_working_day(project, candidate):
            return candidate
    return day  # a calendar with no working day at all: keep the date rather than loop forever


def working_days_between(project: Project, start: datetime, end: datetime) -> int:
    """Whole working days that passed from `start` to `end` (dates in the project's time zone):
    something raised on Monday is 1 working day old on Tuesday, 3 on Thursday."""
    first, last = local_now(project, start).date(), local_now(project, end).date()
    if last <= first:
        return 0
    count = 0
    day = first + timedelta(days=1)
    while day <= last:
        if is_working_day(project, day):
            count += 1
        day += timedelta(days=1)
    return count


def at_local(project: Project, day: date, at: time) -> datetime:
    """The UTC instant of `day` at local time `at` in the project's time zone."""
    return datetime.combine(day, at, tzinfo=tz(project)).astimezone(UTC)


def within_working_hours(project: Project, now: datetime) -> bool:
    local = local_now(project, now)
    return is_working_day(project, local.date()) and project.work_start <= local.time() < project.work_end


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(week: str) -> date:
    """The Monday of a (valid) ISO week key."""
    year, _, number = week.partition("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def current_week(project: Project, now: datetime) -> str:
    """The project's local ISO week at `now`."""
    return week_key(week_start(today(project, now)))


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def digest_due_at(project: Project, monday: date) -> datetime:
    """When the digest of the week starting `monday` is due: its weekday and local time, moved
    to the next working day when that day is not one (a holiday, or a weekend)."""
    planned = monday + timedelta(days=project.digest_weekday)
    return at_local(project, next_working_day(project, planned), project.digest_time)


def recent_digest_weeks(project: Project, now: datetime) -> list[tuple[str, datetime]]:
    """Last week's and this week's digest (ISO week key, due instant), oldest first.

    Last week's matters when it was missed (downtime) or pushed into this week by holidays."""
    this_monday = week_start(today(project, now))
    last_monday = this_monday - timedelta(days=7)
    return [(week_key(m), digest_due_at(project, m)) for m in (last_monday, this_monday)]
