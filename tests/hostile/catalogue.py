"""Every action_id and callback_id of the bot, with the values its buttons carry for real items
of the test world (so generated payloads reach deep into the handlers, not only the parsers)."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks import ids
from bot.i18n import t
from tests.hostile.world import Items

LIST_PAGES = [ids.REQ_LIST_PAGE, ids.CHANGE_LIST_PAGE, ids.MILESTONE_LIST_PAGE, ids.RISK_LIST_PAGE,
              ids.FEEDBACK_LIST_PAGE, ids.CLIENT_LIST_PAGE]
CLIENT_ITEM_ACTIONS = [ids.CLIENT_DONE, ids.CLIENT_MORE_TIME, ids.CLIENT_RECEIVED, ids.CLIENT_CANCEL]  # issue 15
RISK_STATUS_ACTIONS = [ids.RISK_MITIGATED, ids.RISK_OCCURRED, ids.RISK_CLOSED, ids.RISK_REOPEN]

ACTIONS: list[str] = [
    ids.INTAKE_NEW_REQUIREMENT, ids.INTAKE_CHANGE_REQUEST, ids.INTAKE_GIVE_FEEDBACK, ids.PROJECT_CLOSE_CONFIRM,
    ids.REQ_EDIT, ids.REQ_SEND, ids.REQ_DEFER, ids.REQ_DROP, ids.REQ_DONE, ids.REQ_CONFIRM, ids.REQ_REQUEST_CHANGES,
    ids.CHANGE_ASSESS, ids.CHANGE_APPROVE, ids.CHANGE_REJECT, ids.CHANGE_IMPLEMENTED, ids.CHANGE_WITHDRAW,
    ids.MILESTONE_EDIT,
    ids.RISK_ADD_DETAILS, ids.RISK_EDIT, ids.RISK_SET_REVIEW, *RISK_STATUS_ACTIONS,
    *[f"{ids.FEEDBACK_SCORE}:{n}" for n in range(1, 6)], ids.FEEDBACK_COMMENT, ids.FEEDBACK_POST_ANYWAY,
    ids.FEEDBACK_RESOLVE,
    ids.DIGEST_POST_NOW, ids.DIGEST_ADD_NOTE, ids.DIGEST_SKIP, ids.DIGEST_SEND_CONFIRM, ids.DIGEST_SEND_CANCEL,
    ids.REMINDER_SNOOZE, ids.HOME_REFRESH,
    *CLIENT_ITEM_ACTIONS,
    *[f"{page}:{way}" for page in LIST_PAGES for way in ("prev", "next")],
    # Milestone acceptance
    ids.ACC_REQUEST, ids.ACC_ACCEPT, ids.ACC_REPORT_ISSUES, ids.ACC_EXPORT,
]

# Action ids one handler serves alike are tried together (each example picks one of them), so
# the suite stays fast; every action_id is in exactly one group.
SAME_HANDLER = [{ids.REQ_DEFER, ids.REQ_DROP, ids.REQ_DONE}, {ids.RISK_ADD_DETAILS, ids.RISK_EDIT},
                set(RISK_STATUS_ACTIONS), {ids.CLIENT_DONE, ids.CLIENT_RECEIVED, ids.CLIENT_CANCEL}]


def _group(action_ids: list[str]) -> list[tuple[str, ...]]:
    def key(action_id: str) -> str:
        same = next((g for g in SAME_HANDLER if action_id in g), None)
        return min(same) if same else action_id.split(":")[0]  # feedback_score:N, <list>_page:prev/next

    groups: dict[str, tuple[str, ...]] = {}
    for action_id in action_ids:
        groups[key(action_id)] = (*groups.get(key(action_id), ()), action_id)
    return list(groups.values())


ACTION_GROUPS = _group(ACTIONS)

CALLBACKS: list[str] = [
    ids.PROJECT_MODAL, ids.REQ_MODAL, ids.REQ_CHANGES_MODAL, ids.CHANGE_MODAL, ids.CHANGE_ASSESS_MODAL,
    ids.CHANGE_REJECT_MODAL, ids.MILESTONE_MODAL, ids.MILESTONE_EDIT_MODAL, ids.MILESTONE_PICK_MODAL, ids.RISK_MODAL,
    ids.RISK_REVIEW_MODAL, ids.FEEDBACK_COMMENT_MODAL, ids.FEEDBACK_MODAL, ids.FEEDBACK_RESOLVE_MODAL,
    ids.DIGEST_NOTE_MODAL,
    ids.CLIENT_MODAL, ids.CLIENT_EXTEND_MODAL,
    ids.ACC_REQUEST_MODAL, ids.ACC_ISSUES_MODAL,  # milestone acceptance
    # capture from the conversation (issue 14): the kinds' forms opened from a message
    ids.CAPTURE_REQ_MODAL, ids.CAPTURE_CHANGE_MODAL, ids.CAPTURE_RISK_MODAL, ids.CAPTURE_FEEDBACK_MODAL,
    ids.PROJECT_CLOSE_MODAL,  # reports (issue 16)
]

# Message shortcuts (callback ids of `message_action` payloads; issue 14).
SHORTCUTS: list[str] = [ids.CAPTURE_REQ_SHORTCUT, ids.CAPTURE_CHANGE_SHORTCUT, ids.CAPTURE_RISK_SHORTCUT,
                        ids.CAPTURE_FEEDBACK_SHORTCUT]
# Events the bot acts on (beyond app_home_opened).
EVENTS: list[str] = ["reaction_added"]

# Names in ids.py that are neither an action_id nor a callback_id (block ids, option values,
# prefixes) — so a test can prove the two lists above name every id there is.
NOT_ACTIONS = {"VALUE", "PROJECT_TZ_ACTION", "CHANGE_SHARE_COST_OPTION", "MILESTONE_DONE_OPTION", "REQ_ITEM_BLOCK",
               "RISK_ITEM_BLOCK", "FEEDBACK_PROMPT_BLOCK", "DIGEST_NOTE_BLOCK", "FEEDBACK_SCORE",
               "PROJECT_PICKER_BLOCK", "CLIENT_ITEM_BLOCK",
               # public-holiday calendars (issue 17): the calendar picker's options, its "none" value
               "PROJECT_CALENDAR_ACTION", "CALENDAR_NONE", "ACC_ACTIONS_BLOCK", "DIGEST_CHART_BLOCK", *[
                   n for n in dir(ids) if "_BLOCK_" in n]}


def element_type(action_id: str) -> str:
    return "overflow" if action_id == ids.REMINDER_SNOOZE else "button"


def valid_values(action_id: str, i: Items) -> list[Any]:
    """Values the bot's own buttons carry for the items of one project."""
    base = action_id.split(":")[0]
    req = [str(v) for v in i.req.values()]
    cr = [str(v) for v in i.cr.values()]
    if base in (ids.INTAKE_NEW_REQUIREMENT, ids.INTAKE_CHANGE_REQUEST, ids.INTAKE_GIVE_FEEDBACK,
                ids.PROJECT_CLOSE_CONFIRM):
        return [str(i.project)]
    if base in (ids.REQ_EDIT, ids.REQ_SEND, ids.REQ_DEFER, ids.REQ_DROP, ids.REQ_DONE, ids.REQ_CONFIRM,
                ids.REQ_REQUEST_CHANGES):
        return req
    if base in (ids.CHANGE_ASSESS, ids.CHANGE_APPROVE, ids.CHANGE_REJECT, ids.CHANGE_IMPLEMENTED,
                ids.CHANGE_WITHDRAW):
        return cr
    if base == ids.MILESTONE_EDIT:
        return [str(v) for v in i.milestone.values()]
    if base in (ids.RISK_ADD_DETAILS, ids.RISK_EDIT, ids.RISK_SET_REVIEW):
        return [str(v) for v in i.risk.values()]
    if base in RISK_STATUS_ACTIONS:
        return [json.dumps({"id": v, "from": s, "page": 1, "all": a}) for s, v in i.risk.items()
                for a in (False, True)]
    if base == ids.FEEDBACK_SCORE:
        return [f"{i.prompt}:{action_id.split(':')[1]}", *[f"{i.prompt}:{n}" for n in range(0, 7)]]
    if base == ids.FEEDBACK_COMMENT:
        return [str(i.prompt)]
    if base == ids.FEEDBACK_POST_ANYWAY:
        return [json.dumps({"project": i.project, "after": i.prompt, "question": "How was this week?"}),
                json.dumps({"project": i.project, "after": None, "question": ""})]
    if base == ids.FEEDBACK_RESOLVE:
        return [str(i.follow_up)]
    if base in (ids.DIGEST_POST_NOW, ids.DIGEST_ADD_NOTE, ids.DIGEST_SKIP, ids.DIGEST_SEND_CONFIRM,
                ids.DIGEST_SEND_CANCEL):
        return [f"{i.project}:{i.week}"]
    if base == ids.REMINDER_SNOOZE:
        return [f"risk_review:{i.risk['open']}|1d", f"follow_up:{i.follow_up}|7d"]
    if base in (ids.ACC_REQUEST, ids.ACC_EXPORT):  # milestone acceptance
        return [str(v) for v in (i.milestone["done"], i.milestone["open"], *i.acc_milestone.values())]
    if base in (ids.ACC_ACCEPT, ids.ACC_REPORT_ISSUES):
        return [ids.decision_value(v, n) for v in i.acc.values() for n in (1, 2, 3)] + [str(v) for v in i.acc.values()]
    if base == ids.HOME_REFRESH:
        return ["refresh"]
    if base == ids.REQ_LIST_PAGE:
        return [json.dumps({"s": s, "page": p}) for s in ("", "open", "proposed") for p in (1, 2)]
    if base == ids.CHANGE_LIST_PAGE:
        return [json.dumps({"p": i.project, "s": s, "page": p}) for s in (None, "assessed") for p in (1, 2)]
    if base == ids.MILESTONE_LIST_PAGE:
        return [json.dumps({"p": i.project, "page": p}) for p in (1, 2)]
    if base == ids.RISK_LIST_PAGE:
        return [json.dumps({"project": i.project, "page": p, "all": a}) for p in (1, 2) for a in (False, True)]
    if base == ids.FEEDBACK_LIST_PAGE:
        return [json.dumps({"project": i.project, "page": p}) for p in (1, 2)]
    if base in CLIENT_ITEM_ACTIONS:
        return [f"{v}@{n}" for v in i.client_item.values() for n in (1, 2)] + [str(v) for v in i.client_item.values()]
    if base == ids.CLIENT_LIST_PAGE:
        return [json.dumps({"s": s, "page": p}) for s in ("open", "all", "x") for p in (1, 2)]
    raise KeyError(action_id)


def block_ids(action_id: str, i: Items) -> list[str]:
    """The block_id the bot gives the button's block (some handlers read it)."""
    if action_id.startswith("req_"):
        return [f"{ids.REQ_ITEM_BLOCK}:{v}:{where}" for v in i.req.values()
                for where in ("item", "confirm", "notice", "list:open:1", "list::2")]
    if action_id in CLIENT_ITEM_ACTIONS:
        return [f"{ids.CLIENT_ITEM_BLOCK}:{v}:{where}" for v in i.client_item.values()
                for where in ("item", "post", "digest", "list:open:1", "list:all:2")]
    if action_id.startswith(ids.FEEDBACK_SCORE) or action_id == ids.FEEDBACK_COMMENT:
        return [f"{ids.FEEDBACK_PROMPT_BLOCK}:{i.prompt}"]
    return ["b"]


# Answers that refuse: after one of these, nothing may have changed.
REFUSAL_KEYS = ["common.refused_team_only", "common.not_found", "permissions.not_an_approver", "digest.not_pm",
                "feedback.only_clients", "common.no_project_here", "common.no_projects_for_you",
                "client_items.refused_client_side"]
REFUSALS = {t(key, lang) for key in REFUSAL_KEYS for lang in ("en", "zh-CN")}
