"""`/req` and the requirement buttons: capture (modal, quick text, the client's intake button),
send for confirmation, the client's decision, team actions, the list and the export."""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk.errors import SlackApiError

from bot.blocks import ids
from bot.blocks.common import PROJECT_PICKER_BLOCK
from bot.blocks.pagination import page_state
from bot.blocks.requirements import (
    PER_PAGE,
    buttons_for,
    changes_modal,
    confirmation_message,
    item_blocks,
    list_blocks,
    notice_message,
    parse_item_block_id,
    requirement_modal,
    status_label,
)
from bot.blocks.text import channel_link, from_slack_text, mention, safe
from bot.deps import Deps
from bot.flows.delivery import deliver
from bot.handlers.common import (
    Actor,
    action_int,
    actor_of,
    as_id,
    channel_of,
    deps_of,
    domain_message,
    language_for,
    message,
    metadata,
    projects_of_user,
    refusal,
    selected_value,
    tell,
    text_value,
    view_errors,
    view_values,
)
from bot.i18n import t
from bot.models import Project, ProjectStatus, Requirement
from bot.services import activity, outbox, permissions, projects, requirements
from bot.services.errors import DomainError, Forbidden, InvalidTransition, NotFound, ValidationFailed
from bot.services.export_requirements import local, ref, render
from bot.slack.channels import channels_of_user

log = logging.getLogger(__name__)

SUBCOMMANDS = ("list", "export", "help")
FIELD_TO_BLOCK = {
    "title": ids.REQ_BLOCK_TITLE,
    "description": ids.REQ_BLOCK_DESCRIPTION,
    "priority": ids.REQ_BLOCK_PRIORITY,
    "acceptance_criteria": ids.REQ_BLOCK_ACCEPTANCE,
    "project": PROJECT_PICKER_BLOCK,
}
# `/req list <filter>`: a status, or "open" for everything not settled yet.
FILTERS: dict[str, list[str]] = {"open": sorted(requirements.OPEN), **{str(s): [str(s)] for s in requirements.STATUSES}}
FILTER_ALIASES = {"changes": "changes_requested", "changes-requested": "changes_requested", "awaiting": "proposed"}
KIND_CONFIRM = "req_confirm"
KIND_UPDATE = "req_confirm_update"
KIND_NOTICE = "req_notice"
TEAM_ACTIONS = {ids.REQ_DEFER: "defer", ids.REQ_DROP: "drop", ids.REQ_DONE: "mark_done"}


def register(app: App) -> None:
    app.command("/req")(req_command)
    app.view(ids.REQ_MODAL)(submit_requirement)
    app.view(ids.REQ_CHANGES_MODAL)(submit_changes)
    app.action(ids.INTAKE_NEW_REQUIREMENT)(open_from_intake)
    app.action(ids.REQ_EDIT)(edit_button)
    app.action(ids.REQ_SEND)(send_button)
    for action_id in TEAM_ACTIONS:
        app.action(action_id)(team_action_button)
    app.action(ids.REQ_CONFIRM)(confirm_button)
    app.action(ids.REQ_REQUEST_CHANGES)(request_changes_button)
    app.action(re.compile(f"^{re.escape(ids.REQ_LIST_PAGE)}:"))(list_page_button)


# Small helpers ------------------------------------------------------------------------------


def is_client_author(actor: Actor, project: Project) -> bool:
    """Raised by the client: an external user, a guest, or one of the client approvers."""
    return actor.is_client_side or actor.user_id in (project.client_approver_ids or [])


def _viewer_buttons(actor: Actor, project: Project):
    can_decide = permissions.can_decide_for_client(project, actor.user_id)
    return lambda req: buttons_for(req, is_team=actor.is_team, can_decide=can_decide)




def _change_key(session: Any, req: Requirement) -> str:
    """What makes an outbox key unique per change: the id of the change's activity-log entry."""
    entries = activity.history(session, requirements.ENTITY, req.id or 0)
    return str(entries[-1].id) if entries else "0"


