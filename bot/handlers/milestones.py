"""`/milestone`: add milestones, list the plan with progress and status, update one (team only).

Each listener parses the request, calls one use case of `bot.flows.milestones` and renders what
it returns (or its refusal). The update form carries the stamp of what it showed and sends back
only what it holds; the flow applies just the fields the person changed.

A new milestone dated in the past is accepted only on purpose: the first submission answers
with a warning next to the date (`response_action: errors`); submitting the same form again
with the same date saves it. The bot remembers, per open form (its view id), user and date,
which past date it warned about, for an hour.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.blocks import acceptance as acceptance_blocks
from bot.blocks import ids
from bot.blocks.common import PROJECT_PICKER_BLOCK
from bot.blocks.milestones import edit_modal, milestone_list, milestone_modal, pick_modal, progress_bar
from bot.blocks.pagination import page_state, pager
from bot.blocks.text import safe
from bot.flows import milestones as flow
from bot.flows.plan_scope import Refused
from bot.handlers.common import (
    as_id,
    deps_of,
    message,
    metadata,
    selected_date,
    selected_value,
    selected_values,
    tell,
    text_value,
    view_values,
)
from bot.handlers.plan_common import inline, open_from_click, said, who_of
from bot.handlers.routes import Routes
from bot.i18n import t
from bot.services.milestones import MilestoneInput

FIELDS = {
    "name": ids.MILESTONE_BLOCK_NAME,
    "due_date": ids.MILESTONE_BLOCK_DUE,
    "progress": ids.MILESTONE_BLOCK_PROGRESS,
    "description": ids.MILESTONE_BLOCK_DESCRIPTION,
    "done": ids.MILESTONE_BLOCK_DONE,
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


def milestone_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = deps_of(context)
    words = (body.get("text") or "").split()
    sub = words[0].lower() if words else ""
    who = who_of(deps, body, reach=True)
    try:
        start = flow.start(deps, who, sub)
    except Refused as refused:
        ack(said(refused))
        return
    lang = start.lang
    if sub == "help" or sub not in flow.SUBCOMMANDS:
        unknown = "" if sub == "help" else t("milestones.unknown_subcommand", lang, sub=safe(sub, 30)) + "\n\n"
        ack(message(unknown + t("milestones.help", lang)))
        return
    ack()
    if start.page is not None:
        respond(**_list_message(start.page, lang))
        return
    meta = {"project_id": start.project.id if start.project else None, "origin_channel": who.channel_id}
    if start.plan:
        view = pick_modal(lang, milestones=start.plan, metadata=meta)
    elif start.projects:
        view = milestone_modal(lang, projects=start.projects, metadata=meta)
    else:
        view = milestone_modal(lang, today=start.today, metadata=meta)
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_milestone(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    who = who_of(deps, body)
    meta, values = metadata(view), view_values(view)
    project_id = as_id(meta.get("project_id")) or as_id(selected_value(values, PROJECT_PICKER_BLOCK))
    data = MilestoneInput(
        name=text_value(values, ids.MILESTONE_BLOCK_NAME),
        due_date=selected_date(values, ids.MILESTONE_BLOCK_DUE),
        progress=text_value(values, ids.MILESTONE_BLOCK_PROGRESS),
        description=text_value(values, ids.MILESTONE_BLOCK_DESCRIPTION),
    )
    warning_key = (deps.workspace.team_id, who.user_id, str(view.get("id", "")), str(project_id), data.due_date or "")
    try:
        saved = flow.create(deps, who, project_id=project_id, data=data, allow_past_due=WARNINGS.seen(warning_key))
    except Refused as refused:
        errors = getattr(refused.error, "errors", {})
        if errors.get("due_date", ("",))[0] == "milestones.warning_past_due":
            WARNINGS.remember(warning_key)
        ack(inline(refused, FIELDS, ids.MILESTONE_BLOCK_NAME if meta.get("project_id") else PROJECT_PICKER_BLOCK))
        return
    ack()
    _tell_saved(deps, who.user_id, meta, saved, "milestones.created")


def edit_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Update* on a list entry: the update form for that milestone."""
    ack()
    open_from_click(body, context, respond, flow.open_form, lambda form, who: _edit_view(form, who.channel_id))


