"""Milestone acceptance (验收), one use case per function: the request form, requesting (again),
the client's answer (Accept / Report issues), the acceptance record's export, and the scheduler's
auto-accept.

Each use case is one unit of work (`plan_unit`): the lookup, the permission check, the service
call, the activity log and the messages it owes commit together; a refusal is `Refused`.

The delivery in the client channel is a *live message* (`TargetKind.acceptance`): posted with
`target=` and no payload, drawn by `render_request` from the record when it is sent, refreshed
by every later change; `record_request` (after-send hook) keeps where it lives. Accept and
Report issues carry the version they showed: a click on another version changes nothing and is
answered with the request as it stands now.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot.blocks.acceptance import auto_notice_message, notice_message, request_message
from bot.db import read_scope
from bot.deps import Deps
from bot.flows import outbox_keys
from bot.flows.delivery import last_error
from bot.flows.messages import Rendered
from bot.flows.outbox_keys import Kind, Target, TargetKind
from bot.flows.people import display_names
from bot.flows.plan_scope import PlanScope, Refused, Who, plan_unit
from bot.flows.unit import Unit, unit_of_work
from bot.i18n import t
from bot.models import Acceptance, AcceptanceIssue, Milestone, Outbox, Project
from bot.services import acceptance, milestones, outbox, permissions
from bot.services.errors import DomainError, InvalidTransition, NotFound
from bot.services.export_acceptance import people_of, render_record

log = logging.getLogger(__name__)
DECISIONS = ("accept", "report_issues")

__all__ = ["Refused"]


@dataclass
class Form:
    """The request form of one milestone."""

    lang: str
    milestone: Milestone
    project: Project
    again: bool
    open_issues: list[AcceptanceIssue]


@dataclass
class Shown:
    """A request after a use case, as the person who acted may now see it."""

    lang: str
    acc: Acceptance
    milestone: Milestone
    project: Project
    issues: list[AcceptanceIssue] = field(default_factory=list)
    done: str = ""  # "request", "accept", "report_issues"; "" when nothing changed
    on_behalf: bool = False
    refused: DomainError | None = None  # the request moved on: nothing changed
    outdated: bool = False  # the click showed an older version: nothing changed
    send_error: str | None = None
    auto_at: datetime | None = None  # when it will be accepted automatically


@dataclass
class Exported:
    lang: str
    milestone: Milestone
    error: str | None = None


def target_of(acc_id: int) -> str:
    return outbox_keys.target(TargetKind.acceptance, acc_id)


# The live message -------------------------------------------------------------------------------


def render_request(session: Session, target: Target) -> Rendered | None:
    """The delivery as the record stands now (registered for TargetKind.acceptance)."""
    acc = session.get(Acceptance, target.id)
    if acc is None:
        return None
    milestone, project = session.get(Milestone, acc.milestone_id), session.get(Project, acc.project_id)
    if milestone is None or project is None:
        return None
    payload = request_message(acc, milestone, project, acceptance.issues_of(session, acc.id or 0),
                              auto_at=acceptance.auto_accept_on(project, acc))
    return Rendered(channel_id=acc.message_channel_id or project.client_channel_id, payload=payload,
                    ts=acc.message_ts)


def record_request(session: Session, row: Outbox, ts: str | None) -> None:
    """After-send hook of the post: keep where the request lives (the first post of a round wins)."""
    target = outbox_keys.parse_target(row.target)
    acc = session.get(Acceptance, target.id) if target is not None else None
    if acc is None or not ts or row.channel_id is None or acc.message_ts:
        return
    acceptance.set_message(session, acc, channel_id=row.channel_id, ts=ts)


# Shared steps -----------------------------------------------------------------------------------


def _milestone(s: PlanScope, milestone_id: int | None) -> tuple[Milestone, Project]:
    """A milestone of this workspace, for the team, of a project within the person's reach (a
    click in that project's channel; a DM or a form: one of its channels is theirs)."""
    if milestone_id is None:
        raise NotFound("common.not_found")
    milestone, project = milestones.get_in_team(s.session, s.unit.team_id, milestone_id)
    s.use(project)
    s.team_only()
    s.within_reach(project)
    return milestone, project


def _request(s: PlanScope, acc_id: int | None) -> tuple[Acceptance, Milestone, Project]:
    if acc_id is None:
        raise NotFound("common.not_found")
    acc, milestone, project = acceptance.get_in_team(s.session, s.unit.team_id, acc_id)
    s.use(project)
    s.within_reach(project)
    return acc, milestone, project


