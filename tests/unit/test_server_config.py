"""`pmbot run`'s HTTP server: uvicorn with the C HTTP parser (issue 13), serving Slack's
signed requests through it."""

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.config import load_settings
from bot.runner import server_config


def _loaded(app: object) -> object:
    config = server_config(load_settings({"PORT": "0"}), app)
    config.load()
    return config


def test_pmbot_run_parses_http_with_httptools_not_h11():
    config = _loaded(lambda *_: None)
    assert config.http_protocol_class is HttpToolsProtocol
    assert config.http_protocol_class is not H11Protocol
    assert config.access_log is False and config.lifespan == "off"


def test_a_signed_command_is_answered_through_the_tests_server(slack, people):
    """The tests' server (tests/conftest.py) is built with HTTP_PROTOCOL too: a signed `/req help`
    sent through it is answered with the help."""
    answer = slack.command("/req", "help", user=people.pm)
    assert answer.status_code == 200
    assert "/req list" in answer.json()["text"]
