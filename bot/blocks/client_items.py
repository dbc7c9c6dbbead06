"""Views and messages of client items: the form, the extension form, an item with its buttons,
the list, the message posted in the client channel (updated in place), the nudge and the PM's
escalation, the internal notice, and the digest's "What we need from you" section.

State-changing buttons carry `ids.decision_value(id, version)`: a click on an older rendering is
refused with the current text. Pure builders: plain values in, dicts out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

from bot.blocks import ids
from bot.blocks.common import input_block, record_button
from bot.blocks.pagination import pager
from bot.blocks.text import (
    BLOCKS_PER_MESSAGE,
    CONTEXT_TEXT,
    HEADER_TEXT,
    MODAL_BUTTON,
    MODAL_TITLE,
    PLACEHOLDER,
    PRIVATE_METADATA,
    channel_link,
    fit_blocks,
    fit_options,
    mention,
    mrkdwn,
    option,
    plain_text,
    safe,
)
from bot.i18n import format_date, t
from bot.models import ClientItem, ClientItemExtension, Project
from bot.reports.facts import DigestItems

PER_PAGE = 10
SNIPPET = 280
TITLE_MAX = 200
TEXT_MAX = 3000
NOTE_MAX = 1000
DIGEST_LIMIT = 6
STATUS_KEYS = {"open": "client_items.status_open", "done": "client_items.status_done",
               "cancelled": "client_items.status_cancelled"}
FILTER_KEYS = {"open": "client_items.filter_open", "done": "client_items.filter_done",
               "all": "client_items.filter_all"}

# action_id -> (label key, style, confirmation dialog)
BUTTONS: dict[str, tuple[str, str | None, bool]] = {
    ids.CLIENT_DONE: ("client_items.button_done", "primary", False),
    ids.CLIENT_MORE_TIME: ("client_items.button_more_time", None, False),
    ids.CLIENT_RECEIVED: ("client_items.button_received", None, False),
    ids.CLIENT_CANCEL: ("client_items.button_cancel", "danger", True),
}
CLIENT_BUTTONS = (ids.CLIENT_DONE, ids.CLIENT_MORE_TIME)
TEAM_BUTTONS = (ids.CLIENT_RECEIVED, ids.CLIENT_CANCEL)


def ref(item: ClientItem) -> str:
    return f"CI-{item.id}"


def buttons_for(item: ClientItem, *, is_team: bool, for_client: bool) -> list[str]:
    """The buttons a viewer may use: Done / Need more time for the client's side (and the PM on
    its behalf), Received / Cancel for the team; none once the item is closed."""
    if item.status != "open":
        return []
    return [*(CLIENT_BUTTONS if for_client else ()), *(TEAM_BUTTONS if is_team else ())]


def _button(action_id: str, item: ClientItem, lang: str) -> dict[str, Any]:
    label, style, confirm = BUTTONS[action_id]
    button = record_button(action_id, t(label, lang), item.id, item.version, decision=True, style=style)
    if confirm:
        button["confirm"] = {
            "title": plain_text(t("client_items.cancel_confirm_title", lang), 100),
            "text": plain_text(t("client_items.cancel_confirm_text", lang, ref=ref(item), title=item.title), 300),
            "confirm": plain_text(t("client_items.button_cancel", lang), 30),
            "deny": plain_text(t("common.cancel", lang), 30),
            "style": "danger",
        }
    return button


def item_block_id(item: ClientItem, where: str) -> str:
    """`client_item:<id>:<where>` (`item`, `post`, `digest`, `list:<filter>:<page>`)."""
    return f"{ids.CLIENT_ITEM_BLOCK}:{item.id}:{where}"[:255]


def parse_item_block_id(block_id: object) -> str:
    """The `where` part of an item's actions block id ('' when it is not one of ours)."""
    parts = (block_id if isinstance(block_id, str) else "").split(":", 2)
    return parts[2] if len(parts) == 3 and parts[0] == ids.CLIENT_ITEM_BLOCK else ""


