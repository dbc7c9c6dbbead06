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




# --- Digest, reminders, App Home (/digest) ---------------------------------------------
DIGEST_POST_NOW = "digest_post_now"
DIGEST_ADD_NOTE = "digest_add_note"
DIGEST_SKIP = "digest_skip"
DIGEST_NOTE_MODAL = "digest_note_modal"
DIGEST_NOTE_BLOCK = "note"
REMINDER_SNOOZE = "reminder_snooze"
HOME_REFRESH = "home_refresh"
