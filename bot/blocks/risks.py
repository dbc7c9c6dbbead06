"""Views and messages of the risk register: the modal, a risk's card, the list, the review modal."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from bot.blocks import ids
from bot.blocks.capture import source_line
from bot.blocks.common import form_modal, project_picker
from bot.blocks.common import input_block as _input
from bot.blocks.pagination import pager
from bot.blocks.text import (
    BLOCKS_PER_MESSAGE,
    BUTTON_TEXT,
    CONTEXT_TEXT,
    HEADER_TEXT,
    PLACEHOLDER,
    fit_blocks,
    fit_options,
    mention,
    mrkdwn,
    option,
    plain_text,
    safe,
)
from bot.i18n import t
from bot.models import (
    LONG_TEXT_MAX,
    RISK_REVIEW_DAYS,
    RISK_SCALE,
    RISK_TITLE_MAX,
    RISK_TRANSITIONS,
    Milestone,
    Project,
    Risk,
    RiskStatus,
    Visibility,
    risk_level,
)

BADGES = {"high": "🔴", "medium": "🟠", "low": "🟢"}
STATUS_ICONS = {RiskStatus.open: "⚪", RiskStatus.mitigated: "🛡️", RiskStatus.occurred: "💥",
                RiskStatus.closed: "✔️"}
# The button that moves a risk to each status.
STATUS_BUTTONS = {
    RiskStatus.mitigated: ids.RISK_MITIGATED,
    RiskStatus.occurred: ids.RISK_OCCURRED,
    RiskStatus.closed: ids.RISK_CLOSED,
    RiskStatus.open: ids.RISK_REOPEN,
}
ACTION_TO_STATUS = {action: status for status, action in STATUS_BUTTONS.items()}
# The words of each value, named once (no key is built from a value).
STATUS_WORDS = {RiskStatus.open: "risk.status_open", RiskStatus.mitigated: "risk.status_mitigated",
                RiskStatus.occurred: "risk.status_occurred", RiskStatus.closed: "risk.status_closed"}
STATUS_BUTTON_WORDS = {RiskStatus.open: "risk.button_open", RiskStatus.mitigated: "risk.button_mitigated",
                       RiskStatus.occurred: "risk.button_occurred", RiskStatus.closed: "risk.button_closed"}
VISIBILITY_WORDS = {Visibility.internal: "risk.visibility_internal", Visibility.client: "risk.visibility_client"}
VISIBILITY_SHORT = {Visibility.internal: "risk.visibility_short_internal",
                    Visibility.client: "risk.visibility_short_client"}
SCALE_WORDS = {
    "probability": ("risk.probability_1", "risk.probability_2", "risk.probability_3", "risk.probability_4",
                    "risk.probability_5"),
    "impact": ("risk.impact_1", "risk.impact_2", "risk.impact_3", "risk.impact_4", "risk.impact_5"),
}
QUICK_SCORE = 3  # probability and impact of a new risk until someone says otherwise


def badge(score: int) -> str:
    """🔴 20 / 🟠 12 / 🟢 4."""
    return f"{BADGES[risk_level(score)]} {score}"




def _scale(kind: str, lang: str, initial: int) -> dict[str, Any]:
    options = [option(t(SCALE_WORDS[kind][n - 1], lang, n=n), str(n)) for n in RISK_SCALE]
    return {"type": "static_select", "options": options, "initial_option": options[initial - 1]}


def risk_modal(lang: str, *, metadata: dict[str, Any], owner: str, today: date, editing: Risk | None = None,
               title: str = "", milestones: list[Milestone] | None = None,
               projects: list[Project] | None = None) -> dict[str, Any]:
    """The full form: new (prefilled with `title`), or editing `editing`. `projects` adds the picker."""
    r = editing
    title_el: dict[str, Any] = {"type": "plain_text_input", "max_length": RISK_TITLE_MAX,
                                "placeholder": plain_text(t("risk.placeholder_title", lang), PLACEHOLDER)}
    initial_title = r.title if r else title
    if initial_title:
        title_el["initial_value"] = initial_title[: RISK_TITLE_MAX]
    desc_el: dict[str, Any] = {"type": "plain_text_input", "multiline": True, "max_length": LONG_TEXT_MAX,
                               "placeholder": plain_text(t("risk.placeholder_description", lang), PLACEHOLDER)}
    if r and r.description:
        desc_el["initial_value"] = r.description
    mitigation_el: dict[str, Any] = {"type": "plain_text_input", "multiline": True, "max_length": LONG_TEXT_MAX,
                                     "placeholder": plain_text(t("risk.placeholder_mitigation", lang), PLACEHOLDER)}
    if r and r.mitigation:
        mitigation_el["initial_value"] = r.mitigation
    review_el: dict[str, Any] = {"type": "datepicker"}
    review = r.next_review_date if r else today + timedelta(days=RISK_REVIEW_DAYS)
    if review:
        review_el["initial_date"] = review.isoformat()
    owner_el: dict[str, Any] = {"type": "users_select"}
    initial_owner = r.owner_user_id if r else owner
    if initial_owner:
        owner_el["initial_user"] = initial_owner
    visibility_opts = [option(t(VISIBILITY_WORDS[v], lang), v.value) for v in Visibility]
    visibility = r.visibility if r else Visibility.internal
    blocks: list[dict[str, Any]] = []
    if projects is not None:
        blocks.append(project_picker(projects, lang))
    blocks += [
        _input(ids.RISK_BLOCK_TITLE, t("risk.label_title", lang), title_el),
        _input(ids.RISK_BLOCK_DESCRIPTION, t("risk.label_description", lang), desc_el, optional=True),
        _input(ids.RISK_BLOCK_PROBABILITY, t("risk.label_probability", lang),
               _scale("probability", lang, r.probability if r else QUICK_SCORE)),
        _input(ids.RISK_BLOCK_IMPACT, t("risk.label_impact", lang),
               _scale("impact", lang, r.impact if r else QUICK_SCORE), hint=t("risk.hint_score", lang)),
        _input(ids.RISK_BLOCK_OWNER, t("risk.label_owner", lang), owner_el),
        _input(ids.RISK_BLOCK_MITIGATION, t("risk.label_mitigation", lang), mitigation_el, optional=True),
        _input(ids.RISK_BLOCK_REVIEW, t("risk.label_review", lang), review_el, optional=True,
               hint=t("risk.hint_review", lang)),
        _input(ids.RISK_BLOCK_VISIBILITY, t("risk.label_visibility", lang),
               {"type": "radio_buttons", "options": visibility_opts,
                "initial_option": next(o for o in visibility_opts if o["value"] == visibility)}),
    ]
    if milestones:
        ms_opts = fit_options([option(f"{m.name} ({m.due_date.isoformat()})", str(m.id)) for m in milestones])
        ms_el: dict[str, Any] = {"type": "static_select", "options": ms_opts,
                                 "placeholder": plain_text(t("risk.placeholder_milestone", lang), PLACEHOLDER)}
        current = next((o for o in ms_opts if r and o["value"] == str(r.milestone_id)), None)
        if current:
            ms_el["initial_option"] = current
        blocks.append(_input(ids.RISK_BLOCK_MILESTONE, t("risk.label_milestone", lang), ms_el, optional=True,
                             hint=t("risk.hint_milestone", lang)))
    title_key = "risk.modal_title_edit" if r else "risk.modal_title_new"
    return form_modal(ids.RISK_MODAL, t(title_key, lang), lang, blocks, metadata)


def review_modal(risk: Risk, lang: str, *, today: date, metadata: dict[str, Any]) -> dict[str, Any]:
    upcoming = risk.next_review_date and risk.next_review_date >= today
    initial = risk.next_review_date if upcoming else today + timedelta(days=RISK_REVIEW_DAYS)
    return form_modal(ids.RISK_REVIEW_MODAL, t("risk.review_title", lang), lang, [
        {"type": "section", "text": mrkdwn(t("risk.review_for", lang, title=safe(risk.title, 500)))},
        _input(ids.RISK_BLOCK_REVIEW, t("risk.label_review", lang),
               {"type": "datepicker", "initial_date": initial.isoformat()}),
    ], metadata)


def risk_line(risk: Risk, lang: str, *, milestone: str | None = None, today: date | None = None) -> str:
    """The facts of one risk in mrkdwn: badge, title, status, owner, review, visibility, milestone."""
    status = f"{STATUS_ICONS[RiskStatus(risk.status)]} {t(STATUS_WORDS[RiskStatus(risk.status)], lang)}"
    if risk.next_review_date is None:
        review = t("risk.no_review", lang)
    elif today and risk.next_review_date < today and risk.status != RiskStatus.closed:
        review = t("risk.review_overdue", lang, date=risk.next_review_date.isoformat())
    else:
        review = t("risk.review_on", lang, date=risk.next_review_date.isoformat())
    lines = [
        t("risk.line_title", lang, badge=badge(risk.score), id=risk.id, title=safe(risk.title, 200)),
        t("risk.line_facts", lang, status=status, owner=mention(risk.owner_user_id) or t("common.none", lang),
          review=review, p=risk.probability, i=risk.impact),
    ]
    extra = [t(VISIBILITY_SHORT[Visibility(risk.visibility)], lang)]
    if milestone:
        key = "risk.line_milestone_at_risk" if risk.puts_milestone_at_risk else "risk.line_milestone"
        extra.append(t(key, lang, name=safe(milestone, 150)))
    source = source_line(risk, lang)  # captured from a message (issue 14)
    if source:
        extra.append(source)
    lines.append(" · ".join(extra))
    if risk.mitigation:
        lines.append(t("risk.line_mitigation", lang, text=safe(risk.mitigation, 400)))
    return "\n".join(lines)


def risk_buttons(risk: Risk, lang: str, *, page: int, include_closed: bool = False) -> list[dict[str, Any]]:
    """Edit, the status changes allowed from the risk's status, and Set next review."""
    def button(action_id: str, label_key: str, value: str, style: str | None = None,
               confirm: str | None = None) -> dict[str, Any]:
        b: dict[str, Any] = {"type": "button", "action_id": action_id, "value": value,
                             "text": plain_text(t(label_key, lang), BUTTON_TEXT)}
        if style:
            b["style"] = style
        if confirm:
            b["confirm"] = {"title": plain_text(t("risk.confirm_title", lang), 100),
                            "text": plain_text(t(confirm, lang, title=risk.title), 300),
                            "confirm": plain_text(t(label_key, lang), 30),
                            "deny": plain_text(t("common.cancel", lang), 30)}
        return b

    out = [button(ids.RISK_EDIT, "risk.button_edit", str(risk.id))]
    for status in (RiskStatus.mitigated, RiskStatus.occurred, RiskStatus.closed, RiskStatus.open):
        if status in RISK_TRANSITIONS[RiskStatus(risk.status)]:
            value = json.dumps({"id": risk.id, "from": risk.status, "page": page, "all": include_closed})
            confirm = "risk.confirm_occurred" if status == RiskStatus.occurred else None
            style = "danger" if status == RiskStatus.occurred else None
            out.append(button(STATUS_BUTTONS[status], STATUS_BUTTON_WORDS[status], value, style, confirm))
    out.append(button(ids.RISK_SET_REVIEW, "risk.button_review", str(risk.id)))
    return out


