"""Bring a database schema up to date with Alembic, from code (used by `pmbot migrate` and `run`).

The migration scripts live inside the package (`bot/migrations/`), so an installed wheel can
migrate from any directory; `alembic.ini` at the repository root points there for developers.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


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
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
