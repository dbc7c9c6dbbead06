"""The unit of work of a flow: one session scope, one "now", and the messages it owes.

    with unit_of_work(deps) as u:
        req = requirements.confirm(u.session, u.clock, ...)
        u.refresh(outbox_keys.target(TargetKind.requirement, req.id), project)
    # committed; what `u` owes has been delivered (or left queued for the retry sweep)

Everything a flow changes and every message it owes commit together; delivery starts only
after the commit, so Slack never shows what the database does not hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.clock import Clock
from bot.db import insert_ignore
from bot.deps import Deps
from bot.flows.outbox_keys import Kind, update
from bot.models import Outbox, Project, Submission
from bot.services import outbox


@dataclass
class Unit:
    deps: Deps
    session: Session
    now: datetime
    owed: list[int] = field(default_factory=list)

    @property
    def clock(self) -> Clock:
        return self.deps.clock

    @property
    def team_id(self) -> str:
        return self.deps.workspace.team_id

    def owe(self, *, key: str, kind: str, project: Project | None = None, channel_id: str | None = None,
            user_id: str | None = None, payload: dict[str, Any] | None = None, target: str | None = None,
            method: str = "chat.postMessage", deliver: bool = True) -> Outbox:
        """Queue a message in this unit's transaction (once per key). A row with a `target`
        and no payload is rendered from the record when it is sent."""
        row = outbox.enqueue(self.session, key=key, team_id=project.team_id if project else self.team_id,
                             kind=kind, payload=payload or {}, now=self.now, channel_id=channel_id,
                             user_id=user_id, project_id=project.id if project else None, method=method,
                             target=target)
        if deliver and row.id is not None and row.status == "pending":
            self.owed.append(row.id)
        return row

    def first_submission(self, view_id: str | None, callback_id: str = "") -> bool:
        """Remember that this modal submission saves something; False when the same view was
        already saved (Slack's resubmit after a slow answer): answer "already saved" then. The
        mark commits or rolls back with the rest of the unit, so a refused form can be sent again."""
        if not view_id:
            return True
        return insert_ignore(self.session, Submission, {"view_id": view_id[:64], "team_id": self.team_id,
                                                        "callback_id": callback_id[:64], "created_at": self.now},
                             ["view_id"])

    def refresh(self, target: str, project: Project | None = None) -> Outbox | None:
        """Update a target's message in place from the record (once it has been posted). A
        pending update of the same message already draws the newest state: no second one."""
        pending = outbox.pending_update(self.session, target)
        if pending is not None:
            return pending
        return self.owe(key=update(target), kind=Kind.update,
                        project=project, target=target, method="chat.update")


@contextmanager
def unit_of_work(deps: Deps, *, deliver: bool = True) -> Iterator[Unit]:
    """One session scope for one use case; delivers what it owes after the commit."""
    with deps.session() as session:
        unit = Unit(deps=deps, session=session, now=deps.clock.now())
        yield unit
    if deliver and unit.owed:
        from bot.flows.delivery import deliver_now

        deliver_now(deps, unit.owed)
