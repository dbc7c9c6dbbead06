"""Issue 11, time zones and working hours as a property (hypothesis).

People with projects in pairs of time zones, each project with its own working days, holidays
and working hours, and the scheduler's real tick (`bot.jobs.scheduler.tick`) every 15 minutes
of a controlled clock for 8 weeks, across the year's end or the days clocks change, against the
fake Web API:

- every due reminder item reaches its person on each local working day of its project, in
  that project's working hours;
- nothing scheduled (digest, late-digest question, preview, reminder, nudge, escalation,
  feedback prompt) is posted outside its project's local working days and hours;
- every week's digest of a project that does not wait for its PM is posted, exactly once.

Each example gets a fresh database and a fresh fake Slack, and no per-channel pause
(`Deps.channel_interval`), so 8 weeks of ticks take seconds, not hours.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlmodel import SQLModel, select

from bot.app import create_app, deps_of
from bot.clock import FrozenClock
from bot.db import make_engine, session_scope
from bot.flows import outbox_keys
from bot.jobs.scheduler import SCHEDULED, tick
from bot.models import Milestone, Outbox, Project, ReminderItemSent, Requirement, Risk
from bot.reports import holiday_regions
from bot.services import calendar, reports
from tests.conftest import TEAM
from tests.fakes.slack_api import FakeSlack

# Everything here runs on the FrozenClock of each example (the bot's, the fake Slack's ts):
# the real clock is not moved for it (tests/conftest.py).
pytestmark = pytest.mark.own_clock

WEEKS = 8
TICK = timedelta(minutes=15)
PM = "U0PM"
ZONES = ["Asia/Tokyo", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Pacific/Auckland",
         "America/Los_Angeles", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns",
         "Europe/London", "America/Sao_Paulo", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC", "Asia/Shanghai"]
# Mondays that start 8 weeks across: the clocks changing in the south and north in autumn, the
# year's end, the clocks changing in North America and Europe in spring.
STARTS = [date(2026, 9, 28), date(2026, 12, 7), date(2027, 2, 22)]


@st.composite
def calendars(draw, start: date) -> dict:
    hour = draw(st.integers(6, 12))
    minute = draw(st.sampled_from([0, 15, 30, 45]))
    length = draw(st.integers(4, 40)) * 15  # one to ten hours
    end_minutes = min(hour * 60 + minute + length, 23 * 60 + 45)
    holidays = draw(st.lists(st.integers(0, WEEKS * 7 - 1), max_size=6))
    if draw(st.booleans()):  # a closure of one to three weeks
        first = draw(st.integers(0, WEEKS * 7 - 21))
        holidays += list(range(first, first + draw(st.integers(7, 21))))
    zone = draw(st.sampled_from(ZONES))
    # public-holiday calendars (issue 17): the zone's own (China's 调休 included), or none
    country, subdivision = draw(st.sampled_from([holiday_regions.default_calendar(zone), ("", "")]))
    return {
        "timezone": zone,
        "country": country,
        "subdivision": subdivision,
        "working_days": sorted(draw(st.sets(st.integers(0, 6), min_size=1, max_size=7))),
        "holidays": sorted({(start + timedelta(days=n)).isoformat() for n in holidays}),
        "work_start": time(hour, minute),
        "work_end": time(end_minutes // 60, end_minutes % 60),
        "digest_weekday": draw(st.integers(0, 6)),
        "digest_time": time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45]))),
        "preview_lead_minutes": draw(st.sampled_from([60, 120, 240])),
        "require_pm_approval": draw(st.booleans()),
        "feedback_cadence_weeks": draw(st.sampled_from([0, 1, 2])),
        "monthly_report": draw(st.booleans()),  # reports (issue 16)
    }


@st.composite
def scenarios(draw) -> tuple[date, list[tuple[dict, dict]]]:
    start = draw(st.sampled_from(STARTS))
    pairs = draw(st.lists(st.tuples(calendars(start), calendars(start)), min_size=1, max_size=3))
    return start, pairs


def _wipe(engine) -> None:
    """Every row of the previous example goes (the tables stay)."""
    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name != "alembic_version":
                conn.execute(table.delete())


@contextmanager
def _world(base_settings, database_url: str, clock) -> Iterator[tuple]:
    """A fresh database, fake Slack and bot for one example."""
    fake = FakeSlack(team_id=TEAM)
    fake.start()
    fake.ts_clock = lambda: clock.now().timestamp()
    engine = make_engine(database_url)
    try:
        _wipe(engine)
        settings = base_settings.model_copy(update={"slack_api_url": fake.url})
        bot = deps_of(create_app(settings, engine=engine, clock=clock))
        bot.channel_interval = 0.0
        yield bot, fake, engine
    finally:
        fake.stop()
        engine.dispose()


def _seed(engine, clock, pairs: list[tuple[dict, dict]], start: date) -> dict[str, tuple[int, str]]:
    """Projects, two per person (one per zone of the pair); every project has a risk overdue for
    review owned by its person, a late milestone of the PM and a requirement waiting for the
    client. Returns item key → (project id, person)."""
    items: dict[str, tuple[int, str]] = {}
    now = clock.now()
    with session_scope(engine) as s:
        for n, pair in enumerate(pairs):
            person = f"U0DEV{n}"
            for m, cal in enumerate(pair):
                channel = f"C0P{n}{m}"
                p = Project(team_id=TEAM, name=f"Project {n}{m}", client_channel_id=channel, pm_user_id=PM,
                            client_approver_ids=["U0CLIENT"], created_by=PM, created_at=now, updated_at=now,
                            charts_enabled=False,  # the chart is drawn and tested in test_digest_names.py
                            **cal)
                s.add(p)
                s.flush()
                risk = Risk(project_id=p.id, title=f"Risk {n}{m}", owner_user_id=person,
                            next_review_date=start - timedelta(days=3), created_at=now, updated_at=now)
                late = Milestone(project_id=p.id, name=f"Beta {n}{m}", due_date=start - timedelta(days=3),
                                 progress=50, created_at=now, updated_at=now)
                waiting = Requirement(project_id=p.id, title=f"SSO {n}{m}", raised_by=PM, created_at=now,
                                      updated_at=now, sent_for_confirmation_at=now, confirmation_channel_id=channel,
                                      confirmation_ts="1.000100")
                s.add_all([risk, late, waiting])
                s.flush()
                items[f"risk-review:{risk.id}"] = (p.id, person)
                items[f"milestone:{late.id}"] = (p.id, PM)
                LATER[f"req-confirm:{waiting.id}"] = p.id  # due from its sixth day on
    return items


LATER: dict[str, int] = {}  # item key → project id of items that become due during the run


# The two scenarios below always run, each as a test of its own (pytest-xdist runs them side by
# side: 8 weeks of ticks take ~30 s each); one generated scenario besides them, in a third test.
# PMBOT_TZ_EXAMPLES=50 for a longer hunt. No shrinking: each run is 8 weeks.
EXAMPLES = {
    "Tokyo and New York across the year's end": (date(2026, 12, 7), [(
        {"timezone": "Asia/Tokyo", "working_days": [0, 1, 2, 3, 4], "holidays": [
            (date(2026, 12, 24) + timedelta(days=n)).isoformat() for n in range(14)], "work_start": time(9),
         "work_end": time(18), "digest_weekday": 0, "digest_time": time(9), "preview_lead_minutes": 120,
         "require_pm_approval": True, "feedback_cadence_weeks": 1, "monthly_report": True},
        {"timezone": "America/New_York", "working_days": [0, 1, 2, 3, 4], "holidays": ["2026-12-25", "2027-01-01"],
         "work_start": time(9), "work_end": time(18), "digest_weekday": 4, "digest_time": time(16),
         "preview_lead_minutes": 120, "require_pm_approval": False, "feedback_cadence_weeks": 2,
         "monthly_report": True})]),
    # public-holiday calendars: China's National Day, New York's autumn
    "Shanghai and New York in autumn": (date(2026, 9, 28), [(
        {"timezone": "Asia/Shanghai", "country": "CN", "subdivision": "", "working_days": [0, 1, 2, 3, 4],
         "holidays": ["2026-10-09"], "work_start": time(9), "work_end": time(18), "digest_weekday": 4,
         "digest_time": time(16), "preview_lead_minutes": 120, "require_pm_approval": False,
         "feedback_cadence_weeks": 1},
        {"timezone": "America/New_York", "country": "US", "subdivision": "NY", "working_days": [0, 1, 2, 3, 4],
         "holidays": [], "work_start": time(9), "work_end": time(17), "digest_weekday": 0, "digest_time": time(9),
         "preview_lead_minutes": 120, "require_pm_approval": True, "feedback_cadence_weeks": 2})]),
}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_reminders_and_scheduled_posts_keep_to_local_working_hours_in_known_hard_cases(settings, database_url, name):
    _check(settings, database_url, EXAMPLES[name])


@hypothesis_settings(max_examples=int(os.environ.get("PMBOT_TZ_EXAMPLES", "1")), deadline=None,
                     phases=[Phase.reuse, Phase.generate],
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                            HealthCheck.data_too_large])
@given(scenario=scenarios())
def test_reminders_reach_everyone_on_each_local_working_day_and_nothing_is_posted_outside_working_hours(
        settings, database_url, scenario):
    _check(settings, database_url, scenario)


def _check(settings, database_url: str, scenario: tuple[date, list[tuple[dict, dict]]]) -> None:
    start, pairs = scenario
    run_from = datetime.combine(start, time(0), tzinfo=UTC) - timedelta(days=1)
    run_to = run_from + timedelta(weeks=WEEKS)
    clock = FrozenClock(run_from - timedelta(days=2))
    with _world(settings, database_url, clock) as (deps, fake, engine):
        LATER.clear()
        items = _seed(engine, clock, pairs, start)
        clock.set(run_from)
        posted: list[tuple[datetime, str]] = []  # (tick, outbox key) of every message Slack accepted
        while clock.now() < run_to:
            seen = len(fake.calls)
            tick(deps)
            posted += [(clock.now(), c.params.get("metadata", {}).get("event_payload", {}).get("key", ""))
                       for c in fake.calls[seen:] if c.method == "chat.postMessage" and c.status == 200]
            clock.advance(seconds=TICK.total_seconds())

        with session_scope(engine) as s:
            projects = {p.id: p for p in s.exec(select(Project))}
            for p in projects.values():
                s.expunge(p)
            rows = {r.key: (r.kind, r.project_id) for r in s.exec(select(Outbox))}
            sent = [(r.user_id, r.item_key, r.sent_at) for r in s.exec(select(ReminderItemSent))]

    # Nothing scheduled outside the project's working hours (as Slack saw it).
    assert posted
    for at, key in posted:
        kind, project_id = rows[key]
        if kind in SCHEDULED and project_id is not None:
            p = projects[project_id]
            assert calendar.within_working_hours(p, at), (key, calendar.local_text(p, at), p.timezone)

    # Every item reaches its person on each local working day of its project, inside its hours.
    days: dict[tuple[str, str], set[date]] = defaultdict(set)
    for user, key, at in sent:
        if key not in items:  # an item that came later (a digest waiting on the PM, a requirement waiting long)
            p = projects[LATER.get(key) or outbox_keys.parse(key).int_part(0)]
            assert calendar.within_working_hours(p, at), (key, calendar.local_text(p, at), p.timezone)
            continue
        project_id, person = items[key]
        p = projects[project_id]
        assert user == person
        assert calendar.within_working_hours(p, at), (key, calendar.local_text(p, at), p.timezone)
        days[(user, key)].add(calendar.local_date(p, at))
    for key, (project_id, person) in items.items():
        p = projects[project_id]
        first, last = calendar.local_date(p, run_from) + timedelta(days=1), calendar.local_date(p, run_to)
        expected = {first + timedelta(days=n) for n in range((last - first).days)
                    if calendar.is_working_day(p, first + timedelta(days=n))}
        got = days[(person, key)]
        assert expected <= got, (key, p.timezone, sorted(expected - got))
        assert all(calendar.is_working_day(p, d) for d in got), (key, p.timezone)

    # Every week's digest of a project that does not wait for its PM: posted once, in working hours.
    digests = [key for _, key in posted if key.startswith("digest:") and key.endswith(":client")]
    assert len(digests) == len(set(digests))
    for p in projects.values():
        if p.require_pm_approval:
            continue
        monday = calendar.week_start(calendar.local_date(p, run_from))
        for n in range(WEEKS + 1):
            week_monday = monday + timedelta(days=7 * n)
            due = calendar.next_working_moment(p, calendar.digest_due_at(p, week_monday))
            if run_from + timedelta(days=1) <= due <= run_to - timedelta(days=1):
                assert f"digest:{p.id}:{calendar.week_key(week_monday)}:client" in digests, (p.timezone, week_monday)

    # Reports (issue 16): every month's report of a project that has them, once, on the month's
    # first working day or, when that moment is outside the working hours, in the next ones.
    monthly = [key for _, key in posted if key.startswith("monthly:") and key.endswith(":client")]
    assert len(monthly) == len(set(monthly))
    for p in projects.values():
        if not p.monthly_report:
            assert not [k for k in monthly if k.startswith(f"monthly:{p.id}:")]
            continue
        first = calendar.local_date(p, run_from).replace(day=1)
        while (due := calendar.next_working_moment(p, reports.monthly_due_at(p, first))) <= run_to:
            if p.created_at < due and run_from + timedelta(days=1) <= due <= run_to - timedelta(days=1):
                month = reports.month_key(reports.previous_month(first))
                assert f"monthly:{p.id}:{month}:client" in monthly, (p.timezone, month)
            first = reports.next_month(first)
