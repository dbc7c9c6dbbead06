"""What the hostile-input tests observe: the HTTP answer, every Slack call the bot made for a
request (after its background work is over), the error log, and the row counts of every table.

The bot acknowledges first and works on in Bolt's listener threads; `settle()` waits until those
threads are idle, so a test sees everything a request caused before it checks the properties.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, func, literal, select, union_all
from sqlmodel import SQLModel

from tests.fakes.slack_api import Call, FakeSlack

# Text a user could type to ping everyone, mention someone or hide a link. The bot must never
# send one of these unescaped in a mrkdwn text. Ids with EVIL never belong to a real user, so an
# unescaped `<@UEVIL…>` can only have come from user input.
EVIL_MARKUP = ("<!channel", "<!here", "<!everyone", "<!subteam", "<@UEVIL", "<@WEVIL", "<#CEVIL",
               "<https://evil", "<http://evil", "<mailto:evil")

# Methods whose `text` (and mrkdwn blocks) Slack renders in a channel or DM.
MESSAGE_METHODS = {"chat.postMessage", "chat.postEphemeral", "chat.update", "chat.scheduleMessage", "response_url"}
VIEW_METHODS = {"views.open", "views.update", "views.push", "views.publish"}


class LogCatcher(logging.Handler):
    """Every ERROR record, and Bolt's warning that a listener never acknowledged."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        bad = record.levelno >= logging.ERROR or (
            record.name.startswith("slack_bolt") and "ack()" in record.getMessage())
        if bad:
            with self._lock:
                self.records.append(record)

    def since(self, start: int) -> list[logging.LogRecord]:
        with self._lock:
            return self.records[start:]

    def mark(self) -> int:
        with self._lock:
            return len(self.records)


def describe(record: logging.LogRecord) -> str:
    text = f"{record.name} {record.levelname}: {record.getMessage()}"
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


# Texts the bot sent ------------------------------------------------------------------------


