"""`/feedback`: satisfaction prompts, ad-hoc feedback, follow-ups of bad news, results.

Clients answer through buttons in the client channel (the prompt's score buttons, *Add a
comment*, the intake message's *Give feedback*); the team asks, reads and resolves.
"""

from __future__ import annotations

import json
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.blocks import ids
from bot.blocks.common import PROJECT_PICKER_BLOCK
from bot.blocks.feedback import (
    PER_PAGE,
    comment_modal,
    cooldown_prompt,
    feedback_modal,
    resolve_modal,
    results,
    thanks_view,
)
from bot.blocks.feedback import score_thanks as thanks_text
from bot.blocks.pagination import page_state
from bot.blocks.text import channel_link, mention, safe
from bot.deps import Deps
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
    project_of_channel,
    projects_of_user,
    refusal,
    selected_value,
    text_value,
    view_errors,
    view_values,
    within_reach,
)
from bot.i18n import t
from bot.models import FeedbackPrompt, Project
from bot.services import feedback, projects
from bot.services.errors import DomainError, NotFound, ValidationFailed
from bot.slack import feedback_prompts as prompts
from bot.slack.feedback_prompts import PromptOutcome

FIELD_TO_BLOCK = {
    "score": ids.FEEDBACK_BLOCK_SCORE,
    "comment": ids.FEEDBACK_BLOCK_COMMENT,
    "kind": ids.FEEDBACK_BLOCK_KIND,
    "text": ids.FEEDBACK_BLOCK_TEXT,
    "note": ids.FEEDBACK_BLOCK_NOTE,
}


def register(app: App) -> None:
    app.command("/feedback")(feedback_command)
    app.action(re.compile(rf"^{ids.FEEDBACK_SCORE}(:.*)?$"))(score_click)
    app.action(ids.FEEDBACK_COMMENT)(open_comment)
    app.view(ids.FEEDBACK_COMMENT_MODAL)(submit_comment)
    app.action(ids.INTAKE_GIVE_FEEDBACK)(open_feedback_from_intake)
    app.view(ids.FEEDBACK_MODAL)(submit_feedback)
    app.action(ids.FEEDBACK_POST_ANYWAY)(post_anyway)
    app.action(ids.FEEDBACK_RESOLVE)(open_resolve)
    app.view(ids.FEEDBACK_RESOLVE_MODAL)(submit_resolve)
    app.action(re.compile(rf"^{ids.FEEDBACK_LIST_PAGE}:(prev|next)$"))(turn_page)


def may_answer(actor: Actor, project: Project) -> bool:
    """Prompts ask the client (SPEC §1: external users, guests, client approvers)."""
    return actor.is_client_side or actor.user_id in (project.client_approver_ids or [])


def _is_dm(body: dict[str, Any]) -> bool:
    channel = body.get("channel_id") or ""
    return channel.startswith("D") or body.get("channel_name") == "directmessage"


# --- The command ----------------------------------------------------------------------------


