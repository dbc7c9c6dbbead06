"""Views and messages of requirements: the capture modal, an item with its buttons, the list,
the confirmation request posted to the client channel (and its decided form), and the answers
to the people who act (outcome notes, refusals, a decision on an older version).

Confirm and Request changes carry `ids.decision_value(id, version)`, the version they were drawn
from, wherever they are shown (the confirmation request, items, lists, the digest, the App Home).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.blocks import ids
from bot.blocks.capture import source_line
from bot.blocks.common import input_block as _input
from bot.blocks.common import project_picker, record_button
from bot.blocks.pagination import pager
from bot.blocks.text import (
    BLOCKS_PER_MESSAGE,
    CONTEXT_TEXT,
    HEADER_TEXT,
    MODAL_BUTTON,
    MODAL_TITLE,
    PLACEHOLDER,
    PRIVATE_METADATA,
    SECTION_FIELD,
    SECTION_TEXT,
    channel_link,
    fit_blocks,
    mention,
    mrkdwn,
    option,
    plain_text,
    safe,
)
from bot.i18n import t
from bot.i18n.names import PRIORITY_KEYS
from bot.i18n.names import REQUIREMENT_FILTER_KEYS as FILTER_KEYS
from bot.i18n.names import REQUIREMENT_STATUS_KEYS as STATUS_KEYS
from bot.models import PRIORITIES, REQ_COMMENT_MAX, REQ_TEXT_MAX, REQ_TITLE_MAX, Project, Requirement, RequirementStatus
from bot.reports.wording import local, ref

S = RequirementStatus
PER_PAGE = 10
SNIPPET = 280

# action_id -> (label key, button style, needs a confirmation dialog)
BUTTONS: dict[str, tuple[str, str | None, bool]] = {
    ids.REQ_CONFIRM: ("requirements.button_confirm", "primary", False),
    ids.REQ_REQUEST_CHANGES: ("requirements.button_request_changes", None, False),
    ids.REQ_EDIT: ("requirements.button_edit", None, False),
    ids.REQ_SEND: ("requirements.button_send", "primary", False),
    ids.REQ_DONE: ("requirements.button_done", None, False),
    ids.REQ_DEFER: ("requirements.button_defer", None, False),
    ids.REQ_DROP: ("requirements.button_drop", "danger", True),
}


# Decision buttons carry the version they showed: a click on an older rendering is refused.
DECISIONS = frozenset({ids.REQ_CONFIRM, ids.REQ_REQUEST_CHANGES})


def _button(action_id: str, req: Requirement, lang: str) -> dict[str, Any]:
    label, style, confirm = BUTTONS[action_id]
    button = record_button(action_id, t(label, lang), req.id, req.version, decision=action_id in DECISIONS,
                           style=style)
    if confirm:
        button["confirm"] = {
            "title": plain_text(t("requirements.drop_confirm_title", lang), 100),
            "text": plain_text(t("requirements.drop_confirm_text", lang, ref=ref(req), title=req.title), 300),
            "confirm": plain_text(t("requirements.button_drop", lang), 30),
            "deny": plain_text(t("common.cancel", lang), 30),
            "style": "danger",
        }
    return button


def item_block_id(req: Requirement, where: str) -> str:
    """`req_item:<id>:<where>`: tells a button's handler what to refresh (`item`, `confirm`,
    or `list:<filter>:<page>`)."""
    return f"{ids.REQ_ITEM_BLOCK}:{req.id}:{where}"[:255]


def parse_item_block_id(block_id: object) -> str:
    """The `where` part of an item's actions block id ('' when it is not one of ours)."""
    parts = (block_id if isinstance(block_id, str) else "").split(":", 2)
    if len(parts) == 3 and parts[0] == ids.REQ_ITEM_BLOCK:
        return parts[2]
    return ""




def status_label(status: str, lang: str) -> str:
    return t(STATUS_KEYS[status], lang) if status in STATUS_KEYS else status


