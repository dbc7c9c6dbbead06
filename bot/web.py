"""The HTTP face of the bot: POST /slack/events (Bolt) and GET /healthz, served by uvicorn."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_starlette_response
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app import deps_of
from bot.slack import guard

log = logging.getLogger(__name__)


def create_web_app(app: App) -> Starlette:
    """Every request passes the guard first (signature, then the payload's shape: bot/slack/guard.py).
    Bolt's dispatch is synchronous (it waits for `ack`), so it runs in the thread pool and
    never blocks the event loop that accepts the next request."""
    deps = deps_of(app)
    settings = deps.settings
    signature = None if settings.socket_mode else guard.Signature(settings.slack_signing_secret)

    async def slack_events(request: Request) -> Response:
        body = await guard.read_body(request)
        if body is None:
            return JSONResponse({"error": "request_too_large"}, status_code=413)
        checked = guard.http_request(body, request.headers, request.url.query, signature)
        if isinstance(checked, guard.Refused):
            return JSONResponse({"error": checked.error}, status_code=checked.status)
        bolt_response = await run_in_threadpool(app.dispatch, checked)
        return to_starlette_response(bolt_response)

    def _database_answers() -> bool:
        try:
            with deps.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            log.warning("health check: the database does not answer", exc_info=True)
            return False

    async def healthz(_request: Request) -> Response:
        ok = await run_in_threadpool(_database_answers)
        return JSONResponse({"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable"},
                            status_code=200)

    return Starlette(routes=[
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ])
