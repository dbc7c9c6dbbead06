"""What every handler, job and CLI verb needs, built once per process."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import Session

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db import session_scope
from bot.slack.client import RateGates
from bot.slack.users import UserDirectory, Workspace
from bot.workers import this_worker


def _worker_name() -> str:
    return this_worker()


@dataclass
class Deps:
    settings: Settings
    engine: Engine
    client: WebClient
    workspace: Workspace
    clock: Clock = field(default_factory=SystemClock)
    users: UserDirectory = field(default_factory=UserDirectory)
    worker: str = field(default_factory=_worker_name)
    # For posting messages the outbox owes: no blind retries that could post twice.
    post_client: WebClient | None = None
    gate: RateGates = field(default_factory=RateGates)

    def __post_init__(self) -> None:
        if self.post_client is None:
            self.post_client = self.client

    def session(self) -> AbstractContextManager[Session]:
        """A unit of work that commits on success and rolls back on error."""
        return session_scope(self.engine)
