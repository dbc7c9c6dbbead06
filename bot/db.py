"""Engines and session scopes. The caller owns the transaction: services only flush."""

from __future__ import annotations

import functools
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, Table, bindparam, event, insert, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import ORMExecuteState, make_transient_to_detached
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from bot.sockets import readable_now

SQLITE_BUSY_SECONDS = 30
READ_ONLY = "pmbot_read_only"  # execution option of `read_scope`'s connections
# With background_checkpoints, a connection's own commits copy the log back only past this many
# pages (~40 MB with SQLite's 4 KiB pages; SQLite's default is 1,000): bot/checkpoints.py does it
BACKSTOP_PAGES = 10_000
M = TypeVar("M")


class FairTurns:
    """Up to `slots` holders at a time, its waiters served first come, first served; re-entrant
    (a thread that holds a turn takes it again at once).

    Each waiter sleeps on a lock of its own, and a release hands the turn straight to the first
    one in the queue: waking every waiter to let one through (a shared Condition's notify_all)
    cost each writer a wake-up of all the others under load (issue 13)."""

    def __init__(self, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError("a turn needs at least one slot")
        self._slots = slots
        self._mutex = threading.Lock()
        self._queue: deque[tuple[int, threading.Lock]] = deque()
        self._holders: dict[int, int] = {}  # thread -> depth

    def acquire(self, timeout: float) -> bool:
        me = threading.get_ident()
        with self._mutex:
            if me in self._holders:
                self._holders[me] += 1
                return True
            if len(self._holders) < self._slots and not self._queue:
                self._holders[me] = 1
                return True
            gate = threading.Lock()
            gate.acquire()
            waiter = (me, gate)
            self._queue.append(waiter)
        if gate.acquire(timeout=timeout):
            return True  # handed over by `release`: ours already
        with self._mutex:
            try:
                self._queue.remove(waiter)
            except ValueError:
                return True  # handed over just as the wait timed out
            return False

    def held_here(self) -> bool:
        """Whether this thread holds a turn."""
        with self._mutex:
            return threading.get_ident() in self._holders

    def release(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            self._holders[me] -= 1
            if self._holders[me]:
                return
            del self._holders[me]
            if self._queue:
                owner, gate = self._queue.popleft()
                self._holders[owner] = 1
                gate.release()


# Per engine, the transactions of this process that may run at once, queued in Python (see
# writer_turn): one writer on SQLite, PG_TURNS on PostgreSQL.
_TURNS: weakref.WeakKeyDictionary[Engine, tuple[FairTurns, float]] = weakref.WeakKeyDictionary()  # … and the wait
# PostgreSQL: transactions of one process at once. Under 20 clicks in flight, 20 transactions at
# once cost the server 2.9 ms of CPU per click and this process 8.6 ms; with three at a time, 1.1
# and 7.1 ms, and the clicks went through 25 % faster (bench/ack_latency.py, issue 13): one
# process is bound by its GIL, and more at once only made its threads and the server's processes
# contend. Several processes scale out. A transaction waits for its turn PG_TURN_WAIT seconds at
# most, then goes ahead without one: a turn held across a slow Slack call (a few flows ask Slack
# inside their unit of work) holds the others up that long, no longer.
PG_TURNS = 3
PG_TURN_WAIT = 0.25


def make_engine(url: str, *, echo: bool = False, sqlite_immediate: bool = True, synchronous: str = "full",
                background_checkpoints: bool = False) -> Engine:
    """Build an engine. SQLite gets WAL, foreign keys and a busy timeout so the HTTP server's
    threads and the scheduler can share one file, and `synchronous` (SQLITE_SYNCHRONOUS: `full`
    by default, so what the bot said was saved survives a power cut too); PostgreSQL gets a
    pool whose connections the server closed are replaced at checkout (a restart), and turns.

    `background_checkpoints`: a `bot.checkpoints.Checkpointer` copies the SQLite log back; the
    engine's own commits do so only past its backstop (no effect on PostgreSQL)."""
    if synchronous not in ("full", "normal"):
        raise ValueError(f"synchronous must be full or normal, not {synchronous!r}")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        in_memory = is_in_memory(parsed)
        kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}}
        if in_memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, echo=echo, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
            if background_checkpoints and not in_memory:
                cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:
            # Take the write lock at the start of a transaction: concurrent writers then wait
            # (busy_timeout) instead of failing with "database is locked" on upgrade.
            # (A read-only observer, like the tests' window on the database, can opt out.)
            # A `read_scope` (no writes) begins a plain read transaction: readers of a WAL
            # database wait for no writer and no writer waits for them.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if sqlite_immediate and not read_only else "BEGIN")

        _disable_pysqlite_autobegin(engine)
        if sqlite_immediate:
            _TURNS[engine] = FairTurns(1), SQLITE_BUSY_SECONDS
        return engine
    engine = create_engine(url, echo=echo, pool_size=10, max_overflow=10)
    discard_closed_connections(engine)
    _TURNS[engine] = FairTurns(PG_TURNS), PG_TURN_WAIT
    return engine


