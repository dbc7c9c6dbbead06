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
from slack_sdk.errors import SlackApiError

from bot.blocks import ids
from bot.blocks.common import PROJECT_PICKER_BLOCK
from bot.blocks.pagination import page_state
from bot.blocks.requirements import (
    buttons_for,
    changes_modal,
    item_blocks,
    list_blocks,
    outdated_message,
    parse_item_block_id,
    priority_label,
    requirement_modal,
    status_label,
)
from bot.blocks.text import channel_link, from_slack_text, mention, safe
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
from bot.services.export_requirements import local, ref

log = logging.getLogger(__name__)

SUBCOMMANDS = ("list", "export", "help")
FIELD_TO_BLOCK = {
    "title": ids.REQ_BLOCK_TITLE,
    "description": ids.REQ_BLOCK_DESCRIPTION,
    "priority": ids.REQ_BLOCK_PRIORITY,
    "acceptance_criteria": ids.REQ_BLOCK_ACCEPTANCE,
    "project": PROJECT_PICKER_BLOCK,
}
FILTER_ALIASES = {"changes": "changes_requested", "changes-requested": "changes_requested", "awaiting": "proposed"}
TEAM_ACTIONS = {ids.REQ_DEFER: "defer", ids.REQ_DROP: "drop", ids.REQ_DONE: "mark_done"}
# What the person who acted is told, per outcome.
DONE = {"defer": "requirements.done_defer", "drop": "requirements.done_drop",
        "mark_done": "requirements.done_mark_done", "confirm": "requirements.you_confirmed",
        "request_changes": "requirements.you_requested_changes"}
DONE_ON_BEHALF = {"confirm": "requirements.you_confirmed_on_behalf",
                  "request_changes": "requirements.you_requested_changes_on_behalf"}


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
    return lambda req: buttons_for(req, is_team=result.is_team, can_decide=result.can_decide)


def _list_message(listing: Any, page: flow.Page, lang: str, notice: str | None = None) -> dict[str, Any]:
    blocks = list_blocks(page.items, listing.project, lang, total=page.total, page=page.page,
                         status_filter=page.status_filter, buttons=_viewer_buttons(listing), notice=notice)
    return message(t("requirements.list_text", lang, name=safe(listing.project.name, 200)), blocks)


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
            word = FILTER_ALIASES.get(words[1].lower(), words[1].lower()) if len(words) == 2 else ""
            known = word if word in flow.FILTERS or not word else None
            _command_list(ack, actor, flow.listing(deps, actor, channel_id, known), word)
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
    view = requirement_modal(lang, metadata=meta, project=capture.project, initial_title=title,
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
    blocks = item_blocks(saved.req, saved.project, lang, buttons=_viewer_buttons(saved)(saved.req))
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
        doc = flow.export(deps, actor, channel_id)
    except DomainError as err:
        respond(**message(domain_message(err, language_for(actor))))
        return
    lang, name = doc.project.language, doc.project.name
    try:
        dm = deps.client.conversations_open(users=actor.user_id)["channel"]["id"]
        deps.client.files_upload_v2(
            channel=dm, initial_comment=t("requirements.export_comment", lang, name=safe(name, 200)),
            file_uploads=[
                {"content": doc.markdown.encode("utf-8"), "filename": f"{doc.stem}.md",
                 "title": t("requirements.export_title_md", lang, name=name)},
                {"content": doc.csv.encode("utf-8"), "filename": f"{doc.stem}.csv",
                 "title": t("requirements.export_title_csv", lang, name=name)},
            ],
        )
    except SlackApiError as err:
        log.warning("requirements export upload for %s failed: %s", actor.user_id, err.response.get("error"))
        respond(**refusal("requirements.export_failed", lang, error=safe(err.response.get("error"), 100)))
        return
    respond(**message(t("requirements.export_sent", lang, name=safe(name, 200))))


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
        ack(response_action="errors", errors={FIELD_TO_BLOCK[f]: t(
            "requirements.error_changed_meanwhile", lang,
            value=priority_label(v, lang) if f == "priority" else v or t("common.none", lang))[:2000]
            for f, v in saved.conflicts.items()})
        return
    ack()
    key = "requirements.updated" if not saved.created else \
        "requirements.thanks_client" if saved.by_client else "requirements.saved"
    blocks = item_blocks(req, project, lang, buttons=_viewer_buttons(saved)(req))
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
                 where=parse_item_block_id(action.get("block_id")), channel_id=channel_of(body))


def _run(c: Click, use_case: Any, *args: Any, decision: bool = False, **kwargs: Any) -> flow.Shown | None:
    """Call the use case; a refusal or a decision on an older version is answered here."""
    try:
        shown = use_case(c.deps, c.actor, *args, **kwargs)
    except (DomainError, flow.Refused) as exc:
        err, lang = _refused(c.actor, exc)
        c.say(message(domain_message(err, lang)))
        return None
    if shown.outdated:
        c.say(outdated_message(shown.req, shown.project, sender=shown.sender))
    elif shown.refused is not None:
        c.say(message(refusal_text(shown, shown.refused, decision=decision)))
    else:
        return shown
    _republish_home(c)
    return None


