"""`/feedback`: satisfaction prompts, ad-hoc feedback, follow-ups of bad news, results.

Clients answer through buttons in the client channel (the prompt's score buttons, *Add a
comment*, the intake message's *Give feedback*); the team asks, reads and resolves. Each
listener parses the payload, calls one use case of `bot.flows.feedback` (one unit of work) and
renders its result; the messages the use case owes go out after the person has their answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import Ack, BoltContext, Respond

from bot.blocks import ids
from bot.blocks.common import PROJECT_PICKER_BLOCK
from bot.blocks.feedback import (
    PER_PAGE,
    comment_modal,
    cooldown_prompt,
    feedback_modal,
    given_thanks,
    resolve_modal,
    results,
    score_thanks,
    thanks_view,
)
from bot.blocks.pagination import page_state
from bot.blocks.text import channel_link, from_slack_text, mention, safe
from bot.deps import Deps
from bot.flows import feedback as flow
from bot.flows.people import reached_by_channel
from bot.handlers import common
from bot.handlers.common import Actor, deps_of, domain_message, language_for, message, refusal
from bot.handlers.routes import Routes
from bot.i18n import t
from bot.services.errors import ValidationFailed
from bot.slack.channels import channels_of_user

R = TypeVar("R", bound=flow.Result)
FIELD_TO_BLOCK = dict(score=ids.FEEDBACK_BLOCK_SCORE, comment=ids.FEEDBACK_BLOCK_COMMENT, kind=ids.FEEDBACK_BLOCK_KIND,
                      text=ids.FEEDBACK_BLOCK_TEXT, note=ids.FEEDBACK_BLOCK_NOTE)


def _who(deps: Deps, body: dict[str, Any]) -> tuple[Actor, flow.Who]:
    """Who acts. Outside a project's channels (a DM, the App Home, a channel without a project)
    their channels decide which projects they reach: asked of Slack now, before the flow's
    transaction begins (inside it, every other request's save waited for Slack's answer)."""
    actor = common.actor_of(deps, body)
    channel_id = common.channel_of(body)
    known = None if reached_by_channel(deps, channel_id) else frozenset(channels_of_user(deps.client, actor.user_id))

    def channels() -> set[str]:
        return set(known) if known is not None else channels_of_user(deps.client, actor.user_id)

    return actor, flow.Who(user_id=actor.user_id, client_side=actor.is_client_side, channel_id=channel_id,
                           channels=channels)


def _said(result: flow.Result, actor: Actor) -> dict[str, Any]:
    """A refusal, in the reader's language (else the project's, when the project is known)."""
    assert result.refused is not None
    return message(domain_message(result.refused, language_for(actor, result.project)))


def _form_errors(result: flow.Result, actor: Actor, block: str) -> dict[str, Any]:
    """A refusal of a modal, next to its field (`block` when it is about no field)."""
    lang = language_for(actor, result.project)
    if isinstance(result.refused, ValidationFailed):
        errors = common.view_errors(result.refused, lang, FIELD_TO_BLOCK)
    else:
        assert result.refused is not None
        errors = {block: domain_message(result.refused, lang, for_mrkdwn=False)}
    return {"response_action": "errors", "errors": errors}


def _clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond,
             use_case: Callable[[Deps, flow.Who, int | None], R]) -> tuple[Deps, R] | None:
    """Ack a click and run its use case on the id the button carries; a refusal is answered
    here (None), else the result is the caller's to render."""
    ack()
    deps = deps_of(context)
    actor, who = _who(deps, body)
    result = use_case(deps, who, common.action_int(body))
    if result.refused or result.project is None:
        respond(**_said(result, actor), replace_original=False)
        return None
    return deps, result


def _submitted(ack: Ack, body: dict[str, Any], context: BoltContext, block: str,
               use_case: Callable[[Deps, flow.Who], flow.Result], thanks: Callable[[str], dict[str, Any]]) -> None:
    """Run a form's use case: refusals next to their fields, else the form says thanks (in the
    project's language) and the messages the use case owes go out."""
    deps = deps_of(context)
    actor, who = _who(deps, body)
    result = use_case(deps, who)
    if result.refused or result.project is None:
        ack(**_form_errors(result, actor, block))
        return
    ack(response_action="update", view=thanks(language_for(actor, result.project)))
    flow.finish(deps, result)


# --- The command ----------------------------------------------------------------------------


