"""A project's working calendar: its time zone, working days, holidays and working hours.

Everything the jobs schedule is computed here from the project's own settings, so a change
takes effect at the next tick, without restarts. This is the one home of time zones: every
module that shows or computes a project's local date or time asks here (`zone`, `local_now`,
`local_date`, `local_text`), and an unknown zone name reads as UTC rather than failing.

Working hours: nothing scheduled is posted outside a project's working days and hours
(`within_working_hours`); what falls due outside them waits for the next working moment
(`next_working_moment`). Lateness is counted in working time (`working_time_between`), so a
weekend or a closure does not make a digest "late". A PM preview falls inside working hours
before its digest is due (`preview_at`), and the weeks a digest job looks at reach back over a
closure (`recent_digest_weeks`), so a long holiday never silently drops a week's digest.

Public holidays: a project may follow a country's public-holiday calendar (`Project.country`,
optionally `Project.subdivision`, from the `holidays` package; see
`bot.reports.holiday_regions` for the names and the default from the time zone). Its days off
are not working days; a make-up working day on a weekend (China's 调休, e.g. Saturday 10
October 2026 after the National Day week) is one, whatever the project's working weekdays. The
project's own closures (`Project.holidays`) come on top and win over both. `is_working_day` is
the one answer every job uses (reminders, nudges, digests and their previews, feedback prompts,
working-hour holds).

ISO weeks ("2026-W47") name a digest's week: `week_key` builds one, `week_monday` gives its
first day (`bot.blocks.ids.parse_week` reads one back from untrusted input).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holiday_package
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from bot.models import DayKind, Outbox, Project, ProjectStatus
from bot.reports.wording import local_day, zone

T = TypeVar("T")


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


def tz(project: Project) -> ZoneInfo:
    return zone(project.timezone)


def local_now(project: Project, now: datetime) -> datetime:
    return now.astimezone(tz(project))


def local_date(project: Project, at: datetime | None) -> date | None:
    """The date `at` falls on in the project's time zone."""
    return local_day(at, project.timezone)


