#!/usr/bin/env python3
"""Benchmark: building weekly digests for many projects (issue 6).

Seeds an SQLite database with N projects, each with ~30 requirements, 10 change requests,
8 milestones, 10 risks and 50 feedback responses, then gathers the digest facts and renders the
client and internal digests in batches, counting SQL queries.

    .venv/bin/python bench/digest_build.py             # 500 and 2,000 projects
    .venv/bin/python bench/digest_build.py --sizes 100 500

Prints, per size: queries per batch and per digest, build time, and the ratio of the times.
Goal: queries per batch independent of the batch's size (no N+1); 2,000 projects in at most
4.5x the time of 500.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import event, insert
from sqlmodel import Session, select

from bot.blocks.digest import digest_message
from bot.db import make_engine
from bot.migrate import upgrade
from bot.models import (
    ChangeRequest,
    FeedbackResponse,
    Milestone,
    Project,
    Requirement,
    Risk,
)
from bot.services import digests

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
BATCH = 100


def seed(engine, n: int, *, created_at: datetime | None = None) -> None:
    rng = random.Random(42)
    week_ago = NOW - timedelta(days=6)
    with engine.begin() as conn:
        conn.execute(insert(Project), [dict(
            team_id="T0BENCH", name=f"Project {i}", client_name=f"Client {i}", client_channel_id=f"C{i:07d}",
            internal_channel_id=f"G{i:07d}", pm_user_id=f"U{i % 50:05d}", client_approver_ids=[f"UX{i:05d}"],
            timezone=rng.choice(["Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles"]), language="en",
            digest_weekday=4, digest_time=datetime(2026, 1, 1, 16).time(), preview_lead_minutes=120,
            require_pm_approval=False, working_days=[0, 1, 2, 3, 4], holidays=[],
            work_start=datetime(2026, 1, 1, 9).time(), work_end=datetime(2026, 1, 1, 18).time(),
            nudge_after_days=3, escalate_after_days=5, feedback_cadence_weeks=0, feedback_cooldown_days=14,
            anonymous_feedback=False, status="active", created_by="U0",
            created_at=created_at or week_ago - timedelta(days=60),
            updated_at=week_ago,
        ) for i in range(n)])
        ids = [row[0] for row in conn.execute(select(Project.id))]
        reqs, crs, ms, risks, fb = [], [], [], [], []
        for pid in ids:
            for j in range(30):
                created = NOW - timedelta(days=rng.randint(0, 40))
                reqs.append(dict(project_id=pid, title=f"Requirement {j}", description="", priority="should",
                                 acceptance_criteria="", raised_by="U1", raised_by_client=bool(j % 2),
                                 status=rng.choice(["proposed", "confirmed", "done"]), decided_on_behalf=False,
                                 sent_for_confirmation_at=created if j % 5 == 0 else None,
                                 created_at=created, updated_at=created,
                                 decided_at=created + timedelta(days=1) if j % 3 == 0 else None))
            for j in range(10):
                created = NOW - timedelta(days=rng.randint(0, 30))
                crs.append(dict(project_id=pid, title=f"Change {j}", description="", reason="", requested_by="U2",
                                requested_by_client=True, status=rng.choice(["submitted", "assessed", "approved"]),
                                schedule_impact_days=rng.randint(-5, 10), cost_amount=Decimal("1000.00"),
                                cost_currency="EUR", share_cost_with_client=bool(j % 2), decided_on_behalf=False,
                                assessed_at=created, created_at=created, updated_at=created,
                                decided_at=created + timedelta(days=2) if j % 2 else None))
            for j in range(8):
                ms.append(dict(project_id=pid, name=f"Milestone {j}", description="",
                               due_date=date(2026, 11, 1) + timedelta(days=7 * j), progress=rng.randint(0, 100),
                               done=j < 2, created_by="U1", created_at=week_ago - timedelta(days=30),
                               updated_at=week_ago))
            for j in range(10):
                risks.append(dict(project_id=pid, title=f"Risk {j}", description="", probability=rng.randint(1, 5),
                                  impact=rng.randint(1, 5), owner_user_id="U3", mitigation="Plan B" if j % 2 else "",
                                  status=rng.choice(["open", "open", "mitigated"]),
                                  visibility=rng.choice(["internal", "client"]), created_by="U3",
                                  created_at=week_ago, updated_at=week_ago))
            for j in range(50):
                created = NOW - timedelta(days=rng.randint(0, 60))
                fb.append(dict(project_id=pid, user_id=f"UC{j}", responder_key=f"{pid}:{j}", kind="score",
                               score=rng.randint(1, 5), created_at=created, updated_at=created))
        for model, rows in ((Requirement, reqs), (ChangeRequest, crs), (Milestone, ms), (Risk, risks),
                            (FeedbackResponse, fb)):
            for k in range(0, len(rows), 5000):
                conn.execute(insert(model), rows[k:k + 5000])


def build_all(engine) -> tuple[float, int, int, int]:
    """Gather and render every project's digests in batches. Returns seconds, queries,
    batches and digests built."""
    queries = 0

    def count(*_args: object) -> None:
        nonlocal queries
        queries += 1

    event.listen(engine, "before_cursor_execute", count)
    built = batches = 0
    started = time.perf_counter()
    with Session(engine) as session:
        ids = list(session.exec(select(Project.id).order_by(Project.id)))
        for k in range(0, len(ids), BATCH):
            batch = list(session.exec(select(Project).where(Project.id.in_(ids[k:k + BATCH]))))  # type: ignore[union-attr]
            facts = digests.collect(session, batch, NOW)
            for f in facts.values():
                digest_message(f, internal=False)
                digest_message(f, internal=True)
                built += 1
            batches += 1
    elapsed = time.perf_counter() - started
    event.remove(engine, "before_cursor_execute", count)
    return elapsed, queries, batches, built


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            engine = make_engine(f"sqlite:///{tmp}/bench-{n}.db")
            upgrade(engine)
            t0 = time.perf_counter()
            seed(engine, n)
            seeded = time.perf_counter() - t0
            elapsed, queries, batches, built = build_all(engine)
            results[n] = elapsed
            print(f"{n:>6} projects: seeded in {seeded:5.1f} s; built {built} digests (client + internal) "
                  f"in {elapsed:6.2f} s = {1000 * elapsed / built:5.2f} ms/project; "
                  f"{queries} queries = {queries / batches:.1f} per batch of {BATCH}, "
                  f"{queries / built:.3f} per digest")
            engine.dispose()
    if len(results) >= 2:
        small, large = min(results), max(results)
        ratio = results[large] / results[small]
        print(f"time({large}) / time({small}) = {ratio:.2f} (goal: at most 4.5 for 2,000 vs 500)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