def status_label(status: str, lang: str) -> str:
    return t(STATUS_KEYS[status], lang) if status in STATUS_KEYS else status


def _who(user_id: str | None, on_behalf: bool, lang: str) -> str:
    who = mention(user_id)
    return t("permissions.on_behalf", lang, user=who) if on_behalf else who


def due_text(item: ClientItem, lang: str, today: date | None) -> str:
    """"due Fri 20 Nov 2026", or "overdue since …" while it is open and late (`today` None: a
    message that lives on, drawn without a clock, just gives the date)."""
    when = format_date(item.due_date, lang)
    if item.status == "open" and today is not None and item.due_date < today:
        return t("client_items.overdue_since", lang, date=when)
    return t("client_items.due_on", lang, date=when)


def closed_line(item: ClientItem, project: Project, lang: str) -> str | None:
    """Who closed it and when, or None while it is open."""
    if item.status == "open" or not item.closed_by:
        return None
    when = item.closed_at.astimezone(_zone(project)).strftime("%Y-%m-%d %H:%M") if item.closed_at else ""
    key = {"done": "client_items.closed_done", "received": "client_items.closed_received",
           "cancelled": "client_items.closed_cancelled"}.get(item.closed_how or "", "client_items.closed_done")
    return t(key, lang, user=_who(item.closed_by, item.closed_on_behalf, lang), when=when)


def _zone(project: Project) -> Any:
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(project.timezone or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def extension_lines(extensions: list[ClientItemExtension], lang: str) -> list[str]:
    out = []
    for ext in extensions:
        line = t("client_items.extension_line", lang, user=_who(ext.by_user_id, ext.on_behalf, lang),
                 old=format_date(ext.old_due_date, lang), new=format_date(ext.new_due_date, lang))
        if ext.note:
            line += " — " + safe(ext.note, 300)
        out.append(line)
    return out


def _facts(item: ClientItem, lang: str, today: date | None, milestone_name: str | None) -> str:
    facts = [t("client_items.owner_line", lang, user=mention(item.owner_user_id)), due_text(item, lang, today),
             t("client_items.status_line", lang, status=status_label(item.status, lang))]
    if milestone_name:
        facts.append(t("client_items.blocks_line", lang, name=safe(milestone_name, 150)))
    return " · ".join(facts)


def item_blocks(item: ClientItem, project: Project, lang: str, *, buttons: list[str], today: date,
                milestone_name: str | None = None, where: str = "item") -> list[dict[str, Any]]:
    """One item in an ephemeral reply or a list: title, facts, outcome, its buttons (≤ 3 blocks)."""
    text = f"*{ref(item)} · {safe(item.title, 400)}*"
    if item.details:
        text += "\n" + safe(item.details, SNIPPET)
    context = [mrkdwn(_facts(item, lang, today, milestone_name), CONTEXT_TEXT)]
    closed = closed_line(item, project, lang)
    if closed:
        context.append(mrkdwn(closed, CONTEXT_TEXT))
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(text)},
                                    {"type": "context", "elements": context}]
    if buttons:
        blocks.append({"type": "actions", "block_id": item_block_id(item, where),
                       "elements": [_button(a, item, lang) for a in buttons]})
    return blocks


