"""bot.logs: one handler, text or JSON, request context on every line, scheduler chatter at DEBUG."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.logs import SLACK_SDK_SELF_LEVELLED, request_context, setup_logging


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    alembic = logging.getLogger("alembic").level
    own = {name: logging.getLogger(name).level for name in SLACK_SDK_SELF_LEVELLED}
    yield
    for name, own_level in own.items():
        logging.getLogger(name).setLevel(own_level)
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(alembic)


def test_json_lines_carry_the_request_context_and_exceptions(restore_logging):
    out = io.StringIO()
    setup_logging("INFO", "json", stream=out)
    log = logging.getLogger("bot.test")
    with request_context(request_id="r-1", team="T1"):
        log.info("hello %s", "world", extra={"latency_ms": 12.5})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{"))
    assert first["message"] == "hello world" and first["logger"] == "bot.test" and first["level"] == "INFO"
    assert (first["request_id"], first["team"], first["latency_ms"]) == ("r-1", "T1", 12.5)
    assert first["time"].endswith("Z")
    assert "request_id" not in second and "ValueError: boom" in second["exception"]


def test_scheduler_chatter_is_debug_and_libraries_share_the_format(restore_logging):
    out = io.StringIO()
    setup_logging("INFO", "text", stream=out)
    logging.getLogger("apscheduler.executors.default").info('Running job "tick"')
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    logging.getLogger("uvicorn.error").info("Started server process")
    text = out.getvalue()
    assert "Running job" not in text
    assert "WARNING apscheduler.scheduler: Run time of job was missed" in text
    assert "INFO uvicorn.error: Started server process" in text
    out = io.StringIO()
    setup_logging("DEBUG", "text", stream=out)
    logging.getLogger("apscheduler.executors.default").info('Running job "tick"')
    assert 'DEBUG apscheduler.executors.default: Running job "tick"' in out.getvalue()


class _Shown(dict):
    """A Block Kit element that counts how often it is rendered as text (a log line would)."""

    rendered = 0

    def __repr__(self) -> str:
        type(self).rendered += 1
        return super().__repr__()


@pytest.mark.parametrize(("level", "rendered"), [("INFO", False), ("DEBUG", True)])
def test_web_api_calls_render_their_body_for_a_debug_line_only_at_debug(restore_logging, fake_slack, level,
                                                                         rendered):
    """slack_sdk decides from its own logger's level whether to build a call's debug lines (the
    whole JSON body and answer as text); left unset, it built them on every call and dropped them."""
    from bot.slack.transport import PooledWebClient

    out = io.StringIO()
    setup_logging(level, "text", stream=out)
    _Shown.rendered = 0
    client = PooledWebClient(token="xoxb-test", base_url=fake_slack.url)
    block = _Shown(type="section", text={"type": "mrkdwn", "text": "REQ-1 · Login"})
    client.chat_postMessage(channel="C0CLIENT", text="REQ-1 · Login", blocks=[block])
    assert fake_slack.calls_to("chat.postMessage")[-1].params["blocks"][0]["text"]["text"] == "REQ-1 · Login"
    assert (_Shown.rendered > 0) is rendered
    assert ("Sending a request" in out.getvalue()) is rendered
