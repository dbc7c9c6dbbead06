"""Slack failing in bursts — server errors, timeouts whose message got through anyway, rate
limits — while the digests and reminders go out: in the end every message is in Slack once."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.flows import outbox_keys
from bot.flows.delivery import deliver_due
from bot.flows.digest import run_due as run_digests
from bot.flows.outbox_keys import digest as digest_key
from bot.flows.reminders import send_reminders as run_reminders
from bot.models import Outbox
from bot.services import reminders
from bot.slack.client import make_client
from tests.conftest import START, TEAM
from tests.resilience.helpers import Script, accepted_posts, add_reminder_items, posted_keys

pytestmark = pytest.mark.slow

PROJECTS = 6
WEEK = "2026-W47"  # START is Wednesday 2026-11-18


def test_bursts_of_500s_timeouts_and_429s_still_send_each_digest_and_reminder_once(
        deps, fake_slack, make_project, clock, session, engine, caplog):
    caplog.set_level(logging.INFO, logger="bot.slack.post")
    projects = [make_project(f"Project {i}", client_channel_id=f"C0P{i}", internal_channel_id=f"C0I{i}",
                             timezone="UTC", digest_weekday=2, digest_time="11:00") for i in range(1, PROJECTS + 1)]
    owners = [f"U0R{i}" for i in range(1, PROJECTS + 1)]
    for project, owner in zip(projects, owners, strict=True):
        add_reminder_items(engine, clock, project.id, risk_owner=owner)
    clock.set(START.replace(hour=11, minute=5))  # digests due 5 minutes ago; reminder time

    # A post whose answer takes longer than the client waits: Slack has the message, the bot
    # does not know it (a "lost answer").
    deps.post_client = make_client(deps.settings.bot_token, deps.settings.slack_api_url, timeout=1,
                                   repeatable=False)
    script = Script(fake_slack)
    script.add("chat.postMessage", [
        ("delay", 1.6), ("delay", 1.6),  # timeouts, but posted
        500, 503,  # server errors: not retried blindly (the outbox checks the channel first)
        ("429", 1), ("429", 1), ("429", 1), "ok",  # rate limited: the client waits Retry-After
        ("429", 1), ("429", 1), *["ok"] * 6,
        500, "ok", 503,  # and again, among the reminder DMs
    ])
    script.add("conversations.open", [500, 500])  # retried by the client (repeatable)
    # History checks failing beyond the client's retries: the outbox must not post without knowing.
    script.add("conversations.history", [500, 500, 500, 500])

    rounds = 0
    while True:
        rounds += 1
        run_digests(deps)
        run_reminders(deps)
        deliver_due(deps)
        rows = session.exec(select(Outbox)).all()
        if all(r.status == "sent" for r in rows) or rounds == 8:
            break
        clock.advance(timedelta(minutes=5))  # past the outbox's back-off (30 s, 1 min, 2 min …)

    expected = {digest_key(p.id, WEEK, audience) for p in projects for audience in ("client", "internal")}
    start = reminders.reminder_start(projects[0]).strftime("%H%M")
    expected |= {outbox_keys.reminder(TEAM, user, projects[0].timezone, "2026-11-18", start)
                 for user in [*owners, "U0PM"]}
    channels = [c for i in range(1, PROJECTS + 1) for c in (f"C0P{i}", f"C0I{i}")]
    channels += [fake_slack.dm_channel(u) for u in [*owners, "U0PM"]]
    assert script.left("chat.postMessage") == 0 and script.left("conversations.history") == 0, "faults not all hit"
    charts = {outbox_keys.digest_chart(p.id, WEEK) for p in projects}  # digest chart: each uploaded once
    assert {r.key: r.status for r in rows} == dict.fromkeys(expected | charts, "sent"), f"after {rounds} rounds"
    assert len(fake_slack.uploaded_files()) == len(projects)
    # Exactly once, in what Slack holds and in what it accepted.
    assert posted_keys(fake_slack, channels) == dict.fromkeys(expected, 1)
    assert accepted_posts(fake_slack) == dict.fromkeys(expected, 1)
    # The two lost answers were found in the channel history, not posted again.
    found = [r for r in caplog.records if "already posted as" in r.getMessage()]
    assert len(found) == 2, [r.getMessage() for r in found]
    # Retry-After was honoured: after each 429 the same message came again no sooner than asked.
    posts = sorted(fake_slack.calls_to("chat.postMessage"), key=lambda c: c.at)
    limited = [c for c in posts if c.status == 429]
    assert len(limited) == 5
    for call in limited:
        again = next(c for c in posts if c.at > call.at and _key(c) == _key(call))
        assert again.at - call.at >= 1.0
    assert rounds <= 6, f"needed {rounds} rounds"


def _key(call) -> str:
    return call.params["metadata"]["event_payload"]["key"]