def list_blocks(items: list[ClientItem], project: Project, lang: str, *, total: int, page: int, status_filter: str,
                today: date, buttons: Callable[[ClientItem], list[str]], milestone_names: dict[int, str],
                notice: str | None = None) -> list[dict[str, Any]]:
    """`/client list`: newest due first, PER_PAGE per page, each with the viewer's buttons."""
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append({"type": "context", "elements": [mrkdwn(notice, CONTEXT_TEXT)]})
    label = t(FILTER_KEYS.get(status_filter, "client_items.filter_all"), lang)
    blocks.append({"type": "section", "text": mrkdwn(t("client_items.list_title", lang, name=safe(project.name, 200),
                                                         filter=label, count=total))})
    if not items:
        blocks.append({"type": "context", "elements": [mrkdwn(t("client_items.list_empty", lang), CONTEXT_TEXT)]})
        return blocks
    where = f"list:{status_filter}:{page}"
    for item in items:
        blocks.append({"type": "divider"})
        blocks += item_blocks(item, project, lang, buttons=buttons(item), today=today, where=where,
                              milestone_name=milestone_names.get(item.milestone_id or 0))
    if total > PER_PAGE:
        blocks += pager(ids.CLIENT_LIST_PAGE, page=page, total=total, per_page=PER_PAGE, lang=lang,
                        state={"s": status_filter})
    blocks.append({"type": "context", "elements": [mrkdwn(t("client_items.list_export_hint", lang), CONTEXT_TEXT)]})
    return fit_blocks(blocks, BLOCKS_PER_MESSAGE)


def list_text(project: Project, lang: str) -> str:
    return t("client_items.list_text", lang, name=safe(project.name, 200))


def client_modal(lang: str, *, metadata: dict[str, Any], project: Project, owners: list[tuple[str, str]],
                 milestones: list[tuple[int, str]], default_due: date, initial_title: str = "") -> dict[str, Any]:
    """What we need from the client: title, details, owner (a client-side person), due date and
    the milestone it blocks (optional)."""
    title_el: dict[str, Any] = {"type": "plain_text_input", "max_length": TITLE_MAX,
                                "placeholder": plain_text(t("client_items.placeholder_title", lang), PLACEHOLDER)}
    if initial_title:
        title_el["initial_value"] = initial_title[:TITLE_MAX]
    details_el = {"type": "plain_text_input", "multiline": True, "max_length": TEXT_MAX,
                  "placeholder": plain_text(t("client_items.placeholder_details", lang), PLACEHOLDER)}
    owner_opts = fit_options([option(name, user_id) for user_id, name in owners])
    owner_el: dict[str, Any] = {"type": "static_select", "options": owner_opts or [
        option(t("client_items.no_owner", lang), "-")]}
    if owner_opts:
        owner_el["initial_option"] = owner_opts[0]
    blocks: list[dict[str, Any]] = [
        {"type": "context", "elements": [mrkdwn(t("client_items.modal_intro", lang, name=safe(project.name, 200),
                                                  channel=channel_link(project.client_channel_id)), CONTEXT_TEXT)]},
        input_block(ids.CLIENT_BLOCK_TITLE, t("client_items.label_title", lang), title_el),
        input_block(ids.CLIENT_BLOCK_DETAILS, t("client_items.label_details", lang), details_el, optional=True),
        input_block(ids.CLIENT_BLOCK_OWNER, t("client_items.label_owner", lang), owner_el,
                    hint=t("client_items.hint_owner", lang)),
        input_block(ids.CLIENT_BLOCK_DUE, t("client_items.label_due", lang),
                    {"type": "datepicker", "initial_date": default_due.isoformat()}),
    ]
    if milestones:
        blocks.append(input_block(ids.CLIENT_BLOCK_MILESTONE, t("client_items.label_milestone", lang), {
            "type": "static_select", "options": fit_options([option(name, str(mid)) for mid, name in milestones])},
            optional=True, hint=t("client_items.hint_milestone", lang)))
    return {
        "type": "modal", "callback_id": ids.CLIENT_MODAL,
        "title": plain_text(t("client_items.modal_title", lang), MODAL_TITLE),
        "submit": plain_text(t("client_items.modal_submit", lang), MODAL_BUTTON),
        "close": plain_text(t("common.cancel", lang), MODAL_BUTTON),
        "private_metadata": json.dumps(metadata)[:PRIVATE_METADATA],
        "blocks": blocks,
    }


