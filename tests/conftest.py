"""Shared fixtures: a fresh database per test (SQLite, or PostgreSQL when
PMBOT_TEST_DATABASE_URL is set), the fake Slack Web API, the bot served over real HTTP, and a
`slack` driver that sends signed requests the way Slack does."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

import bot.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from bot.app import create_app, deps_of
from bot.clock import FrozenClock
from bot.config import Settings
from bot.db import make_engine
from bot.deps import Deps
from bot.flows import after_answer
from bot.metrics import SLACK_CALLS_IN_TRANSACTION
from bot.migrate import upgrade
from bot.web import create_web_app
from tests.fakes import payloads
from tests.fakes.slack_api import FakeSlack
from tests.listeners import InFlight, ListenerTracker, track_listeners

PG_URL = os.environ.get("PMBOT_TEST_DATABASE_URL")
TEAM = "T0TEAM"
OTHER_ORG = "T0EXT"
CLIENT_CHANNEL = "C0CLIENT"
INTERNAL_CHANNEL = "C0INTERNAL"
OTHER_CHANNEL = "C0OTHER"

# A Wednesday morning, UTC.
START = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)

# The real clock, moved to a fixed moment (ISO 8601 with offset) for the whole run, so the
# tests that use it can be run at the awkward moments of the year in CI (a Saturday, a Monday
# before working hours, 31 December, the night clocks change): `.ci/run` sets it.
REAL_NOW = os.environ.get("PMBOT_TEST_REAL_NOW")


@pytest.fixture(autouse=True)
def _real_clock_at_a_fixed_moment(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that start a separate PM Bot program on the real clock and talk to it with signed
    requests (tests/deploy: an installed wheel, start-up) keep the real clock: Slack signatures
    must agree with the receiving process's time (marker `real_clock`). Tests that run wholly on
    a controlled clock of their own (marker `own_clock`) need no moved real clock, and spare its
    cost: time_machine makes every `time.time()` and `datetime.now()` a Python call (about a
    tenth of the time-zone property's scenarios, side by side)."""
    if not REAL_NOW or request.node.get_closest_marker("real_clock") or request.node.get_closest_marker("own_clock"):
        yield
        return
    import time_machine

    with time_machine.travel(datetime.fromisoformat(REAL_NOW), tick=True):
        yield


def _slack_calls_in_transactions() -> float:
    return sum(s.value for m in SLACK_CALLS_IN_TRANSACTION.collect() for s in m.samples if s.name.endswith("_total"))


@pytest.fixture(autouse=True)
def _no_slack_call_inside_a_transaction() -> Iterator[None]:
    """The bot asks Slack before or after a transaction, never inside one: every other save of
    the process would wait for Slack's answer (bot/metrics.py counts such calls)."""
    before = _slack_calls_in_transactions()
    yield
    assert _slack_calls_in_transactions() == before, \
        "a Slack Web API call was made inside a database transaction (the bot logged which)"


@dataclass(frozen=True)
class People:
    pm: payloads.SlackUser
    dev: payloads.SlackUser
    guest: payloads.SlackUser
    client: payloads.SlackUser  # a client approver from another organisation
    outsider: payloads.SlackUser  # another external user of the client organisation


PEOPLE = People(
    pm=payloads.SlackUser(id="U0PM", team_id=TEAM, name="pat.pm"),
    dev=payloads.SlackUser(id="U0DEV", team_id=TEAM, name="dana.dev"),
    guest=payloads.SlackUser(id="U0GUEST", team_id=TEAM, name="gary.guest"),
    client=payloads.SlackUser(id="U0CLIENT", team_id=OTHER_ORG, name="chris.client"),
    outsider=payloads.SlackUser(id="U0OUTSIDER", team_id=OTHER_ORG, name="olga.outsider"),
)


# Database ---------------------------------------------------------------------------------