def _enqueue_confirmation_update(session: Any, req: Requirement, project: Project, now: Any,
                                 key: str | None = None) -> int | None:
    """Refresh the confirmation message in the client channel in place (decided, edited, taken back)."""
    if not (req.confirmation_channel_id and req.confirmation_ts):
        return None
    payload = {**confirmation_message(req, project), "ts": req.confirmation_ts}
    row = outbox.enqueue(
        session, key=f"req-update:{req.id}:{key or _change_key(session, req)}", team_id=project.team_id,
        kind=KIND_UPDATE, method="chat.update", channel_id=req.confirmation_channel_id, project_id=project.id,
        now=now, payload=payload,
    )
    return row.id


def _enqueue_notice(session: Any, req: Requirement, project: Project, key: str, *, user: str, now: Any) -> int | None:
    """Tell the team in the internal channel what the client did (when the project has one)."""
    if not project.internal_channel_id:
        return None
    row = outbox.enqueue(
        session, key=f"req-notice:{req.id}:{_change_key(session, req)}", team_id=project.team_id, kind=KIND_NOTICE,
        channel_id=project.internal_channel_id, project_id=project.id, now=now,
        payload=notice_message(req, project, key, user=user),
    )
    return row.id


def _deliver_all(deps: Deps, *row_ids: int | None) -> None:
    for row_id in row_ids:
        if row_id is not None:
            deliver(deps, row_id)


def record_confirmation(session: Any, row: outbox.Outbox, ts: str | None) -> None:
    """Store where the confirmation request went (for the in-place update and for nudges)."""
    parts = row.key.split(":")  # req-confirm:<id>:<change>
    if not ts or row.channel_id is None or len(parts) < 3 or not parts[1].isdigit():
        return
    req = session.get(Requirement, int(parts[1]))
    if req is None:
        return
    requirements.set_confirmation_message(session, req, channel_id=row.channel_id, ts=ts)
    if not requirements.is_awaiting_confirmation(req):
        # Decided (or taken back) before the post went out: show that instead of live buttons;
        # the outbox sweep sends it.
        project = session.get(Project, req.project_id)
        if project is not None:
            _enqueue_confirmation_update(session, req, project, row.created_at, key=f"after-post-{row.id}")


# /req ----------------------------------------------------------------------------------------


def req_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    channel_id = channel_of(body)
    with deps.session() as session:
        project = projects.for_channel(session, deps.workspace.team_id, channel_id)
    lang = language_for(actor, project)
    text = from_slack_text(body.get("text") or "").strip()
    words = text.split()
    sub = words[0].lower() if words else ""

    if not words:
        _command_modal(ack, respond, deps, body, actor, project, channel_id, lang, title="")
    elif sub == "help" and len(words) == 1:
        ack(message(t("requirements.help", lang)))
    elif sub == "list" and len(words) <= 2:
        _command_list(ack, deps, actor, project, lang, words[1].lower() if len(words) == 2 else "")
    elif sub == "export" and len(words) == 1:
        _command_export(ack, respond, deps, actor, project, lang)
    elif len(words) <= 2 and difflib.get_close_matches(sub, SUBCOMMANDS, n=1, cutoff=0.75):
        ack(message(t("requirements.unknown_subcommand", lang, sub=safe(sub, 30)) + "\n\n"
                    + t("requirements.help", lang)))
    else:
        _quick_capture(ack, respond, deps, body, actor, project, channel_id, lang, text)


def _command_modal(ack: Ack, respond: Respond, deps: Deps, body: dict[str, Any], actor: Actor,
                   project: Project | None, channel_id: str | None, lang: str, *, title: str) -> None:
    if project is not None:
        if project.status != ProjectStatus.active:
            ack(refusal("permissions.project_closed", lang))
            return
        ack()
        meta = {"project_id": project.id, "origin_channel": channel_id}
        view = requirement_modal(lang, metadata=meta, project=project, initial_title=title,
                                 for_client=is_client_author(actor, project))
        deps.client.views_open(trigger_id=body["trigger_id"], view=view)
        return
    ack()
    mine = projects_of_user(deps, actor.user_id)
    if not mine:
        respond(**refusal("common.no_project_here", lang))
        return
    meta = {"project_id": None, "origin_channel": channel_id}
    deps.client.views_open(trigger_id=body["trigger_id"],
                           view=requirement_modal(lang, metadata=meta, picker=mine, initial_title=title))