def extend_modal(item: ClientItem, lang: str, *, metadata: dict[str, Any], suggested: date) -> dict[str, Any]:
    """*Need more time*: a new date and an optional note."""
    note_el = {"type": "plain_text_input", "multiline": True, "max_length": NOTE_MAX,
               "placeholder": plain_text(t("client_items.placeholder_note", lang), PLACEHOLDER)}
    return {
        "type": "modal", "callback_id": ids.CLIENT_EXTEND_MODAL,
        "title": plain_text(t("client_items.extend_title", lang), MODAL_TITLE),
        "submit": plain_text(t("client_items.extend_submit", lang), MODAL_BUTTON),
        "close": plain_text(t("common.cancel", lang), MODAL_BUTTON),
        "private_metadata": json.dumps(metadata)[:PRIVATE_METADATA],
        "blocks": [
            {"type": "section", "text": mrkdwn(f"*{ref(item)} · {safe(item.title, 400)}*\n" + t(
                "client_items.due_on", lang, date=format_date(item.due_date, lang)))},
            input_block(ids.CLIENT_BLOCK_NEW_DUE, t("client_items.label_new_due", lang),
                        {"type": "datepicker", "initial_date": suggested.isoformat()}),
            input_block(ids.CLIENT_BLOCK_NOTE, t("client_items.label_note", lang), note_el, optional=True),
        ],
    }


def item_message(item: ClientItem, project: Project, *, extensions: list[ClientItemExtension],
                 milestone_name: str | None, today: date | None = None) -> dict[str, Any]:
    """The item in the client channel, naming its owner. While open it carries Done / Need more
    time (the client's side) and Received / Cancel (the team); closed, who closed it and when."""
    lang = project.language
    title = safe(item.title, 400)
    heading = "client_items.post_heading" if item.status == "open" else "client_items.post_heading_closed"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text(t(heading, lang), HEADER_TEXT)},
        {"type": "section", "text": mrkdwn(f"*{ref(item)} · {title}*" + (
            "\n" + safe(item.details, 2500) if item.details else ""))},
        {"type": "context", "elements": [mrkdwn(_facts(item, lang, today, milestone_name), CONTEXT_TEXT)]},
    ]
    lines = extension_lines(extensions, lang)
    if lines:
        blocks.append({"type": "context", "elements": [mrkdwn("\n".join(lines[-10:]), CONTEXT_TEXT)]})
    if item.status == "open":
        blocks.append({"type": "section", "text": mrkdwn(t("client_items.post_ask", lang,
                                                             user=mention(item.owner_user_id)))})
        blocks.append({"type": "actions", "block_id": item_block_id(item, "post"),
                       "elements": [_button(a, item, lang) for a in (*CLIENT_BUTTONS, *TEAM_BUTTONS)]})
        text = t("client_items.post_text", lang, ref=ref(item), title=title, user=mention(item.owner_user_id),
                 due=format_date(item.due_date, lang))
    else:
        blocks.append({"type": "section", "text": mrkdwn(closed_line(item, project, lang) or status_label(
            item.status, lang))})
        text = t("client_items.post_text_closed", lang, ref=ref(item), title=title,
                 status=status_label(item.status, lang))
    return {"text": text, "blocks": blocks}


def outdated_message(item: ClientItem, project: Project, *, today: date | None, extensions: list[ClientItemExtension],
                     milestone_name: str | None, lang: str | None = None) -> dict[str, Any]:
    """What changed, in the reader's `lang` (the project's by default), then the item as the
    client channel shows it."""
    note = t("client_items.outdated", lang or project.language, ref=ref(item))
    current = item_message(item, project, today=today, extensions=extensions, milestone_name=milestone_name)
    return {"text": note, "blocks": [{"type": "context", "elements": [mrkdwn(note, CONTEXT_TEXT)]},
                                     *current["blocks"]]}


NOTES = {"created": "client_items.saved", "done": "client_items.you_done", "receive": "client_items.you_received",
         "cancel": "client_items.you_cancelled", "extend": "client_items.you_extended"}
NOTES_ON_BEHALF = {"done": "client_items.you_done_on_behalf", "extend": "client_items.you_extended_on_behalf"}


