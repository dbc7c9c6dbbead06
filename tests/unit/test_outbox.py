"""The outbox sends each message once: retries after failures, survives crashes and races."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlmodel import select

from bot.flows.delivery import deliver, deliver_due
from bot.models import Outbox
from bot.services import outbox
from bot.slack.post import METADATA_EVENT


def _enqueue(deps, key="k1", channel="C0CLIENT"):
    with deps.session() as s:
        row = outbox.enqueue(s, key=key, team_id="T0TEAM", kind="test", channel_id=channel,
                             payload={"text": "hello"}, now=deps.clock.now())
        return row.id


def _row(session, key="k1") -> Outbox:
    return session.exec(select(Outbox).where(Outbox.key == key)).one()


def test_same_key_is_enqueued_once(deps, session):
    a, b = _enqueue(deps), _enqueue(deps)
    assert a == b
    assert len(session.exec(select(Outbox))) == 1


def test_delivered_once_with_metadata_naming_the_key(deps, fake_slack, session):
    row_id = _enqueue(deps)
    assert deliver(deps, row_id) is True
    assert deliver(deps, row_id) is False
    [post] = fake_slack.calls_to("chat.postMessage")
    assert post.params["metadata"] == {"event_type": METADATA_EVENT, "event_payload": {"key": "k1"}}
    row = _row(session)
    assert row.status == "sent" and row.message_ts == fake_slack.messages("C0CLIENT")[0]["ts"]


def test_a_server_error_is_retried_later_without_posting_twice(deps, fake_slack, session, clock):
    row_id = _enqueue(deps)
    fake_slack.fail("chat.postMessage", status=500)
    assert deliver(deps, row_id) is False
    row = _row(session)
    assert row.status == "pending" and row.attempts == 1 and row.not_before > clock.now()
    assert deliver_due(deps) == 0  # not yet: back-off
    clock.advance(minutes=1)
    assert deliver_due(deps) == 1
    # Before posting again it looked for an earlier copy in the channel.
    assert fake_slack.calls_to("conversations.history")
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.status == 200]) == 1
    assert _row(session).status == "sent"


def test_rate_limits_wait_for_retry_after_and_succeed(deps, fake_slack, session):
    row_id = _enqueue(deps)
    fake_slack.fail("chat.postMessage", status=429, retry_after=0, times=2)
    assert deliver(deps, row_id) is True
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [429, 429, 200]


def test_a_crash_between_post_and_record_is_recovered_without_a_second_post(deps, fake_slack, session, clock):
    row_id = _enqueue(deps)
    # What a process that died right after Slack accepted the message leaves behind:
    with deps.session() as s:
        assert outbox.claim(s, row_id, worker="dead-process", now=clock.now())
    ts = fake_slack.add_message("C0CLIENT", "hello", user="UBOT", ts=f"{clock.now().timestamp() + 1:.6f}",
                                metadata={"event_type": METADATA_EVENT, "event_payload": {"key": "k1"}})
    assert deliver_due(deps) == 0  # the claim is fresh: its owner may still be working
    clock.advance(minutes=6)
    assert deliver_due(deps) == 1
    assert fake_slack.calls_to("chat.postMessage") == []
    row = _row(session)
    assert row.status == "sent" and row.message_ts == ts


def test_two_senders_racing_send_once(deps, fake_slack):
    row_id = _enqueue(deps)
    fake_slack.delay("chat.postMessage", 0.3)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(deliver(deps, row_id))) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [False, False, False, True]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_permanent_errors_stop_retrying(deps, fake_slack, session, clock):
    row_id = _enqueue(deps)
    fake_slack.fail("chat.postMessage", error="channel_not_found")
    assert deliver(deps, row_id) is False
    assert _row(session).status == "failed"
    clock.advance(timedelta(hours=2))
    assert deliver_due(deps) == 0
