"""A small but complete world for the hostile-input and authorization tests.

Project A is the ordinary project of the suite (client channel C0CLIENT, internal C0INTERNAL, PM
U0PM, client approver U0CLIENT). Project B lives in other channels of the same workspace, with
its own PM and approver, and none of the suite's people in its channels. Project X belongs to
another workspace that shares the database. Each holds one item in every state a button acts on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from bot.clock import Clock
from bot.db import session_scope
from bot.models import Milestone, Project
from bot.services import calendar, changes, client_items, feedback, milestones, projects, requirements, risks
from bot.services.permissions import Decider

# Project B: same workspace, channels none of the suite's people belong to.
B_CLIENT_CHANNEL = "C0BCLIENT"
B_INTERNAL_CHANNEL = "C0BINTERNAL"
B_PM = "U0PMB"
B_CLIENT = "U0CLIENTB"
# Project X: another workspace (a second installation sharing the database).
X_TEAM = "T0XWS"
X_CLIENT_CHANNEL = "C0XCLIENT"
X_PM = "U0PMX"
X_CLIENT = "U0CLIENTX"
SECRET = b"hostile-tests"


@dataclass
class Items:
    """The ids of one project's items, by the state they are in."""

    project: int
    week: str
    req: dict[str, int] = field(default_factory=dict)  # proposed, awaiting, confirmed, changes, deferred
    cr: dict[str, int] = field(default_factory=dict)  # submitted, assessed, approved
    milestone: dict[str, int] = field(default_factory=dict)  # open, done
    risk: dict[str, int] = field(default_factory=dict)  # open, mitigated
    prompt: int = 0
    follow_up: int = 0
    client_item: dict[str, int] = field(default_factory=dict)  # open, done (issue 15)
    # Milestone acceptance: requests by state (requested, issues_reported), and their milestones
    acc: dict[str, int] = field(default_factory=dict)
    acc_milestone: dict[str, int] = field(default_factory=dict)


def make_req(session: Any, clock: Clock, project: Project, state: str, *, tag: str, client: str, pm: str,
             dev: str) -> int:
    """A requirement in `state`: proposed, awaiting (sent for confirmation), confirmed, changes
    (changes requested) or deferred."""
    as_client = Decider(user_id=client, on_behalf_of_client=False)
    r = requirements.create(session, clock, project=project, actor=dev, raised_by_client=False,
                            data=requirements.RequirementInput(title=f"{tag} requirement {state}",
                                                               description="As agreed."))
    if state in ("awaiting", "confirmed", "changes"):
        requirements.send_for_confirmation(session, clock, req=r, project=project, actor=pm)
    if state == "confirmed":
        requirements.confirm(session, clock, req=r, project=project, decider=as_client)
    elif state == "changes":
        requirements.request_changes(session, clock, req=r, project=project, decider=as_client,
                                     comment="Please keep the receipt.")
    elif state == "deferred":
        requirements.defer(session, clock, req=r, project=project, actor=pm)
    return r.id or 0


def make_milestone(session: Any, clock: Clock, project: Project, state: str, *, tag: str, pm: str) -> int:
    today = milestones.project_today(project, clock)
    m = milestones.create(session, clock, project=project, actor=pm, data=milestones.MilestoneInput(
        name=f"{tag} milestone {state}", due_date=(today + timedelta(days=20)).isoformat(), progress="30"))
    if state == "done":
        milestones.update(session, clock, project=project, milestone=m, actor=pm,
                          change=milestones.MilestoneChange(done=True))
    return m.id or 0


def make_cr(session: Any, clock: Clock, project: Project, state: str, *, tag: str, client: str, dev: str,
            milestone: int | None = None) -> int:
    """A change request raised by the client: submitted, assessed or approved."""
    cr = changes.submit(session, clock, project=project, actor=client, by_client=True,
                        data=changes.ChangeInput(title=f"{tag} change {state}", reason="Customers ask for it."))
    if state in ("assessed", "approved"):
        changes.assess(session, clock, cr=cr, project=project, actor=dev, data=changes.AssessmentInput(
            schedule_impact_days="3", effort_hours="16", milestone_ids=[milestone] if milestone else []))
    if state == "approved":
        changes.decide(session, clock, cr_id=cr.id or 0, project=project,
                       decider=Decider(user_id=client, on_behalf_of_client=False), approve=True)
    return cr.id or 0


def make_risk(session: Any, clock: Clock, project: Project, state: str, *, tag: str, pm: str) -> int:
    r = risks.create(session, clock, project=project, actor=pm, data=risks.RiskInput(
        title=f"{tag} risk {state}", owner_user_id=pm, probability=3, impact=4))
    if state == "mitigated":
        risks.change_status(session, clock, project=project, risk=r, actor=pm, to="mitigated")
    return r.id or 0


def make_follow_up(session: Any, clock: Clock, project: Project, *, tag: str, client: str, pm: str
                   ) -> tuple[int, int]:
    """A prompt, and the open follow-up of a poor score to it: (prompt id, follow-up id)."""
    prompt = feedback.create_prompt(session, clock, project=project, actor=pm, question=f"{tag}: how are we doing?")
    recorded = feedback.record_score(session, clock, prompt=prompt, project=project, user_id=client, score=2,
                                     secret=SECRET)
    return prompt.id or 0, recorded.follow_up.id if recorded.follow_up and recorded.follow_up.id else 0


