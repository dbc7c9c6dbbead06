"""Settings of SPEC §6, read once from `.env` and the environment and validated up front.

A bad value stops start-up with one line that names the variable and what is expected;
secrets are never echoed back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from dotenv import load_dotenv
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///pmbot.db"
DEFAULT_CLAIM_TIMEOUT_SECONDS = 300
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(Exception):
    """A setting is missing or malformed. `str()` is the one line shown to the operator."""

    def __init__(self, variable: str, expected: str) -> None:
        self.variable = variable
        self.expected = expected
        super().__init__(f"Configuration error: {variable} {expected}")


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment. Secrets are hidden from `repr`."""

    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str
    database_url: str
    port: int
    scheduler_enabled: bool
    log_level: str
    # How long a message being sent stays claimed by its sender before another process takes
    # it to be abandoned (its sender died) and sends it, after checking Slack for it.
    claim_timeout_seconds: int = DEFAULT_CLAIM_TIMEOUT_SECONDS

    def __repr__(self) -> str:  # never print a secret
        hidden = {True: "'***'", False: "None"}
        return (
            f"Settings(slack_bot_token={hidden[bool(self.slack_bot_token)]}, "
            f"slack_signing_secret={hidden[bool(self.slack_signing_secret)]}, "
            f"slack_app_token={hidden[bool(self.slack_app_token)]}, slack_api_url={self.slack_api_url!r}, "
            f"database_url={_redact_url(self.database_url)!r}, port={self.port}, "
            f"scheduler_enabled={self.scheduler_enabled}, log_level={self.log_level!r}, "
            f"claim_timeout_seconds={self.claim_timeout_seconds})"
        )

    __str__ = __repr__

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)


def _redact_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid>"


def _str(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def load_settings(env: Mapping[str, str] | None = None, *, read_dotenv: bool = True) -> Settings:
    """Read and validate the settings. Slack credentials are checked by `require_slack`.

    `.env` in the working directory is read first without overriding the real environment.
    """
    if env is None:
        if read_dotenv:
            load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)
        env = os.environ

    bot_token = _str(env, "SLACK_BOT_TOKEN")
    if bot_token is not None and not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN", "must be a bot token starting with 'xoxb-'")
    app_token = _str(env, "SLACK_APP_TOKEN")
    if app_token is not None and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN", "must be an app-level token starting with 'xapp-'")
    signing_secret = _str(env, "SLACK_SIGNING_SECRET")

    api_url = _str(env, "SLACK_API_URL") or DEFAULT_SLACK_API_URL
    parsed = urlparse(api_url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ConfigError("SLACK_API_URL", "must be an http(s) URL such as https://slack.com/api/")
    if not api_url.endswith("/"):
        api_url += "/"

    database_url = _str(env, "DATABASE_URL") or DEFAULT_DATABASE_URL
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL", "must be an SQLAlchemy URL such as sqlite:///pmbot.db or postgresql://…"
        ) from None
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError("DATABASE_URL", "must point to SQLite or PostgreSQL")
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        database_url = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)

    port_text = _str(env, "PORT") or "3000"
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError("PORT", "must be a whole number from 1 to 65535")

    sched_text = (_str(env, "SCHEDULER_ENABLED") or "true").lower()
    if sched_text not in _TRUE | _FALSE:
        raise ConfigError("SCHEDULER_ENABLED", "must be true or false")

    level = (_str(env, "LOG_LEVEL") or "INFO").upper()
    if level not in logging.getLevelNamesMapping():
        raise ConfigError("LOG_LEVEL", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")

    claim_text = _str(env, "PMBOT_CLAIM_TIMEOUT_SECONDS") or str(DEFAULT_CLAIM_TIMEOUT_SECONDS)
    if not claim_text.isdigit() or int(claim_text) < 1:
        raise ConfigError("PMBOT_CLAIM_TIMEOUT_SECONDS", "must be a whole number of seconds, at least 1 (default 300)")

    return Settings(
        slack_bot_token=bot_token,
        slack_signing_secret=signing_secret,
        slack_app_token=app_token,
        slack_api_url=api_url,
        database_url=database_url,
        port=int(port_text),
        scheduler_enabled=sched_text in _TRUE,
        log_level=level,
        claim_timeout_seconds=int(claim_text),
    )


def require_slack(settings: Settings) -> None:
    """Check what `pmbot run` needs to talk to Slack."""
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN", "is required: the bot token (xoxb-…) from OAuth & Permissions")
    if not settings.socket_mode and not settings.slack_signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET",
            "is required in HTTP mode: the signing secret from Basic Information "
            "(or set SLACK_APP_TOKEN for Socket Mode)",
        )
