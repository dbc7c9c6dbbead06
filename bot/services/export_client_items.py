"""Client items as Markdown or CSV (`/client export`), and the part of the change log export
(`pmbot export changes`) that lists them: what we needed from the client, from whom, by when,
every extension, and how each one ended. Nothing here knows Slack."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from bot.i18n import t
from bot.models import ClientItemExtension, Milestone, Project
from bot.services import calendar, client_items, csv_cells

COLUMN_KEYS = {
    "id": "client_items.export_col_id",
    "title": "client_items.export_col_title",
    "status": "client_items.export_col_status",
    "owner": "client_items.export_col_owner",
    "due_date": "client_items.export_col_due_date",
    "milestone": "client_items.export_col_milestone",
    "details": "client_items.export_col_details",
    "created_by": "client_items.export_col_created_by",
    "created_at": "client_items.export_col_created_at",
    "closed": "client_items.export_col_closed",
    "closed_by": "client_items.export_col_closed_by",
    "closed_at": "client_items.export_col_closed_at",
    "extensions": "client_items.export_col_extensions",
}
COLUMNS = list(COLUMN_KEYS)
STATUS_KEYS = {"open": "client_items.status_open", "done": "client_items.status_done",
               "cancelled": "client_items.status_cancelled"}
HOW_KEYS = {"done": "client_items.how_done", "received": "client_items.how_received",
            "cancelled": "client_items.how_cancelled"}


def _extension_text(ext: ClientItemExtension) -> str:
    text = f"{ext.old_due_date.isoformat()} → {ext.new_due_date.isoformat()} ({ext.by_user_id}"
    text += ", on behalf of the client)" if ext.on_behalf else ")"
    return text + (f": {ext.note}" if ext.note else "")


def rows(session: Session, project: Project) -> list[dict[str, str]]:
    """One row per item, oldest first, in the project's language."""
    lang = project.language
    items = client_items.all_of(session, project.id or 0)
    exts = client_items.extensions(session, [i.id or 0 for i in items])
    ms_ids = {i.milestone_id for i in items if i.milestone_id}
    names = {m.id: m.name for m in session.exec(select(Milestone).where(col(Milestone.id).in_(ms_ids)))} \
        if ms_ids else {}
    out = []
    for item in items:
        out.append({
            "id": client_items.ref(item),
            "title": item.title,
            "status": t(STATUS_KEYS.get(item.status, "client_items.status_open"), lang),
            "owner": item.owner_user_id,
            "due_date": item.due_date.isoformat(),
            "milestone": names.get(item.milestone_id, "") if item.milestone_id else "",
            "details": item.details,
            "created_by": item.created_by,
            "created_at": calendar.local_text(project, item.created_at),
            "closed": t(HOW_KEYS[item.closed_how], lang) if item.closed_how in HOW_KEYS else "",
            "closed_by": (item.closed_by or "") + (" (on behalf of the client)" if item.closed_on_behalf else ""),
            "closed_at": calendar.local_text(project, item.closed_at),
            "extensions": "; ".join(_extension_text(e) for e in exts.get(item.id or 0, [])),
        })
    return out


def _md(text: str) -> str:
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def markdown_section(session: Session, project: Project, *, level: int = 2) -> list[str]:
    """The items as Markdown lines: a table, then each item's details (the change log's part)."""
    lang = project.language
    found = rows(session, project)
    lines = [f"{'#' * level} {t('client_items.export_section', lang)}", ""]
    if not found:
        return [*lines, t("client_items.export_empty", lang), ""]
    summary = ["id", "title", "status", "owner", "due_date", "milestone", "closed_at"]
    lines.append("| " + " | ".join(t(COLUMN_KEYS[c], lang) for c in summary) + " |")
    lines.append("|" + "---|" * len(summary))
    lines += ["| " + " | ".join(_md(r[c]) or " " for c in summary) + " |" for r in found]
    lines.append("")
    for r in found:
        lines += [f"{'#' * (level + 1)} {r['id']} · {_md(r['title'])}", ""]
        lines += [f"- **{t(COLUMN_KEYS[c], lang)}:** {_md(r[c])}" for c in COLUMNS if c not in ("id", "title") and r[c]]
        lines.append("")
    return lines


def render(session: Session, project: Project, fmt: str, *, today: date | None = None) -> str:
    """The project's client items in `fmt` ("md" or "csv")."""
    lang = project.language
    if fmt == "csv":
        return csv_cells.write([t(COLUMN_KEYS[c], lang) for c in COLUMNS],
                               ([r[c] for c in COLUMNS] for r in rows(session, project)))
    if fmt == "md":
        head = [f"# {t('client_items.export_title', lang, name=_md(project.name))}", ""]
        if today:
            head += [t("client_items.export_generated", lang, date=today.isoformat()), ""]
        return "\n".join(head + markdown_section(session, project)[2:])
    raise ValueError(f"unknown export format {fmt!r}")


def change_log_rows(session: Session, project: Project, columns: list[str]) -> list[dict[str, str]]:
    """The items as rows of the change log CSV (`pmbot export changes --format csv`): each in the
    change log's columns, id `CI-n`, the extensions as its plan change."""
    out = []
    for r in rows(session, project):
        row = dict.fromkeys(columns, "")
        row.update({k: v for k, v in {
            "id": r["id"], "title": r["title"], "status": r["status"], "requested_by": r["created_by"],
            "requested_at": r["created_at"], "description": r["details"], "decision": r["closed"],
            "decided_by": r["closed_by"], "decided_at": r["closed_at"], "milestones": r["milestone"],
            "plan_change": r["extensions"], "reason": t("client_items.export_reason", project.language,
                                                         owner=r["owner"], due=r["due_date"]),
        }.items() if k in row})
        out.append(row)
    return out
