"""Views and messages of milestone acceptance (验收): the request form, the delivery posted to the
client channel (a live message: Accept / Report issues while it awaits, the outcome after), the
issues form, the team's notices, a milestone's acceptance line and buttons in `/milestone list`,
the digest's "Accepted this week" and the App Home's part.

Plain values in, dicts out. Accept and Report issues carry `ids.decision_value(id, version)`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.blocks import ids
from bot.blocks.common import form_modal, record_button
from bot.blocks.common import input_block as _input
from bot.blocks.text import (
    BUTTON_TEXT,
    CONTEXT_TEXT,
    HEADER_TEXT,
    PLACEHOLDER,
    mention,
    mrkdwn,
    plain_text,
    safe,
)
from bot.i18n import format_date, t
from bot.models import (
    DELIVERY_LINK_MAX,
    DELIVERY_MAX,
    Acceptance,
    AcceptanceIssue,
    AcceptanceStatus,
    Milestone,
    Project,
)
from bot.reports.wording import local, zone

S = AcceptanceStatus
STATUS_KEYS = {
    S.requested: "acceptance.status_requested",
    S.accepted: "acceptance.status_accepted",
    S.issues_reported: "acceptance.status_issues_reported",
}
STATUS_EMOJI = {S.requested: ":hourglass_flowing_sand:", S.accepted: ":handshake:", S.issues_reported: ":warning:"}
ISSUES_SHOWN = 10


def status_label(status: str, lang: str) -> str:
    return t(STATUS_KEYS[status], lang) if status in STATUS_KEYS else status


def _who(user_id: str | None, on_behalf: bool, lang: str) -> str:
    who = mention(user_id)
    return t("permissions.on_behalf", lang, user=who) if on_behalf else who


def _link(acc: Acceptance) -> str:
    """A link the team gave, as Slack shows it (checked to be http(s) and free of <>| on input)."""
    return f"<{acc.link.replace('&', '&amp;')}>" if acc.link else ""


def _issue_lines(issues: list[AcceptanceIssue], *, limit: int = ISSUES_SHOWN, resolved_mark: bool = False) -> str:
    lines = [("~" + safe(i.text, 300) + "~" if resolved_mark and i.resolved_at else "• " + safe(i.text, 300))
             for i in issues[:limit]]
    if len(issues) > limit:
        lines.append(f"… +{len(issues) - limit}")
    return "\n".join(lines)


# Buttons ------------------------------------------------------------------------------------


def request_button(milestone: Milestone, lang: str, *, again: bool = False) -> dict[str, Any]:
    key = "acceptance.button_request_again" if again else "acceptance.button_request"
    return {"type": "button", "action_id": ids.ACC_REQUEST, "value": str(milestone.id), "style": "primary",
            "text": plain_text(t(key, lang), BUTTON_TEXT)}


def export_button(milestone: Milestone, lang: str) -> dict[str, Any]:
    return {"type": "button", "action_id": ids.ACC_EXPORT, "value": str(milestone.id),
            "text": plain_text(t("acceptance.button_export", lang), BUTTON_TEXT)}


def decision_buttons(acc: Acceptance, lang: str) -> list[dict[str, Any]]:
    """Accept / Report issues, for the version they are drawn from."""
    return [record_button(ids.ACC_ACCEPT, t("acceptance.button_accept", lang), acc.id, acc.version, decision=True,
                          style="primary"),
            record_button(ids.ACC_REPORT_ISSUES, t("acceptance.button_report", lang), acc.id, acc.version,
                          decision=True)]


def actions_block_id(milestone_id: int | None) -> str:
    return f"{ids.ACC_ACTIONS_BLOCK}:{milestone_id}"


# In /milestone list and after *Mark done* -----------------------------------------------------


def status_line(acc: Acceptance | None, project: Project, lang: str, *, open_issues: int = 0) -> str | None:
    """"Acceptance: accepted by @chris on 2026-11-20 15:00" and the like (None: never requested)."""
    if acc is None:
        return None
    when = local(acc.decided_at or acc.requested_at, project.timezone)
    if acc.status == S.accepted and acc.auto_accepted:
        text = t("acceptance.line_auto_accepted", lang, when=when)
    elif acc.status == S.accepted:
        text = t("acceptance.line_accepted", lang, user=_who(acc.decided_by, acc.decided_on_behalf, lang), when=when)
    elif acc.status == S.issues_reported:
        text = t("acceptance.line_issues", lang, user=_who(acc.decided_by, acc.decided_on_behalf, lang), when=when,
                 count=open_issues)
    else:
        text = t("acceptance.line_requested", lang, user=mention(acc.requested_by),
                 when=local(acc.requested_at, project.timezone))
    return f"{STATUS_EMOJI.get(acc.status, '')} {text}"


def milestone_extras(milestone: Milestone, acc: Acceptance | None, open_issues: list[AcceptanceIssue],
                     project: Project, lang: str, *, can_act: bool) -> tuple[str | None, dict[str, Any] | None]:
    """What `/milestone list` adds to a milestone: its acceptance line (with the open issues)
    and, for the team, *Request acceptance* (again) and the record's export."""
    line = status_line(acc, project, lang, open_issues=len(open_issues))
    if line and acc is not None and acc.status == S.issues_reported and open_issues:
        line += "\n" + _issue_lines(open_issues, limit=5)
    buttons: list[dict[str, Any]] = []
    if can_act and milestone.done and project.status == "active" and (acc is None or acc.status == S.issues_reported):
        buttons.append(request_button(milestone, lang, again=acc is not None))
    if can_act and acc is not None:
        buttons.append(export_button(milestone, lang))
    block = {"type": "actions", "block_id": actions_block_id(milestone.id), "elements": buttons} if buttons else None
    return line, block


