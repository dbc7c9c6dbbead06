"""The project of a channel, remembered between requests (issue 13).

Almost every request starts by finding the project of the channel it came from; that query
was a sixth of a quick capture's CPU. The answer is kept per engine and (team, channel), as a
detached copy of the row, and handed to each request's session with `merge(load=False)`: a
persistent object of that session like any loaded one (a change to it is flushed as usual),
without a round trip.

Correctness:

* in this process, any session that writes a project (an ORM flush of a Project, or a Core
  INSERT/UPDATE/DELETE on its table) empties the cache when it flushes and again when it
  commits; an entry read before either is refused by its generation number, so the next
  request after a project's set-up, edit or closing sees it at once;
* a session with unflushed or uncommitted project changes neither fills nor uses the cache;
* other processes (a second `pmbot run` on PostgreSQL, a CLI verb) are seen after at most
  `TTL_SECONDS`: an entry is only trusted that long (chosen over a per-request version check,
  which is a round trip again).

Each request gets its own copies of the JSON lists, so nothing it does in place reaches the
cached copy.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session

from bot.db import tables_written
from bot.models import Project

TTL_SECONDS = 1.0
_COLUMNS = tuple(c.key for c in Project.__table__.columns)  # type: ignore[attr-defined]
_MUTABLE = tuple(k for k in _COLUMNS if k in ("client_approver_ids", "working_days", "holidays"))
_WROTE = "pmbot_wrote_project"
_MISSING = object()


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation = 0
        self.entries: dict[tuple[str, str], tuple[float, int, Project | None]] = {}

    def clear(self) -> None:
        with self.lock:
            self.generation += 1
            self.entries.clear()


_caches: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache_of(engine: Engine) -> _Cache:
    cache = _caches.get(engine)
    if cache is None:
        with _caches_lock:
            cache = _caches.setdefault(engine, _Cache())
    return cache


def _engine(session: Session) -> Engine | None:
    bind = session.get_bind()
    return getattr(bind, "engine", None)


def _clear_for(session: Session) -> None:
    engine = _engine(session)
    if engine is not None and engine in _caches:
        _caches[engine].clear()


def _dirty(session: Session) -> bool:
    """The session holds project changes not committed yet (flushed or not)."""
    if session.info.get(_WROTE):
        return True
    return any(isinstance(o, Project) for o in (*session.new, *session.dirty, *session.deleted))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    if any(isinstance(o, Project) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info[_WROTE] = True
        _clear_for(session)


@event.listens_for(Session, "do_orm_execute")
def _core_write(state: ORMExecuteState) -> None:
    if Project.__tablename__ in tables_written(state):
        state.session.info[_WROTE] = True
        _clear_for(state.session)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        _clear_for(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        _clear_for(session)


def _detached_copy(project: Project) -> Project:
    """A copy of the loaded row, built as a query's load builds an object (the SQLModel
    constructor validated every field again: ~0.1 ms of each re-read), its lists its own."""
    copy = Project.__mapper__.class_manager.new_instance()  # type: ignore[attr-defined]
    values = {k: getattr(project, k) for k in _COLUMNS}
    copy.__dict__.update(values, **{k: list(values[k]) for k in _MUTABLE if values[k] is not None})
    make_transient_to_detached(copy)
    return copy


def _attach(session: Session, cached: Project) -> Project:
    present = session.identity_map.get(identity_key(Project, cached.id))
    if present is not None:
        return present  # type: ignore[return-value]
    project = session.merge(cached, load=False)
    for key in _MUTABLE:
        set_committed_value(project, key, list(getattr(cached, key)))
    return project


def lookup(session: Session, key: tuple[str, str], load: Any) -> Project | None:
    """`load(session)` (the project of a channel, or None), remembered under `key`."""
    engine = _engine(session)
    if engine is None or _dirty(session):
        return load(session)
    cache = _cache_of(engine)
    now = time.monotonic()
    with cache.lock:
        generation = cache.generation
        hit = cache.entries.get(key, _MISSING)
    if hit is not _MISSING:
        stored_at, stored_generation, cached = hit  # type: ignore[misc]
        if stored_generation == generation and now - stored_at < TTL_SECONDS:
            return None if cached is None else _attach(session, cached)
    project = load(session)
    if _dirty(session):
        return project
    copy = None if project is None else _detached_copy(project)
    with cache.lock:
        if cache.generation == generation:
            cache.entries[key] = (now, generation, copy)
    return project


UNKNOWN = _MISSING  # what `peek` answers when memory alone cannot say


def peek(engine: Engine, key: tuple[str, str]) -> Project | object | None:
    """What `lookup` would answer for `key` from memory alone, without a session: the cached
    copy of the project (to read, not to attach), None for a channel no project holds, or
    UNKNOWN (not cached, or no longer trusted)."""
    cache = _caches.get(engine)
    if cache is None:
        return UNKNOWN
    with cache.lock:
        generation = cache.generation
        hit = cache.entries.get(key, _MISSING)
    if hit is _MISSING:
        return UNKNOWN
    stored_at, stored_generation, cached = hit  # type: ignore[misc]
    if stored_generation != generation or time.monotonic() - stored_at >= TTL_SECONDS:
        return UNKNOWN
    return cached


def forget(engine: Engine) -> None:
    """Empty the cache of `engine` (e.g. after writing projects outside any Session)."""
    if engine in _caches:
        _caches[engine].clear()


def by_id(session: Session, project_id: int | None) -> Project | None:
    """The project with this id (None when there is none), remembered like a channel's."""
    if project_id is None:
        return None
    present = session.identity_map.get(identity_key(Project, project_id))
    if present is not None:
        return present  # type: ignore[return-value]
    return lookup(session, ("#", str(project_id)), lambda s: s.get(Project, project_id))
