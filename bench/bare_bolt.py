"""The baseline of bench/ack_latency.py: a bare Bolt app whose `/req` handler and `req_confirm`
button only call ack(), served by the same stack as PM Bot (Starlette + uvicorn, `app.dispatch`
in the thread pool, the same Bolt options and listener runner as `bot.app.create_app`).

    PORT=3001 SLACK_SIGNING_SECRET=… SLACK_API_URL=http://127.0.0.1:…/api/ python bench/bare_bolt.py

Listens on 127.0.0.1 only; GET /healthz answers 200 once it is up.
"""

from __future__ import annotations

import gc
import os

import uvicorn
from slack_bolt import Ack, App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.slack.acks import use_event_acks


def create_bolt_app(signing_secret: str, api_url: str, token: str) -> App:
    app = App(
        client=WebClient(token=token, base_url=api_url),
        signing_secret=signing_secret,
        request_verification_enabled=True,
        token_verification_enabled=False,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        ignoring_self_events_enabled=True,
    )

    use_event_acks(app)  # PM Bot's runner: the answer leaves at ack(), not at Bolt's next 10 ms poll

    @app.command("/req")
    def req(ack: Ack) -> None:
        ack()

    @app.action("req_confirm")
    def confirm(ack: Ack) -> None:
        ack()

    return app


def create_web_app(app: App) -> Starlette:
    """The same endpoint as `bot.web.create_web_app`, without the database behind /healthz."""

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        bolt_request = to_bolt_request(request, body)
        bolt_response = await run_in_threadpool(app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ])


def freeze_startup_objects() -> None:
    """What start-up built stays out of the collector's full passes, as `pmbot run` keeps it
    (bot/runner.py): a process-wide setting any app may use, so the floors have it too."""
    gc.collect()
    gc.freeze()


def main() -> None:
    app = create_bolt_app(os.environ["SLACK_SIGNING_SECRET"], os.environ["SLACK_API_URL"],
                          os.environ.get("SLACK_BOT_TOKEN", "xoxb-bench-token"))
    web_app = create_web_app(app)
    freeze_startup_objects()
    uvicorn.run(web_app, host="127.0.0.1", port=int(os.environ["PORT"]), http="httptools",  # as pmbot run
                log_level=os.environ.get("LOG_LEVEL", "warning").lower(), timeout_graceful_shutdown=20)


if __name__ == "__main__":
    main()
