"""The weekly digest: the client's version (client channel) and the team's (internal channel).

The client version never shows internal risks, costs the PM did not share, or internal
counts. Whatever the project's size, the message stays within Block Kit's limits: long lists
are cut with "…and N more".
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from bot.blocks import ids
from bot.blocks.acceptance import digest_blocks as acceptance_digest_blocks
from bot.blocks.client_items import digest_section as client_items_section
from bot.blocks.common import form_modal, input_block
from bot.blocks.format import money, progress_bar, week_number
from bot.blocks.project import intake_buttons
from bot.blocks.text import (
    BLOCKS_PER_MESSAGE,
    BUTTON_TEXT,
    HEADER_TEXT,
    SECTION_TEXT,
    channel_link,
    mention,
    mrkdwn,
    plain_text,
    safe,
)
from bot.i18n import format_date, t
from bot.i18n.formatting import format_list, format_percent
from bot.i18n.names import DECISION_KEYS, MILESTONE_STATUS_KEYS, OVERALL_KEYS
from bot.models import ChangeRequest, Project, Risk

if TYPE_CHECKING:  # the facts are plain data; the builder needs no service at run time
    from bot.services.digests import DigestFacts

LIST_LIMIT = 8  # items per list before "…and N more"
TITLE_LIMIT = 150


def decision_buttons(kind: str, lang: str, item: Any) -> list[dict[str, Any]]:
    """The buttons with which a client approver decides an awaiting item, wherever it is shown
    (the digest, the App Home): the same actions as on the original request."""
    if kind == "requirement":
        from bot.blocks.requirements import decision_buttons as requirement_buttons

        return requirement_buttons(item, lang)
    if kind == "change":
        from bot.blocks.changes import decision_buttons as change_buttons

        return change_buttons(item, lang)
    return []


def _lines(items: list[str], lang: str, limit: int = LIST_LIMIT) -> str:
    shown = items[:limit]
    if len(items) > limit:
        shown.append(t("digest.and_more", lang, count=len(items) - limit))
    text = "\n".join(shown)
    if len(text) > SECTION_TEXT:
        # keep whole lines, then say how many were left out
        kept: list[str] = []
        size = 0
        for line in shown:
            if size + len(line) + 1 > SECTION_TEXT - 60:
                break
            kept.append(line)
            size += len(line) + 1
        kept.append(t("digest.and_more", lang, count=len(items) - len(kept)))
        text = "\n".join(kept)
    return text


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text)}


def _impact(c: ChangeRequest, lang: str, *, show_cost: bool) -> str:
    out = ""
    if c.schedule_impact_days:
        out += t("digest.impact_days", lang, days=c.schedule_impact_days)
    if show_cost and c.cost_amount is not None and c.cost_currency:
        out += t("digest.impact_cost", lang, amount=safe(money(c.cost_amount, c.cost_currency, lang), 40))
    return out


def _waiting(days: int, lang: str) -> str:
    return t("digest.waiting_0" if days <= 0 else "digest.waiting_1" if days == 1 else "digest.waiting_n", lang,
             **({"days": days} if days > 1 else {}))


def _risk_line(r: Risk, lang: str, *, internal: bool) -> str:
    marker = t("digest.risk_internal_marker", lang) if internal and r.visibility != "client" else ""
    mitigation = safe(r.mitigation, 300) if r.mitigation.strip() else t("digest.risk_no_mitigation", lang)
    return marker + t("digest.risk_line", lang, title=safe(r.title, TITLE_LIMIT), score=r.score, mitigation=mitigation)


def digest_message(facts: DigestFacts, *, internal: bool) -> dict[str, Any]:
    """`{text, blocks}` of the digest. `internal=False` is what the client channel gets."""
    p = facts.project
    lang = p.language
    name = safe(p.name, 100)
    header = t("digest.header_internal" if internal else "digest.header", lang, name=p.name)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain_text(header, HEADER_TEXT)}]
    if facts.note:
        blocks.append(_section(t("digest.note_title", lang, pm=mention(p.pm_user_id)) + "\n" + safe(facts.note, 2000)))
    status_text = t(OVERALL_KEYS[facts.overall], lang)
    blocks.append({"type": "section", "text": mrkdwn(status_text)})
    blocks.append({"type": "context", "elements": [mrkdwn(t(
        "digest.week_line", lang, week=week_number(facts.week), date=format_date(facts.week_monday, lang)))]})
    blocks.append({"type": "divider"})

    # Milestones
    ms = [
        t("digest.milestone_line", lang, name=safe(m.name, TITLE_LIMIT), bar=progress_bar(m.progress),
          progress=format_percent(m.progress, lang), due=format_date(m.due_date, lang),
          status=t(MILESTONE_STATUS_KEYS[m.status], lang))
        for m in facts.milestones
    ]
    milestones_text = _lines(ms, lang) or t("digest.no_milestones", lang)
    blocks.append(_section(t("digest.milestones_title", lang) + "\n" + milestones_text))

    # This week
    week_lines: list[str] = []
    if facts.requirements_raised or facts.requirements_confirmed:
        week_lines.append(t("digest.requirements_line", lang, raised=len(facts.requirements_raised),
                            confirmed=len(facts.requirements_confirmed)))
    if facts.changes_raised or facts.changes_decided:
        week_lines.append(t("digest.changes_line", lang, raised=len(facts.changes_raised),
                            decided=len(facts.changes_decided)))
        for c in facts.changes_decided[:LIST_LIMIT]:
            decision = t(DECISION_KEYS[c.status], lang)
            week_lines.append(t("digest.change_decided", lang, title=safe(c.title, TITLE_LIMIT), decision=decision,
                                impact=_impact(c, lang, show_cost=internal or c.share_cost_with_client)))
    if facts.feedback:
        avg = facts.feedback_average
        week_lines.append(t("digest.feedback_line", lang, count=len(facts.feedback), average=avg) if avg is not None
                          else t("digest.feedback_line_no_score", lang, count=len(facts.feedback)))
    if not week_lines:
        week_lines.append(t("digest.nothing_this_week", lang))
    blocks.append(_section(t("digest.this_week_title", lang) + "\n" + _lines(week_lines, lang, 30)))

    # What waits on the client
    blocks.append({"type": "divider"})
    blocks.append(_section(t("digest.awaiting_title_internal" if internal else "digest.awaiting_title", lang)))
    awaiting: list[tuple[str, Any, str]] = []
    for r in facts.awaiting_requirements:
        days = facts.requirement_waiting.get(r.id or 0, 0)
        awaiting.append(("requirement", r, t("digest.awaiting_requirement", lang, title=safe(r.title, TITLE_LIMIT),
                                             waiting=_waiting(days, lang))))
    for c in facts.awaiting_changes:
        days = facts.change_waiting.get(c.id or 0, 0)
        awaiting.append(("change", c, t("digest.awaiting_change", lang, title=safe(c.title, TITLE_LIMIT),
                                        waiting=_waiting(days, lang),
                                        impact=_impact(c, lang, show_cost=internal or c.share_cost_with_client))))
    if not awaiting:
        blocks.append({"type": "context", "elements": [mrkdwn(t("digest.awaiting_none", lang))]})
    for kind, item, text in awaiting[:LIST_LIMIT]:
        blocks.append(_section(text))
        if not internal:
            blocks.append({"type": "actions", "block_id": f"digest-{kind}:{item.id}",
                           "elements": decision_buttons(kind, lang, item)})
    if len(awaiting) > LIST_LIMIT:
        blocks.append({"type": "context", "elements": [mrkdwn(t("digest.and_more", lang,
                                                                 count=len(awaiting) - LIST_LIMIT))]})

    # What we need from the client (issue 15)
    blocks += client_items_section(p, facts.client_items, today=facts.today, internal=internal)
    blocks += acceptance_digest_blocks(facts.accepted, facts.awaiting_acceptance, p, internal=internal)

    # Risks
    risks = facts.risks if internal else facts.client_risks
    if risks:
        blocks.append({"type": "divider"})
        blocks.append(_section(t("digest.risks_title", lang) + "\n" + _lines(
            [_risk_line(r, lang, internal=internal) for r in risks], lang)))

    # Next week
    next_lines = [t("digest.next_week_line", lang, name=safe(m.name, TITLE_LIMIT), due=format_date(m.due_date, lang),
                    progress=format_percent(m.progress, lang)) for m in facts.due_next_week]
    blocks.append(_section(t("digest.next_week_title", lang) + "\n" + (_lines(next_lines, lang)
                                                                       or t("digest.next_week_none", lang))))

    if internal:
        extra = [t("digest.internal_follow_ups", lang, count=facts.open_follow_ups)]
        costs = [safe(money(c.cost_amount, c.cost_currency, lang), 40) for c in
                 facts.changes_raised + facts.awaiting_changes if c.cost_amount is not None]
        if costs:
            extra.append(t("digest.internal_costs", lang, costs=format_list(dict.fromkeys(costs), lang)))
        blocks.append({"type": "divider"})
        blocks.append(_section(t("digest.internal_title", lang) + "\n" + "\n".join(extra)))
    else:
        blocks.append({"type": "context", "elements": [mrkdwn(t("digest.intake_hint", lang))]})
        blocks.append(intake_buttons(p, f"digest-intake:{p.id}"))

    if len(blocks) > BLOCKS_PER_MESSAGE:  # defensive: lists above are already capped
        blocks = blocks[: BLOCKS_PER_MESSAGE - 1] + blocks[-1:]
    text = t("digest.text_fallback", lang, name=name, status=status_text.replace("*", ""))
    return {"text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def _week_buttons(p: Project, week: str, buttons: list[tuple[str, str]]) -> dict[str, Any]:
    """The PM's buttons about one week's digest (the first is the primary one)."""
    value = ids.week_value(p.id or 0, week)
    return {"type": "actions", "block_id": f"preview:{p.id}", "elements": [
        {"type": "button", "action_id": action_id, "value": value,
         "text": plain_text(t(label, p.language), BUTTON_TEXT), **({"style": "primary"} if n == 0 else {})}
        for n, (action_id, label) in enumerate(buttons)]}


def preview_message(facts: DigestFacts, *, due: date, requires_approval: bool) -> dict[str, Any]:
    """The PM's DM before the digest is due: the digest as the client will see it, and buttons."""
    p = facts.project
    lang = p.language
    digest = digest_message(facts, internal=False)
    intro = [
        _section(t("digest.preview_intro", lang, name=safe(p.name, 100), due=format_date(due, lang))),
        {"type": "context", "elements": [mrkdwn(t(
            "digest.preview_requires_approval" if requires_approval else "digest.preview_posts_on_time", lang))]},
        _week_buttons(p, facts.week, [(ids.DIGEST_POST_NOW, "digest.preview_post_now"),
                                       (ids.DIGEST_ADD_NOTE, "digest.preview_add_note"),
                                       (ids.DIGEST_SKIP, "digest.preview_skip")]),
        {"type": "divider"},
    ]
    body = [b for b in digest["blocks"] if b.get("type") != "actions"]
    blocks = (intro + body)[:BLOCKS_PER_MESSAGE]
    return {"text": t("digest.preview_intro", lang, name=safe(p.name, 100), due=format_date(due, lang)),
            "blocks": blocks}


