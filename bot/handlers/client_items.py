"""`/client` and the client item buttons: each listener parses the payload, calls one use case
of `bot.flows.client_items` and renders its result. What only the person reads (answers, lists,
forms, refusals) is in their language (`h.language_for`: their Slack locale, else the project's);
the item as the client channel shows it stays in the project's."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.blocks import client_items as cb
from bot.blocks import ids
from bot.blocks.pagination import page_state
from bot.blocks.text import from_slack_text, safe
from bot.deps import Deps
from bot.flows import client_items as flow
from bot.handlers import common as h
from bot.handlers.common import Actor
from bot.handlers.routes import Routes
from bot.i18n import person_language, t
from bot.services import client_items
from bot.services.errors import ValidationFailed

SUBCOMMANDS = ("list", "export", "help")
FIELD_TO_BLOCK = {"title": ids.CLIENT_BLOCK_TITLE, "details": ids.CLIENT_BLOCK_DETAILS,
                  "owner": ids.CLIENT_BLOCK_OWNER, "due_date": ids.CLIENT_BLOCK_DUE,
                  "milestone": ids.CLIENT_BLOCK_MILESTONE}
EXTEND_FIELDS = {"due_date": ids.CLIENT_BLOCK_NEW_DUE, "note": ids.CLIENT_BLOCK_NOTE}
ACTIONS = {ids.CLIENT_DONE: "done", ids.CLIENT_RECEIVED: "receive", ids.CLIENT_CANCEL: "cancel"}


def _why(actor: Actor, refused: flow.Refused, *, plain: bool = False) -> str:
    lang = person_language(actor.locale, refused.language)  # the reader's language
    if isinstance(refused.error, ValidationFailed):
        return "\n".join(h.view_errors(refused.error, lang).values())
    return h.domain_message(refused.error, lang, for_mrkdwn=not plain)


def _buttons(result: Any):
    return lambda item: cb.buttons_for(item, is_team=result.is_team, for_client=result.for_client)


def _list_message(result: Any, page: flow.Page, lang: str, notice: str | None = None) -> dict[str, Any]:
    """The list, in the reader's `lang`."""
    project = result.project
    return h.message(cb.list_text(project, lang), cb.list_blocks(
        page.items, project, lang, total=page.total, page=page.page, status_filter=page.status_filter,
        today=result.today, buttons=_buttons(result), milestone_names=page.milestone_names, notice=notice))


