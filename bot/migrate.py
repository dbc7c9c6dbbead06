"""Bring a database schema up to date with Alembic, from code (used by `pmbot migrate` and `run`).

The migration scripts live inside the package (`bot/migrations/`), so an installed wheel can
migrate from any directory; `alembic.ini` at the repository root points there for developers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

from bot.migrations import HEAD

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Replicas starting together on one PostgreSQL database migrate one after the other: the
# first applies the migrations, the next find the schema at head (held until commit).
PG_MIGRATION_LOCK = 0x706D626F74  # "pmbot"


def alembic_config() -> Config:
    """Alembic's configuration built in code: no alembic.ini needed at run time."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The revision the database's schema is at; None when it was never migrated."""
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:  # no such table yet
            return None


def upgrade_if_behind(engine: Engine) -> None:
    """`upgrade` unless the schema is at this version's head already (Alembic is loaded only
    when there is something to do)."""
    if current_revision(engine) != HEAD:
        upgrade(engine)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to `revision` on `engine`'s database."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
