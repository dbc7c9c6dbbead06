"""Every action_id, callback_id and block_id, named once."""

from __future__ import annotations

import re
from datetime import date

# /project modal
PROJECT_MODAL = "project_modal"
PROJECT_TZ_ACTION = "project_timezone"
PROJECT_BLOCK_NAME = "name"
PROJECT_BLOCK_CLIENT_NAME = "client_name"
PROJECT_BLOCK_CLIENT_CHANNEL = "client_channel"
PROJECT_BLOCK_INTERNAL_CHANNEL = "internal_channel"
PROJECT_BLOCK_PM = "pm"
PROJECT_BLOCK_APPROVERS = "approvers"
PROJECT_BLOCK_TIMEZONE = "timezone"
PROJECT_BLOCK_LANGUAGE = "language"
PROJECT_BLOCK_WEEKDAY = "digest_weekday"
PROJECT_BLOCK_TIME = "digest_time"
PROJECT_BLOCK_WORKING_DAYS = "working_days"
PROJECT_BLOCK_HOLIDAYS = "holidays"
PROJECT_BLOCK_CADENCE = "feedback_cadence"
PROJECT_BLOCK_OPTIONS = "options"
PROJECT_CLOSE_CONFIRM = "project_close_confirm"
# Public-holiday calendars (issue 17): the project form's calendar picker (external select);
# its value is a calendar code ("CN", "DE-BE") or CALENDAR_NONE.
PROJECT_BLOCK_CALENDAR = "public_holidays"
PROJECT_CALENDAR_ACTION = "project_public_holidays"
CALENDAR_NONE = "-"


def parse_calendar_value(value: str | None) -> tuple[str, str] | None:
    """(country, subdivision) from the picker's value, ("", "") for none; None when absent or
    not shaped like a calendar code (whether the package knows it is checked later)."""
    if value is None:
        return None
    if value == CALENDAR_NONE:
        return "", ""
    country, _, subdivision = value.partition("-")
    if not re.fullmatch(r"[A-Za-z]{2}", country) or len(subdivision) > 32:
        return None
    return country.upper(), subdivision
# reports (issue 16): `/project close` asks in a modal, with the PM's retrospective note
PROJECT_CLOSE_MODAL = "project_close_modal"
PROJECT_CLOSE_BLOCK_WENT_WELL = "close_went_well"
PROJECT_CLOSE_BLOCK_TO_IMPROVE = "close_to_improve"

# The client intake message (its buttons open the modals of later features).
INTAKE_NEW_REQUIREMENT = "intake_new_requirement"
INTAKE_CHANGE_REQUEST = "intake_change_request"
INTAKE_GIVE_FEEDBACK = "intake_give_feedback"

# Generic input element id inside every input block (the block_id names the field).
VALUE = "value"
# The project picker of modals opened outside a project's channel.
PROJECT_PICKER_BLOCK = "project"


# --- Requirements (/req) ---------------------------------------------------------------
# (issue 3 adds its ids here)
REQ_MODAL = "req_modal"
REQ_BLOCK_TITLE = "req_title"
REQ_BLOCK_DESCRIPTION = "req_description"
REQ_BLOCK_PRIORITY = "req_priority"
REQ_BLOCK_ACCEPTANCE = "req_acceptance"
REQ_CHANGES_MODAL = "req_changes_modal"
REQ_BLOCK_COMMENT = "req_comment"
REQ_EDIT = "req_edit"
REQ_SEND = "req_send"
REQ_DEFER = "req_defer"
REQ_DROP = "req_drop"
REQ_DONE = "req_done"
REQ_CONFIRM = "req_confirm"
REQ_REQUEST_CHANGES = "req_request_changes"
REQ_LIST_PAGE = "req_list_page"  # the pager appends ":prev" / ":next"
REQ_ITEM_BLOCK = "req_item"  # actions block_id prefix: "req_item:<id>:<where the item is shown>"