def priority_label(priority: str, lang: str) -> str:
    return t(PRIORITY_KEYS[priority], lang) if priority in PRIORITY_KEYS else priority


def _who(user_id: str | None, on_behalf: bool, lang: str) -> str:
    who = mention(user_id)
    return t("permissions.on_behalf", lang, user=who) if on_behalf else who


def decision_line(req: Requirement, project: Project, lang: str) -> str | None:
    """"Confirmed by @chris on 2026-11-18 18:00 (Asia/Shanghai)" and the like, or None."""
    when = local(req.decided_at, project.timezone, with_zone=True, lang=lang)
    who = _who(req.decided_by, req.decided_on_behalf, lang)
    if req.status in (S.confirmed, S.done) and req.decided_by:
        return t("requirements.decided_confirmed", lang, user=who, when=when)
    if req.status == S.changes_requested and req.decided_by:
        return t("requirements.decided_changes", lang, user=who, when=when,
                 comment=safe(req.change_comment or "", 1500))
    return None


def _facts(req: Requirement, project: Project, lang: str) -> str:
    raised_key = "requirements.raised_by_client" if req.raised_by_client else "requirements.raised_by"
    facts = [
        t("requirements.priority_line", lang, priority=priority_label(req.priority, lang)),
        t("requirements.status_line", lang, status=status_label(req.status, lang)),
        t(raised_key, lang, user=mention(req.raised_by), when=local(req.created_at, project.timezone)),
    ]
    if req.awaiting_confirmation:
        facts.append(t("requirements.awaiting_since", lang, when=local(req.sent_for_confirmation_at,
                                                                          project.timezone)))
    source = source_line(req, lang)  # captured from a message (issue 14)
    if source:
        facts.append(source)
    return " · ".join(facts)


def item_blocks(req: Requirement, project: Project, lang: str, *, buttons: list[str],
                where: str = "item") -> list[dict[str, Any]]:
    """One requirement in an ephemeral reply or a list: title, facts, decision, its buttons."""
    text = f"*{ref(req)} · {safe(req.title, 400)}*"
    if req.description:
        text += "\n" + safe(req.description, SNIPPET)
    context = [mrkdwn(_facts(req, project, lang), CONTEXT_TEXT)]
    decided = decision_line(req, project, lang)
    if decided:
        context.append(mrkdwn(decided, CONTEXT_TEXT))
    # At most 3 blocks per item (+ a divider in lists): a full page stays within 50 blocks.
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(text, SECTION_TEXT)},
        {"type": "context", "elements": context},
    ]
    if buttons:
        blocks.append({"type": "actions", "block_id": item_block_id(req, where),
                       "elements": [_button(a, req, lang) for a in buttons]})
    return blocks


def list_blocks(items: list[Requirement], project: Project, lang: str, *, total: int, page: int,
                status_filter: str, buttons: Callable[[Requirement], list[str]],
                notice: str | None = None) -> list[dict[str, Any]]:
    """`/req list`: newest first, PER_PAGE per page, each item with the viewer's buttons."""
    title_key = "requirements.list_title_filtered" if status_filter else "requirements.list_title"
    filter_label = t(FILTER_KEYS[status_filter], lang) if status_filter in FILTER_KEYS else ""
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append({"type": "context", "elements": [mrkdwn(notice, CONTEXT_TEXT)]})
    blocks.append({"type": "section", "text": mrkdwn(t(title_key, lang, name=safe(project.name, 200),
                                                         status=filter_label, count=total))})
    if not items:
        key = "requirements.list_empty_filtered" if status_filter else "requirements.list_empty"
        blocks.append({"type": "context", "elements": [mrkdwn(t(key, lang), CONTEXT_TEXT)]})
        return blocks
    where = f"list:{status_filter}:{page}"
    for req in items:
        blocks.append({"type": "divider"})
        blocks += item_blocks(req, project, lang, buttons=buttons(req), where=where)
    if total > PER_PAGE:
        blocks += pager(ids.REQ_LIST_PAGE, page=page, total=total, per_page=PER_PAGE, lang=lang,
                        state={"s": status_filter})
    return fit_blocks(blocks, BLOCKS_PER_MESSAGE)




