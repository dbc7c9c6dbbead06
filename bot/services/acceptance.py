"""Milestone acceptance (验收): a done milestone sent to the client, who accepts it or reports
what is wrong (SPEC §2 "Acceptance").

Status rules (enforced here, nowhere else):

    (done milestone) ──request (team)──▶ requested ──accept (client)──────────▶ accepted
                                            │  └──────auto_accept (the tick)──▶ accepted
                                            └──report_issues (client)──▶ issues_reported
                                                                             │
                        requested ◀──request again (team; open issues resolved)┘

One acceptance row per milestone; each request again is a new `round`. Every state change is
one conditional UPDATE (… WHERE status = <the status we read> [AND version = <the version
shown>]) that bumps `version`: of two clicks, replays or people racing exactly one wins; the
other gets InvalidTransition (the status now) or Outdated (an older rendering), and nothing
changes. accepted is final.

Auto-accept (a project setting, 0 = off): a request unanswered for `auto_accept_after_days`
working days (the project's calendar) is accepted by the bot, recorded as such; one working day
before, the request's thread says so (`due_auto`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.db import insert_ignore
from bot.models import (
    DELIVERY_LINK_MAX,
    DELIVERY_MAX,
    Acceptance,
    AcceptanceIssue,
    AcceptanceStatus,
    Milestone,
    Project,
    ProjectStatus,
)
from bot.services import activity, calendar
from bot.services.errors import InvalidTransition, NotFound, ValidationFailed
from bot.services.permissions import Decider

S = AcceptanceStatus
ENTITY = "milestone"  # the log entries are about the milestone: its record reads as one story
LINK_MAX = DELIVERY_LINK_MAX
ISSUE_MAX = 500
ISSUES_MAX = 20
AUTO_ACCEPT_CHOICES = (0, 3, 5, 10)  # working days; 0 = never
BOT_ACTOR = "pmbot"

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "request_again": (frozenset({S.issues_reported}), S.requested),
    "accept": (frozenset({S.requested}), S.accepted),
    "auto_accept": (frozenset({S.requested}), S.accepted),
    "report_issues": (frozenset({S.requested}), S.issues_reported),
}
# The activity-log action each transition records (on the milestone).
LOG_ACTION = {
    "request": "acceptance_requested",
    "request_again": "acceptance_requested",
    "accept": "milestone_accepted",
    "auto_accept": "milestone_accepted",
    "report_issues": "acceptance_issues_reported",
}


class Outdated(InvalidTransition):
    """The request changed since the version a button or form showed; nothing was changed."""

    def __init__(self) -> None:
        super().__init__("acceptance.error_outdated")


@dataclass(frozen=True)
class RequestInput:
    delivery: str
    link: str = ""


def can(action: str, status: str | None) -> bool:
    allowed, _ = TRANSITIONS[action]
    return status in allowed


def can_request(milestone: Milestone, acceptance: Acceptance | None) -> bool:
    """A done milestone not sent yet, or one whose delivery had issues."""
    return milestone.done and (acceptance is None or acceptance.status == S.issues_reported)


def is_awaiting(acceptance: Acceptance | None) -> bool:
    return acceptance is not None and acceptance.status == S.requested


_LINK = re.compile(r"^https?://[^\s<>|]+$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•·‧・]|\d{1,2}[.)、．]|[（(]?\d{1,2}[)）])\s*")


def validate(data: RequestInput) -> RequestInput:
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    delivery = (data.delivery or "").strip()
    if not delivery:
        errors["delivery"] = ("acceptance.error_delivery_required", {})
    elif len(delivery) > DELIVERY_MAX:
        errors["delivery"] = ("common.error_too_long", {"max": DELIVERY_MAX})
    link = (data.link or "").strip()
    if link and (len(link) > LINK_MAX or not _LINK.match(link)):
        errors["link"] = ("acceptance.error_link", {})
    if errors:
        raise ValidationFailed(errors)
    return RequestInput(delivery=delivery, link=link)


def parse_issues(text: str) -> list[str]:
    """The issues of the *Report issues* form: one per line (bullets and numbers dropped),
    at least one; each checked for length."""
    issues = [_BULLET.sub("", line).strip() for line in (text or "").splitlines()]
    issues = [" ".join(i.split()) for i in issues if i.strip()]
    if not issues:
        raise ValidationFailed({"issues": ("acceptance.error_issues_required", {})})
    if len(issues) > ISSUES_MAX:
        raise ValidationFailed({"issues": ("acceptance.error_too_many_issues", {"max": ISSUES_MAX})})
    long = next((n for n, i in enumerate(issues, 1) if len(i) > ISSUE_MAX), None)
    if long is not None:
        raise ValidationFailed({"issues": ("acceptance.error_issue_too_long", {"n": long, "max": ISSUE_MAX})})
    return issues


def _require_active(project: Project) -> None:
    if project.status != ProjectStatus.active:
        raise InvalidTransition("permissions.project_closed")


def _log(session: Session, clock: Clock, acc: Acceptance, project: Project, *, actor: str, action: str,
         before: dict[str, Any] | None, after: dict[str, Any], on_behalf: bool = False) -> None:
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor, action=action,
                    entity_type=ENTITY, entity_id=acc.milestone_id, before=before,
                    after={"acceptance_id": acc.id, "round": acc.round, **after}, on_behalf_of_client=on_behalf)


def _conditional_update(session: Session, acc: Acceptance, values: dict[str, Any], *,
                        version: int | None = None) -> None:
    """UPDATE the row only if it still has the status we read (and, given `version`, is still
    that version); else refuse with its status now. The UPDATE bumps the version."""
    read_status = acc.status
    where = [col(Acceptance.id) == acc.id, col(Acceptance.status) == read_status]
    if version is not None:
        where.append(col(Acceptance.version) == version)
    result = session.execute(update(Acceptance).where(*where)
                             .values(**values, version=Acceptance.version + 1)
                             .execution_options(synchronize_session=False))
    session.refresh(acc)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if acc.status == read_status and version is not None and acc.version != version:
            raise Outdated()
        raise InvalidTransition(f"acceptance.error_now_{acc.status}")


def _transition(session: Session, action: str, acc: Acceptance, values: dict[str, Any], *,
                version: int | None = None) -> str:
    allowed, target = TRANSITIONS[action]
    if acc.status not in allowed:
        raise InvalidTransition(f"acceptance.error_now_{acc.status}")
    before = acc.status
    _conditional_update(session, acc, {"status": target, **values}, version=version)
    return before


def request(session: Session, clock: Clock, *, project: Project, milestone: Milestone, actor: str,
            data: RequestInput) -> Acceptance:
    """Send a done milestone for acceptance, or again after issues (which are then resolved)."""
    _require_active(project)
    clean = validate(data)
    if not milestone.done:
        raise InvalidTransition("acceptance.error_not_done", name=milestone.name)
    now = clock.now()
    acc = for_milestone(session, milestone.id or 0)
    content = {"delivery": clean.delivery, "link": clean.link or None}
    if acc is None:
        values = {"project_id": project.id, "milestone_id": milestone.id, "version": 1, "round": 1,
                  "status": S.requested, "delivery": clean.delivery, "link": clean.link or None,
                  "requested_by": actor, "requested_at": now, "decided_on_behalf": False, "auto_accepted": False,
                  "created_at": now, "updated_at": now}
        if not insert_ignore(session, Acceptance, values, ["milestone_id"]):  # someone sent it a moment ago
            raise InvalidTransition("acceptance.error_now_requested")
        acc = for_milestone(session, milestone.id or 0)
        assert acc is not None
        _log(session, clock, acc, project, actor=actor, action=LOG_ACTION["request"], before=None,
             after={"status": acc.status, **content})
        return acc
    before = _transition(session, "request_again", acc, {
        **content, "round": acc.round + 1, "requested_by": actor, "requested_at": now, "message_channel_id": None,
        "message_ts": None, "decided_by": None, "decided_at": None, "decided_on_behalf": False, "updated_at": now})
    resolved = resolve_open_issues(session, acc, actor=actor, now=now)
    _log(session, clock, acc, project, actor=actor, action=LOG_ACTION["request_again"], before={"status": before},
         after={"status": acc.status, **content, "resolved_issues": resolved})
    return acc


def resolve_open_issues(session: Session, acc: Acceptance, *, actor: str, now: datetime) -> list[str]:
    """Mark the issues still open as resolved (the team fixed them and asks again)."""
    issues = [i for i in issues_of(session, acc.id or 0) if i.resolved_at is None]
    for issue in issues:
        issue.resolved_by, issue.resolved_at = actor, now
        session.add(issue)
    session.flush()
    return [i.text for i in issues]


def accept(session: Session, clock: Clock, *, acc: Acceptance, project: Project, decider: Decider,
           version: int | None) -> Acceptance:
    """The client accepts the delivery they were shown (`version`)."""
    _require_active(project)
    now = clock.now()
    before = _transition(session, "accept", acc, {
        "decided_by": decider.user_id, "decided_at": now, "decided_on_behalf": decider.on_behalf_of_client,
        "auto_accepted": False, "updated_at": now}, version=version)
    _log(session, clock, acc, project, actor=decider.user_id, action=LOG_ACTION["accept"],
         before={"status": before}, after={"status": acc.status, "decided_by": decider.user_id, "decided_at": now},
         on_behalf=decider.on_behalf_of_client)
    return acc


def auto_accept(session: Session, clock: Clock, *, acc: Acceptance, project: Project) -> Acceptance:
    """Accepted by the bot: unanswered for the project's number of working days."""
    now = clock.now()
    before = _transition(session, "auto_accept", acc, {
        "decided_by": BOT_ACTOR, "decided_at": now, "decided_on_behalf": True, "auto_accepted": True,
        "updated_at": now}, version=acc.version)
    _log(session, clock, acc, project, actor=BOT_ACTOR, action=LOG_ACTION["auto_accept"], before={"status": before},
         after={"status": acc.status, "auto_accepted": True, "decided_at": now,
                "after_working_days": project.auto_accept_after_days}, on_behalf=True)
    return acc