def _shown(s: PlanScope, acc: Acceptance, milestone: Milestone, project: Project, **kw) -> Shown:
    return Shown(lang=s.lang, acc=acc, milestone=milestone, project=project,
                 issues=acceptance.issues_of(s.session, acc.id or 0), auto_at=acceptance.auto_accept_on(project, acc),
                 **kw)


def _notice(u: Unit, acc: Acceptance, milestone: Milestone, project: Project) -> None:
    """Tell the team of the client's answer in the internal channel (when there is one)."""
    if project.internal_channel_id:
        u.owe(key=outbox_keys.acc_notice(acc.id or 0, acc.version), kind=Kind.acc_notice, project=project,
              channel_id=project.internal_channel_id,
              payload=notice_message(acc, milestone, project, acceptance.issues_of(u.session, acc.id or 0)))


# The team's side --------------------------------------------------------------------------------


def open_request(deps: Deps, who: Who, milestone_id: int | None) -> Form:
    """*Request acceptance* (again): the form, for a done milestone within reach."""
    with plan_unit(deps, who) as s:
        milestone, project = _milestone(s, milestone_id)
        s.active(project, "permissions.project_closed")
        acc = acceptance.for_milestone(s.session, milestone.id or 0)
        if not acceptance.can_request(milestone, acc):
            if not milestone.done:
                raise InvalidTransition("acceptance.error_not_done", name=milestone.name)
            assert acc is not None
            raise InvalidTransition(f"acceptance.error_now_{acc.status}")
        return Form(s.lang, milestone, project, again=acc is not None,
                    open_issues=acceptance.open_issues(s.session, acc.id or 0) if acc else [])


def request(deps: Deps, who: Who, *, milestone_id: int | None, delivery: str, link: str) -> Shown:
    """The form submitted: the request is recorded and the delivery owed to the client channel
    in the same transaction (drawn from the record when it is posted)."""
    with plan_unit(deps, who) as s:
        milestone, project = _milestone(s, milestone_id)
        acc = acceptance.request(s.session, deps.clock, project=project, milestone=milestone, actor=who.user_id,
                                 data=acceptance.RequestInput(delivery=delivery, link=link))
        target = target_of(acc.id or 0)
        outbox.skip_pending_posts(s.session, target, now=s.unit.now)  # an earlier round never posted
        row = s.unit.owe(key=outbox_keys.acc_request(acc.id or 0, acc.round), kind=Kind.acc_request,
                         project=project, channel_id=project.client_channel_id, target=target)
        shown = _shown(s, acc, milestone, project, done="request")
    shown.send_error = last_error(deps, row.id or 0)
    return shown


# The client's side --------------------------------------------------------------------------------


def _check(s: PlanScope, who: Who, acc: Acceptance, milestone: Milestone, project: Project,
           version: int | None) -> tuple[permissions.Decider | None, Shown | None]:
    """Who decides, or why nothing is decided: not awaiting any more, or an older version
    (then the live message is refreshed and the current text shown)."""
    decider = permissions.client_decider(project, who.user_id, client_side=not who.is_team)
    if not acceptance.is_awaiting(acc):
        return None, _shown(s, acc, milestone, project, refused=InvalidTransition(f"acceptance.error_now_{acc.status}"))
    if version != acc.version:
        s.unit.refresh(target_of(acc.id or 0), project)
        return None, _shown(s, acc, milestone, project, outdated=True)
    return decider, None


def open_issues_form(deps: Deps, who: Who, acc_id: int | None, version: int | None) -> Shown:
    """*Report issues*: the form, for the version the button showed."""
    with plan_unit(deps, who) as s:
        acc, milestone, project = _request(s, acc_id)
        _, refused = _check(s, who, acc, milestone, project, version)
        return refused or _shown(s, acc, milestone, project)


