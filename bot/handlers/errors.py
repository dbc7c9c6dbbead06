"""Bolt's global error handler: log with a traceback, tell the user something short.

When a listener fails before it acknowledged the request (typically: the database did not
answer), the answer to that very request tells the user, instead of Bolt's bare HTTP 500, which
Slack shows as a cryptic failure and which would leave a modal's typed text in doubt:

- a slash command gets an ephemeral reply saying nothing was saved;
- a modal submission stays open, with the person's input, and the message under its first field;
- a button click is acknowledged and the message comes through the response_url;
- an options request gets an empty list.

After the acknowledgement only the response_url is left (when the payload has one).

A well-formed request no listener takes (an event the app is not subscribed to any more, a
shortcut, a modal closed, a link button, a kind Slack adds later) reaches this handler as
Bolt's `BoltUnhandledRequestError` (the app sets `raise_error_for_unhandled_request`): it is
acknowledged with one line at INFO, since Slack retries an event that is not answered 200 and
shows the person a warning for an interaction that is not. (A malformed one never gets this far:
bot/slack/guard.py answers it with 400.)
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk.webhook import WebhookClient
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.i18n import t

log = logging.getLogger("bot.errors")


def database_unavailable(error: BaseException) -> bool:
    """The database did not answer (down, restarting, connection dropped, pool exhausted)."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def handle_error(error: Exception, body: dict[str, Any], context: Any,
                 response: BoltResponse | None = None) -> BoltResponse | None:
    if isinstance(error, BoltUnhandledRequestError):
        return _acknowledge_unhandled(body)
    log.error("unhandled error in a Slack handler", exc_info=error)
    body = body if isinstance(body, dict) else {}
    key = "common.error_try_again" if database_unavailable(error) else "common.error_generic"
    text = t(key, _locale(body, context))
    if response is not None:  # not acknowledged yet: answer this request itself
        answer = _answer(body, text)
        if answer is not None:
            return answer
    _tell_through_response_url(body, text)
    return BoltResponse(status=200) if response is not None else None


def _acknowledge_unhandled(body: Any) -> BoltResponse:
    body = body if isinstance(body, dict) else {}
    kind = "command" if "command" in body else body.get("type")
    event = body.get("event")
    what = event.get("type") if kind == "event_callback" and isinstance(event, dict) else None
    log.info("no listener for this %r%s: acknowledged", kind, f" ({what!r})" if what else "")
    if kind == "block_suggestion":
        return BoltResponse(status=200, body={"options": []})
    return BoltResponse(status=200, body="")


def _answer(body: dict[str, Any], text: str) -> BoltResponse | None:
    """The HTTP answer that shows `text`, or None when Slack ignores the answer's body."""
    if body.get("command"):
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
    kind = body.get("type")
    if kind == "view_submission":
        block = _first_input_block(body.get("view") or {})
        if block:
            return BoltResponse(status=200, body={"response_action": "errors", "errors": {block: text}})
        return BoltResponse(status=200, body={"response_action": "push", "view": _notice_view(text)})
    if kind == "block_suggestion":
        return BoltResponse(status=200, body={"options": []})
    return None


def _first_input_block(view: dict[str, Any]) -> str | None:
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    values = (view.get("state") or {}).get("values") or {}
    return next(iter(values), None) if isinstance(values, dict) else None


def _notice_view(text: str) -> dict[str, Any]:
    """A small modal on top of the submitted one; *Back* returns to the person's input."""
    return {"type": "modal", "title": {"type": "plain_text", "text": "PM Bot"},
            "close": {"type": "plain_text", "text": "Back"},
            "blocks": [{"type": "section", "text": {"type": "plain_text", "text": text}}]}


def _tell_through_response_url(body: dict[str, Any], text: str) -> None:
    response_url = body.get("response_url")
    if not response_url:
        urls = body.get("response_urls") or []
        response_url = urls[0].get("response_url") if urls and isinstance(urls[0], dict) else None
    if not response_url:
        return
    try:
        WebhookClient(response_url, timeout=5).send(text=text, response_type="ephemeral", replace_original=False)
    except Exception:  # the user is told nothing more; the log has both errors
        log.exception("could not tell the user about the error")


def _locale(body: dict[str, Any], context: Any) -> str | None:
    """The person's Slack language when already known (no Slack call on this path)."""
    user = body.get("user")
    user_id = user.get("id") if isinstance(user, dict) else body.get("user_id")
    deps = context.get("deps") if hasattr(context, "get") else None
    if not user_id or deps is None:
        return None
    cached_locale = getattr(deps.users, "cached_locale", None)
    return cached_locale(str(user_id)) if callable(cached_locale) else None