def report_issues(session: Session, clock: Clock, *, acc: Acceptance, project: Project, decider: Decider,
                  issues_text: str, version: int | None) -> list[AcceptanceIssue]:
    """The client lists what is wrong; the delivery goes back to the team."""
    _require_active(project)
    issues = parse_issues(issues_text)
    now = clock.now()
    before = _transition(session, "report_issues", acc, {
        "decided_by": decider.user_id, "decided_at": now, "decided_on_behalf": decider.on_behalf_of_client,
        "updated_at": now}, version=version)
    rows = [AcceptanceIssue(acceptance_id=acc.id or 0, round=acc.round, text=text, raised_by=decider.user_id,
                            raised_at=now) for text in issues]
    session.add_all(rows)
    session.flush()
    _log(session, clock, acc, project, actor=decider.user_id, action=LOG_ACTION["report_issues"],
         before={"status": before}, after={"status": acc.status, "issues": issues},
         on_behalf=decider.on_behalf_of_client)
    return rows


def set_message(session: Session, acc: Acceptance, *, channel_id: str, ts: str) -> None:
    """Where the request was posted (for the in-place update and the auto-accept notice);
    bookkeeping, not a change anybody was shown: the version stays."""
    session.execute(update(Acceptance).where(col(Acceptance.id) == acc.id, col(Acceptance.message_ts).is_(None))
                    .values(message_channel_id=channel_id, message_ts=ts)
                    .execution_options(synchronize_session=False))
    session.refresh(acc)


