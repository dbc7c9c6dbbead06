"""`pmbot demo`: the sample project's milestones and change requests (issue 4)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot import demo
from bot.blocks.changes import ListItem, approval_message, change_list
from bot.blocks.milestones import milestone_list
from bot.blocks.text import mention
from bot.clock import Clock, FrozenClock, SystemClock
from bot.models import ChangeRequest, Milestone, Project, Requirement
from bot.services import changes, milestones
from bot.services.permissions import Decider

PM, DEV, CLIENT = "U0PM", "U0DEV", "U0CLIENT"


def _milestone(session: Session, clock: Clock, project: Project, name: str, due_in: int, progress: int,
               age_days: int) -> Milestone:
    due = milestones.project_today(project, clock) + timedelta(days=due_in)
    m = milestones.create(session, clock, project=project, actor=PM, allow_past_due=True,
                          data=milestones.MilestoneInput(name=name, due_date=due.isoformat(), progress=str(progress)))
    m.created_at = clock.now() - timedelta(days=age_days)
    session.add(m)
    session.flush()
    return m


def seed(session: Session, clock: Clock, project: Project) -> None:
    """Five milestones (every status) and four change requests at different stages."""
    # History reads better when things happened over the last two weeks, not all at once.
    past = FrozenClock(clock.now() - timedelta(days=14))
    design = _milestone(session, past, project, "Design sign-off", 2, 90, 30)
    migration = _milestone(session, past, project, "Content migration", 12, 50, 20)
    beta = _milestone(session, past, project, "Beta release", 19, 20, 30)
    payments = _milestone(session, past, project, "Payment integration", 25, 10, 10)
    _milestone(session, past, project, "Go live", 60, 0, 5)
    past.advance(days=3)
    milestones.update(session, past, project=project, milestone=design, actor=PM,
                      change=milestones.MilestoneChange(done=True))
    requirement = session.exec(select(Requirement).where(Requirement.project_id == project.id)
                               .order_by(col(Requirement.id))).first()
    req_ids = [requirement.id] if requirement and requirement.id else []

    def request(title: str, actor: str, ms: list[Milestone], **text: str) -> ChangeRequest:
        past.advance(hours=20)
        return changes.submit(session, past, project=project, actor=actor, by_client=actor == CLIENT,
                              data=changes.ChangeInput(title=title, requirement_ids=req_ids,
                                                       milestone_ids=[m.id for m in ms if m.id], **text))

    def assess(cr: ChangeRequest, days: str, hours: str, cost: str = "", share: bool = False,
               ms: list[Milestone] | None = None, note: str = "") -> None:
        past.advance(hours=26)
        changes.assess(session, past, cr=cr, project=project, actor=DEV, data=changes.AssessmentInput(
            schedule_impact_days=days, effort_hours=hours, cost_amount=cost, cost_currency="EUR" if cost else "",
            share_cost_with_client=share, milestone_ids=[m.id for m in (ms or []) if m.id], recommendation=note))

    paypal = request("Add PayPal at checkout", CLIENT, [payments],
                     description="Offer PayPal next to card payments.", reason="A third of our customers ask for it.")
    assess(paypal, "5", "24", "1800", share=True, ms=[payments], note="Worth it before the launch.")
    past.advance(hours=30)
    changes.decide(session, past, cr_id=paypal.id or 0, project=project,
                   decider=Decider(user_id=CLIENT, on_behalf_of_client=False), approve=True)
    popup = request("Newsletter pop-up on every page", CLIENT, [], reason="Grow the mailing list.")
    assess(popup, "2", "10", note="Hurts conversion; we suggest a footer sign-up instead.")
    past.advance(hours=5)
    changes.decide(session, past, cr_id=popup.id or 0, project=project,
                   decider=Decider(user_id=PM, on_behalf_of_client=True), approve=False,
                   reason="Agreed on the call: a footer sign-up instead.")
    languages = request("Product pages in German and French", CLIENT, [migration],
                        description="Translate product pages; the client supplies the texts.")
    assess(languages, "10", "60", "4200", ms=[migration, beta], note="Feasible; it moves the migration by two weeks.")
    request("Dark mode for the shop", DEV, [beta], reason="Requested in user testing.")


def _today(project: Project) -> Any:
    return milestones.project_today(project, SystemClock())


def milestones_section(session: Session, project: Project) -> list[dict[str, Any]]:
    today = _today(project)
    plan = milestones.plan(session, project.id or 0, today)
    return milestone_list(project, plan, project.language, today=today, can_edit=True, pager_blocks=[])


def changes_section(session: Session, project: Project) -> list[dict[str, Any]]:
    """`/change list` as the PM sees it (Assess / Approve on behalf / Mark implemented)."""
    rows, _total = changes.list_for_project(session, project.id or 0, per_page=10)
    ids = [c.id for c in rows if c.id is not None]
    logs = changes.history(session, ids)
    ms, _ = changes.affected(session, ids)
    names = {m.id: m.name for group in ms.values() for m in group if m.id is not None}
    items = [ListItem(cr=c, history=logs.get(c.id or 0, []), milestone_names=names,
                      actions=changes.actions_for(c, user_id=PM, is_team=True, can_decide=True)) for c in rows]
    return change_list(project, items, project.language, to_client=False, status=None, pager_blocks=[],
                       who=lambda u: mention(u) or "-")


def approval_section(session: Session, project: Project) -> list[dict[str, Any]]:
    """The request waiting for the client, as posted in the client channel (no internal cost)."""
    cr = session.exec(select(ChangeRequest).where(ChangeRequest.project_id == project.id,
                                                  ChangeRequest.status == "assessed")).first()
    if cr is None or cr.id is None:
        return []
    ms, reqs = changes.affected(session, [cr.id])
    return approval_message(cr, project, project.language, milestones=ms[cr.id], requirements=reqs[cr.id])["blocks"]


demo.SEEDERS.append(seed)
demo.SECTIONS += [
    ("Milestones (/milestone list)", "milestones", milestones_section),
    ("Change requests (/change list, as the PM sees them)", "changes", changes_section),
    ("A change request awaiting the client's decision (client channel)", "change-approval", approval_section),
]
