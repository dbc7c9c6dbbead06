"""The unit of work of a flow: one session scope, one "now", and the messages it owes.

    with unit_of_work(deps) as u:
        req = requirements.confirm(u.session, u.clock, ...)
        u.refresh(outbox_keys.target(TargetKind.requirement, req.id), project)
    # committed; what `u` owes has been delivered (or left queued for the retry sweep)

Everything a flow changes and every message it owes commit together; delivery starts only
after the commit, so Slack never shows what the database does not hold.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec, Protocol, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session

from bot.clock import Clock
from bot.db import holds_any_turn, insert_ignore, tables_written
from bot.deps import Deps
from bot.flows import after_answer
from bot.flows.outbox_keys import Kind, update
from bot.models import Project, Submission
from bot.services import outbox

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Unit:
    deps: Deps
    session: Session
    now: datetime
    owed: list[int] = field(default_factory=list)
    sent: set[int] = field(default_factory=set)  # after delivery: which owed rows this unit sent
    sends: bool = False  # sends what it owes after the commit: new rows are stored claimed
    claimed: dict[int, outbox.Owed] = field(default_factory=dict)  # … those rows, by id
    sends_after_answer: bool = False  # `after_the_answer`

    @property
    def clock(self) -> Clock:
        return self.deps.clock

    @property
    def team_id(self) -> str:
        return self.deps.workspace.team_id

    def owe(self, *, key: str, kind: str, project: Project | None = None, channel_id: str | None = None,
            user_id: str | None = None, payload: dict[str, Any] | None = None, target: str | None = None,
            method: str = "chat.postMessage", deliver: bool = True, after_key: str | None = None) -> outbox.Owed:
        """Queue a message in this unit's transaction (once per key). A row with a `target`
        and no payload is rendered from the record when it is sent."""
        claim = self.sends and deliver
        row = outbox.enqueue(self.session, key=key, team_id=project.team_id if project else self.team_id,
                             kind=kind, payload=payload or {}, now=self.now, channel_id=channel_id,
                             user_id=user_id, project_id=project.id if project else None, method=method,
                             target=target, after_key=after_key, claim_for=self.deps.worker if claim else None)
        if row.id is not None and deliver:
            self._track(row, claimed=claim)
        return row

    def _track(self, row: outbox.Owed, *, claimed: bool) -> None:
        """Remember a row this unit owes: to send after the commit (stored claimed when new)."""
        if claimed and row.inserted:
            self.claimed[row.id] = row
            self.owed.append(row.id)
        elif row.status == "pending":
            self.owed.append(row.id)

    def after_the_answer(self) -> None:
        """What this unit owes may be sent once the person who asked has their answer, when the
        request is served by `answering` (bot/handlers/routes.py). For use cases whose answer
        does not depend on the sending (a decision: its note says what was recorded): against
        Slack's real latency the clicker's note no longer waits for two Web API round trips
        (the live message's update, the team's notice). The rows are claimed in the unit's
        transaction as ever, so nothing is lost if the process dies before they are sent."""
        self.sends_after_answer = True

    def first_submission(self, view_id: str | None, callback_id: str = "") -> bool:
        """Remember that this modal submission saves something; False when the same view was
        already saved (Slack's resubmit after a slow answer): answer "already saved" then. The
        mark commits or rolls back with the rest of the unit, so a refused form can be sent again."""
        if not view_id:
            return True
        return insert_ignore(self.session, Submission, {"view_id": view_id[:64], "team_id": self.team_id,
                                                        "callback_id": callback_id[:64], "created_at": self.now},
                             ["view_id"])

    def refresh(self, target: str, project: Project | None = None) -> None:
        """Update a target's message in place from the record (once it has been posted). A
        pending update of the same message already draws the newest state: no second one."""
        if any(row.target == target and row.method == "chat.update" for row in self.claimed.values()):
            return
        team_id = project.team_id if project else self.team_id
        row = outbox.enqueue_update(self.session, key=update(target), team_id=team_id, kind=Kind.update, target=target,
                                    now=self.now, project_id=project.id if project else None,
                                    claim_for=self.deps.worker if self.sends else None)
        if row is not None:  # else the pending one will draw this change too
            self._track(row, claimed=self.sends)


class AskSlackFirst(Exception):
    """The unit needs what Slack says of some people (their locale) that it did not ask about
    inside its transaction (`defer_lookup`): it is rolled back, to run again once they are known."""


@dataclass
class _Asking:
    missing: set[str] = field(default_factory=set)  # to look up before the unit runs again
    asked: set[str] = field(default_factory=set)  # looked up already: what there is will do
    last: bool = False  # the last run: nobody new is asked about, the fallback does


_asking: ContextVar[_Asking | None] = ContextVar("asking", default=None)


def defer_lookup(user_id: str) -> bool:
    """Inside a transaction of a use case run `asking_slack_first`: do not ask Slack about
    `user_id` now (True). Someone not looked up yet is noted: the caller uses a placeholder,
    since this run of the unit is rolled back and runs again once they are known; someone
    looked up already whom Slack could not tell about gets the caller's fallback. False:
    outside a transaction, or outside such a use case: the caller may ask Slack now."""
    asking = _asking.get()
    if asking is None or not holds_any_turn():
        return False
    if not asking.last and user_id not in asking.asked:
        asking.missing.add(user_id)
    return True


def asking_slack_first(look_up: Callable[[Deps, str], object]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run a use case (its first argument: the `Deps`) so that no transaction of it waits on
    Slack for people's details: a unit that needed someone not looked up yet (`defer_lookup`)
    is rolled back, `look_up` asks Slack about each of them outside any transaction, and the
    use case runs again. Only for use cases that may run again: one unit of work, or idempotent
    ones (the scheduled jobs). A modal submission is remembered by the run that saves it."""

    def wrap(use_case: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(use_case)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            asking = _Asking()  # its own, also inside another such use case: each runs itself again
            token = _asking.set(asking)
            form = submission.get()
            try:
                for _ in range(LOOKUP_ROUNDS):
                    try:
                        return use_case(*args, **kwargs)
                    except AskSlackFirst:
                        pass
                    for user_id in sorted(asking.missing):
                        look_up(args[0], user_id)  # type: ignore[arg-type]
                    asking.asked |= asking.missing
                    asking.missing.clear()
                    submission.set(form)
                asking.last = True
                return use_case(*args, **kwargs)
            finally:
                _asking.reset(token)

        return run

    return wrap


LOOKUP_ROUNDS = 3  # a use case that keeps finding new people runs a last time with placeholders


class AlreadySaved(Exception):
    """This modal (by its view id) was saved before: Slack resubmits a form whose first answer
    came after 3 seconds. Nothing is stored twice; the handler answers "already saved"."""


# The modal submission a request is serving (set by the view dispatcher, bot/handlers/routes.py):
# a unit that stores something for it remembers its view id in the same transaction.
submission: ContextVar[tuple[str, str] | None] = ContextVar("submission", default=None)
_BOOKKEEPING = frozenset({"outbox", "submission"})


class Rider(Protocol):
    """Work a request adds to the units it runs (bot/flows/capture.py: a form opened from a
    Slack message keeps that message as the source of the record it saves): `enter` as each
    unit begins, `leave` before it commits, in the same transaction."""

    def enter(self, unit: Unit) -> None: ...

    def leave(self, unit: Unit) -> None: ...


rider: ContextVar[Rider | None] = ContextVar("rider", default=None)


def _wrote(session: Session) -> None:
    """Track whether a unit stored anything of the record (not just messages it owes)."""

    @event.listens_for(session, "before_flush")
    def _flushed(sess: Session, _ctx: object, _instances: object) -> None:
        if any(getattr(o, "__tablename__", "") not in _BOOKKEEPING for o in (*sess.new, *sess.dirty, *sess.deleted)):
            sess.info["wrote"] = True

    @event.listens_for(session, "do_orm_execute")
    def _executed(state: ORMExecuteState) -> None:
        if any(name not in _BOOKKEEPING for name in tables_written(state)):
            state.session.info["wrote"] = True


def _remember_submission(unit: Unit, current: tuple[str, str]) -> None:
    view_id, callback_id = current
    unit.session.flush()
    if not unit.session.info.get("wrote"):
        return  # refused, or nothing to change: the same form may be sent again
    if not unit.first_submission(view_id, callback_id):
        raise AlreadySaved(view_id)  # a twin submission saved it a moment ago: roll this one back


@contextmanager
def unit_of_work(deps: Deps, *, deliver: bool = True) -> Iterator[Unit]:
    """One session scope for one use case; delivers what it owes after the commit. Serving a
    modal submission that was already saved, it raises `AlreadySaved` (nothing is stored)."""
    current = submission.get()
    if current is not None:
        submission.set(None)  # the first unit of the request is the one that saves the form
    with deps.session() as session:
        unit = Unit(deps=deps, session=session, now=deps.clock.now(), sends=deliver)
        if current is not None:
            _wrote(session)
            if session.get(Submission, current[0][:64]) is not None:
                raise AlreadySaved(current[0])
        extra = rider.get()
        if extra is not None:
            extra.enter(unit)
        yield unit
        if extra is not None:
            extra.leave(unit)
        asking = _asking.get()
        if asking is not None and asking.missing:
            raise AskSlackFirst()
        if current is not None:
            _remember_submission(unit, current)
        claimed = _claim_owed(unit) if deliver and unit.owed else None
    if claimed is not None:  # committed (and SQLite's write turn handed on): send
        from bot.flows.delivery import send_claimed

        later = _after_answer.get() if unit.sends_after_answer else None
        if later is not None:
            later.append(lambda: send_claimed(deps, claimed))
        else:
            unit.sent = send_claimed(deps, claimed)


# Sends that wait until the request being served has its answer (`Unit.after_the_answer`).
_after_answer: ContextVar[list[Callable[[], object]] | None] = ContextVar("after_answer", default=None)


@contextmanager
def answering() -> Iterator[None]:
    """Serve one Slack request: sends its units left for after the answer (`after_the_answer`)
    are handed to the process's pool of senders (bot/flows/after_answer.py) once the block is
    left, i.e. once the listener has answered, however it ended; sent here when too many wait
    there already."""
    later: list[Callable[[], object]] = []
    token = _after_answer.set(later)
    try:
        yield
    finally:
        _after_answer.reset(token)
        if later and not after_answer.pool.hand_over(later):
            after_answer.run_all(later)


def send_after_answer(send: Callable[[], object]) -> None:
    """Run `send` (a delivery of rows a use case queued) once the request being served has its
    answer, from the process's pool of senders, like the sends of `Unit.after_the_answer`; at
    once outside a request (a job, the CLI)."""
    later = _after_answer.get()
    if later is None:
        send()
    else:
        later.append(send)


def _claim_owed(unit: Unit) -> Any:
    """Claim and draw what the unit owes in its own transaction, to send once it committed."""
    from bot.flows.delivery import claim_owed

    return claim_owed(unit.deps, unit.session, unit.owed, preclaimed=unit.claimed)