def after_done_blocks(milestone: Milestone, text: str, lang: str) -> list[dict[str, Any]]:
    """The note after *Mark done*, with *Request acceptance*."""
    return [{"type": "section", "text": mrkdwn(text)},
            {"type": "actions", "block_id": actions_block_id(milestone.id),
             "elements": [request_button(milestone, lang)]}]


# Forms --------------------------------------------------------------------------------------


def request_modal(lang: str, *, milestone: Milestone, metadata: dict[str, Any], again: bool,
                  open_issues: list[AcceptanceIssue], auto_days: int) -> dict[str, Any]:
    """What was delivered and an optional link; asking again, the issues it fixes are listed."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(t("acceptance.form_intro", lang, name=safe(milestone.name, 300)))}]
    if again and open_issues:
        blocks.append({"type": "section", "text": mrkdwn(
            t("acceptance.form_fixes", lang) + "\n" + _issue_lines(open_issues))})
    blocks += [
        _input(ids.ACC_BLOCK_DELIVERY, t("acceptance.label_delivery", lang),
               {"type": "plain_text_input", "multiline": True, "max_length": DELIVERY_MAX,
                "placeholder": plain_text(t("acceptance.placeholder_delivery", lang), PLACEHOLDER)}),
        _input(ids.ACC_BLOCK_LINK, t("acceptance.label_link", lang),
               {"type": "plain_text_input", "max_length": DELIVERY_LINK_MAX,
                "placeholder": plain_text("https://…", PLACEHOLDER)}, optional=True),
    ]
    if auto_days > 0:
        blocks.append({"type": "context", "elements": [mrkdwn(t("acceptance.form_auto", lang, days=auto_days))]})
    return form_modal(ids.ACC_REQUEST_MODAL, t("acceptance.form_title", lang), lang, blocks, metadata,
                      submit=t("acceptance.form_submit", lang))


def issues_modal(lang: str, *, milestone: Milestone, metadata: dict[str, Any]) -> dict[str, Any]:
    """*Report issues*: what is wrong, one per line (required)."""
    blocks = [
        {"type": "section", "text": mrkdwn(t("acceptance.issues_intro", lang, name=safe(milestone.name, 300)))},
        _input(ids.ACC_BLOCK_ISSUES, t("acceptance.label_issues", lang),
               {"type": "plain_text_input", "multiline": True, "max_length": 3000,
                "placeholder": plain_text(t("acceptance.placeholder_issues", lang), PLACEHOLDER)},
               hint=t("acceptance.hint_issues", lang)),
    ]
    return form_modal(ids.ACC_ISSUES_MODAL, t("acceptance.issues_title", lang), lang, blocks, metadata,
                      submit=t("acceptance.issues_submit", lang))


# The delivery in the client channel (live) ----------------------------------------------------


def request_message(acc: Acceptance, milestone: Milestone, project: Project, issues: list[AcceptanceIssue], *,
                    auto_at: datetime | None) -> dict[str, Any]:
    """The delivery, in the project's language. While it awaits the client it carries Accept /
    Report issues; once answered the same message shows who answered, when, and the issues."""
    lang = project.language
    name = safe(milestone.name, 300)
    awaiting = acc.status == S.requested
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text(t("acceptance.heading" if awaiting else "acceptance.heading_closed",
                                                lang), HEADER_TEXT)},
        {"type": "section", "text": mrkdwn(t("acceptance.delivery_of", lang, name=name) + "\n"
                                           + safe(acc.delivery, 2500))},
    ]
    if acc.link:
        blocks.append({"type": "section", "text": mrkdwn(t("acceptance.field_link", lang, link=_link(acc)))})
    sent = t("acceptance.sent_by", lang, user=mention(acc.requested_by), when=local(acc.requested_at,
                                                                                   project.timezone))
    if acc.round > 1:
        sent += " · " + t("acceptance.round", lang, n=acc.round)
    blocks.append({"type": "context", "elements": [mrkdwn(sent, CONTEXT_TEXT)]})
    if awaiting:
        ask = t("acceptance.ask", lang, approvers=", ".join(mention(u) for u in project.client_approver_ids)
                or t("acceptance.ask_client", lang))
        if auto_at is not None:
            ask += " " + t("acceptance.auto_hint", lang, date=format_date(auto_at.astimezone(
                _zone(project)).date(), lang))
        blocks.append({"type": "context", "elements": [mrkdwn(ask, CONTEXT_TEXT)]})
        blocks.append({"type": "actions", "block_id": f"{ids.ACC_ACTIONS_BLOCK}:{milestone.id}:request",
                       "elements": decision_buttons(acc, lang)})
        text = t("acceptance.text", lang, name=name)
    else:
        outcome = status_line(acc, project, lang, open_issues=len(issues)) or ""
        this_round = [i for i in issues if i.round == acc.round]
        if acc.status == S.issues_reported and this_round:
            outcome += "\n" + _issue_lines(this_round)
        blocks.append({"type": "section", "text": mrkdwn(outcome)})
        text = t("acceptance.text_closed", lang, name=name, status=status_label(acc.status, lang))
    return {"text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def _zone(project: Project):
    return zone(project.timezone)


def notice_message(acc: Acceptance, milestone: Milestone, project: Project,
                   issues: list[AcceptanceIssue]) -> dict[str, Any]:
    """The team is told of the client's answer (internal channel)."""
    lang = project.language
    name = safe(milestone.name, 300)
    who = _who(acc.decided_by, acc.decided_on_behalf, lang)
    if acc.status == S.accepted:
        text = (t("acceptance.notice_auto_accepted", lang, name=name, days=project.auto_accept_after_days)
                if acc.auto_accepted else t("acceptance.notice_accepted", lang, name=name, user=who))
        return {"text": text, "blocks": [{"type": "section", "text": mrkdwn(text)}]}
    this_round = [i for i in issues if i.round == acc.round]
    text = t("acceptance.notice_issues", lang, name=name, user=who, count=len(this_round))
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(text + "\n" + _issue_lines(this_round))},
                                    {"type": "actions", "block_id": actions_block_id(milestone.id),
                                     "elements": [request_button(milestone, lang, again=True)]}]
    return {"text": text, "blocks": blocks}