def _quick_capture(ack: Ack, respond: Respond, deps: Deps, body: dict[str, Any], actor: Actor,
                   project: Project | None, channel_id: str | None, lang: str, text: str) -> None:
    title = requirements.clean_title(text)
    if len(title) > requirements.TITLE_MAX:
        ack(refusal("requirements.error_quick_too_long", lang, max=requirements.TITLE_MAX, length=len(title)))
        return
    if project is None:  # outside a project channel: the modal, prefilled, with a project picker
        _command_modal(ack, respond, deps, body, actor, None, channel_id, lang, title=title)
        return
    notice_id = None
    try:
        with deps.session() as session:
            project = projects.get(session, deps.workspace.team_id, project.id or 0)
            client_side = is_client_author(actor, project)
            req = requirements.create(session, deps.clock, project=project, actor=actor.user_id,
                                      data=requirements.RequirementInput(title=title), raised_by_client=client_side)
            if client_side:
                notice_id = _enqueue_notice(session, req, project, "requirements.notice_raised",
                                            user=actor.user_id, now=deps.clock.now())
    except ValidationFailed as err:
        ack(message("\n".join(view_errors(err, lang).values())))
        return
    except DomainError as err:
        ack(message(domain_message(err, lang)))
        return
    blocks = item_blocks(req, project, lang, buttons=_viewer_buttons(actor, project)(req))
    ack(message(t("requirements.saved", lang, ref=ref(req), title=safe(req.title, 400)), blocks))
    _deliver_all(deps, notice_id)


def _parse_filter(word: str) -> str | None:
    word = FILTER_ALIASES.get(word, word)
    return word if word == "" or word in FILTERS else None


def _command_list(ack: Ack, deps: Deps, actor: Actor, project: Project | None, lang: str, word: str) -> None:
    if project is None:
        ack(refusal("common.no_project_here", lang))
        return
    status_filter = _parse_filter(word)
    if status_filter is None:
        ack(refusal("requirements.error_filter", lang, word=safe(word, 30),
                    filters=", ".join(f"`{f}`" for f in FILTERS)))
        return
    ack(message(t("requirements.list_text", lang, name=safe(project.name, 200)),
                _list(deps, actor, project, lang, status_filter, 1)))


