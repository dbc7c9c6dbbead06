"""`/req` and the requirement buttons: each listener parses the payload, calls one use case of
`bot.flows.requirements` and renders its result (capture by modal, quick text or the client's
intake button; edit; send for confirmation; the client's decision; team actions; list; export).
A refusal comes back as `flow.Refused`, worded here in the project's language."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.blocks import ids
from bot.blocks import requirements as rb
from bot.blocks.common import PROJECT_PICKER_BLOCK
from bot.blocks.pagination import page_state
from bot.blocks.text import from_slack_text, safe
from bot.deps import Deps
from bot.flows import requirements as flow
from bot.handlers import common as h
from bot.handlers.common import Actor
from bot.handlers.routes import Routes
from bot.i18n import person_language, t
from bot.reports.wording import ref
from bot.services import requirements
from bot.services.errors import ValidationFailed

SUBCOMMANDS = ("list", "export", "help")
FIELD_TO_BLOCK = {"title": ids.REQ_BLOCK_TITLE, "description": ids.REQ_BLOCK_DESCRIPTION,
                  "priority": ids.REQ_BLOCK_PRIORITY, "acceptance_criteria": ids.REQ_BLOCK_ACCEPTANCE,
                  "project": PROJECT_PICKER_BLOCK}
TEAM_ACTIONS = {ids.REQ_DEFER: "defer", ids.REQ_DROP: "drop", ids.REQ_DONE: "mark_done"}


def _why(actor: Actor, refused: flow.Refused, *, plain: bool = False) -> str:
    """A refusal in words, in the reader's language (their Slack locale where known, else the
    language of the project it was about)."""
    lang = person_language(actor.locale, refused.language)
    if isinstance(refused.error, ValidationFailed):
        return "\n".join(h.view_errors(refused.error, lang).values())
    return h.domain_message(refused.error, lang, for_mrkdwn=not plain)


def _viewer_buttons(result: Any):
    return lambda req: flow.buttons_for(req, is_team=result.is_team, can_decide=result.can_decide)


def _list_message(result: Any, page: flow.Page, notice: str | None = None, *,
                  lang: str | None = None) -> dict[str, Any]:
    """The list, in the reader's `lang` (the project's by default)."""
    project = result.project
    lang = lang or project.language
    return h.message(rb.list_text(project, lang), rb.list_blocks(
        page.items, project, lang, total=page.total, page=page.page, status_filter=page.status_filter,
        buttons=_viewer_buttons(result), notice=notice))


# /req ----------------------------------------------------------------------------------------


def req_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    channel_id = h.channel_of(body)
    text = from_slack_text(body.get("text") or "").strip()
    words = text.split()
    sub = words[0].lower() if words else ""
    if not words or (sub == "export" and len(words) == 1):  # answered at once; the rest by response_url
        ack(**(h.message(t("requirements.export_working", h.language_for(actor))) if words else {}))
        ack = respond  # type: ignore[assignment]
    try:
        if not words:
            _open_form(deps, body, actor, flow.open_capture(deps, actor, channel_id), channel_id, title="")
        elif sub == "list" and len(words) <= 2:
            word = words[1] if len(words) == 2 else ""
            listing = flow.listing(deps, actor, channel_id, flow.parse_filter(word))
            lang = h.language_for(actor, listing.project)
            ack(_list_message(listing, listing.page, lang=lang) if listing.page else h.refusal(
                "requirements.error_filter", lang, word=safe(word, 30),
                filters=", ".join(f"`{f}`" for f in flow.FILTERS)))
        elif sub == "export" and len(words) == 1:
            done = flow.export(deps, actor, channel_id)
            lang, name = h.language_for(actor, done.project), safe(done.project.name, 200)
            respond(**(h.refusal("requirements.export_failed", lang, error=safe(done.error, 100)) if done.error
                       else h.message(t("requirements.export_sent", lang, name=name))))
        elif len(words) <= 2 and difflib.get_close_matches(sub, SUBCOMMANDS, n=1, cutoff=0.75):
            lang = h.language_for(actor, flow.project_here(deps, channel_id))
            help_only = sub == "help" and len(words) == 1
            unknown = "" if help_only else t("requirements.unknown_subcommand", lang, sub=safe(sub, 30)) + "\n\n"
            ack(h.message(unknown + t("requirements.help", lang)))
        else:
            _quick_capture(ack, deps, body, actor, channel_id, requirements.clean_title(text))
    except flow.Refused as refused:
        ack(h.message(_why(actor, refused)))


def _open_form(deps: Deps, body: dict[str, Any], actor: Actor, capture: flow.Capture, channel_id: str | None, *,
               title: str, via: str | None = None) -> None:
    project = capture.project
    meta = {"project_id": project.id if project else None, "origin_channel": channel_id,
            **({"via": via} if via else {})}
    view = rb.requirement_modal(h.language_for(actor, project), metadata=meta, project=project, initial_title=title,
                                for_client=capture.for_client, picker=capture.picker if project is None else None)
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def _quick_capture(ack: Ack, deps: Deps, body: dict[str, Any], actor: Actor, channel_id: str | None,
                   title: str) -> None:
    saved = flow.quick_capture(deps, actor, channel_id, title)
    if isinstance(saved, flow.Capture):  # outside a project channel: the form, prefilled
        ack()
        _open_form(deps, body, actor, saved, channel_id, title=title)
        return
    lang = h.language_for(actor, saved.project)
    blocks = rb.item_blocks(saved.req, saved.project, lang, buttons=_viewer_buttons(saved)(saved.req))
    ack(h.message(t("requirements.saved", lang, ref=ref(saved.req), title=safe(saved.req.title, 400)), blocks))


# The forms ----------------------------------------------------------------------------------


def open_from_intake(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The client intake message's *New requirement*: the capture form, for anyone in the
    client channel (external users and guests included)."""
    ack()
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    try:
        capture = flow.open_intake(deps, actor, h.action_int(body), h.channel_of(body))
    except flow.Refused as refused:
        respond(**h.message(_why(actor, refused)), replace_original=False)
        return
    _open_form(deps, body, actor, capture, h.channel_of(body), title="", via="intake")


