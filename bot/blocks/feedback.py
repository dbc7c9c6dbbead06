"""Views and messages of client feedback: the prompt, its modals, the PM's follow-up DM, the results.

Pure builders: records and plain values in, Block Kit out (the figures come computed from
`bot.services.feedback`; nothing here reads the database or decides a rule).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.blocks import ids
from bot.blocks import text as kit
from bot.blocks.capture import source_line
from bot.blocks.common import input_block as _input
from bot.blocks.common import project_picker
from bot.blocks.pagination import pager
from bot.blocks.text import fit_blocks, mention, mrkdwn, option, plain_text, safe
from bot.i18n import t
from bot.models import CLOSEOUT_TRIGGER, FeedbackKind, FeedbackPrompt, FeedbackResponse, FollowUp, Project

FACES = {1: "😞", 2: "🙁", 3: "😐", 4: "🙂", 5: "😄"}
SCORE_LABELS = {1: "feedback.score_1", 2: "feedback.score_2", 3: "feedback.score_3", 4: "feedback.score_4",
                5: "feedback.score_5"}
KIND_LABELS = {FeedbackKind.praise: "feedback.kind_praise", FeedbackKind.complaint: "feedback.kind_complaint",
               FeedbackKind.suggestion: "feedback.kind_suggestion"}
GIVEN_THANKS = {FeedbackKind.praise: "feedback.given_praise", FeedbackKind.complaint: "feedback.given_complaint",
                FeedbackKind.suggestion: "feedback.given_suggestion"}
TEXT_INPUT_MAX = 3000  # Block Kit's plain_text_input max_length
PER_PAGE = 10
SPARKS = "▁▂▃▄▅▆▇█"
NO_DATA = "·"


def stars(score: int | None) -> str:
    if score is None:
        return "–"
    return "★" * score + "☆" * (5 - score)


def spark(value: float | None) -> str:
    """One bar of the sparkline on the fixed 1–5 scale (1 → ▁, 5 → █), `·` for no answers."""
    if value is None:
        return NO_DATA
    clamped = min(max(value, 1.0), 5.0)
    return SPARKS[round((clamped - 1.0) / 4.0 * (len(SPARKS) - 1))]


def sparkline(values: list[float | None]) -> str:
    """The trend over prompts, oldest first. The scale is fixed, so a line of ▇ means "good",
    not merely "as good as the best week"."""
    return "".join(spark(v) for v in values)


def _score_label(score: int, lang: str) -> str:
    return t("feedback.score_option", lang, score=score, face=FACES[score], label=t(SCORE_LABELS[score], lang))


def _score_options(lang: str) -> list[dict[str, Any]]:
    return [option(_score_label(s, lang), str(s)) for s in FACES]


def _modal(callback_id: str, title: str, blocks: list[dict[str, Any]], lang: str, metadata: dict[str, Any],
           submit_key: str = "common.save") -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain_text(title, kit.MODAL_TITLE),
        "submit": plain_text(t(submit_key, lang), kit.MODAL_BUTTON),
        "close": plain_text(t("common.cancel", lang), kit.MODAL_BUTTON),
        "private_metadata": json.dumps(metadata)[:kit.PRIVATE_METADATA],
        "blocks": blocks,
    }


def _text_input(lang: str, placeholder_key: str, initial: str | None = None) -> dict[str, Any]:
    el: dict[str, Any] = {"type": "plain_text_input", "multiline": True, "max_length": TEXT_INPUT_MAX,
                          "placeholder": plain_text(t(placeholder_key, lang), kit.PLACEHOLDER)}
    if initial:
        el["initial_value"] = initial[:TEXT_INPUT_MAX]
    return el


# --- The prompt in the client channel ---------------------------------------------------------


def prompt_message(prompt: FeedbackPrompt, project: Project) -> dict[str, Any]:
    """The question with five score buttons and *Add a comment* (SPEC §3)."""
    lang = project.language
    question = safe(prompt.question, 2000)
    buttons: list[dict[str, Any]] = [
        {"type": "button", "action_id": ids.feedback_score_action(s), "value": ids.feedback_score_value(prompt.id, s),
         "text": plain_text(f"{FACES[s]} {s}", kit.BUTTON_TEXT)}
        for s in FACES
    ]
    buttons.append({"type": "button", "action_id": ids.FEEDBACK_COMMENT, "value": str(prompt.id),
                    "text": plain_text(t("feedback.add_comment", lang), kit.BUTTON_TEXT)})
    note_key = "feedback.prompt_note_anonymous" if prompt.anonymous else "feedback.prompt_note"
    note = t(note_key, lang)
    if prompt.trigger == CLOSEOUT_TRIGGER:  # the final prompt of a project: what to do better next time
        note = t("reports.final_prompt_note", lang) + "\n" + note
    return {
        "text": t("feedback.prompt_text", lang, question=question),
        "blocks": [
            {"type": "section", "text": mrkdwn(t("feedback.prompt_title", lang, question=question))},
            {"type": "actions", "block_id": ids.feedback_prompt_block(prompt.id), "elements": buttons},
            {"type": "context", "elements": [mrkdwn(note, kit.CONTEXT_TEXT)]},
        ],
    }


def score_thanks(score: int, lang: str, *, changed_from: int | None, anonymous: bool, sorry: bool) -> str:
    """The answer to a score click, for the responder only (`sorry`: it was bad news)."""
    key = "feedback.thanks_changed" if changed_from is not None and changed_from != score else "feedback.thanks"
    text = t(key, lang, stars=stars(score), score=score)
    if sorry:
        text += "\n" + t("feedback.thanks_sorry", lang)
    if anonymous:
        text += "\n" + t("feedback.thanks_anonymous", lang)
    return text


def comment_modal(prompt: FeedbackPrompt, lang: str, *, existing: FeedbackResponse | None,
                  metadata: dict[str, Any]) -> dict[str, Any]:
    options = _score_options(lang)
    score_el: dict[str, Any] = {"type": "radio_buttons", "options": options}
    if existing is not None and existing.score in FACES:
        score_el["initial_option"] = options[existing.score - 1]
    blocks = [
        {"type": "section", "text": mrkdwn(t("feedback.comment_question", lang, question=safe(prompt.question, 2000)))},
        _input(ids.FEEDBACK_BLOCK_SCORE, t("feedback.label_score", lang), score_el, optional=True),
        _input(ids.FEEDBACK_BLOCK_COMMENT, t("reports.final_comment_label" if prompt.trigger == CLOSEOUT_TRIGGER
                                             else "feedback.label_comment", lang),
               _text_input(lang, "feedback.placeholder_comment", existing.comment if existing else None),
               hint=t("feedback.hint_anonymous", lang) if prompt.anonymous else None),
    ]
    return _modal(ids.FEEDBACK_COMMENT_MODAL, t("feedback.comment_title", lang), blocks, lang, metadata,
                  "feedback.send")


def feedback_modal(lang: str, *, metadata: dict[str, Any], projects: list[Project] | None = None,
                   anonymous: bool = False) -> dict[str, Any]:
    """Ad-hoc feedback: kind, optional score, text. `projects` adds the project picker."""
    kinds = [option(t(label, lang), kind.value) for kind, label in KIND_LABELS.items()]
    blocks: list[dict[str, Any]] = []
    if projects is not None:
        blocks.append(project_picker(projects, lang))
    blocks += [
        _input(ids.FEEDBACK_BLOCK_KIND, t("feedback.label_kind", lang),
               {"type": "radio_buttons", "options": kinds}),
        _input(ids.FEEDBACK_BLOCK_SCORE, t("feedback.label_score_optional", lang),
               {"type": "static_select", "options": _score_options(lang),
                "placeholder": plain_text(t("feedback.placeholder_score", lang), kit.PLACEHOLDER)}, optional=True),
        _input(ids.FEEDBACK_BLOCK_TEXT, t("feedback.label_text", lang),
               _text_input(lang, "feedback.placeholder_text"),
               hint=t("feedback.hint_anonymous", lang) if anonymous else t("feedback.hint_text", lang)),
    ]
    return _modal(ids.FEEDBACK_MODAL, t("feedback.modal_title", lang), blocks, lang, metadata, "feedback.send")


def given_thanks(kind: str, lang: str) -> dict[str, Any]:
    """The feedback modal once ad-hoc feedback is saved."""
    return thanks_view(lang, t(GIVEN_THANKS[kind], lang))  # type: ignore[index]


def thanks_view(lang: str, text: str) -> dict[str, Any]:
    return {"type": "modal", "title": plain_text(t("feedback.modal_title", lang), kit.MODAL_TITLE),
            "close": plain_text(t("feedback.close", lang), kit.MODAL_BUTTON),
            "blocks": [{"type": "section", "text": mrkdwn(text)}]}


def local_date(project: Project, at: datetime) -> str:
    """A stored UTC instant as a date where the project lives."""
    try:
        zone = ZoneInfo(project.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return at.astimezone(zone).strftime("%Y-%m-%d")


# --- /feedback ask within the cooldown -------------------------------------------------------


def cooldown_prompt(project: Project, last: FeedbackPrompt, until: datetime, lang: str,
                    question: str | None) -> list[dict[str, Any]]:
    value = json.dumps({"project": project.id, "after": last.id, "question": question or ""})
    text = t("feedback.cooldown", lang, date=local_date(project, last.created_at),
             days=project.feedback_cooldown_days, until=local_date(project, until))
    return [
        {"type": "section", "text": mrkdwn(text)},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": ids.FEEDBACK_POST_ANYWAY, "value": value[:2000],
             "text": plain_text(t("feedback.post_anyway", lang), kit.BUTTON_TEXT)},
        ]},
    ]


# --- The PM's follow-up DM -------------------------------------------------------------------


def _who(response: FeedbackResponse, lang: str) -> str:
    who = mention(response.user_id) if response.user_id else t("feedback.anonymous", lang)
    return who if response.client_side else t("feedback.team_side", lang, who=who)


def _what(response: FeedbackResponse, lang: str) -> str:
    if response.prompt_id is not None:
        return t("feedback.what_score", lang, stars=stars(response.score), score=response.score or "–")
    label = KIND_LABELS.get(response.feedback_kind)  # type: ignore[call-overload]
    kind = t(label, lang) if label else safe(response.feedback_kind, 30)
    if response.score is not None:
        return t("feedback.what_kind_score", lang, kind=kind, stars=stars(response.score), score=response.score)
    return kind


def follow_up_fields(project: Project, response: FeedbackResponse, question: str | None,
                     lang: str) -> list[dict[str, Any]]:
    fields = [
        t("feedback.field_project", lang, value=safe(project.name, 200)),
        t("feedback.field_from", lang, value=_who(response, lang)),
        t("feedback.field_what", lang, value=_what(response, lang)),
    ]
    if question:
        fields.append(t("feedback.field_question", lang, value=safe(question, 500)))
    blocks: list[dict[str, Any]] = [{"type": "section", "fields": [mrkdwn(f, kit.SECTION_FIELD) for f in fields]}]
    comment = safe(response.comment, 2900) if response.comment else t("feedback.no_comment", lang)
    blocks.append({"type": "section", "text": mrkdwn(t("feedback.field_comment", lang, value=comment))})
    return blocks


def follow_up_dm(project: Project, follow_up: FollowUp, response: FeedbackResponse, question: str | None,
                 *, updated: bool = False, lang: str | None = None) -> dict[str, Any]:
    """Bad news for the PM, with *Resolve*; in `lang`, the PM's own (default: the project's)."""
    lang = lang or project.language
    name = safe(project.name, 200)
    title_key = "feedback.dm_updated_title" if updated else "feedback.dm_title"
    return {
        "text": t(title_key, lang, name=name),
        "blocks": [
            {"type": "section", "text": mrkdwn(t(title_key, lang, name=name))},
            *follow_up_fields(project, response, question, lang),
            {"type": "actions", "elements": [
                {"type": "button", "action_id": ids.FEEDBACK_RESOLVE, "value": str(follow_up.id), "style": "primary",
                 "text": plain_text(t("feedback.resolve", lang), kit.BUTTON_TEXT)},
            ]},
        ],
    }


def resolved_dm(project: Project, follow_up: FollowUp, response: FeedbackResponse,
                question: str | None, *, lang: str | None = None) -> dict[str, Any]:
    """The DM once the follow-up is resolved: the same facts, who resolved it and the note (in
    `lang`, the PM's own; default: the project's)."""
    lang = lang or project.language
    name = safe(project.name, 200)
    done = t("feedback.dm_resolved", lang, user=mention(follow_up.resolved_by),
             date=local_date(project, follow_up.resolved_at) if follow_up.resolved_at else "",
             note=safe(follow_up.resolution_note, 2500))
    return {
        "text": t("feedback.dm_resolved_text", lang, name=name),
        "blocks": [
            {"type": "section", "text": mrkdwn(t("feedback.dm_resolved_title", lang, name=name))},
            *follow_up_fields(project, response, question, lang),
            {"type": "section", "text": mrkdwn(done)},
        ],
    }


def resolve_modal(project: Project, response: FeedbackResponse, question: str | None,
                  metadata: dict[str, Any], *, lang: str | None = None) -> dict[str, Any]:
    """The *Resolve* form, in `lang`: the language of the person who opened it (default: the
    project's)."""
    lang = lang or project.language
    blocks = [
        *follow_up_fields(project, response, question, lang),
        _input(ids.FEEDBACK_BLOCK_NOTE, t("feedback.label_note", lang),
               _text_input(lang, "feedback.placeholder_note"), hint=t("feedback.hint_note", lang)),
    ]
    return _modal(ids.FEEDBACK_RESOLVE_MODAL, t("feedback.resolve_title", lang), blocks, lang, metadata,
                  "feedback.resolve")


# --- /feedback list --------------------------------------------------------------------------


def _response_line(project: Project, response: FeedbackResponse, question: str | None, lang: str) -> str:
    when = local_date(project, response.updated_at)
    head = t("feedback.list_response", lang, what=_what(response, lang), who=_who(response, lang), date=when)
    parts = [head]
    if question:
        parts.append(t("feedback.list_in_reply", lang, question=safe(question, 150)))
    source = source_line(response, lang)  # captured from a message (issue 14)
    if source:
        parts.append(source)
    if response.comment:
        parts.append("> " + safe(response.comment, 600).replace("\n", "\n> "))
    return "\n".join(parts)


def results(project: Project, *, stats: list[Any], follow_ups: list[tuple[FollowUp, FeedbackResponse]],
            open_count: int, responses: list[FeedbackResponse], total: int, page: int,
            questions: dict[int, str], lang: str) -> list[dict[str, Any]]:
    """`/feedback list`: the trend, averages per prompt, open follow-ups, recent responses.
    `stats`: per prompt, oldest first, its `prompt`, client `answers` and their `average`."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text(t("feedback.list_title", lang, name=project.name), kit.HEADER_TEXT)},
    ]
    if stats:
        averages = [s.average for s in stats if s.average is not None]
        latest = stats[-1].average
        blocks.append({"type": "section", "text": mrkdwn(t(
            "feedback.list_trend", lang, spark=sparkline([s.average for s in stats]), count=len(stats),
            latest=f"{latest:.1f}" if latest is not None else "–",
            overall=f"{sum(averages) / len(averages):.1f}" if averages else "–"))})
        lines = [t("feedback.list_prompt", lang, date=local_date(project, s.prompt.created_at),
                   question=safe(s.prompt.question, 120),
                   average=f"{s.average:.1f}" if s.average is not None else "–", answers=s.answers)
                 for s in reversed(stats)]
        blocks.append({"type": "section", "text": mrkdwn("\n".join(lines))})
    else:
        blocks.append({"type": "section", "text": mrkdwn(t("feedback.list_no_prompts", lang))})
    blocks.append({"type": "divider"})
    blocks.append({"type": "section", "text": mrkdwn(t("feedback.list_follow_ups", lang, count=open_count))})
    for follow_up, response in follow_ups[:8]:
        blocks.append({
            "type": "section",
            "text": mrkdwn(_response_line(project, response, questions.get(response.prompt_id or 0), lang)),
            "accessory": {"type": "button", "action_id": ids.FEEDBACK_RESOLVE, "value": str(follow_up.id),
                          "text": plain_text(t("feedback.resolve", lang), kit.BUTTON_TEXT)},
        })
    blocks.append({"type": "divider"})
    if not responses:
        blocks.append({"type": "section", "text": mrkdwn(t("feedback.list_no_responses", lang))})
    else:
        blocks.append({"type": "section", "text": mrkdwn(t("feedback.list_recent", lang, count=total))})
        for response in responses:
            blocks.append({"type": "section", "text": mrkdwn(
                _response_line(project, response, questions.get(response.prompt_id or 0), lang))})
    blocks += pager(ids.FEEDBACK_LIST_PAGE, page=page, total=total, per_page=PER_PAGE, lang=lang,
                    state={"project": project.id})
    return fit_blocks(blocks, kit.BLOCKS_PER_MESSAGE,
                      t("common.and_more", lang, count=len(blocks) - kit.BLOCKS_PER_MESSAGE + 1))
