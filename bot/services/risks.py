"""The risk register: capture, edit, status changes and reviews, each one logged.

Score = probability × impact (both 1–5). A risk may name the milestone it affects; the
milestone status derivation treats a milestone with a linked occurred risk, or a linked open
risk scored 15 or more, as at risk — so storing `milestone_id` and the status is all this
module has to get right.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from bot import models
from bot.clock import Clock
from bot.models import Milestone, Project, ProjectStatus, Risk, RiskStatus, Visibility
from bot.services import activity, calendar
from bot.services.errors import InvalidTransition, NotFound, ValidationFailed

TITLE_MAX = models.RISK_TITLE_MAX
TEXT_MAX = models.LONG_TEXT_MAX
SCALE = models.RISK_SCALE
QUICK_PROBABILITY = 3
QUICK_IMPACT = 3
DEFAULT_REVIEW_DAYS = models.RISK_REVIEW_DAYS
HIGH_SCORE = models.RISK_HIGH_SCORE
PER_PAGE = 10

FIELDS = ["title", "description", "probability", "impact", "owner_user_id", "mitigation",
          "next_review_date", "status", "visibility", "milestone_id"]

TRANSITIONS = models.RISK_TRANSITIONS  # the state machine (bot/models.py: shown by the list's buttons too)
# The activity-log action of each status change.
STATUS_ACTIONS = {
    RiskStatus.open: "reopened",
    RiskStatus.mitigated: "mitigated",
    RiskStatus.occurred: "occurred",
    RiskStatus.closed: "closed",
}

Errors = dict[str, tuple[str, dict[str, object]]]


def score_of(probability: int, impact: int) -> int:
    return probability * impact


level = models.risk_level


def puts_milestone_at_risk(risk: Risk) -> bool:
    """Whether this risk, by itself, makes its milestone at risk (`Risk.puts_milestone_at_risk`)."""
    return risk.puts_milestone_at_risk


def project_today(project: Project, now: datetime) -> date:
    """Today's date where the project lives."""
    return calendar.today(project, now)


@dataclass
class RiskInput:
    """What a person typed or picked in the risk modal, before validation."""

    title: str
    owner_user_id: str | None
    probability: int | None = QUICK_PROBABILITY
    impact: int | None = QUICK_IMPACT
    description: str = ""
    mitigation: str = ""
    next_review: str | None = None  # ISO date, as the date picker sends it
    visibility: str = Visibility.internal
    milestone_id: int | None = None


@dataclass(frozen=True)
class CleanRisk:
    title: str
    description: str
    probability: int
    impact: int
    owner_user_id: str
    mitigation: str
    next_review_date: date | None
    visibility: str
    milestone_id: int | None


def _check_review(text: str | None, today: date, current: date | None, errors: Errors) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors["review"] = ("risk.error_review_invalid", {})
        return None
    # An overdue date the person left untouched is kept: only a newly chosen date must be ahead.
    if day < today and day != current:
        errors["review"] = ("risk.error_review_past", {"today": today.isoformat()})
    return day


def validate(session: Session, project: Project, data: RiskInput, *, today: date,
             current: Risk | None = None) -> CleanRisk:
    """Check every field; raise ValidationFailed naming each bad one."""
    errors: Errors = {}
    title = " ".join((data.title or "").split())
    if not title:
        errors["title"] = ("risk.error_title_required", {})
    elif len(title) > TITLE_MAX:
        errors["title"] = ("common.error_too_long", {"max": TITLE_MAX})
    description = (data.description or "").strip()
    if len(description) > TEXT_MAX:
        errors["description"] = ("common.error_too_long", {"max": TEXT_MAX})
    mitigation = (data.mitigation or "").strip()
    if len(mitigation) > TEXT_MAX:
        errors["mitigation"] = ("common.error_too_long", {"max": TEXT_MAX})
    if data.probability not in SCALE:
        errors["probability"] = ("risk.error_scale", {})
    if data.impact not in SCALE:
        errors["impact"] = ("risk.error_scale", {})
    if not data.owner_user_id:
        errors["owner"] = ("risk.error_owner_required", {})
    review = _check_review(data.next_review, today, current.next_review_date if current else None, errors)
    if data.visibility not in (Visibility.internal, Visibility.client):
        errors["visibility"] = ("risk.error_visibility", {})
    if data.milestone_id is not None:
        milestone = session.get(Milestone, data.milestone_id)
        if milestone is None or milestone.project_id != project.id:
            errors["milestone"] = ("risk.error_milestone", {})
    if errors:
        raise ValidationFailed(errors)
    return CleanRisk(
        title=title, description=description, probability=int(data.probability or 0),
        impact=int(data.impact or 0), owner_user_id=data.owner_user_id or "", mitigation=mitigation,
        next_review_date=review, visibility=data.visibility, milestone_id=data.milestone_id,
    )


def _require_active(project: Project) -> None:
    if project.status != ProjectStatus.active:
        raise InvalidTransition("project.error_closed", name=project.name)


def _log(session: Session, clock: Clock, project: Project, risk: Risk, actor: str, action: str,
         before: dict | None, after: dict | None) -> None:
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor, action=action,
                    entity_type="risk", entity_id=risk.id, before=before, after=after)


