"""The acceptance record of one milestone, as Markdown, for invoicing: the delivery, who accepted
it and when (or that it was accepted automatically), the issues raised and when they were
resolved, and each step of the acceptance from the activity log. In the project's language;
times in its time zone; user text neutralised for Markdown."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.i18n import t
from bot.models import Acceptance, Milestone, Project
from bot.reports.wording import local
from bot.services import acceptance, activity
from bot.services.export_requirements import md_block, md_inline

STEP_KEYS = {
    "acceptance_requested": "acceptance.md_step_requested",
    "milestone_accepted": "acceptance.md_step_accepted",
    "acceptance_issues_reported": "acceptance.md_step_issues",
    "milestone_done": "acceptance.md_step_done",
}


def people_of(session: Session, milestone: Milestone, acc: Acceptance) -> set[str]:
    """Everyone the record names (to look their display names up)."""
    issues = acceptance.issues_of(session, acc.id or 0)
    found = {acc.requested_by, acc.decided_by, *(i.raised_by for i in issues), *(i.resolved_by for i in issues),
             *(e.actor_user_id for e in activity.history(session, "milestone", milestone.id or 0))}
    return {u for u in found if u and u != acceptance.BOT_ACTOR}


def render_record(session: Session, project: Project, milestone: Milestone, acc: Acceptance, *,
                  now: datetime, names: dict[str, str] | None = None) -> str:
    """`names`: display names by user id (a user without one is shown by id)."""
    lang, tz = project.language, project.timezone
    known = names or {}

    def _who(user_id: str | None, on_behalf: bool, lang: str) -> str:
        if not user_id:
            return "-"
        if user_id == acceptance.BOT_ACTOR:
            return t("acceptance.md_bot", lang)
        who = md_inline(known[user_id]) if user_id in known else f"@{user_id}"
        return t("permissions.on_behalf", lang, user=who) if on_behalf else who

    def _field(key: str, value: str) -> str:  # "项目：…" / "Project: …" (full-width in Chinese)
        return "- " + t("format.label_value", lang, label=t(key, lang), value=value)

    def _zoned(at: datetime | None) -> str:
        return local(at, tz, with_zone=True, lang=lang)

    status = t(f"acceptance.status_{acc.status}", lang)
    out = [
        f"# {t('acceptance.md_title', lang, name=md_inline(milestone.name))}",
        "",
        _field("acceptance.md_project", md_inline(project.name)
               + t("format.in_brackets", lang, text=md_inline(project.client_name or "-"))),
        _field("acceptance.md_milestone", f"{md_inline(milestone.name)} · "
               f"{t('acceptance.md_due', lang)} {milestone.due_date.isoformat()} · "
               f"{t('acceptance.md_done_at', lang)} {local(milestone.done_at, tz) or '-'}"),
        _field("acceptance.md_status", f"**{status}**"),
        _field("acceptance.md_requested", f"{_who(acc.requested_by, False, lang)}, "
               f"{_zoned(acc.requested_at)} · {t('acceptance.round', lang, n=acc.round)}"),
    ]
    if acc.status == "accepted":
        who = t("acceptance.md_auto", lang, days=project.auto_accept_after_days) if acc.auto_accepted else \
            _who(acc.decided_by, acc.decided_on_behalf, lang)
        out.append(_field("acceptance.md_accepted", f"{who}, {_zoned(acc.decided_at)}"))
    out += ["", f"## {t('acceptance.md_delivery', lang)}", "", md_block(acc.delivery)]
    if acc.link:
        out += ["", f"<{acc.link}>"]
    issues = acceptance.issues_of(session, acc.id or 0)
    out += ["", f"## {t('acceptance.md_issues', lang)}", ""]
    if not issues:
        out.append(t("acceptance.md_no_issues", lang))
    for i in issues:
        resolved = t("acceptance.md_resolved", lang, user=_who(i.resolved_by, False, lang),
                     when=local(i.resolved_at, tz)) if i.resolved_at else t("acceptance.md_open", lang)
        raised = t("acceptance.md_raised", lang, user=_who(i.raised_by, False, lang), when=local(i.raised_at, tz))
        out.append(f"- [{'x' if i.resolved_at else ' '}] {md_inline(i.text)} — {raised}"
                   f" · {resolved}{t('format.in_brackets', lang, text=t('acceptance.round', lang, n=i.round))}")
    out += ["", f"## {t('acceptance.md_log', lang)}", ""]
    for entry in activity.history(session, "milestone", milestone.id or 0):
        key = STEP_KEYS.get(entry.action)
        if key is None:
            continue
        who = _who(entry.actor_user_id, entry.on_behalf_of_client, lang)
        line = f"- {local(entry.created_at, tz)} · {t(key, lang)} · {who}"
        delivered = (entry.after or {}).get("delivery") if entry.action == "acceptance_requested" else None
        if isinstance(delivered, str) and delivered:
            line += f" — {md_inline(delivered)[:300]}"
        out.append(line)
    out += ["", f"_{t('acceptance.md_generated', lang, when=_zoned(now))}_", ""]
    return "\n".join(out)