# Auto-accept ---------------------------------------------------------------------------------


def due_auto(session: Session, now: datetime) -> list[tuple[Acceptance, Project, str]]:
    """(request, project, "warn" | "accept") for every unanswered request of an active project
    with auto-accept on, inside the project's working hours: "warn" from one working day before
    the deadline, "accept" once `auto_accept_after_days` working days have passed."""
    rows = session.exec(select(Acceptance, Project)
                        .join(Project, col(Project.id) == col(Acceptance.project_id))
                        .where(col(Acceptance.status) == S.requested, col(Project.status) == ProjectStatus.active,
                               col(Project.auto_accept_after_days) > 0)
                        .order_by(col(Acceptance.requested_at), col(Acceptance.id))).all()
    out: list[tuple[Acceptance, Project, str]] = []
    for acc, project in rows:
        if not calendar.within_working_hours(project, now):
            continue
        days = calendar.working_days_between(project, acc.requested_at, now)
        if days >= project.auto_accept_after_days:
            out.append((acc, project, "accept"))
        elif days >= project.auto_accept_after_days - 1:
            out.append((acc, project, "warn"))
    return out


def auto_accept_on(project: Project, acc: Acceptance) -> datetime | None:
    """The local working day the request will be accepted automatically (None: never)."""
    n = project.auto_accept_after_days or 0
    if n <= 0:
        return None
    day = calendar.local_date(project, acc.requested_at)
    assert day is not None
    count = 0
    while count < n:
        day = day + timedelta(days=1)
        if calendar.is_working_day(project, day):
            count += 1
    return calendar.at_local(project, day, project.work_start)