def requirement_modal(lang: str, *, metadata: dict[str, Any], editing: Requirement | None = None,
                      project: Project | None = None, picker: list[Project] | None = None,
                      initial_title: str = "", for_client: bool = False) -> dict[str, Any]:
    """Capture (or edit) a requirement. `picker`: the user's projects, when opened outside a
    project channel."""
    r = editing
    title_el: dict[str, Any] = {"type": "plain_text_input", "max_length": REQ_TITLE_MAX,
                                "placeholder": plain_text(t("requirements.placeholder_title", lang), PLACEHOLDER)}
    title = r.title if r else initial_title
    if title:
        title_el["initial_value"] = title[: REQ_TITLE_MAX]
    desc_el: dict[str, Any] = {"type": "plain_text_input", "multiline": True, "max_length": REQ_TEXT_MAX,
                               "placeholder": plain_text(t("requirements.placeholder_description", lang),
                                                         PLACEHOLDER)}
    if r and r.description:
        desc_el["initial_value"] = r.description
    acc_el: dict[str, Any] = {"type": "plain_text_input", "multiline": True, "max_length": REQ_TEXT_MAX,
                              "placeholder": plain_text(t("requirements.placeholder_acceptance", lang),
                                                        PLACEHOLDER)}
    if r and r.acceptance_criteria:
        acc_el["initial_value"] = r.acceptance_criteria
    prio_opts = [option(priority_label(p, lang), str(p)) for p in PRIORITIES]
    current = str(r.priority) if r else "should"
    prio_el = {"type": "static_select", "options": prio_opts,
               "initial_option": next(o for o in prio_opts if o["value"] == current)}

    blocks: list[dict[str, Any]] = []
    if picker is not None:
        blocks.append(project_picker(picker, lang))
    elif project is not None:
        intro = "requirements.modal_intro_client" if for_client else "requirements.modal_intro"
        blocks.append({"type": "context", "elements": [mrkdwn(t(intro, lang, name=safe(project.name, 200)),
                                                              CONTEXT_TEXT)]})
    blocks += [
        _input(ids.REQ_BLOCK_TITLE, t("requirements.label_title", lang), title_el),
        _input(ids.REQ_BLOCK_DESCRIPTION, t("requirements.label_description", lang), desc_el, optional=True),
        _input(ids.REQ_BLOCK_PRIORITY, t("requirements.label_priority", lang), prio_el,
               hint=t("requirements.hint_priority", lang)),
        _input(ids.REQ_BLOCK_ACCEPTANCE, t("requirements.label_acceptance", lang), acc_el, optional=True,
               hint=t("requirements.hint_acceptance", lang)),
    ]
    title_key = "requirements.modal_title_edit" if r else "requirements.modal_title_new"
    return {
        "type": "modal",
        "callback_id": ids.REQ_MODAL,
        "title": plain_text(t(title_key, lang), MODAL_TITLE),
        "submit": plain_text(t("common.save", lang), MODAL_BUTTON),
        "close": plain_text(t("common.cancel", lang), MODAL_BUTTON),
        "private_metadata": json.dumps(metadata)[:PRIVATE_METADATA],
        "blocks": blocks,
    }