def feedback_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = deps_of(context)
    actor, who = _who(deps, body)
    text = from_slack_text(body.get("text") or "").strip()
    sub, _, rest = text.partition(" ")
    sub = sub.lower()
    if sub == "ask":
        asked = flow.ask(deps, who, rest.strip() or None)
        if asked.refused:
            ack(_said(asked, actor))
            return
        ack()
        respond(**_asked(flow.send_prompt(deps, asked), rest.strip() or None, actor))
    elif sub == "list":
        listed = flow.summary(deps, who, page=1, per_page=PER_PAGE)
        ack(_said(listed, actor) if listed.refused else _results(listed, actor))
    elif not text:
        _open_form(ack, respond, deps, body, actor, who)
    else:
        lang = language_for(actor, flow.project_here(deps, who))
        if sub in ("help", "?") and not rest:
            ack(message(t("feedback.help", lang)))
        else:
            ack(message(t("feedback.unknown_subcommand", lang, sub=safe(sub[:30], 30)) + "\n\n"
                        + t("feedback.help", lang)))


def _open_form(ack: Ack, respond: Respond, deps: Deps, body: dict[str, Any], actor: Actor, who: flow.Who) -> None:
    """`/feedback`: the form for the channel's project; in a DM, with a picker of one's projects
    (answered after the ack: finding them asks Slack)."""
    in_dm = (who.channel_id or "").startswith("D") or body.get("channel_name") == "directmessage"
    if in_dm:
        ack()
    form = flow.feedback_form(deps, who, in_dm=in_dm)
    if form.refused:
        (respond if in_dm else ack)(**_said(form, actor))
        return
    if not in_dm:
        ack()
    if form.project is not None:
        view = feedback_modal(language_for(actor, form.project), metadata={"project_id": form.project.id},
                              anonymous=form.project.anonymous_feedback)
    else:
        view = feedback_modal(language_for(actor), metadata={"project_id": None}, projects=form.choices)
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def _asked(asked: flow.Asked, question: str | None, actor: Actor) -> dict[str, Any]:
    """How asking went, in the asker's language (the project's when Slack does not tell it)."""
    project = asked.project
    assert project is not None
    lang = language_for(actor, project)
    channel = channel_link(project.client_channel_id)
    if asked.status == "cooling_down" and asked.last is not None and asked.until is not None:
        blocks = cooldown_prompt(project, asked.last, asked.until, lang, question)
        return message(blocks[0]["text"]["text"], blocks)
    outcomes = {"posted": "feedback.asked", "superseded": "feedback.superseded", "queued": "feedback.ask_queued"}
    if asked.status in outcomes:
        return message(t(outcomes[asked.status], lang, channel=channel))
    if asked.status in ("closed", "not_found"):
        return message(t("feedback.error_project_closed", lang, name=safe(project.name, 200)))
    return message(t("feedback.ask_failed", lang, channel=channel, error=safe(asked.error or "?", 200)))


