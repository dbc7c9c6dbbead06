"""`/req` and the requirement buttons: each listener parses the payload, calls one use case of
`bot.flows.requirements` and renders its result (capture by modal, quick text or the client's
intake button; edit; send for confirmation; the client's decision; team actions; list; export)."""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.blocks import ids
from bot.blocks import requirements as rb
from bot.blocks.common import PROJECT_PICKER_BLOCK
from bot.blocks.pagination import page_state
from bot.blocks.text import from_slack_text, safe
from bot.deps import Deps
from bot.flows import requirements as flow
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
    refusal,
    selected_value,
    tell,
    text_value,
    view_errors,
    view_values,
)
from bot.i18n import t
from bot.services import requirements
from bot.services.errors import DomainError, ValidationFailed
from bot.services.export_requirements import ref

log = logging.getLogger(__name__)

SUBCOMMANDS = ("list", "export", "help")
FIELD_TO_BLOCK = {"title": ids.REQ_BLOCK_TITLE, "description": ids.REQ_BLOCK_DESCRIPTION,
                  "priority": ids.REQ_BLOCK_PRIORITY, "acceptance_criteria": ids.REQ_BLOCK_ACCEPTANCE,
                  "project": PROJECT_PICKER_BLOCK}
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


def _refused(actor: Actor, err: Exception) -> tuple[DomainError, str]:
    """The domain error behind a refusal, and the language to word it in."""
    if isinstance(err, flow.Refused):
        return err.error, err.language or language_for(actor)
    assert isinstance(err, DomainError)
    return err, language_for(actor)


def _viewer_buttons(result: Any):
    return lambda req: rb.buttons_for(req, is_team=result.is_team, can_decide=result.can_decide)


def _list_message(listing: Any, page: flow.Page, lang: str, notice: str | None = None) -> dict[str, Any]:
    return message(rb.list_text(listing.project, lang), rb.list_blocks(
        page.items, listing.project, lang, total=page.total, page=page.page, status_filter=page.status_filter,
        buttons=_viewer_buttons(listing), notice=notice))


# /req ----------------------------------------------------------------------------------------


def req_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    channel_id = channel_of(body)
    text = from_slack_text(body.get("text") or "").strip()
    words = text.split()
    sub = words[0].lower() if words else ""
    if not words:  # the form: acknowledged at once, a refusal follows by response_url
        ack()
        ack = respond  # type: ignore[assignment]
    try:
        if not words:
            _open_form(deps, body, actor, flow.open_capture(deps, actor, channel_id), channel_id, title="")
        elif sub == "list" and len(words) <= 2:
            word = words[1] if len(words) == 2 else ""
            _command_list(ack, actor, flow.listing(deps, actor, channel_id, flow.parse_filter(word)), word)
        elif sub == "export" and len(words) == 1:
            _export(ack, deps, actor, respond, channel_id)
        elif len(words) <= 2 and difflib.get_close_matches(sub, SUBCOMMANDS, n=1, cutoff=0.75):
            lang = language_for(actor, flow.project_here(deps, channel_id))
            help_only = sub == "help" and len(words) == 1
            unknown = "" if help_only else t("requirements.unknown_subcommand", lang, sub=safe(sub, 30)) + "\n\n"
            ack(message(unknown + t("requirements.help", lang)))
        else:
            _quick_capture(ack, deps, body, actor, channel_id, requirements.clean_title(text))
    except (DomainError, flow.Refused) as exc:
        err, lang = _refused(actor, exc)
        ack(message("\n".join(view_errors(err, lang).values()) if isinstance(err, ValidationFailed)
                    else domain_message(err, lang)))


