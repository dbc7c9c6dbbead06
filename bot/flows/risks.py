"""Risk register use cases (team only): capture, quick capture, edit, status, review, list.

Every function opens exactly one session scope (the project-by-channel lookup included), and
either returns what the handler shows or raises `Refused`.

- The edit form is stamped with what it showed (`edits.stamp`); on submit only the fields the
  person changed are applied, so a stale form never undoes an owner, score or date someone else
  set meanwhile. A field changed both here and meanwhile is refused next to that field.
- A risk owner is a member of the installing workspace: the handler classifies the chosen owner
  with Slack (`owner_is_member`), and a guest or an external user is refused next to the owner
  field whenever a form sets the owner. `/risk <text>` makes its (team-only) author the owner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.deps import Deps
from bot.flows.people import is_outside_channels
from bot.flows.plan_scope import PlanScope, Who, plan_unit
from bot.i18n import t
from bot.models import Milestone, Project, Risk, RiskStatus, Visibility
from bot.services import edits, risks
from bot.services.errors import DomainError, NotFound, ValidationFailed

PER_PAGE = risks.PER_PAGE


@dataclass
class Page:
    """One page of the register (highest score first), and a note about the last click."""

    project: Project
    items: list[Risk]
    total: int
    page: int
    today: date
    milestones: dict[int, str]
    include_closed: bool
    moved: Risk | None = None  # the risk whose status this click changed
    problem: DomainError | None = None  # why it did not change


@dataclass
class Start:
    """What `/risk …` shows: help, a page of the list, a form to open, or the risk just captured."""

    lang: str
    project: Project | None = None
    today: date | None = None
    page: Page | None = None
    projects: list[Project] = field(default_factory=list)  # the picker, outside a project channel
    milestones: list[Milestone] = field(default_factory=list)
    form: bool = False
    captured: Risk | None = None


@dataclass
class Form:
    """The form of one risk (edit or review), with the stamp of what it shows."""

    lang: str
    risk: Risk
    project: Project
    today: date
    stamp: dict[str, Any]
    milestones: list[Milestone] = field(default_factory=list)


@dataclass
class Saved:
    lang: str
    risk: Risk
    project: Project
    today: date
    created: bool = False
    milestone: str | None = None


def _today(project: Project, deps: Deps) -> date:
    return risks.project_today(project, deps.clock.now())


def _page(s: PlanScope, deps: Deps, project: Project, page: int, include_closed: bool) -> Page:
    items, total = risks.register_page(s.session, project.id or 0, page=page, include_closed=include_closed)
    if not items and page > 1:  # the page emptied (risks closed meanwhile): show the last one
        page = max(1, -(-total // risks.PER_PAGE))
        items, total = risks.register_page(s.session, project.id or 0, page=page, include_closed=include_closed)
    names = risks.milestone_names(s.session, {r.milestone_id for r in items if r.milestone_id})
    return Page(project=project, items=items, total=total, page=page, today=_today(project, deps), milestones=names,
                include_closed=include_closed)


def start(deps: Deps, who: Who, words: list[str], text: str) -> Start:
    """`/risk` (the form), `/risk <text>` (quick capture), `/risk list [all]`, `/risk help`.
    `words`: the command's words, lower case; `text`: what was typed, decoded."""
    with plan_unit(deps, who) as s:
        project = s.here()
        s.team_only()
        if words in (["help"], ["?"]):
            return Start(s.lang, project)
        if words in (["list"], ["list", "all"]):
            if project is None:
                raise NotFound("common.no_project_here")
            return Start(s.lang, project, page=_page(s, deps, project, 1, len(words) == 2))
        if project is None:
            if not is_outside_channels(who.channel_id):
                raise NotFound("common.no_project_here")
            mine = s.mine()
            if not mine:
                raise NotFound("common.no_projects_for_you")
            return Start(s.lang, projects=mine, today=_today(mine[0], deps), form=True)
        s.active(project)
        if not text:
            return Start(s.lang, project, today=_today(project, deps), form=True,
                         milestones=risks.milestones_for(s.session, project.id or 0))
        risk = risks.quick_capture(s.session, deps.clock, project=project, actor=who.user_id, text=text)
        return Start(s.lang, project, today=_today(project, deps), captured=risk)


def shown(risk: Risk) -> dict[str, Any]:
    """The fields the risk form shows, named as its errors name them."""
    return {"title": risk.title, "description": risk.description, "probability": risk.probability,
            "impact": risk.impact, "owner": risk.owner_user_id, "mitigation": risk.mitigation,
            "review": risk.next_review_date.isoformat() if risk.next_review_date else None,
            "visibility": risk.visibility, "milestone": risk.milestone_id}


def _input(fields: dict[str, Any]) -> risks.RiskInput:
    return risks.RiskInput(
        title=fields.get("title") or "", description=fields.get("description") or "",
        probability=fields.get("probability"), impact=fields.get("impact"), owner_user_id=fields.get("owner"),
        mitigation=fields.get("mitigation") or "", next_review=fields.get("review"),
        visibility=fields.get("visibility") or Visibility.internal, milestone_id=fields.get("milestone"),
    )


def open_form(deps: Deps, who: Who, risk_id: int | None) -> Form:
    """*Edit* in the list, *Add details* under a quick capture: the full form, prefilled."""
    with plan_unit(deps, who) as s:
        s.team_only()
        risk, project = _risk_within_reach(s, risk_id)
        s.active(project)
        return Form(s.lang, risk, project, _today(project, deps), edits.stamp(risk.version, shown(risk)),
                    milestones=risks.milestones_for(s.session, project.id or 0, keep=risk.milestone_id))