def _item_message(shown: flow.Shown, note: str, lang: str) -> dict[str, Any]:
    """The item with what came of the person's action, in the reader's `lang`."""
    blocks = cb.item_blocks(shown.item, shown.project, lang, today=shown.today,
                            buttons=_buttons(shown)(shown.item), milestone_name=shown.milestone_name)
    return h.message(note, [{"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}, *blocks])


# /client ------------------------------------------------------------------------------------


def client_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    channel_id = h.channel_of(body)
    text = from_slack_text(body.get("text") or "").strip()
    words = text.split()
    sub = words[0].lower() if words else ""
    if not words or (sub == "export" and len(words) == 1):  # answered at once; the rest by response_url
        ack(**(h.message(t("client_items.export_working", h.language_for(actor))) if words else {}))
        ack = respond  # type: ignore[assignment]
    try:
        if not words:
            form = flow.open_form(deps, actor, channel_id)
            _open_form(deps, body, form, channel_id, h.language_for(actor, form.project))
        elif sub == "list" and len(words) <= 2:
            word = words[1] if len(words) == 2 else ""
            status_filter = flow.parse_filter(word)
            if status_filter is None:
                lang = h.language_for(actor, flow.project_here(deps, channel_id))
                ack(h.refusal("client_items.error_filter", lang, word=safe(word, 30)))
                return
            listing = flow.listing(deps, actor, channel_id, status_filter)
            ack(_list_message(listing, listing.page, h.language_for(actor, listing.project)))
        elif sub == "export" and len(words) == 1:
            done = flow.export(deps, actor, channel_id)
            lang, name = h.language_for(actor, done.project), safe(done.project.name, 200)
            respond(**(h.refusal("client_items.export_failed", lang, error=safe(done.error, 100)) if done.error
                       else h.message(t("client_items.export_sent", lang, name=name))))
        elif len(words) <= 2 and difflib.get_close_matches(sub, SUBCOMMANDS, n=1, cutoff=0.75):
            lang = h.language_for(actor, flow.project_here(deps, channel_id))
            help_only = sub == "help" and len(words) == 1
            unknown = "" if help_only else t("client_items.unknown_subcommand", lang, sub=safe(sub, 30)) + "\n\n"
            ack(h.message(unknown + t("client_items.help", lang)))
        else:
            title = client_items.clean_title(text)
            if len(title) > client_items.TITLE_MAX:
                lang = h.language_for(actor, flow.project_here(deps, channel_id))
                ack(h.refusal("client_items.error_quick_too_long", lang, max=client_items.TITLE_MAX,
                              length=len(title)))
                return
            shown = flow.quick(deps, actor, channel_id, title)
            lang = h.language_for(actor, shown.project)
            ack(_item_message(shown, cb.outcome_note("created", shown.item, shown.project, user=actor.user_id,
                                                     lang=lang), lang))
    except flow.Refused as refused:
        ack(h.message(_why(actor, refused)))


def _open_form(deps: Deps, body: dict[str, Any], form: flow.Form, channel_id: str | None, lang: str) -> None:
    project = form.project
    view = cb.client_modal(lang, metadata={"project_id": project.id, "origin_channel": channel_id},
                           project=project, owners=form.owners, milestones=form.milestones,
                           default_due=form.default_due)
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_item(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    meta, values = h.metadata(view), h.view_values(view)
    owner = h.selected_value(values, ids.CLIENT_BLOCK_OWNER)
    data = client_items.ItemInput(
        title=h.text_value(values, ids.CLIENT_BLOCK_TITLE), details=h.text_value(values, ids.CLIENT_BLOCK_DETAILS),
        owner_user_id=None if owner == "-" else owner, due_date=h.selected_date(values, ids.CLIENT_BLOCK_DUE),
        milestone_id=h.as_id(h.selected_value(values, ids.CLIENT_BLOCK_MILESTONE)))
    try:
        shown = flow.save(deps, actor, project_id=h.as_id(meta.get("project_id")), data=data)
    except flow.Refused as refused:
        lang = person_language(actor.locale, refused.language)  # the reader's language
        errors = h.view_errors(refused.error, lang, FIELD_TO_BLOCK) if isinstance(refused.error, ValidationFailed) \
            else {ids.CLIENT_BLOCK_TITLE: _why(actor, refused, plain=True)[:2000]}
        ack(response_action="errors", errors=errors)
        return
    ack()
    lang = h.language_for(actor, shown.project)
    note = cb.outcome_note("created", shown.item, shown.project, user=actor.user_id, lang=lang)
    msg = _item_message(shown, note, lang)
    h.tell(deps, actor.user_id, meta.get("origin_channel") or shown.project.client_channel_id, msg["text"],
           msg["blocks"])


def submit_extension(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """*Need more time* submitted, on the version the button showed."""
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    meta, values = h.metadata(view), h.view_values(view)
    try:
        shown = flow.extend(deps, actor, h.as_id(meta.get("item_id")), h.as_id(meta.get("version")),
                            new_due=h.selected_date(values, ids.CLIENT_BLOCK_NEW_DUE),
                            note=h.text_value(values, ids.CLIENT_BLOCK_NOTE))
    except flow.Refused as refused:
        lang = person_language(actor.locale, refused.language)  # the reader's language
        errors = h.view_errors(refused.error, lang, EXTEND_FIELDS) if isinstance(refused.error, ValidationFailed) \
            else {ids.CLIENT_BLOCK_NEW_DUE: _why(actor, refused, plain=True)[:2000]}
        ack(response_action="errors", errors=errors)
        return
    item, project = shown.item, shown.project
    lang = h.language_for(actor, project)
    if shown.outdated or shown.refused is not None:
        reason = t("client_items.outdated", lang, ref=cb.ref(item)) if shown.outdated else \
            h.domain_message(shown.refused, lang, for_mrkdwn=False)  # type: ignore[arg-type]
        ack(response_action="errors", errors={ids.CLIENT_BLOCK_NEW_DUE: reason[:2000]})
        return
    ack()
    h.tell(deps, actor.user_id, meta.get("origin_channel") or project.client_channel_id,
           cb.outcome_note("extend", item, project, user=actor.user_id, on_behalf=shown.on_behalf, lang=lang))


# Buttons ------------------------------------------------------------------------------------


@dataclass
class Click:
    deps: Deps
    actor: Actor
    body: dict[str, Any]
    respond: Respond
    item_id: int | None
    version: int | None
    where: str
    channel_id: str | None

    @property
    def from_home(self) -> bool:
        view = self.body.get("view")
        return isinstance(view, dict) and view.get("type") == "home"

    def say(self, msg: dict[str, Any], *, replace: bool = False) -> None:
        if self.from_home or self.respond is None:
            h.tell(self.deps, self.actor.user_id, None, msg["text"], msg.get("blocks"))
        else:
            self.respond(**msg, replace_original=replace)


def _click(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> Click:
    ack()
    deps = h.deps_of(context)
    item_id, version = ids.parse_decision_value(h.action_value(body)) or (None, None)
    return Click(deps=deps, actor=h.actor_of(deps, body), body=body, respond=respond, item_id=item_id,
                 version=version, where=cb.parse_item_block_id(h.first_action(body).get("block_id")),
                 channel_id=h.channel_of(body))


def _show(c: Click, use_case: Any, *args: Any) -> flow.Shown | None:
    """Call the use case and show what came of it; None when it changed nothing."""
    try:
        shown = use_case(c.deps, c.actor, *args)
    except flow.Refused as refused:
        c.say(h.message(_why(c.actor, refused)))
        return None
    item, project = shown.item, shown.project
    lang = h.language_for(c.actor, project)  # all of it is the clicker's alone
    if shown.outdated:
        c.say(cb.outdated_message(item, project, today=shown.today, extensions=shown.extensions,
                                  milestone_name=shown.milestone_name, lang=lang))
    elif shown.refused is not None:
        c.say(h.message(cb.refusal_text(item, project, h.domain_message(shown.refused, lang), lang)))
    elif shown.done:
        note = cb.outcome_note(shown.done, item, project, user=c.actor.user_id, on_behalf=shown.on_behalf,
                               lang=lang)
        if shown.page is not None:
            c.say(_list_message(shown, shown.page, lang, notice=note), replace=True)
        elif c.where == "item":
            c.say(_item_message(shown, note, lang), replace=True)
        else:
            c.say(h.message(note))
    return None if shown.outdated or shown.refused is not None else shown


def action_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Done (the client's side), Received and Cancel (the team)."""
    c = _click(ack, body, context, respond)
    _show(c, flow.act, ACTIONS[h.first_action(body).get("action_id", "")], c.item_id, c.version, c.channel_id,
          c.where)


def more_time_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Need more time: the form for a new date and a note, for the version shown."""
    c = _click(ack, body, context, respond)
    shown = _show(c, flow.open_extend, c.item_id, c.version, c.channel_id, c.where)
    if shown is not None and shown.suggested_due is not None:
        meta = {"item_id": shown.item.id, "version": shown.item.version, "origin_channel": c.channel_id}
        c.deps.client.views_open(trigger_id=body["trigger_id"], view=cb.extend_modal(
            shown.item, h.language_for(c.actor, shown.project), metadata=meta, suggested=shown.suggested_due))


def list_page_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    state = page_state(h.action_value(body))
    status_filter = state.get("s") if state.get("s") in flow.FILTERS else "open"
    try:
        listing = flow.listing(deps, actor, h.channel_of(body), status_filter, state["page"])
    except flow.Refused as refused:
        respond(**h.message(_why(actor, refused)), replace_original=False)
        return
    respond(**_list_message(listing, listing.page, h.language_for(actor, listing.project)), replace_original=True)


ROUTES = Routes(
    commands={"/client": client_command},
    views={ids.CLIENT_MODAL: submit_item, ids.CLIENT_EXTEND_MODAL: submit_extension},
    actions={**dict.fromkeys(ACTIONS, action_button), ids.CLIENT_MORE_TIME: more_time_button,
             ids.CLIENT_LIST_PAGE: list_page_button},
)
