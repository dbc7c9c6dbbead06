"""Every action_id, callback_id and block_id, named once."""

from __future__ import annotations

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

# The client intake message (its buttons open the modals of later features).
INTAKE_NEW_REQUIREMENT = "intake_new_requirement"
INTAKE_CHANGE_REQUEST = "intake_change_request"
INTAKE_GIVE_FEEDBACK = "intake_give_feedback"

# Generic input element id inside every input block (the block_id names the field).
VALUE = "value"


# --- Requirements (/req) ---------------------------------------------------------------
# (issue 3 adds its ids here)




# --- Change requests and milestones (/change, /milestone) --------------------------------
# (issue 4 adds its ids here)




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




# --- Digest, reminders, App Home (/digest) ---------------------------------------------
# (issue 6 adds its ids here)