def closed_by_server(dbapi_connection: Any) -> bool:
    """True when the server has closed an idle connection, or sent on it: an idle PostgreSQL
    connection has nothing to read, and a server that restarted, was shut down or ended the
    backend closed the socket (after a last FATAL message). A local check: no round trip."""
    if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
        return True
    try:
        return readable_now(dbapi_connection.fileno())
    except (OSError, ValueError, AttributeError):
        return True


def discard_closed_connections(engine: Engine) -> None:
    """Replace, as it is checked out of the pool, a pooled connection the server has closed
    (a restart of PostgreSQL): the pool then opens a new one, and the caller never sees the
    dead one. SQLAlchemy's `pool_pre_ping` asked the server (SELECT 1) at every checkout: a
    round trip per transaction, a fifth of a quick capture's on PostgreSQL (issue 13)."""

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if closed_by_server(dbapi_connection):
            raise DisconnectionError("the database server closed this pooled connection")


def _disable_pysqlite_autobegin(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, emit BEGIN (the documented recipe)."""

    @event.listens_for(engine, "connect")
    def _no_autobegin(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def is_in_memory(url: URL) -> bool:
    """A SQLite database that lives in memory (no file, no write-ahead log)."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


@contextmanager
def writer_turn(engine: Engine) -> Iterator[None]:
    """Wait for this process's other transactions here, first come first served, rather than
    in the database.

    SQLite: every transaction begins IMMEDIATE (takes the write lock), and SQLite's busy handler
    polls for the lock with sleeps of up to 100 ms and lets newcomers overtake, so under load
    some requests waited seconds (bench/ack_latency.py: max 1.3-2.5 s at 20 concurrent `/req`).
    Queued here, the next one starts as soon as the holder is done; other processes (`pmbot
    digest`) still meet the busy timeout. PostgreSQL: at most PG_TURNS at once (see there).
    Re-entrant, so a nested scope in the same thread never waits for itself; a turn not given
    within the wait (SQLITE_BUSY_SECONDS, PG_TURN_WAIT) is gone without: the database decides,
    as before.
    """
    found = _TURNS.get(engine)
    if found is None:
        yield
        return
    turns, wait = found
    acquired = turns.acquire(timeout=wait)
    try:
        yield
    finally:
        if acquired:
            turns.release()


def holds_turn(engine: Engine) -> bool:
    """Whether this thread is inside a transaction's turn of `engine` (see `writer_turn`): it
    must not wait for another thread's transaction, which would wait for this one's turn."""
    found = _TURNS.get(engine)
    return found is not None and found[0].held_here()


def holds_any_turn() -> bool:
    """Whether this thread is inside a transaction's turn of any engine: what it waits for now
    (a Slack call) every other writer of the process waits for too, on SQLite."""
    return any(turns.held_here() for turns, _ in list(_TURNS.values()))


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with writer_turn(engine):
        session = Session(engine, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A session that only reads, for long reads beside the writers (building the digests while
    the senders record what they sent). On a SQLite file it takes neither the write lock nor a
    turn among this process's writers: a WAL reader sees one consistent snapshot and blocks
    nobody. Elsewhere (PostgreSQL, or in-memory SQLite with its one shared connection) it is a
    `session_scope`. Objects read stay usable after it ends. Write nothing in it."""
    if not is_sqlite(engine) or engine.url.database in (None, "", ":memory:"):
        with session_scope(engine) as session:
            yield session
        return
    session = Session(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()  # ends the read transaction; loaded attributes stay loaded


def dialect_insert(dialect_name: str) -> Callable[[Any], Any]:
    """The `insert` of the dialect (PostgreSQL's or SQLite's), the one with ON CONFLICT."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def insert_ignore(session: Session, model: type, values: dict, conflict: list[str]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL. True when the row was inserted.

    The atomic way for several processes to create the same ledger row: exactly one wins."""
    table = model.__table__  # type: ignore[attr-defined]
    insert_of = dialect_insert(session.get_bind().dialect.name)
    stmt = insert_of(table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    # RETURNING tells reliably whether a row went in (psycopg's rowcount does not, here).
    key = table.c[conflict[0]]
    return session.execute(stmt.returning(key)).first() is not None


_ADDED_NEW = "pmbot_added_new"  # the session.info key of what `add_new` stored


@dataclass(frozen=True)
class Linked:
    """A row of another table stored with the row a statement writes (`add_new`, `run_linked`),
    its `link` column set to that row's id: the activity-log entry of a new requirement, or of
    a requirement's status change."""

    table: Table
    values: dict[str, Any]
    link: str


def add_new(session: Session, model: type[M], /, *, linked: Linked | None = None, **values: Any) -> M:
    """Store a new row of `model` (a table model whose id the database assigns) with one prepared
    INSERT … RETURNING id, and return it as a persistent object of `session`, without the ORM's
    unit of work for it (issue 13: flushing a new requirement was the largest part of a quick
    capture's CPU). Columns missing from `values` take the model's Python defaults, as its
    constructor would give them; the object is built as a query's load builds one (the SQLModel
    constructor alone was ~90 µs a requirement), so what it holds is what the row holds, and a
    later change to it is flushed as an UPDATE. Such objects never show in a flush's
    `session.new`: whoever looks for the rows a unit created finds them in `added_new(session)`.

    With `linked`, that row is stored too: on PostgreSQL in the same statement (a data-modifying
    WITH: one round trip to the server instead of two, issue 13), elsewhere by a second INSERT."""
    statement, columns, defaults = _add_new_statement(model)
    unknown = values.keys() - set(columns)
    if unknown:
        raise TypeError(f"{model.__name__} has no column {sorted(unknown)}")
    row = {c: values[c] if c in values else defaults[c]() for c in columns}
    params = {f"v_{c}": row[c] for c in columns}
    if linked is None:
        new_id = session.execute(statement, params).scalar_one()
    else:
        new_id = run_linked(session, statement, params, linked).id
    obj = model.__mapper__.class_manager.new_instance()  # type: ignore[attr-defined]
    obj.__dict__.update(row, id=new_id)
    make_transient_to_detached(obj)
    session.add(obj)
    session.info.setdefault(_ADDED_NEW, []).append(obj)
    return obj


def run_linked(session: Session, statement: Any, params: dict[str, Any], linked: Linked) -> Any:
    """Run `statement` (an INSERT or UPDATE … RETURNING the row's `id`, one row at most, built
    once: the combined statement is kept per statement) and store `linked` with the row it
    returns, its `link` column set to that row's id. On PostgreSQL both in one statement (a
    data-modifying WITH: one round trip to the server instead of two, issue 13); elsewhere by a
    second INSERT. Returns the statement's row, or None when it touched none (nothing is linked
    then)."""
    session.flush()  # whatever the session holds goes first, as before a statement of its own
    keys = tuple(k for k in linked.values if k != linked.link)
    if session.get_bind().dialect.name == "postgresql":
        both = _linked_statement(statement, linked.table, keys, linked.link)
        return session.execute(both, {**params, **{f"l_{k}": linked.values[k] for k in keys}}).first()
    row = session.execute(statement, params).first()
    if row is not None:
        session.execute(_plain_insert(linked.table), {**linked.values, linked.link: row.id})
    return row


@functools.lru_cache(maxsize=256)  # bounded: a statement built for one call would be kept for ever
def _linked_statement(statement: Any, other: Table, keys: tuple[str, ...], link: str) -> Any:
    """WITH touched AS (statement), linked AS (INSERT INTO other (…, link) SELECT :l_…,
    touched.id FROM touched) SELECT touched.* FROM touched. PostgreSQL runs a WITH's INSERT
    whether or not the query reads it."""
    touched = statement.cte("touched")
    chosen = select(*(bindparam(f"l_{k}", type_=other.c[k].type) for k in keys), touched.c.id)
    linked = insert(other).from_select([*keys, link], chosen, include_defaults=False).cte("linked")
    return select(touched).add_cte(linked).execution_options(**{_WRITES: (statement.table.name, other.name)})


_WRITES = "pmbot_writes"  # the execution option of a statement that writes but reads like a SELECT


def tables_written(state: ORMExecuteState) -> tuple[str, ...]:
    """The tables a statement run through a session writes (for its `do_orm_execute` listeners):
    an INSERT, UPDATE or DELETE its table; `run_linked`'s SELECT (a WITH that writes) both."""
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        return (table.name,) if table is not None else ()
    return state.execution_options.get(_WRITES, ())


def added_new(session: Session) -> list[Any]:
    """The objects `add_new` stored in `session`, in order."""
    return list(session.info.get(_ADDED_NEW, ()))


@functools.cache
def _add_new_statement(model: type) -> tuple[Any, tuple[str, ...], dict[str, Callable[[], Any]]]:
    """`add_new`'s statement for `model`, built once (bound parameters v_<column>), its columns
    and, for each column with a Python default, what gives it (a column without one must be given)."""
    table = model.__table__  # type: ignore[attr-defined]
    columns = tuple(c.key for c in table.columns if not c.primary_key)
    values = {c: bindparam(f"v_{c}", type_=table.c[c].type) for c in columns}
    defaults: dict[str, Callable[[], Any]] = {}
    for name in columns:
        field = model.model_fields[name]  # type: ignore[attr-defined]
        if field.default_factory is not None:
            defaults[name] = field.default_factory
        elif not field.is_required():
            defaults[name] = functools.partial(_constant, field.default)
        else:
            defaults[name] = functools.partial(_required, model.__name__, name)
    return insert(table).values(values).returning(table.c.id), columns, defaults


@functools.cache
def _plain_insert(table: Table) -> Any:
    return insert(table)


def _constant(value: Any) -> Any:
    return value


def _required(model: str, column: str) -> Any:
    raise TypeError(f"{model}.{column} has no default: add_new needs it")
