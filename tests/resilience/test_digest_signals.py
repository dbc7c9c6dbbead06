"""`pmbot digest` stopped in the middle of a run — politely (SIGTERM) or not (SIGKILL, ten
times at random moments) — then run again: each project ends up with exactly one digest."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.flows.digest import BATCH
from bot.flows.outbox_keys import digest as digest_key
from bot.models import Outbox, Project
from bot.services import calendar
from tests.resilience.helpers import (
    accepted_posts,
    backdate_projects,
    bot_env,
    due_now_fields,
    pmbot,
    posted_keys,
    wait_until,
)

pytestmark = pytest.mark.slow

PROJECTS = 30
assert BATCH < PROJECTS < 2 * BATCH  # the run builds two batches


def _projects_due_now(make_project, engine, count: int = PROJECTS) -> list[Project]:
    fields = due_now_fields(datetime.now(UTC))
    made = [make_project(f"Project {i:02d}", client_channel_id=f"C0P{i:02d}", internal_channel_id=f"C0I{i:02d}",
                         **fields) for i in range(1, count + 1)]
    backdate_projects(engine)
    return made


def _expected(projects: list[Project]) -> dict[str, int]:
    now = datetime.now(UTC)
    keys = {}
    for p in projects:
        week = calendar.week_key(calendar.today(p, now))
        for audience in ("client", "internal"):
            keys[digest_key(p.id, week, audience)] = 1
    return keys


def _channels(projects: list[Project]) -> list[str]:
    return [c for p in projects for c in (p.client_channel_id, p.internal_channel_id)]


def _digest_run(env, tmp_path, name: str) -> subprocess.Popen:
    return pmbot(["digest"], env, tmp_path, tmp_path / f"{name}.log")


def _posts_so_far(fake_slack) -> int:
    return len(fake_slack.calls_to("chat.postMessage"))


def test_sigterm_mid_run_stops_cleanly_and_the_next_run_posts_the_rest(
        fake_slack, make_project, engine, database_url, session, tmp_path):
    projects = _projects_due_now(make_project, engine)
    # Slow posts (0.3 s each): the run is still posting when SIGTERM comes, whether it sends one
    # message at a time or several channels at once.
    fake_slack.delay("chat.postMessage", 0.3, times=10_000)
    env = bot_env(fake_slack, database_url)  # the default claim timeout (5 minutes)

    first = _digest_run(env, tmp_path, "first")
    wait_until(lambda: _posts_so_far(fake_slack) >= 4, timeout=60, what="the first run to start posting")
    first.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    first.wait(timeout=30)
    log = (tmp_path / "first.log").read_text()
    # A clean stop: it finished the message under way and left at once, with status 0 …
    assert first.returncode == 0, log
    assert time.monotonic() - stopped_at < 5, log
    assert "Traceback" not in log, log
    posted_by_first = len(accepted_posts(fake_slack))
    assert 4 <= posted_by_first < 2 * PROJECTS, "SIGTERM came too late to test anything"
    # … and left no claim behind: nothing waits for a claim timeout. (Digests are built and
    # queued BATCH projects at a time while the first are sent: a stop between two batches leaves
    # the rest for the next run to build.)
    rows = session.exec(select(Outbox).where(Outbox.kind == "digest")).all()
    assert len(rows) in (2 * BATCH, 2 * PROJECTS) and not [r for r in rows if r.status == "sending"]

    second = _digest_run(env, tmp_path, "second")
    assert second.wait(timeout=120) == 0, (tmp_path / "second.log").read_text()

    expected = _expected(projects)
    assert posted_keys(fake_slack, _channels(projects)) == expected
    assert accepted_posts(fake_slack) == expected
    assert {r.status for r in session.exec(select(Outbox).where(Outbox.kind == "digest")).all()} == {"sent"}


KILLS = 10


def test_sigkill_at_random_moments_ten_times_still_one_digest_per_project(
        fake_slack, make_project, engine, database_url, session, tmp_path):
    projects = _projects_due_now(make_project, engine)
    fake_slack.delay("chat.postMessage", 0.3, times=100_000)
    claim_timeout = 2  # seconds; far longer than one post (0.3 s) takes
    env = bot_env(fake_slack, database_url, PMBOT_CLAIM_TIMEOUT_SECONDS=str(claim_timeout), LOG_LEVEL="INFO")
    seed = int(os.environ.get("PMBOT_TEST_SEED") or time.time())
    rng = random.Random(seed)
    moments: list[str] = []

    for n in range(KILLS):
        before = _posts_so_far(fake_slack)
        proc = _digest_run(env, tmp_path, f"run{n}")
        if rng.random() < 0.2:
            # while it starts up, migrates or queues the digests
            delay = rng.uniform(0.2, 1.5)
            moments.append(f"{delay:.2f}s after start")
        else:
            # while it posts: a random moment after its first post went out
            wait_until(lambda b=before, p=proc: _posts_so_far(fake_slack) > b or p.poll() is not None,
                       timeout=60, what=f"run {n} to post")
            delay = rng.uniform(0.0, 0.8)
            moments.append(f"{delay:.2f}s into posting")
        try:
            proc.wait(timeout=delay)
            moments[-1] += " (had already finished)"
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)

    sent_before_final = len(accepted_posts(fake_slack))
    # Let every claim a killed run left behind go stale, then one complete run.
    wait_until(lambda: _claims_are_stale(session, claim_timeout), timeout=claim_timeout + 10,
               what="abandoned claims to expire")
    final = _digest_run(env, tmp_path, "final")
    assert final.wait(timeout=180) == 0, (tmp_path / "final.log").read_text()

    expected = _expected(projects)
    context = f"seed {seed} (PMBOT_TEST_SEED), kills: {moments}, {sent_before_final} posted before the final run"
    assert posted_keys(fake_slack, _channels(projects)) == expected, context
    assert accepted_posts(fake_slack) == expected, context
    rows = session.exec(select(Outbox).where(Outbox.kind == "digest")).all()
    assert sorted(r.key for r in rows) == sorted(expected) and {r.status for r in rows} == {"sent"}, context
    recovered = [r.key for r in rows if r.attempts > 1]
    found_in_history = sum(log.read_text().count("already posted as") for log in tmp_path.glob("*.log"))
    print(f"\nSIGKILL moments: {moments}; {sent_before_final}/{len(expected)} posted before the final run; "
          f"{len(recovered)} claims taken over from a killed run "
          f"({len(fake_slack.calls_to('conversations.history'))} history checks, {found_in_history} found the "
          f"killed run's message already in Slack); seed {seed}")


def _claims_are_stale(session, seconds: int) -> bool:
    cutoff = datetime.now(UTC) - timedelta(seconds=seconds + 0.5)
    claimed = session.exec(select(Outbox.claimed_at).where(Outbox.status == "sending")).all()
    return all(at is None or at < cutoff for at in claimed)


def test_a_rerun_right_after_a_sigkill_posts_every_digest_without_waiting_out_the_claims(
        fake_slack, make_project, engine, database_url, session, tmp_path):
    """Issue 11, item 9: the rows a killed run had claimed waited out PMBOT_CLAIM_TIMEOUT_SECONDS
    (5 minutes), and the rerun exited 0 without a word: 2–9 of 30 projects got no digest. Claims
    now die with their process, so the rerun takes them over at once."""
    projects = _projects_due_now(make_project, engine)
    fake_slack.delay("chat.postMessage", 0.3, times=100_000)
    env = bot_env(fake_slack, database_url)  # the default claim timeout: 5 minutes
    first = _digest_run(env, tmp_path, "killed")
    wait_until(lambda: _posts_so_far(fake_slack) >= 3 or first.poll() is not None, timeout=60,
               what="the first run to post")
    first.kill()
    first.wait(timeout=30)
    rerun = _digest_run(env, tmp_path, "rerun")
    assert rerun.wait(timeout=120) == 0, (tmp_path / "rerun.log").read_text()
    expected = _expected(projects)
    assert posted_keys(fake_slack, _channels(projects)) == expected
    session.expire_all()
    rows = session.exec(select(Outbox).where(Outbox.kind == "digest")).all()
    assert {r.status for r in rows} == {"sent"} and len(rows) == len(expected)