def outcome_note(done: str, item: ClientItem, project: Project, *, user: str, on_behalf: bool = False,
                 lang: str | None = None) -> str:
    """What the person who acted is told, in the reader's `lang` (the project's by default)."""
    lang = lang or project.language
    key = NOTES_ON_BEHALF[done] if on_behalf and done in NOTES_ON_BEHALF else NOTES[done]
    return t(key, lang, ref=ref(item), title=safe(item.title, 400), user=mention(user),
             owner=mention(item.owner_user_id), due=format_date(item.due_date, lang),
             channel=channel_link(project.client_channel_id))


def refusal_text(item: ClientItem, project: Project, reason: str, lang: str | None = None) -> str:
    lang = lang or project.language
    closed = closed_line(item, project, lang)
    if closed:
        return t("client_items.refused_prefix", lang, ref=ref(item)) + " " + closed
    return t("client_items.refused_prefix", lang, ref=ref(item)) + " " + reason


def notice_message(item: ClientItem, project: Project, done: str, *, user: str, on_behalf: bool) -> dict[str, Any]:
    """The team's note in the internal channel: the client marked an item done or asked for time."""
    lang = project.language
    key = "client_items.notice_done" if done == "done" else "client_items.notice_extended"
    line = t(key, lang, user=_who(user, on_behalf, lang), ref=ref(item), title=safe(item.title, 400),
             due=format_date(item.due_date, lang))
    return {"text": line, "blocks": [{"type": "section", "text": mrkdwn(line)}]}


def nudge_message(project: Project, item: ClientItem, days: int, *, thread_ts: str | None) -> dict[str, Any]:
    """A polite nudge in the item's thread, naming its owner."""
    lang = project.language
    return {"text": t("client_items.nudge", lang, user=mention(item.owner_user_id), title=safe(item.title, 200),
                      due=format_date(item.due_date, lang), days=days), "thread_ts": thread_ts}


def escalation_message(project: Project, item: ClientItem, days: int, lang: str | None = None) -> dict[str, Any]:
    """The PM's DM once an item is overdue past the project's escalation threshold (in `lang`,
    the PM's own language; default: the project's)."""
    lang = lang or project.language
    return {"text": t("client_items.escalate", lang, ref=ref(item), title=safe(item.title, 200),
                      project=safe(project.name, 100), user=mention(item.owner_user_id),
                      due=format_date(item.due_date, lang), days=days,
                      channel=channel_link(project.client_channel_id))}


def digest_section(project: Project, items: DigestItems | None, *, today: date, internal: bool) -> list[dict[str, Any]]:
    """"What we need from you": open items with their due dates (and buttons, in the client
    channel), and which milestone an overdue one puts at risk."""
    lang = project.language
    if items is None or not items.open:
        return []
    blocks: list[dict[str, Any]] = [{"type": "divider"}, {"type": "section", "text": mrkdwn(
        t("client_items.digest_title_internal" if internal else "client_items.digest_title", lang))}]
    for item in items.open[:DIGEST_LIMIT]:
        line = t("client_items.digest_line", lang, title=safe(item.title, 150), user=mention(item.owner_user_id),
                 due=due_text(item, lang, today))
        name = items.milestone_names.get(item.milestone_id or 0)
        if name and item.id in items.overdue:
            line += "\n" + t("client_items.digest_at_risk", lang, name=safe(name, 150))
        elif name:
            line += " · " + t("client_items.blocks_line", lang, name=safe(name, 150))
        blocks.append({"type": "section", "text": mrkdwn(line)})
        if not internal:
            blocks.append({"type": "actions", "block_id": item_block_id(item, "digest"),
                           "elements": [_button(a, item, lang) for a in CLIENT_BUTTONS]})
    if len(items.open) > DIGEST_LIMIT:
        blocks.append({"type": "context", "elements": [mrkdwn(t("digest.and_more", lang,
                                                                 count=len(items.open) - DIGEST_LIMIT))]})
    return blocks