def submit_pick(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """`/milestone update`, step one: the chosen milestone's form replaces the picker."""
    deps = deps_of(context)
    meta = metadata(view)
    picked = as_id(selected_value(view_values(view), ids.MILESTONE_BLOCK_PICK))
    try:
        form = flow.pick(deps, who_of(deps, body), project_id=meta.get("project_id"), milestone_id=picked)
    except Refused as refused:
        ack(inline(refused, {}, ids.MILESTONE_BLOCK_PICK))
        return
    ack(response_action="update", view=_edit_view(form, meta.get("origin_channel")))


def _edit_view(form: flow.Form, origin: str | None) -> dict[str, Any]:
    return edit_modal(form.lang, milestone=form.milestone, metadata={
        "milestone_id": form.milestone.id, "origin_channel": origin, "stamp": form.stamp})


def _submitted(values: dict[str, Any]) -> dict[str, Any]:
    """The fields the update form sent back (an optional field it did not hold is not a change;
    the due date is required: without it the form is answered inline)."""
    out: dict[str, Any] = {"due_date": selected_date(values, ids.MILESTONE_BLOCK_DUE) or ""}
    if ids.MILESTONE_BLOCK_PROGRESS in values:
        out["progress"] = text_value(values, ids.MILESTONE_BLOCK_PROGRESS)
    if ids.MILESTONE_BLOCK_DONE in values:
        out["done"] = ids.MILESTONE_DONE_OPTION in selected_values(values, ids.MILESTONE_BLOCK_DONE)
    return out


def submit_edit(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    meta = metadata(view)
    stamp = meta.get("stamp") if isinstance(meta.get("stamp"), dict) else None
    who = who_of(deps, body)
    try:
        saved = flow.update(deps, who, milestone_id=as_id(meta.get("milestone_id")),
                            submitted=_submitted(view_values(view)), stamp=stamp)
    except Refused as refused:
        ack(inline(refused, FIELDS, ids.MILESTONE_BLOCK_DUE))
        return
    ack()
    _tell_saved(deps, who.user_id, meta, saved,
                "milestones.marked_done" if saved.became_done else "milestones.updated")


def _tell_saved(deps, user_id: str, meta: dict[str, Any], saved: flow.Saved, key: str) -> None:
    m, project = saved.milestone, saved.project
    text = t(key, saved.lang, name=safe(m.name, 200), date=m.due_date.isoformat(), bar=progress_bar(m.progress))
    blocks = acceptance_blocks.after_done_blocks(m, text, saved.lang) if saved.became_done else None
    tell(deps, user_id, meta.get("origin_channel") or project.internal_channel_id or project.client_channel_id, text,
         blocks)


def _list_message(page: flow.Page, lang: str) -> dict[str, Any]:
    project = page.project
    pages = pager(ids.MILESTONE_LIST_PAGE, page=page.page, total=page.total, per_page=flow.PER_PAGE, lang=lang,
                  state={"p": project.id}) if page.total > flow.PER_PAGE else []
    extras = {m.id or 0: acceptance_blocks.milestone_extras(m, page.acceptances.get(m.id or 0),
                                                            page.open_issues.get(m.id or 0, []), project, lang,
                                                            can_act=page.can_edit) for m, _ in page.items}
    blocks = milestone_list(project, page.items, lang, today=page.today, can_edit=page.can_edit, pager_blocks=pages,
                            extras=extras)
    return message(t("milestones.list_text", lang, project=safe(project.name, 200), count=page.total), blocks)


def list_page_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    state = page_state((body.get("actions") or [{}])[0].get("value"))
    try:
        page = flow.list_page(deps, who_of(deps, body), state.get("p"), state["page"])
    except Refused as refused:
        respond(**said(refused), replace_original=False)
        return
    respond(**_list_message(page, page.project.language), replace_original=True)


ROUTES = Routes(
    commands={"/milestone": milestone_command},
    views={ids.MILESTONE_MODAL: submit_milestone, ids.MILESTONE_PICK_MODAL: submit_pick,
           ids.MILESTONE_EDIT_MODAL: submit_edit},
    actions={ids.MILESTONE_EDIT: edit_clicked, ids.MILESTONE_LIST_PAGE: list_page_clicked},
)
