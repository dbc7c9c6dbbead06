"""Milestone status derivation (with a controlled clock), validation, and the plan query."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.blocks.milestones import progress_bar
from bot.clock import FrozenClock
from bot.db import session_scope
from bot.models import ActivityLog, Milestone, Risk
from bot.services import milestones
from bot.services.errors import ValidationFailed
from bot.services.milestones import MilestoneInput, MilestoneStatus, derive_status

TODAY = date(2026, 11, 18)


def _m(due: date, *, progress: int = 0, done: bool = False, created: date = date(2026, 11, 1)) -> Milestone:
    return Milestone(id=1, project_id=1, name="Beta", due_date=due, progress=progress, done=done,
                     created_at=datetime(created.year, created.month, created.day, 9, tzinfo=UTC))


@pytest.mark.parametrize(("milestone", "risk", "expected"), [
    # done wins over everything, even a past due date and a risk
    (_m(date(2026, 11, 10), progress=40, done=True), True, MilestoneStatus.done),
    # due date passed, not done
    (_m(date(2026, 11, 17), progress=99), False, MilestoneStatus.late),
    # due today is not late yet, but expected at 100 %
    (_m(TODAY, progress=99), False, MilestoneStatus.at_risk),
    (_m(TODAY, progress=100), False, MilestoneStatus.on_track),
    # 1 Nov → 21 Nov: 17 of 20 days gone, 85 % expected
    (_m(date(2026, 11, 21), progress=84), False, MilestoneStatus.at_risk),
    (_m(date(2026, 11, 21), progress=85), False, MilestoneStatus.on_track),
    # 1 Nov → 25 Nov, due in exactly 7 days: 17/24 ≈ 70.8 % expected
    (_m(date(2026, 11, 25), progress=70), False, MilestoneStatus.at_risk),
    (_m(date(2026, 11, 25), progress=71), False, MilestoneStatus.on_track),
    # due in 8 days: outside the window, however little progress
    (_m(date(2026, 11, 26), progress=0), False, MilestoneStatus.on_track),
    # created today: nothing expected yet
    (_m(date(2026, 11, 20), progress=0, created=TODAY), False, MilestoneStatus.on_track),
    # a high or occurred risk makes it at risk whatever the dates
    (_m(date(2027, 3, 1), progress=0), True, MilestoneStatus.at_risk),
])
def test_derive_status(milestone, risk, expected):
    assert derive_status(milestone, TODAY, risk_flag=risk) == expected


def test_the_clock_moves_a_milestone_from_on_track_to_at_risk_to_late():
    m = _m(date(2026, 11, 30), progress=50, created=date(2026, 11, 10))
    clock = FrozenClock(datetime(2026, 11, 18, 10, tzinfo=UTC))

    def status() -> MilestoneStatus:
        return derive_status(m, clock.now().date(), risk_flag=False)

    assert status() == MilestoneStatus.on_track  # 12 days left
    clock.advance(days=5)  # 23 Nov: 7 days left, 13/20 = 65 % expected
    assert status() == MilestoneStatus.at_risk
    clock.advance(days=8)  # 1 Dec
    assert status() == MilestoneStatus.late
    m.done = True
    assert status() == MilestoneStatus.done


def test_today_is_the_date_in_the_project_time_zone(make_project):
    project = make_project(timezone="Asia/Shanghai")
    late_evening_utc = FrozenClock(datetime(2026, 11, 18, 17, 30, tzinfo=UTC))  # 01:30 on the 19th in Shanghai
    assert milestones.project_today(project, late_evening_utc) == date(2026, 11, 19)
    ny = make_project("Other", client_channel_id="C0OTHER", internal_channel_id=None, timezone="America/New_York")
    early_utc = FrozenClock(datetime(2026, 11, 18, 3, tzinfo=UTC))  # 22:00 on the 17th in New York
    assert milestones.project_today(ny, early_utc) == date(2026, 11, 17)


def test_statuses_for_project_counts_linked_risks_in_constant_queries(engine, clock, make_project):
    project = make_project()
    other = make_project("Other", client_channel_id="C0OTHER", internal_channel_id=None)
    with session_scope(engine) as s:
        ms = []
        for i in range(12):
            m = milestones.create(s, clock, project=project, actor="U0PM",
                                  data=MilestoneInput(name=f"M{i}", due_date="2027-02-01", progress="10"))
            ms.append(m)
        milestones.create(s, clock, project=other, actor="U0PM",
                          data=MilestoneInput(name="Elsewhere", due_date="2027-02-01"))
        s.add_all([
            Risk(project_id=project.id, title="big", probability=4, impact=4, status="open", milestone_id=ms[0].id),
            Risk(project_id=project.id, title="small", probability=3, impact=4, status="open", milestone_id=ms[1].id),
            Risk(project_id=project.id, title="hit", probability=1, impact=1, status="occurred",
                 milestone_id=ms[2].id),
            Risk(project_id=project.id, title="gone", probability=5, impact=5, status="mitigated",
                 milestone_id=ms[3].id),
            Risk(project_id=project.id, title="edge", probability=5, impact=3, status="open", milestone_id=ms[4].id),
        ])
        ids = [m.id for m in ms]

    statements: list[str] = []

    def count(*args):
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        with session_scope(engine) as s:
            statuses = milestones.statuses_for_project(s, project.id, TODAY)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    queries = [q for q in statements if q.lstrip().upper().startswith("SELECT")]
    assert len(queries) <= 3, queries
    assert len(statuses) == 12
    assert statuses[ids[0]] == MilestoneStatus.at_risk  # open, 16
    assert statuses[ids[1]] == MilestoneStatus.on_track  # open, 12
    assert statuses[ids[2]] == MilestoneStatus.at_risk  # occurred
    assert statuses[ids[3]] == MilestoneStatus.on_track  # mitigated
    assert statuses[ids[4]] == MilestoneStatus.at_risk  # open, exactly 15
    assert all(statuses[i] == MilestoneStatus.on_track for i in ids[5:])


@pytest.mark.parametrize(("fields", "bad"), [
    ({"name": " ", "due_date": "2027-01-01"}, "name"),
    ({"name": "x" * 151, "due_date": "2027-01-01"}, "name"),
    ({"name": "Beta", "due_date": None}, "due_date"),
    ({"name": "Beta", "due_date": "2027-02-30"}, "due_date"),
    ({"name": "Beta", "due_date": "2027-01-01", "progress": "101"}, "progress"),
    ({"name": "Beta", "due_date": "2027-01-01", "progress": "-1"}, "progress"),
    ({"name": "Beta", "due_date": "2027-01-01", "progress": "4.5"}, "progress"),
])
def test_invalid_milestones_are_refused(fields, bad):
    with pytest.raises(ValidationFailed) as err:
        milestones.validate(MilestoneInput(**fields))
    assert bad in err.value.errors


def test_past_due_date_needs_confirmation_and_done_is_logged_once(engine, clock, make_project):
    project = make_project()
    data = MilestoneInput(name="Kick-off", due_date="2026-11-10", progress="40 %")
    with session_scope(engine) as s, pytest.raises(ValidationFailed) as err:
        milestones.create(s, clock, project=project, actor="U0PM", data=data)
    assert err.value.errors["due_date"][0] == "milestones.warning_past_due"
    with session_scope(engine) as s:
        m = milestones.create(s, clock, project=project, actor="U0PM", data=data, allow_past_due=True)
        assert m.progress == 40
    change = milestones.MilestoneChange(due_date="2026-11-10", progress="60", done=True)
    with session_scope(engine) as s:
        m = milestones.get(s, project, m.id)
        milestones.update(s, clock, project=project, milestone=m, actor="U0DEV", change=change)
    with session_scope(engine) as s:  # the same submission again changes nothing
        m = milestones.get(s, project, m.id)
        milestones.update(s, clock, project=project, milestone=m, actor="U0DEV", change=change)
    with session_scope(engine) as s:
        m = s.get(Milestone, m.id)
        assert m.done and m.progress == 100 and m.done_at == clock.now()
        log = list(s.exec(select(ActivityLog).where(ActivityLog.entity_type == "milestone")
                          .order_by(ActivityLog.id)))
        assert [e.action for e in log] == ["created", "milestone_done"]
        assert log[1].before == {"done": False, "progress": 40} and log[1].after["done"] is True


def test_edits_are_logged_with_before_and_after(engine, clock, make_project):
    project = make_project()
    with session_scope(engine) as s:
        m = milestones.create(s, clock, project=project, actor="U0PM",
                              data=MilestoneInput(name="Beta", due_date="2026-12-01"))
    clock.advance(timedelta(hours=1))
    with session_scope(engine) as s:
        m = milestones.get(s, project, m.id)
        milestones.update(s, clock, project=project, milestone=m, actor="U0DEV",
                          change=milestones.MilestoneChange(due_date="2026-12-08", progress="30", done=False))
    with session_scope(engine) as s:
        [edit] = s.exec(select(ActivityLog).where(ActivityLog.action == "edited")).all()
        assert edit.before == {"due_date": "2026-12-01", "progress": 0}
        assert edit.after == {"due_date": "2026-12-08", "progress": 30}


@pytest.mark.parametrize(("progress", "bar"), [
    (0, "░░░░░░░░░░ 0%"), (40, "▓▓▓▓░░░░░░ 40%"), (45, "▓▓▓▓░░░░░░ 45%"), (100, "▓▓▓▓▓▓▓▓▓▓ 100%"),
])
def test_progress_bar(progress, bar):
    assert progress_bar(progress) == bar
