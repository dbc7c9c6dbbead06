"""Web API clients that honour SLACK_API_URL and retry what is worth retrying."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler

# Slack asks clients to wait Retry-After seconds on HTTP 429; server errors and dropped
# connections are retried with exponential back-off (0.5 s, 1 s, 2 s …).
RATE_LIMIT_RETRIES = 5
SERVER_ERROR_RETRIES = 3
CONNECTION_ERROR_RETRIES = 3


def retry_handlers(*, repeatable: bool = True) -> list[RetryHandler]:
    """Handlers for a client. A call that is not `repeatable` (posting a message) is retried
    only on 429, when Slack has certainly not acted: after a 5xx or a dropped connection the
    message may already be in the channel, so the outbox checks before it tries again."""
    if not repeatable:
        return [RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]
    return [
        RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
        ConnectionErrorRetryHandler(max_retry_count=CONNECTION_ERROR_RETRIES),
    ]


def make_client(token: str | None, base_url: str, *, timeout: int = 15, repeatable: bool = True) -> WebClient:
    """A WebClient for `base_url` (Slack, GovSlack, a proxy or the tests' fake server)."""
    return WebClient(token=token, base_url=base_url, timeout=timeout,
                     retry_handlers=retry_handlers(repeatable=repeatable))
