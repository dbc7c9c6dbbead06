"""Deployed as a self-hoster would: the wheel built from this checkout, installed into a fresh
virtual environment, `pmbot migrate` and `pmbot run` from an unrelated directory, against the
fake Slack Web API, on SQLite and (when PMBOT_TEST_DATABASE_URL is set) PostgreSQL."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.db import make_engine
from bot.migrate import alembic_config
from tests.deploy.helpers import (
    PG_URL,
    build_wheel,
    clean_env,
    free_port,
    fresh_database,
    make_venv,
    stop,
    wait_http,
)
from tests.fakes import payloads
from tests.fakes.slack_api import FakeSlack


def _wheel_version(bin_dir: Path) -> str:
    (name,) = [p.name for p in (bin_dir.parent / "lib").glob("python*/site-packages/pmbot-*.dist-info")]
    return name.removeprefix("pmbot-").removesuffix(".dist-info")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The bin/ folder of a fresh virtual environment with the wheel installed."""
    return make_venv(tmp_path_factory.mktemp("venv") / "venv", wheel)


def test_the_wheel_carries_the_migrations_and_the_locales(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    versions = sorted(p.name for p in (Path(__file__).parents[2] / "bot" / "migrations" / "versions").glob("0*.py"))
    assert versions and {f"bot/migrations/versions/{v}" for v in versions} <= names
    assert {"bot/migrations/env.py", "bot/migrations/script.py.mako"} <= names
    assert "bot/i18n/locales/en/common.toml" in names and "bot/i18n/locales/zh-CN/common.toml" in names


@pytest.mark.parametrize("kind", [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL, reason="needs PMBOT_TEST_DATABASE_URL")),
])
def test_installed_wheel_migrates_and_runs_from_an_unrelated_directory(installed, kind, tmp_path):
    elsewhere = tmp_path / "elsewhere"  # no pyproject, no alembic.ini, no bot/ here
    elsewhere.mkdir()
    with FakeSlack() as fake, fresh_database(kind, tmp_path) as url:
        fake.add_user("U0PM", name="pat.pm")
        port = free_port()
        env = clean_env(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=payloads.SIGNING_SECRET,
                        SLACK_API_URL=fake.url, DATABASE_URL=url, PORT=str(port), HOST="127.0.0.1",
                        LOG_LEVEL="INFO")
        where = subprocess.run([str(installed / "python"), "-c", "import bot; print(bot.__file__)"], env=env,
                               cwd=elsewhere, capture_output=True, text=True, check=True).stdout
        assert where.startswith(str(installed.parent)), where  # the installed copy, not the checkout
        shown = subprocess.run([str(installed / "pmbot"), "--version"], env=env, cwd=elsewhere, capture_output=True,
                               text=True, check=True).stdout.strip()
        assert shown == f"pmbot {_wheel_version(installed)}"

        migrate = subprocess.run([str(installed / "pmbot"), "migrate"], env=env, cwd=elsewhere,
                                 capture_output=True, text=True, timeout=120)
        assert migrate.returncode == 0, migrate.stderr
        assert "Traceback" not in migrate.stderr
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        engine = make_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
        engine.dispose()

        log = tmp_path / "run.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([str(installed / "pmbot"), "run"], env=env, cwd=elsewhere, stdout=out,
                                    stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/healthz", proc=proc, log=log)  # at once …
            wait_http(base + "/readyz", proc=proc, log=log)  # … and ready once migrated and connected
            body, headers = payloads.slash_command("/project", "", user=payloads.SlackUser(id="U0PM", team_id="T0TEAM"),
                                                   response_url=fake.response_url())
            resp = httpx.post(base + "/slack/events", content=body.encode(), headers=headers, timeout=10)
            assert resp.status_code == 200 and "/project setup" in resp.json()["text"]
        finally:
            rc = stop(proc)
        output = log.read_text()
        assert rc == 0, output
        assert "Traceback" not in output, output


# digest chart (issue 16) ------------------------------------------------------------------------

def test_the_installed_wheel_draws_a_chinese_chart_with_the_font_its_dependencies_install(wheel, installed,
                                                                                         tmp_path):
    metadata = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA"))
    requires = [line for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
                if line.startswith("Requires-Dist:")]
    assert any("matplotlib" in line for line in requires) and any("paperang-p2-fonts-cjk" in line for line in requires)
    code = ("from bot.reports import charts; from bot.reports.charts import ChartSpec, MilestoneBar, TrendPoint\n"
            "path = charts.cjk_font_path(); assert path.is_file(), path\n"
            "spec = ChartSpec(language='zh-CN', title='项目进度', milestones_title='里程碑', progress_label='已完成',"
            " planned_label='计划进度', satisfaction_title='客户满意度', no_milestones='暂无里程碑',"
            " no_feedback='没有评分', milestones=(MilestoneBar('测试版上线', 40, 55),),"
            " trend=(TrendPoint('第47周', 4.5, 2),))\n"
            "assert all(charts.covered(c) for text in spec.texts() for c in text)\n"
            "import warnings; warnings.simplefilter('error')\n"
            "png = charts.render_png(spec); assert png.startswith(b'\\x89PNG'); print(path)\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run([str(installed / "python"), "-c", code], env=clean_env(MPLCONFIGDIR=str(tmp_path / "mpl")),
                         cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "paperang_p2_fonts_cjk" in out.stdout