def decide(deps: Deps, who: Who, decision: str, acc_id: int | None, version: int | None, *,
           issues_text: str = "", from_form: bool = False) -> Shown:
    """Accept, or report issues, on the version the decider was shown. Only the client's
    approvers decide (the PM, or a team member listed as an approver, on the client's behalf,
    recorded so); anyone else is refused and nothing changes."""
    assert decision in DECISIONS
    with plan_unit(deps, who) as s:
        s.unit.after_the_answer()  # the answer says what was recorded: it goes before the message's update
        if from_form:  # the form was opened from a checked button; who decides is checked again
            if acc_id is None:
                raise NotFound("common.not_found")
            acc, milestone, project = acceptance.get_in_team(s.session, s.unit.team_id, acc_id)
            s.use(project)
        else:
            acc, milestone, project = _request(s, acc_id)
        decider, refused = _check(s, who, acc, milestone, project, version)
        if decider is None:
            assert refused is not None
            return refused
        try:
            if decision == "accept":
                acceptance.accept(s.session, deps.clock, acc=acc, project=project, decider=decider, version=version)
            else:
                acceptance.report_issues(s.session, deps.clock, acc=acc, project=project, decider=decider,
                                         issues_text=issues_text, version=version)
        except acceptance.Outdated:
            s.unit.refresh(target_of(acc.id or 0), project)
            return _shown(s, acc, milestone, project, outdated=True)
        except InvalidTransition as err:
            return _shown(s, acc, milestone, project, refused=err)
        s.unit.refresh(target_of(acc.id or 0), project)
        _notice(s.unit, acc, milestone, project)
        return _shown(s, acc, milestone, project, done=decision, on_behalf=decider.on_behalf_of_client)


# The record, for invoicing --------------------------------------------------------------------------


def export(deps: Deps, who: Who, milestone_id: int | None) -> Exported:
    """The milestone's acceptance record as Markdown (delivery, who accepted and when, the
    issues raised and resolved, every step from the log), sent to the person by DM."""
    with plan_unit(deps, who) as s:
        milestone, project = _milestone(s, milestone_id)
        acc = acceptance.for_milestone(s.session, milestone.id or 0)
        if acc is None:
            raise InvalidTransition("acceptance.error_never_requested", name=milestone.name)
        user_ids = people_of(s.session, milestone, acc)
        lang, now = s.lang, s.unit.now  # the DM is the asker's alone
    names = display_names(deps, set(user_ids))  # Slack, between the transactions
    with read_scope(deps.engine) as session:
        markdown = render_record(session, project, milestone, acc, now=now, names=names)
    slug = re.sub(r"[^\w-]+", "-", milestone.name, flags=re.UNICODE).strip("-").lower()[:60] or f"m{milestone.id}"
    try:
        dm = deps.client.conversations_open(users=who.user_id)["channel"]["id"]
        deps.client.files_upload_v2(
            channel=dm, initial_comment=t("acceptance.export_comment", lang, name=milestone.name[:200]),
            file_uploads=[{"content": markdown.encode("utf-8"), "filename": f"acceptance-{slug}.md",
                           "title": t("acceptance.export_title", lang, name=milestone.name[:200])}])
    except SlackApiError as err:
        log.warning("acceptance export upload for %s failed: %s", who.user_id, err.response.get("error"))
        return Exported(lang, milestone, error=str(err.response.get("error") or "error"))
    return Exported(lang, milestone)


# Auto-accept (the scheduler's tick) ------------------------------------------------------------------


def run_due(deps: Deps, *, now: datetime | None = None) -> list[tuple[int, str]]:
    """Requests unanswered for the project's number of working days are accepted (once: a
    conditional UPDATE); one working day before, their thread says so (once: the outbox key).
    Only inside each project's working hours. Returns (acceptance id, "warned" | "accepted")."""
    now = now or deps.clock.now()
    with unit_of_work(deps, deliver=False) as u:
        due = [(acc.id or 0, what) for acc, _project, what in acceptance.due_auto(u.session, now)]
    done: list[tuple[int, str]] = []
    for acc_id, what in due:
        try:
            with unit_of_work(deps) as u:
                acc = u.session.get(Acceptance, acc_id)
                project = u.session.get(Project, acc.project_id) if acc else None
                milestone = u.session.get(Milestone, acc.milestone_id) if acc else None
                if acc is None or project is None or milestone is None:
                    continue
                if what == "warn":
                    when = acceptance.auto_accept_on(project, acc)
                    assert when is not None
                    payload = auto_notice_message(milestone, project, when)
                    if acc.message_ts:  # in the request's thread (in the channel if it never got posted)
                        payload["thread_ts"] = acc.message_ts
                    row = u.owe(key=outbox_keys.acc_auto_notice(acc.id or 0, acc.round), kind=Kind.acc_auto_notice,
                                project=project, channel_id=acc.message_channel_id or project.client_channel_id,
                                payload=payload)
                    if row.id in u.owed:
                        done.append((acc_id, "warned"))
                else:
                    acceptance.auto_accept(u.session, u.clock, acc=acc, project=project)
                    u.refresh(target_of(acc.id or 0), project)
                    _notice(u, acc, milestone, project)
                    done.append((acc_id, "accepted"))
        except DomainError as err:  # answered meanwhile: nothing to do
            log.info("auto-accept of %s: %s", acc_id, err.key)
    return done
