"""`/digest`, the PM's digest buttons (post now, add a note, skip), a team member's confirmation
of `/digest send`, and reminder snoozes.

Each listener parses the payload, calls one flow (`bot.flows.digest`, `bot.flows.reminders`)
and renders its result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.blocks import ids
from bot.blocks.digest import digest_message, note_modal, send_confirmation
from bot.blocks.text import channel_link, mrkdwn, safe
from bot.deps import Deps
from bot.flows import digest as flow
from bot.flows import projects as project_flow
from bot.flows import reminders as reminder_flow
from bot.handlers import common as h
from bot.handlers.routes import Routes
from bot.i18n import t
from bot.models import Project
from bot.services.errors import DomainError

SNOOZE_KEY_MAX = 80


def digest_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    sub = h.subcommand(body)
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    channel_id = h.channel_of(body)
    if not actor.is_team or sub not in {"preview", "send"}:
        lang = h.language_for(actor, project_flow.here(deps, channel_id))
        if not actor.is_team:
            ack(h.refusal("common.refused_team_only", lang))
        elif sub == "help":
            ack(h.message(t("digest.help", lang)))
        else:
            ack(h.message(t("digest.unknown_subcommand", lang, sub=safe(sub, 30)) + "\n\n" + t("digest.help", lang)))
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


def _no_digest(project: Project | None, actor: h.Actor) -> dict[str, Any]:
    if project is None:
        return h.refusal("common.no_project_here", h.language_for(actor))
    return h.refusal("permissions.project_closed", h.language_for(actor, project))


def _answer_send(respond: Respond, actor: h.Actor, sent: flow.Sent, *, replace: bool = False) -> None:
    project = sent.project
    if sent.status in ("no_project", "closed") or project is None:
        respond(**_no_digest(project, actor), replace_original=False)
        return
    lang, name = h.language_for(actor, project), safe(project.name, 100)  # the reader's language
    if sent.status == "confirm":
        respond(**send_confirmation(project, sent.week, sent.overrides, lang), replace_original=False)
    elif sent.status == "posted":
        respond(**h.message(t("digest.posted", lang, name=name, channel=channel_link(project.client_channel_id))),
                replace_original=replace)
    else:
        respond(**h.message(t("digest.already_posted", lang, name=name)), replace_original=replace)


def _week_button(body: dict[str, Any], respond: Respond, actor: h.Actor) -> tuple[int, str] | None:
    """(project id, week) a digest button names; refused when tampered with."""
    parsed = ids.parse_week_value(h.action_value(body))
    if parsed is None:
        respond(**h.refusal("common.not_found", h.language_for(actor)), replace_original=False)
    return parsed


def confirm_send(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """A team member confirms their `/digest send` (from the ephemeral in the project's channel)."""
    clicked = h.team_click(ack, body, context, respond)
    if clicked is None:
        return
    deps, actor = clicked
    parsed = _week_button(body, respond, actor)
    if parsed is not None:
        sent = flow.send(deps, user_id=actor.user_id, channel_id=h.channel_of(body), project_id=parsed[0],
                         week=parsed[1], confirmed=True)
        _answer_send(respond, actor, sent, replace=True)


def cancel_send(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    respond(**h.message(t("digest.send_cancelled", h.language_for(h.actor_of(h.deps_of(context), body)))),
            replace_original=True)


def _pm_click(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond,
              act: Callable[[Deps, h.Actor, int, str], None]) -> None:
    """A PM's button about one week's digest: parse it, call the flow, answer a refusal."""
    ack()
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    parsed = _week_button(body, respond, actor)
    if parsed is None:
        return
    try:
        act(deps, actor, *parsed)
    except DomainError as err:
        respond(**h.message(h.domain_message(err, h.language_for(actor))), replace_original=False)


def preview_post_now(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    def act(deps: Deps, actor: h.Actor, project_id: int, week: str) -> None:
        _answer_send(respond, actor, flow.post_now(deps, user_id=actor.user_id, project_id=project_id, week=week))

    _pm_click(ack, body, context, respond, act)


def preview_skip(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    def act(deps: Deps, actor: h.Actor, project_id: int, week: str) -> None:
        project = flow.skip(deps, user_id=actor.user_id, project_id=project_id, week=week)
        respond(**h.message(t("digest.skipped", h.language_for(actor, project), name=safe(project.name, 100))),
                replace_original=True)

    _pm_click(ack, body, context, respond, act)


def preview_add_note(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    def act(deps: Deps, actor: h.Actor, project_id: int, week: str) -> None:
        project, note = flow.note_of(deps, user_id=actor.user_id, project_id=project_id, week=week)
        deps.client.views_open(trigger_id=body["trigger_id"],
                               view=note_modal(project, week, note, max_length=flow.NOTE_MAX,
                                               lang=h.language_for(actor, project)))

    _pm_click(ack, body, context, respond, act)


def submit_note(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    meta = h.metadata(view)
    note = h.text_value(h.view_values(view), ids.DIGEST_NOTE_BLOCK).strip()
    lang = h.language_for(actor)
    if len(note) > flow.NOTE_MAX:
        ack(response_action="errors",
            errors={ids.DIGEST_NOTE_BLOCK: t("common.error_too_long", lang, max=flow.NOTE_MAX)})
        return
    project_id, week = h.as_id(meta.get("project_id")), ids.parse_week(meta.get("week"))
    try:
        if project_id is None or week is None:
            raise DomainError("digest.not_pm")
        project = flow.save_note(deps, user_id=actor.user_id, project_id=project_id, week=week, note=note)
    except DomainError:
        ack(response_action="errors", errors={ids.DIGEST_NOTE_BLOCK: t("digest.not_pm", lang)})
        return
    ack()
    h.tell(deps, actor.user_id, None, t("digest.note_saved", h.language_for(actor, project),
                                        name=safe(project.name, 100)))


def snooze_item(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    key, _, span = h.action_value(body).rpartition("|")
    lang = h.language_for(actor)
    if not key or span not in reminder_flow.SNOOZES or len(key) > SNOOZE_KEY_MAX:
        respond(**h.refusal("common.not_found", lang), replace_original=False)
        return
    reminder_flow.snooze(deps, user_id=actor.user_id, item_key=key, span=span)
    respond(**h.message(t("reminders.snoozed_day" if span == "1d" else "reminders.snoozed_week", lang)),
            replace_original=False)


ROUTES = Routes(
    commands={"/digest": digest_command},
    actions={ids.DIGEST_POST_NOW: preview_post_now, ids.DIGEST_SKIP: preview_skip,
             ids.DIGEST_ADD_NOTE: preview_add_note, ids.DIGEST_SEND_CONFIRM: confirm_send,
             ids.DIGEST_SEND_CANCEL: cancel_send, ids.REMINDER_SNOOZE: snooze_item},
    views={ids.DIGEST_NOTE_MODAL: submit_note},
)
