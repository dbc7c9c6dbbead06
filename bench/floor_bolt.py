"""The floor of bench/ack_latency.py: a Bolt app on PM Bot's stack doing only the work a quick
capture and a decision click cannot avoid.

    PORT=3002 SLACK_SIGNING_SECRET=… SLACK_API_URL=http://127.0.0.1:…/api/ \
    DATABASE_URL=sqlite:///…/bench.db FLOOR_PROJECT_ID=2 FLOOR_TEAM_ID=T0TEAM python bench/floor_bolt.py

Same stack as bench/bare_bolt.py (Bolt `App` with PM Bot's options and listener runner, the Starlette adapter,
`app.dispatch` in the thread pool, uvicorn), and:

* `/req <title>`: Bolt verifies the signature; the requirement row and its one activity-log row
  are inserted into PM Bot's own tables (plain SQLAlchemy Core on the tables of bot.models) in
  ONE transaction; the answer is sent after the commit, in the shape PM Bot gives it (ephemeral
  "Saved *REQ-12 · title*." with the item's section, context and buttons).
* `req_confirm` button: ONE transaction with a conditional UPDATE (proposed → confirmed, only
  while the version the button carries is current, bumping it), one activity-log row and one
  outbox row (the in-place update of the confirmation message, rendered when sent); then ack.

Nothing else: no project-by-channel lookup (the project is FLOOR_PROJECT_ID), no users.info
(the bench users are team members), no ORM, no logging on the path. The database is the one
PM Bot uses, migrated by the caller; the engine has PM Bot's SQLite settings (WAL, synchronous
as SQLITE_SYNCHRONOUS says, NORMAL unless set; foreign keys, busy timeout, BEGIN IMMEDIATE) and
writers take turns on an in-process lock, as PM Bot's session scope does. On PostgreSQL: the same
pool size, no pre-ping.

Listens on 127.0.0.1 only; GET /healthz answers 200 once it is up.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from bare_bolt import create_web_app, freeze_startup_objects  # noqa: E402
from slack_bolt import Ack, App  # noqa: E402
from slack_sdk import WebClient  # noqa: E402
from sqlalchemy import Connection, Engine, create_engine, event, insert, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.flows import outbox_keys  # noqa: E402
from bot.models import ActivityLog, Outbox, Requirement  # noqa: E402
from bot.slack.acks import use_event_acks  # noqa: E402

REQ = Requirement.__table__  # type: ignore[attr-defined]
LOG = ActivityLog.__table__  # type: ignore[attr-defined]
OUTBOX = Outbox.__table__  # type: ignore[attr-defined]
BUSY_SECONDS = 30


def make_floor_engine(url: str) -> tuple[Engine, Any]:
    """An engine with PM Bot's SQLite settings (see bot/db.py make_engine) and the lock its
    writers take turns on; on PostgreSQL the same pool and no lock."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_size=10, max_overflow=10), nullcontext()
    engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": BUSY_SECONDS})
    synchronous = os.environ.get("SQLITE_SYNCHRONOUS", "normal").upper()  # as PM Bot's SQLITE_SYNCHRONOUS
    if synchronous not in ("FULL", "NORMAL"):
        raise SystemExit(f"SQLITE_SYNCHRONOUS must be full or normal, not {synchronous.lower()!r}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN, not the sqlite3 module
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine, threading.Lock()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _button(action_id: str, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id, "value": value,
                              "text": {"type": "plain_text", "text": label, "emoji": True}}
    if style:
        button["style"] = style
    return button


def saved_answer(req_id: int, title: str, user: str) -> dict[str, Any]:
    """PM Bot's answer to a quick capture, in the same shape: text, section, context, buttons."""
    ref, shown = f"REQ-{req_id}", _escape(title)
    value = str(req_id)
    return {
        "response_type": "ephemeral",
        "text": f":white_check_mark: Saved *{ref} · {shown}*.",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{ref} · {shown}*"}},
            {"type": "context", "elements": [{"type": "mrkdwn",
                                              "text": f"Proposed · Should have · raised by <@{user}>"}]},
            {"type": "actions", "block_id": f"req_item:{req_id}:item", "elements": [
                _button("req_edit", "Edit", value), _button("req_send", "Send for confirmation", value, "primary"),
                _button("req_done", "Mark done", value), _button("req_defer", "Defer", value),
                _button("req_drop", "Drop", value, "danger"),
            ]},
        ],
    }