def _open_form(deps: Deps, body: dict[str, Any], actor: Actor, capture: flow.Capture, channel_id: str | None, *,
               title: str, via: str | None = None) -> None:
    meta: dict[str, Any] = {"project_id": capture.project.id if capture.project else None,
                            "origin_channel": channel_id}
    if via:
        meta["via"] = via
    lang = language_for(actor, capture.project)
    view = rb.requirement_modal(lang, metadata=meta, project=capture.project, initial_title=title,
                             for_client=capture.for_client, picker=capture.picker if capture.project is None else None)
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def _quick_capture(ack: Ack, deps: Deps, body: dict[str, Any], actor: Actor, channel_id: str | None,
                   title: str) -> None:
    saved = flow.quick_capture(deps, actor, channel_id, title)
    if isinstance(saved, flow.Capture):  # outside a project channel: the form, prefilled
        ack()
        _open_form(deps, body, actor, saved, channel_id, title=title)
        return
    lang = saved.project.language
    blocks = rb.item_blocks(saved.req, saved.project, lang, buttons=_viewer_buttons(saved)(saved.req))
    ack(message(t("requirements.saved", lang, ref=ref(saved.req), title=safe(saved.req.title, 400)), blocks))


def _command_list(ack: Ack, actor: Actor, listing: flow.Listing, word: str) -> None:
    lang = language_for(actor, listing.project)
    if listing.page is None:
        ack(refusal("requirements.error_filter", lang, word=safe(word, 30),
                    filters=", ".join(f"`{f}`" for f in flow.FILTERS)))
        return
    ack(_list_message(listing, listing.page, lang))


def _export(ack: Ack, deps: Deps, actor: Actor, respond: Respond, channel_id: str | None) -> None:
    """The document is prepared after the acknowledgement, then sent by DM."""
    ack(message(t("requirements.export_working", language_for(actor))))
    try:
        done = flow.export(deps, actor, channel_id)
    except DomainError as err:
        respond(**message(domain_message(err, language_for(actor))))
        return
    lang, name = done.project.language, safe(done.project.name, 200)
    respond(**(refusal("requirements.export_failed", lang, error=safe(done.error, 100)) if done.error
               else message(t("requirements.export_sent", lang, name=name))))


# The form -----------------------------------------------------------------------------------