def auto_notice_message(milestone: Milestone, project: Project, when: datetime) -> dict[str, Any]:
    """In the request's thread, one working day before: it will be accepted automatically."""
    lang = project.language
    text = t("acceptance.auto_tomorrow", lang, name=safe(milestone.name, 300),
             date=format_date(when.astimezone(_zone(project)).date(), lang), days=project.auto_accept_after_days)
    return {"text": text, "blocks": [{"type": "section", "text": mrkdwn(text)}]}


# Answers to the person who acted ----------------------------------------------------------------

NOTES = {"request": "acceptance.you_requested", "accept": "acceptance.you_accepted",
         "report_issues": "acceptance.you_reported"}
NOTES_ON_BEHALF = {"accept": "acceptance.you_accepted_on_behalf",
                   "report_issues": "acceptance.you_reported_on_behalf"}


def outcome_note(done: str, milestone: Milestone, project: Project, *, on_behalf: bool = False,
                 send_error: str | None = None, lang: str | None = None) -> str:
    """What the person who acted is told, in the reader's `lang` (the project's by default)."""
    lang = lang or project.language
    name = safe(milestone.name, 300)
    if done == "request" and send_error:
        return t("acceptance.send_failed", lang, name=name, error=safe(send_error, 100))
    key = NOTES_ON_BEHALF[done] if on_behalf and done in NOTES_ON_BEHALF else NOTES[done]
    return t(key, lang, name=name, channel=f"<#{project.client_channel_id}>")


