"""The migrated schema equals the models: autogenerate finds nothing to do."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from bot.db import make_engine
from bot.migrate import upgrade


def _diff(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, SQLModel.metadata)


def test_migrations_build_exactly_the_models_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    upgrade(engine)
    assert _diff(engine) == []
    tables = set(inspect(engine).get_table_names())
    assert {"project", "requirement", "changerequest", "milestone", "risk", "feedbackprompt",
            "feedbackresponse", "followup", "activitylog", "outbox", "digestweek"} <= tables
    upgrade(engine)  # running it again is harmless
    engine.dispose()


def test_migrations_build_exactly_the_models_on_the_test_database(pg_url):
    """On PostgreSQL when the suite runs against it (the session fixture ran `upgrade`)."""
    if pg_url is None:
        import pytest

        pytest.skip("PostgreSQL run only (PMBOT_TEST_DATABASE_URL)")
    engine = make_engine(pg_url)
    assert _diff(engine) == []
    engine.dispose()


def test_upgrading_a_database_with_data_from_0001_keeps_every_row(tmp_path):
    """Rows written at the previous revision survive the upgrade; new columns take defaults."""
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO project (id, team_id, name, client_name, client_channel_id, pm_user_id, client_approver_ids,"
            " timezone, language, digest_weekday, digest_time, preview_lead_minutes, require_pm_approval,"
            " working_days, holidays, work_start, work_end, nudge_after_days, escalate_after_days,"
            " feedback_cadence_weeks, feedback_cooldown_days, anonymous_feedback, status, created_by, created_at,"
            " updated_at) VALUES (1, 'T1', 'Old', 'Client', 'C1', 'U1', '[]', 'UTC', 'en', 4, '16:00:00', 120, 0,"
            " '[0,1,2,3,4]', '[]', '09:00:00', '18:00:00', 3, 5, 0, 14, 0, 'active', 'U1',"
            " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        conn.execute(text(
            "INSERT INTO requirement (id, project_id, title, description, priority, acceptance_criteria, raised_by,"
            " raised_by_client, status, decided_on_behalf, created_at, updated_at) VALUES (1, 1, 'Export', '',"
            " 'should', '', 'U1', 0, 'proposed', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        conn.execute(text(
            "INSERT INTO outbox (id, key, team_id, kind, method, payload, status, attempts, not_before, created_at)"
            " VALUES (1, 'digest:1:2026-W01:client', 'T1', 'digest', 'chat.postMessage', '{}', 'sent', 1,"
            " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, version FROM project")).all() == [("Old", 1)]
        assert conn.execute(text("SELECT title, version FROM requirement")).all() == [("Export", 1)]
        assert conn.execute(text("SELECT key, target FROM outbox")).all() == [("digest:1:2026-W01:client", None)]
    assert _diff(engine) == []
    engine.dispose()


def test_five_migrations_racing_on_an_empty_postgresql_all_succeed(pg_url, tmp_path):
    """Issue 11, item 8: four of five concurrent `pmbot migrate` exited with UniqueViolation."""
    import os
    import subprocess
    import sys

    import pytest
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    if pg_url is None:
        pytest.skip("PostgreSQL run only (PMBOT_TEST_DATABASE_URL)")
    base = make_url(pg_url)
    fresh = base.set(database=f"{base.database}_race").render_as_string(hide_password=False)
    admin = make_engine(base.render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{base.database}_race" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{base.database}_race"'))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": fresh, "SLACK_BOT_TOKEN": "xoxb-x",
           "SLACK_SIGNING_SECRET": "s", "PYTHONPATH": os.getcwd()}
    procs = [subprocess.Popen([sys.executable, "-m", "bot", "migrate"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(5)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, outputs
    engine = make_engine(fresh)
    assert _diff(engine) == []
    engine.dispose()
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{base.database}_race" WITH (FORCE)'))
    admin.dispose()


def test_the_head_this_version_names_is_alembics_head(tmp_path):
    """`pmbot run` and /readyz compare the database with bot.migrations.HEAD, without Alembic:
    a new migration must move it too."""
    from alembic.script import ScriptDirectory

    from bot.migrate import alembic_config, current_revision
    from bot.migrations import HEAD

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD
    engine = make_engine(f"sqlite:///{tmp_path}/h.db")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == HEAD
    engine.dispose()

