"""Milestone use cases (team only): add, list, open the update form, update; one unit of work each.

Every function opens exactly one session scope (the project-by-channel lookup included), and
either returns what the handler shows or raises `Refused`.

The update form is stamped with the version and fields it showed (`edits.stamp`); on submit only
the fields the person changed are applied, so a stale form never moves back a due date that an
approved change request moved, nor reopens a milestone someone marked done meanwhile. A field
changed both here and meanwhile is refused next to that field, naming its current value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.deps import Deps
from bot.flows.people import is_outside_channels
from bot.flows.plan_scope import PlanScope, Who, plan_unit
from bot.models import Milestone, Project
from bot.services import acceptance, edits, milestones
from bot.services.errors import DomainError, NotFound, ValidationFailed
from bot.services.milestones import MilestoneStatus

PER_PAGE = 10
SUBCOMMANDS = ("", "list", "update")


@dataclass
class Page:
    """One page of the plan, with each milestone's status."""

    project: Project
    today: date
    items: list[tuple[Milestone, MilestoneStatus]]
    total: int
    page: int
    can_edit: bool
    # Milestone acceptance: each listed milestone's request (if any) and its open issues.
    acceptances: dict[int, Any] = field(default_factory=dict)
    open_issues: dict[int, list[Any]] = field(default_factory=dict)


@dataclass
class Start:
    """What `/milestone [sub]` shows: help, a page of the list, or a form to open."""

    lang: str
    project: Project | None = None
    today: date | None = None
    projects: list[Project] = field(default_factory=list)  # the picker, outside a project channel
    plan: list[Milestone] = field(default_factory=list)  # `/milestone update`: which one
    page: Page | None = None


@dataclass
class Form:
    """The update form of one milestone, with the stamp of what it shows."""

    lang: str
    milestone: Milestone
    stamp: dict[str, Any]


@dataclass
class Saved:
    lang: str
    milestone: Milestone
    project: Project
    became_done: bool = False


def _page(s: PlanScope, project: Project, clock, page: int) -> Page:
    today = milestones.project_today(project, clock)
    plan = milestones.plan(s.session, project.id or 0, today)
    pages = max(1, -(-len(plan) // PER_PAGE))
    page = min(max(page, 1), pages)
    items = plan[(page - 1) * PER_PAGE: page * PER_PAGE]
    accs = acceptance.for_milestones(s.session, [m.id for m, _ in items if m.id is not None])
    return Page(project=project, today=today, items=items, total=len(plan),
                page=page, can_edit=s.who.is_team and project.status == "active", acceptances=accs,
                open_issues={m_id: acceptance.open_issues(s.session, a.id or 0) for m_id, a in accs.items()
                             if a.status == "issues_reported"})


def start(deps: Deps, who: Who, sub: str) -> Start:
    """`/milestone`, `/milestone list`, `/milestone update` (and `help`, answered to anyone)."""
    with plan_unit(deps, who) as s:
        project = s.here()
        if sub == "help":
            return Start(s.lang, project)
        s.team_only()
        if sub not in SUBCOMMANDS:
            return Start(s.lang, project)
        if project is None:
            if sub == "" and is_outside_channels(who.channel_id):
                mine = s.mine()
                if not mine:
                    raise NotFound("common.no_projects_for_you")
                return Start(s.lang, projects=mine)
            raise NotFound("common.no_project_here")
        if sub == "list":
            return Start(s.lang, project, page=_page(s, project, deps.clock, 1))
        s.active(project, "permissions.project_closed")
        if sub == "update":
            plan = milestones.for_project(s.session, project.id or 0)
            if not plan:
                raise DomainError("milestones.list_empty")
            return Start(s.lang, project, plan=plan)
        return Start(s.lang, project, today=milestones.project_today(project, deps.clock))


def list_page(deps: Deps, who: Who, project_id: object, page: int) -> Page:
    """A page button of the list: only for the project of the channel it was clicked in."""
    with plan_unit(deps, who) as s:
        project = s.here()
        s.team_only()
        if project is None or project_id != project.id:
            raise NotFound("common.not_found")
        return _page(s, project, deps.clock, page)


def create(deps: Deps, who: Who, *, project_id: int | None, data: milestones.MilestoneInput,
           allow_past_due: bool) -> Saved:
    """The new-milestone form. A past due date is a warning unless `allow_past_due`."""
    with plan_unit(deps, who) as s:
        project = s.project_by_id(project_id)
        s.team_only()
        milestone = milestones.create(s.session, deps.clock, project=project, actor=who.user_id, data=data,
                                      allow_past_due=allow_past_due)
        return Saved(s.lang, milestone, project)


def shown(milestone: Milestone) -> dict[str, Any]:
    """The fields the update form shows, as the stamp records them."""
    return {"due_date": milestone.due_date.isoformat(), "progress": milestone.progress, "done": milestone.done}


def _form(s: PlanScope, milestone: Milestone) -> Form:
    return Form(s.lang, milestone, edits.stamp(milestone.version, shown(milestone)))


def _milestone(s: PlanScope, milestone_id: int | None) -> tuple[Milestone, Project]:
    """The milestone and its project (of this workspace); answers are about that project now."""
    if milestone_id is None:
        raise NotFound("common.not_found")
    milestone, project = milestones.get_in_team(s.session, s.unit.team_id, milestone_id)
    s.use(project)
    return milestone, project


def open_form(deps: Deps, who: Who, milestone_id: int | None) -> Form:
    """*Update* on a list entry (or in a reminder): the form, for a milestone within reach."""
    with plan_unit(deps, who) as s:
        milestone, project = _milestone(s, milestone_id)
        s.team_only()
        s.within_reach(project)
        return _form(s, milestone)


def pick(deps: Deps, who: Who, *, project_id: object, milestone_id: int | None) -> Form:
    """`/milestone update`, step one: the chosen milestone (of the form's project) to edit."""
    with plan_unit(deps, who) as s:
        milestone, project = _milestone(s, milestone_id)
        if project.id != project_id:
            raise NotFound("common.not_found")
        s.team_only()
        return _form(s, milestone)


def update(deps: Deps, who: Who, *, milestone_id: int | None, submitted: dict[str, Any],
           stamp: dict[str, Any] | None) -> Saved:
    """Apply what the person changed in the update form (`submitted`: the fields it sent back)."""
    with plan_unit(deps, who) as s:
        milestone, project = _milestone(s, milestone_id)
        s.team_only()
        now = shown(milestone)
        plan = edits.plan(stamp, submitted=submitted, current=now)
        if plan.conflicts:
            raise ValidationFailed({name: ("milestones.error_changed_meanwhile", {"value": _words(name, now[name])})
                                    for name in plan.conflicts})
        was_done = milestone.done
        change = plan.changes
        milestone = milestones.update(s.session, deps.clock, project=project, milestone=milestone,
                                      actor=who.user_id, change=milestones.MilestoneChange(
                                          due_date=change.get("due_date"), progress=change.get("progress"),
                                          done=change.get("done")))
        return Saved(s.lang, milestone, project, became_done=milestone.done and not was_done)


def _words(name: str, value: Any) -> str:
    """A current value as the conflict message names it (done never conflicts: one flag)."""
    return f"{value} %" if name == "progress" else str(value)
