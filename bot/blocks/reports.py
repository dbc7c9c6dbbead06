"""The monthly report (client and internal versions) and the close-out report; the close form.

Pure builders: the facts of `bot.services.reports` in, Block Kit out. The client version of the
monthly report never shows cost. Whatever the number of items, a message stays within Block
Kit's limits: every list shows at most `LIST_LIMIT` lines and then "…and N more", every text is
escaped and cut to its field, and the number of blocks does not grow with the data.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from bot.blocks import ids
from bot.blocks.common import form_modal, input_block
from bot.blocks.feedback import sparkline
from bot.blocks.format import money
from bot.blocks.text import CONTEXT_TEXT, HEADER_TEXT, SECTION_TEXT, mention, mrkdwn, plain_text, safe
from bot.i18n import format_date, t
from bot.i18n.formatting import format_list
from bot.reports.report_facts import ChangeLine, CloseoutFacts, Impact, ItemLine, MilestoneLine, MonthlyFacts
from bot.reports.wording import days_text, hours_text, slip_text

LIST_LIMIT = 5  # lines per list before "…and N more"
TITLE_LIMIT = 150
RETRO_LIMIT = 2900


# Shared pieces ----------------------------------------------------------------------------------


def capped(lines: list[str], lang: str, limit: int = LIST_LIMIT) -> str:
    """Bulleted lines, at most `limit` of them, then "…and N more"; cut to a section's limit
    on whole lines."""
    shown = [f"• {line}" for line in lines[:limit]]
    hidden = len(lines) - len(shown)
    while shown and len("\n".join(shown)) > SECTION_TEXT - 80:
        shown.pop()
        hidden += 1
    if hidden:
        shown.append(t("reports.and_more", lang, count=hidden))
    return "\n".join(shown)


def _section(title: str, body: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(f"*{title}*\n{body}" if body else f"*{title}*")}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(text, CONTEXT_TEXT)]}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain_text(text, HEADER_TEXT)}


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"






def cost_text(cost: dict[str, Decimal], lang: str) -> str:
    """Each currency's total as CLDR writes it (`€4,800.00`), joined as a list."""
    return format_list([safe(money(amount, currency, lang), 40) for currency, amount in sorted(cost.items())], lang)


def change_line(c: ChangeLine, lang: str, *, internal: bool) -> str:
    impact = t("reports.impact", lang, days=days_text(c.days, lang), hours=hours_text(c.hours))
    if internal and c.cost is not None:
        impact += t("reports.impact_cost", lang, cost=safe(money(c.cost, c.currency, lang), 40))
    return t("reports.change_line", lang, id=c.id, title=safe(c.title, TITLE_LIMIT), impact=impact)


def impact_total(impact: Impact, count: int, lang: str, *, internal: bool) -> str:
    text = t("reports.changes_total", lang, count=count, days=days_text(impact.days, lang),
             hours=hours_text(impact.hours))
    if internal and impact.cost:
        text += t("reports.impact_cost", lang, cost=cost_text(impact.cost, lang))
    return text




def milestone_line(m: MilestoneLine, lang: str) -> str:
    actual = t("reports.actual_done", lang, date=format_date(m.actual, lang)) if m.actual \
        else t("reports.actual_late" if m.late else "reports.actual_open", lang)
    return t("reports.milestone_line", lang, name=safe(m.name, TITLE_LIMIT), planned=format_date(m.planned, lang),
             due=format_date(m.due, lang), actual=actual, slip=slip_text(m, lang))


def item_line(item: ItemLine) -> str:
    return f"{safe(item.ref, 20)} {safe(item.title, TITLE_LIMIT)}".strip()


