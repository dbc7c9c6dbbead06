"""The activity log: every create, edit, status change and decision, with before and after."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, SQLModel, col, select

from bot.clock import Clock
from bot.models import ActivityLog

TABLE = ActivityLog.__table__  # type: ignore[attr-defined]
_INSERT = insert(TABLE)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def snapshot(obj: SQLModel, fields: list[str] | None = None) -> dict[str, Any]:
    """The JSON-safe values of `obj`'s fields (all of them when `fields` is None)."""
    names = fields if fields is not None else list(type(obj).model_fields)
    return {name: _plain(getattr(obj, name)) for name in names}


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only what changed, on both sides."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def entry(
    clock: Clock,
    *,
    team_id: str,
    project_id: int | None,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    on_behalf_of_client: bool = False,
) -> dict[str, Any]:
    """The column values of one entry (JSON-safe), to store with `record` or, for an entity
    not stored yet, with it (`bot.db.Linked`, the entity's id filled in then)."""
    return {
        "team_id": team_id, "project_id": project_id, "actor_user_id": actor, "action": action,
        "entity_type": entity_type, "entity_id": entity_id,
        "before": _plain(before) if before is not None else None,
        "after": _plain(after) if after is not None else None,
        "on_behalf_of_client": on_behalf_of_client, "created_at": clock.now(),
    }


def record(session: Session, clock: Clock, **about: Any) -> None:
    """Add one entry (the arguments of `entry`), in the session's transaction (a Core INSERT
    prepared once: through the ORM it cost ten times the CPU; nothing reads the entry back in
    the same unit)."""
    record_entry(session, entry(clock, **about))


def record_entry(session: Session, values: dict[str, Any]) -> None:
    """Add the entry `entry` gave, in the session's transaction."""
    session.flush()  # the entity it is about first
    session.execute(_INSERT, values)


def history(session: Session, entity_type: str, entity_id: int) -> list[ActivityLog]:
    """An entity's log, oldest first."""
    stmt = (
        select(ActivityLog)
        .where(ActivityLog.entity_type == entity_type, ActivityLog.entity_id == entity_id)
        .order_by(col(ActivityLog.created_at), col(ActivityLog.id))
    )
    return list(session.exec(stmt))
