"""What the live-message property tests share: Slack's trouble as steps, and the final sweep."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlmodel import col, select

from bot.db import session_scope
from bot.flows.delivery import deliver
from bot.models import Outbox, OutboxStatus

# Steps of Slack's own: an update or a post fails, or the queued rows are delivered in any order.
TROUBLE = ("fail_update", "fail_post", "deliver_shuffled")


def pending(engine) -> list[int]:
    with session_scope(engine) as s:
        return [i for i in s.exec(select(Outbox.id).where(col(Outbox.status) == OutboxStatus.pending)) if i]


def trouble(step: str, deps, engine, clock, fake_slack, rnd: random.Random) -> None:
    if step == "fail_update":
        fake_slack.fail("chat.update", error="service_unavailable", times=rnd.randint(1, 2))
    elif step == "fail_post":
        fake_slack.fail("chat.postMessage", error="service_unavailable")
    elif step == "deliver_shuffled":
        clock.advance(hours=2)  # past any back-off
        rows = pending(engine)
        rnd.shuffle(rows)
        for row_id in rows:
            deliver(deps, row_id)


def sweep(deps, engine, clock, fake_slack) -> None:
    """The retry sweep (without Slack's per-channel pace), until nothing is owed."""
    fake_slack.clear_faults()  # the faults still armed are not part of the final sweep
    for _ in range(12):
        clock.advance(timedelta(hours=2))
        for row_id in pending(engine):
            deliver(deps, row_id)
        if not pending(engine):
            break
    assert not pending(engine)
