"""Which catalogue key names each domain value: every key spelled out in full, so that no key is
built from a value (a test can see that each one exists, and a search finds where it is used)."""

from __future__ import annotations

LANGUAGE_KEYS = {"en": "common.language_en", "zh-CN": "common.language_zh-CN"}
# Weekday and month names come from CLDR (bot/i18n/formatting.py: weekday_name, month_name); these
# keys are no catalogue entries but still resolve through `t` (computed from CLDR) for older callers.
WEEKDAY_KEYS = ("common.weekday_0", "common.weekday_1", "common.weekday_2", "common.weekday_3",
                "common.weekday_4", "common.weekday_5", "common.weekday_6")  # Monday = 0
WEEKDAY_SHORT_KEYS = ("common.weekday_short_0", "common.weekday_short_1", "common.weekday_short_2",
                      "common.weekday_short_3", "common.weekday_short_4", "common.weekday_short_5",
                      "common.weekday_short_6")

REQUIREMENT_STATUS_KEYS = {
    "proposed": "requirements.status_proposed", "changes_requested": "requirements.status_changes_requested",
    "confirmed": "requirements.status_confirmed", "deferred": "requirements.status_deferred",
    "dropped": "requirements.status_dropped", "done": "requirements.status_done",
}
PRIORITY_KEYS = {"must": "requirements.priority_must", "should": "requirements.priority_should",
                 "could": "requirements.priority_could", "wont": "requirements.priority_wont"}
REQUIREMENT_FILTER_KEYS = {"open": "requirements.filter_open", **{
    status: key.replace(".status_", ".filter_") for status, key in REQUIREMENT_STATUS_KEYS.items()}}

CHANGE_STATUS_KEYS = {
    "submitted": "changes.status_submitted", "assessed": "changes.status_assessed",
    "approved": "changes.status_approved", "rejected": "changes.status_rejected",
    "withdrawn": "changes.status_withdrawn", "implemented": "changes.status_implemented",
}

PROJECT_STATUS_KEYS = {"active": "project.status_active", "closed": "project.status_closed"}
CADENCE_KEYS = {0: "project.cadence_0", 1: "project.cadence_1", 2: "project.cadence_2", 4: "project.cadence_4"}

OVERALL_KEYS = {"on_track": "digest.status_on_track", "at_risk": "digest.status_at_risk", "late": "digest.status_late"}
MILESTONE_STATUS_KEYS = {"on_track": "digest.milestone_status_on_track", "at_risk": "digest.milestone_status_at_risk",
                         "late": "digest.milestone_status_late", "done": "digest.milestone_status_done"}
DECISION_KEYS = {"approved": "digest.decision_approved", "rejected": "digest.decision_rejected",
                 "implemented": "digest.decision_implemented"}
HOME_DECIDE_KEYS = {"requirement": "home.decide_requirement", "change": "home.decide_change"}