# --- Change requests and milestones (/change, /milestone) --------------------------------
# (issue 4 adds its ids here)
# /change: the request modal, the team's assessment, the client's decision, the list.
CHANGE_MODAL = "change_modal"
CHANGE_BLOCK_TITLE = "cr_title"
CHANGE_BLOCK_DESCRIPTION = "cr_description"
CHANGE_BLOCK_REASON = "cr_reason"
CHANGE_BLOCK_REQUIREMENTS = "cr_requirements"
CHANGE_BLOCK_MILESTONES = "cr_milestones"
CHANGE_ASSESS = "change_assess"
CHANGE_ASSESS_MODAL = "change_assess_modal"
CHANGE_BLOCK_SCHEDULE = "cr_schedule_days"
CHANGE_BLOCK_EFFORT = "cr_effort_hours"
CHANGE_BLOCK_COST_AMOUNT = "cr_cost_amount"
CHANGE_BLOCK_COST_CURRENCY = "cr_cost_currency"
CHANGE_BLOCK_SHARE_COST = "cr_share_cost"
CHANGE_BLOCK_RECOMMENDATION = "cr_recommendation"
CHANGE_SHARE_COST_OPTION = "share_cost_with_client"
CHANGE_APPROVE = "change_approve"
CHANGE_REJECT = "change_reject"
CHANGE_REJECT_MODAL = "change_reject_modal"
CHANGE_BLOCK_REJECT_REASON = "cr_reject_reason"
CHANGE_IMPLEMENTED = "change_implemented"
CHANGE_WITHDRAW = "change_withdraw"
CHANGE_LIST_PAGE = "change_list_page"

# /milestone: the create modal, the update modal (and its picker), the list.
MILESTONE_MODAL = "milestone_modal"
MILESTONE_EDIT_MODAL = "milestone_edit_modal"
MILESTONE_PICK_MODAL = "milestone_pick_modal"
MILESTONE_BLOCK_NAME = "ms_name"
MILESTONE_BLOCK_DUE = "ms_due_date"
MILESTONE_BLOCK_PROGRESS = "ms_progress"
MILESTONE_BLOCK_DESCRIPTION = "ms_description"
MILESTONE_BLOCK_DONE = "ms_done"
MILESTONE_BLOCK_PICK = "ms_pick"
MILESTONE_DONE_OPTION = "done"
MILESTONE_EDIT = "milestone_edit"
MILESTONE_LIST_PAGE = "milestone_list_page"




# --- Risks and feedback (/risk, /feedback) ---------------------------------------------
# (issue 5 adds its ids here)
# /risk modal, list and buttons
RISK_MODAL = "risk_modal"
RISK_BLOCK_TITLE = "risk_title"
RISK_BLOCK_DESCRIPTION = "risk_description"
RISK_BLOCK_PROBABILITY = "risk_probability"
RISK_BLOCK_IMPACT = "risk_impact"
RISK_BLOCK_OWNER = "risk_owner"
RISK_BLOCK_MITIGATION = "risk_mitigation"
RISK_BLOCK_REVIEW = "risk_review"
RISK_BLOCK_VISIBILITY = "risk_visibility"
RISK_BLOCK_MILESTONE = "risk_milestone"
RISK_REVIEW_MODAL = "risk_review_modal"
RISK_ADD_DETAILS = "risk_add_details"
RISK_EDIT = "risk_edit"
RISK_MITIGATED = "risk_mitigated"
RISK_OCCURRED = "risk_occurred"
RISK_CLOSED = "risk_closed"
RISK_REOPEN = "risk_reopen"
RISK_SET_REVIEW = "risk_set_review"
RISK_LIST_PAGE = "risk_list_page"  # + ":prev" / ":next"
RISK_ITEM_BLOCK = "risk_item"  # + ":<page>:<risk id>"
# /feedback: the satisfaction prompt, the modals, the PM's follow-up
FEEDBACK_SCORE = "feedback_score"  # + ":<1-5>", one action_id per button; the value says "<prompt>:<score>"
FEEDBACK_COMMENT = "feedback_comment"
FEEDBACK_PROMPT_BLOCK = "feedback_prompt"  # + ":<prompt id>"
FEEDBACK_COMMENT_MODAL = "feedback_comment_modal"
FEEDBACK_BLOCK_SCORE = "feedback_score_input"
FEEDBACK_BLOCK_COMMENT = "feedback_comment_input"
FEEDBACK_MODAL = "feedback_modal"
FEEDBACK_BLOCK_KIND = "feedback_kind"
FEEDBACK_BLOCK_TEXT = "feedback_text"
FEEDBACK_POST_ANYWAY = "feedback_post_anyway"
FEEDBACK_RESOLVE = "feedback_resolve"
FEEDBACK_RESOLVE_MODAL = "feedback_resolve_modal"
FEEDBACK_BLOCK_NOTE = "feedback_note"
FEEDBACK_LIST_PAGE = "feedback_list_page"  # + ":prev" / ":next"