def submit_requirement(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    meta, values = h.metadata(view), h.view_values(view)
    data = requirements.RequirementInput(
        title=h.text_value(values, ids.REQ_BLOCK_TITLE), description=h.text_value(values, ids.REQ_BLOCK_DESCRIPTION),
        priority=h.selected_value(values, ids.REQ_BLOCK_PRIORITY) or "should",
        acceptance_criteria=h.text_value(values, ids.REQ_BLOCK_ACCEPTANCE))
    stamp = meta.get("stamp") if isinstance(meta.get("stamp"), dict) else None
    try:
        saved = flow.save(deps, actor, req_id=h.as_id(meta.get("req_id")), data=data, stamp=stamp,
                          project_id=h.as_id(meta.get("project_id")) or h.as_id(
                              h.selected_value(values, PROJECT_PICKER_BLOCK)))
    except flow.Refused as refused:
        lang = person_language(actor.locale, refused.language)
        fields = {**FIELD_TO_BLOCK, "project": PROJECT_PICKER_BLOCK if meta.get("project_id") is None
                  else ids.REQ_BLOCK_TITLE}
        errors = h.view_errors(refused.error, lang, fields) if isinstance(refused.error, ValidationFailed) \
            else {ids.REQ_BLOCK_TITLE: _why(actor, refused, plain=True)}
        ack(response_action="errors", errors=errors)
        return
    req, project, lang = saved.req, saved.project, h.language_for(actor, saved.project)
    if saved.conflicts:  # someone else changed these fields since the form was opened: nothing saved
        ack(response_action="errors",
            errors={FIELD_TO_BLOCK[f]: rb.conflict_text(f, v, lang) for f, v in saved.conflicts.items()})
        return
    ack()
    key = "requirements.updated" if not saved.created else \
        "requirements.thanks_client" if saved.by_client else "requirements.saved"
    blocks = rb.item_blocks(req, project, lang, buttons=_viewer_buttons(saved)(req))
    h.tell(deps, actor.user_id, meta.get("origin_channel") or project.client_channel_id,
           t(key, lang, ref=ref(req), title=safe(req.title, 400)), blocks)


def submit_changes(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """The client's comment, on the version the *Request changes* button showed."""
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    meta = h.metadata(view)
    block = ids.REQ_BLOCK_COMMENT
    try:
        shown = flow.decide(deps, actor, "request_changes", h.as_id(meta.get("req_id")), h.as_id(meta.get("version")),
                            comment=h.text_value(h.view_values(view), block), from_form=True)
    except flow.Refused as refused:
        ack(response_action="errors", errors={block: _why(actor, refused, plain=True)[:2000]})
        return
    req, project = shown.req, shown.project
    lang = h.language_for(actor, project)
    if shown.outdated or shown.refused is not None:
        text = rb.outdated_form_text(req, project, lang) if shown.refused is None else rb.refusal_text(
            req, project, h.domain_message(shown.refused, lang, for_mrkdwn=False), too_late=True, lang=lang)
        ack(response_action="errors", errors={block: text[:2000]})
        return
    ack()
    h.tell(deps, actor.user_id, meta.get("origin_channel") or project.client_channel_id,
           rb.outcome_note(shown.done, req, project, user=actor.user_id, on_behalf=shown.on_behalf, lang=lang))


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
            h.tell(self.deps, self.actor.user_id, None, msg["text"], msg.get("blocks"))
        else:
            self.respond(**msg, replace_original=replace)


def _click(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond, *, decision: bool = False) -> Click:
    ack()
    deps = h.deps_of(context)
    if decision:
        req_id, version = ids.parse_decision_value(h.action_value(body)) or (None, None)
    else:
        req_id, version = h.action_int(body), None
    return Click(deps=deps, actor=h.actor_of(deps, body), body=body, respond=respond, req_id=req_id, version=version,
                 where=rb.parse_item_block_id(h.first_action(body).get("block_id")), channel_id=h.channel_of(body))


def _run(c: Click, use_case: Any, *args: Any, decision: bool = False, **kwargs: Any) -> flow.Shown | None:
    """Call the use case and show what came of it; None when it changed nothing (refused, or
    a decision on an older version: answered with the current text and buttons)."""
    try:
        shown = use_case(c.deps, c.actor, *args, **kwargs)
    except flow.Refused as refused:
        c.say(h.message(_why(c.actor, refused)))
        return None
    req, project = shown.req, shown.project
    lang = h.language_for(c.actor, project)  # all of it is the clicker's alone
    if shown.outdated:
        c.say(rb.outdated_message(req, project, sender=shown.sender, lang=lang))
    elif shown.refused is not None:
        why = h.domain_message(shown.refused, lang)
        c.say(h.message(rb.refusal_text(req, project, why, too_late=decision, lang=lang)))
    elif shown.done:
        note = rb.outcome_note(shown.done, req, project, user=c.actor.user_id, on_behalf=shown.on_behalf,
                               send_error=shown.send_error, lang=lang)
        if shown.page is not None:  # a list is redrawn in place, an item too
            c.say(_list_message(shown, shown.page, notice=note, lang=lang), replace=True)
        elif c.where == "item":
            blocks = rb.item_blocks(req, project, lang, buttons=_viewer_buttons(shown)(req))
            c.say(h.message(note, [{"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}, *blocks]),
                  replace=True)
        else:  # on a public message (the confirmation request, a notice, the digest): a note
            c.say(h.message(note))
    if c.from_home:
        from bot.handlers.home import publish_home

        publish_home(c.deps, c.actor.user_id, h.language_for(c.actor))
    return None if shown.outdated or shown.refused is not None else shown


def team_action_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Defer, drop, mark done: team only, each recorded with before and after."""
    c = _click(ack, body, context, respond)
    _run(c, flow.team_action, TEAM_ACTIONS[h.first_action(body).get("action_id", "")], c.req_id, c.channel_id,
         c.where)


def send_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Send for confirmation: the request goes to the client channel (drawn when it is posted)."""
    c = _click(ack, body, context, respond)
    _run(c, flow.send, c.req_id, c.channel_id, c.where)


def confirm_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The client confirms the version they were shown (or a team member on the client's
    behalf, recorded as such). Exactly one decision is recorded however often it is clicked."""
    c = _click(ack, body, context, respond, decision=True)
    _run(c, flow.decide, "confirm", c.req_id, c.version, channel_id=c.channel_id, where=c.where, decision=True)


def edit_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The edit form, stamped with what it shows (it will apply only what is changed in it)."""
    c = _click(ack, body, context, respond)
    shown = _run(c, flow.open_edit, c.req_id, c.channel_id, c.where)
    if shown is not None:
        meta = {"project_id": shown.project.id, "req_id": shown.req.id, "origin_channel": c.channel_id,
                "stamp": shown.stamp}
        view = rb.requirement_modal(h.language_for(c.actor, shown.project), metadata=meta, editing=shown.req,
                                    project=shown.project)
        c.deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def request_changes_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Opens the form for the client's comment; it carries the version the button showed."""
    c = _click(ack, body, context, respond, decision=True)
    shown = _run(c, flow.open_changes, c.req_id, c.version, c.channel_id, c.where, decision=True)
    if shown is not None:
        meta = {"req_id": shown.req.id, "version": shown.req.version, "origin_channel": c.channel_id,
                "where": c.where}
        c.deps.client.views_open(trigger_id=body["trigger_id"],
                                 view=rb.changes_modal(shown.req, h.language_for(c.actor, shown.project),
                                                       metadata=meta))


def list_page_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    state = page_state(h.action_value(body))
    status_filter = state.get("s") if state.get("s") in flow.FILTERS else ""
    try:
        listing = flow.listing(deps, actor, h.channel_of(body), status_filter, state["page"])
    except flow.Refused as refused:
        respond(**h.message(_why(actor, refused)), replace_original=False)
        return
    assert listing.page is not None
    respond(**_list_message(listing, listing.page, lang=h.language_for(actor, listing.project)),
            replace_original=True)


ROUTES = Routes(
    commands={"/req": req_command},
    views={ids.REQ_MODAL: submit_requirement, ids.REQ_CHANGES_MODAL: submit_changes},
    actions={ids.INTAKE_NEW_REQUIREMENT: open_from_intake, ids.REQ_EDIT: edit_button, ids.REQ_SEND: send_button,
             **dict.fromkeys(TEAM_ACTIONS, team_action_button), ids.REQ_CONFIRM: confirm_button,
             ids.REQ_REQUEST_CHANGES: request_changes_button, ids.REQ_LIST_PAGE: list_page_button},
)
