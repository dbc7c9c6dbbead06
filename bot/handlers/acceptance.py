"""Milestone acceptance (验收): *Request acceptance* and its form (team), *Accept* and *Report
issues* with its form (the client's approvers), and the acceptance record's export (team). Each
listener parses the payload, calls one use case of `bot.flows.acceptance` and renders its result;
a refusal (`Refused`) changes nothing and is told to the person only. What only the person reads
(answers, forms, the record's DM) is in their language (`Shown.lang`: their Slack locale, else the
project's); the request in the client channel stays in the project's."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.blocks import acceptance as ab
from bot.blocks import ids
from bot.blocks.text import safe
from bot.deps import Deps
from bot.flows import acceptance as flow
from bot.flows.plan_scope import Refused
from bot.handlers.common import (
    action_int,
    action_value,
    as_id,
    deps_of,
    domain_message,
    message,
    metadata,
    tell,
    text_value,
    view_values,
)
from bot.handlers.plan_common import inline, said, who_of
from bot.handlers.routes import Routes
from bot.i18n import t

REQUEST_FIELDS = {"delivery": ids.ACC_BLOCK_DELIVERY, "link": ids.ACC_BLOCK_LINK}


def _say(deps: Deps, body: dict[str, Any], respond: Respond | None, user_id: str, msg: dict[str, Any]) -> None:
    """Answer the person where they clicked; from the App Home (no response_url) by DM."""
    view = body.get("view")
    if respond is None or (isinstance(view, dict) and view.get("type") == "home"):
        tell(deps, user_id, None, msg["text"], msg.get("blocks"))
    else:
        respond(**msg, replace_original=False)


def _unchanged(shown: flow.Shown) -> dict[str, Any]:
    """A decision that changed nothing (outdated, or the request moved on): why, then the
    request as it stands now."""
    lang = shown.lang
    if shown.outdated:
        note = t("acceptance.outdated", lang, name=safe(shown.milestone.name, 300))
    else:
        assert shown.refused is not None
        note = t("acceptance.too_late", lang, why=domain_message(shown.refused, lang))
    return ab.current_message(shown.acc, shown.milestone, shown.project, shown.issues, note, auto_at=shown.auto_at)


# The team's side ----------------------------------------------------------------------------------


def request_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Request acceptance* (again) on a done milestone: the short form."""
    ack()
    deps = deps_of(context)
    who = who_of(deps, body, reach=True)
    try:
        form = flow.open_request(deps, who, action_int(body))
    except Refused as refused:
        _say(deps, body, respond, who.user_id, said(refused))
        return
    meta = {"milestone_id": form.milestone.id, "origin_channel": who.channel_id}
    deps.client.views_open(trigger_id=body["trigger_id"], view=ab.request_modal(
        form.lang, milestone=form.milestone, metadata=meta, again=form.again, open_issues=form.open_issues,
        auto_days=form.project.auto_accept_after_days))


def submit_request(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    who = who_of(deps, body, reach=True)  # a form has no channel: the milestone must be of one of theirs
    meta, values = metadata(view), view_values(view)
    try:
        shown = flow.request(deps, who, milestone_id=as_id(meta.get("milestone_id")),
                             delivery=text_value(values, ids.ACC_BLOCK_DELIVERY),
                             link=text_value(values, ids.ACC_BLOCK_LINK))
    except Refused as refused:
        ack(inline(refused, REQUEST_FIELDS, ids.ACC_BLOCK_DELIVERY))
        return
    ack()
    project = shown.project
    tell(deps, who.user_id, meta.get("origin_channel") or project.internal_channel_id or project.client_channel_id,
         ab.outcome_note("request", shown.milestone, project, send_error=shown.send_error, lang=shown.lang))


def export_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The milestone's acceptance record (Markdown), by DM."""
    ack()
    deps = deps_of(context)
    who = who_of(deps, body, reach=True)
    try:
        done = flow.export(deps, who, action_int(body))
    except Refused as refused:
        _say(deps, body, respond, who.user_id, said(refused))
        return
    name = safe(done.milestone.name, 200)
    text = t("acceptance.export_failed", done.lang, name=name, error=safe(done.error, 100)) if done.error else \
        t("acceptance.export_sent", done.lang, name=name)
    _say(deps, body, respond, who.user_id, message(text))


# The client's side ----------------------------------------------------------------------------------


def _decision(body: dict[str, Any]) -> tuple[int | None, int | None]:
    return ids.parse_decision_value(action_value(body)) or (None, None)


def accept_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Accept*, on the version the button showed. Exactly one decision is recorded however
    often it is clicked; the PM's is recorded on behalf of the client."""
    ack()
    deps = deps_of(context)
    who = who_of(deps, body, reach=True)
    acc_id, version = _decision(body)
    try:
        shown = flow.decide(deps, who, "accept", acc_id, version)
    except Refused as refused:
        _say(deps, body, respond, who.user_id, said(refused))
        return
    if not shown.done:
        _say(deps, body, respond, who.user_id, _unchanged(shown))
        return
    _say(deps, body, respond, who.user_id, message(ab.outcome_note(
        "accept", shown.milestone, shown.project, on_behalf=shown.on_behalf, lang=shown.lang)))


def report_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Report issues*: the form for the list of what is wrong, for the version shown."""
    ack()
    deps = deps_of(context)
    who = who_of(deps, body, reach=True)
    acc_id, version = _decision(body)
    try:
        shown = flow.open_issues_form(deps, who, acc_id, version)
    except Refused as refused:
        _say(deps, body, respond, who.user_id, said(refused))
        return
    if shown.outdated or shown.refused is not None:
        _say(deps, body, respond, who.user_id, _unchanged(shown))
        return
    meta = {"acc_id": shown.acc.id, "version": shown.acc.version, "origin_channel": who.channel_id}
    deps.client.views_open(trigger_id=body["trigger_id"],
                           view=ab.issues_modal(shown.lang, milestone=shown.milestone, metadata=meta))


def submit_issues(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    who = who_of(deps, body)
    meta = metadata(view)
    block = ids.ACC_BLOCK_ISSUES
    try:
        shown = flow.decide(deps, who, "report_issues", as_id(meta.get("acc_id")), as_id(meta.get("version")),
                            issues_text=text_value(view_values(view), block), from_form=True)
    except Refused as refused:
        ack(inline(refused, {"issues": block}, block))
        return
    if not shown.done:
        note = _unchanged(shown)["text"]
        ack(response_action="errors", errors={block: note[:2000]})
        return
    ack()
    tell(deps, who.user_id, meta.get("origin_channel") or shown.project.client_channel_id,
         ab.outcome_note("report_issues", shown.milestone, shown.project, on_behalf=shown.on_behalf,
                         lang=shown.lang))


ROUTES = Routes(
    views={ids.ACC_REQUEST_MODAL: submit_request, ids.ACC_ISSUES_MODAL: submit_issues},
    actions={ids.ACC_REQUEST: request_clicked, ids.ACC_ACCEPT: accept_clicked, ids.ACC_REPORT_ISSUES: report_clicked,
             ids.ACC_EXPORT: export_clicked},
)