def feedback_score_action(score: int) -> str:
    """The action_id of one score button (unique within the prompt's actions block)."""
    return f"{FEEDBACK_SCORE}:{score}"


def feedback_score_value(prompt_id: int | None, score: int) -> str:
    return f"{prompt_id}:{score}"


def parse_feedback_score_value(value: object) -> tuple[int | None, str]:
    """(prompt id, the score as sent) from a score button's value; the id is None when it is
    missing or tampered with (the score is checked by the domain)."""
    head, sep, tail = value.partition(":") if isinstance(value, str) else ("", "", "")
    ok = sep and head.isascii() and head.isdigit() and len(head) <= 10 and 0 < int(head) < 2**31
    return (int(head) if ok else None), tail


def feedback_prompt_block(prompt_id: int | None) -> str:
    return f"{FEEDBACK_PROMPT_BLOCK}:{prompt_id}"




# --- Digest, reminders, App Home (/digest) ---------------------------------------------
DIGEST_POST_NOW = "digest_post_now"
DIGEST_ADD_NOTE = "digest_add_note"
DIGEST_SKIP = "digest_skip"
DIGEST_NOTE_MODAL = "digest_note_modal"
DIGEST_NOTE_BLOCK = "note"
DIGEST_SEND_CONFIRM = "digest_send_confirm"  # a team member's "post it" after `/digest send`
DIGEST_SEND_CANCEL = "digest_send_cancel"
REMINDER_SNOOZE = "reminder_snooze"
HOME_REFRESH = "home_refresh"


def week_value(project_id: int, week: str) -> str:
    """The value of a button about one project's digest of one week: `12:2026-W47`."""
    return f"{project_id}:{week}"


_week_key_pattern = re.compile(r"^(\d{4})-W(\d{2})$", re.ASCII)


def parse_week(text: object) -> str | None:
    """An ISO week key ("2026-W47") from untrusted input, or None."""
    match = _week_key_pattern.match(text) if isinstance(text, str) else None
    if match is None or not 2000 <= int(match.group(1)) <= 2999:
        return None
    try:
        date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        return None
    return text


def parse_week_value(value: object) -> tuple[int, str] | None:
    """(project id, week) from a digest button's value; None when it is tampered with."""
    if not isinstance(value, str):
        return None
    head, _, tail = value.partition(":")
    week = parse_week(tail)
    if not (head.isascii() and head.isdigit()) or len(head) > 10 or not 0 < int(head) < 2**31 or week is None:
        return None
    return int(head), week


