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
from bot.metrics import instrument_client
from bot.slack.client import RateGates, make_client
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
    # Seconds between two messages to the same channel (Slack's pace; tests may set 0).
    channel_interval: float = 1.0

    def __post_init__(self) -> None:
        if self.post_client is None:
            self.post_client = self.client

    def session(self) -> AbstractContextManager[Session]:
        """A unit of work that commits on success and rolls back on error."""
        return session_scope(self.engine)


def discover_workspace(client: WebClient) -> Workspace:
    """The workspace (and Grid organisation) the app is installed in, from `auth.test`.

    Raises what the client raises: `bot.health.check_token` turns those into one line."""
    auth = client.auth_test()
    return Workspace(team_id=auth["team_id"], enterprise_id=auth.get("enterprise_id") or None,
                     bot_id=auth.get("bot_id") or None, bot_user_id=auth.get("user_id") or None)


def build_deps(settings: Settings, engine: Engine, *, clock: Clock | None = None,
               users: UserDirectory | None = None, workspace: Workspace | None = None) -> Deps:
    """Everything a flow needs, for the Bolt app and for CLI verbs alike (no Bolt app needed):
    Web API clients that honour SLACK_API_URL and retry failures, sharing one rate gate."""
    gate = RateGates()  # one pace per Web API method, shared by every client of this process
    client = instrument_client(make_client(settings.bot_token, settings.slack_api_url, gate=gate))
    return Deps(
        settings=settings,
        engine=engine,
        client=client,
        workspace=workspace or discover_workspace(client),
        clock=clock or SystemClock(),
        users=users or UserDirectory(),
        post_client=instrument_client(make_client(settings.bot_token, settings.slack_api_url, repeatable=False,
                                                  gate=gate)),
        gate=gate,
    )
