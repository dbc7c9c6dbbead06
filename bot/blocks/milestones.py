"""Views and messages of milestones: the create and update modals, the plan list."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.blocks import ids
from bot.blocks.common import form_modal, project_picker
from bot.blocks.common import input_block as _input
from bot.blocks.text import (
    BLOCKS_PER_MESSAGE,
    BUTTON_TEXT,
    PLACEHOLDER,
    fit_blocks,
    fit_options,
    mrkdwn,
    option,
    plain_text,
    safe,
)
from bot.i18n import t
from bot.models import LONG_TEXT_MAX, MILESTONE_NAME_MAX, Milestone, MilestoneStatus, Project

STATUS_EMOJI = {
    MilestoneStatus.done: ":white_check_mark:",
    MilestoneStatus.late: ":red_circle:",
    MilestoneStatus.at_risk: ":large_orange_circle:",
    MilestoneStatus.on_track: ":large_green_circle:",
}
STATUS_WORDS = {
    MilestoneStatus.done: "milestones.status_done",
    MilestoneStatus.late: "milestones.status_late",
    MilestoneStatus.at_risk: "milestones.status_at_risk",
    MilestoneStatus.on_track: "milestones.status_on_track",
}
BAR_CELLS = 10


def progress_bar(progress: int) -> str:
    """`▓▓▓▓░░░░░░ 40 %`: one cell per full 10 %."""
    value = min(max(int(progress), 0), 100)
    filled = value * BAR_CELLS // 100
    return "▓" * filled + "░" * (BAR_CELLS - filled) + f" {value} %"


def status_text(status: MilestoneStatus, lang: str) -> str:
    return f"{STATUS_EMOJI[status]} {t(STATUS_WORDS[status], lang)}"




def _progress_input(lang: str, initial: int | None) -> dict[str, Any]:
    el: dict[str, Any] = {"type": "number_input", "is_decimal_allowed": False,
                          "placeholder": plain_text("0–100", PLACEHOLDER)}
    if initial is not None:
        el["initial_value"] = str(initial)
    return _input(ids.MILESTONE_BLOCK_PROGRESS, t("milestones.label_progress", lang), el, optional=True,
                  hint=t("milestones.hint_progress", lang))


def milestone_modal(lang: str, *, metadata: dict[str, Any], projects: list[Project] | None = None,
                    today: date | None = None) -> dict[str, Any]:
    """A new milestone: name, due date, progress, description (and the project, outside one)."""
    due: dict[str, Any] = {"type": "datepicker"}
    if today:
        due["initial_date"] = today.isoformat()
    blocks: list[dict[str, Any]] = []
    if projects is not None:
        blocks.append(project_picker(projects, lang))
    blocks += [
        _input(ids.MILESTONE_BLOCK_NAME, t("milestones.label_name", lang),
               {"type": "plain_text_input", "max_length": MILESTONE_NAME_MAX,
                "placeholder": plain_text(t("milestones.placeholder_name", lang), PLACEHOLDER)}),
        _input(ids.MILESTONE_BLOCK_DUE, t("milestones.label_due", lang), due),
        _progress_input(lang, 0),
        _input(ids.MILESTONE_BLOCK_DESCRIPTION, t("milestones.label_description", lang),
               {"type": "plain_text_input", "multiline": True, "max_length": LONG_TEXT_MAX}, optional=True),
    ]
    return form_modal(ids.MILESTONE_MODAL, t("milestones.modal_title", lang), lang, blocks, metadata)


def edit_modal(lang: str, *, milestone: Milestone, metadata: dict[str, Any]) -> dict[str, Any]:
    """Change progress, due date or done for one milestone, prefilled."""
    done_option = option(t("milestones.option_done", lang), ids.MILESTONE_DONE_OPTION)
    done_el: dict[str, Any] = {"type": "checkboxes", "options": [done_option]}
    if milestone.done:
        done_el["initial_options"] = [done_option]
    blocks = [
        {"type": "section", "text": mrkdwn(t("milestones.edit_intro", lang, name=safe(milestone.name, 300)))},
        _input(ids.MILESTONE_BLOCK_DUE, t("milestones.label_due", lang),
               {"type": "datepicker", "initial_date": milestone.due_date.isoformat()}),
        _progress_input(lang, milestone.progress),
        _input(ids.MILESTONE_BLOCK_DONE, t("milestones.label_done", lang), done_el, optional=True,
               hint=t("milestones.hint_done", lang)),
    ]
    return form_modal(ids.MILESTONE_EDIT_MODAL, t("milestones.edit_title", lang), lang, blocks, metadata)


def pick_modal(lang: str, *, milestones: list[Milestone], metadata: dict[str, Any]) -> dict[str, Any]:
    """`/milestone update`: first choose which one (then the edit form replaces this view)."""
    options = fit_options([option(f"{m.name} ({m.due_date.isoformat()})", str(m.id)) for m in milestones])
    blocks = [_input(ids.MILESTONE_BLOCK_PICK, t("milestones.label_pick", lang),
                     {"type": "static_select", "options": options,
                      "placeholder": plain_text(t("milestones.placeholder_pick", lang), PLACEHOLDER)})]
    return form_modal(ids.MILESTONE_PICK_MODAL, t("milestones.edit_title", lang), lang, blocks, metadata,
                  submit=t("milestones.next", lang))


def milestone_line(milestone: Milestone, status: MilestoneStatus, today: date, lang: str) -> str:
    days = (milestone.due_date - today).days
    if milestone.done:
        when = t("milestones.due_done", lang, date=milestone.due_date.isoformat())
    elif days < 0:
        when = t("milestones.due_overdue", lang, date=milestone.due_date.isoformat(), days=-days)
    elif days == 0:
        when = t("milestones.due_today", lang, date=milestone.due_date.isoformat())
    else:
        when = t("milestones.due_in", lang, date=milestone.due_date.isoformat(), days=days)
    return t("milestones.list_item", lang, name=safe(milestone.name, 300), status=status_text(status, lang),
             bar=progress_bar(milestone.progress), due=when)


def milestone_list(project: Project, plan: list[tuple[Milestone, MilestoneStatus]], lang: str, *, today: date,
                   can_edit: bool, pager_blocks: list[dict[str, Any]],
                   extras: dict[int, tuple[str | None, dict[str, Any] | None]] | None = None) -> list[dict[str, Any]]:
    """`/milestone list`: progress bar, due date and status of each, with *Update* for the team."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(t("milestones.list_title", lang, project=safe(project.name, 200)))}
    ]
    if not plan:
        blocks.append({"type": "section", "text": mrkdwn(t("milestones.list_empty", lang))})
        return blocks
    for m, status in plan:
        block: dict[str, Any] = {"type": "section", "text": mrkdwn(milestone_line(m, status, today, lang))}
        if can_edit:
            block["accessory"] = {"type": "button", "action_id": ids.MILESTONE_EDIT, "value": str(m.id),
                                  "text": plain_text(t("milestones.button_update", lang), BUTTON_TEXT)}
        line, actions = (extras or {}).get(m.id or 0, (None, None))  # milestone acceptance
        if line:
            block["text"] = mrkdwn(milestone_line(m, status, today, lang) + "\n" + line)
        blocks.append(block)
        if actions:
            blocks.append(actions)
    blocks += pager_blocks
    return fit_blocks(blocks, BLOCKS_PER_MESSAGE, t("common.and_more", lang, count=len(blocks)))