def _psycopg(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str | None]:
    """One freshly migrated PostgreSQL database per test process (xdist workers get their own),
    named after the run too: two test runs against one server never drop each other's (a run
    that dropped another's database WITH (FORCE) broke its connections mid-test)."""
    if not PG_URL:
        yield None
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    run = (os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"{os.getpid():x}")[:8]
    base = make_url(_psycopg(PG_URL))
    url = base.set(database=f"{base.database}_{worker}_{run}").render_as_string(hide_password=False)
    admin = make_engine(base.render_as_string(hide_password=False))
    dbname = make_url(url).database

    def drop() -> None:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))

    drop()
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop()  # a throwaway server would keep every run's database otherwise
    admin.dispose()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables if t.name != "alembic_version")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite database, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "pmbot.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def database_url(tmp_path, pg_url, sqlite_template) -> str:
    if pg_url:
        return pg_url
    target = tmp_path / "pmbot-test.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def engine(database_url: str, pg_url: str | None) -> Iterator[Engine]:
    engine = make_engine(database_url)
    if pg_url:
        _truncate_all(engine)
    yield engine
    # what a test's requests left for after their answer is sent before its database goes
    assert after_answer.pool.wait_idle(15), "what the requests owed after their answer was not sent within 15 s"
    engine.dispose()


class _Rows(list):
    """Query results already read into memory (the transaction that read them is over)."""

    def all(self) -> list:
        return list(self)

    def first(self) -> Any:
        return self[0] if self else None

    def one(self) -> Any:
        assert len(self) == 1, f"expected one row, got {len(self)}"
        return self[0]

    def one_or_none(self) -> Any:
        assert len(self) <= 1, f"expected at most one row, got {len(self)}"
        return self[0] if self else None


class ObserverSession(Session):
    """The tests' window on the database. Every read starts a fresh transaction and ends it at
    once, so it sees what the bot committed and never holds SQLite's write lock while the bot
    works (the bot begins its transactions with BEGIN IMMEDIATE)."""

    def _fresh(self) -> None:
        if not (self.new or self.dirty or self.deleted):
            self.rollback()
            self.expire_all()

    def exec(self, statement: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self._fresh()
        result = super().exec(statement, *args, **kwargs)
        rows = _Rows(result.all()) if hasattr(result, "all") else result
        self.commit()
        return rows

    def get(self, entity: Any, ident: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self._fresh()
        kwargs.setdefault("populate_existing", True)
        obj = super().get(entity, ident, *args, **kwargs)
        self.commit()
        return obj


@pytest.fixture
def session(database_url: str, engine: Engine) -> Iterator[Session]:
    # Its own engine, whose SQLite transactions begin DEFERRED: a test reading (even lazily)
    # never holds the write lock the bot needs.
    observer = make_engine(database_url, sqlite_immediate=False)
    with ObserverSession(observer, expire_on_commit=False) as s:
        yield s
    observer.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


# Slack ------------------------------------------------------------------------------------


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(team_id=TEAM)
    fake.start()
    fake.add_user(PEOPLE.pm.id, name=PEOPLE.pm.name, tz="Europe/Berlin")
    fake.add_user(PEOPLE.dev.id, name=PEOPLE.dev.name)
    fake.add_user(PEOPLE.guest.id, name=PEOPLE.guest.name, is_restricted=True)
    # Everybody's Slack is in English unless a test says otherwise: what one person reads follows
    # their Slack locale (issue 17; tests/e2e/test_person_language.py sets zh-CN, zh-TW, zh-HK).
    fake.add_user(PEOPLE.client.id, team_id=OTHER_ORG, name=PEOPLE.client.name)
    fake.add_user(PEOPLE.outsider.id, team_id=OTHER_ORG, name=PEOPLE.outsider.name)
    fake.set_channel(CLIENT_CHANNEL, name="client-acme", is_ext_shared=True)
    fake.set_channel(INTERNAL_CHANNEL, name="acme-team")
    fake.set_channel(OTHER_CHANNEL, name="random")
    fake.set_members(CLIENT_CHANNEL, [PEOPLE.pm.id, PEOPLE.dev.id, PEOPLE.client.id, PEOPLE.outsider.id,
                                      PEOPLE.guest.id])
    fake.set_members(INTERNAL_CHANNEL, [PEOPLE.pm.id, PEOPLE.dev.id])
    yield fake
    fake.stop()


@pytest.fixture
def settings(fake_slack: FakeSlack, database_url: str) -> Settings:
    return Settings(
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=payloads.SIGNING_SECRET,
        slack_app_token=None,
        slack_api_url=fake_slack.url,
        database_url=database_url,
        port=0,
        scheduler_enabled=False,
        log_level="INFO",
    )


@pytest.fixture
def bolt_app(settings: Settings, engine: Engine, clock: FrozenClock, fake_slack: FakeSlack):
    fake_slack.ts_clock = lambda: clock.now().timestamp()  # Slack's ts follow the bot's clock
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def deps(bolt_app) -> Deps:
    return deps_of(bolt_app)


class _Server:
    """uvicorn serving the bot's Starlette app on a loopback port, in a thread."""

    def __init__(self, asgi_app: Any) -> None:
        # log_config=None, as `pmbot run` starts it: uvicorn's lines (an exception in the app
        # above all) reach the root logger, where the tests' catchers are, whatever ran before;
        # and its HTTP implementation, so requests are parsed as in production
        from bot.runner import HTTP_PROTOCOL

        config = uvicorn.Config(asgi_app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                                log_config=None, http=HTTP_PROTOCOL)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class _CurrentApp:
    """The ASGI app of whichever test runs now, behind one uvicorn server per test process:
    starting and stopping uvicorn for each test cost a quarter of a second (its shutdown waits
    at least one 0.1 s tick and one 0.1 s grace period), a minute of every suite run."""

    def __init__(self) -> None:
        self.app: Any = None
        self.requests = InFlight()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        app = self.app
        if app is None or scope["type"] != "http":
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"no test is running"})
            return
        with self.requests.counting():
            await app(scope, receive, send)

    def wait_idle(self, timeout: float = 10) -> None:
        """Until no request is being served: its answer sent AND what the app does after it (the
        access line) done."""
        self.requests.wait_idle(timeout)

    @contextmanager
    def serving(self, app: Any) -> Iterator[None]:
        """Serve `app` until the test ends; then wait (bounded) for its requests still in flight,
        as uvicorn's shutdown did."""
        self.app = app
        try:
            yield
        finally:
            self.app = None
            self.wait_idle()