# --- Client items (/client) (issue 15) ---------------------------------------------------
CLIENT_MODAL = "client_modal"
CLIENT_BLOCK_TITLE = "ci_title"
CLIENT_BLOCK_DETAILS = "ci_details"
CLIENT_BLOCK_OWNER = "ci_owner"
CLIENT_BLOCK_DUE = "ci_due_date"
CLIENT_BLOCK_MILESTONE = "ci_milestone"
CLIENT_EXTEND_MODAL = "client_extend_modal"
CLIENT_BLOCK_NEW_DUE = "ci_new_due_date"
CLIENT_BLOCK_NOTE = "ci_note"
CLIENT_DONE = "client_done"  # decision value: "<id>@<version>"
CLIENT_MORE_TIME = "client_more_time"
CLIENT_RECEIVED = "client_received"
CLIENT_CANCEL = "client_cancel"
CLIENT_LIST_PAGE = "client_list_page"  # + ":prev" / ":next"
CLIENT_ITEM_BLOCK = "client_item"  # actions block_id: "client_item:<id>:<where the item is shown>"
# --- Milestone acceptance (验收) ----------------------------------------------------------
ACC_REQUEST = "acc_request"  # team: *Request acceptance* on a done milestone (value: milestone id)
ACC_REQUEST_MODAL = "acc_request_modal"
ACC_BLOCK_DELIVERY = "acc_delivery"
ACC_BLOCK_LINK = "acc_link"
ACC_ACCEPT = "acc_accept"  # client: decision value "<acceptance id>@<version>"
ACC_REPORT_ISSUES = "acc_report_issues"  # client: opens the issues form (decision value)
ACC_ISSUES_MODAL = "acc_issues_modal"
ACC_BLOCK_ISSUES = "acc_issues"
ACC_EXPORT = "acc_export"  # team: the acceptance record as Markdown, by DM (value: milestone id)
ACC_ACTIONS_BLOCK = "acc_actions"  # + ":<milestone id>": a milestone's acceptance buttons
PROJECT_BLOCK_AUTO_ACCEPT = "auto_accept"  # the project form's auto-accept setting


# --- Decision buttons carry the version of what they showed ----------------------------------


def decision_value(record_id: int, version: int) -> str:
    """The value of a decision button (Confirm, Request changes, Approve, Reject …): `12@3`, the
    record and the version the button was drawn from. A click on an older version is refused."""
    return f"{record_id}@{version}"


def parse_decision_value(value: object) -> tuple[int, int | None] | None:
    """(record id, version) from a decision button's value; a bare id (buttons drawn before
    versions existed) has no version. None when the value is missing or tampered with."""
    if not isinstance(value, str):
        return None
    head, sep, tail = value.partition("@")
    if not (head.isascii() and head.isdigit()) or len(head) > 12 or int(head) <= 0:
        return None
    if not sep:
        return int(head), None
    if not (tail.isascii() and tail.isdigit()) or len(tail) > 9:
        return None
    return int(head), int(tail)


# --- Capture from the conversation (issue 14) -------------------------------------------------
# Message shortcuts (manifest.yml `shortcuts`, type message): their callback ids.
CAPTURE_REQ_SHORTCUT = "capture_requirement"
CAPTURE_CHANGE_SHORTCUT = "capture_change_request"
CAPTURE_RISK_SHORTCUT = "capture_risk"
CAPTURE_FEEDBACK_SHORTCUT = "record_feedback"
# The kinds' own forms opened from a message: the same blocks, these callback ids (the
# submission keeps the message as the record's source).
CAPTURE_REQ_MODAL = "capture_req_modal"
CAPTURE_CHANGE_MODAL = "capture_change_modal"
CAPTURE_RISK_MODAL = "capture_risk_modal"
CAPTURE_FEEDBACK_MODAL = "capture_feedback_modal"
# The project form's field for the capture reaction.
PROJECT_BLOCK_CAPTURE_EMOJI = "capture_emoji"
# digest chart (issue 16): the block of the weekly digest that shows the week's chart (an image
# block; nothing is sent back from it, so it has no parser).
DIGEST_CHART_BLOCK = "digest-chart"
