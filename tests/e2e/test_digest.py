"""The weekly digest and PM preview: schedule, content, exactly once. Controlled clock, no sleeps."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlmodel import select

from bot.app import create_app, deps_of
from bot.blocks import ids
from bot.flows.delivery import deliver_due
from bot.flows.digest import run_due as run_digests
from bot.flows.digest import send_previews
from bot.jobs.scheduler import tick
from bot.models import ChangeRequest, DigestWeek, Milestone, Outbox, Requirement, Risk
from bot.slack.post import METADATA_EVENT
from tests.fakes import payloads

# START (the clock fixture) is Wed 2026-11-18 10:00 UTC. Friday 16:00 in Shanghai is 08:00 UTC.
FRIDAY_SHANGHAI = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def digests_in(fake_slack, channel="C0CLIENT"):
    return [c for c in fake_slack.calls_to("chat.postMessage")
            if c.params.get("channel") == channel and c.status == 200
            and str(c.params.get("metadata", {}).get("event_payload", {}).get("key", "")).startswith("digest:")]


def seed(session, project, clock, *, huge: bool = False):
    """A project with something of everything, some of it internal."""
    now = clock.now()
    n = 60 if huge else 1
    for i in range(n):
        session.add(Milestone(project_id=project.id, name=f"Beta <!channel> {i}", due_date=date(2026, 11, 24),
                              progress=40, created_at=now - timedelta(days=30), updated_at=now))
    session.add(Milestone(project_id=project.id, name="Launch", due_date=date(2026, 12, 20), progress=10,
                          created_at=now, updated_at=now))
    for i in range(80 if huge else 1):
        session.add(Requirement(project_id=project.id, title=f"Export to PDF {i}", raised_by="U0CLIENT",
                                raised_by_client=True, sent_for_confirmation_at=now, confirmation_ts="1.1",
                                confirmation_channel_id="C0CLIENT", created_at=now, updated_at=now))
    session.add(ChangeRequest(project_id=project.id, title="Add dark mode", requested_by="U0CLIENT", status="assessed",
                              schedule_impact_days=5, cost_amount=Decimal("4800.00"), cost_currency="EUR",
                              share_cost_with_client=False, assessed_at=now, assessed_by="U0PM",
                              created_at=now, updated_at=now))
    session.add(Risk(project_id=project.id, title="Secret vendor trouble", probability=4, impact=4,
                     visibility="internal", mitigation="Find a second vendor", created_at=now, updated_at=now))
    for i in range(40 if huge else 1):
        session.add(Risk(project_id=project.id, title=f"Payment API delay {i}", probability=3, impact=3,
                         visibility="client", mitigation="Mock server" * (50 if huge else 1),
                         created_at=now, updated_at=now))
    session.commit()


def test_digests_follow_each_project_time_zone_and_post_once(deps, fake_slack, make_project, clock):
    make_project("Shanghai shop", timezone="Asia/Shanghai")
    make_project("LA shop", timezone="America/Los_Angeles", client_channel_id="C0OTHER", internal_channel_id=None)
    run_digests(deps)
    assert digests_in(fake_slack) == [] and digests_in(fake_slack, "C0OTHER") == []

    clock.set(FRIDAY_SHANGHAI)
    run_digests(deps)
    assert len(digests_in(fake_slack)) == 1
    assert digests_in(fake_slack, "C0OTHER") == []
    # The internal digest went to the internal channel too.
    assert len(digests_in(fake_slack, "C0INTERNAL")) == 1

    clock.set(datetime(2026, 11, 21, 0, 0, tzinfo=UTC))  # Friday 16:00 in Los Angeles
    run_digests(deps)
    run_digests(deps)
    assert len(digests_in(fake_slack)) == 1
    assert len(digests_in(fake_slack, "C0OTHER")) == 1


def test_holiday_moves_the_digest_past_the_weekend(deps, fake_slack, make_project, clock):
    make_project(holidays_text="2026-11-20")
    clock.set(FRIDAY_SHANGHAI + timedelta(hours=2))
    run_digests(deps)
    assert digests_in(fake_slack) == []
    clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))  # Monday 16:00 Shanghai
    run_digests(deps)
    [post] = digests_in(fake_slack)
    assert post.params["metadata"]["event_payload"]["key"].endswith(":2026-W47:client")


def test_downtime_is_caught_up_and_a_very_late_digest_asks_the_pm(deps, fake_slack, make_project, clock, slack,
                                                                   people, session):
    make_project()
    clock.set(FRIDAY_SHANGHAI + timedelta(hours=1, minutes=30))  # the bot was down at 16:00; back at 17:30
    run_digests(deps)
    assert len(digests_in(fake_slack)) == 1

    make_project("Second", client_channel_id="C0OTHER", internal_channel_id=None)
    clock.set(datetime(2026, 11, 28, 9, 30, tzinfo=UTC))  # Saturday 17:30: not a working day, nothing is posted
    run_digests(deps)
    assert digests_in(fake_slack, "C0OTHER") == []
    assert not [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "DU0PM"]

    clock.set(datetime(2026, 11, 30, 9, 30, tzinfo=UTC))  # Monday 17:30: more than a working day late
    run_digests(deps)
    assert digests_in(fake_slack, "C0OTHER") == []
    [question] = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "DU0PM"
                  and "was not running" in c.params["text"] and "Second" in c.params["text"]]
    post_now = question.params["blocks"][1]["elements"][0]
    assert post_now["action_id"] == ids.DIGEST_POST_NOW
    run_digests(deps)  # asked once (for each project), not at every tick
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if "was not running" in c.params["text"]]) == 2

    slack.action(ids.DIGEST_POST_NOW, post_now["value"], user=people.pm, channel_id="DU0PM")
    fake_slack.wait_for("response_url")
    assert len(digests_in(fake_slack, "C0OTHER")) == 1


def test_preview_skip_and_note(deps, fake_slack, make_project, clock, slack, people, session):
    make_project()
    clock.set(FRIDAY_SHANGHAI - timedelta(minutes=90))  # 14:30 local: inside the 2-hour lead
    send_previews(deps)
    send_previews(deps)
    [preview] = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "DU0PM"]
    buttons = {e["action_id"]: e for b in preview.params["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert set(buttons) == {ids.DIGEST_POST_NOW, ids.DIGEST_ADD_NOTE, ids.DIGEST_SKIP}
    assert digests_in(fake_slack) == []  # a preview posts nothing in the client channel

    # Someone else than the PM cannot skip
    slack.action(ids.DIGEST_SKIP, buttons[ids.DIGEST_SKIP]["value"], user=people.dev, channel_id="DU0PM")
    assert "Only the project's PM" in fake_slack.wait_for("response_url")[0].params["text"]

    slack.action(ids.DIGEST_ADD_NOTE, buttons[ids.DIGEST_ADD_NOTE]["value"], user=people.pm, channel_id="DU0PM")
    view = fake_slack.wait_for("views.open")[0].params["view"]
    values = {ids.DIGEST_NOTE_BLOCK: {ids.VALUE: payloads.plain_text("Great week <!here> — thanks!")}}
    assert slack.submit(view["callback_id"], values, user=people.pm,
                        private_metadata=view["private_metadata"]).status_code == 200
    fake_slack.wait_for("chat.postMessage", 2)

    clock.set(FRIDAY_SHANGHAI)
    run_digests(deps)
    [digest] = digests_in(fake_slack)
    shown = str(digest.params["blocks"])
    assert "Great week &lt;!here&gt; — thanks!" in shown and "<!here>" not in shown


def test_skip_this_week(deps, fake_slack, make_project, clock, slack, people, session):
    make_project()
    clock.set(FRIDAY_SHANGHAI - timedelta(minutes=60))
    send_previews(deps)
    [preview] = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "DU0PM"]
    skip = [e for b in preview.params["blocks"] if b["type"] == "actions" for e in b["elements"]
            if e["action_id"] == ids.DIGEST_SKIP][0]
    slack.action(ids.DIGEST_SKIP, skip["value"], user=people.pm, channel_id="DU0PM")
    assert "skipped" in fake_slack.wait_for("response_url")[0].params["text"]
    clock.set(FRIDAY_SHANGHAI + timedelta(minutes=5))
    run_digests(deps)
    assert digests_in(fake_slack) == []
    assert session.exec(select(DigestWeek)).one().skipped is True


def test_require_pm_approval_waits_for_post_now(deps, fake_slack, make_project, clock, slack, people):
    make_project(require_pm_approval=True)
    clock.set(FRIDAY_SHANGHAI - timedelta(minutes=60))
    send_previews(deps)
    [preview] = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "DU0PM"]
    assert "waits for your approval" in str(preview.params["blocks"])
    clock.set(FRIDAY_SHANGHAI + timedelta(hours=3))
    run_digests(deps)
    assert digests_in(fake_slack) == []
    post = [e for b in preview.params["blocks"] if b["type"] == "actions" for e in b["elements"]
            if e["action_id"] == ids.DIGEST_POST_NOW][0]
    slack.action(ids.DIGEST_POST_NOW, post["value"], user=people.pm, channel_id="DU0PM")
    fake_slack.wait_for("response_url")
    assert len(digests_in(fake_slack)) == 1
    run_digests(deps)
    assert len(digests_in(fake_slack)) == 1


def test_client_digest_hides_internal_risks_and_unshared_costs(deps, fake_slack, make_project, clock, session):
    project = make_project()
    seed(session, project, clock)
    clock.set(FRIDAY_SHANGHAI)
    run_digests(deps)
    [client] = digests_in(fake_slack)
    [internal] = digests_in(fake_slack, "C0INTERNAL")
    client_text, internal_text = str(client.params["blocks"]), str(internal.params["blocks"])
    assert "Payment API delay" in client_text and "Mock server" in client_text
    assert "Secret vendor trouble" not in client_text and "Find a second vendor" not in client_text
    assert "4,800.00" not in client_text and "€" not in client_text
    assert "Add dark mode" in client_text and "+5 days" in client_text
    assert "Export to PDF" in client_text  # waiting for the client's confirmation
    assert "Beta &lt;!channel&gt; 0" in client_text and "<!channel>" not in client_text
    assert "Secret vendor trouble" in internal_text and "€4,800.00" in internal_text
    # The client digest carries the intake buttons that exist; the internal one does not.
    assert not any(b.get("block_id", "").startswith("digest-intake") for b in internal.params["blocks"])


def test_chinese_project_gets_a_chinese_digest(deps, fake_slack, make_project, clock, session):
    project = make_project(language="zh-CN")
    seed(session, project, clock)
    clock.set(FRIDAY_SHANGHAI)
    run_digests(deps)
    [client] = digests_in(fake_slack)
    assert client.params["blocks"][0]["text"]["text"].startswith("周报")
    assert "等待您决定的事项" in str(client.params["blocks"])


def test_a_huge_project_stays_within_block_kit_limits(deps, fake_slack, make_project, clock, session):
    project = make_project()
    seed(session, project, clock, huge=True)
    clock.set(FRIDAY_SHANGHAI)
    run_digests(deps)
    for post in digests_in(fake_slack) + digests_in(fake_slack, "C0INTERNAL"):
        blocks = post.params["blocks"]
        assert len(blocks) <= 50
        for b in blocks:
            if b["type"] == "section":
                assert len(b["text"]["text"]) <= 3000
            if b["type"] == "header":
                assert len(b["text"]["text"]) <= 150
        assert "more" in str(blocks)  # long lists are summarised


def test_a_crash_between_post_and_record_gives_one_digest(deps, fake_slack, make_project, clock, session):
    make_project()
    clock.set(FRIDAY_SHANGHAI)
    # The first process posts, then dies before recording it: Slack has the message, the
    # ledger still says "sending" under that process's claim.
    run_digests(deps)
    row = session.exec(select(Outbox).where(Outbox.key.like("digest:%:client"))).one()
    with deps.session() as s:
        r = s.get(Outbox, row.id)
        r.status, r.message_ts, r.claimed_by = "sending", None, "dead-process"
        s.add(r)
    clock.advance(minutes=10)  # the dead process's claim expires
    deliver_due(deps)
    run_digests(deps)
    assert len(digests_in(fake_slack)) == 1
    assert session.exec(select(Outbox).where(Outbox.id == row.id)).one().status == "sent"


def test_two_bot_processes_racing_send_one_digest(settings, engine, clock, fake_slack, make_project):
    make_project()
    clock.set(FRIDAY_SHANGHAI)
    a = deps_of(create_app(settings, engine=engine, clock=clock))
    b = deps_of(create_app(settings, engine=engine, clock=clock))
    a.worker, b.worker = "process-a", "process-b"
    fake_slack.delay("chat.postMessage", 0.2, times=10)
    threads = [threading.Thread(target=run_digests, args=(d,)) for d in (a, b, a, b)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(digests_in(fake_slack)) == 1
    assert len(digests_in(fake_slack, "C0INTERNAL")) == 1


def test_digest_command_preview_and_send(slack, fake_slack, people, make_project, session, clock, deps):
    make_project()
    resp = slack.command("/digest", "preview", user=people.dev)
    assert resp.status_code == 200
    preview = fake_slack.wait_for("response_url")[0]
    assert preview.params["response_type"] == "ephemeral"
    assert "Weekly update" in str(preview.params["blocks"])
    assert digests_in(fake_slack) == []

    slack.command("/digest", "send", user=people.pm)
    fake_slack.wait_for("response_url", 2)
    assert len(digests_in(fake_slack)) == 1
    slack.command("/digest", "send", user=people.pm)
    replies = fake_slack.wait_for("response_url", 3)
    assert "already posted" in replies[-1].params["text"]
    assert len(digests_in(fake_slack)) == 1
    # and the scheduled run of the same week does not post a second one
    clock.set(FRIDAY_SHANGHAI)
    tick(deps)
    assert len(digests_in(fake_slack)) == 1

    assert "Only members" in slack.command("/digest", "send", user=people.guest).json()["text"]


def test_every_digest_message_carries_metadata_naming_its_week(deps, fake_slack, make_project, clock):
    make_project()
    clock.set(FRIDAY_SHANGHAI)
    run_digests(deps)
    [post] = digests_in(fake_slack)
    assert post.params["metadata"]["event_type"] == METADATA_EVENT
    assert post.params["metadata"]["event_payload"]["key"] == "digest:1:2026-W47:client"


def test_the_client_confirms_a_requirement_from_the_digest(deps, fake_slack, make_project, clock, session, slack,
                                                           people):
    project = make_project()
    seed(session, project, clock)
    clock.set(FRIDAY_SHANGHAI)
    run_digests(deps)
    [digest] = digests_in(fake_slack)
    confirm = next(e for b in digest.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["action_id"] == ids.REQ_CONFIRM)
    slack.action(ids.REQ_CONFIRM, confirm["value"], user=people.client, message_ts=digest.params.get("ts"))
    fake_slack.wait_for("response_url")
    session.expire_all()
    req = session.get(Requirement, ids.parse_decision_value(confirm["value"])[0])
    assert req.status == "confirmed" and req.decided_by == "U0CLIENT"
    # an outsider from the same organisation is refused, and nothing changes
    other = next(e for b in digest.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == ids.CHANGE_APPROVE)
    slack.action(ids.CHANGE_APPROVE, other["value"], user=people.outsider)
    refusal = fake_slack.wait_for("response_url", 2)[1]
    assert refusal.params.get("replace_original") is False
    assert session.get(ChangeRequest, ids.parse_decision_value(other["value"])[0]).status == "assessed"