def create_bolt_app(signing_secret: str, api_url: str, token: str, engine: Engine, writer: Any,
                    project_id: int, team_id: str, client_channel: str) -> App:
    app = App(
        client=WebClient(token=token, base_url=api_url),
        signing_secret=signing_secret,
        request_verification_enabled=True,
        token_verification_enabled=False,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        ignoring_self_events_enabled=True,
    )

    use_event_acks(app)  # PM Bot's runner (bot/slack/acks.py), as in bench/bare_bolt.py

    @contextmanager
    def transaction() -> Iterator[Connection]:
        with writer, engine.begin() as conn:
            yield conn

    @app.command("/req")
    def capture(ack: Ack, command: dict[str, Any]) -> None:
        title = " ".join((command.get("text") or "").split())[:200]
        user = command["user_id"]
        now = datetime.now(UTC)
        with transaction() as conn:
            req_id = conn.execute(insert(REQ).values(
                version=1, project_id=project_id, title=title, description="", priority="should",
                acceptance_criteria="", raised_by=user, raised_by_client=False, status="proposed",
                decided_on_behalf=False, created_at=now, updated_at=now,
            )).inserted_primary_key[0]
            conn.execute(insert(LOG).values(
                team_id=team_id, project_id=project_id, actor_user_id=user, action="created",
                entity_type="requirement", entity_id=req_id, before=None,
                after={"title": title, "description": "", "priority": "should", "acceptance_criteria": "",
                       "status": "proposed", "raised_by": user, "raised_by_client": False},
                on_behalf_of_client=False, created_at=now,
            ))
        ack(saved_answer(req_id, title, user))

    @app.action("req_confirm")
    def confirm(ack: Ack, body: dict[str, Any]) -> None:
        raw = str((body.get("actions") or [{}])[0].get("value") or "")
        id_part, _, version_part = raw.partition("@")
        user = body["user"]["id"]
        if not id_part.isdigit():
            ack()
            return
        req_id = int(id_part)
        now = datetime.now(UTC)
        where = [REQ.c.id == req_id, REQ.c.project_id == project_id, REQ.c.status == "proposed"]
        if version_part.isdigit():
            where.append(REQ.c.version == int(version_part))
        with transaction() as conn:
            changed = conn.execute(update(REQ).where(*where).values(
                status="confirmed", version=REQ.c.version + 1, decided_by=user, decided_at=now,
                decided_on_behalf=False, updated_at=now,
            )).rowcount
            if changed == 1:
                conn.execute(insert(LOG).values(
                    team_id=team_id, project_id=project_id, actor_user_id=user, action="confirmed",
                    entity_type="requirement", entity_id=req_id, before={"status": "proposed"},
                    after={"status": "confirmed", "decided_by": user, "decided_at": now.isoformat()},
                    on_behalf_of_client=False, created_at=now,
                ))
                target = outbox_keys.target(outbox_keys.TargetKind.requirement, req_id)
                conn.execute(insert(OUTBOX).values(
                    key=outbox_keys.update(target), team_id=team_id, project_id=project_id,
                    kind=outbox_keys.Kind.update.value, method="chat.update", channel_id=client_channel,
                    payload={}, status="pending", attempts=0, not_before=now, created_at=now, target=target,
                ))
        ack()

    return app


def main() -> None:
    engine, writer = make_floor_engine(os.environ["DATABASE_URL"])
    app = create_bolt_app(
        os.environ["SLACK_SIGNING_SECRET"], os.environ["SLACK_API_URL"],
        os.environ.get("SLACK_BOT_TOKEN", "xoxb-bench-token"), engine, writer,
        project_id=int(os.environ["FLOOR_PROJECT_ID"]), team_id=os.environ.get("FLOOR_TEAM_ID", "T0TEAM"),
        client_channel=os.environ.get("FLOOR_CLIENT_CHANNEL", "C0FLOOR"),
    )
    web_app = create_web_app(app)
    freeze_startup_objects()
    uvicorn.run(web_app, host="127.0.0.1", port=int(os.environ["PORT"]), http="httptools",  # as pmbot run
                log_level=os.environ.get("LOG_LEVEL", "warning").lower(), timeout_graceful_shutdown=20)


if __name__ == "__main__":
    main()
