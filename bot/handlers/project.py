"""`/project`: set up, show, list, edit and close the project bound to a channel.

Each listener parses the payload, calls one flow of `bot.flows.projects` and renders its result.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.blocks import ids
from bot.blocks.project import calendar_options as calendar_options_for
from bot.blocks.project import project_list, project_modal, project_summary
from bot.blocks.reports import close_modal
from bot.blocks.text import mention, option, safe
from bot.deps import Deps
from bot.flows import projects as flow
from bot.flows import reports as reports_flow
from bot.handlers import common as h
from bot.handlers.routes import Routes
from bot.i18n import LANGUAGES, t
from bot.models import Project
from bot.reports import holiday_regions
from bot.services import calendar, projects
from bot.services.errors import DomainError, NotFound, ValidationFailed

FIELD_TO_BLOCK = {
    "name": ids.PROJECT_BLOCK_NAME,
    "client_name": ids.PROJECT_BLOCK_CLIENT_NAME,
    "client_channel": ids.PROJECT_BLOCK_CLIENT_CHANNEL,
    "internal_channel": ids.PROJECT_BLOCK_INTERNAL_CHANNEL,
    "pm": ids.PROJECT_BLOCK_PM,
    "approvers": ids.PROJECT_BLOCK_APPROVERS,
    "timezone": ids.PROJECT_BLOCK_TIMEZONE,
    "language": ids.PROJECT_BLOCK_LANGUAGE,
    "digest_weekday": ids.PROJECT_BLOCK_WEEKDAY,
    "digest_time": ids.PROJECT_BLOCK_TIME,
    "working_days": ids.PROJECT_BLOCK_WORKING_DAYS,
    "holidays": ids.PROJECT_BLOCK_HOLIDAYS,
    "public_holidays": ids.PROJECT_BLOCK_CALENDAR,
    "feedback_cadence": ids.PROJECT_BLOCK_CADENCE,
    "options": ids.PROJECT_BLOCK_OPTIONS,
    "auto_accept": ids.PROJECT_BLOCK_AUTO_ACCEPT,  # milestone acceptance
    "capture_emoji": ids.PROJECT_BLOCK_CAPTURE_EMOJI,  # capture from the conversation (issue 14)
}
NEEDS_PROJECT = {"edit", "show", "close"}


def project_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    channel_id = h.channel_of(body)
    sub = h.subcommand(body)
    if sub == "list" and actor.is_team:
        ack()
        listing = flow.visible(deps, actor.user_id, channel_id)
        lang = h.language_for(actor, listing.here)
        respond(**h.message(t("project.list_title", lang), project_list(listing.projects, lang)))
        return
    project = flow.here(deps, channel_id)
    lang = h.language_for(actor, project)
    if not actor.is_team:
        ack(h.refusal("common.refused_team_only", lang))
    elif sub in NEEDS_PROJECT and project is None:
        ack(h.refusal("common.no_project_here", lang))
    elif sub == "setup" and project is not None:
        ack(h.message(t("project.error_channel_taken", lang, name=safe(project.name, 200))))
    elif sub in ("setup", "edit"):
        ack()
        _open_modal(deps, body, actor, editing=project if sub == "edit" else None, channel_id=channel_id, lang=lang)
    elif sub == "show" and project is not None:
        now = deps.clock.now()
        ack(h.message(t("project.show_title", lang, name=safe(project.name, 200)),
                      project_summary(project, lang, calendar.coming_days(project, now, lang),
                                      calendar.make_up_days_unknown(project, now))))
    elif sub == "close" and project is not None:
        if project.status != "active":
            ack(h.refusal("project.error_already_closed", lang, name=safe(project.name, 200)))
        else:  # the confirmation is a modal asking for the PM's retrospective note (reports, issue 16)
            ack()
            _open_close_modal(deps, body, channel_id, lang)
    elif sub == "help":
        ack(h.message(t("project.help", lang)))
    else:
        ack(h.message(t("project.unknown_subcommand", lang, sub=safe(sub, 30)) + "\n\n" + t("project.help", lang)))


def _open_modal(deps: Deps, body: dict[str, Any], actor: h.Actor, *, editing: Project | None,
                channel_id: str | None, lang: str) -> None:
    info = deps.users.info(deps.client, actor.user_id)
    default_tz = info.tz if info and info.tz and calendar.is_timezone(info.tz) else "UTC"
    meta: dict[str, Any] = {"project_id": editing.id if editing else None, "origin_channel": channel_id,
                            "lang": lang}
    if editing is not None:
        meta["stamp"] = flow.form_stamp(editing)
    view = project_modal(lang, editing=editing, channel_id=channel_id, user_id=actor.user_id,
                         default_timezone=default_tz, metadata=meta, cadences=projects.CADENCES,
                         default_calendar=holiday_regions.join(*holiday_regions.default_calendar(default_tz)))
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def _input_from_view(values: dict[str, Any]) -> projects.ProjectInput:
    def as_int(value: str | None, default: int) -> int:
        try:
            return int(value) if value is not None else default
        except ValueError:
            return -1

    flags = set(h.selected_values(values, ids.PROJECT_BLOCK_OPTIONS))
    picked = h.selected_value(values, ids.PROJECT_BLOCK_CALENDAR)
    # not in the form (an older form): None, the project keeps its calendar or takes its zone's
    country, subdivision = (None, None) if picked is None else (ids.parse_calendar_value(picked) or (picked, ""))
    return projects.ProjectInput(
        name=h.text_value(values, ids.PROJECT_BLOCK_NAME),
        client_name=h.text_value(values, ids.PROJECT_BLOCK_CLIENT_NAME),
        client_channel_id=h.selected_conversation(values, ids.PROJECT_BLOCK_CLIENT_CHANNEL),
        internal_channel_id=h.selected_conversation(values, ids.PROJECT_BLOCK_INTERNAL_CHANNEL),
        pm_user_id=h.selected_user(values, ids.PROJECT_BLOCK_PM),
        client_approver_ids=h.selected_users(values, ids.PROJECT_BLOCK_APPROVERS),
        timezone=h.selected_value(values, ids.PROJECT_BLOCK_TIMEZONE) or "",
        language=h.selected_value(values, ids.PROJECT_BLOCK_LANGUAGE) or "",
        digest_weekday=as_int(h.selected_value(values, ids.PROJECT_BLOCK_WEEKDAY), -1),
        digest_time=h.selected_time(values, ids.PROJECT_BLOCK_TIME) or "",
        working_days=[as_int(v, -1) for v in h.selected_values(values, ids.PROJECT_BLOCK_WORKING_DAYS)],
        holidays_text=h.text_value(values, ids.PROJECT_BLOCK_HOLIDAYS),
        country=country,
        subdivision=subdivision,
        feedback_cadence_weeks=as_int(h.selected_value(values, ids.PROJECT_BLOCK_CADENCE), 0),
        anonymous_feedback="anonymous_feedback" in flags,
        require_pm_approval="require_pm_approval" in flags,
        auto_accept_after_days=as_int(h.selected_value(values, ids.PROJECT_BLOCK_AUTO_ACCEPT), 0),
        capture_emoji=h.text_value(values, ids.PROJECT_BLOCK_CAPTURE_EMOJI)
        if ids.PROJECT_BLOCK_CAPTURE_EMOJI in values else None,
        monthly_report="monthly_report" in flags,
        charts_enabled="charts_off" not in flags,  # digest chart
    )


def submit_project(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    lang = h.language_for(actor)
    if not actor.is_team:
        ack(response_action="errors", errors={ids.PROJECT_BLOCK_NAME: t("common.refused_team_only", lang)})
        return
    meta = h.metadata(view)
    stamp = meta.get("stamp")
    try:
        saved = flow.save(deps, user_id=actor.user_id, data=_input_from_view(h.view_values(view)),
                          project_id=h.as_id(meta.get("project_id")), stamp=stamp if isinstance(stamp, dict) else None)
    except ValidationFailed as err:
        ack(response_action="errors", errors=h.view_errors(err, lang, FIELD_TO_BLOCK))
        return
    except DomainError as err:
        ack(response_action="errors", errors={ids.PROJECT_BLOCK_NAME: h.domain_message(err, lang, for_mrkdwn=False)})
        return
    ack()
    project, lang = saved.project, h.language_for(actor, saved.project)
    channel = f"<#{project.client_channel_id}>"
    name = safe(project.name, 200)
    if saved.intake_failed:
        text = t("project.intake_failed", lang, name=name, channel=channel)
    elif saved.created:
        text = t("project.created", lang, name=name, channel=channel)
    else:
        text = t("project.updated", lang, name=name)
    h.tell(deps, actor.user_id, meta.get("origin_channel") or project.client_channel_id, text)


def timezone_options(ack: Ack, payload: dict[str, Any]) -> None:
    query = (payload.get("value") or "").strip().lower().replace(" ", "_")
    names = calendar.timezone_names()
    matches = [tz for tz in names if query in tz.lower()] if query else names
    ack(options=[option(tz, tz) for tz in matches[:100]])


def calendar_options(ack: Ack, body: dict[str, Any], payload: dict[str, Any], context: BoltContext) -> None:
    """The public-holiday calendar picker's options, in the language of the form (else of the
    person typing)."""
    view = body.get("view")
    shown = h.metadata(view).get("lang") if isinstance(view, dict) else None
    lang = shown if shown in LANGUAGES else h.language_for(h.actor_of(h.deps_of(context), body))
    typed = payload.get("value")
    ack(options=calendar_options_for(typed if isinstance(typed, str) else "", lang))


def _open_close_modal(deps: Deps, body: dict[str, Any], channel_id: str | None, lang: str) -> None:
    form = reports_flow.close_form(deps, channel_id)
    if form is None:
        return
    view = close_modal(form.project.name, lang, where=form.where,
                       metadata={"project_id": form.project.id, "origin_channel": channel_id})
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_close(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """The close form: close the project with the PM's retrospective note (both parts optional)."""
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    lang = h.language_for(actor)
    if not actor.is_team:
        ack(response_action="errors", errors={ids.PROJECT_CLOSE_BLOCK_WENT_WELL: t("common.refused_team_only", lang)})
        return
    meta = h.metadata(view)
    values = h.view_values(view)
    project_id = h.as_id(meta.get("project_id"))
    origin = meta.get("origin_channel") if isinstance(meta.get("origin_channel"), str) else None
    try:
        if project_id is None:
            raise NotFound("common.not_found")
        closed = reports_flow.close(deps, user_id=actor.user_id, project_id=project_id, channel_id=origin,
                                    went_well=h.text_value(values, ids.PROJECT_CLOSE_BLOCK_WENT_WELL),
                                    to_improve=h.text_value(values, ids.PROJECT_CLOSE_BLOCK_TO_IMPROVE))
    except DomainError as err:
        ack(response_action="errors",
            errors={ids.PROJECT_CLOSE_BLOCK_WENT_WELL: h.domain_message(err, lang, for_mrkdwn=False)})
        return
    ack()
    project = closed.project
    text = t("reports.closed", h.language_for(actor, project), name=safe(project.name, 200),
             user=mention(actor.user_id), where=closed.where)
    h.tell(deps, actor.user_id, origin or project.client_channel_id, text)


def confirm_close(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The *Close project* button of an older confirmation: closes without a retrospective note."""
    clicked = h.team_click(ack, body, context, respond)
    if clicked is None:
        return
    deps, actor = clicked
    lang = h.language_for(actor)
    project_id = h.action_int(body)
    if project_id is None:
        respond(**h.refusal("common.not_found", lang), replace_original=False)
        return
    try:
        closed = reports_flow.close(deps, user_id=actor.user_id, project_id=project_id, channel_id=h.channel_of(body))
    except DomainError as err:
        respond(**h.message(h.domain_message(err, lang)), replace_original=True)
        return
    project = closed.project
    text = t("reports.closed", h.language_for(actor, project), name=safe(project.name, 200),
             user=mention(actor.user_id), where=closed.where)
    respond(**h.message(text), replace_original=True)


ROUTES = Routes(
    commands={"/project": project_command},
    views={ids.PROJECT_MODAL: submit_project, ids.PROJECT_CLOSE_MODAL: submit_close},
    options={ids.PROJECT_TZ_ACTION: timezone_options, ids.PROJECT_CALENDAR_ACTION: calendar_options},
    actions={ids.PROJECT_CLOSE_CONFIRM: confirm_close},
)
