"""Messages the bot owes Slack, stored with the change that caused them.

Each row has a unique key; a sender claims it atomically (one UPDATE … WHERE status = pending),
so two processes never both send it, and a failed call leaves it pending for a later retry.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, case, func, literal_column, or_, update
from sqlalchemy import exists as core_exists
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from bot.db import dialect_insert
from bot.models import Outbox, OutboxStatus

# A claim older than this is taken to be abandoned (its process died). Operators may change it
# with PMBOT_CLAIM_TIMEOUT_SECONDS; it must stay well above the time one send can take.
CLAIM_TIMEOUT = timedelta(minutes=5)
# How long a message that failed for a passing reason (5xx, time-outs, 429) is tried again
# (OUTBOX_RETRY_HOURS): a Slack outage of hours loses nothing.
RETRY_FOR = timedelta(hours=72)
BACKOFF_FIRST = 30.0  # seconds; doubles per attempt …
BACKOFF_CAP = 600.0  # … up to ten minutes, so a message goes out soon after an outage ends
TOKEN_PAUSE = timedelta(minutes=1)  # a rejected token: wait for the operator, drop nothing

class Owed(SimpleNamespace):
    """A copy of an outbox row, read like an `Outbox` (same attribute names and values) but in
    no session: what `enqueue`, `claim_row` and `pending_update` return. Building an Outbox
    model for each cost more CPU than the statement that read it (issue 13)."""


# The sender's statements, built once and run on the session's connection: through the ORM
# each cost about ten times as much CPU to build and run (issue 13, bench/profile_request.py).
_T = Outbox.__table__  # type: ignore[attr-defined]
_BY_KEY = core_select(_T).where(_T.c.key == bindparam("b_key"))
_CLAIM_RETURNING = (
    update(_T)
    .where(_T.c.id == bindparam("b_id"), _T.c.not_before <= bindparam("b_now"),
           or_(_T.c.status == bindparam("b_pending"),
               and_(_T.c.status == bindparam("b_sending"), _T.c.claimed_at < bindparam("b_stale"))))
    .values(status=bindparam("b_sending"), claimed_by=bindparam("b_worker"), claimed_at=bindparam("b_now"),
            attempts=_T.c.attempts + 1)
    .returning(*_T.c)
)
_MARK_SENT = (
    update(_T)
    .where(_T.c.id == bindparam("b_id"))
    .values(status=bindparam("b_sent"), message_ts=bindparam("b_ts"), sent_at=bindparam("b_now"), last_error=None,
            channel_id=func.coalesce(bindparam("b_channel", type_=_T.c.channel_id.type), _T.c.channel_id),
            rendered_hash=func.coalesce(bindparam("b_hash", type_=_T.c.rendered_hash.type), _T.c.rendered_hash))
)
_MARK_SENT_FENCED = _MARK_SENT.where(_T.c.claimed_by == bindparam("b_worker"), _T.c.status == bindparam("b_sending"))


def _pending_update_of(target: Any) -> Any:
    """A queued in-place update of `target` not yet taken by a sender (`pending_update`)."""
    return core_select(_T.c.id).where(_T.c.target == target, _T.c.method == "chat.update",
                                      _T.c.status == bindparam("b_pending"))


# FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite runs one writer at a time): a pending update that
# a sender is claiming right now (its claim not committed yet, so it may have drawn the record
# before this change) is not reused: the change queues an update of its own (`mark_sent_all` tells).
_PENDING_UPDATE = _pending_update_of(bindparam("b_target")).limit(1).with_for_update(skip_locked=True)
_INSERTS: dict[str, Any] = {}
_UNLESS_PENDING: dict[str, Any] = {}


def _insert_ignoring(session: Session) -> Any:
    """INSERT … ON CONFLICT (key) DO NOTHING RETURNING the row, for the session's database."""
    name = session.get_bind().dialect.name
    stmt = _INSERTS.get(name)
    if stmt is None:
        stmt = _INSERTS[name] = (dialect_insert(name)(_T).on_conflict_do_nothing(index_elements=["key"])
                                 .returning(_T.c.id))
    return stmt


