"""Views and messages of change requests: the request, assessment and reject modals, the team's
notice, the message the client decides on (and its decided form), the list, and the answer to a
decision on a version that is no longer current.

Approve and Reject carry the version they showed (`ids.decision_value`), wherever they are drawn:
the approval message, the list, the digest and the App Home."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.blocks import ids
from bot.blocks.capture import source_line
from bot.blocks.common import input_block as _input
from bot.blocks.common import project_picker, record_button
from bot.blocks.text import (
    BLOCKS_PER_MESSAGE,
    CONTEXT_TEXT,
    MODAL_BUTTON,
    MODAL_TITLE,
    OPTION_TEXT,
    PLACEHOLDER,
    PRIVATE_METADATA,
    SECTION_FIELD,
    fit_blocks,
    fit_options,
    mention,
    mrkdwn,
    option,
    plain_text,
    safe,
)
from bot.i18n import t
from bot.models import CR_TEXT_MAX, CR_TITLE_MAX, ActivityLog, ChangeRequest, Milestone, Project, Requirement
from bot.reports.change_wording import (
    history_line,
    hours,
    impact_text,
    local_time,
    money,
    schedule_text,
    status_label,
)

STATUS_EMOJI = {
    "submitted": ":memo:",
    "assessed": ":mag:",
    "approved": ":white_check_mark:",
    "rejected": ":x:",
    "implemented": ":rocket:",
    "withdrawn": ":leftwards_arrow_with_hook:",
}
BUTTONS = {
    "assess": (ids.CHANGE_ASSESS, "changes.button_assess", "primary"),
    "reassess": (ids.CHANGE_ASSESS, "changes.button_reassess", None),
    "approve": (ids.CHANGE_APPROVE, "changes.button_approve", "primary"),
    "reject": (ids.CHANGE_REJECT, "changes.button_reject", "danger"),
    "implement": (ids.CHANGE_IMPLEMENTED, "changes.button_implemented", None),
    "withdraw": (ids.CHANGE_WITHDRAW, "changes.button_withdraw", None),
}


DECISIONS = ("approve", "reject")


def ref(cr: ChangeRequest) -> str:
    return f"CR-{cr.id}"


def explain(key: str, params: Mapping[str, Any], lang: str, project: Project | None = None) -> str:
    """A refusal (its catalogue `key` and `params`) in words, with user ids as mentions, times in
    the project's time zone and a request's status by its name."""
    params = dict(params)
    if isinstance(params.get("user"), str):
        params["user"] = mention(params["user"]) or "-"
    if isinstance(params.get("at"), str) and params["at"] and project is not None:
        with contextlib.suppress(ValueError):
            params["at"] = local_time(datetime.fromisoformat(params["at"]), project)
    if isinstance(params.get("status"), str):
        with contextlib.suppress(KeyError):
            params["status"] = status_label(params["status"], lang)
    return t(key, lang, **params)


def _text_input(lang: str, *, max_length: int, multiline: bool = False, initial: str | None = None,
                placeholder: str | None = None) -> dict[str, Any]:
    el: dict[str, Any] = {"type": "plain_text_input", "max_length": max_length, "multiline": multiline}
    if initial:
        el["initial_value"] = initial[:max_length]
    if placeholder:
        el["placeholder"] = plain_text(placeholder, PLACEHOLDER)
    return el


def _modal(callback_id: str, title: str, submit: str, lang: str, blocks: list[dict[str, Any]],
           metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain_text(title, MODAL_TITLE),
        "submit": plain_text(submit, MODAL_BUTTON),
        "close": plain_text(t("common.cancel", lang), MODAL_BUTTON),
        "private_metadata": json.dumps(metadata)[:PRIVATE_METADATA],
        "blocks": blocks,
    }


def _multi_select(options: list[dict[str, Any]], initial: list[str], placeholder: str) -> dict[str, Any]:
    el: dict[str, Any] = {"type": "multi_static_select", "options": fit_options(options),
                          "placeholder": plain_text(placeholder, PLACEHOLDER)}
    chosen = [o for o in el["options"] if o["value"] in initial]
    if chosen:
        el["initial_options"] = chosen
    return el


def requirement_option(r: Requirement) -> dict[str, Any]:
    return option(f"#{r.id} {r.title}", str(r.id))


def milestone_option(m: Milestone) -> dict[str, Any]:
    label = f"{m.name} ({m.due_date.isoformat()})"
    if len(label) > OPTION_TEXT:
        label = f"{m.name[: OPTION_TEXT - 14]}… ({m.due_date.isoformat()})"
    return option(label, str(m.id))


# Modals ------------------------------------------------------------------------------------


def change_modal(lang: str, *, metadata: dict[str, Any], title: str = "", projects: list[Project] | None = None,
                 requirements: list[Requirement] | None = None,
                 milestones: list[Milestone] | None = None) -> dict[str, Any]:
    """The request form. With `projects` (opened outside a project channel) it starts with a
    project picker, and what it affects is chosen later, at the assessment."""
    blocks: list[dict[str, Any]] = []
    if projects is not None:
        blocks.append(project_picker(projects, lang))
    blocks += [
        _input(ids.CHANGE_BLOCK_TITLE, t("changes.label_title", lang),
               _text_input(lang, max_length=CR_TITLE_MAX, initial=title,
                           placeholder=t("changes.placeholder_title", lang))),
        _input(ids.CHANGE_BLOCK_DESCRIPTION, t("changes.label_description", lang),
               _text_input(lang, max_length=CR_TEXT_MAX, multiline=True,
                           placeholder=t("changes.placeholder_description", lang)), optional=True),
        _input(ids.CHANGE_BLOCK_REASON, t("changes.label_reason", lang),
               _text_input(lang, max_length=CR_TEXT_MAX, multiline=True,
                           placeholder=t("changes.placeholder_reason", lang)), optional=True),
    ]
    if requirements:
        blocks.append(_input(ids.CHANGE_BLOCK_REQUIREMENTS, t("changes.label_requirements", lang),
                             _multi_select([requirement_option(r) for r in requirements], [],
                                           t("changes.placeholder_pick", lang)), optional=True))
    if milestones:
        blocks.append(_input(ids.CHANGE_BLOCK_MILESTONES, t("changes.label_milestones", lang),
                             _multi_select([milestone_option(m) for m in milestones], [],
                                           t("changes.placeholder_pick", lang)), optional=True))
    return _modal(ids.CHANGE_MODAL, t("changes.modal_title", lang), t("changes.submit_request", lang), lang,
                  blocks, metadata)


def _request_facts(cr: ChangeRequest, lang: str) -> list[dict[str, Any]]:
    lines = [t("changes.facts_title", lang, ref=ref(cr), title=safe(cr.title, 500))]
    lines.append(t("changes.facts_requested_by", lang, user=mention(cr.requested_by)))
    source = source_line(cr, lang)  # captured from a message (issue 14)
    if source:
        lines.append(source)
    if cr.description:
        lines.append(t("changes.facts_description", lang, text=safe(cr.description, 1000)))
    if cr.reason:
        lines.append(t("changes.facts_reason", lang, text=safe(cr.reason, 800)))
    return [{"type": "section", "text": mrkdwn("\n".join(lines))}]


def assess_modal(lang: str, *, cr: ChangeRequest, milestones: list[Milestone], linked: list[int],
                 can_share_cost: bool, metadata: dict[str, Any]) -> dict[str, Any]:
    """The team's assessment of a request, prefilled with the current one when it is revised.
    Only the PM gets the "share cost" tick box."""
    days = "0" if cr.schedule_impact_days is None else str(cr.schedule_impact_days)
    days_el = {"type": "number_input", "is_decimal_allowed": False, "initial_value": days,
               "placeholder": plain_text(t("changes.placeholder_days", lang), PLACEHOLDER)}
    effort_el: dict[str, Any] = {"type": "number_input", "is_decimal_allowed": True,
                                 "placeholder": plain_text(t("changes.placeholder_hours", lang), PLACEHOLDER)}
    if cr.effort_hours is not None:
        effort_el["initial_value"] = hours(cr.effort_hours)
    amount = f"{cr.cost_amount:.2f}" if cr.cost_amount is not None else None
    blocks: list[dict[str, Any]] = [
        *_request_facts(cr, lang),
        {"type": "divider"},
        _input(ids.CHANGE_BLOCK_SCHEDULE, t("changes.label_schedule", lang), days_el,
               hint=t("changes.hint_schedule", lang)),
        _input(ids.CHANGE_BLOCK_EFFORT, t("changes.label_effort", lang), effort_el),
        _input(ids.CHANGE_BLOCK_COST_AMOUNT, t("changes.label_cost_amount", lang),
               _text_input(lang, max_length=20, placeholder="1,200.00", initial=amount), optional=True,
               hint=t("changes.hint_cost", lang)),
        _input(ids.CHANGE_BLOCK_COST_CURRENCY, t("changes.label_cost_currency", lang),
               _text_input(lang, max_length=3, placeholder="EUR", initial=cr.cost_currency), optional=True),
    ]
    if can_share_cost:
        share = option(t("changes.option_share_cost", lang), ids.CHANGE_SHARE_COST_OPTION)
        box: dict[str, Any] = {"type": "checkboxes", "options": [share]}
        if cr.share_cost_with_client:
            box["initial_options"] = [share]
        blocks.append(_input(ids.CHANGE_BLOCK_SHARE_COST, t("changes.label_share_cost", lang), box, optional=True))
    if milestones:
        blocks.append(_input(ids.CHANGE_BLOCK_MILESTONES, t("changes.label_milestones", lang),
                             _multi_select([milestone_option(m) for m in milestones], [str(i) for i in linked],
                                           t("changes.placeholder_pick", lang)), optional=True,
                             hint=t("changes.hint_milestones", lang)))
    blocks.append(_input(ids.CHANGE_BLOCK_RECOMMENDATION, t("changes.label_recommendation", lang),
                         _text_input(lang, max_length=CR_TEXT_MAX, multiline=True, initial=cr.recommendation,
                                     placeholder=t("changes.placeholder_recommendation", lang)), optional=True))
    revising = cr.status == "assessed"
    return _modal(ids.CHANGE_ASSESS_MODAL, t("changes.reassess_title" if revising else "changes.assess_title", lang),
                  t("changes.submit_reassess" if revising else "changes.submit_assess", lang), lang,
                  blocks, metadata)


def reject_modal(lang: str, *, cr: ChangeRequest, metadata: dict[str, Any]) -> dict[str, Any]:
    blocks = [
        {"type": "section", "text": mrkdwn(t("changes.reject_question", lang, ref=ref(cr),
                                             title=safe(cr.title, 500)))},
        _input(ids.CHANGE_BLOCK_REJECT_REASON, t("changes.label_reject_reason", lang),
               _text_input(lang, max_length=CR_TEXT_MAX, multiline=True,
                           placeholder=t("changes.placeholder_reject_reason", lang)), optional=True),
    ]
    return _modal(ids.CHANGE_REJECT_MODAL, t("changes.reject_title", lang), t("changes.button_reject", lang), lang,
                  blocks, metadata)


# Messages ----------------------------------------------------------------------------------


def _button(kind: str, cr: ChangeRequest, lang: str) -> dict[str, Any]:
    """A button on a request; a decision (Approve, Reject) names the version it was drawn from."""
    action_id, key, style = BUTTONS[kind]
    return record_button(action_id, t(key, lang), cr.id, cr.version, decision=kind in DECISIONS, style=style)


def team_notice(cr: ChangeRequest, project: Project, lang: str, *, closed: str | None = None) -> dict[str, Any]:
    """Told to the team (internal channel, or the PM by DM): a request waits for assessment.
    `closed` replaces the *Assess* button once it is assessed or withdrawn."""
    who = "changes.notice_from_client" if cr.requested_by_client else "changes.notice_from_team"
    head = t("changes.notice_title", lang, ref=ref(cr), project=safe(project.name, 200))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(head)},
        *_request_facts(cr, lang),
        {"type": "context", "elements": [mrkdwn(t(who, lang), CONTEXT_TEXT)]},
    ]
    if closed:
        blocks.append({"type": "context", "elements": [mrkdwn(closed, CONTEXT_TEXT)]})
    else:
        blocks.append({"type": "actions", "block_id": f"cr:{cr.id}", "elements": [_button("assess", cr, lang)]})
    text = t("changes.notice_text", lang, ref=ref(cr), title=safe(cr.title, 200), project=safe(project.name, 200))
    return {"text": text, "blocks": blocks}


def decision_line(cr: ChangeRequest, project: Project, lang: str) -> str:
    """"✅ Approved by @Chris on 2026-11-19 18:00" (with "on behalf of the client" for the PM)."""
    user = mention(cr.decided_by)
    if cr.decided_on_behalf:
        user = t("permissions.on_behalf", lang, user=user)
    when = local_time(cr.decided_at, project)
    if cr.status in ("approved", "implemented"):
        line = t("changes.decided_approved", lang, user=user, when=when)
    elif cr.status == "rejected":
        line = t("changes.decided_rejected", lang, user=user, when=when)
        if cr.decision_reason:
            line += "\n" + t("changes.decided_reason", lang, reason=safe(cr.decision_reason, 1500))
    elif cr.status == "withdrawn":
        line = t("changes.decided_withdrawn", lang, user=mention(cr.requested_by),
                 when=local_time(cr.withdrawn_at, project))
    else:
        return ""
    return f"{STATUS_EMOJI.get(cr.status, '')} {line}".strip()


def notice_closed(cr: ChangeRequest, project: Project, lang: str) -> str | None:
    """What replaces the *Assess* button of the team's notice once the request moved on."""
    if cr.status == "submitted":
        return None
    if cr.status == "withdrawn" and not cr.assessed_by:
        return decision_line(cr, project, lang)
    return t("changes.notice_assessed", lang, user=mention(cr.assessed_by))


