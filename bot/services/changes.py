"""Change requests (SPEC §2): submitted → assessed → approved / rejected → implemented.

* The team assesses a submitted request (schedule impact, effort, cost, affected milestones,
  recommendation), and may revise that assessment while the client has not decided. A revision
  applies only the fields the form changed (`edits.plan`); a field someone else changed
  meanwhile is refused by name.
* Only a client decider (a client approver, or the PM on the client's behalf) approves or
  rejects an assessed request. Approval moves every affected milestone's due date by the
  schedule impact in the same transaction as the decision, and logs each old and new date.
* The author may withdraw a request while it is submitted or assessed; the team marks an
  approved one implemented.

Every status change is one conditional UPDATE (``… WHERE status = <expected>``) that bumps the
request's `version`, so of two clicks or two people racing exactly one wins; the other gets
`InvalidTransition` naming what happened instead. A decision names the version the client was
shown: one on an older version (the assessment was revised since) raises `Stale`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.models import (
    CR_TEXT_MAX,
    CR_TITLE_MAX,
    ChangeRequest,
    ChangeRequestMilestone,
    ChangeRequestRequirement,
    ChangeStatus,
    Milestone,
    Project,
    Requirement,
)
from bot.services import activity, edits, milestones
from bot.services.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from bot.services.permissions import Decider

ENTITY = "change_request"
TITLE_MAX = CR_TITLE_MAX
TEXT_MAX = CR_TEXT_MAX
SCHEDULE_LIMIT = 365
EFFORT_MAX = Decimal("10000")
COST_MAX = Decimal("999999999999.99")  # Numeric(14, 2)
OPEN_STATUSES = (ChangeStatus.submitted, ChangeStatus.assessed)

# The status machine: which status may follow which.
TRANSITIONS: dict[ChangeStatus, frozenset[ChangeStatus]] = {
    ChangeStatus.submitted: frozenset({ChangeStatus.assessed, ChangeStatus.withdrawn}),
    # assessed → assessed: the team revises its assessment (a new version) until the client decides
    ChangeStatus.assessed: frozenset({ChangeStatus.assessed, ChangeStatus.approved, ChangeStatus.rejected,
                                      ChangeStatus.withdrawn}),
    ChangeStatus.approved: frozenset({ChangeStatus.implemented}),
    ChangeStatus.rejected: frozenset(),
    ChangeStatus.implemented: frozenset(),
    ChangeStatus.withdrawn: frozenset(),
}
# Why a change to `target` is refused, by the status the request is in.
_REFUSALS = {
    ChangeStatus.assessed: "changes.error_not_submitted",
    ChangeStatus.approved: "changes.error_not_assessed",
    ChangeStatus.rejected: "changes.error_not_assessed",
    ChangeStatus.withdrawn: "changes.error_not_open",
    ChangeStatus.implemented: "changes.error_not_approved",
}
SUMMARY_FIELDS = ["title", "description", "reason", "requested_by", "requested_by_client", "status"]
ASSESSMENT_FIELDS = ["schedule_impact_days", "effort_hours", "cost_amount", "cost_currency",
                     "share_cost_with_client", "recommendation"]
# What the assessment form shows (and an edit of it may change), the milestones it affects included.
ASSESSED = [*ASSESSMENT_FIELDS, "milestone_ids"]


class Stale(InvalidTransition):
    """A decision on a version of the request older than the current one (nothing changed)."""

    def __init__(self, cr: ChangeRequest) -> None:
        super().__init__("changes.error_stale", id=cr.id)
        self.cr = cr


def can_transition(current: str, target: str) -> bool:
    try:
        return ChangeStatus(target) in TRANSITIONS[ChangeStatus(current)]
    except ValueError:
        return False


def check_transition(current: str, target: str) -> None:
    """Raise InvalidTransition (with the reason a person can read) unless `current → target`."""
    if not can_transition(current, target):
        raise InvalidTransition(_REFUSALS.get(ChangeStatus(target), "changes.error_not_open"), status=current)


# Input -----------------------------------------------------------------------------------


@dataclass
class ChangeInput:
    """The request modal (or a quick `/change <text>`), before validation."""

    title: str
    description: str = ""
    reason: str = ""
    requirement_ids: list[int] = field(default_factory=list)
    milestone_ids: list[int] = field(default_factory=list)


@dataclass
class AssessmentInput:
    """The assessment modal, as typed."""

    schedule_impact_days: str | None
    effort_hours: str | None
    cost_amount: str | None = None
    cost_currency: str | None = None
    share_cost_with_client: bool = False
    milestone_ids: list[int] = field(default_factory=list)
    recommendation: str = ""


@dataclass(frozen=True)
class CleanAssessment:
    schedule_impact_days: int
    effort_hours: Decimal
    cost_amount: Decimal | None
    cost_currency: str | None
    share_cost_with_client: bool
    milestone_ids: list[int]
    recommendation: str


_INT = re.compile(r"^[+-]?\d{1,6}$")
_AMOUNT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def parse_schedule_impact(text: str | None) -> int | None:
    """Whole days between −365 and 365 ("+5", "-3", "0"); None when not that."""
    value = (text or "").strip()
    if not _INT.match(value):
        return None
    days = int(value)
    return days if -SCHEDULE_LIMIT <= days <= SCHEDULE_LIMIT else None


def _decimal(text: str) -> Decimal | None:
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def parse_effort(text: str | None) -> Decimal | None:
    """Hours between 0 and 10,000 with at most two decimals ("12", "7.5", "7,5"); None when not that."""
    value = (text or "").strip()
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")  # a decimal comma
    if not re.match(r"^\d{1,5}(?:\.\d{1,2})?$", value):
        return None
    number = _decimal(value)
    return number if number is not None and 0 <= number <= EFFORT_MAX else None


def parse_amount(text: str | None) -> Decimal | None:
    """A money amount ≥ 0 with at most two decimals ("1200", "1,200.50"); None when not that."""
    value = (text or "").strip().replace(" ", "")
    if not _AMOUNT.match(value):
        return None
    number = _decimal(value.replace(",", ""))
    return number if number is not None and 0 <= number <= COST_MAX else None


def validate_assessment(data: AssessmentInput) -> CleanAssessment:
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    days = parse_schedule_impact(data.schedule_impact_days)
    if days is None:
        errors["schedule_impact_days"] = ("changes.error_schedule", {"limit": SCHEDULE_LIMIT})
    effort = parse_effort(data.effort_hours)
    if effort is None:
        errors["effort_hours"] = ("changes.error_effort", {"max": "10,000"})
    amount: Decimal | None = None
    currency: str | None = None
    amount_text = (data.cost_amount or "").strip()
    currency_text = (data.cost_currency or "").strip().upper()
    if amount_text:
        amount = parse_amount(amount_text)
        if amount is None:
            errors["cost_amount"] = ("changes.error_amount", {})
        if not _CURRENCY.match(currency_text):
            errors["cost_currency"] = ("changes.error_currency", {})
        currency = currency_text
    elif currency_text and not _CURRENCY.match(currency_text):
        errors["cost_currency"] = ("changes.error_currency", {})
    recommendation = (data.recommendation or "").strip()
    if len(recommendation) > TEXT_MAX:
        errors["recommendation"] = ("common.error_too_long", {"max": TEXT_MAX})
    if errors:
        raise ValidationFailed(errors)
    assert days is not None and effort is not None
    return CleanAssessment(
        schedule_impact_days=days,
        effort_hours=effort,
        cost_amount=amount,
        cost_currency=currency if amount is not None else None,
        share_cost_with_client=bool(data.share_cost_with_client) and amount is not None,
        milestone_ids=list(dict.fromkeys(data.milestone_ids)),
        recommendation=recommendation,
    )


def _validate_request(data: ChangeInput) -> tuple[str, str, str]:
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    title = " ".join((data.title or "").split())
    if not title:
        errors["title"] = ("changes.error_title_required", {})
    elif len(title) > TITLE_MAX:
        errors["title"] = ("common.error_too_long", {"max": TITLE_MAX})
    description = (data.description or "").strip()
    if len(description) > TEXT_MAX:
        errors["description"] = ("common.error_too_long", {"max": TEXT_MAX})
    reason = (data.reason or "").strip()
    if len(reason) > TEXT_MAX:
        errors["reason"] = ("common.error_too_long", {"max": TEXT_MAX})
    if errors:
        raise ValidationFailed(errors)
    return title, description, reason


def _own_ids(session: Session, model: Any, project_id: int, wanted: list[int]) -> list[int]:
    """The ids of `wanted` that really are rows of `model` in this project (others are ignored)."""
    if not wanted:
        return []
    rows = session.exec(select(model.id).where(model.project_id == project_id, col(model.id).in_(wanted)))
    found = set(rows)
    return [i for i in dict.fromkeys(wanted) if i in found]


# Reading ---------------------------------------------------------------------------------


def get_in_team(session: Session, team_id: str, cr_id: int) -> tuple[ChangeRequest, Project]:
    """The request and its project, only within workspace `team_id`."""
    cr = session.get(ChangeRequest, cr_id, populate_existing=True)
    project = session.get(Project, cr.project_id) if cr else None
    if cr is None or project is None or project.team_id != team_id:
        raise NotFound("common.not_found")
    return cr, project


def milestone_ids(session: Session, cr_id: int) -> list[int]:
    return list(session.exec(select(ChangeRequestMilestone.milestone_id)
                             .where(ChangeRequestMilestone.change_request_id == cr_id)))


def requirement_ids(session: Session, cr_id: int) -> list[int]:
    return list(session.exec(select(ChangeRequestRequirement.requirement_id)
                             .where(ChangeRequestRequirement.change_request_id == cr_id)))


def affected(session: Session, cr_ids: list[int]) -> tuple[dict[int, list[Milestone]], dict[int, list[Requirement]]]:
    """The milestones and requirements each request affects (two queries for any number)."""
    ms: dict[int, list[Milestone]] = {i: [] for i in cr_ids}
    reqs: dict[int, list[Requirement]] = {i: [] for i in cr_ids}
    if not cr_ids:
        return ms, reqs
    for link, m in session.exec(
        select(ChangeRequestMilestone, Milestone)
        .join(Milestone, col(Milestone.id) == col(ChangeRequestMilestone.milestone_id))
        .where(col(ChangeRequestMilestone.change_request_id).in_(cr_ids))
        .order_by(col(Milestone.due_date), col(Milestone.id))
    ):
        ms[link.change_request_id].append(m)
    for rlink, r in session.exec(
        select(ChangeRequestRequirement, Requirement)
        .join(Requirement, col(Requirement.id) == col(ChangeRequestRequirement.requirement_id))
        .where(col(ChangeRequestRequirement.change_request_id).in_(cr_ids))
        .order_by(col(Requirement.id))
    ):
        reqs[rlink.change_request_id].append(r)
    return ms, reqs


def list_for_project(session: Session, project_id: int, *, status: str | None = None, page: int = 1,
                     per_page: int = 10) -> tuple[list[ChangeRequest], int]:
    """One page of a project's requests, newest first, and how many there are in all."""
    from sqlalchemy import func

    where = [ChangeRequest.project_id == project_id]
    if status:
        where.append(ChangeRequest.status == status)
    total = session.exec(select(func.count()).select_from(ChangeRequest).where(*where)).one()
    rows = list(session.exec(
        select(ChangeRequest).where(*where)
        .order_by(col(ChangeRequest.created_at).desc(), col(ChangeRequest.id).desc())
        .offset((page - 1) * per_page).limit(per_page)
    ))
    return rows, int(total)


