"""`/change` and the buttons and forms of change requests: parse the payload, call ONE flow of
`bot.flows.changes`, render its reply. The use cases (and the messages they owe) live there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.blocks import ids
from bot.blocks.common import PROJECT_PICKER_BLOCK
from bot.blocks.pagination import page_state
from bot.blocks.text import from_slack_text
from bot.deps import Deps
from bot.flows import changes as flows
from bot.flows.changes import Reply
from bot.handlers import common
from bot.handlers.common import action_int, as_id, channel_of, message, selected_values, text_value
from bot.handlers.plan_common import int_values
from bot.handlers.routes import Routes
from bot.services.changes import AssessmentInput, ChangeInput

REQUEST_FIELDS = {
    "title": ids.CHANGE_BLOCK_TITLE,
    "description": ids.CHANGE_BLOCK_DESCRIPTION,
    "reason": ids.CHANGE_BLOCK_REASON,
}
ASSESS_TEXT_FIELDS = {
    "schedule_impact_days": ids.CHANGE_BLOCK_SCHEDULE,
    "effort_hours": ids.CHANGE_BLOCK_EFFORT,
    "cost_amount": ids.CHANGE_BLOCK_COST_AMOUNT,
    "cost_currency": ids.CHANGE_BLOCK_COST_CURRENCY,
    "recommendation": ids.CHANGE_BLOCK_RECOMMENDATION,
}
ASSESS_FIELDS = {
    **ASSESS_TEXT_FIELDS,
    "share_cost_with_client": ids.CHANGE_BLOCK_SHARE_COST,
    "milestone_ids": ids.CHANGE_BLOCK_MILESTONES,
}


# Rendering a reply -------------------------------------------------------------------------


def _form_errors(reply: Reply, fields: dict[str, str], whole_form: str) -> dict[str, str]:
    """`response_action: errors`: each refusal next to its field (the form's own to `whole_form`)."""
    return {fields.get(f, whole_form) if f else whole_form: text for f, text in (reply.errors or {}).items()}


def _clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond,
             run: Callable[[Deps, common.Actor], Reply]) -> None:
    """A button: acknowledge, run its flow, answer with a modal to open, else an ephemeral note
    (by DM from the App Home, which has nowhere to answer); a click from there republishes it."""
    ack()
    deps = common.deps_of(context)
    actor = common.actor_of(deps, body)
    reply = run(deps, actor)
    if reply.view is not None:
        deps.client.views_open(trigger_id=body["trigger_id"], view=reply.view)
    elif body.get("response_url"):
        respond(**message(reply.text, reply.blocks), replace_original=False)
    else:
        common.tell(deps, actor.user_id, None, reply.text, reply.blocks)
    if reply.home:
        from bot.handlers.home import publish_home

        publish_home(deps, actor.user_id, common.language_for(actor))


def _submitted(ack: Ack, deps: Deps, actor: common.Actor, reply: Reply, fields: dict[str, str],
               whole_form: str) -> None:
    """A form: refusals next to their fields; else close it, send what the flow owes, tell the user."""
    if not reply.ok:
        ack(response_action="errors", errors=_form_errors(reply, fields, whole_form))
        flows.finish(deps, reply)  # a refused decision may still refresh a stale message
        return
    ack()
    flows.finish(deps, reply)
    common.tell(deps, actor.user_id, reply.channel, reply.text, reply.blocks)


def _form(body: dict[str, Any], view: dict[str, Any],
          context: BoltContext) -> tuple[Deps, common.Actor, dict[str, Any], dict[str, Any]]:
    """What every form submission starts from: who, the form's metadata and its values."""
    deps = common.deps_of(context)
    return deps, common.actor_of(deps, body), common.metadata(view), common.view_values(view)


def _where(meta: dict[str, Any], key: str) -> str | None:
    """A channel a form's metadata names (untrusted: anything but a channel id is none)."""
    value = meta.get(key)
    return value if isinstance(value, str) and value.isascii() and value.isalnum() else None


def _texts(values: dict[str, Any], fields: dict[str, str]) -> dict[str, str]:
    """The typed text of each field of a form, by field name."""
    return {name: text_value(values, block) for name, block in fields.items()}


def _from_home(body: dict[str, Any]) -> bool:
    view = body.get("view")
    return isinstance(view, dict) and view.get("type") == "home"


def _decision(body: dict[str, Any]) -> tuple[int | None, int | None]:
    """The request and the version a decision button showed."""
    parsed = ids.parse_decision_value(common.action_value(body))
    return parsed if parsed is not None else (None, None)


# The command -------------------------------------------------------------------------------


def change_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = common.deps_of(context)
    actor = common.actor_of(deps, body)
    channel_id = channel_of(body)
    raw = " ".join((body.get("text") or "").split())
    words = raw.split(" ") if raw else []
    sub = words[0].lower() if words else ""
    if sub == "help":
        ack(message(flows.help_text(deps, actor, channel_id=channel_id).text))
        return
    if sub == "list" and len(words) > 1 and words[1].lower() == "export":
        acked: list[Reply] = []

        def started(r: Reply) -> None:
            ack(message(r.text))
            acked.append(r)

        reply = flows.export(deps, actor, channel_id=channel_id, started=started)
        (respond if acked else ack)(**message(reply.text))
        return
    if sub == "list":
        reply = flows.list_page(deps, actor, channel_id=channel_id, status=words[1].lower() if len(words) > 1 else None)
        if not reply.ok:
            ack(message(reply.text))
            return
        ack()
        respond(**message(reply.text, reply.blocks))
        return
    reply = flows.request(deps, actor, channel_id=channel_id, text=from_slack_text(raw))
    if reply.view is not None:
        ack()
        deps.client.views_open(trigger_id=body["trigger_id"], view=reply.view)
        return
    ack(message(reply.text, reply.blocks))
    flows.finish(deps, reply)


