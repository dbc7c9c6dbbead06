"""`/milestone`: add milestones, list the plan with progress and status, update one (team only).

A new milestone dated in the past is accepted only on purpose: the first submission answers
with a warning next to the date (`response_action: errors`); submitting the same form again
with the same date saves it. The bot remembers, per open form (its view id), user and date,
which past date it warned about, for an hour.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.blocks import ids
from bot.blocks.common import PROJECT_PICKER_BLOCK
from bot.blocks.milestones import edit_modal, milestone_list, milestone_modal, pick_modal, progress_bar
from bot.blocks.pagination import page_count, page_state, pager
from bot.blocks.text import safe
from bot.deps import Deps
from bot.handlers.common import (
    Actor,
    action_int,
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
    selected_date,
    selected_value,
    selected_values,
    tell,
    text_value,
    view_errors,
    view_values,
)
from bot.handlers.plan_common import channel_language, check_request_channel, explain, is_outside_channels
from bot.i18n import t
from bot.models import Project
from bot.services import milestones, projects
from bot.services.errors import DomainError, Forbidden, NotFound, ValidationFailed

PER_PAGE = 10
FIELDS = {
    "name": ids.MILESTONE_BLOCK_NAME,
    "due_date": ids.MILESTONE_BLOCK_DUE,
    "progress": ids.MILESTONE_BLOCK_PROGRESS,
    "description": ids.MILESTONE_BLOCK_DESCRIPTION,
}
WARNING_TTL = 3600.0


class PastDueWarnings:
    """Which (form, user, project, date) was warned about a past due date, for a while."""

    def __init__(self, ttl: float = WARNING_TTL) -> None:
        self._ttl = ttl
        self._seen: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def seen(self, key: tuple[str, ...]) -> bool:
        now = time.monotonic()
        with self._lock:
            at = self._seen.get(key)
            return at is not None and now - at < self._ttl

    def remember(self, key: tuple[str, ...]) -> None:
        now = time.monotonic()
        with self._lock:
            self._seen = {k: v for k, v in self._seen.items() if now - v < self._ttl}
            self._seen[key] = now


WARNINGS = PastDueWarnings()


def register(app: App) -> None:
    app.command("/milestone")(milestone_command)
    app.view(ids.MILESTONE_MODAL)(submit_milestone)
    app.view(ids.MILESTONE_PICK_MODAL)(submit_pick)
    app.view(ids.MILESTONE_EDIT_MODAL)(submit_edit)
    app.action(ids.MILESTONE_EDIT)(edit_clicked)
    app.action(re.compile(f"^{ids.MILESTONE_LIST_PAGE}:(prev|next)$"))(list_page_clicked)


def milestone_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    channel_id = channel_of(body)
    project = project_of_channel(deps, channel_id)
    lang = language_for(actor, project)
    words = (body.get("text") or "").split()
    sub = words[0].lower() if words else ""
    if sub == "help":
        ack(message(t("milestones.help", lang)))
        return
    if not actor.is_team:
        ack(refusal("common.refused_team_only", lang))
        return
    if sub not in ("", "list", "update"):
        ack(message(t("milestones.unknown_subcommand", lang, sub=safe(sub, 30)) + "\n\n" + t("milestones.help", lang)))
        return
    if project is None:
        if sub == "" and is_outside_channels(channel_id):
            ack()
            mine = projects_of_user(deps, actor.user_id)
            if not mine:
                respond(**refusal("common.no_projects_for_you", lang))
                return
            view = milestone_modal(lang, projects=mine, metadata={"project_id": None, "origin_channel": channel_id})
            deps.client.views_open(trigger_id=body["trigger_id"], view=view)
            return
        ack(refusal("common.no_project_here", lang))
        return
    if sub == "list":
        ack()
        respond(**_list_message(deps, actor, project, page=1))
        return
    if project.status != "active":
        ack(refusal("permissions.project_closed", lang))
        return
    if sub == "update":
        with deps.session() as session:
            plan = milestones.for_project(session, project.id or 0)
        if not plan:
            ack(message(t("milestones.list_empty", lang)))
            return
        ack()
        view = pick_modal(lang, milestones=plan, metadata={"project_id": project.id, "origin_channel": channel_id})
        deps.client.views_open(trigger_id=body["trigger_id"], view=view)
        return
    ack()
    view = milestone_modal(lang, today=milestones.project_today(project, deps.clock),
                           metadata={"project_id": project.id, "origin_channel": channel_id})
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


# New milestone -------------------------------------------------------------------------------


def submit_milestone(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = channel_language(deps, actor, channel_of(body))
    meta = metadata(view)
    values = view_values(view)
    project_id = as_id(meta.get("project_id")) or as_id(selected_value(values, PROJECT_PICKER_BLOCK))
    error_block = ids.MILESTONE_BLOCK_NAME if meta.get("project_id") else PROJECT_PICKER_BLOCK
    if project_id is None:
        ack(response_action="errors", errors={error_block: t("common.not_found", lang)})
        return
    data = milestones.MilestoneInput(
        name=text_value(values, ids.MILESTONE_BLOCK_NAME),
        due_date=selected_date(values, ids.MILESTONE_BLOCK_DUE),
        progress=text_value(values, ids.MILESTONE_BLOCK_PROGRESS),
        description=text_value(values, ids.MILESTONE_BLOCK_DESCRIPTION),
    )
    warning_key = (deps.workspace.team_id, actor.user_id, str(view.get("id", "")), str(project_id),
                   data.due_date or "")
    try:
        with deps.session() as session:
            project = projects.get(session, deps.workspace.team_id, project_id)
            lang = project.language
            if not actor.is_team:
                raise Forbidden("common.refused_team_only")
            milestone = milestones.create(session, deps.clock, project=project, actor=actor.user_id, data=data,
                                          allow_past_due=WARNINGS.seen(warning_key))
    except ValidationFailed as err:
        if "due_date" in err.errors and err.errors["due_date"][0] == "milestones.warning_past_due":
            WARNINGS.remember(warning_key)
        ack(response_action="errors", errors=view_errors(err, lang, FIELDS))
        return
    except DomainError as err:
        ack(response_action="errors", errors={error_block: explain(err, lang)})
        return
    ack()
    text = t("milestones.created", lang, name=safe(milestone.name, 200), date=milestone.due_date.isoformat(),
             bar=progress_bar(milestone.progress))
    tell(deps, actor.user_id, meta.get("origin_channel") or project.internal_channel_id or project.client_channel_id,
         text)


# Update ------------------------------------------------------------------------------------


def edit_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Update* on a list entry: the update form for that milestone."""
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = channel_language(deps, actor, channel_of(body))
    try:
        milestone_id = action_int(body)
        if milestone_id is None:
            raise NotFound("common.not_found")
        with deps.session() as session:
            milestone, project = milestones.get_in_team(session, deps.workspace.team_id, milestone_id)
        lang = project.language
        if not actor.is_team:
            raise Forbidden("common.refused_team_only")
        check_request_channel(deps, channel_of(body), project, actor.user_id)
    except DomainError as err:
        respond(**message(explain(err, lang)), replace_original=False)
        return
    view = edit_modal(lang, milestone=milestone,
                      metadata={"milestone_id": milestone.id, "origin_channel": channel_of(body)})
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_pick(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """`/milestone update`, step one: the chosen milestone's form replaces the picker."""
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = channel_language(deps, actor, channel_of(body))
    meta = metadata(view)
    values = view_values(view)
    picked = as_id(selected_value(values, ids.MILESTONE_BLOCK_PICK))
    try:
        if picked is None:
            raise NotFound("common.not_found")
        with deps.session() as session:
            milestone, project = milestones.get_in_team(session, deps.workspace.team_id, picked)
        if project.id != meta.get("project_id"):
            raise NotFound("common.not_found")
        lang = project.language
        if not actor.is_team:
            raise Forbidden("common.refused_team_only")
    except DomainError as err:
        ack(response_action="errors", errors={ids.MILESTONE_BLOCK_PICK: explain(err, lang)})
        return
    ack(response_action="update", view=edit_modal(lang, milestone=milestone, metadata={
        "milestone_id": milestone.id, "origin_channel": meta.get("origin_channel")}))


def submit_edit(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = channel_language(deps, actor, channel_of(body))
    meta = metadata(view)
    values = view_values(view)
    change = milestones.MilestoneChange(
        due_date=selected_date(values, ids.MILESTONE_BLOCK_DUE) or "",
        progress=text_value(values, ids.MILESTONE_BLOCK_PROGRESS),
        done=ids.MILESTONE_DONE_OPTION in selected_values(values, ids.MILESTONE_BLOCK_DONE),
    )
    milestone_id = as_id(meta.get("milestone_id"))
    try:
        if milestone_id is None:
            raise NotFound("common.not_found")
        with deps.session() as session:
            milestone, project = milestones.get_in_team(session, deps.workspace.team_id, milestone_id)
            lang = project.language
            if not actor.is_team:
                raise Forbidden("common.refused_team_only")
            was_done = milestone.done
            milestone = milestones.update(session, deps.clock, project=project, milestone=milestone,
                                          actor=actor.user_id, change=change)
    except ValidationFailed as err:
        ack(response_action="errors", errors=view_errors(err, lang, FIELDS))
        return
    except DomainError as err:
        ack(response_action="errors", errors={ids.MILESTONE_BLOCK_DUE: explain(err, lang)})
        return
    ack()
    key = "milestones.marked_done" if milestone.done and not was_done else "milestones.updated"
    text = t(key, lang, name=safe(milestone.name, 200), date=milestone.due_date.isoformat(),
             bar=progress_bar(milestone.progress))
    tell(deps, actor.user_id, meta.get("origin_channel") or project.internal_channel_id or project.client_channel_id,
         text)


# The list ----------------------------------------------------------------------------------


def _list_message(deps: Deps, actor: Actor, project: Project, *, page: int) -> dict[str, Any]:
    lang = project.language
    today = milestones.project_today(project, deps.clock)
    with deps.session() as session:
        plan = milestones.plan(session, project.id or 0, today)
    total = len(plan)
    page = min(page, page_count(total, PER_PAGE))
    shown = plan[(page - 1) * PER_PAGE: page * PER_PAGE]
    pages = pager(ids.MILESTONE_LIST_PAGE, page=page, total=total, per_page=PER_PAGE, lang=lang,
                  state={"p": project.id}) if total > PER_PAGE else []
    blocks = milestone_list(project, shown, lang, today=today, can_edit=actor.is_team and project.status == "active",
                            pager_blocks=pages)
    return message(t("milestones.list_text", lang, project=safe(project.name, 200), count=total), blocks)


def list_page_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    project = project_of_channel(deps, channel_of(body))
    lang = language_for(actor, project)
    state = page_state((body.get("actions") or [{}])[0].get("value"))
    if not actor.is_team:
        respond(**refusal("common.refused_team_only", lang), replace_original=False)
        return
    if project is None or state.get("p") != project.id:
        respond(**refusal("common.not_found", lang), replace_original=False)
        return
    respond(**_list_message(deps, actor, project, page=state["page"]), replace_original=True)