def current_message(acc: Acceptance, milestone: Milestone, project: Project, issues: list[AcceptanceIssue],
                    note: str, *, auto_at: datetime | None) -> dict[str, Any]:
    """A refused or outdated decision: why, then the request as it stands now (its buttons
    for the current version, when it still awaits an answer)."""
    current = request_message(acc, milestone, project, issues, auto_at=auto_at)
    return {"text": note, "blocks": [{"type": "context", "elements": [mrkdwn(note, CONTEXT_TEXT)]},
                                     *current["blocks"]]}


# Digest and App Home --------------------------------------------------------------------------


def digest_blocks(accepted: list[tuple[Acceptance, Milestone]], awaiting: list[tuple[Acceptance, Milestone]],
                  project: Project, *, internal: bool) -> list[dict[str, Any]]:
    """"Accepted this week", and the deliveries awaiting the client's acceptance (with Accept /
    Report issues in the client's digest). Nothing when there is neither."""
    lang = project.language
    if not accepted and not awaiting:
        return []
    blocks: list[dict[str, Any]] = [{"type": "divider"}]
    if accepted:
        lines = [t("acceptance.digest_accepted_line", lang, name=safe(m.name, 150),
                   date=format_date(a.decided_at.astimezone(_zone(project)).date(), lang) if a.decided_at else "")
                 for a, m in accepted[:10]]
        blocks.append({"type": "section", "text": mrkdwn(t("acceptance.digest_accepted_title", lang) + "\n"
                                                         + "\n".join(lines))})
    if awaiting:
        title = "acceptance.digest_awaiting_title_internal" if internal else "acceptance.digest_awaiting_title"
        blocks.append({"type": "section", "text": mrkdwn(t(title, lang))})
        for a, m in awaiting[:5]:
            blocks.append({"type": "section", "text": mrkdwn(t(
                "acceptance.digest_awaiting_line", lang, name=safe(m.name, 150),
                since=format_date(a.requested_at.astimezone(_zone(project)).date(), lang)))})
            if not internal:
                blocks.append({"type": "actions", "block_id": f"{ids.ACC_ACTIONS_BLOCK}:{m.id}:digest",
                               "elements": decision_buttons(a, lang)})
    return blocks


def home_blocks(accepted: list[tuple[Acceptance, Milestone]], awaiting: list[tuple[Acceptance, Milestone]],
                project: Project, lang: str, *, can_decide: bool) -> list[dict[str, Any]]:
    """A project's acceptances on the App Home: what was accepted this week, and (for the
    client's deciders) the deliveries waiting on them, with their buttons."""
    blocks: list[dict[str, Any]] = []
    if accepted:
        names = ", ".join(safe(m.name, 100) for _, m in accepted[:5])
        blocks.append({"type": "context", "elements": [mrkdwn(t("acceptance.home_accepted", lang, names=names))]})
    if can_decide:
        for a, m in awaiting[:5]:
            blocks.append({"type": "section", "text": mrkdwn(t("acceptance.home_decide", lang,
                                                               name=safe(m.name, 150)))})
            blocks.append({"type": "actions", "block_id": f"{ids.ACC_ACTIONS_BLOCK}:{m.id}:home",
                           "elements": decision_buttons(a, project.language)})
    return blocks
