"""`/digest`, the PM's digest buttons (post now, add a note, skip), a team member's confirmation
of `/digest send`, and reminder snoozes.

Each listener parses the payload, calls one flow (`bot.flows.digest`, `bot.flows.reminders`)
and renders its result.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.blocks import ids
from bot.blocks.digest import digest_message, note_modal, send_confirmation
from bot.blocks.text import channel_link, mrkdwn, safe
from bot.flows import digest as flow
from bot.flows import projects as project_flow
from bot.flows import reminders as reminder_flow
from bot.handlers.common import (
    Actor,
    action_value,
    actor_of,
    as_id,
    channel_of,
    deps_of,
    domain_message,
    language_for,
    message,
    metadata,
    refusal,
    tell,
    text_value,
    view_values,
)
from bot.i18n import t
from bot.models import Project
from bot.services.errors import DomainError

SNOOZE_KEY_MAX = 80


def register(app: App) -> None:
    app.command("/digest")(digest_command)
    app.action(ids.DIGEST_POST_NOW)(preview_post_now)
    app.action(ids.DIGEST_SKIP)(preview_skip)
    app.action(ids.DIGEST_ADD_NOTE)(preview_add_note)
    app.view(ids.DIGEST_NOTE_MODAL)(submit_note)
    app.action(ids.DIGEST_SEND_CONFIRM)(confirm_send)
    app.action(ids.DIGEST_SEND_CANCEL)(cancel_send)
    app.action(ids.REMINDER_SNOOZE)(snooze_item)


def digest_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    channel_id = channel_of(body)
    words = (body.get("text") or "").split()
    sub = words[0].lower() if words else "help"
    if not actor.is_team or sub not in {"preview", "send"}:
        lang = language_for(actor, project_flow.here(deps, channel_id))
        if not actor.is_team:
            ack(refusal("common.refused_team_only", lang))
        elif sub == "help":
            ack(message(t("digest.help", lang)))
        else:
            ack(message(t("digest.unknown_subcommand", lang, sub=safe(sub, 30)) + "\n\n" + t("digest.help", lang)))
        return
    ack()
    if sub == "preview":
        shown = flow.preview(deps, channel_id)
        if shown.facts is None:
            respond(**_no_digest(shown.project, actor))
            return
        digest = digest_message(shown.facts, internal=False)
        lang = shown.facts.project.language
        intro = {"type": "context", "elements": [mrkdwn(t("digest.preview_ephemeral_intro", lang))]}
        respond(response_type="ephemeral", text=digest["text"], blocks=[intro, *digest["blocks"]][:50])
        return
    _answer_send(respond, actor, flow.send(deps, user_id=actor.user_id, channel_id=channel_id))


def _no_digest(project: Project | None, actor: Actor) -> dict[str, Any]:
    if project is None:
        return refusal("common.no_project_here", language_for(actor))
    return refusal("permissions.project_closed", project.language)


def _answer_send(respond: Respond, actor: Actor, sent: flow.Sent, *, replace: bool = False) -> None:
    project = sent.project
    if sent.status in ("no_project", "closed") or project is None:
        respond(**_no_digest(project, actor), replace_original=False)
        return
    lang, name = project.language, safe(project.name, 100)
    if sent.status == "confirm":
        respond(**send_confirmation(project, sent.week, sent.overrides, lang), replace_original=False)
    elif sent.status == "posted":
        respond(**message(t("digest.posted", lang, name=name, channel=channel_link(project.client_channel_id))),
                replace_original=replace)
    else:
        respond(**message(t("digest.already_posted", lang, name=name)), replace_original=replace)


def _week_button(body: dict[str, Any], respond: Respond, actor: Actor) -> tuple[int, str] | None:
    """(project id, week) a digest button names; refused when tampered with."""
    parsed = ids.parse_week_value(action_value(body))
    if parsed is None:
        respond(**refusal("common.not_found", language_for(actor)), replace_original=False)
    return parsed


def confirm_send(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """A team member confirms their `/digest send` (from the ephemeral in the project's channel)."""
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    if not actor.is_team:
        respond(**refusal("common.refused_team_only", language_for(actor)), replace_original=False)
        return
    parsed = _week_button(body, respond, actor)
    if parsed is not None:
        sent = flow.send(deps, user_id=actor.user_id, channel_id=channel_of(body), project_id=parsed[0],
                         week=parsed[1], confirmed=True)
        _answer_send(respond, actor, sent, replace=True)


def cancel_send(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    respond(**message(t("digest.send_cancelled", language_for(actor_of(deps_of(context), body)))),
            replace_original=True)


def preview_post_now(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    parsed = _week_button(body, respond, actor)
    if parsed is None:
        return
    try:
        sent = flow.post_now(deps, user_id=actor.user_id, project_id=parsed[0], week=parsed[1])
    except DomainError as err:
        respond(**message(domain_message(err, language_for(actor))), replace_original=False)
        return
    _answer_send(respond, actor, sent)


def preview_skip(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    parsed = _week_button(body, respond, actor)
    if parsed is None:
        return
    try:
        project = flow.skip(deps, user_id=actor.user_id, project_id=parsed[0], week=parsed[1])
    except DomainError as err:
        respond(**message(domain_message(err, language_for(actor))), replace_original=False)
        return
    respond(**message(t("digest.skipped", project.language, name=safe(project.name, 100))), replace_original=True)


def preview_add_note(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    parsed = _week_button(body, respond, actor)
    if parsed is None:
        return
    try:
        project, note = flow.note_of(deps, user_id=actor.user_id, project_id=parsed[0], week=parsed[1])
    except DomainError as err:
        respond(**message(domain_message(err, language_for(actor))), replace_original=False)
        return
    deps.client.views_open(trigger_id=body["trigger_id"],
                           view=note_modal(project, parsed[1], note, max_length=flow.NOTE_MAX))


def submit_note(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    meta = metadata(view)
    note = text_value(view_values(view), ids.DIGEST_NOTE_BLOCK).strip()
    lang = language_for(actor)
    if len(note) > flow.NOTE_MAX:
        ack(response_action="errors",
            errors={ids.DIGEST_NOTE_BLOCK: t("common.error_too_long", lang, max=flow.NOTE_MAX)})
        return
    project_id, week = as_id(meta.get("project_id")), ids.parse_week(meta.get("week"))
    try:
        if project_id is None or week is None:
            raise DomainError("digest.not_pm")
        project = flow.save_note(deps, user_id=actor.user_id, project_id=project_id, week=week, note=note)
    except DomainError:
        ack(response_action="errors", errors={ids.DIGEST_NOTE_BLOCK: t("digest.not_pm", lang)})
        return
    ack()
    tell(deps, actor.user_id, None, t("digest.note_saved", project.language, name=safe(project.name, 100)))


def snooze_item(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    key, _, span = action_value(body).rpartition("|")
    lang = language_for(actor)
    if not key or span not in reminder_flow.SNOOZES or len(key) > SNOOZE_KEY_MAX:
        respond(**refusal("common.not_found", lang), replace_original=False)
        return
    reminder_flow.snooze(deps, user_id=actor.user_id, item_key=key, span=span)
    respond(**message(t("reminders.snoozed_day" if span == "1d" else "reminders.snoozed_week", lang)),
            replace_original=False)