def save(deps: Deps, who: Who, *, project_id: int | None, picked: int | None, risk_id: int | None,
         submitted: dict[str, Any], owner_is_member: bool, stamp: dict[str, Any] | None) -> Saved:
    """The risk form: a new risk, or the changes made to one (`submitted`: the fields sent back).

    `picked` is the project chosen in the picker (outside a project channel): one of the asker's."""
    with plan_unit(deps, who) as s:
        s.team_only()
        if project_id is not None:
            project = s.project_by_id(project_id)
        else:
            project = next((p for p in s.mine() if p.id == picked), None) if picked else None
            if project is None:
                raise NotFound("common.not_found")
            s.use(project)
        if risk_id is None:
            risk = _owner_rule(submitted.get("owner"), owner_is_member, lambda: risks.create(
                s.session, deps.clock, project=project, actor=who.user_id, data=_input(submitted)))
        else:
            risk = _apply(s, deps, project, risk_id, submitted, owner_is_member, stamp)
        names = risks.milestone_names(s.session, {risk.milestone_id} if risk.milestone_id else set())
        return Saved(s.lang, risk, project, _today(project, deps), created=risk_id is None,
                     milestone=names.get(risk.milestone_id or 0))


def _owner_rule(owner: str | None, owner_is_member: bool, save: Callable[[], Risk]) -> Risk:
    """`save` the risk, refusing an owner who is not a member of the workspace (with whatever
    else is wrong in the form; the unit of work rolls back what `save` did)."""
    errors = {"owner": ("risk.error_owner_not_member", {})} if owner and not owner_is_member else {}
    try:
        risk = save()
    except ValidationFailed as err:
        raise ValidationFailed({**err.errors, **errors}) from None
    if errors:
        raise ValidationFailed(errors)
    return risk


def _apply(s: PlanScope, deps: Deps, project: Project, risk_id: int, submitted: dict[str, Any],
           owner_is_member: bool, stamp: dict[str, Any] | None) -> Risk:
    risk, owner_project = risks.get(s.session, s.unit.team_id, risk_id)
    if owner_project.id != project.id:
        raise ValidationFailed({"title": ("common.not_found", {})})
    now = shown(risk)
    plan = edits.plan(stamp, submitted=submitted, current=now)
    if plan.conflicts:
        raise ValidationFailed({name: ("risk.error_changed_meanwhile", {"value": _words(s, name, now[name])})
                                for name in plan.conflicts})
    owner = plan.changes.get("owner")  # an owner left as it was is not set by this form
    return _owner_rule(owner, owner_is_member, lambda: risks.update_risk(
        s.session, deps.clock, project=project, risk=risk, actor=s.who.user_id, data=_input({**now, **plan.changes})))


def _words(s: PlanScope, name: str, value: Any) -> str:
    """A current value as a conflict names it (the owner's id and the visibility are put in
    words by the handler: a name Slack knows, the words of the form's options)."""
    if value is None or value == "":
        return t("common.none", s.lang)
    if name == "milestone":
        return risks.milestone_names(s.session, {value}).get(value, str(value))
    return str(value)


def _risk_within_reach(s: PlanScope, risk_id: int | None) -> tuple[Risk, Project]:
    if risk_id is None:
        raise NotFound("common.not_found")
    risk, project = risks.get(s.session, s.unit.team_id, risk_id)
    s.within_reach(project)
    s.use(project)
    return risk, project


def change_status(deps: Deps, who: Who, *, risk_id: int | None, to: RiskStatus | None, seen: str | None,
                  page: int, include_closed: bool) -> Page:
    """A status button in the list: the change (or why not), then the list as it is now."""
    with plan_unit(deps, who) as s:
        s.team_only()
        risk, project = _risk_within_reach(s, risk_id)
        if to is None:
            raise NotFound("common.not_found")
        problem: DomainError | None = None
        try:
            risks.change_status(s.session, deps.clock, project=project, risk=risk, actor=who.user_id, to=to,
                                expected=seen)
        except DomainError as err:  # nothing was changed: the list shows why, and how it is now
            problem = err
        out = _page(s, deps, project, page, include_closed)
        out.moved, out.problem = (None, problem) if problem else (risk, None)
        return out


def open_review(deps: Deps, who: Who, risk_id: int | None) -> Form:
    with plan_unit(deps, who) as s:
        s.team_only()
        risk, project = _risk_within_reach(s, risk_id)
        review = {"review": shown(risk)["review"]}
        return Form(s.lang, risk, project, _today(project, deps), edits.stamp(risk.version, review))


def set_review(deps: Deps, who: Who, *, risk_id: int | None, review: str | None,
               stamp: dict[str, Any] | None) -> Saved:
    """The review form: the next review date (unless someone else set another one meanwhile)."""
    with plan_unit(deps, who) as s:
        s.team_only()
        if risk_id is None:
            raise NotFound("common.not_found")
        risk, project = risks.get(s.session, s.unit.team_id, risk_id)
        s.use(project)
        s.active(project)
        now = {"review": shown(risk)["review"]}
        plan = edits.plan(stamp, submitted={"review": review}, current=now)
        if plan.conflicts:
            raise ValidationFailed({"review": ("risk.error_changed_meanwhile",
                                               {"value": _words(s, "review", now["review"])})})
        if plan.changes or not review or review == now["review"]:  # else: theirs stands, untouched here
            risks.set_review(s.session, deps.clock, project=project, risk=risk, actor=who.user_id, review=review)
        return Saved(s.lang, risk, project, _today(project, deps))


def list_page(deps: Deps, who: Who, *, project_id: int | None, page: int, include_closed: bool) -> Page:
    with plan_unit(deps, who) as s:
        s.team_only()
        try:
            project = s.project_by_id(project_id)
        except DomainError:
            raise NotFound("common.not_found") from None
        s.within_reach(project)
        return _page(s, deps, project, page, include_closed)
