"""Build the Bolt app: clients, context, handlers and the error handler."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from sqlalchemy import Engine

from bot.clock import Clock
from bot.config import Settings
from bot.db import make_engine
from bot.deps import Deps, build_deps
from bot.slack.acks import use_event_acks
from bot.slack.respond import fallback_respond
from bot.slack.transport import PooledRespond
from bot.slack.users import UserDirectory, Workspace

log = logging.getLogger(__name__)

LISTENER_THREADS = 200


class _TokenUnusedFilter(logging.Filter):
    """Bolt warns "As you gave `client` as well, `token` will be unused" whenever SLACK_BOT_TOKEN
    is in the environment, though our client carries that very token: not worth a line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_BOLT_APP_LOGGER = logging.getLogger("slack_bolt.App")
if not any(isinstance(f, _TokenUnusedFilter) for f in _BOLT_APP_LOGGER.filters):
    _BOLT_APP_LOGGER.addFilter(_TokenUnusedFilter())


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    users: UserDirectory | None = None,
    workspace: Workspace | None = None,
) -> App:
    """A Bolt app whose every Web API client honours SLACK_API_URL and retries failures.

    `workspace`: what `auth.test` said, when start-up already asked it."""
    engine = engine or make_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    deps = build_deps(settings, engine, clock=clock, users=users,
                      workspace=workspace)
    client = deps.client
    app = App(
        client=client,
        signing_secret=settings.signing_secret or "socket-mode-has-no-signature",
        # Our guard in front of dispatch (bot/slack/guard.py, the only way in over HTTP) has
        # checked the signature already; Bolt checking it again was CPU for nothing (issue 13).
        request_verification_enabled=False,
        token_verification_enabled=False,
        process_before_response=False,
        raise_error_for_unhandled_request=True,  # acknowledged by handle_error
        ignoring_self_events_enabled=True,
        # A listener acknowledges first, then does its post-ack work (Slack calls that may be
        # slow). Bolt's default pool of 5 threads let five slow Slack calls hold back the next
        # request's acknowledgement past Slack's 3 seconds; threads are made on demand, so a
        # large pool costs nothing while idle (bench/slow_slack_acks.py).
        listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="pmbot-listener"),
    )
    use_event_acks(app)  # the answer leaves when ack() is called, not at the next 10 ms poll
    app._pmbot_deps = deps  # type: ignore[attr-defined]

    @app.middleware
    def put_deps_in_context(context: BoltContext, body: Any, next: Any) -> Any:
        context["deps"] = deps  # (the guard made the payload's text storable: bot/slack/guard.py)
        if context.response_url:  # on the process's keep-alive connections
            context["respond"] = PooledRespond(response_url=context.response_url, proxy=client.proxy, ssl=client.ssl)
        else:  # a click in the App Home or a modal: answer by DM
            fallback = fallback_respond(client, body)
            if fallback is not None:
                context["respond"] = fallback
        return next()

    from bot.handlers import register_handlers
    from bot.handlers.errors import handle_error

    register_handlers(app)
    app.error(handle_error)
    return app


def deps_of(app: App) -> Deps:
    return app._pmbot_deps  # type: ignore[attr-defined]
