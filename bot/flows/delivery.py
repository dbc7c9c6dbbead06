"""The outbox sender: claim a row, draw it, send it, record it, refresh what moved on since.

- A row that names a target is rendered from the record *now*; a row with a payload is sent
  as stored. An update of a message that was never posted has nothing to do.
- After a target's message is sent, it is drawn again: if the record changed while the message
  was on its way (another process, a retry landing late), another update is queued, so the last
  state Slack shows is always a rendering of the current record, whatever order sends land in.
- Failures are recorded on the row and retried by the scheduler's sweep (`deliver_due`).

The sender opens its own short transactions (claim, read, record), apart from the unit of work
of the flow that queued the rows: a claim must be committed before Slack is called.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from sqlmodel import Session, col, select

from bot.db import holds_turn, session_scope, writer_turn
from bot.deps import Deps
from bot.flows import claim_locks
from bot.flows.messages import Registry, Rendered, WaitFor, registry
from bot.flows.outbox_keys import Kind, parse_target, update
from bot.group_commit import GroupCommit
from bot.models import Outbox, OutboxStatus
from bot.services import outbox
from bot.shutdown import stop_requested
from bot.slack.post import PERMANENT_ERRORS, TOKEN_ERRORS, error_code, open_dm, send
from bot.workers import is_dead

log = logging.getLogger(__name__)

DELIVERY_THREADS = 8
CHANNEL_POSTS = frozenset({"chat.postMessage", "chat.postEphemeral"})  # about one a second per channel
WAIT_AGAIN = timedelta(seconds=30)  # a row waiting for another is tried again after this
WAIT_POLLS = 300  # … after waiting up to 30 s (0.1 s each) for another sender to finish that one


def claim_timeout(deps: Deps) -> timedelta:
    return timedelta(seconds=deps.settings.claim_timeout_seconds)


def _retry_for(deps: Deps) -> timedelta:
    return timedelta(hours=deps.settings.outbox_retry_hours)


def _draw(reg: Registry, session, row: Outbox, now: datetime) -> Rendered | None:
    """What to send for `row` now; None when there is nothing to send any more. Raises
    `WaitFor` when the row waits for another one (its `after_key`) still on its way."""
    target = parse_target(row.target)
    if target is None:
        payload = dict(row.payload)
        prepare = reg.prepare.get(row.kind)
        if prepare is not None:
            first = outbox.exists(session, row.after_key) if row.after_key else None
            payload = prepare(session, row, payload, first, now)
        return Rendered(channel_id=row.channel_id, payload=payload)
    render = reg.live.get(target.kind)
    if render is None:
        log.error("no renderer for %s (outbox %s)", row.target, row.key)
        return None
    drawn = render(session, target)
    if drawn is None:
        return None
    if row.method == "chat.update":
        return drawn if drawn.ts else None  # not posted yet: the post will draw the newest state
    return Rendered(channel_id=drawn.channel_id or row.channel_id, payload=drawn.payload)


def deliver(deps: Deps, outbox_id: int, *, reg: Registry | None = None) -> bool:
    """Claim, send and record one row. True when this call sent it. On PostgreSQL a row whose
    sender is gone (its process's lock is free, `claim_locks`) is taken over at once."""
    claim_locks.hold(deps.engine, deps.worker)
    return _deliver(deps, outbox_id, reg or registry(), claim_timeout(deps))


def _deliver(deps: Deps, outbox_id: int, reg: Registry, timeout: timedelta) -> bool:
    # Claim and draw in one transaction (issue 13: one transaction less per message; on SQLite
    # every transaction takes the write lock). A row that waits for another one (a digest for
    # its chart) is drawn after that one went out, in a transaction of its own.
    waiting: WaitFor | None = None
    drawn: Rendered | None = None
    with session_scope(deps.engine) as session:
        row = outbox.claim_row(session, outbox_id, worker=deps.worker, now=deps.clock.now(),
                               claim_timeout=timeout) or _take_over(deps, session, outbox_id)
        if row is None:
            return False
        first = _owed_first(session, row)
        if first is None:
            drawn, waiting = _drawn(reg, session, row, deps)
    if first is not None:
        _send_first(deps, first, reg)
        with session_scope(deps.engine) as session:
            drawn, waiting = _drawn(reg, session, row, deps)
    if waiting is not None:
        with session_scope(deps.engine) as session:
            outbox.postpone(session, outbox_id, until=deps.clock.now() + WAIT_AGAIN, worker=deps.worker,
                            reason=str(waiting))
        log.info("%s waits: %s", row.key, waiting)
        return False
    if drawn is None:
        return False  # nothing to send any more (recorded as sent)
    return _send_drawn(deps, row, drawn, reg)


def _take_over(deps: Deps, session: Session, outbox_id: int) -> outbox.Owed | None:
    """On PostgreSQL, claim a row whose sender is gone (its lock is free) without waiting out
    the claim timeout; None when it is not being sent, or its sender is alive."""
    if not claim_locks.applies(deps.engine):
        return None
    holder = outbox.holder(session, outbox_id)
    if holder is None or holder == deps.worker or not claim_locks.gone(deps.engine, session.connection(), [holder]):
        return None
    if not outbox.release_claims(session, [(outbox_id, holder)]):
        return None
    return outbox.claim_row(session, outbox_id, worker=deps.worker, now=deps.clock.now(),
                            claim_timeout=claim_timeout(deps))


def _send_drawn(deps: Deps, row: Outbox, drawn: Rendered, reg: Registry) -> bool:
    """Send a claimed, drawn row and record it (or its failure). True when it was sent."""
    posted = _post(deps, row, drawn)
    if posted is None:
        return False
    with session_scope(deps.engine) as session:
        recorded = _record(deps, reg, session, [posted])
    for p, follow_up in recorded:
        _after_recorded(deps, reg, p, follow_up)
    return bool(recorded)


@dataclass
class _Posted:
    """A row Slack took: where, and the message's ts."""

    row: Outbox
    drawn: Rendered
    channel: str | None
    ts: str | None


def _post(deps: Deps, row: Outbox, drawn: Rendered) -> _Posted | None:
    """Send a claimed, drawn row. A failure is recorded on the row (its own transaction) and
    gives None."""
    outbox_id = row.id
    try:
        channel = drawn.channel_id
        if channel is None and row.user_id:
            channel = open_dm(deps, row.user_id)
        payload = {**drawn.payload, "ts": drawn.ts} if drawn.ts else drawn.payload
        ts = send(deps, method=row.method, channel=channel, payload=payload, key=row.key, retried=row.attempts > 1,
                  since=row.created_at)
    except SlackApiError as err:
        code = error_code(err)
        with session_scope(deps.engine) as session:
            outcome = outbox.mark_failed(session, outbox_id, error=code or str(err), now=deps.clock.now(),
                                         permanent=code in PERMANENT_ERRORS, token=code in TOKEN_ERRORS,
                                         retry_for=_retry_for(deps))
        if outcome == "paused":
            log.error("Slack rejected the bot token (%s): nothing can be sent until SLACK_BOT_TOKEN is fixed;"
                      " queued messages are kept", code)
        else:
            log.warning("sending %s failed: %s (%s)", row.key, code or err, outcome)
        return None
    except Exception as err:  # connection errors after the client's own retries
        log.exception("sending %s failed", row.key)
        with session_scope(deps.engine) as session:
            outbox.mark_failed(session, outbox_id, error=repr(err), now=deps.clock.now(), permanent=False,
                               retry_for=_retry_for(deps))
        return None
    return _Posted(row, drawn, channel, ts)


def _record(deps: Deps, reg: Registry, session, posted: list[_Posted]) -> list[tuple[_Posted, int | None]]:
    """Record sent rows in `session`, in one statement: each row recorded (one whose claim was
    taken over meanwhile is not: its new holder records it) with the update owed when its
    record moved on."""
    moved_on = outbox.mark_sent_all(session, [(p.row.id, p.ts, p.channel, p.drawn.digest()) for p in posted],
                                    now=deps.clock.now(), worker=deps.worker)
    recorded: list[tuple[_Posted, int | None]] = []
    for p in posted:
        if p.row.id not in moved_on:
            continue
        row = p.row
        row.message_ts, row.channel_id = p.ts, p.channel
        hook = reg.after_sent.get(row.kind)
        if hook is not None:
            hook(session, row, p.ts)
        follow_up = _refresh_if_moved_on(reg, session, row, p.drawn, deps) if moved_on[row.id] else None
        recorded.append((p, follow_up))
    return recorded


def _after_recorded(deps: Deps, reg: Registry, posted: _Posted, follow_up: int | None) -> None:
    row = posted.row
    then = reg.after_posted.get(row.kind)
    if then is not None and posted.ts and row.method == "chat.postMessage":
        then(deps, row, posted.ts)
    if follow_up is not None:
        deliver(deps, follow_up, reg=reg)


@dataclass
class Claimed:
    """The messages a unit of work claimed and drew in its own transaction, to send once it has
    committed (`claim_owed`, `send_claimed`)."""

    rows: list[tuple[Outbox, Rendered]] = field(default_factory=list)
    left: list[int] = field(default_factory=list)  # owed rows to deliver the usual way
    at: datetime | None = None  # when `rows` were claimed


def claim_owed(deps: Deps, session, outbox_ids: list[int], *,
               preclaimed: dict[int, outbox.Owed] | None = None) -> Claimed:
    """Claim and draw the rows a unit owes, in the unit's own transaction (issue 13: a Confirm
    click took two transactions more per message to claim and draw them after the commit).
    They commit claimed by this process: if it dies before sending them, they are taken over as
    any claim of a dead sender is (its lock dies with it on PostgreSQL; on SQLite, a dead
    process's claims are released, or time out). Rows that wait for another one (`after_key`),
    or that another sender has, are left to `deliver` after the commit. The rows the unit
    stored already claimed (`preclaimed`, new in this transaction: nobody else can see them)
    are taken as they are."""
    mine = preclaimed or {}
    claimed = Claimed(at=deps.clock.now())
    reg = registry()
    claim_locks.hold(deps.engine, deps.worker)  # before the claims commit: they must look alive
    for outbox_id in outbox_ids:
        row = mine.get(outbox_id) or outbox.claim_row(session, outbox_id, worker=deps.worker, now=deps.clock.now(),
                                                       claim_timeout=claim_timeout(deps))
        if row is None:
            claimed.left.append(outbox_id)  # another sender has it (a pending update it is sending)
            continue
        if _owed_first(session, row) is not None:  # a digest whose chart is owed too: after the chart
            outbox.unclaim(session, outbox_id, worker=deps.worker)
            claimed.left.append(outbox_id)
            continue
        drawn, wait = _drawn(reg, session, row, deps)
        if drawn is not None:
            claimed.rows.append((row, drawn))
            continue
        if wait is not None:
            outbox.postpone(session, outbox_id, until=deps.clock.now() + WAIT_AGAIN, worker=deps.worker,
                            reason=str(wait))
    return claimed


Recorded = list[tuple[_Posted, int | None]]
# Per process sender (engine, worker, clock): the records of what its threads sent.
_RECORDS: dict[tuple[int, str, int], GroupCommit[list[_Posted], Recorded]] = {}
_RECORDS_LOCK = threading.Lock()


def _records_of(deps: Deps) -> GroupCommit[list[_Posted], Recorded]:
    key = (id(deps.engine), deps.worker, id(deps.clock))
    with _RECORDS_LOCK:
        return _RECORDS.setdefault(key, GroupCommit())


def record_sent(deps: Deps, reg: Registry, posted: list[_Posted]) -> Recorded:
    """Record what this thread sent, in one transaction with what other threads of this sender
    sent meanwhile (bot/group_commit.py): under load one transaction records the sends of
    several units of work. Inside a transaction of its own (a nested unit) a thread records
    alone: it must not wait for a batch that waits for its turn."""
    if holds_turn(deps.engine):
        with session_scope(deps.engine) as session:
            return _record(deps, reg, session, posted)

    def write(batches: list[list[_Posted]]) -> list[Recorded]:
        with session_scope(deps.engine) as session:
            done = {id(p): follow_up for p, follow_up in _record(deps, reg, session, [p for b in batches for p in b])}
        return [[(p, done[id(p)]) for p in batch if id(p) in done] for batch in batches]

    return _records_of(deps).submit(posted, write, ready=lambda: writer_turn(deps.engine))


def send_claimed(deps: Deps, claimed: Claimed) -> set[int]:
    """Send what `claim_owed` claimed (after the unit committed), then the rows it left.
    Returns the ids sent. Claimed rows that waited more than half the claim timeout to be sent
    (bot/flows/after_answer.py) are left to the sweep: another sender may be about to take their
    claims over, and two would send them."""
    reg = registry()
    rows = claimed.rows
    if rows and claimed.at is not None and deps.clock.now() - claimed.at > claim_timeout(deps) / 2:
        log.warning("%d claimed messages waited since %s to be sent: left to the retry sweep, which takes their"
                    " claims over when they time out", len(rows), claimed.at.isoformat())
        rows = []
    posted = [p for row, drawn in rows if (p := _post(deps, row, drawn)) is not None]
    # all of them recorded in one statement (issue 13: a transaction per message before), with
    # other units' under load
    recorded = record_sent(deps, reg, posted) if posted else []
    for p, follow_up in recorded:
        _after_recorded(deps, reg, p, follow_up)
    sent = {p.row.id for p, _ in recorded}
    return sent | {i for i in claimed.left if deliver(deps, i, reg=reg)}


def _drawn(reg: Registry, session, row: Outbox, deps: Deps) -> tuple[Rendered | None, WaitFor | None]:
    """What to send for the claimed `row` now, or what it waits for. A row with nothing to send
    any more is recorded as sent, in the same transaction."""
    try:
        drawn = _draw(reg, session, row, deps.clock.now())
    except WaitFor as wait:
        return None, wait
    if drawn is None:
        outbox.mark_sent(session, row.id, ts=None, now=deps.clock.now(), worker=deps.worker)
    return drawn, None


def _send_first(deps: Deps, outbox_id: int, reg: Registry, polls: int = WAIT_POLLS) -> None:
    """Send row `outbox_id` (a digest's chart) before the row that waits for it: ourselves, or,
    while another live sender has it, wait a little for that one to finish. Each poll tries to
    take it over, so a claim left by a sender that died meanwhile does not hold us up. A row
    still `pending` counts as under way: another sender may be about to claim it (giving up
    then left the digest postponed past the end of a one-shot `pmbot digest`)."""
    for _ in range(polls):
        if deliver(deps, outbox_id, reg=reg):
            return
        with session_scope(deps.engine) as session:
            row = session.get(Outbox, outbox_id)
            if row is None or row.status not in (OutboxStatus.pending, OutboxStatus.sending):
                return
            if row.status == OutboxStatus.pending and row.not_before > deps.clock.now():
                return  # postponed (a failed upload waits for its retry): nobody is sending it now
        time.sleep(0.1)


def _owed_first(session, row: Outbox) -> int | None:
    """The row `row` waits for (its `after_key`), when that one is still owed."""
    if not row.after_key:
        return None
    first = outbox.exists(session, row.after_key)
    if first is None or first.status not in (OutboxStatus.pending, OutboxStatus.sending):
        return None
    return first.id


def _refresh_if_moved_on(reg: Registry, session, row: Outbox, sent: Rendered, deps: Deps) -> int | None:
    """Queue another update when the record changed while `row` was on its way. Every change of
    a record its live message shows owes an update of that message (`Unit.refresh`), so a change
    committed since `row` was claimed and drawn left a newer row for the target (`_record` asks
    while it records the send): only then is the message drawn again and compared (drawing it
    after every send cost a Confirm click a tenth of its CPU, issue 13)."""
    target = parse_target(row.target)
    if target is None or target.kind not in reg.live:
        return None
    now = reg.live[target.kind](session, target)
    if now is None or not now.ts or now.digest() == sent.digest():
        return None
    if outbox.pending_update(session, str(row.target)) is not None:
        return None
    fresh = outbox.enqueue(session, key=update(str(row.target)), team_id=row.team_id, kind=Kind.update,
                           payload={}, now=deps.clock.now(), project_id=row.project_id, method="chat.update",
                           target=row.target)
    return fresh.id


def deliver_now(deps: Deps, outbox_ids: Iterable[int | None]) -> int:
    """Send what a flow just queued, one after the other; what fails stays queued."""
    return sum(deliver(deps, i) for i in outbox_ids if i)


def deliver_many(deps: Deps, outbox_ids: Iterable[int | None], *, threads: int = DELIVERY_THREADS) -> int:
    """Send many rows concurrently across channels, in order within each channel (one sender
    per channel keeps Slack's per-channel pace). A 429 pauses every sender of the process
    (see `RateGates`). When the process is asked to stop, each sender stops between two
    messages and the rest stays queued. Returns how many this call sent."""
    wanted = [i for i in outbox_ids if i]
    if not wanted:
        return 0
    with Lanes(deps, threads=threads) as lanes:
        lanes.add(wanted)
    return lanes.sent


class Lanes:
    """The senders of `deliver_many`, fed while they send: a flow that commits its rows batch
    by batch hands each committed batch to `add`, and the first messages go out while the next
    batch is built. One lane per channel (or DM), sent in order of the rows' ids; up to
    `threads` lanes at once. `close` (or leaving the `with` block) waits for every lane.

        with Lanes(deps) as lanes:
            for batch in batches:
                lanes.add(queue_and_commit(batch))  # only committed rows: a claim needs them
        sent = lanes.sent

    A single lane (or `threads=1`) is sent by the caller's own thread, at `close`."""

    def __init__(self, deps: Deps, *, threads: int = DELIVERY_THREADS) -> None:
        self.deps = deps
        self.sent = 0
        self._threads = threads
        self._reg = registry()
        self._cond = threading.Condition()
        self._queued: dict[str, deque[tuple[int, str]]] = {}  # lane -> (row, method) not yet taken, in order
        self._ready: deque[str] = deque()  # lanes with rows and no sender
        self._last: dict[str, float] = {}  # lane -> when its last message was posted
        self._workers: list[threading.Thread] = []
        self._closed = False
        self._error: BaseException | None = None
        self._released = False  # claims of dead senders taken back (once, before the first rows)

    def __enter__(self) -> Lanes:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def add(self, outbox_ids: Iterable[int | None]) -> None:
        """Queue committed rows for sending."""
        wanted = [i for i in outbox_ids if i]
        if not wanted:
            return
        if not self._released:
            release_dead_claims(self.deps)
            self._released = True
        with session_scope(self.deps.engine) as session:
            rows = session.exec(select(Outbox.id, Outbox.channel_id, Outbox.user_id, Outbox.method)
                                .where(col(Outbox.id).in_(wanted))).all()
        with self._cond:
            for row_id, channel, user, method in sorted(rows, key=lambda r: r[0] or 0):
                lane = channel or f"dm:{user}"
                queue = self._queued.get(lane)
                if queue is None:  # neither waiting nor being sent
                    queue = self._queued[lane] = deque()
                    self._ready.append(lane)
                queue.append((row_id or 0, method))
            if self._threads > 1 and len(self._queued) > 1:
                while len(self._workers) < min(self._threads, len(self._queued)):
                    worker = threading.Thread(target=self._work, name=f"pmbot-send-{len(self._workers)}")
                    self._workers.append(worker)
                    worker.start()
            self._cond.notify_all()

    def wait_below(self, rows: int) -> None:
        """Block while more than `rows` rows wait for a sender: a flow that builds what it sends
        need not build far ahead (its work slows the senders down)."""
        with self._cond:
            while self._workers and self._waiting() > rows and not stop_requested():
                self._cond.wait(timeout=1.0)

    def _waiting(self) -> int:
        return sum(len(q) for q in self._queued.values())

    def close(self) -> int:
        """Wait until every lane is sent (or stopped); returns how many messages went."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for worker in self._workers:
            worker.join()
        self._work()  # no workers (a single lane): this thread sends it
        if self._error is not None:
            raise self._error
        return self.sent

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._ready and not self._closed:
                    self._cond.wait()
                if not self._ready:
                    return
                lane = self._ready.popleft()
            try:
                self._send_lane(lane)
            except BaseException as err:  # the lane's other rows stay queued for the retry sweep
                with self._cond:
                    self._queued.pop(lane, None)
                    self._error = self._error or err

    def _send_lane(self, lane: str) -> None:
        interval = self.deps.channel_interval  # seconds between two messages to the same channel
        while True:
            with self._cond:
                queue = self._queued[lane]
                if not queue:
                    del self._queued[lane]  # the next row of this lane starts it again
                    return
                row_id, method = queue.popleft()
                self._cond.notify_all()  # one fewer waiting (`wait_below`)
                if stop_requested():
                    log.warning("stopping: %d message(s) of this channel left for the next run", len(queue) + 1)
                    del self._queued[lane]
                    return
            posts = method in CHANNEL_POSTS  # (a digest chart's upload is no message in the channel)
            gap = self._last.get(lane, -interval) + interval - time.monotonic()
            if posts and gap > 0:  # Slack's pace within one channel: about one message per second
                time.sleep(gap)
            sent = deliver(self.deps, row_id, reg=self._reg)  # paced by `deps.gate` as it posts
            if posts:
                self._last[lane] = time.monotonic()  # Slack had it before it answered
            with self._cond:
                self.sent += sent


def release_dead_claims(deps: Deps, keys: list[str] | None = None) -> int:
    """Take back at once the claims of senders that died (no need to wait out the claim
    timeout): on this host by their process, on PostgreSQL from any host by their advisory lock.
    Their rows are queued again. Returns how many rows were released."""
    with session_scope(deps.engine) as session:
        held = outbox.claims_in_flight(session, now=deps.clock.now(), claim_timeout=claim_timeout(deps), keys=keys)
        dead = sorted({r.claimed_by for r in held if r.claimed_by and is_dead(r.claimed_by)})
        released = outbox.release_claims_of(session, dead)
        others = {r.claimed_by for r in held if r.claimed_by} - {*dead, deps.worker}
        lost = claim_locks.gone(deps.engine, session.connection(), others)
        if lost:  # PostgreSQL: senders of any host whose lock is free
            released += outbox.release_claims(session, [(r.id, r.claimed_by) for r in held
                                                        if r.id and r.claimed_by in lost])
            dead = sorted({*dead, *lost})
    if released:
        log.warning("took back %d message(s) claimed by %d process(es) that died", released, len(dead))
    return released


def deliver_due(deps: Deps, limit: int = 500, *, keep: Callable[[Session, list[int]], list[int]] | None = None
                ) -> int:
    """Send whatever is waiting (the retry sweep); `keep` may hold some back for now (the
    scheduler holds scheduled messages outside their project's working hours). Returns how
    many were sent."""
    release_dead_claims(deps)
    with session_scope(deps.engine) as session:
        ids = outbox.due(session, now=deps.clock.now(), limit=limit, claim_timeout=claim_timeout(deps))
        if keep is not None:
            ids = keep(session, ids)
    return deliver_many(deps, ids)


def last_error(deps: Deps, outbox_id: int) -> str | None:
    """Why a row is not sent (yet): its last error, or None once it is sent (the sender's own
    read, for a flow that tells the user its post failed and will be retried)."""
    with session_scope(deps.engine) as session:
        row = session.get(Outbox, outbox_id)
        if row is None or row.status in ("sent", "skipped"):
            return None
        return row.last_error or row.status
