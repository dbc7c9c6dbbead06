"""Pictures for reports: PNG bytes drawn from plain values, in the project's language.

A `ChartSpec` holds everything a chart shows — the texts already translated, the numbers
already computed — so it is stored as JSON (in the outbox) and drawn when it is sent. The
weekly digest uses `progress_chart`; the monthly and close-out reports may draw the same spec
or build their own from `MilestoneBar` / `TrendPoint`.

matplotlib is imported only inside `render_png` (Agg backend, no display), so a bot that never
draws does not carry it in memory. Chinese needs a font with CJK glyphs: WenQuanYi Micro Hei,
installed by the project's own dependencies (`paperang-p2-fonts-cjk`) and loaded by file path.
Characters that no font we draw with covers (emoji, rare scripts) are left out of the picture
rather than drawn as empty boxes (`drawable`).
"""

from __future__ import annotations

import io
import threading
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

LATIN_FAMILY = "DejaVu Sans"  # bundled with matplotlib
CJK_FAMILY = "WenQuanYi Micro Hei"
NAME_MAX = 28  # characters of a milestone name on the chart
MILESTONES_MAX = 8  # bars on one chart
DPI = 120
_lock = threading.Lock()  # matplotlib's pyplot state is not thread-safe; we draw one at a time


def cjk_font_path() -> Path:
    """The CJK font file shipped by our dependency (a TrueType collection)."""
    return Path(str(resources.files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc"))


@dataclass(frozen=True)
class MilestoneBar:
    name: str
    progress: int  # 0–100, as reported
    planned: int  # 0–100, where a straight line from start to due date says it should be
    done: bool = False


@dataclass(frozen=True)
class TrendPoint:
    label: str  # e.g. "W45" / "第45周"
    average: float | None  # None: no score that week
    count: int = 0


@dataclass(frozen=True)
class ChartSpec:
    language: str
    title: str
    milestones_title: str
    progress_label: str
    planned_label: str
    satisfaction_title: str
    no_milestones: str
    no_feedback: str
    milestones: tuple[MilestoneBar, ...] = field(default_factory=tuple)
    trend: tuple[TrendPoint, ...] = field(default_factory=tuple)
    filename: str = "chart.png"
    alt_text: str = ""

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ChartSpec:
        data = dict(data)
        data["milestones"] = tuple(MilestoneBar(**m) for m in data.get("milestones") or ())
        data["trend"] = tuple(TrendPoint(**p) for p in data.get("trend") or ())
        return cls(**data)

    def texts(self) -> list[str]:
        """Every text the chart draws (before `drawable`)."""
        return [self.title, self.milestones_title, self.progress_label, self.planned_label,
                self.satisfaction_title, self.no_milestones, self.no_feedback,
                *(m.name for m in self.milestones), *(p.label for p in self.trend)]


@cache
def _coverage() -> tuple[Any, Any]:
    from matplotlib import font_manager, ft2font

    font_manager.fontManager.addfont(str(cjk_font_path()))
    latin = ft2font.FT2Font(font_manager.findfont(LATIN_FAMILY, fallback_to_default=True))
    return latin, ft2font.FT2Font(str(cjk_font_path()))


def covered(char: str) -> bool:
    """A font we draw with has a glyph for `char` (white space always counts)."""
    if char.isspace():
        return True
    return any(font.get_char_index(ord(char)) for font in _coverage())


def drawable(text: str) -> str:
    """`text` without the characters no font of ours can draw (no empty boxes on the chart)."""
    return "".join(c for c in text if covered(c)).strip()


def _short(name: str) -> str:
    name = drawable(" ".join(name.split()))
    return name if len(name) <= NAME_MAX else name[: NAME_MAX - 1] + "…"


def render_png(spec: ChartSpec) -> bytes:
    """Draw the progress chart: milestones against the straight-line plan (left) and the
    client's satisfaction week by week (right)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    _coverage()  # registers the CJK font
    families = [CJK_FAMILY, LATIN_FAMILY] if spec.language.startswith("zh") else [LATIN_FAMILY, CJK_FAMILY]
    with _lock, matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False,
                                       "font.size": 10}):
        fig = Figure(figsize=(10, 4.6), dpi=DPI)
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.35, 1]})
        fig.subplots_adjust(left=0.2, right=0.98, top=0.84, bottom=0.2, wspace=0.22)
        fig.suptitle(drawable(spec.title), fontsize=13)
        _milestones(left, spec)
        _trend(right, spec)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _milestones(ax: Any, spec: ChartSpec) -> None:
    ax.set_title(drawable(spec.milestones_title), loc="left", fontsize=11)
    bars = list(spec.milestones[:MILESTONES_MAX])
    if not bars:
        ax.text(0.5, 0.5, drawable(spec.no_milestones), ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    names = [_short(m.name) for m in bars][::-1]
    progress = [max(0, min(100, m.progress)) for m in bars][::-1]
    planned = [max(0, min(100, m.planned)) for m in bars][::-1]
    colours = ["#2e7d32" if m.done else "#c62828" if m.progress + 10 < m.planned else "#1565c0"
               for m in bars][::-1]
    ys = list(range(len(bars)))
    ax.barh(ys, [100] * len(bars), color="#eceff1", height=0.6)
    ax.barh(ys, progress, color=colours, height=0.6)
    ax.scatter(planned, ys, marker="|", s=500, linewidths=2.5, color="#212121", zorder=3)
    # legend entries: progress (blue on plan, red behind it, green done) and the plan's marker
    ax.barh([], [], color="#1565c0", label=drawable(spec.progress_label))
    ax.plot([], [], color="#212121", linewidth=2.5, label=drawable(spec.planned_label))
    for y, p in zip(ys, progress, strict=True):
        ax.text(min(p, 100) + 1.5, y, f"{p}%", va="center", fontsize=8)
    ax.set_yticks(ys, names)
    ax.set_xlim(0, 112)
    ax.set_xticks([0, 25, 50, 75, 100], ["0", "25", "50", "75", "100%"])
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False, fontsize=8)


def _trend(ax: Any, spec: ChartSpec) -> None:
    ax.set_title(drawable(spec.satisfaction_title), loc="left", fontsize=11)
    points = [(n, p) for n, p in enumerate(spec.trend) if p.average is not None]
    if not points:
        ax.text(0.5, 0.5, drawable(spec.no_feedback), ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    xs = [n for n, _ in points]
    ys = [float(p.average or 0) for _, p in points]
    ax.plot(xs, ys, marker="o", color="#ef6c00", linewidth=2)
    for x, p in points:
        ax.annotate(f"{p.average:.1f}", (x, p.average or 0), textcoords="offset points", xytext=(0, 7),
                    ha="center", fontsize=8)
    ax.set_ylim(0.5, 5.5)
    ax.set_yticks([1, 2, 3, 4, 5])
    ax.set_xticks(range(len(spec.trend)), [drawable(p.label) for p in spec.trend], fontsize=8)
    ax.set_xlim(-0.5, len(spec.trend) - 0.5)
    ax.grid(axis="y", color="#eceff1")
    ax.spines[["top", "right"]].set_visible(False)


def planned_progress(line: Any, today: date) -> int:
    """Where a straight line from the milestone's start to its due date says it should be
    (`line`: anything with `start` and `due_date`, as the digest's milestone lines)."""
    start = line.start or today
    if today >= line.due_date:
        return 100
    if today <= start or line.due_date <= start:
        return 0
    return round(100 * (today - start).days / (line.due_date - start).days)
