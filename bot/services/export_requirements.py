"""The requirements document of a project: Markdown for people, CSV for spreadsheets and tools.

`render(session, project, fmt)` is what `pmbot export requirements` and `/req export` call.
Both group the requirements by priority (Must, Should, Could, Won't), oldest first within a
group, with status, who confirmed and when (in the project's time zone) and the acceptance
criteria.

Nothing is escaped except what each format needs: the CSV is written by `csv_cells` (quoted, and
every cell that a spreadsheet would run as a formula neutralised), and in the Markdown only what would otherwise
change the document's structure or render as something else (emphasis, links, raw HTML,
headings, fences) is backslash-escaped. Lists the users wrote in their text stay lists.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session

from bot.i18n import t
from bot.i18n.names import REQUIREMENT_STATUS_KEYS as STATUS_KEYS
from bot.models import Project, Requirement, RequirementStatus
from bot.reports.wording import local, ref
from bot.services import calendar, capture, csv_cells
from bot.services.requirements import PRIORITIES, all_of

CSV_COLUMNS = [
    "ref", "title", "priority", "status", "description", "acceptance_criteria",
    "raised_by", "raised_by_name", "raised_by_client", "created_at", "sent_for_confirmation_at",
    "decided_by", "decided_by_name", "decided_at", "decided_on_behalf_of_client", "change_comment",
    "source",  # captured from a message (issue 14): its permalink (or channel/ts) and author
]
FORMATS = ("md", "csv")

_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>])")
_LINE_START = re.compile(r"^(\s{0,3})(#|```|~~~)")
_RULE_LINE = re.compile(r"^\s{0,3}([-=*_])[\s\-=*_]*$")


def _iso(dt: datetime | None, timezone: str) -> str:
    return dt.astimezone(calendar.zone(timezone)).isoformat(timespec="seconds") if dt else ""


def md_inline(text: str) -> str:
    """Text inside a Markdown line (a title, a name): emphasis, code, links and HTML neutralised."""
    return _INLINE_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def md_block(text: str) -> str:
    """Multi-line user text kept as written (their lists stay lists), except what would break the
    document: raw HTML, headings, code fences and lines that Markdown reads as rules/underlines."""
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.replace("<", "\\<")
        if _RULE_LINE.match(line):
            stripped = line.lstrip()
            line = line[: len(line) - len(stripped)] + "\\" + stripped
        else:
            line = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), line)
        lines.append(line)
    return "\n".join(lines)


def _grouped(session: Session, project: Project) -> list[tuple[str, list[Requirement]]]:
    reqs = all_of(session, project.id) if project.id is not None else []
    return [(str(p), [r for r in reqs if r.priority == p]) for p in PRIORITIES]


def _name(user_id: str | None, names: dict[str, str] | None) -> str:
    if not user_id:
        return ""
    return (names or {}).get(user_id) or user_id


def _status_lines(req: Requirement, project: Project, lang: str, names: dict[str, str] | None) -> list[str]:
    tz = project.timezone
    who = md_inline(_name(req.decided_by, names))
    when = local(req.decided_at, tz)
    behalf = " " + t("requirements.doc_on_behalf", lang) if req.decided_on_behalf else ""
    lines = [t("requirements.doc_status", lang, status=t(STATUS_KEYS[req.status], lang))]
    if req.status in (RequirementStatus.confirmed, RequirementStatus.done) and req.decided_by:
        lines.append(t("requirements.doc_confirmed_by", lang, user=who, when=when) + behalf)
    elif req.status == RequirementStatus.changes_requested and req.decided_by:
        lines.append(t("requirements.doc_changes_by", lang, user=who, when=when) + behalf)
        lines.append(t("requirements.doc_change_comment", lang, comment=md_inline(req.change_comment or "")))
    elif req.status == RequirementStatus.proposed and req.sent_for_confirmation_at:
        lines.append(t("requirements.doc_awaiting", lang, when=local(req.sent_for_confirmation_at, tz)))
    raised_key = "requirements.doc_raised_by_client" if req.raised_by_client else "requirements.doc_raised_by"
    lines.append(t(raised_key, lang, user=md_inline(_name(req.raised_by, names)), when=local(req.created_at, tz)))
    if req.source_ts:  # captured from a message (issue 14)
        lines.append(t("capture.doc_source", lang, source=md_inline(capture.source_text(req, names))))
    return lines


def render_markdown(session: Session, project: Project, *, names: dict[str, str] | None = None,
                    now: datetime | None = None) -> str:
    lang = project.language
    groups = _grouped(session, project)
    total = sum(len(items) for _, items in groups)
    out = [f"# {t('requirements.doc_title', lang, name=md_inline(project.name))}", ""]
    facts = []
    if project.client_name:
        facts.append(t("requirements.doc_client", lang, client=md_inline(project.client_name)))
    if now is not None:
        facts.append(t("requirements.doc_exported", lang, when=local(now, project.timezone, with_zone=True, lang=lang)))
    facts.append(t("requirements.doc_count", lang, count=total))
    out += [" · ".join(facts), ""]
    for priority, items in groups:
        heading = t("format.with_count", lang, label=t(f"requirements.priority_{priority}", lang), count=len(items))
        out += [f"## {heading}", ""]
        if not items:
            out += [f"_{t('requirements.doc_none', lang)}_", ""]
            continue
        for req in items:
            out += [f"### {ref(req)} · {md_inline(req.title)}", ""]
            out += [f"- {line}" for line in _status_lines(req, project, lang, names)]
            out.append("")
            if req.description:
                out += [md_block(req.description), ""]
            out += [f"**{t('requirements.doc_acceptance', lang)}**", ""]
            out += [md_block(req.acceptance_criteria) if req.acceptance_criteria
                    else f"_{t('requirements.doc_none', lang)}_", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def render_csv(session: Session, project: Project, *, names: dict[str, str] | None = None) -> str:
    tz = project.timezone
    rows = [
        [ref(r), r.title, r.priority, r.status, r.description, r.acceptance_criteria,
         r.raised_by, (names or {}).get(r.raised_by, ""), "yes" if r.raised_by_client else "no",
         _iso(r.created_at, tz), _iso(r.sent_for_confirmation_at, tz),
         r.decided_by or "", (names or {}).get(r.decided_by or "", ""), _iso(r.decided_at, tz),
         ("yes" if r.decided_on_behalf else "no") if r.decided_by else "", r.change_comment or "",
         capture.source_text(r, names)]
        for _, items in _grouped(session, project) for r in items
    ]
    return csv_cells.write(CSV_COLUMNS, rows)


def render(session: Session, project: Project, fmt: str, *, names: dict[str, str] | None = None,
           now: datetime | None = None) -> str:
    """The document as text: `fmt` is "md" or "csv". `names` maps user ids to display names
    (the CLI has none and shows ids)."""
    if fmt == "md":
        return render_markdown(session, project, names=names, now=now)
    if fmt == "csv":
        return render_csv(session, project, names=names)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