def open_from_intake(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The client intake message's *New requirement*: the capture form, for anyone in the
    client channel (external users and guests included)."""
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    try:
        capture = flow.open_intake(deps, actor, action_int(body), channel_of(body))
    except (DomainError, flow.Refused) as exc:
        err, lang = _refused(actor, exc)
        respond(**message(domain_message(err, lang)), replace_original=False)
        return
    _open_form(deps, body, actor, capture, capture.project.client_channel_id if capture.project else None,
               title="", via="intake")


def submit_requirement(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    meta = metadata(view)
    values = view_values(view)
    data = requirements.RequirementInput(
        title=text_value(values, ids.REQ_BLOCK_TITLE), description=text_value(values, ids.REQ_BLOCK_DESCRIPTION),
        priority=selected_value(values, ids.REQ_BLOCK_PRIORITY) or "should",
        acceptance_criteria=text_value(values, ids.REQ_BLOCK_ACCEPTANCE))
    project_id = as_id(meta.get("project_id")) or as_id(selected_value(values, PROJECT_PICKER_BLOCK))
    req_id = as_id(meta.get("req_id"))
    if project_id is None:
        ack(response_action="errors",
            errors={PROJECT_PICKER_BLOCK: t("requirements.error_pick_project", language_for(actor))})
        return
    stamp = meta.get("stamp") if isinstance(meta.get("stamp"), dict) else None
    try:
        saved = flow.save(deps, actor, project_id=project_id, req_id=req_id, data=data, stamp=stamp)
    except (DomainError, flow.Refused) as exc:
        err, lang = _refused(actor, exc)
        if isinstance(err, ValidationFailed):
            errors = view_errors(err, lang, FIELD_TO_BLOCK)
        else:
            block = PROJECT_PICKER_BLOCK if req_id is None and meta.get("project_id") is None else ids.REQ_BLOCK_TITLE
            errors = {block: domain_message(err, lang, for_mrkdwn=False)}
        ack(response_action="errors", errors=errors)
        return
    req, project = saved.req, saved.project
    lang = project.language
    if saved.conflicts:
        ack(response_action="errors",
            errors={FIELD_TO_BLOCK[f]: rb.conflict_text(f, v, lang) for f, v in saved.conflicts.items()})
        return
    ack()
    key = "requirements.updated" if not saved.created else \
        "requirements.thanks_client" if saved.by_client else "requirements.saved"
    blocks = rb.item_blocks(req, project, lang, buttons=_viewer_buttons(saved)(req))
    tell(deps, actor.user_id, meta.get("origin_channel") or project.client_channel_id,
         t(key, lang, ref=ref(req), title=safe(req.title, 400)), blocks)


# Buttons on a requirement --------------------------------------------------------------------


@dataclass
class Click:
    """A requirement button as clicked: who, on which item (and version), where."""

    deps: Deps
    actor: Actor
    body: dict[str, Any]
    respond: Respond
    req_id: int | None
    version: int | None
    where: str  # "item", "confirm", "notice", "list:<filter>:<page>" or "" (digest, App Home)
    channel_id: str | None

    @property
    def from_home(self) -> bool:
        view = self.body.get("view")
        return isinstance(view, dict) and view.get("type") == "home"

    def say(self, msg: dict[str, Any], *, replace: bool = False) -> None:
        """Answer where the click was; from the App Home (no response_url) by DM."""
        if self.from_home or self.respond is None:
            tell(self.deps, self.actor.user_id, None, msg["text"], msg.get("blocks"))
        else:
            self.respond(**msg, replace_original=replace)


def _click(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond, *, decision: bool = False) -> Click:
    ack()
    deps = deps_of(context)
    action = (body.get("actions") or [{}])[0]
    if decision:
        parsed = ids.parse_decision_value(action_value(body))
        req_id, version = parsed if parsed else (None, None)
    else:
        req_id, version = action_int(body), None
    return Click(deps=deps, actor=actor_of(deps, body), body=body, respond=respond, req_id=req_id, version=version,
                 where=rb.parse_item_block_id(action.get("block_id")), channel_id=channel_of(body))


def _run(c: Click, use_case: Any, *args: Any, decision: bool = False, **kwargs: Any) -> flow.Shown | None:
    """Call the use case; a refusal or a decision on an older version is answered here."""
    try:
        shown = use_case(c.deps, c.actor, *args, **kwargs)
    except (DomainError, flow.Refused) as exc:
        err, lang = _refused(c.actor, exc)
        c.say(message(domain_message(err, lang)))
        return None
    if shown.outdated:
        c.say(rb.outdated_message(shown.req, shown.project, sender=shown.sender))
    elif shown.refused is not None:
        c.say(message(rb.refusal_text(shown.req, shown.project, domain_message(shown.refused, shown.project.language),
                                   too_late=decision)))
    else:
        return shown
    _republish_home(c)
    return None


def _republish_home(c: Click) -> None:
    if c.from_home:
        from bot.handlers.home import publish_home

        publish_home(c.deps, c.actor.user_id, language_for(c.actor))


def _show_outcome(c: Click, shown: flow.Shown) -> None:
    """The list or the item is redrawn in place; on a public message (the confirmation request,
    a notice, the digest) the clicker gets an ephemeral note."""
    lang = shown.project.language
    note = rb.outcome_note(shown.done, shown.req, shown.project, user=c.actor.user_id, on_behalf=shown.on_behalf,
                           send_error=shown.send_error)
    if shown.page is not None:
        c.say(_list_message(shown, shown.page, lang, notice=note), replace=True)
    elif c.where == "item":
        blocks = [{"type": "context", "elements": [{"type": "mrkdwn", "text": note}]},
                  *rb.item_blocks(shown.req, shown.project, lang, buttons=_viewer_buttons(shown)(shown.req))]
        c.say(message(note, blocks), replace=True)
    else:
        c.say(message(note))
    _republish_home(c)


def team_action_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Defer, drop, mark done: team only, each recorded with before and after."""
    c = _click(ack, body, context, respond)
    action = TEAM_ACTIONS[(body.get("actions") or [{}])[0].get("action_id", "")]
    shown = _run(c, flow.team_action, action, c.req_id, c.channel_id, c.where)
    if shown is not None:
        _show_outcome(c, shown)


def send_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Send for confirmation: the request goes to the client channel (drawn when it is posted)."""
    c = _click(ack, body, context, respond)
    shown = _run(c, flow.send, c.req_id, c.channel_id, c.where)
    if shown is not None:
        _show_outcome(c, shown)


def edit_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    c = _click(ack, body, context, respond)
    shown = _run(c, flow.open_edit, c.req_id, c.channel_id, c.where)
    if shown is not None:
        meta = {"project_id": shown.project.id, "req_id": shown.req.id, "origin_channel": c.channel_id,
                "stamp": shown.stamp}
        view = rb.requirement_modal(shown.project.language, metadata=meta, editing=shown.req, project=shown.project)
        c.deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def confirm_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The client confirms the version they were shown (or a team member on the client's
    behalf, recorded as such). Exactly one decision is recorded however often it is clicked."""
    c = _click(ack, body, context, respond, decision=True)
    shown = _run(c, flow.decide, "confirm", c.req_id, c.version, channel_id=c.channel_id, where=c.where,
                 decision=True)
    if shown is not None:
        _show_outcome(c, shown)


def request_changes_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Opens the form for the client's comment, on the version the button showed."""
    c = _click(ack, body, context, respond, decision=True)
    shown = _run(c, flow.open_changes, c.req_id, c.version, c.channel_id, c.where, decision=True)
    if shown is not None:
        meta = {"req_id": shown.req.id, "version": shown.req.version, "origin_channel": c.channel_id,
                "where": c.where}
        c.deps.client.views_open(trigger_id=body["trigger_id"],
                                 view=rb.changes_modal(shown.req, shown.project.language, metadata=meta))


def submit_changes(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    meta = metadata(view)
    block = ids.REQ_BLOCK_COMMENT
    try:
        shown = flow.decide(deps, actor, "request_changes", as_id(meta.get("req_id")), as_id(meta.get("version")),
                            comment=text_value(view_values(view), block), from_form=True)
    except (DomainError, flow.Refused) as exc:
        err, lang = _refused(actor, exc)
        text = " ".join(view_errors(err, lang).values()) if isinstance(err, ValidationFailed) \
            else domain_message(err, lang, for_mrkdwn=False)
        ack(response_action="errors", errors={block: text[:2000]})
        return
    req, lang = shown.req, shown.project.language
    if shown.outdated or shown.refused is not None:
        text = rb.outdated_form_text(req, shown.project) if shown.refused is None else rb.refusal_text(
            req, shown.project, domain_message(shown.refused, lang, for_mrkdwn=False), too_late=True)
        ack(response_action="errors", errors={block: text[:2000]})
        return
    ack()
    tell(deps, actor.user_id, meta.get("origin_channel") or shown.project.client_channel_id,
         rb.outcome_note(shown.done, req, shown.project, user=actor.user_id, on_behalf=shown.on_behalf))


def list_page_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    state = page_state(action_value(body))
    status_filter = state.get("s") if state.get("s") in flow.FILTERS else ""
    try:
        listing = flow.listing(deps, actor, channel_of(body), status_filter, state["page"])
    except DomainError as err:
        respond(**message(domain_message(err, language_for(actor))), replace_original=False)
        return
    assert listing.page is not None
    respond(**_list_message(listing, listing.page, language_for(actor, listing.project)), replace_original=True)

