"""Report use cases: the monthly report job and closing a project with its close-out report.

**Monthly report, exactly once per month.** Each report is an outbox row whose key names the
project, the month and the audience (`outbox_keys.monthly_report`): creating it is an atomic
insert and sending it an atomic claim, like the weekly digest, so restarts, crashes, downtime
and several processes never give zero or two reports. The scheduler's tick asks
`services.reports.due_month` what is due: the month's first working day (the project's
calendar: weekends, public holidays, closures), from the start of its working hours. A report
the bot missed (down on that day) is caught up during the month, in working hours. The
client-safe version goes to the client channel, the full one to the internal channel when the
project has one.

**Close-out.** `/project close` asks in a modal, with the PM's optional retrospective note. One
unit of work closes the project, keeps the note, and owes the close-out report (to the internal
channel; to the PM by DM when the project has none, as the report shows cost and internal
notes and never goes to the client channel) and the final satisfaction prompt in the client
channel, posted once (`outbox_keys.closeout_prompt`) whatever the feedback cooldown, with
"What should we do better next time?" as its comment. A project closes once, so the report and
the prompt are owed once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select

from bot.blocks.reports import closeout_message, monthly_message
from bot.deps import Deps
from bot.flows import outbox_keys
from bot.flows import projects as project_flows
from bot.flows.delivery import deliver_many
from bot.flows.outbox_keys import Kind, TargetKind
from bot.flows.unit import Unit, unit_of_work
from bot.i18n import t
from bot.models import CLOSEOUT_TRIGGER, Outbox, Project, ProjectStatus
from bot.services import calendar, feedback, outbox, projects, reports
from bot.services.errors import NotFound

log = logging.getLogger(__name__)


# The monthly report -----------------------------------------------------------------------------


@dataclass
class MonthlyRun:
    """What a run did: for the CLI, the scheduler's log and the tests."""

    posted: list[tuple[str, str]] = field(default_factory=list)  # (project name, month)
    resumed: list[str] = field(default_factory=list)  # keys an earlier run queued but did not send


def _owe_monthly(u: Unit, project: Project, facts: reports.MonthlyFacts) -> list[int]:
    assert project.id is not None
    rows = [u.owe(key=outbox_keys.monthly_report(project.id, facts.month), kind=Kind.monthly_report,
                  project=project, channel_id=project.client_channel_id,
                  payload=monthly_message(facts, internal=False), deliver=False)]
    internal = projects.internal_channel(u.session, project)
    if internal:
        rows.append(u.owe(key=outbox_keys.monthly_report(project.id, facts.month, "internal"),
                          kind=Kind.monthly_report, project=project, channel_id=internal,
                          payload=monthly_message(facts, internal=True), deliver=False))
    return [r.id for r in rows if r.id is not None and r.status == "pending"]


def run_monthly(deps: Deps, *, now: datetime | None = None, among: Collection[int] | None = None) -> MonthlyRun:
    """Post every monthly report that is due and not yet posted (of the projects `among`, when
    given: the scheduler's tick passes those inside their working hours)."""
    run = MonthlyRun()
    to_send: list[int] = []
    with unit_of_work(deps, deliver=False) as u:
        now = now or u.now
        active = u.session.exec(calendar.among(select(Project).where(Project.status == ProjectStatus.active,
                                                                     col(Project.monthly_report).is_(True)), among)
                                .order_by(col(Project.id))).all()
        due = [(p, month) for p in active if (found := reports.due_month(p, now)) is not None
               for month in [found[0]]]
        keys = [outbox_keys.monthly_report(p.id or 0, m, audience) for p, m in due for audience in reports.AUDIENCES]
        existing = set(u.session.exec(select(Outbox.key).where(col(Outbox.key).in_(keys))).all()) if keys else set()
        resumed = outbox.unsent(u.session, keys=[k for k in keys if k in existing])
        to_send.extend(resumed)
        run.resumed = [r.key for r in (u.session.get(Outbox, i) for i in resumed) if r is not None]
        for p, month in due:
            if outbox_keys.monthly_report(p.id or 0, month) in existing:
                continue
            to_send.extend(_owe_monthly(u, p, reports.monthly(u.session, p, month)))
            run.posted.append((p.name, month))
    deliver_many(deps, to_send)
    return run


# Closing a project ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CloseForm:
    project: Project
    where: str  # where the close-out report will go, in the project's language


def _where(project: Project, internal: str | None) -> str:
    if internal:
        return t("reports.where_internal", project.language, channel=f"<#{internal}>")
    return t("reports.where_dm", project.language)


def close_form(deps: Deps, channel_id: str | None) -> CloseForm | None:
    """The project of the channel and where its close-out report will go (None: no project)."""
    with unit_of_work(deps) as u:
        project = projects.for_channel(u.session, u.team_id, channel_id)
        if project is None:
            return None
        return CloseForm(project, _where(project, projects.internal_channel(u.session, project)))


@dataclass(frozen=True)
class Closed:
    project: Project
    where: str
    report_id: int | None


def close(deps: Deps, *, user_id: str, project_id: int, channel_id: str | None, went_well: str = "",
          to_improve: str = "") -> Closed:
    """Close the project with the PM's retrospective note; owe the close-out report and the
    final satisfaction prompt. NotFound when out of reach; InvalidTransition when already closed."""
    user_channels = project_flows.reach(deps, user_id, channel_id)
    with unit_of_work(deps) as u:
        project = projects.get(u.session, u.team_id, project_id)
        if not project_flows.within_reach(u.session, u.team_id, project, channel_id, user_channels):
            raise NotFound("common.not_found")
        assert project.id is not None
        # The final prompt is created while the project is still active (prompts belong to one).
        prompt = None
        if project.status == ProjectStatus.active:
            prompt = feedback.create_prompt(u.session, u.clock, project=project, actor=user_id,
                                            trigger=CLOSEOUT_TRIGGER,
                                            question=t("reports.final_question", project.language,
                                                       name=project.name))
        projects.close(u.session, u.clock, project=project, actor=user_id)
        reports.save_retrospective(u.session, project, went_well=went_well, to_improve=to_improve)
        u.session.flush()
        internal = projects.internal_channel(u.session, project)
        payload = closeout_message(reports.closeout(u.session, project))
        report = u.owe(key=outbox_keys.closeout(project.id), kind=Kind.closeout, project=project,
                       channel_id=internal, user_id=None if internal else project.pm_user_id, payload=payload)
        if prompt is not None and prompt.id is not None:
            u.owe(key=outbox_keys.closeout_prompt(project.id), kind=Kind.feedback_prompt, project=project,
                  channel_id=project.client_channel_id, target=outbox_keys.target(TargetKind.prompt, prompt.id))
        if project.intake_message_ts:
            u.refresh(outbox_keys.target(TargetKind.intake, project.id), project)
        return Closed(project, _where(project, internal), report.id)


def closeout_facts(deps: Deps, project_id: int) -> reports.CloseoutFacts:
    with unit_of_work(deps) as u:
        project = u.session.get(Project, project_id)
        if project is None:
            raise NotFound("common.not_found")
        return reports.closeout(u.session, project)

