"""`pmbot run`: answer health probes from the first second, start up with back-off, stop cleanly.

1. The bot token is checked once (`auth.test`) before anything listens: a rejected token is one
   line and exit status 2 (a supervisor should not restart into the same answer).
2. uvicorn serves on HOST:PORT at once (in Socket Mode too, for the health paths): `/healthz`
   answers, `/readyz` says what start-up waits for, `/slack/events` answers 503 meanwhile.
3. A start-up thread migrates the database, asks Slack again if it could not before, builds the
   Bolt app, starts the scheduler, then opens the Socket Mode connection or hands the app to the
   HTTP server. The database or Slack not answering is retried with back-off (1 s doubling up
   to 30 s), one warning line per attempt, never a traceback, never an exit.
4. SIGTERM / SIGINT: uvicorn finishes the requests under way, the Socket Mode connection closes,
   what answered requests still owe Slack is sent, then the scheduler stops after the message it
   is sending, and the process exits 0.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from bot.config import Settings
from bot.flows import after_answer
from bot.health import (
    Health,
    SlackUnreachable,
    StartingFront,
    TokenRejected,
    check_token,
    one_line,
    slack_probe_client,
)

log = logging.getLogger("bot")

RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0
GRACEFUL_SECONDS = 20
# uvicorn's HTTP/1.1 implementation: httptools (C) parses a request and writes its answer for
# ~0.3 ms less CPU than h11, uvicorn's pure-Python fallback (issue 13; bench/ack_latency.py).
HTTP_PROTOCOL = "httptools"


class _Stopped(Exception):
    """The process is stopping: start-up gives up quietly."""


class _Fatal(Exception):
    """Start-up cannot succeed by waiting (a rejected token): one line, exit 2."""


def run(settings: Settings) -> int:
    try:
        workspace = check_token(slack_probe_client(settings))
    except TokenRejected as err:
        log.error("%s", err)
        return 2
    except SlackUnreachable as err:
        log.warning("start-up: %s; the bot serves /healthz meanwhile and tries again", err)
        workspace = None

    import uvicorn

    from bot.shutdown import request_stop

    health = Health(settings, waiting_for="the database")
    front = StartingFront(health)
    server = uvicorn.Server(server_config(settings, front))
    boot = Startup(settings, health, front, server, workspace)
    # uvicorn stops gracefully on SIGTERM/SIGINT: it finishes the requests under way first, then
    # raises the signal again for the handler it found. With this one, that lands back here
    # (instead of killing the process), so the scheduler stops cleanly and the exit is 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: request_stop())
    boot.start()
    try:
        server.run()
    finally:
        if boot.scheduler is not None:
            request_stop()  # a tick under way stops after the message it is sending
        boot.stopping.set()
        boot.join(timeout=GRACEFUL_SECONDS)
        boot.shut_down()
    return boot.exit_code


def server_config(settings: Settings, app: Any) -> Any:
    """uvicorn's settings for `pmbot run`: our own log lines (no uvicorn access log), no ASGI
    lifespan, a graceful stop of GRACEFUL_SECONDS, HTTP/1.1 by HTTP_PROTOCOL."""
    import uvicorn

    return uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                          lifespan="off", timeout_graceful_shutdown=GRACEFUL_SECONDS, http=HTTP_PROTOCOL)


class Startup(threading.Thread):
    """Brings the bot up behind a server that already answers (see the module docstring)."""

    def __init__(self, settings: Settings, health: Health, front: Any, server: Any, workspace: Any) -> None:
        super().__init__(name="pmbot-startup", daemon=True)
        self.settings = settings
        self.health = health
        self.front = front
        self.server = server
        self.workspace = workspace
        self.stopping = threading.Event()
        self.exit_code = 0
        self.engine: Any = None
        self.checkpointer: Any = None  # SQLite: bot/checkpoints.py
        self.scheduler: Any = None
        self.socket_handler: Any = None

    def run(self) -> None:
        try:
            self._start()
        except _Stopped:
            return
        except _Fatal as err:
            log.error("%s", err)
            self.exit_code = 2
            self.server.should_exit = True
        except Exception:
            log.exception("start-up failed")
            self.exit_code = 1
            self.server.should_exit = True

    def _retry(self, what: str, attempt_fn: Any) -> Any:
        """Call `attempt_fn` until it succeeds, waiting longer after each failure."""
        delay, attempt = RETRY_FIRST_SECONDS, 1
        self.health.waiting_for = what
        while True:
            if self.stopping.is_set():
                raise _Stopped
            try:
                return attempt_fn()
            except (OperationalError, InterfaceError) as err:
                problem = f"the database does not answer ({one_line(err)})"
            except SlackUnreachable as err:
                problem = str(err)
            log.warning("start-up: %s; attempt %d, trying again in %.0f s", problem, attempt, delay)
            if self.stopping.wait(delay):
                raise _Stopped
            delay, attempt = min(delay * 2, RETRY_MAX_SECONDS), attempt + 1

    def _start(self) -> None:
        from bot.app import create_app, deps_of
        from bot.checkpoints import start_for
        from bot.db import make_engine
        from bot.migrate import upgrade_if_behind

        settings = self.settings
        self.engine = self.health.engine = make_engine(settings.database_url, synchronous=settings.sqlite_synchronous,
                                                       background_checkpoints=True)
        self._retry("the database", lambda: upgrade_if_behind(self.engine))
        self.checkpointer = start_for(self.engine)  # SQLite's log copied back there, not in a request's commit
        if self.workspace is None:
            self.workspace = self._retry("Slack", self._ask_slack)
        self.health.token_ok, self.health.token_checked_at = True, time.monotonic()
        if self.stopping.is_set():
            raise _Stopped
        app = create_app(settings, engine=self.engine, workspace=self.workspace)
        deps = deps_of(app)
        from bot import metrics

        metrics.watch_outbox(self.engine)
        if settings.scheduler_enabled:
            self._start_scheduler(deps)
        if settings.socket_mode:
            self._connect_socket_mode(app)
            _freeze_startup_objects()
        else:
            from bot.web import create_web_app

            web_app = create_web_app(app, health=self.health)
            _freeze_startup_objects()  # before the first Slack request is let in
            self.front.ready_with(web_app)
        self.health.started, self.health.waiting_for = True, ""
        if settings.socket_mode:
            log.info("PM Bot is ready: connected in Socket Mode; health on http://%s:%s/readyz",
                     settings.host, settings.port)
        else:
            log.info("PM Bot is ready on http://%s:%s (POST /slack/events, GET /healthz, GET /readyz)",
                     settings.host, settings.port)

    def _ask_slack(self) -> Any:
        try:
            return check_token(slack_probe_client(self.settings))
        except TokenRejected as err:
            raise _Fatal(str(err)) from None

    def _start_scheduler(self, deps: Any) -> None:
        from bot import metrics
        from bot.jobs.scheduler import build_scheduler

        scheduler = build_scheduler(deps)
        metrics.watch_scheduler(scheduler)
        scheduler.start()
        self.scheduler = scheduler
        log.debug("scheduler started")

    def _connect_socket_mode(self, app: Any) -> None:
        from slack_sdk.errors import SlackApiError, SlackClientError

        from bot.health import TOKEN_REJECTED

        handler = timed_socket_mode_handler(app, self.settings.app_token)
        self.socket_handler = handler

        def connect() -> None:
            try:
                handler.connect()
            except SlackApiError as err:
                error = str(err.response.get("error") or "")
                if error in TOKEN_REJECTED:
                    raise _Fatal(f"Slack rejected SLACK_APP_TOKEN ({error}): create an app-level token with "
                                 f"the connections:write scope under Basic Information") from None
                raise SlackUnreachable(f"Slack refused a Socket Mode connection ({error})") from None
            except (SlackClientError, OSError) as err:
                raise SlackUnreachable(f"Slack's Socket Mode does not answer ({one_line(err)})") from None

        self._retry("Slack (Socket Mode)", connect)
        self.health.socket_client = handler.client

    def shut_down(self) -> None:
        if self.socket_handler is not None:
            try:
                self.socket_handler.close()
            except Exception as err:  # closing a broken connection: nothing left to do
                log.debug("closing Socket Mode: %s", one_line(err))
        # what answered requests still owe Slack (a decision's message update and notice)
        after_answer.pool.stop(timeout=GRACEFUL_SECONDS)
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        if self.checkpointer is not None:
            self.checkpointer.stop()
        if self.engine is not None:
            self.engine.dispose()


def _freeze_startup_objects() -> None:
    """What start-up built (modules, the app, its listeners) lives as long as the process: keep
    it out of the garbage collector's full passes, which otherwise stopped every thread for
    ~30-45 ms now and then, one request in a hundred waiting behind it (bench/ack_latency.py)."""
    gc.collect()
    gc.freeze()


def timed_socket_mode_handler(app: Any, app_token: str | None) -> Any:
    """Bolt's Socket Mode handler, with the guard in front of its dispatch (bot/slack/guard.py)
    and the HTTP edge's request line and ack-latency metric."""

    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot import metrics
    from bot.logs import request_context
    from bot.slack.guard import handle_socket_request
    from bot.web import access_log, describe_payload, new_request_id

    class TimedSocketModeHandler(SocketModeHandler):
        def handle(self, client: Any, req: Any) -> None:
            started = time.perf_counter()
            about = describe_payload(req.payload if isinstance(req.payload, dict) else {})
            with request_context(request_id=new_request_id()):
                handle_socket_request(self.app, client, req)
                latency = time.perf_counter() - started
                metrics.observe_ack(str(about.get("type", "unknown")), latency)
                access_log.info("slack request", extra={**about, "latency_ms": round(latency * 1000, 1)})

    return TimedSocketModeHandler(app, app_token)