def post_anyway(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Post anyway* under the cooldown warning: post unless someone posted a prompt meanwhile."""
    ack()
    deps = deps_of(context)
    actor, who = _who(deps, body)
    try:
        data = json.loads(common.action_value(body) or "null")
    except ValueError:
        data = None
    data = data if isinstance(data, dict) else {}
    question = data.get("question") if isinstance(data.get("question"), str) and data.get("question") else None
    after = common.as_id(data.get("after"))
    if data.get("after") is not None and after is None:
        respond(**refusal("common.not_found", language_for(actor)), replace_original=False)
        return
    asked = flow.ask_anyway(deps, who, project_id=common.as_id(data.get("project")), after=after, question=question)
    if asked.refused:
        respond(**_said(asked, actor), replace_original=False)
        return
    respond(**_asked(flow.send_prompt(deps, asked), question, actor), replace_original=True)


# --- Answering a prompt ---------------------------------------------------------------------


def score_click(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor, who = _who(deps, body)
    prompt_id, score = ids.parse_feedback_score_value(common.action_value(body))
    answered = flow.answer_score(deps, who, prompt_id=prompt_id, score=score)
    if answered.refused or answered.response is None or answered.project is None or answered.prompt is None:
        respond(**_said(answered, actor), replace_original=False)
        return
    text = score_thanks(answered.response.score or 0, language_for(actor, answered.project),
                        changed_from=answered.previous_score, anonymous=answered.prompt.anonymous,
                        sorry=answered.bad_news)
    respond(text=text, response_type="ephemeral", replace_original=False)
    flow.finish(deps, answered)


def open_comment(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    clicked = _clicked(ack, body, context, respond, flow.comment_form)
    if clicked is not None:
        deps, answered = clicked
        assert answered.prompt is not None and answered.project is not None
        view = comment_modal(answered.prompt, language_for(common.actor_of(deps, body), answered.project),
                             existing=answered.response,
                             metadata={"prompt_id": answered.prompt.id})
        deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_comment(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    values = common.view_values(view)
    _submitted(ack, body, context, ids.FEEDBACK_BLOCK_COMMENT, lambda deps, who: flow.comment(
        deps, who, prompt_id=common.as_id(common.metadata(view).get("prompt_id")),
        score=common.selected_value(values, ids.FEEDBACK_BLOCK_SCORE),
        text=common.text_value(values, ids.FEEDBACK_BLOCK_COMMENT)),
        lambda lang: thanks_view(lang, t("feedback.comment_thanks", lang)))


# --- Ad-hoc feedback ------------------------------------------------------------------------


def open_feedback_from_intake(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The intake message's *Give feedback*: anyone in the client channel."""
    clicked = _clicked(ack, body, context, respond, flow.intake_form)
    if clicked is not None:
        deps, form = clicked
        assert form.project is not None
        deps.client.views_open(trigger_id=body["trigger_id"], view=feedback_modal(
            language_for(common.actor_of(deps, body), form.project), metadata={"project_id": form.project.id},
            anonymous=form.project.anonymous_feedback))


def submit_feedback(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    values = common.view_values(view)
    kind = common.selected_value(values, ids.FEEDBACK_BLOCK_KIND) or ""
    first_block = PROJECT_PICKER_BLOCK if PROJECT_PICKER_BLOCK in values else ids.FEEDBACK_BLOCK_KIND
    _submitted(ack, body, context, first_block, lambda deps, who: flow.give(
        deps, who, project_id=common.as_id(common.metadata(view).get("project_id")),
        picked=common.selected_value(values, PROJECT_PICKER_BLOCK), kind=kind,
        score=common.selected_value(values, ids.FEEDBACK_BLOCK_SCORE),
        text=common.text_value(values, ids.FEEDBACK_BLOCK_TEXT)),
        lambda lang: given_thanks(kind, lang))


# --- Follow-ups -----------------------------------------------------------------------------


def open_resolve(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    clicked = _clicked(ack, body, context, respond, flow.resolve_form)
    if clicked is None:
        return
    deps, shown = clicked
    follow_up, project = shown.follow_up, shown.project
    assert follow_up is not None and project is not None and shown.response is not None
    lang = language_for(common.actor_of(deps, body), project)  # the form is the clicker's alone
    if follow_up.status != "open":
        respond(**refusal("feedback.already_resolved_by", lang, user=mention(follow_up.resolved_by),
                          note=safe(follow_up.resolution_note, 500)), replace_original=False)
        return
    view = resolve_modal(project, shown.response, shown.question, {"follow_up_id": follow_up.id}, lang=lang)
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_resolve(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    _submitted(ack, body, context, ids.FEEDBACK_BLOCK_NOTE, lambda deps, who: flow.resolve(
        deps, who, follow_up_id=common.as_id(common.metadata(view).get("follow_up_id")),
        note=common.text_value(common.view_values(view), ids.FEEDBACK_BLOCK_NOTE)),
        lambda lang: thanks_view(lang, t("feedback.resolved", lang)))


# --- Results --------------------------------------------------------------------------------


def _results(listed: flow.Listed, actor: Actor) -> dict[str, Any]:
    project, found = listed.project, listed.summary
    assert project is not None and found is not None
    lang = language_for(actor, project)
    blocks = results(project, stats=found.stats, follow_ups=found.follow_ups, open_count=found.open_count,
                     responses=found.responses, total=found.total, page=found.page, questions=found.questions,
                     lang=lang)
    return message(t("feedback.list_text", lang, name=safe(project.name, 200)), blocks)


def turn_page(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor, who = _who(deps, body)
    state = page_state(common.action_value(body))
    listed = flow.summary(deps, who, page=state["page"], per_page=PER_PAGE, pager=common.as_id(state.get("project")))
    if listed.refused:
        respond(**_said(listed, actor), replace_original=False)
        return
    respond(**_results(listed, actor), replace_original=True)


ROUTES = Routes(
    commands={"/feedback": feedback_command},
    actions={ids.FEEDBACK_SCORE: score_click, ids.FEEDBACK_COMMENT: open_comment,
             ids.INTAKE_GIVE_FEEDBACK: open_feedback_from_intake, ids.FEEDBACK_POST_ANYWAY: post_anyway,
             ids.FEEDBACK_RESOLVE: open_resolve, ids.FEEDBACK_LIST_PAGE: turn_page},
    views={ids.FEEDBACK_COMMENT_MODAL: submit_comment, ids.FEEDBACK_MODAL: submit_feedback,
           ids.FEEDBACK_RESOLVE_MODAL: submit_resolve},
)
