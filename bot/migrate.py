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
# One advisory lock for every migrating process of a PostgreSQL database ("pmbot" in ASCII):
# several `pmbot run` starting at once take turns, and the later ones find nothing to do.
MIGRATION_LOCK = 0x706D626F74


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
            # Held until this transaction ends (PostgreSQL's DDL is transactional).
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
