"""Decisions the client owes: a polite nudge in the thread, then a word to the PM.

Ages are counted in working days of the project. Each nudge and escalation is sent once (its
outbox key names the item), and only within the project's working hours.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from bot.blocks.text import mention, safe
from bot.deps import Deps
from bot.flows.delivery import deliver_many
from bot.i18n import t
from bot.models import ChangeRequest, ChangeStatus, Project, ProjectStatus, Requirement, RequirementStatus
from bot.services import calendar, outbox


def _approvers(project: Project) -> str:
    names = " ".join(mention(u) for u in project.client_approver_ids or [])
    return names or t("reminders.approvers_none", project.language)


def run_nudges(deps: Deps, *, now: datetime | None = None) -> list[str]:
    """Queue and send the nudges and escalations that are due. Returns their keys."""
    now = now or deps.clock.now()
    sent: list[str] = []
    to_send: list[int] = []
    with deps.session() as session:
        projects = {p.id: p for p in session.exec(select(Project).where(Project.status == ProjectStatus.active))
                    if calendar.within_working_hours(p, now)}
        if not projects:
            return []
        waiting: list[tuple[str, Project, int, str, str | None, str | None, datetime]] = []
        for r in session.exec(select(Requirement).where(
                col(Requirement.project_id).in_(projects), Requirement.status == RequirementStatus.proposed,
                col(Requirement.confirmation_ts).is_not(None))).all():
            waiting.append(("requirement", projects[r.project_id], r.id or 0, r.title, r.confirmation_channel_id,
                            r.confirmation_ts, r.sent_for_confirmation_at or r.created_at))
        for c in session.exec(select(ChangeRequest).where(
                col(ChangeRequest.project_id).in_(projects), ChangeRequest.status == ChangeStatus.assessed,
                col(ChangeRequest.approval_ts).is_not(None))).all():
            waiting.append(("change", projects[c.project_id], c.id or 0, c.title, c.approval_channel_id,
                            c.approval_ts, c.assessed_at or c.created_at))
        for kind, p, item_id, title, channel, ts, since in waiting:
            days = calendar.working_days_between(p, since, now)
            lang = p.language
            if days >= p.nudge_after_days:
                key = f"nudge:{kind}:{item_id}"
                if outbox.exists(session, key) is None:
                    row = outbox.enqueue(session, key=key, team_id=p.team_id, kind="nudge", project_id=p.id,
                                         channel_id=channel or p.client_channel_id, now=now, payload={
                                             "text": t(f"reminders.nudge_{kind}", lang, approvers=_approvers(p),
                                                       days=days), "thread_ts": ts})
                    to_send.append(row.id or 0)
                    sent.append(key)
            if days >= p.escalate_after_days:
                key = f"escalate:{kind}:{item_id}"
                if outbox.exists(session, key) is None:
                    row = outbox.enqueue(session, key=key, team_id=p.team_id, kind="escalation", project_id=p.id,
                                         user_id=p.pm_user_id, now=now, payload={
                                             "text": t(f"reminders.escalate_{kind}", lang, title=safe(title, 200),
                                                       project=safe(p.name, 100), days=days)})
                    to_send.append(row.id or 0)
                    sent.append(key)
    deliver_many(deps, to_send)
    return sent