def _insert_unless_pending(session: Session) -> Any:
    """INSERT … SELECT the row's values WHERE NOT EXISTS (`_PENDING_UPDATE`'s row, of the new
    row's own target) ON CONFLICT (key) DO NOTHING RETURNING id, for the session's database (its
    values bound by column name)."""
    name = session.get_bind().dialect.name
    stmt = _UNLESS_PENDING.get(name)
    if stmt is None:
        columns = [c.key for c in _T.columns if c.key not in ("id", *_UNSET)]
        pending = _pending_update_of(bindparam("target", type_=_T.c.target.type))
        if name == "postgresql":
            pending = pending.with_for_update(skip_locked=True)
        chosen = core_select(*(bindparam(c, type_=_T.c[c].type) for c in columns)).where(~core_exists(pending))
        stmt = _UNLESS_PENDING[name] = (dialect_insert(name)(_T).from_select(columns, chosen)
                                        .on_conflict_do_nothing(index_elements=["key"]).returning(_T.c.id))
    return stmt


# What a new row holds besides the values `enqueue` gives it
_UNSET = {"sent_at": None, "message_ts": None, "last_error": None, "rendered_hash": None}


def enqueue(
    session: Session,
    *,
    key: str,
    team_id: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    channel_id: str | None = None,
    user_id: str | None = None,
    project_id: int | None = None,
    method: str = "chat.postMessage",
    target: str | None = None,
    after_key: str | None = None,
    claim_for: str | None = None,
) -> Owed:
    """Add a message to send unless one with the same key exists (then return that one). With
    `claim_for`, a new row is stored already claimed by that sender (as `claim_row` would have
    claimed it: a unit of work that sends what it owes saves an UPDATE per message, issue 13).
    The row returned says whether this call `inserted` it.

    Safe when several processes enqueue the same key at once: the insert is atomic."""
    session.flush()
    values = _row_values(key=key, team_id=team_id, kind=kind, payload=payload, now=now, channel_id=channel_id,
                         user_id=user_id, project_id=project_id, method=method, target=target, after_key=after_key,
                         claim_for=claim_for)
    # One round trip on the session's connection (Core, prepared once): a new row's id comes
    # back by RETURNING, and the row is what was inserted (reading every column back cost more
    # than the INSERT, issue 13); only when the key existed is it read. Not in the session.
    new = session.execute(_insert_ignoring(session), values).first()
    if new is not None:
        return Owed(**values, **_UNSET, id=new.id, inserted=True)
    found = session.execute(_BY_KEY, {"b_key": key}).first()
    assert found is not None
    return Owed(**found._mapping, inserted=False)


def enqueue_update(session: Session, *, key: str, team_id: str, kind: str, target: str, now: datetime,
                   channel_id: str | None = None, project_id: int | None = None,
                   claim_for: str | None = None) -> Owed | None:
    """Queue an in-place update of `target` (drawn from the record when it is sent) unless one
    is pending already, not yet taken by a sender (`pending_update`): that one will draw the
    newest state, so None then. One statement: the check is the INSERT's own condition (issue
    13: it was a SELECT of its own on every decision). `key` is new (`outbox_keys.update`)."""
    session.flush()
    values = _row_values(key=key, team_id=team_id, kind=kind, payload={}, now=now, channel_id=channel_id,
                         user_id=None, project_id=project_id, method="chat.update", target=target, after_key=None,
                         claim_for=claim_for)
    new = session.execute(_insert_unless_pending(session), {**values, "b_pending": OutboxStatus.pending.value}).first()
    return None if new is None else Owed(**values, **_UNSET, id=new.id, inserted=True)


def _row_values(*, key: str, team_id: str, kind: str, payload: dict[str, Any], now: datetime,
                channel_id: str | None, user_id: str | None, project_id: int | None, method: str,
                target: str | None, after_key: str | None, claim_for: str | None) -> dict[str, Any]:
    values = {
        "key": key, "team_id": team_id, "kind": kind, "payload": payload, "channel_id": channel_id,
        "user_id": user_id, "project_id": project_id, "method": method, "created_at": now, "not_before": now,
        "target": target, "after_key": after_key,
        "status": OutboxStatus.pending, "attempts": 0, "claimed_by": None, "claimed_at": None,
    }
    if claim_for is not None:
        values.update(status=OutboxStatus.sending, attempts=1, claimed_by=claim_for, claimed_at=now)
    return values


def exists(session: Session, key: str) -> Outbox | None:
    return session.exec(select(Outbox).where(Outbox.key == key)).first()