def local_text(project: Project, at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """`at` in the project's time zone, formatted ('' when there is no moment)."""
    return at.astimezone(tz(project)).strftime(fmt) if at is not None else ""


def today(project: Project, now: datetime) -> date:
    return local_now(project, now).date()


# The scheduler asks the same questions of the same calendars every minute (when is this week's
# digest due, how many working days since a request was sent): the answers depend only on the
# project's calendar settings (`_calendar_of`) and the dates asked about, so they are kept,
# keyed by those. A change of settings is a new key: it takes effect at the next tick.
_MEMO: dict[tuple, object] = {}
_CALENDARS: dict[tuple, tuple] = {}  # each calendar once: the answers' keys share it
_MEMO_MAX = 20_000  # answers (and calendars) kept at most; then they are dropped and computed again
_MISSING = object()


def _calendar_of(project: Project) -> tuple:
    """Everything a project's working calendar depends on, as a key."""
    key = (project.timezone, tuple(project.working_days or ()), tuple(project.holidays or ()),
           project.country or "", project.subdivision or "", project.work_start, project.work_end)
    if len(_CALENDARS) >= _MEMO_MAX:
        _CALENDARS.clear()
    return _CALENDARS.setdefault(key, key)


def _memo(key: tuple, compute: Callable[[], T]) -> T:
    found = _MEMO.get(key, _MISSING)
    if found is _MISSING:
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        found = _MEMO[key] = compute()
    return found  # type: ignore[return-value]


@dataclass(frozen=True)
class PublicYear:
    """One year of a public-holiday calendar: its days off and its make-up working days
    (weekend days worked instead, China's 调休)."""

    days_off: frozenset[date]
    working_weekend_days: frozenset[date]


NO_PUBLIC_HOLIDAYS = PublicYear(frozenset(), frozenset())


def _country_calendar(country: str, subdivision: str, year: int, language: str | None = None):
    try:
        return holiday_package.country_holidays(country, subdiv=subdivision or None, years=year, language=language)
    except (NotImplementedError, ValueError, KeyError):
        return None  # a country or subdivision the package does not know (old or hand-edited data)


@lru_cache(maxsize=1024)
def public_year(country: str | None, subdivision: str | None, year: int) -> PublicYear:
    """The public holidays and make-up working days of a country (and subdivision) in `year`;
    none for no country, or one the package does not know."""
    cal = _country_calendar(country, subdivision or "", year) if country else None
    if cal is None:
        return NO_PUBLIC_HOLIDAYS
    return PublicYear(frozenset(d for d in cal if d.year == year),
                      frozenset(d for d in getattr(cal, "weekend_workdays", ()) if d.year == year))


@lru_cache(maxsize=256)
def _holiday_names(country: str, subdivision: str, year: int, lang: str) -> dict[date, str]:
    probe = _country_calendar(country, subdivision, year)
    if probe is None:
        return {}
    supported = tuple(getattr(probe, "supported_languages", ()) or ())
    wanted = "zh_CN" if lang.startswith("zh") else "en_US"
    language = wanted if wanted in supported else ("en_US" if "en_US" in supported else None)
    cal = _country_calendar(country, subdivision, year, language) if language else probe
    return {d: str(name) for d, name in (cal or probe).items() if d.year == year}


def public_calendar(project: Project, year: int) -> PublicYear:
    return public_year(project.country or "", project.subdivision or "", year)


def own_closure(project: Project, day: date) -> bool:
    return day.isoformat() in (project.holidays or [])


def public_holiday(project: Project, day: date) -> bool:
    """Whether `day` is a public holiday of the project's calendar."""
    return day in public_calendar(project, day.year).days_off


def public_holiday_name(project: Project, day: date, lang: str) -> str:
    """The name of the public holiday on `day` in `lang` where the package has it (else
    English, else the package's own language); "" when `day` is none."""
    if not public_holiday(project, day):
        return ""
    return _holiday_names(project.country or "", project.subdivision or "", day.year, lang).get(day, "")


def make_up_working_day(project: Project, day: date) -> bool:
    """Whether `day` is a weekend day worked by the project's public calendar (调休)."""
    return day in public_calendar(project, day.year).working_weekend_days


def is_working_day(project: Project, day: date) -> bool:
    """The project works on `day`: not one of its own closures, not a public holiday of its
    calendar, and either one of its working weekdays or a make-up working day."""
    if own_closure(project, day):
        return False
    public = public_calendar(project, day.year)
    if day in public.days_off:
        return False
    return day in public.working_weekend_days or day.weekday() in (project.working_days or [])


def calendar_days_between(project: Project, first: date, last: date) -> list[tuple[date, str]]:
    """The days from `first` to `last` that differ from the project's usual week, in order:
    public holidays and own closures on its working weekdays, and make-up working days (what
    `/project show` lists as coming up)."""
    out: list[tuple[date, str]] = []
    day = first
    while day <= last:
        usual = day.weekday() in (project.working_days or [])
        if own_closure(project, day):
            if usual or make_up_working_day(project, day):
                out.append((day, DayKind.CLOSURE))
        elif public_holiday(project, day):
            if usual:
                out.append((day, DayKind.PUBLIC_HOLIDAY))
        elif make_up_working_day(project, day) and not usual:
            out.append((day, DayKind.MAKE_UP))
        day += timedelta(days=1)
    return out


def next_working_day(project: Project, day: date) -> date:
    """`day` itself when it is a working day, else the next one (looking at most a year ahead)."""
    for offset in range(366):
        candidate = day + timedelta(days=offset)
        if is_working_day(project, candidate):
            return candidate
    return day  # a calendar with no working day at all: keep the date rather than loop forever


def first_working_day_of_month(project: Project, day: date) -> date:
    """The first working day of the month `day` is in (the monthly report's day, SPEC §4); a
    make-up working day counts. The first of the month itself when no working day follows
    within a year (a calendar with no working day)."""
    return next_working_day(project, day.replace(day=1))


def working_days_between(project: Project, start: datetime, end: datetime) -> int:
    """Whole working days that passed from `start` to `end` (dates in the project's time zone):
    something raised on Monday is 1 working day old on Tuesday, 3 on Thursday."""
    first, last = local_now(project, start).date(), local_now(project, end).date()
    if last <= first:
        return 0
    return _memo(("working days", _calendar_of(project), first, last), lambda: _working_days(project, first, last))


def _working_days(project: Project, first: date, last: date) -> int:
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


def anyone_at_work(session: Session, now: datetime) -> bool:
    """Whether any active project is inside its working hours now (else nothing scheduled is due)."""
    return bool(at_work(session, now))


def at_work(session: Session, now: datetime) -> list[int]:
    """The ids of the active projects inside their working hours now: the only ones anything
    scheduled can be due for (the scheduler's tick passes them to its steps as `among`)."""
    return [p.id for p in session.exec(select(Project).where(Project.status == ProjectStatus.active))
            if p.id is not None and within_working_hours(p, now)]


AMONG_MAX = 500  # more projects than this at work: no IN list (each step checks the hours anyway)


def among(stmt: Any, ids: Collection[int] | None) -> Any:
    """A SELECT of projects restricted to `ids`; unchanged when `ids` is None (every project) or
    too long a list to bind (every step that gets `ids` keeps only the projects inside their
    working hours itself: the list saves reading the others, it decides nothing)."""
    if ids is None or len(ids) > AMONG_MAX:
        return stmt
    return stmt.where(col(Project.id).in_(bindparam("among", list(ids), expanding=True)))  # bound as one list


def in_working_hours(session: Session, outbox_ids: list[int], now: datetime,
                     kinds: Collection[str] | None = None) -> list[int]:
    """The outbox rows among `outbox_ids` that may be sent now: their project is inside its
    working hours, or the row is of no project, or not of `kinds` (when given). Scheduled
    messages queued but not sent (an outage) wait for the next working hour."""
    if not outbox_ids:
        return []
    rows = session.exec(select(Outbox.id, Outbox.kind, Project)
                        .join(Project, col(Outbox.project_id) == col(Project.id), isouter=True)
                        .where(col(Outbox.id).in_(outbox_ids))).all()
    held = {row_id for row_id, kind, project in rows if project is not None and (kinds is None or kind in kinds)
            and not within_working_hours(project, now)}
    return [i for i in outbox_ids if i not in held]


def working_window(project: Project, day: date) -> tuple[datetime, datetime] | None:
    """The UTC instants a working day's hours start and end; None on a day off (or when the
    project's hours are empty)."""
    if not is_working_day(project, day) or project.work_end <= project.work_start:
        return None
    start, end = at_local(project, day, project.work_start), at_local(project, day, project.work_end)
    return (start, end) if start < end else None


def _windows(project: Project, start: datetime, end: datetime, *, backwards: bool = False
             ) -> Iterator[tuple[datetime, datetime]]:
    """The working windows of the local days from the day before `start` to `end`'s day (at
    most a year and a day of them), in order, or newest first."""
    first, last = local_now(project, start).date() - timedelta(days=1), local_now(project, end).date()
    days = min((last - first).days, 367)
    for n in range(days + 1):
        window = working_window(project, last - timedelta(days=n) if backwards else first + timedelta(days=n))
        if window is not None:
            yield window


def next_working_moment(project: Project, at: datetime) -> datetime:
    """`at` itself when it is inside working hours, else the start of the next working window
    (looking at most a year ahead; `at` when the calendar has no working time at all)."""
    return _memo(("next working moment", _calendar_of(project), at), lambda: _next_working_moment(project, at))


def _next_working_moment(project: Project, at: datetime) -> datetime:
    for start, end in _windows(project, at, at + timedelta(days=366)):
        if at < end:
            return max(at, start)
    return at


def working_time_between(project: Project, start: datetime, end: datetime) -> timedelta:
    """How much working time passed from `start` to `end`."""
    total = timedelta(0)
    if end <= start:
        return total
    for w_start, w_end in _windows(project, start, end):
        lo, hi = max(start, w_start), min(end, w_end)
        if hi > lo:
            total += hi - lo
    return total


def working_day_length(project: Project) -> timedelta:
    """The length of the project's working day (its hours), at least one hour."""
    day = date(2000, 1, 3)
    span = datetime.combine(day, project.work_end) - datetime.combine(day, project.work_start)
    return max(span, timedelta(hours=1))


def preview_at(project: Project, due_at: datetime) -> datetime:
    """From when the PM's preview of a digest due at `due_at` is sent: `preview_lead_minutes`
    before it, when that is inside working hours; otherwise within the last working window
    that ends before then (e.g. the previous working day's afternoon for a digest due at or
    just after the start of the working day), so the preview always reaches the PM in working
    hours before the digest is due."""
    return _memo(("preview", _calendar_of(project), project.preview_lead_minutes, due_at),
                 lambda: _preview_at(project, due_at))


def _preview_at(project: Project, due_at: datetime) -> datetime:
    lead = timedelta(minutes=max(project.preview_lead_minutes, 0))
    wanted = due_at - lead
    if within_working_hours(project, wanted) or lead == timedelta(0):
        return wanted
    for start, end in _windows(project, wanted - timedelta(days=366), wanted, backwards=True):
        if end <= wanted:
            return max(start, end - lead)
    return wanted


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


CLOSURE_WEEKS = 8  # how far back a digest pushed on by a closure is still looked for
RECENTLY_DUE = timedelta(days=7)


def recent_digest_weeks(project: Project, now: datetime) -> list[tuple[str, datetime]]:
    """The digests a run should look at (ISO week key, due instant), oldest first: last
    week's and this week's, and any older week whose digest a closure (holidays) pushed into
    the last seven days (its due time, or the first working hour after it): a closure longer
    than a week (24 Dec – 6 Jan) must not drop one.

    Last week's matters when it was missed (downtime) or pushed into this week by holidays."""
    since = now - RECENTLY_DUE
    return [(week, due) for back, week, due in _digest_weeks(project, now, ahead=0)
            if back <= 1 or (due <= now and (due >= since or next_working_moment(project, due) >= since))]


def coming_digest_weeks(project: Project, now: datetime) -> list[tuple[str, datetime]]:
    """The digests not due yet (ISO week key, due instant) whose preview may be due: this
    week's, next week's (a Monday digest's preview comes on Friday) and any pushed on by a
    closure."""
    return [(week, due) for _, week, due in _digest_weeks(project, now, ahead=1) if due > now]


def _digest_weeks(project: Project, now: datetime, *, ahead: int) -> tuple[tuple[int, str, datetime], ...]:
    """(weeks back, ISO week, due instant) from `CLOSURE_WEEKS` back to `ahead` weeks ahead."""
    this_monday = week_start(today(project, now))
    return _memo(("digest weeks", _calendar_of(project), project.digest_weekday, project.digest_time, this_monday,
                  ahead),
                 lambda: tuple((back, week_key(monday), digest_due_at(project, monday))
                               for back in range(CLOSURE_WEEKS, -ahead - 1, -1)
                               for monday in [this_monday - timedelta(days=7 * back)]))


# Public-holiday calendars (issue 17) -------------------------------------------------------
COMING_DAYS = 90


def coming_days(project: Project, now: datetime, lang: str, days: int = COMING_DAYS
                ) -> list[tuple[date, str, str]]:
    """The project's days off and make-up working days in the next `days` days (from its local
    today), as (day, kind, public holiday's name in `lang` or "")."""
    first = today(project, now)
    return [(day, kind, public_holiday_name(project, day, lang) if kind == DayKind.PUBLIC_HOLIDAY else "")
            for day, kind in calendar_days_between(project, first, first + timedelta(days=days))]


def make_up_days_unknown(project: Project, now: datetime, days: int = COMING_DAYS) -> list[int]:
    """The years within the next `days` days whose make-up working days the package does not
    carry yet, for a calendar that has them the year before (China's next year, until the State
    Council announces it and the package is updated): the PM is told, not left guessing."""
    first = today(project, now)
    years = range(first.year, (first + timedelta(days=days)).year + 1)
    return [year for year in years if public_calendar(project, year - 1).working_weekend_days
            and not public_calendar(project, year).working_weekend_days]

