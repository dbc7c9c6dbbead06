"""`pmbot demo`: a sample project on the embedded database, shown without Slack.

Each feature adds what it would post for the sample project to `SECTIONS`; the demo prints
them readably and writes their Block Kit JSON, ready to paste into Slack's Block Kit Builder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from bot.blocks.project import intake_message, project_summary
from bot.blocks.terminal import render
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db import make_engine, session_scope
from bot.demo_parts import language as demo_language
from bot.migrate import upgrade
from bot.models import Project
from bot.services import projects

DEMO_TEAM = "T0DEMO"
DEMO_NAME = "Acme Web Shop"

# (title, file name, builder(session, project) -> blocks): the sections the demo shows.
Section = tuple[str, str, Callable[[Session, Project], list[dict[str, Any]]]]
SECTIONS: list[Section] = [
    ("Project settings (/project show)", "project", lambda _s, p: project_summary(p, p.language)),
    ("Client intake message (pinned in the client channel)", "intake",
     lambda _s, p: intake_message(p)["blocks"]),
]
# Functions that add sample records to the sample project (features append theirs).
SEEDERS: list[Callable[[Session, Clock, Project], None]] = []
# digest chart: functions that write files (pictures) for the sample project into the output
# folder and return their names (features append theirs).
FILES: list[Callable[[Session, Project, Path], list[str]]] = []


def _load_feature_demos() -> None:
    """Each feature's demo module appends to SEEDERS and SECTIONS when imported."""
    import importlib

    for module in (
        # requirements (issue 3)
        "bot.demo_parts.requirements",

        # change requests and milestones (issue 4)
        "bot.demo_parts.changes",

        # risks and feedback (issue 5)
        "bot.demo_parts.risks_feedback",

        # digest and reminders (issue 6)
        "bot.demo_parts.digest",

        # client items (issue 15)
        "bot.demo_parts.client_items",
        # milestone acceptance (验收)
        "bot.demo_parts.acceptance",
        # capture from the conversation (issue 14)
        "bot.demo_parts.capture",
        # monthly and close-out reports (issue 16)
        "bot.demo_parts.reports",
        # digest chart (issue 16)
        "bot.demo_parts.digest_chart",
    ):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise


def seed(session: Session, clock: Clock, language: str = "en") -> Project:
    """The sample project, created once (in `language`: `en` or `zh-CN`, sample data included)."""
    existing = session.exec(select(Project).where(Project.team_id == DEMO_TEAM, Project.name == DEMO_NAME)).first()
    if existing is not None:
        return existing
    project = projects.create(
        session, clock, team_id=DEMO_TEAM, enterprise_id=None, actor="U0PM",
        data=projects.ProjectInput(
            name=DEMO_NAME, client_name="Acme Ltd.", client_channel_id="C0ACMECLIENT",
            internal_channel_id="C0ACMETEAM", pm_user_id="U0PM", client_approver_ids=["U0CLIENT"],
            timezone="Asia/Shanghai" if language == demo_language.ZH else "Europe/Berlin", language=language,
            digest_weekday=4, digest_time="16:00",
        ),
    )
    for seeder in SEEDERS:
        seeder(session, clock, project)
    # demo in Chinese (issue 17): every sample text stored in Chinese once all features have seeded
    if language == demo_language.ZH:
        demo_language.translate_records(session)
        session.refresh(project)
    return project


DEMO_DATABASE = "pmbot-demo.db"


def run_demo(settings: Settings, *, out_dir: str = "demo-output", clock: Clock | None = None,
             database: str = DEMO_DATABASE, language: str = "en") -> int:
    """Seed a fresh embedded database (never the real one) and show what the bot would post."""
    clock = clock or SystemClock()
    _load_feature_demos()
    for suffix in ("", "-wal", "-shm"):
        Path(database + suffix).unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    upgrade(engine)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with session_scope(engine) as session:
        project = seed(session, clock, language)
        intro, outro = demo_language.FRAME[language]
        print(intro.format(name=project.name, url=url))
        for title, filename, build in SECTIONS:
            blocks = build(session, project)
            if language == demo_language.ZH:
                blocks = demo_language.translate_blocks(blocks)
            print(f"### {demo_language.title(title, language)}\n")
            print(render(blocks))
            (out / f"{filename}.json").write_text(json.dumps({"blocks": blocks}, ensure_ascii=False, indent=2))
        for write in FILES:  # digest chart
            for name in write(session, project, out):
                print(demo_language.PICTURE[language].format(path=out / name))
    engine.dispose()
    print(outro.format(out=out))
    return 0
