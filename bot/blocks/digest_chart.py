"""The weekly digest's chart: what it shows (a `ChartSpec` of plain values, drawn when it is
uploaded) and the image block that shows it in the digest.

The digest is queued before its chart is uploaded, so its image block names a placeholder
file; `with_chart_file` puts the uploaded file's id in (or takes the block out when there is
no chart to show) just before the digest is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.blocks import ids
from bot.blocks.format import week_number
from bot.blocks.text import escape, plain, plain_text
from bot.i18n import format_date, t
from bot.reports.charts import ChartSpec, MilestoneBar, TrendPoint, planned_progress

if TYPE_CHECKING:
    from bot.reports.facts import DigestFacts

CHART_FILE_PLACEHOLDER = "pmbot-digest-chart"  # stands for the file id until the chart is uploaded
CHART_BLOCK_ID = ids.DIGEST_CHART_BLOCK
ALT_TEXT = 2000
IMAGE_TITLE = 2000


def chart_spec(facts: DigestFacts) -> ChartSpec:
    """The digest's chart: its milestones against the straight-line plan, and the client's
    satisfaction over the last weeks. Only what the client digest shows anyway."""
    p = facts.project
    lang = p.language
    lines = sorted(facts.milestones, key=lambda m: (m.due_date, m.id))
    bars = tuple(MilestoneBar(name=m.name, progress=m.progress, planned=100 if m.status == "done"
                              else planned_progress(m, facts.today), done=m.status == "done") for m in lines)
    trend = tuple(TrendPoint(label=t("digest_names.chart_week", lang, week=w.monday.isocalendar().week),
                             average=w.average, count=w.count) for w in facts.satisfaction_trend)
    spec = ChartSpec(
        language=lang,
        title=t("digest_names.chart_title", lang, name=p.name, week=week_number(facts.week)),
        milestones_title=t("digest_names.chart_milestones_title", lang),
        progress_label=t("digest_names.chart_progress", lang),
        planned_label=t("digest_names.chart_planned", lang),
        satisfaction_title=t("digest_names.chart_satisfaction_title", lang),
        no_milestones=t("digest_names.chart_no_milestones", lang),
        no_feedback=t("digest_names.chart_no_feedback", lang),
        milestones=bars,
        trend=trend,
        filename=f"digest-{p.id}-{facts.week}.png",
    )
    return ChartSpec(**{**spec.__dict__, "alt_text": alt_text(spec, p.name)})


def alt_text(spec: ChartSpec, name: str) -> str:
    """The chart in words, for screen readers and for clients whose Slack does not show images."""
    lang = spec.language
    none = t("digest_names.chart_alt_none", lang)
    milestones = ", ".join(t("digest_names.chart_alt_milestone", lang, name=escape(m.name[:60]), progress=m.progress,
                             planned=m.planned) for m in spec.milestones[:8]) or none
    trend = ", ".join(f"{p.label} {p.average:.1f}" if p.average is not None
                      else f"{p.label} {t('digest_names.chart_alt_no_score', lang)}" for p in spec.trend) or none
    return plain(t("digest_names.chart_alt", lang, name=escape(name), milestones=milestones, trend=trend), ALT_TEXT)


def image_block(facts: DigestFacts) -> dict[str, Any]:
    """The chart's image block, naming the placeholder file until the chart is uploaded."""
    lang = facts.project.language
    spec = chart_spec(facts)
    title = f"{t('digest_names.chart_image_title', lang)} · {format_date(facts.week_monday, lang)}"
    return {"type": "image", "block_id": CHART_BLOCK_ID, "slack_file": {"id": CHART_FILE_PLACEHOLDER},
            "alt_text": spec.alt_text or "-", "title": plain_text(title, IMAGE_TITLE)}


def with_chart_file(payload: dict[str, Any], file_id: str | None) -> dict[str, Any]:
    """The digest as sent: its chart block shows `file_id`, or is left out when there is none."""
    blocks = []
    for block in payload.get("blocks") or []:
        if block.get("type") == "image" and (block.get("slack_file") or {}).get("id") == CHART_FILE_PLACEHOLDER:
            if not file_id:
                continue
            block = {**block, "slack_file": {"id": file_id}}
        blocks.append(block)
    return {**payload, "blocks": blocks}


def has_chart(payload: dict[str, Any]) -> bool:
    return any(b.get("type") == "image" and (b.get("slack_file") or {}).get("id") == CHART_FILE_PLACEHOLDER
               for b in payload.get("blocks") or [])
