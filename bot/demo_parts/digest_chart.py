"""`pmbot demo`: the weekly digest's chart as PNG files, in English and in Chinese (issue 16).

These are the pictures the digest uploads (see `bot.flows.digest_charts`); the README shows one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from bot import demo
from bot.blocks.digest_chart import chart_spec
from bot.models import Project
from bot.services import digests


def write_charts(session: Session, project: Project, out: Path) -> list[str]:
    from bot.reports.charts import render_png

    facts = digests.collect(session, [project], datetime.now(UTC))[project.id or 0]
    written = []
    for language, name in (("en", "digest-chart.png"), ("zh-CN", "digest-chart-zh-CN.png")):
        facts.project = replace_language(project, language)
        (out / name).write_bytes(render_png(chart_spec(facts)))
        written.append(name)
    facts.project = project
    return written


def replace_language(project: Project, language: str) -> Project:
    """A detached copy of the project in `language` (the record itself is left as it is)."""
    return Project.model_validate({**project.model_dump(), "language": language})


demo.FILES.append(write_charts)