def feedback_command(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    project = project_of_channel(deps, channel_of(body))
    lang = language_for(actor, project)
    text = (body.get("text") or "").strip()
    words = text.split()
    sub = words[0].lower() if words else ""
    if sub in ("help", "?") and len(words) == 1:
        ack(message(t("feedback.help", lang)))
        return
    if sub in ("ask", "list"):
        if not actor.is_team:
            ack(refusal("common.refused_team_only", lang))
            return
        if project is None:
            ack(refusal("common.no_project_here", lang))
            return
        if sub == "list":
            ack(_results_message(deps, project, page=1))
            return
        if project.status != "active":
            ack(refusal("feedback.error_project_closed", lang, name=safe(project.name, 200)))
            return
        ack()
        question = text[len(words[0]):].strip() or None
        _ask(deps, respond, actor, project, question=question)
        return
    if text:
        ack(message(t("feedback.unknown_subcommand", lang, sub=safe(sub[:30], 30)) + "\n\n" + t("feedback.help", lang)))
        return
    if project is None:
        if not _is_dm(body):
            ack(refusal("common.no_project_here", lang))
            return
        ack()
        mine = projects_of_user(deps, actor.user_id)
        if not mine:
            respond(**refusal("common.no_projects_for_you", lang))
            return
        deps.client.views_open(trigger_id=body["trigger_id"], view=feedback_modal(
            lang, metadata={"project_id": None}, projects=mine))
        return
    if project.status != "active":
        ack(refusal("feedback.error_project_closed", lang, name=safe(project.name, 200)))
        return
    ack()
    deps.client.views_open(trigger_id=body["trigger_id"], view=feedback_modal(
        lang, metadata={"project_id": project.id}, anonymous=project.anonymous_feedback))


def _ask(deps: Deps, respond: Respond, actor: Actor, project: Project, *, question: str | None,
         expected_last_id: Any = None, force: bool = False) -> None:
    lang = project.language
    kwargs: dict[str, Any] = {"expected_last_id": expected_last_id} if force else {}
    try:
        outcome = prompts.post_prompt(deps, project_id=project.id or 0, actor=actor.user_id, trigger="manual",
                                      question=question, ignore_cooldown=force, **kwargs)
    except DomainError as err:
        respond(**message(domain_message(err, lang)), replace_original=force)
        return
    respond(**_outcome_message(project, outcome, question), replace_original=force)


def _outcome_message(project: Project, outcome: PromptOutcome, question: str | None) -> dict[str, Any]:
    lang = project.language
    channel = channel_link(project.client_channel_id)
    if outcome.status == "posted":
        return message(t("feedback.asked", lang, channel=channel))
    if outcome.status == "cooling_down" and outcome.last is not None and outcome.until is not None:
        blocks = cooldown_prompt(project, outcome.last, outcome.until, lang, question)
        return message(blocks[0]["text"]["text"], blocks)
    if outcome.status in ("closed", "not_found"):
        return message(t("feedback.error_project_closed", lang, name=safe(project.name, 200)))
    if outcome.status == "superseded":
        return message(t("feedback.superseded", lang, channel=channel))
    if outcome.status == "queued":
        return message(t("feedback.ask_queued", lang, channel=channel))
    return message(t("feedback.ask_failed", lang, channel=channel, error=safe(outcome.error or "?", 200)))


def post_anyway(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Post anyway* under the cooldown warning: post unless someone posted a prompt meanwhile."""
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    if not actor.is_team:
        respond(**refusal("common.refused_team_only", lang), replace_original=False)
        return
    try:
        data = json.loads(action_value(body) or "null")
    except ValueError:
        data = None
    project_id = data.get("project") if isinstance(data, dict) else None
    after = data.get("after") if isinstance(data, dict) else None
    question = data.get("question") if isinstance(data, dict) else None
    project = _project(deps, as_id(project_id))
    if project is None or not (after is None or as_id(after) is not None) or \
            not within_reach(deps, actor.user_id, channel_of(body), project):
        respond(**refusal("common.not_found", lang), replace_original=False)
        return
    _ask(deps, respond, actor, project, question=question if isinstance(question, str) and question else None,
         expected_last_id=after, force=True)


# --- Answering a prompt ---------------------------------------------------------------------


def _score_ref(value: str) -> tuple[int, int] | None:
    """(prompt id, score) from a score button's value `<prompt>:<score>`; None when tampered with."""
    prompt_part, sep, score_part = value.partition(":")
    prompt_id = as_id(prompt_part) if sep else None
    if prompt_id is None:
        return None
    score = feedback.parse_score(score_part)
    return (prompt_id, score) if score is not None else None


def _prompt_for_click(deps: Deps, body: dict[str, Any], actor: Actor, prompt_id: int | None
                      ) -> tuple[FeedbackPrompt | None, Project | None, str | None]:
    """The prompt a click is about and its project, or the i18n key of a refusal (with the
    project when it is known, so the refusal speaks the project's language)."""
    if prompt_id is None:
        return None, None, "common.not_found"
    with deps.session() as session:
        try:
            prompt, project = feedback.get_prompt(session, deps.workspace.team_id, prompt_id)
        except NotFound:
            return None, None, "common.not_found"
    if channel_of(body) not in (project.client_channel_id, prompt.channel_id):
        return None, None, "common.not_found"
    if project.status != "active":
        return prompt, project, "feedback.prompt_closed"
    if not may_answer(actor, project):
        return prompt, project, "feedback.only_clients"
    return prompt, project, None


def _refuse(respond: Respond, key: str, lang: str, project: Project | None = None) -> None:
    params = {"name": safe(project.name, 200)} if project else {}
    respond(**refusal(key, lang, **params), replace_original=False)


def score_click(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    value = action_value(body)
    prompt_part = value.partition(":")[0]
    prompt, project, refused = _prompt_for_click(deps, body, actor, as_id(prompt_part))
    lang = project.language if project else language_for(actor)
    ref = _score_ref(value)
    if ref is None:
        _refuse(respond, "feedback.error_score", lang)
        return
    if refused or prompt is None or project is None:
        _refuse(respond, refused or "common.not_found", lang)
        return
    try:
        with deps.session() as session:
            project = session.get(Project, project.id) or project
            recorded = feedback.record_score(session, deps.clock, prompt=prompt, project=project,
                                             user_id=actor.user_id, score=ref[1], secret=prompts.secret_of(deps))
            dms = _follow_up_messages(session, deps, project, recorded, commented=False)
    except DomainError as err:
        respond(**message(domain_message(err, lang)), replace_original=False)
        return
    text = thanks_text(ref[1], lang, changed_from=recorded.previous_score, anonymous=prompt.anonymous)
    respond(text=text, response_type="ephemeral", replace_original=False)
    prompts.deliver_all(deps, dms)


def _follow_up_messages(session: Any, deps: Deps, project: Project, recorded: feedback.Recorded,
                        *, commented: bool) -> list[int]:
    """Outbox rows for the PM: a DM for a new follow-up, or an update when a comment arrives on
    one still open."""
    response = recorded.response
    if recorded.follow_up is not None:
        row = prompts.enqueue_follow_up_dm(session, deps.clock, project=project, follow_up=recorded.follow_up,
                                           response=response)
        return [row.id] if row.id is not None else []
    if commented and response.id is not None:
        open_one = prompts.open_follow_up_for(session, response.id)
        if open_one is not None:
            row = prompts.enqueue_follow_up_update(session, deps.clock, project=project, follow_up=open_one,
                                                   response=response)
            return [row.id] if row and row.id is not None else []
    return []


def open_comment(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    prompt, project, refused = _prompt_for_click(deps, body, actor, action_int(body))
    lang = project.language if project else language_for(actor)
    if refused or prompt is None or project is None:
        _refuse(respond, refused or "common.not_found", lang)
        return
    with deps.session() as session:
        existing = feedback.my_answer(session, prompt, actor.user_id, prompts.secret_of(deps))
    view = comment_modal(prompt, project.language, existing=existing, metadata={"prompt_id": prompt.id})
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_comment(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    meta = metadata(view)
    prompt_id = as_id(meta.get("prompt_id"))
    prompt: FeedbackPrompt | None = None
    project: Project | None = None
    if prompt_id is not None:
        with deps.session() as session:
            try:
                prompt, project = feedback.get_prompt(session, deps.workspace.team_id, prompt_id)
            except NotFound:
                prompt = None
    if prompt is None or project is None:
        ack(response_action="errors", errors={ids.FEEDBACK_BLOCK_COMMENT: t("common.not_found", lang)})
        return
    lang = project.language
    if project.status != "active" or not may_answer(actor, project):
        key = "feedback.prompt_closed" if project.status != "active" else "feedback.only_clients"
        ack(response_action="errors", errors={ids.FEEDBACK_BLOCK_COMMENT: t(key, lang)})
        return
    values = view_values(view)
    raw_score = selected_value(values, ids.FEEDBACK_BLOCK_SCORE)
    score = feedback.parse_score(raw_score) if raw_score is not None else None
    comment = text_value(values, ids.FEEDBACK_BLOCK_COMMENT)
    errors: dict[str, str] = {}
    if raw_score is not None and score is None:
        errors[ids.FEEDBACK_BLOCK_SCORE] = t("feedback.error_score", lang)
    if len(comment.strip()) > feedback.TEXT_MAX:
        errors[ids.FEEDBACK_BLOCK_COMMENT] = t("common.error_too_long", lang, max=feedback.TEXT_MAX)
    elif not comment.strip() and score is None:
        errors[ids.FEEDBACK_BLOCK_COMMENT] = t("feedback.error_comment_empty", lang)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    try:
        with deps.session() as session:
            project = session.get(Project, project.id) or project
            recorded = feedback.answer(session, deps.clock, prompt=prompt, project=project, user_id=actor.user_id,
                                       secret=prompts.secret_of(deps), score=score, comment=comment)
            dms = _follow_up_messages(session, deps, project, recorded, commented=bool(comment.strip()))
    except ValidationFailed as err:
        ack(response_action="errors", errors=view_errors(err, lang, FIELD_TO_BLOCK))
        return
    except DomainError as err:
        ack(response_action="errors", errors={ids.FEEDBACK_BLOCK_COMMENT: domain_message(err, lang)})
        return
    ack(response_action="update", view=thanks_view(lang, t("feedback.comment_thanks", lang)))
    prompts.deliver_all(deps, dms)


# --- Ad-hoc feedback ------------------------------------------------------------------------


def _project(deps: Deps, project_id: int | None) -> Project | None:
    if project_id is None:
        return None
    with deps.session() as session:
        try:
            return projects.get(session, deps.workspace.team_id, project_id)
        except NotFound:
            return None


def open_feedback_from_intake(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The intake message's *Give feedback*: anyone in the client channel."""
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    project = _project(deps, action_int(body))
    if project is None or channel_of(body) != project.client_channel_id:
        _refuse(respond, "common.not_found", lang)
        return
    lang = project.language
    if project.status != "active":
        _refuse(respond, "feedback.error_project_closed", lang, project)
        return
    deps.client.views_open(trigger_id=body["trigger_id"], view=feedback_modal(
        lang, metadata={"project_id": project.id}, anonymous=project.anonymous_feedback))


def submit_feedback(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    meta = metadata(view)
    values = view_values(view)
    project_id = as_id(meta.get("project_id"))
    first_block = PROJECT_PICKER_BLOCK if PROJECT_PICKER_BLOCK in values else ids.FEEDBACK_BLOCK_KIND
    if project_id is not None:
        project = _project(deps, project_id)
    else:
        picked = selected_value(values, PROJECT_PICKER_BLOCK) or ""
        project = next((p for p in projects_of_user(deps, actor.user_id) if str(p.id) == picked), None)
    if project is None:
        ack(response_action="errors", errors={first_block: t("common.not_found", lang)})
        return
    lang = project.language
    raw_score = selected_value(values, ids.FEEDBACK_BLOCK_SCORE)
    score = feedback.parse_score(raw_score) if raw_score is not None else None
    if raw_score is not None and score is None:
        ack(response_action="errors", errors={ids.FEEDBACK_BLOCK_SCORE: t("feedback.error_score", lang)})
        return
    kind = selected_value(values, ids.FEEDBACK_BLOCK_KIND) or ""
    try:
        with deps.session() as session:
            project = session.get(Project, project.id) or project
            recorded = feedback.give_feedback(session, deps.clock, project=project, user_id=actor.user_id,
                                              kind=kind, score=score, text=text_value(values, ids.FEEDBACK_BLOCK_TEXT))
            dms = _follow_up_messages(session, deps, project, recorded, commented=False)
    except ValidationFailed as err:
        ack(response_action="errors", errors=view_errors(err, lang, FIELD_TO_BLOCK))
        return
    except DomainError as err:
        ack(response_action="errors", errors={first_block: domain_message(err, lang)})
        return
    ack(response_action="update", view=thanks_view(lang, t(f"feedback.given_{kind}", lang)))
    prompts.deliver_all(deps, dms)


# --- Follow-ups -----------------------------------------------------------------------------


def open_resolve(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    if not actor.is_team:
        _refuse(respond, "common.refused_team_only", lang)
        return
    follow_up_id = action_int(body)
    try:
        with deps.session() as session:
            if follow_up_id is None:
                raise NotFound("common.not_found")
            follow_up, response, project = feedback.get_follow_up(session, deps.workspace.team_id, follow_up_id)
            question = feedback.question_of(session, response)
        if not within_reach(deps, actor.user_id, channel_of(body), project):
            raise NotFound("common.not_found")
    except NotFound:
        _refuse(respond, "common.not_found", lang)
        return
    lang = project.language
    if follow_up.status != "open":
        respond(**refusal("feedback.already_resolved_by", lang, user=mention(follow_up.resolved_by),
                          note=safe(follow_up.resolution_note, 500)), replace_original=False)
        return
    view = resolve_modal(project, response, question, {"follow_up_id": follow_up.id})
    deps.client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_resolve(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    actor = actor_of(deps, body)
    lang = language_for(actor)
    if not actor.is_team:
        ack(response_action="errors", errors={ids.FEEDBACK_BLOCK_NOTE: t("common.refused_team_only", lang)})
        return
    follow_up_id = as_id(metadata(view).get("follow_up_id"))
    note = text_value(view_values(view), ids.FEEDBACK_BLOCK_NOTE)
    try:
        with deps.session() as session:
            if follow_up_id is None:
                raise NotFound("common.not_found")
            follow_up, response, project = feedback.get_follow_up(session, deps.workspace.team_id, follow_up_id)
            lang = project.language
            feedback.resolve_follow_up(session, deps.clock, follow_up=follow_up, project=project,
                                       actor=actor.user_id, note=note)
            row = prompts.enqueue_resolved_update(session, deps.clock, project=project, follow_up=follow_up,
                                                  response=response)
            updates = [row.id] if row is not None and row.id is not None else []
    except ValidationFailed as err:
        ack(response_action="errors", errors=view_errors(err, lang, FIELD_TO_BLOCK))
        return
    except DomainError as err:
        ack(response_action="errors", errors={ids.FEEDBACK_BLOCK_NOTE: domain_message(err, lang)})
        return
    ack(response_action="update", view=thanks_view(lang, t("feedback.resolved", lang)))
    prompts.deliver_all(deps, updates)


# --- Results --------------------------------------------------------------------------------


def _results_message(deps: Deps, project: Project, *, page: int) -> dict[str, Any]:
    lang = project.language
    with deps.session() as session:
        pid = project.id or 0
        stats = feedback.prompt_stats(session, pid)
        follow_ups = feedback.open_follow_ups(session, pid)
        open_count = feedback.count_open_follow_ups(session, pid)
        responses, total = feedback.recent_responses(session, pid, page=page, per_page=PER_PAGE)
        prompt_ids = {r.prompt_id for r in responses if r.prompt_id} | {r.prompt_id for _, r in follow_ups
                                                                       if r.prompt_id}
        questions = feedback.questions(session, {i for i in prompt_ids if i is not None})
    blocks = results(project, stats=stats, follow_ups=follow_ups, open_count=open_count, responses=responses,
                     total=total, page=page, questions=questions, lang=lang)
    return message(t("feedback.list_text", lang, name=safe(project.name, 200)), blocks)


def turn_page(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    if not actor.is_team:
        _refuse(respond, "common.refused_team_only", language_for(actor))
        return
    state = page_state(action_value(body))
    project = _project(deps, as_id(state.get("project")))
    if project is None or not within_reach(deps, actor.user_id, channel_of(body), project):
        _refuse(respond, "common.not_found", language_for(actor))
        return
    respond(**_results_message(deps, project, page=state["page"]), replace_original=True)