# Reading ------------------------------------------------------------------------------------


def get_in_team(session: Session, team_id: str, acc_id: int) -> tuple[Acceptance, Milestone, Project]:
    acc = session.get(Acceptance, acc_id)
    milestone = session.get(Milestone, acc.milestone_id) if acc is not None else None
    project = session.get(Project, acc.project_id) if acc is not None else None
    if acc is None or milestone is None or project is None or project.team_id != team_id:
        raise NotFound("common.not_found")
    return acc, milestone, project


def for_milestone(session: Session, milestone_id: int) -> Acceptance | None:
    return session.exec(select(Acceptance).where(Acceptance.milestone_id == milestone_id)).first()


def for_milestones(session: Session, milestone_ids: list[int]) -> dict[int, Acceptance]:
    """Milestone id → its acceptance, in one query."""
    if not milestone_ids:
        return {}
    rows = session.exec(select(Acceptance).where(col(Acceptance.milestone_id).in_(milestone_ids)))
    return {a.milestone_id: a for a in rows}


def add_to_digests(session: Session, facts: dict[int, Any]) -> None:
    """Fill each project's digest facts (`bot.reports.facts.DigestFacts`, keyed by project id):
    what was accepted since the start of its week, and what awaits the client's acceptance."""
    if not facts:
        return
    earliest = min(f.since for f in facts.values())
    rows = session.exec(select(Acceptance, Milestone).join(Milestone, col(Milestone.id) == col(Acceptance.milestone_id))
                        .where(col(Acceptance.project_id).in_(list(facts)),
                               (col(Acceptance.status) == S.requested)
                               | ((col(Acceptance.status) == S.accepted) & (col(Acceptance.decided_at) >= earliest)))
                        .order_by(col(Acceptance.requested_at), col(Acceptance.id))).all()
    for acc, milestone in rows:
        f = facts.get(acc.project_id)
        if f is None:
            continue
        if acc.status == S.requested:
            f.awaiting_acceptance.append((acc, milestone))
        elif acc.decided_at is not None and acc.decided_at >= f.since:
            f.accepted.append((acc, milestone))


def issues_of(session: Session, acc_id: int) -> list[AcceptanceIssue]:
    return list(session.exec(select(AcceptanceIssue).where(AcceptanceIssue.acceptance_id == acc_id)
                             .order_by(col(AcceptanceIssue.round), col(AcceptanceIssue.id))))


def open_issues(session: Session, acc_id: int) -> list[AcceptanceIssue]:
    return [i for i in issues_of(session, acc_id) if i.resolved_at is None]


def accepted_between(session: Session, project_ids: list[int], start: datetime,
                     end: datetime | None = None) -> list[tuple[Acceptance, Milestone]]:
    """Acceptances decided as accepted in [start, end), with their milestones, oldest first
    (the digest's "Accepted this week")."""
    if not project_ids:
        return []
    where = [col(Acceptance.project_id).in_(project_ids), col(Acceptance.status) == S.accepted,
             col(Acceptance.decided_at) >= start]
    if end is not None:
        where.append(col(Acceptance.decided_at) < end)
    rows = session.exec(select(Acceptance, Milestone).join(Milestone, col(Milestone.id) == col(Acceptance.milestone_id))
                        .where(*where).order_by(col(Acceptance.decided_at), col(Acceptance.id))).all()
    return [(a, m) for a, m in rows]
