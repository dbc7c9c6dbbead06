"""Bring a database schema up to date with Alembic, from code (used by `pmbot migrate` and `run`).

The migration scripts live inside the package (`bot/migrations/`), so an installed wheel can
migrate from any directory; `alembic.ini` at the repository root points there for developers.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Replicas starting together on one PostgreSQL database migrate one after the other: the
# first applies the migrations, the next find the schema at head (held until commit).
PG_MIGRATION_LOCK = 0x706D626F74  # "pmbot"


def alembic_config() -> Config:
    """Alembic's configuration built in code: no alembic.ini needed at run time."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to `revision` on `engine`'s database."""
    cfg = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
