"""The digest's chart: drawn in the project's language with a font that has every glyph it
draws (no empty boxes for Chinese), from the font our own dependencies install, and matplotlib
loaded only when a chart is drawn."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from datetime import UTC, date, datetime

from bot.blocks.digest_chart import chart_spec
from bot.models import Project
from bot.reports import charts
from bot.reports.charts import ChartSpec, MilestoneBar, TrendPoint
from bot.services.digests import DigestFacts, MilestoneLine, TrendWeek

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def facts(language: str) -> DigestFacts:
    project = Project(id=3, team_id="T1", name="网上商店 Web shop", client_channel_id="C1", pm_user_id="U1",
                      language=language, timezone="Asia/Shanghai", created_by="U1")
    f = DigestFacts(project=project, week="2026-W47", since=NOW, today=date(2026, 11, 20),
                    week_monday=date(2026, 11, 16))
    f.milestones = [
        MilestoneLine(id=1, name="设计定稿", due_date=date(2026, 11, 19), progress=100, status="done",
                      done_at=NOW, start=date(2026, 10, 1)),
        MilestoneLine(id=2, name="测试版上线（含支付）", due_date=date(2026, 12, 20), progress=30, status="on_track",
                      start=date(2026, 10, 20)),
        MilestoneLine(id=3, name="Launch 🚀 <!channel>", due_date=date(2027, 1, 20), progress=0, status="on_track",
                      start=date(2026, 11, 1)),
    ]
    f.satisfaction_trend = [TrendWeek(monday=date(2026, 11, 16) .replace(day=16 - 7 * n), average=a, count=c)
                            for n, (a, c) in reversed(list(enumerate([(4.5, 2), (None, 0), (3.0, 1)])))]
    return f


def glyph_warnings(records) -> list[str]:
    return [str(r.message if hasattr(r, "message") else r.getMessage()) for r in records
            if "missing from" in str(r.message if hasattr(r, "message") else r.getMessage())]


def test_a_chinese_chart_is_drawn_with_a_glyph_for_every_character(caplog):
    spec = chart_spec(facts("zh-CN"))
    assert spec.title == "项目进度 · 网上商店 Web shop · 第 47 周"
    assert [p.label for p in spec.trend] == ["第45周", "第46周", "第47周"]
    # The plan: a straight line from each milestone's start to its due date.
    assert [(m.progress, m.planned) for m in spec.milestones] == [(100, 100), (30, 51), (0, 24)]
    drawn = [charts.drawable(text) for text in spec.texts()]
    assert all(charts.covered(c) for text in drawn for c in text)
    assert any("\u4e00" <= c <= "\u9fff" for text in drawn for c in text)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        png = charts.render_png(spec)
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert glyph_warnings(caught) == [] and glyph_warnings(caplog.records) == []


def test_the_cjk_font_is_the_one_our_dependencies_install_loaded_by_path():
    from matplotlib import font_manager

    path = charts.cjk_font_path()
    assert path.is_file() and "paperang_p2_fonts_cjk" in str(path)
    charts.render_png(chart_spec(facts("zh-CN")))
    found = font_manager.findfont(font_manager.FontProperties(family=charts.CJK_FAMILY), fallback_to_default=False)
    assert found == str(path)


def test_characters_no_font_has_are_left_out_not_drawn_as_boxes():
    assert charts.drawable("Beta \U0001fae8 中文") == "Beta  中文"  # U+1FAE8 (shaking face): in no font of ours
    assert not charts.covered("\U0001fae8")


def test_an_english_chart_and_an_empty_one_render():
    empty = ChartSpec(language="en", title="Progress", milestones_title="Milestones", progress_label="Done",
                      planned_label="Plan", satisfaction_title="Satisfaction", no_milestones="No milestones yet",
                      no_feedback="No scores", milestones=(), trend=(TrendPoint("W47", None),))
    assert charts.render_png(empty).startswith(b"\x89PNG")
    many = ChartSpec(**{**empty.__dict__, "milestones": tuple(MilestoneBar("M" * 200, 150, -5) for _ in range(30))})
    assert charts.render_png(many).startswith(b"\x89PNG")
    spec = chart_spec(facts("en"))
    assert ChartSpec.from_payload(spec.to_payload()) == spec
    assert "&lt;!channel&gt;" in spec.alt_text and "<!channel>" not in spec.alt_text


def test_matplotlib_is_loaded_only_when_a_chart_is_drawn():
    code = ("import sys, bot.cli, bot.app, bot.flows.digest, bot.flows.registrations, bot.flows.digest_charts, "
            "bot.blocks.digest, bot.reports.charts; from bot.flows.messages import registry; registry(); "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported at start-up'")
    subprocess.run([sys.executable, "-c", code], check=True)