def list_page_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = common.deps_of(context)
    state = page_state(common.action_value(body))
    status = state.get("s") if state.get("s") in flows.STATUSES else None
    reply = flows.list_page(deps, common.actor_of(deps, body), channel_id=channel_of(body), status=status,
                            page=state["page"], of_project=as_id(state.get("p")) or -1)
    respond(**message(reply.text, reply.blocks), replace_original=reply.ok)


# Raising a request -------------------------------------------------------------------------


def intake_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Change request* on the intake message (or the digest): the request form."""
    _clicked(ack, body, context, respond, lambda deps, actor: flows.request_form(
        deps, actor, channel_id=channel_of(body), project_id=action_int(body)))


def submit_request(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps, actor, meta, values = _form(body, view, context)
    picked = meta.get("project_id") is None
    data = ChangeInput(
        **_texts(values, REQUEST_FIELDS),
        requirement_ids=int_values(selected_values(values, ids.CHANGE_BLOCK_REQUIREMENTS)),
        milestone_ids=int_values(selected_values(values, ids.CHANGE_BLOCK_MILESTONES)),
    )
    project_id = as_id(meta.get("project_id")) or as_id(common.selected_value(values, PROJECT_PICKER_BLOCK))
    reply = flows.submit_request(deps, actor, project_id=project_id, data=data,
                                 origin_channel=_where(meta, "origin_channel"))
    whole = PROJECT_PICKER_BLOCK if picked else ids.CHANGE_BLOCK_TITLE
    _submitted(ack, deps, actor, reply, REQUEST_FIELDS, whole)


# Assessment --------------------------------------------------------------------------------


def assess_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    _clicked(ack, body, context, respond, lambda deps, actor: flows.assess_form(
        deps, actor, cr_id=action_int(body), channel_id=channel_of(body)))


def submit_assessment(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps, actor, meta, values = _form(body, view, context)
    data = AssessmentInput(
        **_texts(values, ASSESS_TEXT_FIELDS),
        share_cost_with_client=ids.CHANGE_SHARE_COST_OPTION in selected_values(values, ids.CHANGE_BLOCK_SHARE_COST),
        milestone_ids=int_values(selected_values(values, ids.CHANGE_BLOCK_MILESTONES)),
    )
    stamp = meta.get("stamp") if isinstance(meta.get("stamp"), dict) else None
    reply = flows.assess(deps, actor, cr_id=as_id(meta.get("cr_id")), data=data, stamp=stamp,
                         share_shown=ids.CHANGE_BLOCK_SHARE_COST in values, channel_id=_where(meta, "channel"))
    _submitted(ack, deps, actor, reply, ASSESS_FIELDS, ids.CHANGE_BLOCK_SCHEDULE)


# Decisions ---------------------------------------------------------------------------------


def approve_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    cr_id, version = _decision(body)
    _clicked(ack, body, context, respond, lambda deps, actor: flows.decide(
        deps, actor, cr_id=cr_id, version=version, channel_id=channel_of(body), approve=True,
        from_home=_from_home(body)))


def reject_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Reject* asks for an optional reason first (only a decider gets the form)."""
    cr_id, version = _decision(body)
    _clicked(ack, body, context, respond, lambda deps, actor: flows.reject_form(
        deps, actor, cr_id=cr_id, version=version, channel_id=channel_of(body), from_home=_from_home(body)))


def submit_rejection(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = common.deps_of(context)
    actor = common.actor_of(deps, body)
    meta = common.metadata(view)
    reply = flows.decide(deps, actor, cr_id=as_id(meta.get("cr_id")), version=as_id(meta.get("version")),
                         channel_id=_where(meta, "channel"), approve=False, in_form=True,
                         reason=text_value(common.view_values(view), ids.CHANGE_BLOCK_REJECT_REASON))
    _submitted(ack, deps, actor, reply, {}, ids.CHANGE_BLOCK_REJECT_REASON)


# Implemented, withdrawn --------------------------------------------------------------------


def implemented_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    _clicked(ack, body, context, respond, lambda deps, actor: flows.implement(
        deps, actor, cr_id=action_int(body), channel_id=channel_of(body)))


def withdraw_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Only the author, and only while the request is undecided."""
    _clicked(ack, body, context, respond, lambda deps, actor: flows.withdraw(
        deps, actor, cr_id=action_int(body), channel_id=channel_of(body)))


ROUTES = Routes(
    commands={"/change": change_command},
    views={ids.CHANGE_MODAL: submit_request, ids.CHANGE_ASSESS_MODAL: submit_assessment,
           ids.CHANGE_REJECT_MODAL: submit_rejection},
    actions={ids.INTAKE_CHANGE_REQUEST: intake_clicked, ids.CHANGE_ASSESS: assess_clicked,
             ids.CHANGE_APPROVE: approve_clicked, ids.CHANGE_REJECT: reject_clicked,
             ids.CHANGE_IMPLEMENTED: implemented_clicked, ids.CHANGE_WITHDRAW: withdraw_clicked,
             ids.CHANGE_LIST_PAGE: list_page_clicked},
)