def create(session: Session, clock: Clock, *, project: Project, actor: str, data: RiskInput) -> Risk:
    _require_active(project)
    now = clock.now()
    clean = validate(session, project, data, today=project_today(project, now))
    risk = Risk(project_id=project.id or 0, created_by=actor, created_at=now, updated_at=now, **clean.__dict__)
    session.add(risk)
    session.flush()
    _log(session, clock, project, risk, actor, "created", None, activity.snapshot(risk, FIELDS))
    return risk


def quick_capture(session: Session, clock: Clock, *, project: Project, actor: str, text: str) -> Risk:
    """`/risk <text>`: probability and impact 3, owned by its author, reviewed in a week.

    Text longer than a title is kept whole as the description, with the title cut short."""
    words = " ".join((text or "").split())
    title, description = words, ""
    if len(words) > TITLE_MAX:
        title, description = words[: TITLE_MAX - 1].rstrip() + "…", (text or "").strip()[:TEXT_MAX]
    review = project_today(project, clock.now()) + timedelta(days=DEFAULT_REVIEW_DAYS)
    return create(session, clock, project=project, actor=actor, data=RiskInput(
        title=title, description=description, owner_user_id=actor, probability=QUICK_PROBABILITY,
        impact=QUICK_IMPACT, next_review=review.isoformat(),
    ))


def update_risk(session: Session, clock: Clock, *, project: Project, risk: Risk, actor: str,
                data: RiskInput) -> Risk:
    """Edit every field but the status (which has its own transitions)."""
    _require_active(project)
    now = clock.now()
    clean = validate(session, project, data, today=project_today(project, now), current=risk)
    before = activity.snapshot(risk, FIELDS)
    for key, value in clean.__dict__.items():
        setattr(risk, key, value)
    risk.updated_at = now
    session.add(risk)
    session.flush()
    old, new = activity.diff(before, activity.snapshot(risk, FIELDS))
    if new:
        _log(session, clock, project, risk, actor, "edited", old, new)
    return risk


def change_status(session: Session, clock: Clock, *, project: Project, risk: Risk, actor: str, to: str,
                  expected: str | None = None) -> Risk:
    """Move the risk from `expected` (its status as the person saw it) to `to`.

    The change is one conditional UPDATE, so of two people acting on the same risk at once
    exactly one succeeds; the other gets `risk.error_changed` and nothing changes."""
    _require_active(project)
    seen = expected or risk.status
    if to not in TRANSITIONS.get(seen, frozenset()):
        raise InvalidTransition("risk.error_transition")
    now = clock.now()
    result = session.execute(
        update(Risk)
        .where(col(Risk.id) == risk.id, col(Risk.status) == seen)
        .values(status=to, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(risk)
    if result.rowcount != 1:
        raise InvalidTransition("risk.error_changed")
    after: dict[str, object] = {"status": to}
    if to == RiskStatus.occurred and risk.milestone_id is not None:
        after["milestone_id"] = risk.milestone_id
    _log(session, clock, project, risk, actor, STATUS_ACTIONS[RiskStatus(to)], {"status": seen}, after)
    return risk


def set_review(session: Session, clock: Clock, *, project: Project, risk: Risk, actor: str,
               review: str | None) -> Risk:
    """Set the next review date (required here, and not in the past in the project's zone)."""
    _require_active(project)
    errors: Errors = {}
    if not review:
        raise ValidationFailed({"review": ("risk.error_review_required", {})})
    day = _check_review(review, project_today(project, clock.now()), None, errors)
    if errors or day is None:
        raise ValidationFailed(errors)
    before = {"next_review_date": risk.next_review_date}
    risk.next_review_date = day
    risk.updated_at = clock.now()
    session.add(risk)
    session.flush()
    if before["next_review_date"] != day:
        _log(session, clock, project, risk, actor, "review_set", before, {"next_review_date": day})
    return risk


def get(session: Session, team_id: str, risk_id: int) -> tuple[Risk, Project]:
    """The risk and its project, or NotFound when either is missing or of another workspace."""
    risk = session.get(Risk, risk_id)
    project = session.get(Project, risk.project_id) if risk is not None else None
    if risk is None or project is None or project.team_id != team_id:
        raise NotFound("common.not_found")
    return risk, project


def register_page(session: Session, project_id: int, *, page: int = 1, per_page: int = PER_PAGE,
                  include_closed: bool = False) -> tuple[list[Risk], int]:
    """One page of the register, highest score first (newest first among equal scores), and the total."""
    where = [col(Risk.project_id) == project_id]
    if not include_closed:
        where.append(col(Risk.status) != RiskStatus.closed)
    total = session.exec(select(func.count()).select_from(Risk).where(*where)).one()
    stmt = (
        select(Risk)
        .where(*where)
        .order_by((col(Risk.probability) * col(Risk.impact)).desc(), col(Risk.created_at).desc(), col(Risk.id).desc())
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    )
    return list(session.exec(stmt)), int(total)


def milestones_for(session: Session, project_id: int, *, keep: int | None = None) -> list[Milestone]:
    """Milestones a risk can be linked to: those not done, soonest first (plus `keep`, the current link)."""
    stmt = select(Milestone).where(col(Milestone.project_id) == project_id).order_by(
        col(Milestone.due_date), col(Milestone.id))
    return [m for m in session.exec(stmt) if not m.done or m.id == keep]


def milestone_names(session: Session, milestone_ids: set[int]) -> dict[int, str]:
    if not milestone_ids:
        return {}
    rows = session.exec(select(Milestone).where(col(Milestone.id).in_(milestone_ids)))
    return {m.id: m.name for m in rows if m.id is not None}