def make_client_item(session: Any, clock: Clock, project: Project, state: str, *, tag: str, client: str,
                     pm: str) -> int:
    """A client item owned by the client, due in five days: open or done (issue 15)."""
    due = calendar.today(project, clock.now()) + timedelta(days=5)
    item = client_items.create(session, clock, project=project, actor=pm, owners=None, data=client_items.ItemInput(
        title=f"{tag} client item {state}", owner_user_id=client, due_date=due.isoformat()))
    if state == "done":
        client_items.mark_done(session, clock, item=item, project=project,
                               decider=Decider(user_id=client, on_behalf_of_client=False))
    return item.id or 0
# Milestone acceptance ------------------------------------------------------------------------


def make_acceptance(session: Any, clock: Clock, project: Project, state: str, *, tag: str, pm: str, client: str
                    ) -> tuple[int, int]:
    """A done milestone sent for acceptance, `requested` or `issues_reported`: (request id,
    milestone id)."""
    from bot.services import acceptance

    milestone_id = make_milestone(session, clock, project, "done", tag=f"{tag} delivered", pm=pm)
    acc = acceptance.request(session, clock, project=project, milestone=session.get(Milestone, milestone_id),
                             actor=pm, data=acceptance.RequestInput(delivery=f"{tag} delivery {state}"))
    if state == "issues_reported":
        acceptance.report_issues(session, clock, acc=acc, project=project, issues_text="The logo is blurry",
                                 decider=Decider(user_id=client, on_behalf_of_client=False), version=acc.version)
    return acc.id or 0, milestone_id


def populate(session: Any, clock: Clock, project: Project, *, client: str, pm: str, dev: str) -> Items:
    """One item in every state the buttons act on (services straight, no Slack). Titles start
    with the project's first word, so a test can tell whose data a reply shows."""
    tag = project.name.split()[0]
    pid = project.id or 0
    week = calendar.week_key(calendar.week_start(calendar.today(project, clock.now())))
    items = Items(project=pid, week=week)
    for state in ("proposed", "awaiting", "confirmed", "changes", "deferred"):
        items.req[state] = make_req(session, clock, project, state, tag=tag, client=client, pm=pm, dev=dev)
    for state in ("open", "done"):
        items.milestone[state] = make_milestone(session, clock, project, state, tag=tag, pm=pm)
    for state in ("submitted", "assessed", "approved", "withdrawable"):
        items.cr[state] = make_cr(session, clock, project, state, tag=tag, client=client, dev=dev,
                                  milestone=items.milestone["open"])
    for state in ("open", "mitigated"):
        items.risk[state] = make_risk(session, clock, project, state, tag=tag, pm=pm)
    items.prompt, items.follow_up = make_follow_up(session, clock, project, tag=tag, client=client, pm=pm)
    for state in ("open", "done"):  # client items (issue 15)
        items.client_item[state] = make_client_item(session, clock, project, state, tag=tag, client=client, pm=pm)
    for state in ("requested", "issues_reported"):  # milestone acceptance
        items.acc[state], items.acc_milestone[state] = make_acceptance(session, clock, project, state, tag=tag,
                                                                       pm=pm, client=client)
    return items


@dataclass
class World:
    a: Items
    b: Items
    x: Items
    # capture from the conversation (issue 14): the fake Slack, so a payload can name a real message
    fake: Any = None

    def seed_message(self, channel: str, text: str, user: str = "U0CLIENT") -> str:
        """A person's message in `channel` (its ts); a made-up ts without a fake."""
        if self.fake is None:
            return "1700000000.000200"
        return self.fake.add_message(channel, text, user=user, team="T0EXT")


def build_world(engine: Engine, clock: Clock, make_project: Any) -> World:
    """Projects A, B (same workspace) and X (another workspace), each fully populated."""
    a_project = make_project()
    b_project = make_project("Beta Portal", client_channel_id=B_CLIENT_CHANNEL,
                             internal_channel_id=B_INTERNAL_CHANNEL, pm_user_id=B_PM, client_approver_ids=[B_CLIENT])
    with session_scope(engine) as s:
        x_project = projects.create(s, clock, team_id=X_TEAM, enterprise_id=None, actor=X_PM,
                                    data=projects.ProjectInput(
                                        name="Xeno Shop", client_name="Xeno Inc.", client_channel_id=X_CLIENT_CHANNEL,
                                        internal_channel_id=None, pm_user_id=X_PM, client_approver_ids=[X_CLIENT],
                                        timezone="UTC", language="en"))
    with session_scope(engine) as s:
        a = populate(s, clock, s.get(Project, a_project.id), client="U0CLIENT", pm="U0PM", dev="U0DEV")
        b = populate(s, clock, s.get(Project, b_project.id), client=B_CLIENT, pm=B_PM, dev=B_PM)
        x = populate(s, clock, s.get(Project, x_project.id), client=X_CLIENT, pm=X_PM, dev=X_PM)
    return World(a=a, b=b, x=x)