def changes_modal(req: Requirement, lang: str, *, metadata: dict[str, Any]) -> dict[str, Any]:
    """Request changes: the client says what should change."""
    comment_el = {"type": "plain_text_input", "multiline": True, "max_length": REQ_COMMENT_MAX,
                  "placeholder": plain_text(t("requirements.placeholder_comment", lang), PLACEHOLDER)}
    return {
        "type": "modal",
        "callback_id": ids.REQ_CHANGES_MODAL,
        "title": plain_text(t("requirements.changes_modal_title", lang), MODAL_TITLE),
        "submit": plain_text(t("requirements.changes_modal_submit", lang), MODAL_BUTTON),
        "close": plain_text(t("common.cancel", lang), MODAL_BUTTON),
        "private_metadata": json.dumps(metadata)[:PRIVATE_METADATA],
        "blocks": [
            {"type": "section", "text": mrkdwn(f"*{ref(req)} · {safe(req.title, 400)}*")},
            _input(ids.REQ_BLOCK_COMMENT, t("requirements.label_comment", lang), comment_el),
        ],
    }


def confirmation_message(req: Requirement, project: Project, *, sender: str | None = None) -> dict[str, Any]:
    """The request posted to the client channel, in the project's language. While the
    requirement awaits the client it carries Confirm / Request changes; once decided (or taken
    back by the team) the same message shows the outcome, who and when, and no buttons."""
    lang = project.language
    title = safe(req.title, 400)
    awaiting = req.awaiting_confirmation
    heading_key = "requirements.confirm_heading" if awaiting else "requirements.confirm_heading_closed"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text(t(heading_key, lang), HEADER_TEXT)},
        {"type": "section", "text": mrkdwn(f"*{ref(req)} · {title}*")},
        {"type": "section", "fields": [
            mrkdwn(t("requirements.field_priority", lang, value=priority_label(req.priority, lang)), SECTION_FIELD),
            mrkdwn(t("requirements.field_raised_by", lang, value=mention(req.raised_by)), SECTION_FIELD),
        ]},
    ]
    source = source_line(req, lang)  # captured from a message (issue 14)
    if source:
        blocks.append({"type": "context", "elements": [mrkdwn(source, CONTEXT_TEXT)]})
    if req.description:
        blocks.append({"type": "section", "text": mrkdwn(
            t("requirements.field_description", lang, value=safe(req.description, 2800)))})
    acceptance = safe(req.acceptance_criteria, 2800) if req.acceptance_criteria else t("common.none", lang)
    blocks.append({"type": "section", "text": mrkdwn(t("requirements.field_acceptance", lang, value=acceptance))})
    if awaiting:
        ask = t("requirements.confirm_ask", lang, approvers=", ".join(
            mention(u) for u in project.client_approver_ids) or t("requirements.confirm_ask_client", lang))
        if sender:
            ask += " " + t("requirements.confirm_sent_by", lang, user=mention(sender))
        blocks.append({"type": "context", "elements": [mrkdwn(ask, CONTEXT_TEXT)]})
        blocks.append({"type": "actions", "block_id": item_block_id(req, "confirm"),
                       "elements": [_button(ids.REQ_CONFIRM, req, lang), _button(ids.REQ_REQUEST_CHANGES, req, lang)]})
        text = t("requirements.confirm_text", lang, ref=ref(req), title=title)
    else:
        outcome = decision_line(req, project, lang) or t("requirements.outcome_other", lang,
                                                         status=status_label(req.status, lang))
        blocks.append({"type": "section", "text": mrkdwn(outcome)})
        text = t("requirements.confirm_text_closed", lang, ref=ref(req), title=title,
                 status=status_label(req.status, lang))
    return {"text": text, "blocks": blocks}


def outdated_message(req: Requirement, project: Project, *, sender: str | None = None,
                     lang: str | None = None) -> dict[str, Any]:
    """The answer to a decision on an older version: what changed is said first (in the reader's
    `lang`), then the requirement as it stands now, with the buttons of this version."""
    note = t("requirements.outdated", lang or project.language, ref=ref(req))
    current = confirmation_message(req, project, sender=sender)
    return {"text": note, "blocks": [{"type": "context", "elements": [mrkdwn(note, CONTEXT_TEXT)]},
                                     *current["blocks"]]}


