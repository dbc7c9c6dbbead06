"""PostgreSQL goes away in the middle of traffic and comes back: every request gets an answer —
saved, or a friendly "nothing was saved, try again" — none is lost silently, and the bot
recovers by itself.

Stopping the server drops every connection of the cluster, so this runs in the slow step only
(without xdist workers sharing the cluster)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select

from bot.blocks import ids
from bot.blocks.requirements import requirement_modal
from bot.i18n import t
from bot.models import Requirement
from tests.conftest import SlackDriver
from tests.fakes import payloads as p
from tests.resilience.helpers import NOT_POSTGRES_REASON, ON_POSTGRES, wait_until

PG_DIR = os.environ.get("PMBOT_TEST_PG_DIR") or ""
PG_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pg_throwaway.sh"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.restarts_postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason=NOT_POSTGRES_REASON),
    pytest.mark.skipif(not PG_DIR, reason="needs PMBOT_TEST_PG_DIR: the cluster directory of scripts/pg_throwaway.sh "
                                          "(set by .ci/run), to stop and start the server"),
]

TRY_AGAIN = t("common.error_try_again", "en")


@dataclass
class Answer:
    kind: str  # "command" or "modal"
    title: str
    status: int
    body: bytes
    at: float

    @property
    def saved(self) -> bool:
        if self.kind == "command":
            return self.status == 200 and json.loads(self.body).get("text", "").startswith(":white_check_mark: Saved")
        return self.status == 200 and not self.body  # the modal closes: ack() without a body

    @property
    def try_again(self) -> bool:
        if self.status != 200 or not self.body:
            return False
        answer = json.loads(self.body)
        if self.kind == "command":
            return answer == {"response_type": "ephemeral", "text": TRY_AGAIN}
        # the modal stays open, the person's text in it, with the message under a field
        return answer.get("response_action") == "errors" and list(answer["errors"].values()) == [TRY_AGAIN]


def _pg(verb: str) -> None:
    subprocess.run(["bash", str(PG_SCRIPT), verb, PG_DIR], check=True, stdout=subprocess.DEVNULL, timeout=120)


def _modal(project, title: str) -> tuple[dict, dict]:
    view = requirement_modal("en", metadata={"project_id": project.id, "origin_channel": project.client_channel_id},
                             project=project)
    values = {
        ids.REQ_BLOCK_TITLE: {ids.VALUE: p.plain_text(title)},
        ids.REQ_BLOCK_DESCRIPTION: {ids.VALUE: p.plain_text("Typed while the database was away")},
        ids.REQ_BLOCK_PRIORITY: {ids.VALUE: p.static_select("should")},
        ids.REQ_BLOCK_ACCEPTANCE: {ids.VALUE: p.plain_text(None)},
    }
    return values, view


def test_postgres_restart_mid_traffic_gets_friendly_answers_and_recovers(
        server, fake_slack, make_project, people, session):
    project = make_project()
    answers: list[Answer] = []
    lock = threading.Lock()
    stop = threading.Event()

    def traffic(worker: int) -> None:
        driver = SlackDriver(server, fake_slack)
        n = 0
        try:
            while not stop.is_set():
                n += 1
                title = f"Request {worker}-{n}"
                if n % 3 == 0:
                    values, view = _modal(project, title)
                    resp = driver.submit(ids.REQ_MODAL, values, user=people.pm, blocks=view["blocks"],
                                         private_metadata=view["private_metadata"])
                    kind = "modal"
                else:
                    resp = driver.command("/req", title, user=people.dev if worker % 2 else people.pm)
                    kind = "command"
                with lock:
                    answers.append(Answer(kind, title, resp.status_code, resp.content, time.monotonic()))
        finally:
            driver.http.close()

    def count(pred) -> int:
        with lock:
            return sum(1 for a in answers if pred(a))

    workers = [threading.Thread(target=traffic, args=(w,), daemon=True) for w in range(3)]
    for w in workers:
        w.start()
    stopped = started = 0.0
    try:
        wait_until(lambda: count(lambda a: a.saved) >= 15, timeout=60, what="traffic to flow")
        stopped = time.monotonic()
        _pg("stop")
        # The outage lasts until both kinds of request have met it a few times.
        wait_until(lambda: count(lambda a: a.at > stopped and a.kind == "command" and not a.saved) >= 5
                   and count(lambda a: a.at > stopped and a.kind == "modal" and not a.saved) >= 3,
                   timeout=60, what="requests during the outage")
    finally:
        _pg("start")
        started = time.monotonic()  # the server accepts connections again
    try:
        wait_until(lambda: count(lambda a: a.at > started and a.saved) >= 30, timeout=90,
                   what="the bot to recover by itself")
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=30)

    summary = Counter((a.kind, "saved" if a.saved else "try again" if a.try_again else f"OTHER {a.status}")
                      for a in answers)
    odd = [a for a in answers if not (a.saved or a.try_again)]
    assert not odd, f"{summary}; e.g. {odd[:3]}"
    stored = Counter(r.title for r in session.exec(select(Requirement)).all())
    # Every request that was told "saved" is stored, once; none told "try again" is.
    assert {a.title for a in answers if a.saved} == set(stored) and set(stored.values()) == {1}, summary
    # Recovered: after the restart, at most a brief tail of failures, then only successes.
    after = [a for a in answers if a.at > started]
    first_ok = next(i for i, a in enumerate(after) if a.saved)
    assert all(a.saved for a in after[first_ok:]), summary
    print(f"\n{summary}; database away for {started - stopped:.1f} s (stop + start)")