served = _CurrentApp()  # what the per-process uvicorn serves (fixture `server`)


@pytest.fixture(scope="session")
def _uvicorn() -> Iterator[str]:
    with _Server(served) as base:
        yield base


@pytest.fixture
def server(bolt_app, _uvicorn: str) -> Iterator[str]:
    with served.serving(create_web_app(bolt_app)):
        yield _uvicorn


class SlackDriver:
    """Sends signed requests to the bot the way Slack does, and reads what the bot sent back."""

    def __init__(self, base: str, fake: FakeSlack, listeners: ListenerTracker | None = None) -> None:
        self.base = base
        self.fake = fake
        self.listeners = listeners
        self.http = httpx.Client(base_url=base, timeout=30)
        self._n = 0

    def _post(self, built: tuple[str, dict[str, str]], settle: bool = True) -> httpx.Response:
        """Send as Slack does; return once the bot has done all the request set off (`settle`),
        so that what it sends after its answer is there to be read; at once with `settle=False`
        (a test of what happens while that work is under way)."""
        body, headers = built
        response = self.http.post("/slack/events", content=body.encode(), headers=headers)
        if settle:
            self.settle()
        return response

    def _response_url(self) -> str:
        self._n += 1
        return self.fake.response_url(f"r{self._n}")

    def command(self, command: str, text: str = "", *, user: payloads.SlackUser,
                channel_id: str = CLIENT_CHANNEL) -> httpx.Response:
        return self._post(payloads.slash_command(command, text, user=user, channel_id=channel_id,
                                                 team_id=TEAM, response_url=self._response_url(),
                                                 trigger_id=f"trigger-{self._n}"))

    def action(self, action_id: str, value: str | None = None, *, user: payloads.SlackUser,
               channel_id: str = CLIENT_CHANNEL, settle: bool = True, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("response_url", self._response_url())
        kwargs.setdefault("trigger_id", f"trigger-{self._n}")
        return self._post(payloads.block_actions(action_id, value, user=user, channel_id=channel_id,
                                                 team_id=TEAM, **kwargs), settle)

    def submit(self, callback_id: str, values: dict[str, Any], *, user: payloads.SlackUser,
               private_metadata: str = "", **kwargs: Any) -> httpx.Response:
        return self._post(payloads.view_submission(callback_id, values, user=user, team_id=TEAM,
                                                   private_metadata=private_metadata, **kwargs))

    def event(self, event: dict[str, Any]) -> httpx.Response:
        return self._post(payloads.event_callback(event, team_id=TEAM))

    def settle(self) -> None:
        """Wait until the bot has done everything the requests sent so far set off: their
        listeners, what those send after their answer (the process's pool of senders), and the
        access lines."""
        if self.listeners is not None:
            self.listeners.wait_idle()
        assert after_answer.pool.wait_idle(15), "what the requests owed after their answer was not sent within 15 s"
        served.wait_idle()

    def last_view(self) -> dict[str, Any]:
        """The view the bot opened or pushed most recently."""
        calls = [c for c in self.fake.calls if c.method in {"views.open", "views.push", "views.update"}]
        assert calls, "the bot opened no view"
        return calls[-1].params["view"]

    def responses(self) -> list[dict[str, Any]]:
        return [c.params for c in self.fake.calls_to("response_url")]


@pytest.fixture
def slack(server: str, fake_slack: FakeSlack, bolt_app) -> Iterator[SlackDriver]:
    driver = SlackDriver(server, fake_slack, track_listeners(bolt_app))
    yield driver
    driver.http.close()


@pytest.fixture
def people() -> People:
    return PEOPLE


def as_user(user: payloads.SlackUser, **changes: Any) -> payloads.SlackUser:
    return replace(user, **changes)


@pytest.fixture
def make_project(engine: Engine, clock: FrozenClock):
    """Create a project straight through the service (faster than the modal when the modal is
    not what a test is about). Defaults: bound to C0CLIENT / C0INTERNAL, PM U0PM, client
    approver U0CLIENT, English, Asia/Shanghai."""
    from bot.db import session_scope
    from bot.services import projects

    def make(name: str = "Acme Web Shop", **overrides: Any):
        fields: dict[str, Any] = {
            "name": name, "client_name": "Acme Ltd.", "client_channel_id": CLIENT_CHANNEL,
            "internal_channel_id": INTERNAL_CHANNEL, "pm_user_id": PEOPLE.pm.id,
            "client_approver_ids": [PEOPLE.client.id], "timezone": "Asia/Shanghai", "language": "en",
        }
        fields.update(overrides)
        with session_scope(engine) as s:
            return projects.create(s, clock, team_id=TEAM, enterprise_id=None, actor=PEOPLE.pm.id,
                                   data=projects.ProjectInput(**fields))

    return make


# The longest tests first, one per worker: pytest-xdist hands out tests in collection order, and
# one of these started last kept its worker busy long after the others had finished (each
# time-zone scenario runs over a minute on a busy machine; the scale-out test waits a minute for
# every process's scheduler to tick). Its first hand-out gives each worker a run of consecutive
# tests, so two long ones side by side in the order went to the same worker, one after the other
# (the SQLite run's last minute had one CPU idle): each long test now opens a run of its own.
# Last of the hooks: pytest's own (fixtures.py `reorder_items`, grouping tests by the fixtures
# they share) ran after this one and undid the order, so the long tests did not start first.
LONGEST_FIRST = ("tests/resilience/test_scale_out.py", "tests/resilience/test_digest_signals.py",
                 "tests/e2e/test_time_zones_property.py", "tests/unit/test_digest_limits_property.py")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
    longest = [item for item in items if item.nodeid.split("::")[0] in rank]
    run = _first_hand_out(config, len(items))
    if run is None or not longest:
        return
    rest = items[len(longest):]
    ordered: list[pytest.Item] = []
    while longest or rest:
        if longest:
            ordered.append(longest.pop(0))
        ordered += rest[:run - 1]
        rest = rest[run - 1:]
    items[:] = ordered


def _first_hand_out(config: pytest.Config, count: int) -> int | None:
    """How many consecutive tests pytest-xdist's `load` scheduler first gives each worker (as its
    `LoadScheduling.schedule` computes it), in a worker of a distributed run; None otherwise.
    Should a later xdist compute it otherwise, only the order's speed suffers, never a result."""
    workers = getattr(config, "workerinput", {}).get("workercount")
    if not workers:
        return None
    run = count // workers // 4
    chunk = config.getoption("maxschedchunk", None)
    return max(min(run, chunk) if chunk else run, 2)