def all_for_project(session: Session, project_id: int) -> list[ChangeRequest]:
    """Every request of a project, oldest first (the change log)."""
    return list(session.exec(select(ChangeRequest).where(ChangeRequest.project_id == project_id)
                             .order_by(col(ChangeRequest.created_at), col(ChangeRequest.id))))


# Changes ---------------------------------------------------------------------------------


def _require_active(project: Project) -> None:
    if project.status != "active":
        raise InvalidTransition("permissions.project_closed")


def submit(session: Session, clock: Clock, *, project: Project, actor: str, data: ChangeInput,
           by_client: bool) -> ChangeRequest:
    """Record a new request (status `submitted`) with the requirements and milestones it names."""
    _require_active(project)
    title, description, reason = _validate_request(data)
    assert project.id is not None
    req_ids = _own_ids(session, Requirement, project.id, data.requirement_ids)
    ms_ids = _own_ids(session, Milestone, project.id, data.milestone_ids)
    now = clock.now()
    cr = ChangeRequest(project_id=project.id, title=title, description=description, reason=reason,
                       requested_by=actor, requested_by_client=by_client, created_at=now, updated_at=now)
    session.add(cr)
    session.flush()
    assert cr.id is not None
    for rid in req_ids:
        session.add(ChangeRequestRequirement(change_request_id=cr.id, requirement_id=rid))
    for mid in ms_ids:
        session.add(ChangeRequestMilestone(change_request_id=cr.id, milestone_id=mid))
    session.flush()
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor,
                    action="submitted", entity_type=ENTITY, entity_id=cr.id,
                    after={**activity.snapshot(cr, SUMMARY_FIELDS), "requirement_ids": req_ids,
                           "milestone_ids": ms_ids})
    return cr


