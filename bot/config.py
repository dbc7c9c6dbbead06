"""Settings of SPEC §6, declared once with pydantic-settings and validated up front.

`load_settings()` reads the environment, then `.env` in the working directory (which never
overrides the environment). A bad value stops start-up with one line that names the variable
and what is expected; secrets are `SecretStr` and never echoed back (`repr`, errors, logs).
Constructing `Settings(...)` directly (tests, benchmarks) takes only what it is given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///pmbot.db"
DEFAULT_CLAIM_TIMEOUT_SECONDS = 300
# A PostgreSQL server that does not answer at all fails a connection attempt after this long
# (instead of the operating system's minutes), so start-up retries and /readyz stay prompt.
PG_CONNECT_TIMEOUT_SECONDS = 10
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# What each variable must look like: the second half of its one-line error.
EXPECTED = {
    "SLACK_BOT_TOKEN": "must be a bot token starting with 'xoxb-'",
    "SLACK_APP_TOKEN": "must be an app-level token starting with 'xapp-'",
    "SLACK_SIGNING_SECRET": "must be the signing secret from Basic Information",
    "SLACK_API_URL": "must be an http(s) URL such as https://slack.com/api/",
    "DATABASE_URL": "must be an SQLAlchemy URL such as sqlite:///pmbot.db or postgresql://…",
    "HOST": "must be an address to listen on, such as 0.0.0.0 or 127.0.0.1",
    "PORT": "must be a whole number from 1 to 65535",
    "SCHEDULER_ENABLED": "must be true or false",
    "LOG_LEVEL": "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    "LOG_FORMAT": "must be text or json",
    "METRICS_ENABLED": "must be true or false",
    "PMBOT_CLAIM_TIMEOUT_SECONDS": "must be a whole number of seconds, at least 1 (default 300)",
    "OUTBOX_RETRY_HOURS": "must be a whole number of hours, at least 1 (default 72)",
    "SQLITE_SYNCHRONOUS": "must be full or normal (default full)",
}

TOKEN_PREFIXES = {"slack_bot_token": ("SLACK_BOT_TOKEN", "xoxb-"), "slack_app_token": ("SLACK_APP_TOKEN", "xapp-")}

# Which sources `Settings(...)` reads: only its arguments, unless load_settings() says otherwise.
_READ_ENVIRONMENT: ContextVar[bool] = ContextVar("_READ_ENVIRONMENT", default=False)


class ConfigError(Exception):
    """A setting is missing or malformed. `str()` is the one line shown to the operator."""

    def __init__(self, variable: str, expected: str) -> None:
        self.variable = variable
        self.expected = expected
        super().__init__(f"Configuration error: {variable} {expected}")


def _var(name: str, default: Any = None, **kwargs: Any) -> Any:
    """A field read from the environment variable `name`."""
    return Field(default, validation_alias=name, **kwargs)


class Settings(BaseSettings):
    """Everything the bot reads from its environment (the names in `EXPECTED`)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True, env_ignore_empty=True,
                                      hide_input_in_errors=True, env_file_encoding="utf-8")

    slack_bot_token: SecretStr | None = _var("SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = _var("SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = _var("SLACK_APP_TOKEN")
    slack_api_url: str = _var("SLACK_API_URL", DEFAULT_SLACK_API_URL)
    database_url: str = _var("DATABASE_URL", DEFAULT_DATABASE_URL)
    host: str = _var("HOST", "0.0.0.0", min_length=1)
    port: int = _var("PORT", 3000, ge=0, le=65535)  # 0 (any free port) only for tests
    scheduler_enabled: bool = _var("SCHEDULER_ENABLED", True)
    log_level: str = _var("LOG_LEVEL", "INFO")
    log_format: Literal["text", "json"] = _var("LOG_FORMAT", "text")
    metrics_enabled: bool = _var("METRICS_ENABLED", False)
    # How long a message being sent stays claimed by its sender before another process takes
    # it to be abandoned (its sender died) and sends it, after checking Slack for it.
    claim_timeout_seconds: int = _var("PMBOT_CLAIM_TIMEOUT_SECONDS", DEFAULT_CLAIM_TIMEOUT_SECONDS, ge=1)
    # How long a message that fails for a passing reason (Slack down, 5xx, 429) is tried again.
    outbox_retry_hours: int = _var("OUTBOX_RETRY_HOURS", 72, ge=1)
    # SQLite only. `full`: a commit is on disk before the bot says "saved", so neither a crash of
    # the process nor a power cut loses it. `normal` (WAL): a crash of the process loses nothing,
    # a power cut may lose the last commits; a little faster. (PostgreSQL: its own fsync settings.)
    sqlite_synchronous: Literal["full", "normal"] = _var("SQLITE_SYNCHRONOUS", "full")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if _READ_ENVIRONMENT.get():
            return init_settings, env_settings, dotenv_settings  # the environment wins over .env
        return (init_settings,)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """`PORT=` or `PORT="  "` means "not set": the default applies."""
        if not isinstance(data, dict):
            return data
        out = {}
        for key, value in data.items():
            if isinstance(value, str):
                value = value.strip()
                if not value:
                    continue
            out[key] = value
        return out

    @field_validator("slack_bot_token", "slack_app_token")
    @classmethod
    def _token_kind(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        variable, prefix = TOKEN_PREFIXES[info.field_name or ""]
        if value is not None and not value.get_secret_value().startswith(prefix):
            raise ValueError(EXPECTED[variable])
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ValueError(EXPECTED["SLACK_API_URL"])
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.upper()
            if value not in LOG_LEVELS:
                raise ValueError(EXPECTED["LOG_LEVEL"])
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    def __repr__(self) -> str:  # never print a secret, nor the database password
        shown = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                text = "'***'"
            elif name == "database_url":
                text = repr(_redact_url(value))
            else:
                text = repr(value)
            shown.append(f"{name}={text}")
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def bot_token(self) -> str | None:
        return reveal(self.slack_bot_token)

    @property
    def signing_secret(self) -> str | None:
        return reveal(self.slack_signing_secret)

    @property
    def app_token(self) -> str | None:
        return reveal(self.slack_app_token)


def reveal(secret: SecretStr | str | None) -> str | None:
    """The plain value of a secret, for the one place that hands it to Slack."""
    if secret is None:
        return None
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def normalise_database_url(value: str) -> str:
    """Accept what hosts hand out: `postgres://` (Heroku, Render) and `postgresql://` both mean
    psycopg 3; a PostgreSQL URL without `connect_timeout` gets one."""
    if value.startswith("postgres://"):
        value = "postgresql://" + value[len("postgres://"):]
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(EXPECTED["DATABASE_URL"]) from None
    backend = url.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise ValueError("must point to SQLite or PostgreSQL")
    if backend == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        if url.drivername == "postgresql+psycopg" and "connect_timeout" not in url.query:
            url = url.update_query_dict({"connect_timeout": str(PG_CONNECT_TIMEOUT_SECONDS)})
        return url.render_as_string(hide_password=False)
    return value


def _redact_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid>"


_ALIASES = {name: str(field.validation_alias) for name, field in Settings.model_fields.items()}


def _config_error(err: ValidationError) -> ConfigError:
    """The first problem, as one line naming the variable (never the value)."""
    first = err.errors(include_input=False)[0]
    loc = str(first["loc"][0]) if first["loc"] else ""
    variable = _ALIASES.get(loc, loc)
    if first["type"] == "value_error":
        expected = str(first.get("ctx", {}).get("error", "")) or EXPECTED.get(variable, "is malformed")
    else:
        expected = EXPECTED.get(variable, "is malformed")
    return ConfigError(variable, expected)


@contextmanager
def _reading_environment() -> Iterator[None]:
    token = _READ_ENVIRONMENT.set(True)
    try:
        yield
    finally:
        _READ_ENVIRONMENT.reset(token)


def load_settings(env: Mapping[str, str] | None = None, *, read_dotenv: bool = True) -> Settings:
    """Read and validate the settings. Slack credentials are checked by `require_slack`.

    With `env`, only that mapping is read (tests); otherwise the process environment, then
    `.env` in the working directory (when `read_dotenv`), the environment winning.
    """
    try:
        if env is not None:
            return Settings(**{key: value for key, value in env.items() if key in _ALIASES.values()})
        with _reading_environment():
            dotenv = os.path.join(os.getcwd(), ".env") if read_dotenv else None
            return Settings(_env_file=dotenv)  # type: ignore[call-arg]
    except ValidationError as err:
        raise _config_error(err) from None


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


__all__ = ["DEFAULT_DATABASE_URL", "DEFAULT_SLACK_API_URL", "EXPECTED", "ConfigError", "Settings", "load_settings",
           "normalise_database_url", "require_slack", "reveal"]
