"""Capture from the conversation: the message shortcuts, their forms' submissions and the
capture reaction. Each listener parses the payload, calls one use case of `bot.flows.capture`
and renders its result.

A capture form is the kind's own form under our callback id: its submission is the kind's own
submission (the same checks, the same answer), with `flows.capture.KeepSource` riding on its unit
of work so the record keeps the message it came from.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk.errors import SlackApiError

from bot.blocks import capture as cb
from bot.blocks import ids
from bot.blocks.changes import change_modal
from bot.blocks.feedback import feedback_modal, given_thanks
from bot.blocks.requirements import requirement_modal
from bot.blocks.risks import risk_modal
from bot.deps import Deps
from bot.flows import capture as flow
from bot.flows import feedback as feedback_flow
from bot.flows import unit
from bot.handlers import changes, feedback, requirements, risk
from bot.handlers import common as h
from bot.handlers.routes import Routes
from bot.services.errors import DomainError

log = logging.getLogger(__name__)

# The kinds' own submissions, which capture forms go through.
SUBMIT = {"requirement": requirements.submit_requirement, "change": changes.submit_request,
          "risk": risk.submit_risk, "feedback": feedback.submit_feedback}


def _view(form: flow.Form, actor: h.Actor) -> dict[str, Any]:
    project, lang = form.project, form.project.language
    meta = {"project_id": project.id, "origin_channel": form.source.channel_id, "source": form.source.as_meta()}
    if form.kind == "requirement":
        view = requirement_modal(lang, metadata=meta, project=project, for_client=form.for_client)
    elif form.kind == "change":
        view = change_modal(lang, metadata=meta)
    elif form.kind == "risk":
        assert form.today is not None
        view = risk_modal(lang, metadata=meta, owner=actor.user_id, today=form.today, milestones=form.milestones)
    else:
        view = feedback_modal(lang, metadata=meta, anonymous=project.anonymous_feedback)
    return cb.capture_form(view, form.kind, title=form.title, description=form.description, metadata=meta,
                           lang=lang, author=form.source.user_id)


def message_shortcut(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Capture as requirement* / *change request* / *risk*, *Record as feedback* on a message."""
    ack()
    deps = h.deps_of(context)
    actor = h.actor_of(deps, body)
    kind = cb.KIND_OF_SHORTCUT[str(body.get("callback_id"))]
    try:
        form = flow.open_form(deps, actor, kind, h.channel_of(body), body.get("message"))
    except flow.Refused as refused:
        respond(**h.refused(refused.error, refused.language or h.language_for(actor)))
        return
    if form.existing is not None:
        record = form.existing
        title = getattr(record, "title", None) or getattr(record, "comment", None) or ""
        lang = form.project.language
        respond(**h.message(cb.already_text(kind, record.id, title, lang, cb.source_line(record, lang))))
        return
    deps.client.views_open(trigger_id=body["trigger_id"], view=_view(form, actor))


def submit_capture(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """A capture form submitted: the kind's own submission, keeping the message as the source."""
    deps = h.deps_of(context)
    kind = cb.KIND_OF_MODAL[str(view.get("callback_id"))]
    actor = h.actor_of(deps, body)
    keep = flow.keeping_source(deps, actor, kind, h.metadata(view).get("source"))
    token = unit.rider.set(keep)
    try:
        if kind == "feedback" and keep is not None and keep.author is not None:
            _feedback_of_the_author(ack, deps, actor, view, keep.author)
        else:
            SUBMIT[kind](ack, body, view, context)
    finally:
        unit.rider.reset(token)


def _feedback_of_the_author(ack: Ack, deps: Deps, actor: h.Actor, view: dict[str, Any], author: flow.Author) -> None:
    """*Record as feedback*: the feedback is the message author's (a client's counts as the
    client's), recorded by the person who submitted the form (the activity log says so)."""
    values, meta = h.view_values(view), h.metadata(view)
    kind = h.selected_value(values, ids.FEEDBACK_BLOCK_KIND) or ""
    result = feedback_flow.give(
        deps, feedback_flow.Who(user_id=author.user_id, client_side=author.is_client_side),
        project_id=h.as_id(meta.get("project_id")), picked=None, kind=kind,
        score=h.selected_value(values, ids.FEEDBACK_BLOCK_SCORE), text=h.text_value(values, ids.FEEDBACK_BLOCK_TEXT))
    if result.refused is not None or result.project is None:
        lang = h.language_for(actor, result.project)
        err = result.refused or DomainError("common.not_found")
        ack(**h.refused_inline(err, lang, ids.FEEDBACK_BLOCK_KIND, feedback.FIELD_TO_BLOCK))
        return
    ack(response_action="update", view=given_thanks(kind, result.project.language))
    feedback_flow.finish(deps, result)


def _tell(deps: Deps, user_id: str, channel_id: str, text: str, blocks: list[dict[str, Any]],
          thread_ts: str | None) -> None:
    """An ephemeral to the person who reacted, where they reacted (else by DM, when Slack lets us)."""
    try:
        deps.client.chat_postEphemeral(channel=channel_id, user=user_id, text=text[:3000],
                                       **({"blocks": blocks} if blocks else {}),
                                       **({"thread_ts": thread_ts} if thread_ts else {}))
        return
    except SlackApiError as err:
        log.info("ephemeral to %s in %s failed (%s); sending a DM", user_id, channel_id, err.response.get("error"))
    try:
        h.tell(deps, user_id, None, text, blocks)
    except SlackApiError as err:
        log.warning("could not tell %s about a capture: %s", user_id, err.response.get("error"))


def reaction_added(event: dict[str, Any], context: BoltContext) -> None:
    """The capture reaction on a message of a project's channel (other emoji and channels: nothing)."""
    item = event.get("item") if isinstance(event.get("item"), dict) else {}
    channel, ts, user_id = item.get("channel"), item.get("ts"), event.get("user")
    if item.get("type") != "message" or not isinstance(channel, str) or not isinstance(ts, str) \
            or not isinstance(user_id, str) or not user_id:
        return
    deps = h.deps_of(context)
    actor = h.actor_of(deps, {"user_id": user_id})
    done = flow.react(deps, actor, channel, ts, str(event.get("reaction") or ""))
    if done is None:
        return
    lang = done.project.language
    if done.req is None:
        assert done.refused is not None
        _tell(deps, user_id, channel, h.domain_message(done.refused, lang), [], done.thread_ts)
        return
    req = done.req
    text, blocks = cb.reacted_message("requirement", req.id, req.title, lang, created=done.created,
                                      can_edit=actor.is_team, source=cb.source_line(req, lang))
    _tell(deps, user_id, channel, text, blocks, done.thread_ts)


ROUTES = Routes(
    shortcuts=dict.fromkeys(cb.KIND_OF_SHORTCUT, message_shortcut),
    views=dict.fromkeys(cb.KIND_OF_MODAL, submit_capture),
    events={"reaction_added": reaction_added},
)
