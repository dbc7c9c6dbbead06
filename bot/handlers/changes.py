"""`/change`: request, assess, decide, withdraw, implement, list and export change requests."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot.blocks import ids
from bot.blocks.changes import (
    ListItem,
    approval_message,
    assess_modal,
    change_list,
    change_modal,
    decision_line,
    ref,
    reject_modal,
    submitted_ack,
    team_notice,
)
from bot.blocks.common import PROJECT_PICKER_BLOCK
from bot.blocks.pagination import page_count, page_state, pager
from bot.blocks.text import channel_link, mention, safe
from bot.deps import Deps
from bot.flows.delivery import deliver
from bot.handlers.common import (
    Actor,
    actor_of,
    as_id,
    channel_of,
    deps_of,
    language_for,
    message,
    metadata,
    project_of_channel,
    projects_of_user,
    refusal,
    selected_value,
    selected_values,
    tell,
    text_value,
    view_errors,
    view_values,
)
from bot.handlers.plan_common import (
    channel_language,
    check_request_channel,
    explain,
    from_slash_text,
    int_values,
    is_outside_channels,
)
from bot.i18n import t
from bot.models import ChangeRequest, ChangeStatus, Outbox, Project, Requirement
from bot.services import changes, export_changes, milestones, outbox, permissions, projects
from bot.services.errors import DomainError, Forbidden, NotFound, ValidationFailed

log = logging.getLogger(__name__)

PER_PAGE = 10
STATUSES = [s.value for s in ChangeStatus]
REQUEST_FIELDS = {
    "title": ids.CHANGE_BLOCK_TITLE,
    "description": ids.CHANGE_BLOCK_DESCRIPTION,
    "reason": ids.CHANGE_BLOCK_REASON,
}
ASSESS_FIELDS = {
    "schedule_impact_days": ids.CHANGE_BLOCK_SCHEDULE,
    "effort_hours": ids.CHANGE_BLOCK_EFFORT,
    "cost_amount": ids.CHANGE_BLOCK_COST_AMOUNT,
    "cost_currency": ids.CHANGE_BLOCK_COST_CURRENCY,
    "share_cost": ids.CHANGE_BLOCK_SHARE_COST,
    "recommendation": ids.CHANGE_BLOCK_RECOMMENDATION,
}


def register(app: App) -> None:
    app.command("/change")(change_command)
    app.view(ids.CHANGE_MODAL)(submit_request)
    app.view(ids.CHANGE_ASSESS_MODAL)(submit_assessment)
    app.view(ids.CHANGE_REJECT_MODAL)(submit_rejection)
    app.action(ids.INTAKE_CHANGE_REQUEST)(intake_clicked)
    app.action(ids.CHANGE_ASSESS)(assess_clicked)
    app.action(ids.CHANGE_APPROVE)(approve_clicked)
    app.action(ids.CHANGE_REJECT)(reject_clicked)
    app.action(ids.CHANGE_IMPLEMENTED)(implemented_clicked)
    app.action(ids.CHANGE_WITHDRAW)(withdraw_clicked)
    app.action(re.compile(f"^{ids.CHANGE_LIST_PAGE}:(prev|next)$"))(list_page_clicked)


# The command -------------------------------------------------------------------------------


def change_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    channel_id = channel_of(body)
    project = project_of_channel(deps, channel_id)
    lang = language_for(actor, project)
    raw = " ".join((body.get("text") or "").split())
    words = raw.split(" ") if raw else []
    text = from_slash_text(raw)
    sub = words[0].lower() if words else ""

    if sub == "help":
        ack(message(t("changes.help", lang)))
        return
    if sub == "list":
        if project is None:
            ack(refusal("common.no_project_here", lang))
            return
        arg = words[1].lower() if len(words) > 1 else None
        if arg == "export":
            ack(message(t("changes.export_started", lang)))
            _export(deps, actor, project, respond)
            return
        if arg is not None and arg not in STATUSES:
            ack(message(t("changes.unknown_status", lang, status=safe(arg, 30), statuses=", ".join(STATUSES))))
            return
        ack()
        respond(**_list_message(deps, actor, project, status=arg, page=1))
        return
    if project is None:
        if not is_outside_channels(channel_id):
            ack(refusal("common.no_project_here", lang))
            return
        ack()
        mine = projects_of_user(deps, actor.user_id)
        if not mine:
            respond(**refusal("common.no_projects_for_you", lang))
            return
        view = change_modal(lang, title=text[: changes.TITLE_MAX], projects=mine,
                            metadata={"project_id": None, "origin_channel": channel_id})
        deps.client.views_open(trigger_id=body["trigger_id"], view=view)
        return
    if project.status != "active":
        ack(refusal("permissions.project_closed", lang))
        return
    if not text:
        ack()
        _open_request_modal(deps, body, project, channel_id)
        return
    _quick_request(ack, deps, actor, project, channel_id, text)


def _open_request_modal(deps: Deps, body: dict[str, Any], project: Project, channel_id: str | None) -> None:
    with deps.session() as session:
        reqs = _open_requirements(session, project)
        plan = milestones.for_project(session, project.id or 0)
    view = change_modal(project.language, requirements=reqs, milestones=[m for m in plan if not m.done],
                        metadata={"project_id": project.id, "origin_channel": channel_id})
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def _open_requirements(session: Session, project: Project) -> list[Requirement]:
    from sqlmodel import col, select

    return list(session.exec(
        select(Requirement).where(Requirement.project_id == project.id,
                                  col(Requirement.status).not_in(["dropped", "done"]))
        .order_by(col(Requirement.created_at).desc(), col(Requirement.id).desc()).limit(100)
    ))


def _by_client(actor: Actor, project: Project) -> bool:
    return actor.is_client_side or actor.user_id in (project.client_approver_ids or [])


def _quick_request(ack: Ack, deps: Deps, actor: Actor, project: Project, channel_id: str | None, text: str) -> None:
    """`/change <text>`: a request with that title, no form."""
    lang = project.language
    try:
        with deps.session() as session:
            cr = changes.submit(session, deps.clock, project=project, actor=actor.user_id,
                                data=changes.ChangeInput(title=text[: changes.TITLE_MAX]),
                                by_client=_by_client(actor, project))
            row = _enqueue_notice(session, cr, project)
            row_id = row.id
    except DomainError as err:
        ack(message(explain(err, lang, project)))
        return
    ack(submitted_ack(cr, project, lang, team_told=True) | {"response_type": "ephemeral"})
    assert row_id is not None
    deliver(deps, row_id)


# The request modal -------------------------------------------------------------------------


def intake_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Change request* on the intake message (or the digest): the request form, for anyone in
    the client channel, external users and guests included."""
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    project_id = _action_id(body)
    channel_id = channel_of(body)
    with deps.session() as session:
        project = session.get(Project, project_id) if project_id else None
    lang = language_for(actor, project) if project else channel_language(deps, actor, channel_id)
    if project is None or project.team_id != deps.workspace.team_id or project.client_channel_id != channel_id:
        respond(**refusal("common.not_found", lang), replace_original=False)
        return
    if project.status != "active":
        respond(**refusal("permissions.project_closed", lang), replace_original=False)
        return
    _open_request_modal(deps, body, project, channel_id)


