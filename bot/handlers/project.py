"""`/project`: set up, show, list, edit and close the project bound to a channel."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import available_timezones

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk.errors import SlackApiError

from bot.blocks import ids
from bot.blocks.project import close_prompt, intake_message, project_list, project_modal, project_summary
from bot.blocks.text import mention, option, safe
from bot.deps import Deps
from bot.flows.delivery import deliver
from bot.handlers import intake
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
    refusal,
    selected_conversation,
    selected_time,
    selected_user,
    selected_users,
    selected_value,
    selected_values,
    tell,
    text_value,
    view_errors,
    view_values,
    within_reach,
)
from bot.i18n import t
from bot.models import Project
from bot.services import outbox, projects
from bot.services.errors import DomainError, NotFound, ValidationFailed
from bot.slack.channels import channels_of_user

log = logging.getLogger(__name__)

FIELD_TO_BLOCK = {
    "name": ids.PROJECT_BLOCK_NAME,
    "client_name": ids.PROJECT_BLOCK_CLIENT_NAME,
    "client_channel": ids.PROJECT_BLOCK_CLIENT_CHANNEL,
    "internal_channel": ids.PROJECT_BLOCK_INTERNAL_CHANNEL,
    "pm": ids.PROJECT_BLOCK_PM,
    "timezone": ids.PROJECT_BLOCK_TIMEZONE,
    "language": ids.PROJECT_BLOCK_LANGUAGE,
    "digest_weekday": ids.PROJECT_BLOCK_WEEKDAY,
    "digest_time": ids.PROJECT_BLOCK_TIME,
    "working_days": ids.PROJECT_BLOCK_WORKING_DAYS,
    "holidays": ids.PROJECT_BLOCK_HOLIDAYS,
    "feedback_cadence": ids.PROJECT_BLOCK_CADENCE,
}
_TIMEZONES = sorted(available_timezones())


def register(app: App) -> None:
    app.command("/project")(project_command)
    app.view(ids.PROJECT_MODAL)(submit_project)
    app.options(ids.PROJECT_TZ_ACTION)(timezone_options)
    app.action(ids.PROJECT_CLOSE_CONFIRM)(confirm_close)


def project_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    channel_id = channel_of(body)
    with deps.session() as session:
        project = projects.for_channel(session, deps.workspace.team_id, channel_id)
    lang = language_for(actor, project)
    if not actor.is_team:
        ack(refusal("common.refused_team_only", lang))
        return
    words = (body.get("text") or "").split()
    sub = words[0].lower() if words else "help"

    if sub == "setup":
        if project is not None:
            ack(message(t("project.error_channel_taken", lang, name=safe(project.name, 200))))
            return
        ack()
        _open_modal(deps, body, actor, editing=None, channel_id=channel_id, lang=lang)
    elif sub == "edit":
        if project is None:
            ack(refusal("common.no_project_here", lang))
            return
        ack()
        _open_modal(deps, body, actor, editing=project, channel_id=channel_id, lang=lang)
    elif sub == "show":
        if project is None:
            ack(refusal("common.no_project_here", lang))
            return
        ack(message(t("project.show_title", lang, name=safe(project.name, 200)), project_summary(project, lang)))
    elif sub == "close":
        if project is None:
            ack(refusal("common.no_project_here", lang))
            return
        if project.status != "active":
            ack(refusal("project.error_already_closed", lang, name=safe(project.name, 200)))
            return
        ack(message(t("project.close_question", lang, name=safe(project.name, 200)), close_prompt(project, lang)))
    elif sub == "list":
        ack()
        channels = channels_of_user(deps.client, actor.user_id)
        with deps.session() as session:
            mine = projects.visible_to(session, deps.workspace.team_id, channels)
        respond(**message(t("project.list_title", lang), project_list(mine, lang)))
    elif sub == "help":
        ack(message(t("project.help", lang)))
    else:
        ack(message(t("project.unknown_subcommand", lang, sub=safe(sub, 30)) + "\n\n" + t("project.help", lang)))


def _open_modal(
    deps: Deps, body: dict[str, Any], actor: Actor, *, editing: Project | None, channel_id: str | None, lang: str
) -> None:
    info = deps.users.info(deps.client, actor.user_id)
    default_tz = info.tz if info and info.tz and projects.is_timezone(info.tz) else "UTC"
    meta = {"project_id": editing.id if editing else None, "origin_channel": channel_id}
    view = project_modal(lang, editing=editing, channel_id=channel_id, user_id=actor.user_id,
                         default_timezone=default_tz, metadata=meta)
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def _input_from_view(values: dict[str, Any]) -> projects.ProjectInput:
    def as_int(value: str | None, default: int) -> int:
        try:
            return int(value) if value is not None else default
        except ValueError:
            return -1

    flags = set(selected_values(values, ids.PROJECT_BLOCK_OPTIONS))
    return projects.ProjectInput(
        name=text_value(values, ids.PROJECT_BLOCK_NAME),
        client_name=text_value(values, ids.PROJECT_BLOCK_CLIENT_NAME),
        client_channel_id=selected_conversation(values, ids.PROJECT_BLOCK_CLIENT_CHANNEL),
        internal_channel_id=selected_conversation(values, ids.PROJECT_BLOCK_INTERNAL_CHANNEL),
        pm_user_id=selected_user(values, ids.PROJECT_BLOCK_PM),
        client_approver_ids=selected_users(values, ids.PROJECT_BLOCK_APPROVERS),
        timezone=selected_value(values, ids.PROJECT_BLOCK_TIMEZONE) or "",
        language=selected_value(values, ids.PROJECT_BLOCK_LANGUAGE) or "",
        digest_weekday=as_int(selected_value(values, ids.PROJECT_BLOCK_WEEKDAY), -1),
        digest_time=selected_time(values, ids.PROJECT_BLOCK_TIME) or "",
        working_days=[as_int(v, -1) for v in selected_values(values, ids.PROJECT_BLOCK_WORKING_DAYS)],
        holidays_text=text_value(values, ids.PROJECT_BLOCK_HOLIDAYS),
        feedback_cadence_weeks=as_int(selected_value(values, ids.PROJECT_BLOCK_CADENCE), 0),
        anonymous_feedback="anonymous_feedback" in flags,
        require_pm_approval="require_pm_approval" in flags,
    )


def submit_project(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    if not actor.is_team:
        ack(response_action="errors", errors={ids.PROJECT_BLOCK_NAME: t("common.refused_team_only", lang)})
        return
    meta = metadata(view)
    data = _input_from_view(view_values(view))
    now = deps.clock.now()
    try:
        with deps.session() as session:
            project_id = as_id(meta.get("project_id"))
            if project_id is not None:
                project = projects.get(session, deps.workspace.team_id, project_id)
                old_channel = project.client_channel_id
                project = projects.update(session, deps.clock, project=project, actor=actor.user_id, data=data)
                created = False
            else:
                project = projects.create(session, deps.clock, team_id=deps.workspace.team_id,
                                          enterprise_id=deps.workspace.enterprise_id, actor=actor.user_id, data=data)
                old_channel = None
                created = True
            lang = project.language
            intake_row = _enqueue_intake(session, project, now, moved=old_channel != project.client_channel_id)
            intake_id = intake_row.id
    except ValidationFailed as err:
        ack(response_action="errors", errors=view_errors(err, lang, FIELD_TO_BLOCK))
        return
    except DomainError as err:
        ack(response_action="errors", errors={ids.PROJECT_BLOCK_NAME: domain_message(err, lang, for_mrkdwn=False)})
        return
    ack()
    assert intake_id is not None
    deliver(deps, intake_id)
    with deps.session() as session:
        row = session.get(outbox.Outbox, intake_id)
        assert row is not None
    error = row.last_error if row.status != "sent" else None
    if not error and row.method == "chat.postMessage" and row.message_ts:
        _pin(deps, project.client_channel_id, row.message_ts)
    channel = f"<#{project.client_channel_id}>"
    name = safe(project.name, 200)
    if error:
        text = t("project.intake_failed", lang, name=name, channel=channel, error=safe(error, 200))
    elif created:
        text = t("project.created", lang, name=name, channel=channel)
    else:
        text = t("project.updated", lang, name=name)
    tell(deps, actor.user_id, meta.get("origin_channel") or project.client_channel_id, text)


def _enqueue_intake(session: Any, project: Project, now: Any, *, moved: bool) -> outbox.Outbox:
    """Post the intake message on setup (or to a new client channel); otherwise refresh it in place."""
    payload = intake_message(project, intake.enabled())
    if project.intake_message_ts and not moved:
        return outbox.enqueue(
            session, key=f"intake-update:{project.id}:{now.timestamp()}", team_id=project.team_id, kind="intake",
            method="chat.update", channel_id=project.client_channel_id, project_id=project.id, now=now,
            payload={**payload, "ts": project.intake_message_ts},
        )
    return outbox.enqueue(
        session, key=f"intake:{project.id}:{project.client_channel_id}", team_id=project.team_id, kind="intake",
        channel_id=project.client_channel_id, project_id=project.id, now=now, payload=payload,
    )


def record_intake(session: Any, row: outbox.Outbox, ts: str | None) -> None:
    if row.project_id is None or not ts or row.method != "chat.postMessage":
        return
    project = session.get(Project, row.project_id)
    if project is not None:
        projects.set_intake_message(session, project, ts)




def _pin(deps: Deps, channel_id: str, ts: str) -> None:
    try:
        deps.client.pins_add(channel=channel_id, timestamp=ts)
    except SlackApiError as err:  # pins:write may be missing, or the channel may not allow pins
        log.info("could not pin the intake message in %s: %s", channel_id, err.response.get("error"))


def timezone_options(ack: Ack, payload: dict[str, Any]) -> None:
    query = (payload.get("value") or "").strip().lower().replace(" ", "_")
    matches = [tz for tz in _TIMEZONES if query in tz.lower()] if query else _TIMEZONES
    ack(options=[option(tz, tz) for tz in matches[:100]])


def confirm_close(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    if not actor.is_team:
        respond(**refusal("common.refused_team_only", lang), replace_original=False)
        return
    project_id = action_int(body)
    if project_id is None:
        respond(**refusal("common.not_found", lang), replace_original=False)
        return
    try:
        with deps.session() as session:
            project = projects.get(session, deps.workspace.team_id, project_id)
        if not within_reach(deps, actor.user_id, channel_of(body), project):
            raise NotFound("common.not_found")
        with deps.session() as session:
            project = projects.get(session, deps.workspace.team_id, project_id)
            projects.close(session, deps.clock, project=project, actor=actor.user_id)
            lang = project.language
            name = safe(project.name, 200)
    except DomainError as err:
        respond(**message(domain_message(err, lang)), replace_original=True)
        return
    respond(**message(t("project.closed", lang, name=name, user=mention(actor.user_id))), replace_original=True)