def _list(deps: Deps, actor: Actor, project: Project, lang: str, status_filter: str, page: int, *,
          notice: str | None = None) -> list[dict[str, Any]]:
    """One page of the list as the viewer may use it; a page emptied since (items moved to
    another status) falls back to the last page there is."""
    assert project.id is not None
    statuses = FILTERS[status_filter] if status_filter else None
    with deps.session() as session:
        items, total = requirements.list_page(session, project.id, statuses=statuses, page=page, per_page=PER_PAGE)
        pages = max(1, -(-total // PER_PAGE))
        if page > pages:
            page = pages
            items, total = requirements.list_page(session, project.id, statuses=statuses, page=page,
                                                  per_page=PER_PAGE)
    return list_blocks(items, project, lang, total=total, page=page, status_filter=status_filter,
                       buttons=_viewer_buttons(actor, project), notice=notice)


def _command_export(ack: Ack, respond: Respond, deps: Deps, actor: Actor, project: Project | None,
                    lang: str) -> None:
    if project is None:
        ack(refusal("common.no_project_here", lang))
        return
    ack(message(t("requirements.export_working", lang)))
    now = deps.clock.now()
    with deps.session() as session:
        user_ids = {u for r in requirements.all_of(session, project.id or 0)
                    for u in (r.raised_by, r.decided_by) if u}
    names = _names(deps, user_ids)
    with deps.session() as session:
        md = render(session, project, "md", names=names, now=now)
        csv_text = render(session, project, "csv", names=names)
    stem = _file_stem(project, now)
    try:
        dm = deps.client.conversations_open(users=actor.user_id)["channel"]["id"]
        deps.client.files_upload_v2(
            channel=dm,
            initial_comment=t("requirements.export_comment", lang, name=safe(project.name, 200)),
            file_uploads=[
                {"content": md.encode("utf-8"), "filename": f"{stem}.md",
                 "title": t("requirements.export_title_md", lang, name=project.name)},
                {"content": csv_text.encode("utf-8"), "filename": f"{stem}.csv",
                 "title": t("requirements.export_title_csv", lang, name=project.name)},
            ],
        )
    except SlackApiError as err:
        log.warning("requirements export upload for %s failed: %s", actor.user_id, err.response.get("error"))
        respond(**refusal("requirements.export_failed", lang, error=safe(err.response.get("error"), 100)))
        return
    respond(**message(t("requirements.export_sent", lang, name=safe(project.name, 200))))


def _names(deps: Deps, user_ids: set[str]) -> dict[str, str]:
    """Display names for the document (ids stay where Slack does not know the user)."""
    out: dict[str, str] = {}
    for user_id in sorted(user_ids):
        try:
            info = deps.users.info(deps.client, user_id)
        except SlackApiError:
            info = None
        if info is not None and info.name:
            out[user_id] = info.name
    return out


def _file_stem(project: Project, now: Any) -> str:
    slug = re.sub(r"[^\w-]+", "-", project.name, flags=re.UNICODE).strip("-").lower() or f"project-{project.id}"
    return f"requirements-{slug[:60]}-{local(now, project.timezone)[:10]}"


# The modal ----------------------------------------------------------------------------------


def open_from_intake(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The client intake message's *New requirement*: the capture modal, for anyone in the
    client channel (external users and guests included)."""
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    project_id = action_int(body)
    with deps.session() as session:
        project = session.get(Project, project_id) if project_id else None
    if project is None or project.team_id != deps.workspace.team_id or \
            channel_of(body) != project.client_channel_id:
        respond(**refusal("common.not_found", lang), replace_original=False)
        return
    lang = project.language
    if project.status != ProjectStatus.active:
        respond(**refusal("permissions.project_closed", lang), replace_original=False)
        return
    meta = {"project_id": project.id, "origin_channel": project.client_channel_id, "via": "intake"}
    view = requirement_modal(lang, metadata=meta, project=project, for_client=is_client_author(actor, project))
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def _input_from_view(values: dict[str, Any]) -> requirements.RequirementInput:
    return requirements.RequirementInput(
        title=text_value(values, ids.REQ_BLOCK_TITLE),
        description=text_value(values, ids.REQ_BLOCK_DESCRIPTION),
        priority=selected_value(values, ids.REQ_BLOCK_PRIORITY) or "should",
        acceptance_criteria=text_value(values, ids.REQ_BLOCK_ACCEPTANCE),
    )


def _picked_project_id(meta: dict[str, Any], values: dict[str, Any]) -> int | None:
    return as_id(meta.get("project_id")) or as_id(selected_value(values, PROJECT_PICKER_BLOCK))


def submit_requirement(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    meta = metadata(view)
    values = view_values(view)
    data = _input_from_view(values)
    project_id = _picked_project_id(meta, values)
    req_id = as_id(meta.get("req_id"))
    error_block = ids.REQ_BLOCK_TITLE
    if project_id is None:
        ack(response_action="errors", errors={PROJECT_PICKER_BLOCK: t("requirements.error_pick_project", lang)})
        return
    if req_id is not None and not actor.is_team:
        ack(response_action="errors", errors={error_block: t("common.refused_team_only", lang)})
        return
    now = deps.clock.now()
    row_ids: list[int | None] = []
    try:
        with deps.session() as session:
            project = projects.get(session, deps.workspace.team_id, project_id)
            lang = project.language
            if req_id is not None:
                req, owner = requirements.get(session, deps.workspace.team_id, req_id)
                if owner.id != project.id:
                    raise NotFound("common.not_found")
                awaiting = requirements.is_awaiting_confirmation(req)
                requirements.edit(session, deps.clock, req=req, project=project, actor=actor.user_id, data=data)
                if awaiting:
                    row_ids.append(_enqueue_confirmation_update(session, req, project, now))
                saved_key = "requirements.updated"
            else:
                client_side = is_client_author(actor, project)
                req = requirements.create(session, deps.clock, project=project, actor=actor.user_id, data=data,
                                          raised_by_client=client_side)
                if client_side:
                    row_ids.append(_enqueue_notice(session, req, project, "requirements.notice_raised",
                                                   user=actor.user_id, now=now))
                saved_key = "requirements.thanks_client" if client_side else "requirements.saved"
    except ValidationFailed as err:
        ack(response_action="errors", errors=view_errors(err, lang, FIELD_TO_BLOCK))
        return
    except NotFound as err:
        block = PROJECT_PICKER_BLOCK if req_id is None and meta.get("project_id") is None else error_block
        ack(response_action="errors", errors={block: domain_message(err, lang, for_mrkdwn=False)})
        return
    except DomainError as err:
        ack(response_action="errors", errors={error_block: domain_message(err, lang, for_mrkdwn=False)})
        return
    ack()
    _deliver_all(deps, *row_ids)
    text = t(saved_key, lang, ref=ref(req), title=safe(req.title, 400))
    blocks = item_blocks(req, project, lang, buttons=_viewer_buttons(actor, project)(req))
    tell(deps, actor.user_id, meta.get("origin_channel") or project.client_channel_id, text, blocks)


# Buttons on a requirement --------------------------------------------------------------------


@dataclass
class Clicked:
    """A requirement button, checked: the item exists in this workspace and belongs to the
    project of the channel it was clicked in (or, outside project channels, to a project whose
    channels the user is in)."""

    deps: Deps
    actor: Actor
    req: Requirement
    project: Project
    lang: str
    where: str  # "item", "confirm", "notice" or "list:<filter>:<page>"
    channel_id: str | None


def _clicked(body: dict[str, Any], context: BoltContext, respond: Respond) -> Clicked | None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    req_id = action_int(body)
    channel_id = channel_of(body)
    try:
        if req_id is None:
            raise NotFound("common.not_found")
        with deps.session() as session:
            req, project = requirements.get(session, deps.workspace.team_id, req_id)
            here = projects.for_channel(session, deps.workspace.team_id, channel_id)
        if here is not None and here.id != project.id:
            raise NotFound("common.not_found")
        if here is None and not ({project.client_channel_id, project.internal_channel_id}
                                 & channels_of_user(deps.client, actor.user_id)):
            raise NotFound("common.not_found")
    except NotFound as err:
        respond(**message(domain_message(err, lang)), replace_original=False)
        return None
    action = (body.get("actions") or [{}])[0]
    return Clicked(deps=deps, actor=actor, req=req, project=project, lang=project.language,
                   where=parse_item_block_id(action.get("block_id")), channel_id=channel_id)


def _refresh(c: Clicked, respond: Respond, note: str) -> None:
    """Show the outcome where the button was: the list or the item is redrawn in place; on a
    public message (the confirmation request, a notice) the clicker gets an ephemeral note."""
    with c.deps.session() as session:
        req, project = requirements.get(session, c.deps.workspace.team_id, c.req.id or 0)
    if c.where.startswith("list:"):
        _, status_filter, page = [*c.where.split(":"), "", "1"][:3]
        status_filter = status_filter if status_filter in FILTERS else ""
        blocks = _list(c.deps, c.actor, project, c.lang, status_filter, as_id(page) or 1,
                       notice=note)
        respond(**message(t("requirements.list_text", c.lang, name=safe(project.name, 200)), blocks),
                replace_original=True)
    elif c.where == "item":
        blocks = [{"type": "context", "elements": [{"type": "mrkdwn", "text": note}]},
                  *item_blocks(req, project, c.lang, buttons=_viewer_buttons(c.actor, project)(req))]
        respond(**message(note, blocks), replace_original=True)
    else:
        respond(**message(note), replace_original=False)


def _refuse(c: Clicked, respond: Respond, text: str) -> None:
    respond(**message(text), replace_original=False)


def refusal_text(deps: Deps, lang: str, req_id: int, err: DomainError, *, decision: bool = False) -> str:
    """Why a change was refused. A decision that came too late is told who decided and when."""
    with deps.session() as session:
        req, project = requirements.get(session, deps.workspace.team_id, req_id)
    decided = req.status in ("confirmed", "changes_requested") and req.decided_by
    if decision and decided and err.key.startswith("requirements.error_now_"):
        who = mention(req.decided_by)
        if req.decided_on_behalf:
            who = t("permissions.on_behalf", lang, user=who)
        return t("requirements.error_already_decided", lang, ref=ref(req), status=status_label(req.status, lang),
                 user=who, when=local(req.decided_at, project.timezone, with_zone=True))
    return t("requirements.refused_prefix", lang, ref=ref(req)) + " " + domain_message(err, lang)


def _transition_refusal(c: Clicked, err: DomainError, *, decision: bool = False) -> str:
    return refusal_text(c.deps, c.lang, c.req.id or 0, err, decision=decision)


def team_action_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Defer, drop, mark done: team only, each recorded with before and after."""
    ack()
    c = _clicked(body, context, respond)
    if c is None:
        return
    if not c.actor.is_team:
        _refuse(c, respond, t("common.refused_team_only", c.lang))
        return
    action = TEAM_ACTIONS[(body.get("actions") or [{}])[0].get("action_id", "")]
    fn = {"defer": requirements.defer, "drop": requirements.drop, "mark_done": requirements.mark_done}[action]
    now = c.deps.clock.now()
    try:
        with c.deps.session() as session:
            req, project = requirements.get(session, c.deps.workspace.team_id, c.req.id or 0)
            awaiting = requirements.is_awaiting_confirmation(req)
            fn(session, c.deps.clock, req=req, project=project, actor=c.actor.user_id)
            update_id = _enqueue_confirmation_update(session, req, project, now) if awaiting else None
    except DomainError as err:
        _refuse(c, respond, _transition_refusal(c, err))
        return
    _deliver_all(c.deps, update_id)
    _refresh(c, respond, t(f"requirements.done_{action}", c.lang, ref=ref(req), user=mention(c.actor.user_id)))


def send_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Send for confirmation: post the requirement to the client channel with Confirm /
    Request changes (through the outbox, committed with the status change)."""
    ack()
    c = _clicked(body, context, respond)
    if c is None:
        return
    if not c.actor.is_team:
        _refuse(c, respond, t("common.refused_team_only", c.lang))
        return
    now = c.deps.clock.now()
    try:
        with c.deps.session() as session:
            req, project = requirements.get(session, c.deps.workspace.team_id, c.req.id or 0)
            requirements.send_for_confirmation(session, c.deps.clock, req=req, project=project,
                                               actor=c.actor.user_id)
            row = outbox.enqueue(
                session, key=f"req-confirm:{req.id}:{_change_key(session, req)}", team_id=project.team_id,
                kind=KIND_CONFIRM,
                channel_id=project.client_channel_id, project_id=project.id, now=now,
                payload=confirmation_message(req, project, sender=c.actor.user_id),
            )
            row_id = row.id
    except DomainError as err:
        _refuse(c, respond, _transition_refusal(c, err))
        return
    assert row_id is not None
    deliver(c.deps, row_id)
    with c.deps.session() as session:
        sent = session.get(outbox.Outbox, row_id)
        error = sent.last_error if sent is not None and sent.status != "sent" else None
    channel = channel_link(project.client_channel_id)
    if error:
        note = t("requirements.send_failed", c.lang, ref=ref(req), channel=channel, error=safe(error, 200))
    else:
        note = t("requirements.sent", c.lang, ref=ref(req), channel=channel)
    _refresh(c, respond, note)


def edit_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    c = _clicked(body, context, respond)
    if c is None:
        return
    if not c.actor.is_team:
        _refuse(c, respond, t("common.refused_team_only", c.lang))
        return
    if not requirements.can_edit(c.req.status):
        _refuse(c, respond, _transition_refusal(c, InvalidTransition(f"requirements.error_now_{c.req.status}")))
        return
    meta = {"project_id": c.project.id, "req_id": c.req.id, "origin_channel": c.channel_id}
    view = requirement_modal(c.lang, metadata=meta, editing=c.req, project=c.project)
    c.deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def confirm_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The client confirms (or the PM on the client's behalf, recorded as such). Exactly one
    decision is recorded however often the button is clicked; the others are told who decided."""
    ack()
    c = _clicked(body, context, respond)
    if c is None:
        return
    try:
        decider = permissions.client_decider(c.project, c.actor.user_id, client_side=c.actor.is_client_side)
    except Forbidden as err:
        _refuse(c, respond, domain_message(err, c.lang))
        return
    now = c.deps.clock.now()
    try:
        with c.deps.session() as session:
            req, project = requirements.get(session, c.deps.workspace.team_id, c.req.id or 0)
            requirements.confirm(session, c.deps.clock, req=req, project=project, decider=decider)
            update_id = _enqueue_confirmation_update(session, req, project, now)
            notice_id = _enqueue_notice(session, req, project, "requirements.notice_confirmed",
                                        user=decider.user_id, now=now) if not decider.on_behalf_of_client else None
    except DomainError as err:
        _refuse(c, respond, _transition_refusal(c, err, decision=True))
        return
    _deliver_all(c.deps, update_id, notice_id)
    key = "requirements.you_confirmed_on_behalf" if decider.on_behalf_of_client else "requirements.you_confirmed"
    _refresh(c, respond, t(key, c.lang, ref=ref(req)))


def request_changes_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Opens the modal for the client's comment (deciders only, while the requirement awaits them)."""
    ack()
    c = _clicked(body, context, respond)
    if c is None:
        return
    if not permissions.can_decide_for_client(c.project, c.actor.user_id):
        _refuse(c, respond, t("permissions.not_an_approver", c.lang))
        return
    if not requirements.can("request_changes", c.req.status):
        _refuse(c, respond, _transition_refusal(c, InvalidTransition(f"requirements.error_now_{c.req.status}"),
                                                decision=True))
        return
    meta = {"req_id": c.req.id, "origin_channel": c.channel_id, "where": c.where}
    c.deps.client.views_open(trigger_id=body["trigger_id"], view=changes_modal(c.req, c.lang, metadata=meta))


def submit_changes(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    meta = metadata(view)
    comment = text_value(view_values(view), ids.REQ_BLOCK_COMMENT)
    req_id = as_id(meta.get("req_id"))
    block = ids.REQ_BLOCK_COMMENT
    now = deps.clock.now()
    try:
        if req_id is None:
            raise NotFound("common.not_found")
        with deps.session() as session:
            req, project = requirements.get(session, deps.workspace.team_id, req_id)
            lang = project.language
            decider = permissions.client_decider(project, actor.user_id, client_side=actor.is_client_side)
            requirements.request_changes(session, deps.clock, req=req, project=project, decider=decider,
                                         comment=comment)
            update_id = _enqueue_confirmation_update(session, req, project, now)
            notice_id = _enqueue_notice(session, req, project, "requirements.notice_changes",
                                        user=decider.user_id, now=now) if not decider.on_behalf_of_client else None
    except ValidationFailed as err:
        ack(response_action="errors", errors={block: " ".join(view_errors(err, lang).values())})
        return
    except InvalidTransition as err:
        text = refusal_text(deps, lang, req_id or 0, err, decision=True)
        ack(response_action="errors", errors={block: text[:2000]})
        return
    except DomainError as err:
        ack(response_action="errors", errors={block: domain_message(err, lang, for_mrkdwn=False)})
        return
    ack()
    _deliver_all(deps, update_id, notice_id)
    key = "requirements.you_requested_changes_on_behalf" if decider.on_behalf_of_client \
        else "requirements.you_requested_changes"
    tell(deps, actor.user_id, meta.get("origin_channel") or project.client_channel_id, t(key, lang, ref=ref(req)))


def list_page_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    channel_id = channel_of(body)
    with deps.session() as session:
        project = projects.for_channel(session, deps.workspace.team_id, channel_id)
    lang = language_for(actor, project)
    if project is None:
        respond(**refusal("common.no_project_here", lang), replace_original=False)
        return
    actions = body.get("actions") or [{}]
    state = page_state(actions[0].get("value"))
    status_filter = state.get("s") if state.get("s") in FILTERS else ""
    blocks = _list(deps, actor, project, lang, status_filter, state["page"])
    respond(**message(t("requirements.list_text", lang, name=safe(project.name, 200)), blocks),
            replace_original=True)
