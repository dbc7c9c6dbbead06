"""The close-out report as a Markdown document (`pmbot export closeout`).

The same facts as the Slack report (`services.reports.closeout`), in full: a document has no
Block Kit limits, so nothing is cut. User text is neutralised for Markdown like the other
exports (`md_inline`, `md_block`).
"""

from __future__ import annotations

from sqlmodel import Session

from bot.i18n import t
from bot.i18n.formatting import format_currency as money
from bot.i18n.formatting import format_list
from bot.models import Project
from bot.reports.wording import days_text, hours_text, slip_text
from bot.services import reports
from bot.services.export_requirements import md_block, md_inline

FORMATS = ("md",)


def _cell(text: str) -> str:
    return md_inline(text).replace("|", "\\|")


def _items(items: list[reports.ItemLine], lang: str) -> list[str]:
    return [f"- {md_inline(i.ref)} {md_inline(i.title)}" for i in items] or [t("reports.doc_none", lang)]


def render_markdown(facts: reports.CloseoutFacts) -> str:
    lang = facts.language
    out = [f"# {t('reports.doc_title', lang, name=md_inline(facts.project_name))}", ""]
    if facts.client_name:
        out.append(t("reports.doc_client", lang, client=md_inline(facts.client_name)) + "  ")
    out.append(t("reports.doc_period", lang, started=facts.started.isoformat(),
                 closed=facts.closed.isoformat() if facts.closed else "–") + "  ")
    if facts.closed_by:
        out.append(t("reports.doc_closed_by", lang, user=md_inline(facts.closed_by)))
    out += ["", f"## {t('reports.doc_requirements', lang)}", "",
            t("reports.requirements_summary", lang, delivered=len(facts.delivered), deferred=len(facts.deferred),
              dropped=len(facts.dropped), open=len(facts.not_delivered)), ""]
    for key, items in (("reports.doc_delivered", facts.delivered), ("reports.doc_deferred", facts.deferred),
                       ("reports.doc_dropped", facts.dropped), ("reports.doc_not_delivered", facts.not_delivered)):
        heading = t("reports.doc_group", lang, title=t(key, lang), count=len(items))
        out += [f"### {heading}", "", *_items(items, lang), ""]

    out += [f"## {t('reports.doc_changes', lang)}", ""]
    total = t("reports.doc_changes_total", lang, count=len(facts.changes), days=days_text(facts.impact.days, lang),
              hours=hours_text(facts.impact.hours))
    if facts.impact.cost:
        total += t("reports.doc_cost", lang, cost=format_list(
            [md_inline(money(v, k, lang)) for k, v in sorted(facts.impact.cost.items())], lang))
    out += [total, ""]
    for c in facts.changes:
        impact = t("reports.impact", lang, days=days_text(c.days, lang), hours=hours_text(c.hours))
        if c.cost is not None:
            impact += t("reports.impact_cost", lang, cost=md_inline(money(c.cost, c.currency, lang)))
        out.append("- " + t("reports.change_line", lang, id=c.id, title=md_inline(c.title), impact=impact))
    out += ["", f"## {t('reports.doc_milestones', lang)}", ""]
    if facts.milestones:
        out += [t("reports.doc_milestone_head", lang), "| --- | --- | --- | --- | --- |"]
        out += [f"| {_cell(m.name)} | {m.planned.isoformat()} | {m.due.isoformat()} | "
                f"{m.actual.isoformat() if m.actual else '–'} | {slip_text(m, lang)} |" for m in facts.milestones]
    else:
        out.append(t("reports.no_milestones", lang))
    out += ["", f"## {t('reports.doc_trend', lang)}", ""]
    if facts.prompts:
        out.append(t("reports.doc_average", lang, average="–" if facts.average is None else f"{facts.average:.1f}",
                     count=len(facts.prompts)))
        out.append("")
        out += ["- " + (t("reports.prompt_line", lang,
                          day=p.day.isoformat(), question=md_inline(p.question),
                          average="–" if p.average is None else f"{p.average:.1f}", answers=p.answers)
                        if p.answers else t("reports.prompt_line_no_answer", lang, day=p.day.isoformat(),
                                            question=md_inline(p.question))) for p in facts.prompts]
    else:
        out.append(t("reports.no_prompts_ever", lang))
    out += ["", f"## {t('reports.doc_open', lang)}", ""]
    lines = ["- " + t("reports.doc_follow_up", lang, ref=md_inline(f.ref), what=md_inline(f.extra),
                      comment=md_inline(f.title) or "–") for f in facts.follow_ups]
    lines += ["- " + t("reports.doc_client_item", lang, ref=md_inline(i.ref), title=md_inline(i.title),
                       due=md_inline(i.extra) or "–") for i in facts.client_items]
    out += lines or [t("reports.doc_none", lang)]
    out += ["", f"## {t('reports.doc_retro', lang)}", "", f"### {t('reports.doc_went_well', lang)}", "",
            md_block(facts.went_well) if facts.went_well else t("reports.doc_none", lang), "",
            f"### {t('reports.doc_to_improve', lang)}", "",
            md_block(facts.to_improve) if facts.to_improve else t("reports.doc_none", lang), ""]
    return "\n".join(out)


def render(session: Session, project: Project, fmt: str = "md") -> str:
    if fmt != "md":
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return render_markdown(reports.closeout(session, project))
