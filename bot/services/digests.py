"""The facts of a weekly digest, gathered for many projects at once.

The number of queries does not depend on the number of projects (no N+1): each table is read
once for the whole batch and the rows are grouped in Python. What the client may see and what
stays internal is decided by the builder (`bot/blocks/digest.py`), from these facts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, or_, select

from bot.models import (
    ChangeRequest,
    ChangeStatus,
    DigestWeek,
    FeedbackResponse,
    FollowUp,
    FollowUpStatus,
    Milestone,
    Project,
    Requirement,
    RequirementStatus,
    Risk,
    RiskStatus,
)
from bot.reports.facts import DigestFacts, MilestoneLine, TrendWeek
from bot.services import acceptance, calendar
from bot.services.milestones import derive_status

HIGH_RISK_SCORE = 15
TREND_WEEKS = 8  # weeks of satisfaction the digest's chart shows (this one included)
STATUS_ORDER = {"late": 0, "at_risk": 1, "on_track": 2, "done": 3}


def overall_status(lines: list[MilestoneLine]) -> str:
    """The project's status is its worst milestone's (done milestones count as on track)."""
    open_lines = [m.status for m in lines if m.status != "done"]
    if "late" in open_lines:
        return "late"
    if "at_risk" in open_lines:
        return "at_risk"
    return "on_track"


def _risk_flags(risks: list[Risk]) -> set[int]:
    """Milestones affected by an occurred risk or an open high one."""
    return {
        r.milestone_id
        for r in risks
        if r.milestone_id is not None
        and (r.status == RiskStatus.occurred or (r.status == RiskStatus.open and r.score >= HIGH_RISK_SCORE))
    }


def collect(session: Session, projects: list[Project], now: datetime, weeks: dict[int, str] | None = None
            ) -> dict[int, DigestFacts]:
    """Digest facts for every project in `projects`, keyed by project id, in a fixed number of queries.

    `weeks` names the ISO week each project's digest is for (default: the current local week)."""
    if not projects:
        return {}
    ids = [p.id for p in projects if p.id is not None]
    facts: dict[int, DigestFacts] = {}
    for p in projects:
        assert p.id is not None
        local_today = calendar.today(p, now)
        monday = calendar.week_start(local_today)
        week = (weeks or {}).get(p.id) or calendar.week_key(monday)
        week_monday = calendar.week_monday(week)
        since = calendar.at_local(p, week_monday, time(0, 0))
        facts[p.id] = DigestFacts(project=p, week=week, since=since, today=local_today, week_monday=week_monday)
    earliest = min(f.since for f in facts.values())
    trend_from = earliest - timedelta(weeks=TREND_WEEKS - 1)

    milestones = session.exec(select(Milestone).where(col(Milestone.project_id).in_(ids))).all()
    risks = session.exec(
        select(Risk).where(col(Risk.project_id).in_(ids),
                           col(Risk.status).in_([RiskStatus.open, RiskStatus.occurred]))
    ).all()
    requirements = session.exec(
        select(Requirement).where(
            col(Requirement.project_id).in_(ids),
            or_(col(Requirement.created_at) >= earliest, col(Requirement.decided_at) >= earliest,
                (col(Requirement.status) == RequirementStatus.proposed)
                & col(Requirement.sent_for_confirmation_at).is_not(None)),
        )
    ).all()
    changes = session.exec(
        select(ChangeRequest).where(
            col(ChangeRequest.project_id).in_(ids),
            or_(col(ChangeRequest.created_at) >= earliest, col(ChangeRequest.decided_at) >= earliest,
                col(ChangeRequest.status) == ChangeStatus.assessed),
        )
    ).all()
    feedback = session.exec(
        select(FeedbackResponse).where(col(FeedbackResponse.project_id).in_(ids),
                                       col(FeedbackResponse.updated_at) >= trend_from)
    ).all()
    follow_ups = session.exec(
        select(FollowUp.project_id).where(col(FollowUp.project_id).in_(ids), FollowUp.status == FollowUpStatus.open)
    ).all()
    notes = session.exec(
        select(DigestWeek).where(col(DigestWeek.project_id).in_(ids),
                                 col(DigestWeek.week).in_({f.week for f in facts.values()}))
    ).all()

    risks_by: dict[int, list[Risk]] = defaultdict(list)
    for r in risks:
        risks_by[r.project_id].append(r)
    for pid, f in facts.items():
        f.risks = sorted(risks_by[pid], key=lambda r: (-r.score, r.id or 0))
    from bot.services import client_items  # issue 15: overdue client items put what they block at risk

    waiting_on_client = client_items.for_digest(session, projects, now)
    for pid, f in facts.items():
        f.client_items = waiting_on_client.get(pid)
    flags = _risk_flags(list(risks)) | {mid for d in waiting_on_client.values() for mid in d.blocking}
    for m in milestones:
        f = facts[m.project_id]
        line = MilestoneLine(id=m.id or 0, name=m.name, due_date=m.due_date, progress=m.progress,
                             status=derive_status(m, f.today, risk_flag=(m.id in flags), tz=calendar.tz(f.project)),
                             done_at=m.done_at, start=calendar.local_date(f.project, m.created_at))
        done_long_ago = m.done and (m.done_at is None or m.done_at < f.since)
        if not done_long_ago:
            f.milestones.append(line)
        if not m.done and f.today < m.due_date <= f.today + timedelta(days=7):
            f.due_next_week.append(line)
    for f in facts.values():
        f.milestones.sort(key=lambda m: (STATUS_ORDER.get(m.status, 9), m.due_date, m.id))
        f.due_next_week.sort(key=lambda m: (m.due_date, m.id))
        f.overall = overall_status(f.milestones)
    for r in requirements:
        f = facts[r.project_id]
        if r.created_at >= f.since:
            f.requirements_raised.append(r)
        if r.status in (RequirementStatus.confirmed, RequirementStatus.done) and r.decided_at and \
                r.decided_at >= f.since:
            f.requirements_confirmed.append(r)
        if r.status == RequirementStatus.proposed and r.sent_for_confirmation_at is not None:
            f.awaiting_requirements.append(r)
    for c in changes:
        f = facts[c.project_id]
        if c.created_at >= f.since:
            f.changes_raised.append(c)
        if c.status in (ChangeStatus.approved, ChangeStatus.rejected, ChangeStatus.implemented) and \
                c.decided_at and c.decided_at >= f.since:
            f.changes_decided.append(c)
        if c.status == ChangeStatus.assessed:
            f.awaiting_changes.append(c)
    trend_scores: dict[int, dict[date, list[int]]] = defaultdict(lambda: defaultdict(list))
    for fb in feedback:
        f = facts[fb.project_id]
        if not fb.client_side:  # the client's feedback; our own side's is not news
            continue
        if fb.updated_at >= f.since:
            f.feedback.append(fb)
        if fb.score is not None:
            day = calendar.local_date(f.project, fb.updated_at)
            if day is not None:
                trend_scores[fb.project_id][calendar.week_start(day)].append(fb.score)
    for pid, f in facts.items():
        weeks = [f.week_monday - timedelta(weeks=n) for n in range(TREND_WEEKS - 1, -1, -1)]
        f.satisfaction_trend = [TrendWeek(monday=w, count=len(scores := trend_scores[pid].get(w, [])),
                                          average=round(sum(scores) / len(scores), 1) if scores else None)
                                for w in weeks]
    for pid in follow_ups:
        facts[pid].open_follow_ups += 1
    for n in notes:
        f = facts.get(n.project_id)
        if f is not None and n.week == f.week:
            f.note = n.note
    for f in facts.values():
        end_of_day = calendar.at_local(f.project, f.today, time(23, 59))
        f.requirement_waiting = {r.id or 0: calendar.working_days_between(
            f.project, r.sent_for_confirmation_at or r.created_at, end_of_day) for r in f.awaiting_requirements}
        f.change_waiting = {c.id or 0: calendar.working_days_between(
            f.project, c.assessed_at or c.created_at, end_of_day) for c in f.awaiting_changes}
        for items in (f.requirements_raised, f.requirements_confirmed, f.awaiting_requirements,
                      f.changes_raised, f.changes_decided, f.awaiting_changes):
            items.sort(key=lambda x: (x.created_at, x.id or 0), reverse=True)
    acceptance.add_to_digests(session, facts)  # milestone acceptance
    return facts
