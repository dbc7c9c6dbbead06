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
