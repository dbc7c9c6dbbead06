"""`/risk`: the risk register (team only) — capture, quick capture, list, edit, status, review."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.blocks import ids
from bot.blocks.common import PROJECT_PICKER_BLOCK
from bot.blocks.pagination import page_state
from bot.blocks.risks import ACTION_TO_STATUS, register_list, review_modal, risk_card, risk_modal
from bot.blocks.text import safe
from bot.deps import Deps
from bot.handlers.common import (
    Actor,
    action_int,
    action_value,
    actor_of,
    as_id,
    channel_of,
    deps_of,
    domain_message,
    language_for,
    message,
    metadata,
    project_of_channel,
    projects_of_user,
    refusal,
    selected_date,
    selected_user,
    selected_value,
    tell,
    text_value,
    view_errors,
    view_values,
    within_reach,
)
from bot.i18n import t
from bot.models import Project, Risk
from bot.services import projects, risks
from bot.services.errors import DomainError, ValidationFailed

log = logging.getLogger(__name__)

FIELD_TO_BLOCK = {
    "title": ids.RISK_BLOCK_TITLE,
    "description": ids.RISK_BLOCK_DESCRIPTION,
    "probability": ids.RISK_BLOCK_PROBABILITY,
    "impact": ids.RISK_BLOCK_IMPACT,
    "owner": ids.RISK_BLOCK_OWNER,
    "mitigation": ids.RISK_BLOCK_MITIGATION,
    "review": ids.RISK_BLOCK_REVIEW,
    "visibility": ids.RISK_BLOCK_VISIBILITY,
    "milestone": ids.RISK_BLOCK_MILESTONE,
}
STATUS_BUTTON_IDS = (ids.RISK_MITIGATED, ids.RISK_OCCURRED, ids.RISK_CLOSED, ids.RISK_REOPEN)


def register(app: App) -> None:
    app.command("/risk")(risk_command)
    app.view(ids.RISK_MODAL)(submit_risk)
    app.view(ids.RISK_REVIEW_MODAL)(submit_review)
    app.action(ids.RISK_ADD_DETAILS)(open_edit)
    app.action(ids.RISK_EDIT)(open_edit)
    app.action(ids.RISK_SET_REVIEW)(open_review)
    for action_id in STATUS_BUTTON_IDS:
        app.action(action_id)(change_status)
    app.action(re.compile(rf"^{ids.RISK_LIST_PAGE}:(prev|next)$"))(turn_page)


def _is_dm(body: dict[str, Any]) -> bool:
    channel = body.get("channel_id") or ""
    return channel.startswith("D") or body.get("channel_name") == "directmessage"


# --- The command ----------------------------------------------------------------------------


def risk_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    project = project_of_channel(deps, channel_of(body))
    lang = language_for(actor, project)
    if not actor.is_team:
        ack(refusal("common.refused_team_only", lang))
        return
    text = (body.get("text") or "").strip()
    words = text.lower().split()
    if words in (["help"], ["?"]):
        ack(message(t("risk.help", lang)))
        return
    if words in (["list"], ["list", "all"]):
        if project is None:
            ack(refusal("common.no_project_here", lang))
            return
        ack(_list_message(deps, project, page=1, include_closed=len(words) == 2, lang=lang))
        return
    if project is None:
        if not _is_dm(body):
            ack(refusal("common.no_project_here", lang))
            return
        ack()
        _open_new_with_picker(deps, body, actor, lang, title=text)
        return
    if project.status != "active":
        ack(refusal("project.error_closed", lang, name=safe(project.name, 200)))
        return
    if not text:
        ack()
        _open_new(deps, body, actor, project, lang)
        return
    _quick_capture(deps, ack, actor, project, text, lang)


def _quick_capture(deps: Deps, ack: Ack, actor: Actor, project: Project, text: str, lang: str) -> None:
    try:
        with deps.session() as session:
            risk = risks.quick_capture(session, deps.clock, project=project, actor=actor.user_id, text=text)
            today = risks.project_today(project, deps.clock.now())
            card = risk_card(risk, lang, today=today, details_button=True)
            title = safe(risk.title, 200)
    except DomainError as err:
        ack(message(domain_message(err, lang)))
        return
    ack(message(t("risk.captured", lang, title=title), [
        {"type": "section", "text": {"type": "mrkdwn", "text": t("risk.captured", lang, title=title)}}, *card]))


def _open_new(deps: Deps, body: dict[str, Any], actor: Actor, project: Project, lang: str, title: str = "") -> None:
    with deps.session() as session:
        milestones = risks.milestones_for(session, project.id or 0)
    view = risk_modal(lang, metadata={"project_id": project.id, "origin_channel": channel_of(body)},
                      owner=actor.user_id, today=risks.project_today(project, deps.clock.now()), title=title,
                      milestones=milestones)
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def _open_new_with_picker(deps: Deps, body: dict[str, Any], actor: Actor, lang: str, title: str) -> None:
    """Outside a project channel: the same modal with a project picker (no milestone link)."""
    mine = projects_of_user(deps, actor.user_id)
    if not mine:
        tell(deps, actor.user_id, channel_of(body), t("common.no_projects_for_you", lang))
        return
    today = risks.project_today(mine[0], deps.clock.now())
    view = risk_modal(lang, metadata={"project_id": None, "origin_channel": channel_of(body)},
                      owner=actor.user_id, today=today, title=title, projects=mine)
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


# --- The modal ------------------------------------------------------------------------------


def _input_from_view(values: dict[str, Any]) -> risks.RiskInput:
    def scale(block_id: str) -> int | None:
        value = as_id(selected_value(values, block_id))
        return value if value is not None and value < 10 else None

    milestone = selected_value(values, ids.RISK_BLOCK_MILESTONE)
    return risks.RiskInput(
        title=text_value(values, ids.RISK_BLOCK_TITLE),
        description=text_value(values, ids.RISK_BLOCK_DESCRIPTION),
        probability=scale(ids.RISK_BLOCK_PROBABILITY),
        impact=scale(ids.RISK_BLOCK_IMPACT),
        owner_user_id=selected_user(values, ids.RISK_BLOCK_OWNER),
        mitigation=text_value(values, ids.RISK_BLOCK_MITIGATION),
        next_review=selected_date(values, ids.RISK_BLOCK_REVIEW),
        visibility=selected_value(values, ids.RISK_BLOCK_VISIBILITY) or "internal",
        milestone_id=(as_id(milestone) or -1) if milestone else None,
    )


def _project_for_submission(deps: Deps, actor: Actor, meta: dict[str, Any], values: dict[str, Any]
                            ) -> Project | None:
    """The project the modal is about: the one it was opened for, or the one picked (which must
    be one of the user's projects)."""
    project_id = as_id(meta.get("project_id"))
    if project_id is not None:
        with deps.session() as session:
            try:
                return projects.get(session, deps.workspace.team_id, project_id)
            except DomainError:
                return None
    picked = as_id(selected_value(values, PROJECT_PICKER_BLOCK))
    if picked is None:
        return None
    return next((p for p in projects_of_user(deps, actor.user_id) if p.id == picked), None)


def submit_risk(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    meta = metadata(view)
    values = view_values(view)
    first_block = PROJECT_PICKER_BLOCK if PROJECT_PICKER_BLOCK in values else ids.RISK_BLOCK_TITLE
    if not actor.is_team:
        ack(response_action="errors", errors={first_block: t("common.refused_team_only", lang)})
        return
    project = _project_for_submission(deps, actor, meta, values)
    if project is None:
        ack(response_action="errors", errors={first_block: t("common.not_found", lang)})
        return
    lang = project.language
    data = _input_from_view(values)
    risk_id = as_id(meta.get("risk_id"))
    try:
        with deps.session() as session:
            if risk_id is not None:
                risk, owner_project = risks.get(session, deps.workspace.team_id, risk_id)
                if owner_project.id != project.id:
                    raise ValidationFailed({"title": ("common.not_found", {})})
                risk = risks.update_risk(session, deps.clock, project=owner_project, risk=risk,
                                         actor=actor.user_id, data=data)
                key = "risk.updated"
            else:
                project = session.get(Project, project.id) or project
                risk = risks.create(session, deps.clock, project=project, actor=actor.user_id, data=data)
                key = "risk.created"
            names = risks.milestone_names(session, {risk.milestone_id} if risk.milestone_id else set())
            card = risk_card(risk, lang, milestone=names.get(risk.milestone_id or 0),
                             today=risks.project_today(project, deps.clock.now()))
            title = safe(risk.title, 200)
    except ValidationFailed as err:
        ack(response_action="errors", errors=view_errors(err, lang, FIELD_TO_BLOCK))
        return
    except DomainError as err:
        ack(response_action="errors", errors={first_block: domain_message(err, lang)})
        return
    ack()
    text = t(key, lang, title=title)
    tell(deps, actor.user_id, meta.get("origin_channel") or project.client_channel_id, text,
          [{"type": "section", "text": {"type": "mrkdwn", "text": text}}, *card])


# --- Buttons --------------------------------------------------------------------------------


def _team_or_refuse(deps: Deps, body: dict[str, Any], respond: Respond) -> Actor | None:
    actor = actor_of(deps, body)
    if not actor.is_team:
        respond(**refusal("common.refused_team_only", language_for(actor)), replace_original=False)
        return None
    return actor


def _load(deps: Deps, risk_id: int | None, body: dict[str, Any] | None = None,
          actor: Actor | None = None) -> tuple[Risk, Project] | None:
    """The risk and its project; None when it is not of this workspace, or (for a click) not
    within the clicker's reach."""
    if risk_id is None:
        return None
    with deps.session() as session:
        try:
            found = risks.get(session, deps.workspace.team_id, risk_id)
        except DomainError:
            return None
    if body is not None and actor is not None and not within_reach(deps, actor.user_id, channel_of(body), found[1]):
        return None
    return found


def open_edit(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Edit* in the list and *Add details* under a quick capture: the full modal, prefilled."""
    ack()
    deps = deps_of(context)
    actor = _team_or_refuse(deps, body, respond)
    if actor is None:
        return
    found = _load(deps, action_int(body), body, actor)
    if found is None:
        respond(**refusal("common.not_found", language_for(actor)), replace_original=False)
        return
    risk, project = found
    lang = project.language
    if project.status != "active":
        respond(**refusal("project.error_closed", lang, name=safe(project.name, 200)), replace_original=False)
        return
    with deps.session() as session:
        milestones = risks.milestones_for(session, project.id or 0, keep=risk.milestone_id)
    view = risk_modal(lang, metadata={"project_id": project.id, "risk_id": risk.id,
                                      "origin_channel": channel_of(body)},
                      owner=actor.user_id, today=risks.project_today(project, deps.clock.now()), editing=risk,
                      milestones=milestones)
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def _status_ref(body: dict[str, Any]) -> tuple[int, str, int, bool] | None:
    """(risk id, the status the person saw, list page, closed shown) from a status button's JSON value."""
    try:
        data = json.loads(action_value(body) or "null")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    risk_id, seen, page = as_id(data.get("id")), data.get("from"), data.get("page", 1)
    if not (risk_id is not None and isinstance(seen, str) and isinstance(page, int) and not isinstance(page, bool)):
        return None
    return risk_id, seen, min(max(page, 1), 100_000), data.get("all") is True


def change_status(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = _team_or_refuse(deps, body, respond)
    if actor is None:
        return
    action_id = (body.get("actions") or [{}])[0].get("action_id")
    to = ACTION_TO_STATUS.get(action_id)
    ref = _status_ref(body)
    found = _load(deps, ref[0] if ref else None, body, actor)
    if to is None or ref is None or found is None:
        respond(**refusal("common.not_found", language_for(actor)), replace_original=False)
        return
    risk, project = found
    lang = project.language
    _, seen, page, include_closed = ref
    try:
        with deps.session() as session:
            risk = session.get(Risk, risk.id) or risk
            risks.change_status(session, deps.clock, project=project, risk=risk, actor=actor.user_id, to=to,
                                expected=seen)
            notice = t(f"risk.marked_{to.value}", lang, title=safe(risk.title, 200), user=f"<@{actor.user_id}>")
    except DomainError as err:
        notice = "⚠️ " + domain_message(err, lang)
    respond(**_list_message(deps, project, page=page, include_closed=include_closed, lang=lang, notice=notice),
            replace_original=True)


def open_review(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = _team_or_refuse(deps, body, respond)
    if actor is None:
        return
    found = _load(deps, action_int(body), body, actor)
    if found is None:
        respond(**refusal("common.not_found", language_for(actor)), replace_original=False)
        return
    risk, project = found
    view = review_modal(risk, project.language, today=risks.project_today(project, deps.clock.now()),
                        metadata={"risk_id": risk.id, "origin_channel": channel_of(body)})
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_review(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    if not actor.is_team:
        ack(response_action="errors", errors={ids.RISK_BLOCK_REVIEW: t("common.refused_team_only", lang)})
        return
    meta = metadata(view)
    found = _load(deps, as_id(meta.get("risk_id")))
    if found is None:
        ack(response_action="errors", errors={ids.RISK_BLOCK_REVIEW: t("common.not_found", lang)})
        return
    risk, project = found
    lang = project.language
    review = selected_date(view_values(view), ids.RISK_BLOCK_REVIEW)
    try:
        with deps.session() as session:
            risk = session.get(Risk, risk.id) or risk
            risks.set_review(session, deps.clock, project=project, risk=risk, actor=actor.user_id, review=review)
            text = t("risk.review_saved", lang, title=safe(risk.title, 200),
                     date=risk.next_review_date.isoformat() if risk.next_review_date else "")
    except ValidationFailed as err:
        ack(response_action="errors", errors=view_errors(err, lang, FIELD_TO_BLOCK))
        return
    except DomainError as err:
        ack(response_action="errors", errors={ids.RISK_BLOCK_REVIEW: domain_message(err, lang)})
        return
    ack()
    tell(deps, actor.user_id, meta.get("origin_channel") or project.client_channel_id, text)


def turn_page(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = _team_or_refuse(deps, body, respond)
    if actor is None:
        return
    state = page_state(action_value(body))
    project_id = as_id(state.get("project"))
    with deps.session() as session:
        try:
            project = projects.get(session, deps.workspace.team_id, project_id) if project_id else None
        except DomainError:
            project = None
    if project is None or not within_reach(deps, actor.user_id, channel_of(body), project):
        respond(**refusal("common.not_found", language_for(actor)), replace_original=False)
        return
    respond(**_list_message(deps, project, page=state["page"], include_closed=state.get("all") is True,
                            lang=project.language), replace_original=True)


# --- Rendering and telling ------------------------------------------------------------------


def _list_message(deps: Deps, project: Project, *, page: int, include_closed: bool, lang: str,
                  notice: str | None = None) -> dict[str, Any]:
    with deps.session() as session:
        items, total = risks.register_page(session, project.id or 0, page=page, include_closed=include_closed)
        if not items and page > 1:  # the page emptied (risks closed meanwhile): show the last one
            page = max(1, -(-total // risks.PER_PAGE))
            items, total = risks.register_page(session, project.id or 0, page=page, include_closed=include_closed)
        names = risks.milestone_names(session, {r.milestone_id for r in items if r.milestone_id})
    blocks = register_list(project, items, total=total, page=page, lang=lang,
                           today=risks.project_today(project, deps.clock.now()), milestones=names,
                           include_closed=include_closed, notice=notice)
    return message(t("risk.list_text", lang, name=safe(project.name, 200), count=total), blocks)
