"""Liveness and readiness, and the checks start-up shares with them.

- `GET /healthz` — liveness: the process answers. No database, no Slack: a supervisor that
  restarts on a failing liveness probe must not restart a bot that merely waits for PostgreSQL.
- `GET /readyz` — readiness: 200 when start-up is done, the database answers, its schema is at
  the head revision this version ships, and Slack accepts the bot token (asked at start-up,
  then at most every `TOKEN_RECHECK_SECONDS`); otherwise 503, with what is wrong.

A failing check logs ONE warning line (no traceback) when it starts failing or fails in a new
way, and one line when it passes again — not one per probe.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.config import Settings
from bot.slack.users import Workspace

log = logging.getLogger("bot.health")

PROBE_TIMEOUT_SECONDS = 4.0  # /readyz answers within this, even when a check hangs
TOKEN_RECHECK_SECONDS = 300.0
# auth.test errors that mean the token itself is bad: retrying cannot help (exit 2 at start-up).
TOKEN_REJECTED = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                            "not_allowed_token_type", "team_disabled", "ekm_access_denied"})


class TokenRejected(Exception):
    """Slack said the bot token is not (or no longer) valid. `str()` is the line to print."""


class SlackUnreachable(Exception):
    """Slack did not answer `auth.test` usefully (network, 5xx, rate limit): worth retrying."""


def one_line(err: BaseException, limit: int = 200) -> str:
    """`Type: first line of the message`, short enough for one log line."""
    orig = getattr(err, "orig", None)  # SQLAlchemy wraps the driver's error, which says more
    if isinstance(orig, BaseException) and orig is not err:
        return one_line(orig, limit)
    reason = getattr(err, "reason", None)  # urllib: URLError(reason=ConnectionRefusedError(…))
    if isinstance(err, URLError) and isinstance(reason, BaseException):
        return one_line(reason, limit)
    lines = str(err).strip().splitlines()
    message = lines[0].strip() if lines else ""
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    return f"{type(err).__name__}: {message}" if message else type(err).__name__


# slack_sdk logs an ERROR of its own for every failed request: the caller logs one line instead.
_PROBE_LOG = logging.getLogger("bot.health.slack_probe")
_PROBE_LOG.setLevel(logging.CRITICAL + 1)


def slack_probe_client(settings: Settings, timeout: int = 10) -> WebClient:
    """A client without retries: each start-up attempt or probe is one call."""
    return WebClient(token=settings.bot_token, base_url=settings.slack_api_url, timeout=timeout, retry_handlers=[],
                     logger=_PROBE_LOG)


def check_token(client: WebClient) -> Workspace:
    """`auth.test`: the workspace, or TokenRejected / SlackUnreachable with one line to print."""
    try:
        auth = client.auth_test()
    except SlackApiError as err:
        error = str(err.response.get("error") or "")
        if error in TOKEN_REJECTED:
            raise TokenRejected(
                f"Slack rejected SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token (xoxb-…) from "
                f"OAuth & Permissions again, or reinstall the app to the workspace") from None
        raise SlackUnreachable(f"Slack answered auth.test with HTTP {err.response.status_code} "
                               f"({error or 'no error code'})") from None
    except (SlackClientError, OSError, ValueError) as err:
        raise SlackUnreachable(f"Slack does not answer at {client.base_url} ({one_line(err)})") from None
    return Workspace(team_id=auth["team_id"], enterprise_id=auth.get("enterprise_id") or None,
                     bot_id=auth.get("bot_id") or None, bot_user_id=auth.get("user_id") or None)


def head_revision() -> str:
    from bot.migrations import HEAD

    return HEAD


@dataclass
class Health:
    """What /readyz reports. Start-up fills it in (`engine`, `token_ok`, `started`)."""

    settings: Settings
    engine: Engine | None = None
    started: bool = False
    waiting_for: str = "start-up"  # what start-up waits for, while not started
    token_ok: bool | None = None  # None: not asked yet
    token_checked_at: float = 0.0
    socket_client: Any = None  # Socket Mode: the connection to Slack
    head: str | None = None  # the revision this version ships (read when first needed)
    _reported: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _inflight: asyncio.Future | None = None

    @classmethod
    def of_running_app(cls, settings: Settings, engine: Engine) -> Health:
        """For an app built by `create_app` (which asked auth.test already)."""
        return cls(settings=settings, engine=engine, started=True, waiting_for="", token_ok=True,
                   token_checked_at=time.monotonic())

    # checks (run in a worker thread) -------------------------------------------------------

    def _database(self) -> dict[str, str]:
        if self.engine is None:
            return {"database": "not connected yet", "schema": "unknown"}
        if self.head is None:
            self.head = head_revision()
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                try:
                    current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                except Exception:
                    current = None
        except Exception as err:
            return {"database": f"unreachable ({one_line(err)})", "schema": "unknown"}
        if current == self.head:
            return {"database": "ok", "schema": "ok"}
        if current is None:
            return {"database": "ok", "schema": "not migrated (run: pmbot migrate)"}
        from alembic.script import ScriptDirectory
        from alembic.util.exc import CommandError

        from bot.migrate import alembic_config

        try:
            ScriptDirectory.from_config(alembic_config()).get_revision(current)
        except (CommandError, KeyError, ValueError):  # a newer version migrated it (rolling upgrade)
            return {"database": "ok", "schema": "ok"}
        return {"database": "ok", "schema": f"behind ({current}; this version needs {self.head}: run pmbot migrate)"}

    def _slack(self) -> str:
        if self.socket_client is not None and not self.socket_client.is_connected():
            return "Socket Mode connection down"
        if self.token_ok is None:
            return "not checked yet"
        if self.started and time.monotonic() - self.token_checked_at > TOKEN_RECHECK_SECONDS:
            self.token_checked_at = time.monotonic()
            try:
                check_token(slack_probe_client(self.settings, timeout=3))
                self.token_ok = True
            except TokenRejected:
                self.token_ok = False
            except SlackUnreachable:
                pass  # Slack's outage is not ours: keep what we knew
        return "ok" if self.token_ok else "token rejected (SLACK_BOT_TOKEN)"

    def checks(self) -> dict[str, str]:
        out = {"startup": "done" if self.started else f"waiting for {self.waiting_for}"}
        out.update(self._database())
        out["slack"] = self._slack()
        self._report(out)
        return out

    def _report(self, checks: dict[str, str]) -> None:
        if not self.started:
            return  # start-up logs its own progress, one line per attempt
        with self._lock:
            for name, state in checks.items():
                ok = state in {"ok", "done"}
                if name == "startup":
                    continue  # start-up logs its own progress
                before = self._reported.get(name)
                # One line per change of state: "unreachable (connection refused)" then
                # "unreachable (server closed the connection)" while a server restarts is one.
                if not ok and (before or "").split(" (", 1)[0] != state.split(" (", 1)[0]:
                    log.warning("not ready: %s %s", name, state)
                    self._reported[name] = state
                elif ok and before is not None:
                    log.info("ready again: %s ok", name)
                    del self._reported[name]

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        """The checks, within PROBE_TIMEOUT_SECONDS; one run at a time however many probes ask."""
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.ensure_future(run_in_threadpool(self.checks))
        try:
            checks = await asyncio.wait_for(asyncio.shield(self._inflight), PROBE_TIMEOUT_SECONDS)
        except TimeoutError:
            checks = {"startup": "done" if self.started else f"waiting for {self.waiting_for}",
                      "database": "no answer within the probe's time", "schema": "unknown", "slack": "unknown"}
            self._report({"database": checks["database"]})
        ready = all(v in {"ok", "done"} for v in checks.values())
        return ready, checks

    # routes -----------------------------------------------------------------------------

    async def healthz(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, _request: Request) -> Response:
        ready, checks = await self.readiness()
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                            status_code=200 if ready else 503)

    def routes(self) -> list[Route]:
        routes = [Route("/healthz", self.healthz, methods=["GET"]), Route("/readyz", self.readyz, methods=["GET"])]
        if self.settings.metrics_enabled:
            routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
        return routes


async def metrics_endpoint(_request: Request) -> Response:
    from bot import metrics

    body, content_type = await run_in_threadpool(metrics.render)
    return Response(body, media_type=content_type)


HEALTH_PATHS = ("/healthz", "/readyz", "/metrics")


# While starting -----------------------------------------------------------------------------------


class StartingFront:
    """What uvicorn serves from the first second of `pmbot run`: the health paths at once; the
    rest answers 503 until start-up hands over the app (`ready_with`)."""

    def __init__(self, health: Health) -> None:
        self.health = health
        self.own = Starlette(routes=health.routes())
        self.app: ASGIApp | None = None

    def ready_with(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in HEALTH_PATHS:
            await self.own(scope, receive, send)
        elif self.app is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await JSONResponse({"error": "starting", "waiting_for": self.health.waiting_for},
                               status_code=503)(scope, receive, send)