def _mrkdwn_in(obj: Any) -> Iterator[str]:
    """Every mrkdwn text object's text, anywhere in a block structure."""
    if isinstance(obj, dict):
        if obj.get("type") == "mrkdwn" and isinstance(obj.get("text"), str):
            yield obj["text"]
        for value in obj.values():
            yield from _mrkdwn_in(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _mrkdwn_in(value)


def _blocks(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def message_texts(payload: dict[str, Any]) -> Iterator[str]:
    """The strings Slack parses as mrkdwn in a message payload (text, blocks, attachments)."""
    if isinstance(payload.get("text"), str) and payload.get("mrkdwn") not in (False, "false", "0"):
        yield payload["text"]
    for key in ("blocks", "attachments"):
        yield from _mrkdwn_in(_blocks(payload.get(key)))
    if isinstance(payload.get("initial_comment"), str):
        yield payload["initial_comment"]


def view_texts(payload: dict[str, Any]) -> Iterator[str]:
    yield from _mrkdwn_in(_blocks(payload.get("view")))


def sent_texts(calls: list[Call]) -> Iterator[tuple[str, str]]:
    """(method, text) for every mrkdwn string in the recorded calls."""
    for call in calls:
        if call.method in MESSAGE_METHODS:
            for text in message_texts(call.params):
                yield call.method, text
        elif call.method in VIEW_METHODS:
            for text in view_texts(call.params):
                yield call.method, text
        elif call.method == "files.completeUploadExternal" and isinstance(call.params.get("initial_comment"), str):
            yield call.method, call.params["initial_comment"]


def answer_texts(response: httpx.Response) -> Iterator[tuple[str, str]]:
    """mrkdwn strings in the bot's synchronous answer (an ack with a message or a view)."""
    try:
        body = response.json()
    except ValueError:
        return
    if not isinstance(body, dict):
        return
    if body.get("response_action") in ("update", "push"):
        for text in _mrkdwn_in(body.get("view")):
            yield "ack view", text
    elif "response_action" not in body:
        for text in message_texts(body):
            yield "ack", text


def unescaped_markup(texts: Iterator[tuple[str, str]]) -> list[tuple[str, str]]:
    found = []
    for where, text in texts:
        lowered = text.lower()
        for evil in EVIL_MARKUP:
            if evil.lower() in lowered:
                found.append((where, text[:500]))
                break
    return found


# Stored rows -------------------------------------------------------------------------------


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order: equal snapshots mean nothing changed."""
    out = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def _counted(table: Any) -> Any:
    """The rows that say something was stored. A refresh of a live message (an outbox row of
    kind "update", drawn from the record as it is) changes nothing, so a refused stale click or
    form may queue one: the issue asks for the stale message to be refreshed."""
    stmt = select(literal(table.name).label("name"), func.count().label("n")).select_from(table)
    return stmt.where(table.c.kind != "update") if table.name == "outbox" else stmt


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, in one round trip."""
    tables = SQLModel.metadata.sorted_tables
    query = union_all(*[_counted(t) for t in tables])
    with engine.connect() as conn:
        return {name: n for name, n in conn.execute(query)}


# One request and what it caused ------------------------------------------------------------


@dataclass
class Outcome:
    response: httpx.Response
    calls: list[Call]
    errors: list[logging.LogRecord]
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)

    @property
    def body(self) -> dict[str, Any]:
        try:
            data = self.response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def view_errors(self) -> dict[str, str] | None:
        body = self.body
        return body.get("errors") if body.get("response_action") == "errors" else None

    def changed_tables(self) -> dict[str, tuple[int, int]]:
        return {k: (self.before[k], self.after[k]) for k in self.before if self.before[k] != self.after.get(k)}

    def texts(self) -> list[str]:
        """Every user-visible text the request produced (answer and Slack calls), for assertions."""
        return [t for _, t in answer_texts(self.response)] + [t for _, t in sent_texts(self.calls)] + [
            str(c.params.get("text", "")) for c in self.calls if c.method in MESSAGE_METHODS]


class Hostile:
    """Sends one signed request, waits for everything it causes, and checks the properties."""

    def __init__(self, slack: Any, fake: FakeSlack, logs: LogCatcher, counter: Engine) -> None:
        self.slack = slack
        self.fake = fake
        self.logs = logs
        self.counter = counter

    def settle(self) -> None:
        self.slack.settle()  # the listeners, what they send after their answer, the access lines

    def send(self, built: tuple[str, dict[str, str]], *, count_rows: bool = True) -> Outcome:
        self.settle()
        before = row_counts(self.counter) if count_rows else {}
        first_call = len(self.fake.calls)
        first_log = self.logs.mark()
        body, headers = built
        response = self.slack.http.post("/slack/events", content=body.encode(), headers=headers)
        self.settle()
        after = row_counts(self.counter) if count_rows else {}
        return Outcome(response=response, calls=list(self.fake.calls[first_call:]),
                       errors=self.logs.since(first_log), before=before, after=after)

    @staticmethod
    def check(outcome: Outcome, *, what: str = "") -> None:
        """The properties every request must keep, whatever it carried."""
        status = outcome.response.status_code
        # 400: a payload the guard refused (bot/slack/guard.py: nothing ran). Anything else must be a 200: a
        # 500, or Bolt's 404 after a listener failed before its ack reached Slack, is a bug.
        refused_unread = status == 400 and not outcome.calls and outcome.before == outcome.after
        assert status == 200 or refused_unread, f"{what}: HTTP {status} {outcome.response.text[:300]!r}"
        assert not outcome.errors, f"{what}: unhandled errors:\n" + "\n".join(describe(r) for r in outcome.errors)
        leaked = unescaped_markup(answer_texts(outcome.response)) + unescaped_markup(sent_texts(outcome.calls))
        assert not leaked, f"{what}: unescaped user markup sent to Slack: {leaked}"
        if outcome.view_errors is not None and outcome.before:
            assert outcome.before == outcome.after, (
                f"{what}: refused inline but stored rows: {outcome.changed_tables()}")
