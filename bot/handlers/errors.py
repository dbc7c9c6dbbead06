"""Bolt's global error handler: log with a traceback, tell the user something short."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.webhook import WebhookClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.i18n import t

log = logging.getLogger("bot.errors")


def handle_error(error: Exception, body: dict[str, Any], context: Any) -> None:
    log.error("unhandled error in a Slack handler", exc_info=error)
    key = "common.error_try_again" if isinstance(error, OperationalError | PoolTimeout) else "common.error_generic"
    response_url = body.get("response_url") if isinstance(body, dict) else None
    if not response_url and isinstance(body, dict):
        urls = body.get("response_urls") or []
        response_url = urls[0].get("response_url") if urls else None
    if not response_url:
        return
    try:
        WebhookClient(response_url).send(text=t(key, None), response_type="ephemeral", replace_original=False)
    except Exception:  # the user is told nothing more; the log has both errors
        log.exception("could not tell the user about the error")
