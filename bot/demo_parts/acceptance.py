"""`pmbot demo`: milestone acceptance (验收) — a delivery awaiting the client, one accepted after
issues were fixed, the plan with its acceptance lines, and the acceptance record for invoicing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot import demo
from bot.blocks.acceptance import milestone_extras, request_message
from bot.blocks.milestones import milestone_list
from bot.blocks.text import mrkdwn
from bot.clock import Clock, FrozenClock, SystemClock
from bot.models import Acceptance, Milestone, Project
from bot.services import acceptance, milestones
from bot.services.export_acceptance import render_record
from bot.services.permissions import Decider

PM, DEV, CLIENT = "U0PM", "U0DEV", "U0CLIENT"


def _done(session: Session, clock: Clock, project: Project, name: str) -> Milestone:
    m = session.exec(select(Milestone).where(Milestone.project_id == project.id, Milestone.name == name)).first()
    if m is None:
        m = milestones.create(session, clock, project=project, actor=PM, allow_past_due=True,
                              data=milestones.MilestoneInput(name=name, due_date=(
                                  milestones.project_today(project, clock) - timedelta(days=2)).isoformat()))
    if not m.done:
        milestones.update(session, clock, project=project, milestone=m, actor=PM,
                          change=milestones.MilestoneChange(done=True))
    return m


def seed(session: Session, clock: Clock, project: Project) -> None:
    """"Design sign-off": issues reported, fixed, accepted. "Wireframes": awaiting the client."""
    past = FrozenClock(clock.now() - timedelta(days=8))
    design = _done(session, past, project, "Design sign-off")
    client = Decider(user_id=CLIENT, on_behalf_of_client=False)
    acc = acceptance.request(session, past, project=project, milestone=design, actor=PM, data=acceptance.RequestInput(
        delivery="Final designs for home, product and checkout pages (desktop and mobile).",
        link="https://figma.example.com/acme-shop"))
    past.advance(days=1, hours=3)
    acceptance.report_issues(session, past, acc=acc, project=project, decider=client, version=acc.version,
                             issues_text="- The logo on mobile is blurry\n- Checkout button colour is off-brand")
    past.advance(days=2)
    acc = acceptance.request(session, past, project=project, milestone=design, actor=DEV, data=acceptance.RequestInput(
        delivery="Both fixed: sharp mobile logo, brand-green checkout button.",
        link="https://figma.example.com/acme-shop"))
    past.advance(hours=5)
    acceptance.accept(session, past, acc=acc, project=project, decider=client, version=acc.version)
    past.advance(days=2)
    wireframes = _done(session, past, project, "Wireframes")
    acceptance.request(session, past, project=project, milestone=wireframes, actor=PM, data=acceptance.RequestInput(
        delivery="Clickable wireframes of all twelve pages."))


def _acc(session: Session, project: Project, status: str) -> tuple[Acceptance, Milestone] | None:
    row = session.exec(select(Acceptance, Milestone).join(Milestone, col(Milestone.id) == col(Acceptance.milestone_id))
                       .where(Acceptance.project_id == project.id, Acceptance.status == status)).first()
    return (row[0], row[1]) if row else None


def awaiting_section(session: Session, project: Project) -> list[dict[str, Any]]:
    found = _acc(session, project, "requested")
    if found is None:
        return []
    acc, m = found
    return request_message(acc, m, project, acceptance.issues_of(session, acc.id or 0),
                           auto_at=acceptance.auto_accept_on(project, acc))["blocks"]


def plan_section(session: Session, project: Project) -> list[dict[str, Any]]:
    """`/milestone list` as the team sees it: each done milestone's acceptance and its buttons."""
    today = milestones.project_today(project, SystemClock())
    plan = milestones.plan(session, project.id or 0, today)
    accs = acceptance.for_milestones(session, [m.id for m, _ in plan if m.id])
    extras = {m.id or 0: milestone_extras(m, accs.get(m.id or 0), acceptance.open_issues(
        session, accs[m.id].id or 0) if m.id in accs else [], project, project.language, can_act=True)
        for m, _ in plan}
    return milestone_list(project, plan, project.language, today=today, can_edit=True, pager_blocks=[],
                          extras=extras)


def record_section(session: Session, project: Project) -> list[dict[str, Any]]:
    """The acceptance record of the accepted milestone (the Markdown sent by *Acceptance record*)."""
    found = _acc(session, project, "accepted")
    if found is None:
        return []
    acc, m = found
    markdown = render_record(session, project, m, acc, now=SystemClock().now())
    return [{"type": "section", "text": mrkdwn("```" + markdown[:2900] + "```")}]


demo.SEEDERS.append(seed)
demo.SECTIONS += [
    ("A delivery awaiting the client's acceptance (client channel)", "acceptance-request", awaiting_section),
    ("Milestones with their acceptance (/milestone list)", "acceptance-plan", plan_section),
    ("Acceptance record for invoicing (Markdown, by DM)", "acceptance-record", record_section),
]
