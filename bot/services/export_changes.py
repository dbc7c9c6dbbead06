"""The change log of a project, as Markdown or CSV (`pmbot export changes`, `/change list export`).

Its wording is shared with the Slack views of change requests (bot/reports/change_wording.py).
Nothing here knows Slack; who a user is comes in as a function.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from bot.i18n import t
from bot.models import Milestone, Project
from bot.reports.change_wording import decision_moves, hours, local_time, money, status_label
from bot.services import capture, changes, csv_cells

# The export --------------------------------------------------------------------------------

# Each column and the catalogue key of its heading.
COLUMN_KEYS = {
    "id": "changes.export_col_id",
    "title": "changes.export_col_title",
    "status": "changes.export_col_status",
    "requested_by": "changes.export_col_requested_by",
    "requested_at": "changes.export_col_requested_at",
    "by_client": "changes.export_col_by_client",
    "description": "changes.export_col_description",
    "reason": "changes.export_col_reason",
    "schedule_impact_days": "changes.export_col_schedule_impact_days",
    "effort_hours": "changes.export_col_effort_hours",
    "cost": "changes.export_col_cost",
    "cost_shared": "changes.export_col_cost_shared",
    "recommendation": "changes.export_col_recommendation",
    "assessed_by": "changes.export_col_assessed_by",
    "assessed_at": "changes.export_col_assessed_at",
    "decision": "changes.export_col_decision",
    "decided_by": "changes.export_col_decided_by",
    "decided_at": "changes.export_col_decided_at",
    "on_behalf_of_client": "changes.export_col_on_behalf_of_client",
    "decision_reason": "changes.export_col_decision_reason",
    "milestones": "changes.export_col_milestones",
    "requirements": "changes.export_col_requirements",
    "plan_change": "changes.export_col_plan_change",
    "source": "capture.export_col_source",  # captured from a message (issue 14)
}
COLUMNS = list(COLUMN_KEYS)


def _rows(session: Session, project: Project, lang: str, include_internal: bool) -> list[dict[str, str]]:
    assert project.id is not None
    crs = changes.all_for_project(session, project.id)
    ids = [c.id for c in crs if c.id is not None]
    ms, reqs = changes.affected(session, ids)
    logs = changes.history(session, ids)
    names = _milestone_names(ms)
    yes, no = t("common.yes", lang), t("common.no", lang)
    out = []
    for cr in crs:
        assert cr.id is not None
        show_cost = changes.cost_visible(cr, to_client=not include_internal)
        decided = cr.status in ("approved", "rejected", "implemented")
        moves = decision_moves(logs.get(cr.id, []))
        out.append({
            "id": f"CR-{cr.id}",
            "title": cr.title,
            "status": status_label(cr.status, lang),
            "requested_by": cr.requested_by,
            "requested_at": local_time(cr.created_at, project),
            "by_client": yes if cr.requested_by_client else no,
            "description": cr.description,
            "reason": cr.reason,
            "schedule_impact_days": "" if cr.schedule_impact_days is None else f"{cr.schedule_impact_days:+d}",
            "effort_hours": hours(cr.effort_hours),
            "cost": money(cr.cost_amount, cr.cost_currency, lang) if show_cost else "",
            "cost_shared": (yes if cr.share_cost_with_client else no) if show_cost else "",
            "recommendation": cr.recommendation or "",
            "assessed_by": cr.assessed_by or "",
            "assessed_at": local_time(cr.assessed_at, project),
            "decision": status_label("approved" if cr.status == "implemented" else cr.status, lang) if decided else "",
            "decided_by": cr.decided_by or "",
            "decided_at": local_time(cr.decided_at, project),
            "on_behalf_of_client": (yes if cr.decided_on_behalf else no) if cr.decided_by else "",
            "decision_reason": cr.decision_reason or "",
            "milestones": "; ".join(m.name for m in ms.get(cr.id, [])),
            "requirements": "; ".join(f"#{r.id} {r.title}" for r in reqs.get(cr.id, [])),
            "plan_change": "; ".join(
                f"{names.get(int(m.get('milestone_id') or 0), '#' + str(m.get('milestone_id')))}: "
                f"{m.get('from')} → {m.get('to')}" for m in moves),
            "source": capture.source_text(cr),
        })
    return out


def _milestone_names(ms: dict[int, list[Milestone]]) -> dict[int, str]:
    return {m.id: m.name for group in ms.values() for m in group if m.id is not None}


def render_csv(rows: list[dict[str, str]], lang: str) -> str:
    return csv_cells.write([t(COLUMN_KEYS[c], lang) for c in COLUMNS],
                           ([row[c] for c in COLUMNS] for row in rows))


def _md(text: str) -> str:
    """Typed text made safe for one Markdown table cell or list item."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def render_markdown(session: Session, project: Project, rows: list[dict[str, str]], lang: str,
                    today: date | None) -> str:
    lines = [f"# {t('changes.export_title', lang, name=_md(project.name))}", ""]
    if today:
        lines += [t("changes.export_generated", lang, date=today.isoformat()), ""]
    if not rows:
        lines.append(t("changes.export_empty", lang))
        return "\n".join(lines) + "\n"
    summary = ["id", "title", "status", "schedule_impact_days", "effort_hours", "cost", "decided_by", "decided_at"]
    lines.append("| " + " | ".join(t(COLUMN_KEYS[c], lang) for c in summary) + " |")
    lines.append("|" + "---|" * len(summary))
    for row in rows:
        lines.append("| " + " | ".join(_md(row[c]) or " " for c in summary) + " |")
    lines.append("")
    details = [c for c in COLUMNS if c not in ("id", "title")]
    for row in rows:
        lines += [f"## {row['id']} · {_md(row['title'])}", ""]
        for c in details:
            if row[c]:
                lines.append(f"- **{t(COLUMN_KEYS[c], lang)}:** {_md(row[c])}")
        lines.append("")
    return "\n".join(lines)


def render(session: Session, project: Project, fmt: str, *, include_internal: bool = True,
           today: date | None = None) -> str:
    """The project's change log in `fmt` ("md" or "csv"), in the project's language.

    `include_internal=False` leaves out costs the PM did not share with the client."""
    lang = project.language
    rows = _rows(session, project, lang, include_internal)
    from bot.services import export_client_items  # client items are part of the change log (issue 15)

    if fmt == "csv":
        return render_csv(rows + export_client_items.change_log_rows(session, project, COLUMNS), lang)
    if fmt == "md":
        return render_markdown(session, project, rows, lang, today) + "\n" + "\n".join(
            export_client_items.markdown_section(session, project))
    raise ValueError(f"unknown export format {fmt!r}")