def late_question(facts: DigestFacts, *, due: date) -> dict[str, Any]:
    p = facts.project
    lang = p.language
    text = t("digest.late_question", lang, name=safe(p.name, 100), due=format_date(due, lang))
    return {"text": text, "blocks": [
        _section(text),
        _week_buttons(p, facts.week, [(ids.DIGEST_POST_NOW, "digest.late_post"),
                                       (ids.DIGEST_SKIP, "digest.late_skip")]),
    ]}


def send_confirmation(project: Project, week: str, overrides: list[str], lang: str) -> dict[str, Any]:
    """`/digest send` by a team member who is not the PM: what it overrides, and buttons."""
    text = t("digest.confirm_send", lang, name=safe(project.name, 100), channel=channel_link(project.client_channel_id),
             pm=mention(project.pm_user_id))
    if overrides:
        text += "\n" + t("digest.confirm_overrides", lang,
                         what=format_list((t(OVERRIDES[o], lang) for o in overrides), lang))
    value = ids.week_value(project.id or 0, week)
    return {"response_type": "ephemeral", "text": text, "blocks": [
        _section(text),
        {"type": "actions", "elements": [
            {"type": "button", "style": "danger" if overrides else "primary", "action_id": ids.DIGEST_SEND_CONFIRM,
             "value": value, "text": plain_text(t("digest.confirm_button", lang), BUTTON_TEXT)},
            {"type": "button", "action_id": ids.DIGEST_SEND_CANCEL, "value": value,
             "text": plain_text(t("common.cancel", lang), BUTTON_TEXT)},
        ]},
    ]}


# What a team member's `/digest send` overrides, named for the confirmation and the PM's note.
OVERRIDES = {"skip": "digest.override_skip", "approval": "digest.override_approval"}


def sent_by_other(project: Project, user_id: str, overrides: list[str]) -> dict[str, Any]:
    """The PM's DM: who posted this week's digest instead of them, and what it overrode."""
    lang = project.language
    text = t("digest.sent_by_other", lang, user=mention(user_id), name=safe(project.name, 100),
             channel=channel_link(project.client_channel_id))
    if overrides:
        text += "\n" + t("digest.overrode", lang, what=format_list((t(OVERRIDES[o], lang) for o in overrides), lang))
    return {"text": text}



def note_modal(project: Project, week: str, note: str, *, max_length: int) -> dict[str, Any]:
    """*Add a note*: the PM's short personal intro for the week's digest."""
    lang = project.language
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": True, "max_length": max_length}
    if note:
        element["initial_value"] = note
    field = input_block(ids.DIGEST_NOTE_BLOCK, t("digest.note_label", lang), element)
    return form_modal(ids.DIGEST_NOTE_MODAL, t("digest.note_modal_title", lang), lang, [field],
                 {"project_id": project.id, "week": week})