def submit_request(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    meta = metadata(view)
    values = view_values(view)
    project_id = as_id(meta.get("project_id")) or as_id(selected_value(values, PROJECT_PICKER_BLOCK))
    lang = channel_language(deps, actor, channel_of(body))
    data = changes.ChangeInput(
        title=text_value(values, ids.CHANGE_BLOCK_TITLE),
        description=text_value(values, ids.CHANGE_BLOCK_DESCRIPTION),
        reason=text_value(values, ids.CHANGE_BLOCK_REASON),
        requirement_ids=int_values(selected_values(values, ids.CHANGE_BLOCK_REQUIREMENTS)),
        milestone_ids=int_values(selected_values(values, ids.CHANGE_BLOCK_MILESTONES)),
    )
    error_block = PROJECT_PICKER_BLOCK if meta.get("project_id") is None else ids.CHANGE_BLOCK_TITLE
    if project_id is None:
        ack(response_action="errors", errors={error_block: t("common.not_found", lang)})
        return
    try:
        with deps.session() as session:
            project = projects.get(session, deps.workspace.team_id, project_id)
            lang = project.language
            cr = changes.submit(session, deps.clock, project=project, actor=actor.user_id, data=data,
                                by_client=_by_client(actor, project))
            row_id = _enqueue_notice(session, cr, project).id
    except ValidationFailed as err:
        ack(response_action="errors", errors=view_errors(err, lang, REQUEST_FIELDS))
        return
    except DomainError as err:
        ack(response_action="errors", errors={error_block: explain(err, lang)})
        return
    ack()
    assert row_id is not None
    deliver(deps, row_id)
    reply = submitted_ack(cr, project, lang, team_told=True)
    tell(deps, actor.user_id, meta.get("origin_channel") or project.client_channel_id, reply["text"],
         reply["blocks"])


def _enqueue_notice(session: Session, cr: ChangeRequest, project: Project) -> Outbox:
    """Tell the team a request waits for assessment: in the internal channel, else the PM by DM."""
    payload = team_notice(cr, project, project.language)
    target: dict[str, Any] = ({"channel_id": project.internal_channel_id} if project.internal_channel_id
                              else {"user_id": project.pm_user_id})
    return outbox.enqueue(session, key=f"cr-submitted:{cr.id}", team_id=project.team_id, kind="cr_notice",
                          project_id=project.id, now=cr.created_at, payload=payload, **target)


def _refresh_notice(session: Session, cr: ChangeRequest, project: Project, closed: str) -> Outbox | None:
    """Replace the *Assess* button of the team's notice by what happened (when it was posted)."""
    sent = session.exec(_outbox_by_key(f"cr-submitted:{cr.id}")).first()
    if sent is None or not sent.message_ts:
        return None
    payload = {**team_notice(cr, project, project.language, closed=closed), "ts": sent.message_ts}
    return outbox.enqueue(session, key=f"cr-notice:{cr.id}:{cr.status}", team_id=project.team_id,
                          kind="cr_notice_update", method="chat.update", channel_id=sent.channel_id,
                          user_id=sent.user_id, project_id=project.id, now=cr.updated_at, payload=payload)


def _outbox_by_key(key: str) -> Any:
    from sqlmodel import select

    return select(Outbox).where(Outbox.key == key)


# Assessment --------------------------------------------------------------------------------


def _action_id(body: dict[str, Any]) -> int | None:
    from bot.handlers.common import action_int

    return action_int(body)


def _load(deps: Deps, body: dict[str, Any], actor: Actor) -> tuple[ChangeRequest, Project]:
    """The request a button names, refused (NotFound) when it is not of this workspace, or not
    within the clicker's reach (another project's channel; outside the project's channels)."""
    cr_id = _action_id(body)
    if cr_id is None:
        raise NotFound("common.not_found")
    with deps.session() as session:
        cr, project = changes.get_in_team(session, deps.workspace.team_id, cr_id)
    check_request_channel(deps, channel_of(body), project, actor.user_id)
    return cr, project


def assess_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = channel_language(deps, actor, channel_of(body))
    try:
        cr, project = _load(deps, body, actor)
        lang = project.language
        if not actor.is_team:
            raise Forbidden("common.refused_team_only")
        changes.check_transition(cr.status, ChangeStatus.assessed)
    except DomainError as err:
        respond(**message(explain(err, lang)), replace_original=False)
        return
    with deps.session() as session:
        plan = milestones.for_project(session, project.id or 0)
        linked = changes.milestone_ids(session, cr.id or 0)
    view = assess_modal(lang, cr=cr, milestones=[m for m in plan if not m.done or m.id in linked], linked=linked,
                        can_share_cost=actor.user_id == project.pm_user_id,
                        metadata={"cr_id": cr.id, "channel": channel_of(body)})
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_assessment(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = channel_language(deps, actor, channel_of(body))
    meta = metadata(view)
    values = view_values(view)
    share = ids.CHANGE_SHARE_COST_OPTION in selected_values(values, ids.CHANGE_BLOCK_SHARE_COST)
    data = changes.AssessmentInput(
        schedule_impact_days=text_value(values, ids.CHANGE_BLOCK_SCHEDULE),
        effort_hours=text_value(values, ids.CHANGE_BLOCK_EFFORT),
        cost_amount=text_value(values, ids.CHANGE_BLOCK_COST_AMOUNT),
        cost_currency=text_value(values, ids.CHANGE_BLOCK_COST_CURRENCY),
        share_cost_with_client=share,
        milestone_ids=int_values(selected_values(values, ids.CHANGE_BLOCK_MILESTONES)),
        recommendation=text_value(values, ids.CHANGE_BLOCK_RECOMMENDATION),
    )
    cr_id = as_id(meta.get("cr_id"))
    project: Project | None = None
    try:
        if cr_id is None:
            raise NotFound("common.not_found")
        with deps.session() as session:
            cr, project = changes.get_in_team(session, deps.workspace.team_id, cr_id)
            lang = project.language
            if not actor.is_team:
                raise Forbidden("common.refused_team_only")
            if share and actor.user_id != project.pm_user_id:
                raise ValidationFailed({"share_cost": ("changes.error_share_pm_only", {})})
            cr = changes.assess(session, deps.clock, cr=cr, project=project, actor=actor.user_id, data=data)
            post = outbox.enqueue(session, key=f"cr-approval:{cr.id}", team_id=project.team_id, kind="cr_approval",
                                  channel_id=project.client_channel_id, project_id=project.id, now=deps.clock.now(),
                                  payload=_approval_payload(session, cr, project))
            notice = _refresh_notice(session, cr, project, t("changes.notice_assessed", lang,
                                                              user=mention(actor.user_id)))
            rows = [post.id, notice.id if notice else None]
    except ValidationFailed as err:
        ack(response_action="errors", errors=view_errors(err, lang, ASSESS_FIELDS))
        return
    except DomainError as err:
        ack(response_action="errors", errors={ids.CHANGE_BLOCK_SCHEDULE: explain(err, lang, project)})
        return
    ack()
    _deliver_all(deps, rows)
    tell(deps, actor.user_id, meta.get("channel"), t("changes.assessed_ack", lang, ref=ref(cr),
                                                      channel=channel_link(project.client_channel_id)))


def _deliver_all(deps: Deps, row_ids: list[int | None]) -> None:
    for row_id in row_ids:
        if row_id is not None:
            deliver(deps, row_id)


def _approval_payload(session: Session, cr: ChangeRequest, project: Project) -> dict[str, Any]:
    """The client-channel message of a request, as it stands now (buttons while assessed)."""
    assert cr.id is not None
    ms, reqs = changes.affected(session, [cr.id])
    log_entries = changes.history(session, [cr.id])[cr.id]
    from bot.services.export_changes import decision_moves

    moves = {int(m["milestone_id"]): (str(m["from"]), str(m["to"])) for m in decision_moves(log_entries)
             if m.get("milestone_id")}
    return approval_message(cr, project, project.language, milestones=ms[cr.id], requirements=reqs[cr.id],
                            moves=moves)


def record_approval_message(session: Session, row: Outbox, ts: str | None) -> None:
    """Remember where the client decides; if they somehow decided already (from a list), show it."""
    if not ts or not row.channel_id:
        return
    cr_id = int(row.key.rsplit(":", 1)[1])
    changes.set_approval_message(session, cr_id, row.channel_id, ts)
    cr = session.get(ChangeRequest, cr_id, populate_existing=True)
    project = session.get(Project, cr.project_id) if cr else None
    if cr is None or project is None or cr.status == ChangeStatus.assessed:
        return
    outbox.enqueue(session, key=f"cr-final:{cr_id}", team_id=project.team_id, kind="cr_update",
                   method="chat.update", channel_id=row.channel_id, project_id=project.id,
                   now=cr.updated_at, payload={**_approval_payload(session, cr, project), "ts": ts})


def _enqueue_message_update(session: Session, cr: ChangeRequest, project: Project, reason: str) -> int | None:
    """Update the client-channel message of a request in place (when it was posted)."""
    if not cr.approval_channel_id or not cr.approval_ts:
        return None
    row = outbox.enqueue(session, key=f"cr-{reason}:{cr.id}", team_id=project.team_id, kind="cr_update",
                         method="chat.update", channel_id=cr.approval_channel_id, project_id=project.id,
                         now=cr.updated_at, payload={**_approval_payload(session, cr, project), "ts": cr.approval_ts})
    return row.id


def _enqueue_team_decided(session: Session, cr: ChangeRequest, project: Project) -> int | None:
    """Tell the team (internal channel, else the PM) what the client decided."""
    lang = project.language
    text = t("changes.team_decided", lang, line=decision_line(cr, project, lang), ref=ref(cr),
             title=safe(cr.title, 200), project=safe(project.name, 200))
    target: dict[str, Any] = ({"channel_id": project.internal_channel_id} if project.internal_channel_id
                              else {"user_id": project.pm_user_id})
    row = outbox.enqueue(session, key=f"cr-decided:{cr.id}", team_id=project.team_id, kind="cr_notice",
                         project_id=project.id, now=cr.updated_at, payload={"text": text}, **target)
    return row.id


# Decision ----------------------------------------------------------------------------------


def _decider(project: Project, actor: Actor) -> permissions.Decider:
    return permissions.client_decider(project, actor.user_id, client_side=actor.is_client_side)


def approve_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = channel_language(deps, actor, channel_of(body))
    project: Project | None = None
    try:
        cr, project = _load(deps, body, actor)
        lang = project.language
        decider = _decider(project, actor)
        with deps.session() as session:
            decision = changes.decide(session, deps.clock, cr_id=cr.id or 0, project=project, decider=decider,
                                      approve=True)
            rows = [_enqueue_message_update(session, decision.cr, project, "decision"),
                    _enqueue_team_decided(session, decision.cr, project)]
    except DomainError as err:
        respond(**message(explain(err, lang, project)), replace_original=False)
        return
    _deliver_all(deps, rows)
    lines = [t("changes.approved_ack", lang, ref=ref(decision.cr), title=safe(decision.cr.title, 200))]
    lines += [t("changes.moved_line", lang, name=safe(r.milestone.name, 150), old=r.old.isoformat(),
                new=r.new.isoformat()) for r in decision.rescheduled]
    respond(**message("\n".join(lines)), replace_original=False)


def reject_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Reject* asks for an optional reason first (only a decider gets the form)."""
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = channel_language(deps, actor, channel_of(body))
    project: Project | None = None
    try:
        cr, project = _load(deps, body, actor)
        lang = project.language
        _decider(project, actor)
        if cr.status != ChangeStatus.assessed:
            with deps.session() as session:
                raise changes.why_not(session, cr.id or 0, ChangeStatus.rejected)
    except DomainError as err:
        respond(**message(explain(err, lang, project)), replace_original=False)
        return
    view = reject_modal(lang, cr=cr, metadata={"cr_id": cr.id, "channel": channel_of(body)})
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_rejection(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = channel_language(deps, actor, channel_of(body))
    meta = metadata(view)
    values = view_values(view)
    reason = text_value(values, ids.CHANGE_BLOCK_REJECT_REASON)
    cr_id = as_id(meta.get("cr_id"))
    project: Project | None = None
    try:
        if cr_id is None:
            raise NotFound("common.not_found")
        with deps.session() as session:
            _cr, project = changes.get_in_team(session, deps.workspace.team_id, cr_id)
        lang = project.language
        decider = _decider(project, actor)
        with deps.session() as session:
            decision = changes.decide(session, deps.clock, cr_id=cr_id, project=project, decider=decider,
                                      approve=False, reason=reason)
            rows = [_enqueue_message_update(session, decision.cr, project, "decision"),
                    _enqueue_team_decided(session, decision.cr, project)]
    except DomainError as err:
        ack(response_action="errors", errors={ids.CHANGE_BLOCK_REJECT_REASON: explain(err, lang, project)[:2000]})
        return
    ack()
    _deliver_all(deps, rows)
    tell(deps, actor.user_id, meta.get("channel"), t("changes.rejected_ack", lang, ref=ref(decision.cr),
                                                      title=safe(decision.cr.title, 200)))


# Implemented, withdrawn --------------------------------------------------------------------


def implemented_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = channel_language(deps, actor, channel_of(body))
    project: Project | None = None
    try:
        cr, project = _load(deps, body, actor)
        lang = project.language
        if not actor.is_team:
            raise Forbidden("common.refused_team_only")
        with deps.session() as session:
            cr = changes.implement(session, deps.clock, cr_id=cr.id or 0, project=project, actor=actor.user_id)
            update_id = _enqueue_message_update(session, cr, project, "implemented")
    except DomainError as err:
        respond(**message(explain(err, lang, project)), replace_original=False)
        return
    _deliver_all(deps, [update_id])
    respond(**message(t("changes.implemented_ack", lang, ref=ref(cr), title=safe(cr.title, 200))),
            replace_original=False)


def withdraw_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Only the author, and only while the request is undecided."""
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = channel_language(deps, actor, channel_of(body))
    project: Project | None = None
    try:
        cr, project = _load(deps, body, actor)
        lang = project.language
        with deps.session() as session:
            cr, former = changes.withdraw(session, deps.clock, cr_id=cr.id or 0, project=project,
                                          actor=actor.user_id)
            rows = [_enqueue_message_update(session, cr, project, "withdrawn")]
            if former == ChangeStatus.submitted:
                notice = _refresh_notice(session, cr, project, decision_line(cr, project, lang))
                rows.append(notice.id if notice else None)
    except DomainError as err:
        respond(**message(explain(err, lang, project)), replace_original=False)
        return
    _deliver_all(deps, rows)
    respond(**message(t("changes.withdrawn_ack", lang, ref=ref(cr), title=safe(cr.title, 200))),
            replace_original=False)


# The list ----------------------------------------------------------------------------------


def _list_message(deps: Deps, actor: Actor, project: Project, *, status: str | None, page: int) -> dict[str, Any]:
    lang = project.language
    assert project.id is not None
    with deps.session() as session:
        rows, total = changes.list_for_project(session, project.id, status=status, page=page, per_page=PER_PAGE)
        if not rows and page > 1:
            page = page_count(total, PER_PAGE)
            rows, total = changes.list_for_project(session, project.id, status=status, page=page,
                                                   per_page=PER_PAGE)
        cr_ids = [c.id for c in rows if c.id is not None]
        logs = changes.history(session, cr_ids)
        ms, _reqs = changes.affected(session, cr_ids)
        names = {m.id: m.name for group in ms.values() for m in group if m.id is not None}
    can_decide = permissions.can_decide_for_client(project, actor.user_id)
    active = project.status == "active"  # a closed project shows its record, and no buttons
    items = [ListItem(cr=c, history=logs.get(c.id or 0, []), milestone_names=names,
                      actions=changes.actions_for(c, user_id=actor.user_id, is_team=actor.is_team,
                                                  can_decide=can_decide) if active else [])
             for c in rows]
    pages = pager(ids.CHANGE_LIST_PAGE, page=page, total=total, per_page=PER_PAGE, lang=lang,
                  state={"p": project.id, "s": status}) if total > PER_PAGE else []
    blocks = change_list(project, items, lang, to_client=not actor.is_team, status=status, pager_blocks=pages,
                         who=lambda u: mention(u) or "-")
    return message(t("changes.list_text", lang, project=safe(project.name, 200), count=total), blocks)


def list_page_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    state = page_state((body.get("actions") or [{}])[0].get("value"))
    project = project_of_channel(deps, channel_of(body))
    lang = language_for(actor, project)
    if project is None or state.get("p") != project.id:
        respond(**refusal("common.not_found", lang), replace_original=False)
        return
    status = state.get("s") if state.get("s") in STATUSES else None
    respond(**_list_message(deps, actor, project, status=status, page=state["page"]), replace_original=True)


# Export ------------------------------------------------------------------------------------


def _export(deps: Deps, actor: Actor, project: Project, respond: Respond) -> None:
    """Both formats to the user's DM; people of the client never get costs kept internal."""
    lang = project.language
    today = milestones.project_today(project, deps.clock)
    with deps.session() as session:
        md = export_changes.render(session, project, "md", include_internal=actor.is_team, today=today)
        csv_text = export_changes.render(session, project, "csv", include_internal=actor.is_team, today=today)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", project.name).strip("-").lower() or f"project-{project.id}"
    name = f"change-log-{slug}-{today.isoformat()}"
    try:
        dm = deps.client.conversations_open(users=actor.user_id)["channel"]["id"]
        deps.client.files_upload_v2(
            channel=dm,
            initial_comment=t("changes.export_comment", lang, project=safe(project.name, 200)),
            file_uploads=[
                {"content": md, "filename": f"{name}.md", "title": f"{project.name} — change log (Markdown)"},
                {"content": csv_text, "filename": f"{name}.csv", "title": f"{project.name} — change log (CSV)"},
            ],
        )
    except SlackApiError as err:
        log.warning("export upload failed: %s", err.response.get("error"))
        respond(**message(t("changes.export_failed", lang, error=safe(str(err.response.get("error")), 100))))
        return
    respond(**message(t("changes.export_sent", lang)))
