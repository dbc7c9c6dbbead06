"""`/risk`: the risk register (team only) — capture, quick capture, list, edit, status, review.

Each listener parses the request, calls one use case of `bot.flows.risks` and renders what it
returns (or its refusal). What needs Slack is learned here, before the flow: who asks, their
channels (outside a conversation), and whether a chosen owner is a member of the workspace.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.blocks import ids
from bot.blocks.common import PROJECT_PICKER_BLOCK
from bot.blocks.pagination import page_state
from bot.blocks.risks import ACTION_TO_STATUS, VISIBILITY_WORDS, register_list, review_modal, risk_card, risk_modal
from bot.blocks.text import from_slack_text, mention, safe
from bot.deps import Deps
from bot.flows import risks as flow
from bot.flows.plan_scope import Refused
from bot.handlers.common import (
    action_value,
    as_id,
    deps_of,
    domain_message,
    first_action,
    message,
    metadata,
    selected_date,
    selected_user,
    selected_value,
    tell,
    text_value,
    view_values,
)
from bot.handlers.plan_common import inline, open_from_click, said, who_of
from bot.handlers.routes import Routes
from bot.i18n import person_language, t
from bot.models import RiskStatus, Visibility
from bot.slack.users import UserKind

FIELD_TO_BLOCK = {
    "title": ids.RISK_BLOCK_TITLE,
    "description": ids.RISK_BLOCK_DESCRIPTION,
    "probability": ids.RISK_BLOCK_PROBABILITY,
    "impact": ids.RISK_BLOCK_IMPACT,
    "owner": ids.RISK_BLOCK_OWNER,
    "mitigation": ids.RISK_BLOCK_MITIGATION,
    "review": ids.RISK_BLOCK_REVIEW,
    "visibility": ids.RISK_BLOCK_VISIBILITY,
    "milestone": ids.RISK_BLOCK_MILESTONE,
}
MARKED = {RiskStatus.open: "risk.marked_open", RiskStatus.mitigated: "risk.marked_mitigated",
          RiskStatus.occurred: "risk.marked_occurred", RiskStatus.closed: "risk.marked_closed"}


def risk_command(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    raw = (body.get("text") or "").strip()
    who = who_of(deps, body, reach=True)
    try:
        start = flow.start(deps, who, raw.lower().split(), from_slack_text(raw).strip())
    except Refused as refused:
        ack(said(refused))
        return
    lang = start.lang
    if start.page is not None:
        ack(_list_message(start.page, lang))
    elif start.captured is not None:
        title = safe(start.captured.title, 200)
        card = risk_card(start.captured, lang, today=start.today, details_button=True)
        ack(message(t("risk.captured", lang, title=title), [
            {"type": "section", "text": {"type": "mrkdwn", "text": t("risk.captured", lang, title=title)}}, *card]))
    elif start.form and start.today is not None:
        ack()
        project_id = start.project.id if start.project else None
        view = risk_modal(lang, metadata={"project_id": project_id, "origin_channel": who.channel_id},
                          owner=who.user_id, today=start.today, title=from_slack_text(raw).strip(),
                          milestones=start.milestones, projects=None if start.project else start.projects)
        deps.client.views_open(trigger_id=body["trigger_id"], view=view)
    else:
        ack(message(t("risk.help", lang)))


# --- The modal ------------------------------------------------------------------------------


def _submitted(values: dict[str, Any]) -> dict[str, Any]:
    """The fields the form sent back, named as its errors name them (absent blocks left out)."""
    def scale(block_id: str) -> int | None:
        value = as_id(selected_value(values, block_id))
        return value if value is not None and value < 10 else None

    read = {
        "title": lambda b: text_value(values, b), "description": lambda b: text_value(values, b),
        "probability": scale, "impact": scale, "owner": lambda b: selected_user(values, b),
        "mitigation": lambda b: text_value(values, b), "review": lambda b: selected_date(values, b),
        "visibility": lambda b: selected_value(values, b) or "internal",
        "milestone": lambda b: (as_id(selected_value(values, b)) or -1) if selected_value(values, b) else None,
    }
    return {name: read[name](block) for name, block in FIELD_TO_BLOCK.items() if block in values}


def _is_member(deps: Deps, user_id: str | None) -> bool:
    """A member of the installing workspace (not a guest, not another organisation's user)."""
    return bool(user_id) and deps.users.kind(deps.client, user_id, deps.workspace) == UserKind.team


def _named(deps: Deps, refused: Refused) -> Refused:
    """A conflict names the current value: the owner as Slack knows them, the visibility in words."""
    errors = getattr(refused.error, "errors", {})
    for name, (key, params) in list(errors.items()):
        value = params.get("value")
        if key != "risk.error_changed_meanwhile" or not isinstance(value, str):
            continue
        if name == "owner":
            info = deps.users.info(deps.client, value)
            errors[name] = (key, {"value": "@" + info.name if info else value})
        elif name == "visibility" and value in VISIBILITY_WORDS:
            errors[name] = (key, {"value": t(VISIBILITY_WORDS[Visibility(value)], refused.lang)})
    return refused


def submit_risk(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    meta, values = metadata(view), view_values(view)
    submitted = _submitted(values)
    who = who_of(deps, body, reach=PROJECT_PICKER_BLOCK in values)
    stamp = meta.get("stamp") if isinstance(meta.get("stamp"), dict) else None
    try:
        saved = flow.save(deps, who, project_id=as_id(meta.get("project_id")),
                          picked=as_id(selected_value(values, PROJECT_PICKER_BLOCK)),
                          risk_id=as_id(meta.get("risk_id")), submitted=submitted,
                          owner_is_member=_is_member(deps, submitted.get("owner")), stamp=stamp)
    except Refused as refused:
        first = PROJECT_PICKER_BLOCK if PROJECT_PICKER_BLOCK in values else ids.RISK_BLOCK_TITLE
        ack(inline(_named(deps, refused), FIELD_TO_BLOCK, first))
        return
    ack()
    text = t("risk.created" if saved.created else "risk.updated", saved.lang, title=safe(saved.risk.title, 200))
    card = risk_card(saved.risk, saved.lang, milestone=saved.milestone, today=saved.today)
    tell(deps, who.user_id, meta.get("origin_channel") or saved.project.client_channel_id, text,
         [{"type": "section", "text": {"type": "mrkdwn", "text": text}}, *card])


# --- Buttons --------------------------------------------------------------------------------


def open_edit(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """*Edit* in the list and *Add details* under a quick capture: the full modal, prefilled."""
    ack()
    open_from_click(body, context, respond, flow.open_form, lambda form, who: risk_modal(
        form.lang, metadata={"project_id": form.project.id, "risk_id": form.risk.id,
                             "origin_channel": who.channel_id, "stamp": form.stamp},
        owner=who.user_id, today=form.today, editing=form.risk, milestones=form.milestones))


def _status_ref(body: dict[str, Any]) -> tuple[int, str, int, bool] | None:
    """(risk id, the status the person saw, list page, closed shown) from a status button's JSON value."""
    try:
        data = json.loads(action_value(body) or "null")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    risk_id, seen, page = as_id(data.get("id")), data.get("from"), data.get("page", 1)
    if not (risk_id is not None and isinstance(seen, str) and isinstance(page, int) and not isinstance(page, bool)):
        return None
    return risk_id, seen, min(max(page, 1), 100_000), data.get("all") is True


def change_status(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    who = who_of(deps, body, reach=True)
    to = ACTION_TO_STATUS.get(first_action(body).get("action_id"))
    risk_id, seen, page, include_closed = _status_ref(body) or (None, None, 1, False)
    try:
        shown = flow.change_status(deps, who, risk_id=risk_id, to=to, seen=seen, page=page,
                                   include_closed=include_closed)
    except Refused as refused:
        respond(**said(refused), replace_original=False)
        return
    lang = person_language(who.locale, shown.project.language)  # the list is the clicker's alone
    notice = None
    if shown.moved is not None and to is not None:
        notice = t(MARKED[to], lang, title=safe(shown.moved.title, 200), user=mention(who.user_id))
    elif shown.problem is not None:
        notice = "⚠️ " + domain_message(shown.problem, lang)
    respond(**_list_message(shown, lang, notice), replace_original=True)


def open_review(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    open_from_click(body, context, respond, flow.open_review, lambda form, who: review_modal(
        form.risk, form.lang, today=form.today,
        metadata={"risk_id": form.risk.id, "origin_channel": who.channel_id, "stamp": form.stamp}))


def submit_review(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    deps = deps_of(context)
    meta = metadata(view)
    who = who_of(deps, body)
    stamp = meta.get("stamp") if isinstance(meta.get("stamp"), dict) else None
    try:
        saved = flow.set_review(deps, who, risk_id=as_id(meta.get("risk_id")), stamp=stamp,
                                review=selected_date(view_values(view), ids.RISK_BLOCK_REVIEW))
    except Refused as refused:
        ack(inline(refused, FIELD_TO_BLOCK, ids.RISK_BLOCK_REVIEW))
        return
    ack()
    risk = saved.risk
    text = t("risk.review_saved", saved.lang, title=safe(risk.title, 200),
             date=risk.next_review_date.isoformat() if risk.next_review_date else "")
    tell(deps, who.user_id, meta.get("origin_channel") or saved.project.client_channel_id, text)


def turn_page(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    deps = deps_of(context)
    state = page_state(action_value(body))
    who = who_of(deps, body, reach=True)
    try:
        shown = flow.list_page(deps, who, project_id=as_id(state.get("project")),
                               page=state["page"], include_closed=state.get("all") is True)
    except Refused as refused:
        respond(**said(refused), replace_original=False)
        return
    respond(**_list_message(shown, person_language(who.locale, shown.project.language)), replace_original=True)


def _list_message(page: flow.Page, lang: str, notice: str | None = None) -> dict[str, Any]:
    project = page.project
    blocks = register_list(project, page.items, total=page.total, page=page.page, per_page=flow.PER_PAGE, lang=lang,
                           today=page.today, milestones=page.milestones, include_closed=page.include_closed,
                           notice=notice)
    return message(t("risk.list_text", lang, name=safe(project.name, 200), count=page.total), blocks)


ROUTES = Routes(
    commands={"/risk": risk_command},
    views={ids.RISK_MODAL: submit_risk, ids.RISK_REVIEW_MODAL: submit_review},
    actions={ids.RISK_ADD_DETAILS: open_edit, ids.RISK_EDIT: open_edit, ids.RISK_SET_REVIEW: open_review,
             **dict.fromkeys(ACTION_TO_STATUS, change_status), ids.RISK_LIST_PAGE: turn_page},
)
