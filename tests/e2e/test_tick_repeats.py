"""The scheduler's tick when everything due was already queued (bench/tick_cost.py measures its
cost): a reminder DM, a nudge, an escalation and an overdue client item's nudge go once, the
ticks after them in the same working hours queue and send nothing, and someone given work
later in the day still gets their DM."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from bot.jobs.scheduler import tick
from bot.models import ClientItem, Milestone, Outbox, Requirement, Risk

THURSDAY_0930_SHANGHAI = datetime(2026, 11, 19, 1, 30, tzinfo=UTC)


def posts(fake_slack) -> list:
    return [c for c in fake_slack.calls_to("chat.postMessage") if c.status == 200]


def keys(session) -> set[str]:
    return set(session.exec(select(Outbox.key)))


def seed(session, project, clock) -> None:
    now = clock.now()
    sent = now - timedelta(days=9)
    session.add_all([
        Risk(project_id=project.id, title="Vendor late", owner_user_id="U0DEV", next_review_date=date(2026, 11, 18),
             created_at=now, updated_at=now),
        Milestone(project_id=project.id, name="Beta", due_date=date(2026, 11, 17), progress=60, created_at=now,
                  updated_at=now),
        Requirement(project_id=project.id, title="SSO login", raised_by="U0DEV", created_at=sent, updated_at=sent,
                    sent_for_confirmation_at=sent, confirmation_channel_id="C0CLIENT",
                    confirmation_ts="1763258400.000100"),
        ClientItem(project_id=project.id, title="Logo files", owner_user_id="U0CLIENT", due_date=date(2026, 11, 10),
                   created_by="U0PM", channel_id="C0CLIENT", message_ts="1763258400.000200", created_at=sent,
                   updated_at=sent),
    ])
    session.commit()


def test_ticks_after_everything_due_went_out_queue_and_send_nothing(deps, fake_slack, make_project, clock, session):
    project = make_project()
    seed(session, project, clock)
    clock.set(THURSDAY_0930_SHANGHAI)
    tick(deps)
    queued = keys(session)
    sent = [c.params["channel"] for c in posts(fake_slack)]
    # The PM: the reminder and two escalations; the client channel: two nudges; the risk's owner: a reminder.
    assert sorted(sent) == ["C0CLIENT", "C0CLIENT", "DU0DEV", "DU0PM", "DU0PM", "DU0PM"]
    assert {k.split(":")[0] for k in queued} >= {"remind", "nudge", "escalate"}
    assert any(k.startswith("nudge:client:") for k in queued) and any(k.startswith("escalate:client:") for k in queued)

    for _ in range(8):  # the rest of the morning, a tick every 15 minutes
        clock.advance(minutes=15)
        tick(deps)
    assert keys(session) == queued
    assert len(posts(fake_slack)) == len(sent)


def test_someone_given_work_later_in_the_day_still_gets_their_reminder(deps, fake_slack, make_project, clock,
                                                                          session):
    fake_slack.add_user("U0DEV2", name="devi.dev")
    project = make_project()
    seed(session, project, clock)
    clock.set(THURSDAY_0930_SHANGHAI)
    tick(deps)
    before = [c.params["channel"] for c in posts(fake_slack)]
    assert "DU0DEV2" not in before

    clock.advance(hours=2)
    now = clock.now()
    session.add(Risk(project_id=project.id, title="Licence expires", owner_user_id="U0DEV2",
                     next_review_date=date(2026, 11, 19), created_at=now, updated_at=now))
    session.commit()
    tick(deps)
    clock.advance(minutes=15)
    tick(deps)

    after = [c.params["channel"] for c in posts(fake_slack)][len(before):]
    assert after == ["DU0DEV2"]
    [dm] = [c for c in posts(fake_slack) if c.params["channel"] == "DU0DEV2"]
    assert "Licence expires" in str(dm.params["blocks"])