def _assessment_blocks(cr: ChangeRequest, lang: str, *, milestones: list[Milestone], requirements: list[Requirement],
                       moves: dict[int, tuple[str, str]] | None, to_client: bool) -> list[dict[str, Any]]:
    """The request's facts and its assessment: impact, status, what it affects, the recommendation."""
    fields = [
        t("changes.field_schedule", lang, value=schedule_text(cr.schedule_impact_days, lang) or "-"),
        t("changes.field_effort", lang, value=t("changes.impact_hours", lang,
                                               hours=hours(cr.effort_hours)) if cr.effort_hours is not None else "-"),
    ]
    if cr.cost_visible(to_client=to_client):
        cost = money(cr.cost_amount, cr.cost_currency, lang)
        shown = cost if cr.share_cost_with_client else t("changes.cost_internal", lang, cost=cost)
        fields.append(t("changes.field_cost", lang, value=shown))
    fields.append(t("changes.field_status", lang, value=f"{STATUS_EMOJI.get(cr.status, '')} "
                                                         f"{status_label(cr.status, lang)}"))
    details = []
    if cr.description:
        details.append(t("changes.facts_description", lang, text=safe(cr.description, 1000)))
    if cr.reason:
        details.append(t("changes.facts_reason", lang, text=safe(cr.reason, 800)))
    details.append(t("changes.facts_requested_by", lang, user=mention(cr.requested_by)))
    source = source_line(cr, lang)  # captured from a message (issue 14)
    if source:
        details.append(source)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn("\n".join(details))},
                                    {"type": "section", "fields": [mrkdwn(f, SECTION_FIELD) for f in fields]}]
    affected = []
    moved = moves or {}
    if milestones:
        items = []
        for m in milestones:
            mv = moved.get(m.id or 0)
            due = t("changes.moved", lang, old=mv[0], new=mv[1]) if mv else m.due_date.isoformat()
            items.append(f"• {safe(m.name, 150)} — {due}")
        affected.append(t("changes.affected_milestones", lang, items="\n".join(items)))
    if requirements:
        items = [f"• #{r.id} {safe(r.title, 150)}" for r in requirements[:15]]
        affected.append(t("changes.affected_requirements", lang, items="\n".join(items)))
    if cr.recommendation:
        affected.append(t("changes.facts_recommendation", lang, text=safe(cr.recommendation, 1000)))
    if affected:
        blocks.append({"type": "section", "text": mrkdwn("\n\n".join(affected))})
    return blocks


