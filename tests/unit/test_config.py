import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, require_slack

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_follow_the_spec():
    s = load_settings({})
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.database_url == "sqlite:///pmbot.db"
    assert s.port == 3000
    assert s.scheduler_enabled is True
    assert s.log_level == "INFO"
    assert s.socket_mode is False


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"SCHEDULER_ENABLED": "maybe"}, "SCHEDULER_ENABLED"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"SLACK_API_URL": "ftp://example"}, "SLACK_API_URL"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong-kind"}, "SLACK_APP_TOKEN"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"METRICS_ENABLED": "perhaps"}, "METRICS_ENABLED"),
        ({"PMBOT_CLAIM_TIMEOUT_SECONDS": "0"}, "PMBOT_CLAIM_TIMEOUT_SECONDS"),
    ],
)
def test_malformed_values_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert err.value.variable == variable
    assert variable in str(err.value)


def test_errors_never_echo_a_secret():
    secret = "xoxp-very-secret-value"
    with pytest.raises(ConfigError) as err:
        load_settings({"SLACK_BOT_TOKEN": secret})
    assert secret not in str(err.value)
    s = load_settings({"SLACK_BOT_TOKEN": "xoxb-123-secret", "SLACK_SIGNING_SECRET": "shh-secret",
                       "DATABASE_URL": "postgresql://u:pw-secret@db/pmbot"})
    shown = repr(s) + str(s)
    assert "xoxb-123-secret" not in shown and "shh-secret" not in shown and "pw-secret" not in shown


def test_http_mode_needs_a_signing_secret_but_socket_mode_does_not():
    with pytest.raises(ConfigError) as err:
        require_slack(load_settings({"SLACK_BOT_TOKEN": "xoxb-1"}))
    assert err.value.variable == "SLACK_SIGNING_SECRET"
    require_slack(load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}))
    with pytest.raises(ConfigError) as err:
        require_slack(load_settings({}))
    assert err.value.variable == "SLACK_BOT_TOKEN"


def test_postgres_url_gets_the_psycopg3_driver():
    s = load_settings({"DATABASE_URL": "postgresql://u@localhost/pmbot"})
    assert s.database_url.startswith("postgresql+psycopg://")


def test_heroku_style_postgres_url_is_accepted_with_a_connect_timeout():
    s = load_settings({"DATABASE_URL": "postgres://u:pw@db.internal:5432/pmbot"})
    assert s.database_url == "postgresql+psycopg://u:pw@db.internal:5432/pmbot?connect_timeout=10"
    s = load_settings({"DATABASE_URL": "postgres://u@db/pmbot?connect_timeout=3"})
    assert s.database_url.endswith("?connect_timeout=3")


def test_new_settings_and_their_defaults():
    s = load_settings({})
    assert (s.host, s.log_format, s.metrics_enabled) == ("0.0.0.0", "text", False)
    s = load_settings({"HOST": "127.0.0.1", "LOG_FORMAT": "JSON", "METRICS_ENABLED": "true", "PORT": " "})
    assert (s.host, s.log_format, s.metrics_enabled, s.port) == ("127.0.0.1", "json", True, 3000)


def test_secrets_are_secret_strings_revealed_only_on_purpose():
    from pydantic import SecretStr

    s = load_settings({"SLACK_BOT_TOKEN": "xoxb-1-secret", "SLACK_SIGNING_SECRET": "shh", "SLACK_APP_TOKEN": "xapp-1"})
    assert isinstance(s.slack_bot_token, SecretStr) and isinstance(s.slack_signing_secret, SecretStr)
    assert (s.bot_token, s.signing_secret, s.app_token) == ("xoxb-1-secret", "shh", "xapp-1")
    assert s.socket_mode is True


def test_dotenv_is_read_without_overriding_the_environment(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("PORT=4000\nLOG_LEVEL=debug\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORT", "5000")
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    s = load_settings()
    assert s.port == 5000
    assert s.log_level == "DEBUG"


def test_pmbot_run_without_signing_secret_prints_one_line_and_fails(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SLACK_BOT_TOKEN": "xoxb-secret-token-value", "PYTHONPATH": str(ROOT),
           "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    proc = subprocess.run([sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "SLACK_SIGNING_SECRET" in lines[0]
    assert "xoxb-secret-token-value" not in proc.stderr + proc.stdout


def test_outbox_retry_hours_and_sqlite_durability_settings():
    from bot.config import ConfigError, load_settings

    s = load_settings({})
    assert s.outbox_retry_hours == 72 and s.sqlite_synchronous == "full"
    s = load_settings({"OUTBOX_RETRY_HOURS": "3", "SQLITE_SYNCHRONOUS": "normal"})
    assert s.outbox_retry_hours == 3 and s.sqlite_synchronous == "normal"
    for name, bad in (("OUTBOX_RETRY_HOURS", "0"), ("OUTBOX_RETRY_HOURS", "soon"), ("SQLITE_SYNCHRONOUS", "off")):
        try:
            load_settings({name: bad})
        except ConfigError as err:
            assert err.variable == name
        else:
            raise AssertionError(f"{name}={bad} accepted")


def test_sqlite_commits_are_synchronous_full_by_default(tmp_path):
    from sqlalchemy import text

    from bot.db import make_engine

    for mode, expected in (("full", 2), ("normal", 1)):
        engine = make_engine(f"sqlite:///{tmp_path}/{mode}.db", synchronous=mode)
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == expected
        engine.dispose()
    engine = make_engine(f"sqlite:///{tmp_path}/default.db")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2
    engine.dispose()