def why_not(session: Session, cr_id: int, target: ChangeStatus) -> InvalidTransition:
    """Why the conditional UPDATE matched nothing: the request's current status, and who did it."""
    cr = session.get(ChangeRequest, cr_id, populate_existing=True)
    if cr is None:
        return InvalidTransition("common.not_found")
    status = ChangeStatus(cr.status)
    if status in (ChangeStatus.approved, ChangeStatus.rejected):
        key = "changes.error_already_approved" if status == ChangeStatus.approved else "changes.error_already_rejected"
        when = cr.decided_at.isoformat(timespec="minutes") if cr.decided_at else ""
        return InvalidTransition(key, id=cr.id, user=cr.decided_by or "", at=when)
    if status == ChangeStatus.withdrawn:
        return InvalidTransition("changes.error_withdrawn", id=cr.id)
    if status == ChangeStatus.implemented:
        return InvalidTransition("changes.error_implemented", id=cr.id)
    return InvalidTransition(_REFUSALS.get(target, "changes.error_not_open"), id=cr.id,
                             status=status.value)


def _set_status(session: Session, cr_id: int, expected: tuple[ChangeStatus, ...], target: ChangeStatus, *,
                version: int | None = None, **values: Any) -> None:
    """The conditional UPDATE every transition goes through (it bumps the version); raises when
    another one won, or (`version` given) when the request moved past the version shown."""
    for current in expected:
        check_transition(current, target)
    stmt = update(ChangeRequest).where(col(ChangeRequest.id) == cr_id,
                                       col(ChangeRequest.status).in_([s.value for s in expected]))
    if version is not None:
        stmt = stmt.where(col(ChangeRequest.version) == version)
    result = session.execute(stmt.values(status=target.value, version=col(ChangeRequest.version) + 1, **values)
                             .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        cr = session.get(ChangeRequest, cr_id, populate_existing=True)
        if version is not None and cr is not None and cr.status in expected and cr.version != version:
            raise Stale(cr)
        raise why_not(session, cr_id, target)


def _number(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _canonical(values: dict[str, Any]) -> dict[str, Any]:
    """Assessment values in one canonical form each (so "16" and "16.00" hours are the same)."""
    return {
        "schedule_impact_days": values["schedule_impact_days"],
        "effort_hours": _number(values["effort_hours"]),
        "cost_amount": _number(values["cost_amount"]),
        "cost_currency": values["cost_currency"] or None,
        "share_cost_with_client": bool(values["share_cost_with_client"]),
        "recommendation": values["recommendation"] or "",
        "milestone_ids": sorted(values["milestone_ids"]),
    }


def assessment_of(cr: ChangeRequest, milestone_ids_: list[int]) -> dict[str, Any]:
    """The assessment as the form shows it, canonical (what an edit stamp fingerprints)."""
    return _canonical(_typed_of(cr, milestone_ids_))


def _typed(clean: CleanAssessment, ms_ids: list[int]) -> dict[str, Any]:
    return {
        "schedule_impact_days": clean.schedule_impact_days, "effort_hours": clean.effort_hours,
        "cost_amount": clean.cost_amount, "cost_currency": clean.cost_currency,
        "share_cost_with_client": clean.share_cost_with_client, "recommendation": clean.recommendation,
        "milestone_ids": ms_ids,
    }


def _shown(value: Any, names: dict[int, str]) -> str:
    """A field's current value in a few plain words (for "changed meanwhile to …")."""
    if isinstance(value, list):
        return ", ".join(names.get(i, f"#{i}") for i in value) or "-"
    if isinstance(value, bool):
        return "✓" if value else "-"
    if isinstance(value, int):
        return f"{value:+d}"
    return " ".join(str(value or "-").split())[:150]


def assess(session: Session, clock: Clock, *, cr: ChangeRequest, project: Project, actor: str,
           data: AssessmentInput, stamp: dict[str, Any] | None = None,
           fields: list[str] | None = None) -> ChangeRequest:
    """The team's assessment: a submitted request becomes `assessed` (and goes to the client); an
    assessed one has its assessment revised (a new version the client decides on).

    `fields` are the ones the form showed (default: all but the cost sharing, which only the PM's
    form shows), `stamp` what it showed them as (`edits.stamp`): only fields the form changed are
    applied, and a field someone else changed since the form was opened is refused by name."""
    _require_active(project)
    assert cr.id is not None and project.id is not None
    check_transition(cr.status, ChangeStatus.assessed)
    first = cr.status == ChangeStatus.submitted
    clean = validate_assessment(data)
    shown = fields if fields is not None else [f for f in ASSESSED if f != "share_cost_with_client"]
    before_ms = milestone_ids(session, cr.id)
    ms_ids = _own_ids(session, Milestone, project.id, clean.milestone_ids)
    typed = _typed(clean, ms_ids)
    submitted = {k: v for k, v in _canonical(typed).items() if k in shown}
    current = assessment_of(cr, before_ms)
    plan = edits.plan(stamp, submitted=submitted, current=current)
    if plan.conflicts:
        names = {m.id or 0: m.name for m in session.exec(select(Milestone).where(Milestone.project_id == project.id))}
        raise ValidationFailed({f: ("changes.error_changed_meanwhile", {"value": _shown(current[f], names)})
                                for f in plan.conflicts})
    if not first and not plan.changes:
        return cr  # nothing changed: no new version
    merged = {**_typed_of(cr, before_ms), **{k: typed[k] for k in plan.changes}}
    if merged["cost_amount"] is None:
        merged["cost_currency"], merged["share_cost_with_client"] = None, False
    now = clock.now()
    values = {k: merged[k] for k in ASSESSMENT_FIELDS}
    values["recommendation"] = values["recommendation"] or None
    if first:
        _set_status(session, cr.id, (ChangeStatus.submitted,), ChangeStatus.assessed, **values,
                    assessed_by=actor, assessed_at=now, updated_at=now)
    else:
        result = session.execute(
            update(ChangeRequest)
            .where(col(ChangeRequest.id) == cr.id, col(ChangeRequest.status) == ChangeStatus.assessed.value,
                   col(ChangeRequest.version) == cr.version)
            .values(**values, version=col(ChangeRequest.version) + 1, assessed_by=actor, assessed_at=now,
                    updated_at=now)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise InvalidTransition("changes.error_changed_retry", id=cr.id)
    if set(merged["milestone_ids"]) != set(before_ms):
        for link in session.exec(select(ChangeRequestMilestone)
                                 .where(ChangeRequestMilestone.change_request_id == cr.id)):
            session.delete(link)
        session.flush()
        for mid in merged["milestone_ids"]:
            session.add(ChangeRequestMilestone(change_request_id=cr.id, milestone_id=mid))
        session.flush()
    session.refresh(cr)
    if first:
        activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor,
                        action="assessed", entity_type=ENTITY, entity_id=cr.id,
                        before={"status": ChangeStatus.submitted.value, "milestone_ids": before_ms},
                        after={"status": ChangeStatus.assessed.value, **activity.snapshot(cr, ASSESSMENT_FIELDS),
                               "milestone_ids": merged["milestone_ids"]})
    else:
        after = {**activity.snapshot(cr, ASSESSMENT_FIELDS), "milestone_ids": merged["milestone_ids"]}
        activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor,
                        action="reassessed", entity_type=ENTITY, entity_id=cr.id,
                        before={k: current[k] for k in plan.changes}, after={k: after[k] for k in plan.changes})
    return cr


def _typed_of(cr: ChangeRequest, ms_ids: list[int]) -> dict[str, Any]:
    return {**{k: getattr(cr, k) for k in ASSESSMENT_FIELDS}, "recommendation": cr.recommendation or "",
            "milestone_ids": ms_ids}


@dataclass(frozen=True)
class Rescheduled:
    milestone: Milestone
    old: Any
    new: Any


@dataclass(frozen=True)
class Decision:
    cr: ChangeRequest
    rescheduled: list[Rescheduled]


def decide(session: Session, clock: Clock, *, cr_id: int, project: Project, decider: Decider, approve: bool,
           reason: str | None = None, version: int | None = None) -> Decision:
    """Approve or reject an assessed request for the client; with `version`, only that version
    of it (`Stale` when it was revised since).

    Approval with a schedule impact moves each affected milestone's due date by exactly that
    many days, in this same transaction, logging the old and new dates."""
    _require_active(project)
    reason = (reason or "").strip()[:TEXT_MAX] or None
    target = ChangeStatus.approved if approve else ChangeStatus.rejected
    now = clock.now()
    _set_status(session, cr_id, (ChangeStatus.assessed,), target, version=version,
                decided_by=decider.user_id, decided_at=now,
                decided_on_behalf=decider.on_behalf_of_client, decision_reason=reason, updated_at=now)
    cr = session.get(ChangeRequest, cr_id, populate_existing=True)
    assert cr is not None and cr.project_id == project.id
    moved: list[Rescheduled] = []
    days = cr.schedule_impact_days or 0
    if approve and days:
        ids = milestone_ids(session, cr_id)
        if ids:
            rows = session.exec(select(Milestone).where(col(Milestone.id).in_(ids))
                                .order_by(col(Milestone.due_date), col(Milestone.id))
                                .with_for_update().execution_options(populate_existing=True))
            for m in rows:
                old, new = milestones.shift_due_date(session, clock, project=project, milestone=m, days=days,
                                                     actor=decider.user_id, change_request_id=cr_id,
                                                     on_behalf_of_client=decider.on_behalf_of_client)
                moved.append(Rescheduled(milestone=m, old=old, new=new))
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=decider.user_id,
                    action=target.value, entity_type=ENTITY, entity_id=cr_id,
                    before={"status": ChangeStatus.assessed.value},
                    after={"status": target.value, "reason": reason,
                           "rescheduled": [{"milestone_id": r.milestone.id, "from": r.old, "to": r.new}
                                           for r in moved]},
                    on_behalf_of_client=decider.on_behalf_of_client)
    return Decision(cr=cr, rescheduled=moved)