def _republish_home(c: Click) -> None:
    if c.from_home:
        from bot.handlers.home import publish_home

        publish_home(c.deps, c.actor.user_id, language_for(c.actor))


def refusal_text(shown: flow.Shown, err: DomainError, *, decision: bool = False) -> str:
    """Why a change was refused. A decision that came too late is told who decided and when."""
    req, project, lang = shown.req, shown.project, shown.project.language
    if decision and req.status in ("confirmed", "changes_requested") and req.decided_by and \
            err.key.startswith("requirements.error_now_"):
        who = mention(req.decided_by)
        if req.decided_on_behalf:
            who = t("permissions.on_behalf", lang, user=who)
        return t("requirements.error_already_decided", lang, ref=ref(req), status=status_label(req.status, lang),
                 user=who, when=local(req.decided_at, project.timezone, with_zone=True))
    return t("requirements.refused_prefix", lang, ref=ref(req)) + " " + domain_message(err, lang)


def _show_outcome(c: Click, shown: flow.Shown, note: str) -> None:
    """The list or the item is redrawn in place; on a public message (the confirmation request,
    a notice, the digest) the clicker gets an ephemeral note."""
    lang = shown.project.language
    if shown.page is not None:
        c.say(_list_message(shown, shown.page, lang, notice=note), replace=True)
    elif c.where == "item":
        blocks = [{"type": "context", "elements": [{"type": "mrkdwn", "text": note}]},
                  *item_blocks(shown.req, shown.project, lang, buttons=_viewer_buttons(shown)(shown.req))]
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
        _show_outcome(c, shown, t(DONE[action], shown.project.language, ref=ref(shown.req),
                                  user=mention(c.actor.user_id)))


def send_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Send for confirmation: the request goes to the client channel (drawn when it is posted)."""
    c = _click(ack, body, context, respond)
    shown = _run(c, flow.send, c.req_id, c.channel_id, c.where)
    if shown is None:
        return
    lang, channel = shown.project.language, channel_link(shown.project.client_channel_id)
    if shown.send_error:
        note = t("requirements.send_failed", lang, ref=ref(shown.req), channel=channel,
                 error=safe(shown.send_error, 200))
    else:
        note = t("requirements.sent", lang, ref=ref(shown.req), channel=channel)
    _show_outcome(c, shown, note)


def edit_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    c = _click(ack, body, context, respond)
    shown = _run(c, flow.open_edit, c.req_id, c.channel_id, c.where)
    if shown is not None:
        meta = {"project_id": shown.project.id, "req_id": shown.req.id, "origin_channel": c.channel_id,
                "stamp": shown.stamp}
        view = requirement_modal(shown.project.language, metadata=meta, editing=shown.req, project=shown.project)
        c.deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def confirm_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The client confirms the version they were shown (or a team member on the client's
    behalf, recorded as such). Exactly one decision is recorded however often it is clicked."""
    c = _click(ack, body, context, respond, decision=True)
    shown = _run(c, flow.decide, "confirm", c.req_id, c.version, channel_id=c.channel_id, where=c.where,
                 decision=True)
    if shown is not None:
        key = DONE_ON_BEHALF["confirm"] if shown.on_behalf else DONE["confirm"]
        _show_outcome(c, shown, t(key, shown.project.language, ref=ref(shown.req)))


def request_changes_button(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Opens the form for the client's comment, on the version the button showed."""
    c = _click(ack, body, context, respond, decision=True)
    shown = _run(c, flow.open_changes, c.req_id, c.version, c.channel_id, c.where, decision=True)
    if shown is not None:
        meta = {"req_id": shown.req.id, "version": shown.req.version, "origin_channel": c.channel_id,
                "where": c.where}
        c.deps.client.views_open(trigger_id=body["trigger_id"],
                                 view=changes_modal(shown.req, shown.project.language, metadata=meta))


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
    if shown.outdated:
        none = t("common.none", lang)
        ack(response_action="errors", errors={block: t(
            "requirements.outdated_form", lang, ref=ref(req), title=req.title, description=req.description or none,
            acceptance=req.acceptance_criteria or none)[:2000]})
        return
    if shown.refused is not None:
        ack(response_action="errors", errors={block: refusal_text(shown, shown.refused, decision=True)[:2000]})
        return
    ack()
    key = DONE_ON_BEHALF["request_changes"] if shown.on_behalf else DONE["request_changes"]
    tell(deps, actor.user_id, meta.get("origin_channel") or shown.project.client_channel_id,
         t(key, lang, ref=ref(req)))


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