def approval_message(cr: ChangeRequest, project: Project, lang: str, *, milestones: list[Milestone],
                     requirements: list[Requirement],
                     moves: dict[int, tuple[str, str]] | None = None) -> dict[str, Any]:
    """The request as the client decides on it, in the client channel. The cost shows only when
    the PM shared it. While assessed it carries Approve / Reject; once decided, who and when."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(t("changes.approval_intro", lang, ref=ref(cr),
                                             title=safe(cr.title, 500)))},
        *_assessment_blocks(cr, lang, milestones=milestones, requirements=requirements, moves=moves,
                            to_client=True),
    ]
    if cr.status == "assessed":
        blocks.append({"type": "actions", "block_id": f"cr:{cr.id}", "elements": decision_buttons(cr, lang)})
        blocks.append({"type": "context", "elements": [mrkdwn(t("changes.approval_who", lang), CONTEXT_TEXT)]})
        text = t("changes.approval_text", lang, ref=ref(cr), title=safe(cr.title, 200))
    else:
        line = decision_line(cr, project, lang)
        blocks.append({"type": "context", "elements": [mrkdwn(line, CONTEXT_TEXT)]})
        text = f"{ref(cr)}: {line}"
    return {"text": text, "blocks": blocks}


def stale_decision(cr: ChangeRequest, lang: str, *, milestones: list[Milestone], requirements: list[Requirement],
                   to_client: bool) -> dict[str, Any]:
    """The answer to Approve / Reject on a version that is no longer current: nothing was
    decided; here is the request as it stands now, with buttons for this version."""
    text = t("changes.stale_decision", lang, ref=ref(cr), title=safe(cr.title, 300))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(text)},
        *_assessment_blocks(cr, lang, milestones=milestones, requirements=requirements, moves=None,
                            to_client=to_client),
    ]
    if cr.status == "assessed":
        blocks.append({"type": "actions", "block_id": f"cr:{cr.id}", "elements": decision_buttons(cr, lang)})
    return {"text": text, "blocks": blocks}


def stale_decision_plain(cr: ChangeRequest, lang: str, *, to_client: bool) -> str:
    """The same, for a place that shows plain text only (the reject form's field error)."""
    return t("changes.stale_decision_plain", lang, ref=ref(cr), title=cr.title[:200],
             impact=impact_text(cr, lang, to_client=to_client))


def submitted_ack(cr: ChangeRequest, project: Project, lang: str, *, team_told: bool) -> dict[str, Any]:
    """What the requester sees right after submitting, with a way to take it back."""
    key = "changes.submitted" if team_told else "changes.submitted_no_notice"
    text = t(key, lang, ref=ref(cr), title=safe(cr.title, 200), project=safe(project.name, 200))
    blocks = [
        {"type": "section", "text": mrkdwn(text)},
        {"type": "actions", "block_id": f"cr:{cr.id}", "elements": [_button("withdraw", cr, lang)]},
    ]
    return {"text": text, "blocks": blocks}


# The list ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListItem:
    cr: ChangeRequest
    actions: list[str]
    history: list[ActivityLog]
    milestone_names: dict[int, str]


def change_list(project: Project, items: list[ListItem], lang: str, *, to_client: bool, status: str | None,
                pager_blocks: list[dict[str, Any]], who: Callable[[str | None], str]) -> list[dict[str, Any]]:
    """`/change list`: newest first, each with its history and the buttons this viewer may use."""
    title_key = "changes.list_title_status" if status else "changes.list_title"
    header = t(title_key, lang, project=safe(project.name, 200),
               status=status_label(status, lang) if status else "")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(header)}]
    if not items:
        blocks.append({"type": "section", "text": mrkdwn(t("changes.list_empty", lang))})
        return blocks
    for item in items:
        cr = item.cr
        summary = t("changes.list_item", lang, ref=ref(cr), title=safe(cr.title, 300),
                    emoji=STATUS_EMOJI.get(cr.status, ""), status=status_label(cr.status, lang),
                    user=mention(cr.requested_by), impact=impact_text(cr, lang, to_client=to_client))
        source = source_line(cr, lang)  # captured from a message (issue 14)
        if source:
            summary += "\n" + source
        blocks.append({"type": "section", "text": mrkdwn(summary)})
        lines = [history_line(e, project, lang, who, item.milestone_names, clean=_short) for e in item.history]
        if lines:
            text = safe_lines(lines)
            blocks.append({"type": "context", "elements": [mrkdwn(text, CONTEXT_TEXT)]})
        if item.actions:
            blocks.append({"type": "actions", "block_id": f"cr:{cr.id}",
                           "elements": [_button(a, cr, lang) for a in item.actions]})
    blocks += pager_blocks
    more = t("common.and_more", lang, count=len(blocks) - BLOCKS_PER_MESSAGE + 1)
    return fit_blocks(blocks, BLOCKS_PER_MESSAGE, more)


def _short(text: str) -> str:
    return safe(text, 300)


def safe_lines(lines: list[str]) -> str:
    """History lines for a context element; the oldest are dropped first when too long."""
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        if size + len(line) + 1 > CONTEXT_TEXT - 5:
            kept.append("…")
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(reversed(kept))


def decision_buttons(cr: ChangeRequest, lang: str) -> list[dict[str, Any]]:
    """Approve / Reject of the version shown (approval message, list, digest, App Home)."""
    return [_button(kind, cr, lang) for kind in DECISIONS]


def assess_button(cr: ChangeRequest, lang: str) -> dict[str, Any]:
    return _button("assess", cr, lang)