def unsent(session: Session, *, keys: list[str] | None = None, kind: str | None = None,
           since: datetime | None = None) -> list[int]:
    """Ids of rows still owed (waiting, or claimed by a sender that may have died), by key or by
    kind and age, oldest first. A run that finds its messages already queued sends them if it
    can, rather than leave them to the retry sweep of a process that may not be running (as
    with `pmbot digest` from cron)."""
    if keys is not None and not keys:
        return []
    stmt = select(Outbox.id).where(col(Outbox.status).in_([OutboxStatus.pending, OutboxStatus.sending]))
    if keys is not None:
        stmt = stmt.where(col(Outbox.key).in_(keys))
    if kind is not None:
        stmt = stmt.where(Outbox.kind == kind)
    if since is not None:
        stmt = stmt.where(col(Outbox.created_at) >= since)
    return [i for i in session.exec(stmt.order_by(col(Outbox.id))) if i is not None]


def claim(session: Session, outbox_id: int, *, worker: str, now: datetime,
          claim_timeout: timedelta = CLAIM_TIMEOUT) -> bool:
    """Take the row for sending; True for exactly one caller. A claim older than
    `claim_timeout` is considered abandoned (its process died) and can be taken over."""
    return session.execute(_claim(outbox_id, worker=worker, now=now, claim_timeout=claim_timeout)).rowcount == 1


def claim_row(session: Session, outbox_id: int, *, worker: str, now: datetime,
              claim_timeout: timedelta = CLAIM_TIMEOUT) -> Owed | None:
    """`claim`, returning the claimed row as it is now (the same UPDATE, with RETURNING: no
    second round trip; Core, prepared once), or None when another caller has it. The row
    returned is not in the session."""
    found = session.execute(_CLAIM_RETURNING, {
        "b_id": outbox_id, "b_now": now, "b_stale": now - claim_timeout, "b_worker": worker,
        "b_pending": OutboxStatus.pending.value, "b_sending": OutboxStatus.sending.value,
    }).first()
    return None if found is None else Owed(**found._mapping)


def _claim(outbox_id: int, *, worker: str, now: datetime, claim_timeout: timedelta) -> Any:
    stale = now - claim_timeout
    return (
        update(Outbox)
        .where(
            col(Outbox.id) == outbox_id,
            col(Outbox.not_before) <= now,
            or_(
                col(Outbox.status) == OutboxStatus.pending,
                and_(col(Outbox.status) == OutboxStatus.sending, col(Outbox.claimed_at) < stale),
            ),
        )
        .values(status=OutboxStatus.sending, claimed_by=worker, claimed_at=now, attempts=Outbox.attempts + 1)
    )


def holder(session: Session, outbox_id: int) -> str | None:
    """Who is sending the row now (its claim's holder), or None when nobody is."""
    return session.execute(core_select(_T.c.claimed_by).where(
        _T.c.id == outbox_id, _T.c.status == OutboxStatus.sending.value)).scalar()


def pending_update(session: Session, target: str) -> int | None:
    """The id of a queued in-place update of `target` not yet taken by a sender (it will draw
    the newest state when sent, so a newer change needs no second one)."""
    return session.execute(_PENDING_UPDATE, {"b_target": target, "b_pending": OutboxStatus.pending.value}).scalar()


def claims_in_flight(session: Session, *, now: datetime, claim_timeout: timedelta = CLAIM_TIMEOUT,
                     keys: list[str] | None = None) -> list[Outbox]:
    """Rows claimed by a sender whose claim has not timed out yet (it may still be working)."""
    stmt = select(Outbox).where(Outbox.status == OutboxStatus.sending, col(Outbox.claimed_at) >= now - claim_timeout)
    if keys is not None:
        stmt = stmt.where(col(Outbox.key).in_(keys))
    return list(session.exec(stmt.order_by(col(Outbox.id))))


def release_claims_of(session: Session, workers: list[str]) -> int:
    """Put back the rows claimed by processes that are gone (found dead on this host)."""
    if not workers:
        return 0
    return session.execute(
        update(Outbox)
        .where(col(Outbox.status) == OutboxStatus.sending, col(Outbox.claimed_by).in_(workers))
        .values(status=OutboxStatus.pending, claimed_by=None, claimed_at=None)
    ).rowcount