def implement(session: Session, clock: Clock, *, cr_id: int, project: Project, actor: str) -> ChangeRequest:
    """The team delivered an approved change."""
    _require_active(project)
    now = clock.now()
    _set_status(session, cr_id, (ChangeStatus.approved,), ChangeStatus.implemented, implemented_at=now,
                updated_at=now)
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor,
                    action="implemented", entity_type=ENTITY, entity_id=cr_id,
                    before={"status": ChangeStatus.approved.value}, after={"status": ChangeStatus.implemented.value})
    cr = session.get(ChangeRequest, cr_id, populate_existing=True)
    assert cr is not None
    return cr


def withdraw(session: Session, clock: Clock, *, cr_id: int, project: Project, actor: str) -> tuple[ChangeRequest, str]:
    """The author takes back an undecided request. Returns the request and its former status."""
    cr = session.get(ChangeRequest, cr_id, populate_existing=True)
    if cr is None or cr.project_id != project.id:
        raise NotFound("common.not_found")
    if cr.requested_by != actor:
        raise Forbidden("changes.error_not_author")
    _require_active(project)
    now = clock.now()
    result = session.execute(
        update(ChangeRequest)
        .where(col(ChangeRequest.id) == cr_id, col(ChangeRequest.requested_by) == actor,
               col(ChangeRequest.status).in_([s.value for s in OPEN_STATUSES]))
        .values(status=ChangeStatus.withdrawn.value, withdrawn_at=now, updated_at=now,
                version=col(ChangeRequest.version) + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise why_not(session, cr_id, ChangeStatus.withdrawn)
    former = cr.status
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor,
                    action="withdrawn", entity_type=ENTITY, entity_id=cr_id,
                    before={"status": former}, after={"status": ChangeStatus.withdrawn.value})
    cr = session.get(ChangeRequest, cr_id, populate_existing=True)
    assert cr is not None
    return cr, former


def set_approval_message(session: Session, cr_id: int, channel_id: str, ts: str) -> None:
    session.execute(update(ChangeRequest).where(col(ChangeRequest.id) == cr_id)
                    .values(approval_channel_id=channel_id, approval_ts=ts)
                    .execution_options(synchronize_session=False))


def history(session: Session, cr_ids: list[int]) -> dict[int, list[Any]]:
    """The activity log of each request, oldest first (one query for any number)."""
    from bot.models import ActivityLog

    out: dict[int, list[Any]] = {i: [] for i in cr_ids}
    if not cr_ids:
        return out
    for entry in session.exec(select(ActivityLog)
                              .where(ActivityLog.entity_type == ENTITY, col(ActivityLog.entity_id).in_(cr_ids))
                              .order_by(col(ActivityLog.created_at), col(ActivityLog.id))):
        out.setdefault(entry.entity_id or 0, []).append(entry)
    return out


def cost_visible(cr: ChangeRequest, *, to_client: bool) -> bool:
    """Cost is internal unless the PM chose to share it with the client."""
    return cr.cost_visible(to_client=to_client)


def actions_for(cr: ChangeRequest, *, user_id: str, is_team: bool, can_decide: bool) -> list[str]:
    """The buttons a viewer may use on a request in a list, by its status and their role."""
    out: list[str] = []
    if cr.status == ChangeStatus.submitted and is_team:
        out.append("assess")
    if cr.status == ChangeStatus.assessed and is_team:
        out.append("reassess")
    if cr.status == ChangeStatus.assessed and can_decide:
        out += ["approve", "reject"]
    if cr.status == ChangeStatus.approved and is_team:
        out.append("implement")
    if cr.status in OPEN_STATUSES and cr.requested_by == user_id:
        out.append("withdraw")
    return out