def trend_arrow(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    return "↑" if now > before + 0.05 else "↓" if now < before - 0.05 else "→"


def _prompt_lines(prompts: list, lang: str) -> list[str]:
    return [t("reports.prompt_line", lang,
              day=format_date(p.day, lang), question=safe(p.question, TITLE_LIMIT),
              average=_number(p.average), answers=p.answers) if p.answers
            else t("reports.prompt_line_no_answer", lang, day=format_date(p.day, lang),
                   question=safe(p.question, TITLE_LIMIT)) for p in prompts]


def _month_label(first: date, lang: str) -> str:
    return t("reports.month_label", lang, year=first.year, month=first.month)


# The monthly report -----------------------------------------------------------------------------


def monthly_message(facts: MonthlyFacts, *, internal: bool) -> dict[str, Any]:
    """The month in trends; `internal` adds what only the team sees (cost)."""
    lang = facts.language
    month = _month_label(facts.first, lang)
    header = t("reports.monthly_header_internal" if internal else "reports.monthly_header", lang,
               name=facts.project_name, month=month)
    blocks: list[dict[str, Any]] = [
        _header(header),
        _context(t("reports.monthly_period", lang, first=format_date(facts.first, lang),
                   last=format_date(facts.last, lang))),
    ]
    # Satisfaction per prompt, and the month against the one before.
    body = capped(_prompt_lines(facts.prompts, lang), lang) if facts.prompts else t("reports.no_prompts", lang)
    if facts.average is not None:
        body += "\n" + t("reports.average_line", lang, average=_number(facts.average),
                         trend=trend_arrow(facts.average, facts.previous_average),
                         previous=_number(facts.previous_average))
    blocks.append(_section(t("reports.title_satisfaction", lang), body))
    # Change requests approved, with their total impact.
    if facts.changes:
        body = impact_total(facts.impact, len(facts.changes), lang, internal=internal) + "\n" + capped(
            [change_line(c, lang, internal=internal) for c in facts.changes], lang)
    else:
        body = t("reports.no_changes", lang)
    blocks.append(_section(t("reports.title_changes", lang), body))
    # Milestone slips: planned against actual.
    body = capped([milestone_line(m, lang) for m in facts.slips], lang) if facts.slips \
        else t("reports.no_slips", lang)
    blocks.append(_section(t("reports.title_milestones_month", lang), body))
    # Requirements raised against confirmed.
    body = t("reports.requirements_month", lang, raised=len(facts.raised), confirmed=len(facts.confirmed),
             previous_raised=facts.previous_raised, previous_confirmed=facts.previous_confirmed)
    blocks.append(_section(t("reports.title_requirements", lang), body))
    if facts.raised:
        blocks.append(_section(t("reports.raised_title", lang, count=len(facts.raised)),
                               capped([item_line(i) for i in facts.raised], lang)))
    if facts.confirmed:
        blocks.append(_section(t("reports.confirmed_title", lang, count=len(facts.confirmed)),
                               capped([item_line(i) for i in facts.confirmed], lang)))
    blocks.append(_context(t("reports.internal_note" if internal else "reports.client_note", lang)))
    text = t("reports.monthly_header_internal" if internal else "reports.monthly_header", lang,
             name=safe(facts.project_name, 80), month=month)
    return {"text": text, "blocks": blocks}


# The close-out report ---------------------------------------------------------------------------


def closeout_message(facts: CloseoutFacts) -> dict[str, Any]:
    """The close-out report for the team (internal channel, or the PM's DM)."""
    lang = facts.language
    header = t("reports.closeout_header", lang, name=facts.project_name)
    meta = t("reports.closeout_meta", lang, client=safe(facts.client_name or "–", 120),
             started=format_date(facts.started, lang),
             closed=format_date(facts.closed, lang) if facts.closed else "–")
    if facts.closed_by:
        meta += t("reports.closeout_closed_by", lang, user=mention(facts.closed_by))
    blocks: list[dict[str, Any]] = [_header(header), _context(meta)]

    # Requirements: delivered against deferred and dropped.
    blocks.append(_section(t("reports.title_requirements", lang), t(
        "reports.requirements_summary", lang, delivered=len(facts.delivered), deferred=len(facts.deferred),
        dropped=len(facts.dropped), open=len(facts.not_delivered))))
    for key, items in (("reports.delivered_title", facts.delivered), ("reports.deferred_title", facts.deferred),
                       ("reports.dropped_title", facts.dropped), ("reports.not_delivered_title", facts.not_delivered)):
        if items:
            blocks.append(_section(t(key, lang, count=len(items)), capped([item_line(i) for i in items], lang)))

    # Approved changes and their total impact (cost included: this report is internal).
    body = impact_total(facts.impact, len(facts.changes), lang, internal=True) + "\n" + capped(
        [change_line(c, lang, internal=True) for c in facts.changes], lang) if facts.changes \
        else t("reports.no_changes_ever", lang)
    blocks.append(_section(t("reports.title_changes_all", lang), body))

    # Each milestone's planned and actual dates.
    body = capped([milestone_line(m, lang) for m in facts.milestones], lang, limit=LIST_LIMIT * 2) \
        if facts.milestones else t("reports.no_milestones", lang)
    blocks.append(_section(t("reports.title_milestones_all", lang), body))

    # The satisfaction trend.
    if facts.prompts:
        trend = t("reports.trend_line", lang, spark=sparkline([p.average for p in facts.prompts[-20:]]),
                  average=_number(facts.average), count=len(facts.prompts))
        body = trend + "\n" + capped(_prompt_lines(facts.prompts[::-1], lang), lang)
    else:
        body = t("reports.no_prompts_ever", lang)
    blocks.append(_section(t("reports.title_trend", lang), body))

    # What is still open: follow-ups and client items.
    lines = [t("reports.follow_up_line", lang, ref=safe(f.ref, 20), what=safe(f.extra, 20),
               comment=safe(f.title, TITLE_LIMIT) or "–") for f in facts.follow_ups]
    lines += [t("reports.client_item_line", lang, ref=safe(i.ref, 20), title=safe(i.title, TITLE_LIMIT),
                due=format_date(i.day, lang) if i.day else safe(i.extra, 20) or "–") for i in facts.client_items]
    blocks.append(_section(t("reports.title_open", lang), capped(lines, lang) if lines
                           else t("reports.nothing_open", lang)))

    # The PM's retrospective note.
    well = safe(facts.went_well, RETRO_LIMIT) or t("reports.retro_none", lang)
    better = safe(facts.to_improve, RETRO_LIMIT) or t("reports.retro_none", lang)
    blocks.append(_section(t("reports.title_retro", lang), f"*{t('reports.label_went_well', lang)}*\n{well}"))
    blocks.append({"type": "section", "text": mrkdwn(f"*{t('reports.label_to_improve', lang)}*\n{better}")})
    blocks.append(_context(t("reports.closeout_footer", lang, name=safe(facts.project_name, 80))))
    return {"text": t("reports.closeout_header", lang, name=safe(facts.project_name, 80)), "blocks": blocks}


# The close form ---------------------------------------------------------------------------------


def close_modal(project_name: str, lang: str, *, where: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """`/project close`: the confirmation, with the PM's retrospective note (both parts optional)."""
    def area(placeholder_key: str) -> dict[str, Any]:
        return {"type": "plain_text_input", "multiline": True, "max_length": 2000,
                "placeholder": plain_text(t(placeholder_key, lang), 150)}

    blocks = [
        {"type": "section", "text": mrkdwn(t("reports.close_intro", lang, name=safe(project_name, 200), where=where))},
        input_block(ids.PROJECT_CLOSE_BLOCK_WENT_WELL, t("reports.label_went_well", lang),
                    area("reports.placeholder_went_well"), optional=True),
        input_block(ids.PROJECT_CLOSE_BLOCK_TO_IMPROVE, t("reports.label_to_improve", lang),
                    area("reports.placeholder_to_improve"), optional=True),
    ]
    return form_modal(ids.PROJECT_CLOSE_MODAL, t("reports.close_title", lang), lang, blocks, metadata,
                      submit=t("reports.close_submit", lang))