def release_claims(session: Session, claims: list[tuple[int, str | None]]) -> int:
    """Put back rows whose sender is known to be gone (on PostgreSQL its process's lock is free): (id, holder)
    pairs, so a row claimed anew meanwhile by a live sender is left alone."""
    released = 0
    for outbox_id, holder in claims:
        released += session.execute(
            update(Outbox)
            .where(col(Outbox.id) == outbox_id, col(Outbox.status) == OutboxStatus.sending,
                   col(Outbox.claimed_by) == holder)
            .values(status=OutboxStatus.pending, claimed_by=None, claimed_at=None)
        ).rowcount
    return released


def mark_sent(session: Session, outbox_id: int, *, ts: str | None, now: datetime, worker: str | None = None,
              channel_id: str | None = None, rendered_hash: str | None = None) -> bool:
    """Record a send. Fenced by the claim when `worker` is given: a sender whose claim was taken
    over (it outlived the claim timeout) records nothing; False then."""
    stmt = _MARK_SENT if worker is None else _MARK_SENT_FENCED
    return session.execute(stmt, {
        "b_id": outbox_id, "b_ts": ts, "b_now": now, "b_channel": channel_id, "b_hash": rendered_hash,
        "b_worker": worker, "b_sent": OutboxStatus.sent.value, "b_sending": OutboxStatus.sending.value,
    }).rowcount == 1


def mark_sent_all(session: Session, sends: list[tuple[int, str | None, str | None, str | None]], *,
                  now: datetime, worker: str) -> dict[int, bool]:
    """Record several sends of this `worker`'s claims at once: (id, ts, channel, rendered hash)
    each, in ONE statement (issue 13: an UPDATE per row and a read per target before). Returns,
    for each row recorded (a claim taken over meanwhile records nothing), whether a message about
    the same target was queued after it: the record it shows changed since it was drawn."""
    if not sends:
        return {}
    stmt = _mark_sent_all(len(sends))
    params: dict[str, Any] = {"b_now": now, "b_worker": worker, "b_sent": OutboxStatus.sent.value,
                              "b_sending": OutboxStatus.sending.value}
    for n, (outbox_id, ts, channel, rendered_hash) in enumerate(sends):
        params.update({f"i{n}": outbox_id, f"t{n}": ts, f"c{n}": channel, f"h{n}": rendered_hash})
    return {outbox_id: bool(later) for outbox_id, later in session.execute(stmt, params)}


@cache
def _mark_sent_all(rows: int) -> Any:
    """`mark_sent_all`'s statement for this many rows, built once (bound parameters i0, t0, …)."""
    ids = [bindparam(f"i{n}", type_=_T.c.id.type) for n in range(rows)]

    def by_row(column: Any, prefix: str) -> Any:
        return case(*[(_T.c.id == ids[n], bindparam(f"{prefix}{n}", type_=column.type)) for n in range(rows)])

    later = _T.alias("later")
    # RETURNING names the updated table's columns unqualified: inside the subquery they would
    # be the alias's own, so the outer row is named in full
    moved_on = core_exists().where(later.c.target == literal_column("outbox.target"),
                                   later.c.id > literal_column("outbox.id"))
    return (
        update(_T)
        .where(_T.c.id.in_(ids), _T.c.claimed_by == bindparam("b_worker"), _T.c.status == bindparam("b_sending"))
        .values(status=bindparam("b_sent"), sent_at=bindparam("b_now"), last_error=None,
                message_ts=by_row(_T.c.message_ts, "t"),
                channel_id=func.coalesce(by_row(_T.c.channel_id, "c"), _T.c.channel_id),
                rendered_hash=func.coalesce(by_row(_T.c.rendered_hash, "h"), _T.c.rendered_hash))
        .returning(_T.c.id, moved_on)
    )


def unclaim(session: Session, outbox_id: int, *, worker: str) -> bool:
    """Give a row this worker just claimed back, as if it had not been claimed (not an attempt)."""
    return session.execute(
        update(Outbox)
        .where(col(Outbox.id) == outbox_id, col(Outbox.claimed_by) == worker,
               col(Outbox.status) == OutboxStatus.sending)
        .values(status=OutboxStatus.pending, claimed_by=None, claimed_at=None, attempts=Outbox.attempts - 1)
    ).rowcount == 1


