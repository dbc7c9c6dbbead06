"""`/digest`, the PM preview's buttons (post now, add a note, skip) and reminder snoozes."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from sqlmodel import select

from bot.blocks import ids
from bot.blocks.digest import digest_message
from bot.blocks.text import INPUT_LABEL, MODAL_BUTTON, MODAL_TITLE, channel_link, mrkdwn, plain_text, safe
from bot.handlers import intake
from bot.handlers.common import (
    action_value,
    actor_of,
    as_id,
    channel_of,
    deps_of,
    language_for,
    message,
    metadata,
    project_of_channel,
    refusal,
    text_value,
    view_values,
)
from bot.i18n import t
from bot.jobs.weekly_digest import digest_key, post_now
from bot.models import DigestWeek, Project, ProjectStatus
from bot.services import calendar, digests, outbox, reminders
from bot.services.errors import NotFound

NOTE_MAX = 1000


def register(app: App) -> None:
    app.command("/digest")(digest_command)
    app.action(ids.DIGEST_POST_NOW)(preview_post_now)
    app.action(ids.DIGEST_SKIP)(preview_skip)
    app.action(ids.DIGEST_ADD_NOTE)(preview_add_note)
    app.view(ids.DIGEST_NOTE_MODAL)(submit_note)
    app.action(ids.REMINDER_SNOOZE)(snooze_item)


def _current_week(project: Project, deps: Any) -> str:
    return calendar.week_key(calendar.week_start(calendar.today(project, deps.clock.now())))


def digest_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    project = project_of_channel(deps, channel_of(body))
    lang = language_for(actor, project)
    if not actor.is_team:
        ack(refusal("common.refused_team_only", lang))
        return
    words = (body.get("text") or "").split()
    sub = words[0].lower() if words else "help"
    if sub == "help":
        ack(message(t("digest.help", lang)))
        return
    if sub not in {"preview", "send"}:
        ack(message(t("digest.unknown_subcommand", lang, sub=safe(sub, 30)) + "\n\n" + t("digest.help", lang)))
        return
    if project is None:
        ack(refusal("common.no_project_here", lang))
        return
    if project.status != ProjectStatus.active:
        ack(refusal("permissions.project_closed", lang))
        return
    ack()
    week = _current_week(project, deps)
    if sub == "preview":
        with deps.session() as session:
            facts = digests.collect(session, [project], deps.clock.now(), weeks={project.id or 0: week})
        digest = digest_message(facts[project.id or 0], internal=False, intake_enabled=intake.enabled())
        intro = {"type": "context", "elements": [mrkdwn(t("digest.preview_ephemeral_intro", lang))]}
        respond(response_type="ephemeral", text=digest["text"], blocks=[intro, *digest["blocks"]][:50])
        return
    name = safe(project.name, 100)
    if post_now(deps, project, week):
        respond(**message(t("digest.posted", lang, name=name, channel=channel_link(project.client_channel_id))))
    else:
        respond(**message(t("digest.already_posted", lang, name=name)))


_WEEK = re.compile(r"^(\d{4})-W(\d{2})$", re.ASCII)


def parse_week(text: object) -> str | None:
    """An ISO week key ("2026-W47") from untrusted input, or None."""
    match = _WEEK.match(text) if isinstance(text, str) else None
    if match is None or not 2000 <= int(match.group(1)) <= 2999:
        return None
    try:
        date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        return None
    return text


def _preview_target(deps: Any, body: dict[str, Any]) -> tuple[Project, str]:
    """The project and week a preview button names; NotFound when tampered with or gone."""
    pid, _, week_text = action_value(body).partition(":")
    project_id, week = as_id(pid), parse_week(week_text)
    if project_id is None or week is None:
        raise NotFound("common.not_found")
    with deps.session() as session:
        project = session.get(Project, project_id)
    if project is None or project.team_id != deps.workspace.team_id:
        raise NotFound("common.not_found")
    return project, week


def _pm_only(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
             ) -> tuple[Any, Project, str] | None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    try:
        project, week = _preview_target(deps, body)
    except NotFound:
        respond(**refusal("common.not_found", language_for(actor)), replace_original=False)
        return None
    if actor.user_id != project.pm_user_id:
        respond(**refusal("digest.not_pm", project.language), replace_original=False)
        return None
    return deps, project, week


def preview_post_now(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    target = _pm_only(ack, body, context, respond)
    if target is None:
        return
    deps, project, week = target
    name = safe(project.name, 100)
    if post_now(deps, project, week, approved_by=project.pm_user_id):
        text = t("digest.posted", project.language, name=name, channel=channel_link(project.client_channel_id))
    else:
        text = t("digest.already_posted", project.language, name=name)
    respond(**message(text), replace_original=False)


def preview_skip(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    target = _pm_only(ack, body, context, respond)
    if target is None:
        return
    deps, project, week = target
    name = safe(project.name, 100)
    with deps.session() as session:
        if outbox.exists(session, digest_key(project.id or 0, week)) is not None:
            respond(**message(t("digest.already_posted", project.language, name=name)), replace_original=False)
            return
        dw = _digest_week(session, project, week)
        dw.skipped = True
        session.add(dw)
    respond(**message(t("digest.skipped", project.language, name=name)), replace_original=True)


def _digest_week(session: Any, project: Project, week: str) -> DigestWeek:
    dw = session.exec(select(DigestWeek).where(DigestWeek.project_id == project.id,
                                               DigestWeek.week == week)).first()
    if dw is None:
        year, wk = week.split("-W")
        monday = date.fromisocalendar(int(year), int(wk), 1)
        dw = DigestWeek(project_id=project.id or 0, week=week, due_at=calendar.digest_due_at(project, monday))
    return dw


def preview_add_note(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    target = _pm_only(ack, body, context, respond)
    if target is None:
        return
    deps, project, week = target
    lang = project.language
    with deps.session() as session:
        existing = _digest_week(session, project, week).note or ""
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": ids.VALUE, "multiline": True,
                               "max_length": NOTE_MAX}
    if existing:
        element["initial_value"] = existing
    deps.client.views_open(trigger_id=body["trigger_id"], view={
        "type": "modal",
        "callback_id": ids.DIGEST_NOTE_MODAL,
        "title": plain_text(t("digest.note_modal_title", lang), MODAL_TITLE),
        "submit": plain_text(t("common.save", lang), MODAL_BUTTON),
        "close": plain_text(t("common.cancel", lang), MODAL_BUTTON),
        "private_metadata": json.dumps({"project_id": project.id, "week": week}),
        "blocks": [{"type": "input", "block_id": ids.DIGEST_NOTE_BLOCK, "element": element,
                    "label": plain_text(t("digest.note_label", lang), INPUT_LABEL)}],
    })


def submit_note(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    meta = metadata(view)
    note = text_value(view_values(view), ids.DIGEST_NOTE_BLOCK).strip()
    lang = language_for(actor)
    if len(note) > NOTE_MAX:
        ack(response_action="errors", errors={ids.DIGEST_NOTE_BLOCK: t("common.error_too_long", lang, max=NOTE_MAX)})
        return
    pid, week = as_id(meta.get("project_id")), parse_week(meta.get("week"))
    with deps.session() as session:
        project = session.get(Project, pid) if pid is not None and week is not None else None
        if project is None or project.team_id != deps.workspace.team_id or actor.user_id != project.pm_user_id:
            ack(response_action="errors", errors={ids.DIGEST_NOTE_BLOCK: t("digest.not_pm", lang)})
            return
        dw = _digest_week(session, project, week)
        dw.note = note or None
        session.add(dw)
        lang = project.language
        name = safe(project.name, 100)
    ack()
    deps.client.chat_postMessage(channel=deps.client.conversations_open(users=actor.user_id)["channel"]["id"],
                                 text=t("digest.note_saved", lang, name=name))


def snooze_item(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    key, _, span = action_value(body).rpartition("|")
    lang = language_for(actor)
    if not key or span not in {"1d", "7d"} or len(key) > 80:
        respond(**refusal("common.not_found", lang), replace_original=False)
        return
    days = 1 if span == "1d" else 7
    with deps.session() as session:
        reminders.snooze(session, user_id=actor.user_id, item_key=key, until=deps.clock.now() + timedelta(days=days))
    respond(**message(t("reminders.snoozed_day" if days == 1 else "reminders.snoozed_week", lang)),
            replace_original=False)