# What the person who acted is told, per outcome of a use case.
NOTES = {"defer": "requirements.done_defer", "drop": "requirements.done_drop",
         "mark_done": "requirements.done_mark_done", "send": "requirements.sent",
         "confirm": "requirements.you_confirmed", "request_changes": "requirements.you_requested_changes"}
NOTES_ON_BEHALF = {"confirm": "requirements.you_confirmed_on_behalf",
                   "request_changes": "requirements.you_requested_changes_on_behalf"}


def outcome_note(done: str, req: Requirement, project: Project, *, user: str, on_behalf: bool = False,
                 send_error: str | None = None, lang: str | None = None) -> str:
    """"REQ-3 deferred by @dana", "Thank you! REQ-3 is confirmed", "REQ-3 was sent to #client" …
    (in the reader's `lang`; the project's by default)."""
    lang = lang or project.language
    if done == "send" and send_error:
        return t("requirements.send_failed", lang, ref=ref(req), channel=channel_link(project.client_channel_id),
                 error=safe(send_error, 200))
    key = NOTES_ON_BEHALF[done] if on_behalf and done in NOTES_ON_BEHALF else NOTES[done]
    return t(key, lang, ref=ref(req), user=mention(user), channel=channel_link(project.client_channel_id))


def list_text(project: Project, lang: str) -> str:
    return t("requirements.list_text", lang, name=safe(project.name, 200))


def refusal_text(req: Requirement, project: Project, reason: str, *, too_late: bool = False,
                 lang: str | None = None) -> str:
    """Why a change was refused (`reason`, worded). A decision that came too late (`too_late`)
    is told who decided and when instead."""
    lang = lang or project.language
    if too_late and req.status in (S.confirmed, S.changes_requested) and req.decided_by:
        return t("requirements.error_already_decided", lang, ref=ref(req), status=status_label(req.status, lang),
                 user=_who(req.decided_by, req.decided_on_behalf, lang),
                 when=local(req.decided_at, project.timezone, with_zone=True, lang=lang))
    return t("requirements.refused_prefix", lang, ref=ref(req)) + " " + reason


def outdated_form_text(req: Requirement, project: Project, lang: str | None = None) -> str:
    """A decision form opened on an older version: the current text, next to the comment field
    (plain text)."""
    lang = lang or project.language
    none = t("common.none", lang)
    return t("requirements.outdated_form", lang, ref=ref(req), title=req.title, description=req.description or none,
             acceptance=req.acceptance_criteria or none)[:2000]


def conflict_text(name: str, value: str, lang: str) -> str:
    """A field someone else changed since the form was opened (plain text, next to the field)."""
    shown = priority_label(value, lang) if name == "priority" else value or t("common.none", lang)
    return t("requirements.error_changed_meanwhile", lang, value=shown)[:2000]


def notice_message(req: Requirement, project: Project, key: str, *, user: str, buttons: list[str],
                   on_behalf: bool = False) -> dict[str, Any]:
    """A short note to the team's internal channel (a client raised or decided something; a
    decision made for the client says so), with the team's `buttons` on the requirement."""
    lang = project.language
    line = t(key, lang, user=_who(user, on_behalf, lang), ref=ref(req), title=safe(req.title, 400))
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(line)}]
    decided = decision_line(req, project, lang)
    if decided:
        blocks.append({"type": "context", "elements": [mrkdwn(decided, CONTEXT_TEXT)]})
    if buttons:
        blocks.append({"type": "actions", "block_id": item_block_id(req, "notice"),
                       "elements": [_button(a, req, lang) for a in buttons]})
    return {"text": line, "blocks": blocks}


def decision_buttons(req: Requirement, lang: str) -> list[dict[str, Any]]:
    """Confirm / Request changes, for showing an awaiting requirement elsewhere (digest, App Home)."""
    return [_button(ids.REQ_CONFIRM, req, lang), _button(ids.REQ_REQUEST_CHANGES, req, lang)]