def postpone(session: Session, outbox_id: int, *, until: datetime, worker: str, reason: str) -> bool:
    """Give a claimed row back to the queue until `until`, not counted as a failure (it waits for
    another row, e.g. a digest for its chart). Fenced by the claim."""
    return session.execute(
        update(Outbox)
        .where(col(Outbox.id) == outbox_id, col(Outbox.claimed_by) == worker,
               col(Outbox.status) == OutboxStatus.sending)
        .values(status=OutboxStatus.pending, claimed_by=None, claimed_at=None, not_before=until,
                last_error=reason[:2000], attempts=Outbox.attempts - 1)
    ).rowcount == 1


def backoff(attempts: int, *, jitter: float | None = None) -> timedelta:
    """Capped exponential back-off with jitter (±20 %), so many rows do not retry in step."""
    base = min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_CAP)
    spread = random.uniform(-0.2, 0.2) if jitter is None else jitter
    return timedelta(seconds=base * (1 + spread))


def mark_failed(session: Session, outbox_id: int, *, error: str, now: datetime, permanent: bool,
                token: bool = False, retry_for: timedelta = RETRY_FOR) -> str:
    """Record a failure and say what becomes of the row: "retry" (a passing failure, tried again
    with back-off for `retry_for` after it was queued), "paused" (Slack rejected our token: kept,
    tried again every minute until an operator fixes the token) or "failed" (a permanent error,
    or retried for too long: stopped, and made visible to the PM and `pmbot outbox list`)."""
    row = session.get(Outbox, outbox_id)
    if row is None:
        return "failed"
    row.last_error = error[:2000]
    if token:
        outcome, row.not_before = "paused", now + TOKEN_PAUSE
        row.attempts = max(row.attempts - 1, 0)  # not the row's fault
    elif permanent or now - row.created_at >= retry_for:
        outcome = "failed"
    else:
        outcome, row.not_before = "retry", now + backoff(row.attempts)
    row.status = OutboxStatus.failed if outcome == "failed" else OutboxStatus.pending
    session.add(row)
    session.flush()
    return outcome


def failed(session: Session, *, project_id: int | None = None, key: str | None = None) -> list[Outbox]:
    """Rows that were given up on, newest first (for `pmbot outbox list`, the App Home, the PM)."""
    stmt = select(Outbox).where(Outbox.status == OutboxStatus.failed)
    if project_id is not None:
        stmt = stmt.where(Outbox.project_id == project_id)
    if key is not None:
        stmt = stmt.where(Outbox.key == key)
    return list(session.exec(stmt.order_by(col(Outbox.id).desc())))


def requeue(session: Session, *, now: datetime, key: str | None = None) -> int:
    """Put failed rows (all, or the one with `key`) back in the queue: `pmbot outbox retry`."""
    stmt = update(Outbox).where(col(Outbox.status) == OutboxStatus.failed)
    if key is not None:
        stmt = stmt.where(col(Outbox.key) == key)
    return session.execute(stmt.values(status=OutboxStatus.pending, not_before=now, created_at=now,
                                       attempts=0, claimed_by=None, claimed_at=None)).rowcount


def due(session: Session, *, now: datetime, limit: int = 200,
        claim_timeout: timedelta = CLAIM_TIMEOUT) -> list[int]:
    """Ids of rows waiting to be sent (or abandoned mid-send), oldest first."""
    stale = now - claim_timeout
    stmt = (
        select(Outbox.id)
        .where(
            col(Outbox.not_before) <= now,
            or_(
                col(Outbox.status) == OutboxStatus.pending,
                and_(col(Outbox.status) == OutboxStatus.sending, col(Outbox.claimed_at) < stale),
            ),
        )
        .order_by(col(Outbox.id))
        .limit(limit)
    )
    return [i for i in session.exec(stmt) if i is not None]


def skip_pending_posts(session: Session, target: str, *, now: datetime) -> int:
    """Posts of `target` still waiting for a retry are superseded by a newer post of the same
    message (sent again after changes): skipped, so two copies never both go out."""
    result = session.execute(
        update(Outbox)
        .where(col(Outbox.target) == target, col(Outbox.method) == "chat.postMessage",
               col(Outbox.status) == OutboxStatus.pending)
        .values(status=OutboxStatus.skipped, sent_at=now, last_error="superseded")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