def risk_card(risk: Risk, lang: str, *, milestone: str | None = None, today: date | None = None,
              details_button: bool = False) -> list[dict[str, Any]]:
    """One risk, as the quick capture's answer (with *Add details*)."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(risk_line(risk, lang, milestone=milestone, today=today))},
    ]
    if details_button:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "action_id": ids.RISK_ADD_DETAILS, "value": str(risk.id), "style": "primary",
             "text": plain_text(t("risk.button_add_details", lang), BUTTON_TEXT)},
        ]})
    return blocks


def register_list(project: Project, items: list[Risk], *, total: int, page: int, lang: str, per_page: int = 10,
                  today: date, milestones: dict[int, str], include_closed: bool, notice: str | None = None
                  ) -> list[dict[str, Any]]:
    """`/risk list`: highest score first, each risk with its buttons; 10 per page."""
    title_key = "risk.list_title_all" if include_closed else "risk.list_title"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text(t(title_key, lang, name=project.name), HEADER_TEXT)},
    ]
    if notice:
        blocks.append({"type": "context", "elements": [mrkdwn(notice, CONTEXT_TEXT)]})
    if not items:
        blocks.append({"type": "section", "text": mrkdwn(t("risk.list_empty", lang))})
        return blocks
    for risk in items:
        blocks.append({"type": "section", "text": mrkdwn(risk_line(
            risk, lang, milestone=milestones.get(risk.milestone_id or 0), today=today))})
        blocks.append({"type": "actions", "block_id": f"{ids.RISK_ITEM_BLOCK}:{page}:{risk.id}",
                       "elements": risk_buttons(risk, lang, page=page, include_closed=include_closed)})
    blocks += pager(ids.RISK_LIST_PAGE, page=page, total=total, per_page=per_page, lang=lang,
                    state={"project": project.id, "all": include_closed})
    if not include_closed:
        blocks.append({"type": "context", "elements": [mrkdwn(t("risk.list_hint_all", lang), CONTEXT_TEXT)]})
    return fit_blocks(blocks, BLOCKS_PER_MESSAGE,
                      t("common.and_more", lang, count=len(blocks) - BLOCKS_PER_MESSAGE + 1))
