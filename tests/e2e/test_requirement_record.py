"""Issue 10, the requirement parts: the record stays exactly what the client agreed to.

Each test reproduces one item of the issue through signed requests and the fake Web API:
1. a client confirming (from the digest, from the App Home) a text they never saw;
2. a stale edit form undoing someone else's change;
3. an in-place update landing late, leaving "Please confirm…" on a confirmed requirement;
5. a team member listed as a client approver recorded as the client.
"""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from bot.blocks import ids
from bot.db import session_scope
from bot.flows.delivery import deliver_due
from bot.flows.outbox_keys import Target, TargetKind
from bot.models import ActivityLog, Requirement
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL
from tests.fakes import payloads as p

V = ids.VALUE


def req_of(session) -> Requirement:
    session.expire_all()
    return session.exec(select(Requirement)).one()


def value_of(blocks: list[dict], action_id: str = ids.REQ_CONFIRM) -> str:
    return next(e["value"] for b in blocks if b.get("type") == "actions" for e in b.get("elements", [])
                if e.get("action_id") == action_id)


def form_values(view: dict, **changed: str) -> dict:
    """The edit form as Slack sends it back: every prefilled field, with `changed` typed over."""
    shown = {b["block_id"]: b["element"] for b in view["blocks"] if b.get("type") == "input"}

    def text(block: str) -> str | None:
        return shown[block].get("initial_value")

    return {
        ids.REQ_BLOCK_TITLE: {V: p.plain_text(changed.get("title", text(ids.REQ_BLOCK_TITLE)))},
        ids.REQ_BLOCK_DESCRIPTION: {V: p.plain_text(changed.get("description", text(ids.REQ_BLOCK_DESCRIPTION)))},
        ids.REQ_BLOCK_PRIORITY: {V: p.static_select(shown[ids.REQ_BLOCK_PRIORITY]["initial_option"]["value"])},
        ids.REQ_BLOCK_ACCEPTANCE: {V: p.plain_text(changed.get("acceptance", text(ids.REQ_BLOCK_ACCEPTANCE)))},
    }


def open_edit_form(slack, fake_slack, user, req_id: int) -> dict:
    n = len(fake_slack.calls_to("views.open"))
    slack.action(ids.REQ_EDIT, str(req_id), user=user, channel_id=INTERNAL_CHANNEL, block_id=f"req_item:{req_id}:item")
    return fake_slack.wait_for("views.open", n + 1)[-1].params["view"]


def edit(slack, fake_slack, user, req_id: int, **changed: str):
    view = open_edit_form(slack, fake_slack, user, req_id)
    return slack.submit(ids.REQ_MODAL, form_values(view, **changed), user=user,
                        private_metadata=view["private_metadata"])


def capture_and_send(slack, fake_slack, people, title: str) -> int:
    """`/req <title>` in the client channel, then *Send for confirmation* from the reply."""
    reply = slack.command("/req", title, user=people.pm).json()
    block = next(b for b in reply["blocks"] if b.get("type") == "actions")
    req_id = int(value_of(reply["blocks"], ids.REQ_SEND))
    n = len(fake_slack.calls_to("response_url"))
    slack.action(ids.REQ_SEND, str(req_id), user=people.pm, block_id=block["block_id"], is_ephemeral=True)
    fake_slack.wait_for("response_url", n + 1)
    return req_id


def current_rendering(engine, req_id: int) -> dict:
    from bot.flows.requirements import render_confirmation

    with session_scope(engine) as s:
        drawn = render_confirmation(s, Target(TargetKind.requirement, req_id))
        assert drawn is not None
        return drawn.payload


@pytest.fixture
def project(make_project):
    return make_project()


# Item 1: a client confirms a text they never saw ------------------------------------------------


def test_a_digest_confirm_drawn_before_an_edit_is_refused_with_the_current_text(slack, fake_slack, people, session,
                                                                                project):
    req_id = capture_and_send(slack, fake_slack, people, "Export to CSV")
    n = len(fake_slack.calls_to("response_url"))
    slack.command("/digest", "send", user=people.pm)
    fake_slack.wait_for("response_url", n + 1)
    [digest] = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == CLIENT_CHANNEL
                and str(c.params.get("metadata", {}).get("event_payload", {}).get("key", "")).startswith("digest:")]
    old_confirm = value_of(digest["blocks"])
    edit(slack, fake_slack, people.pm, req_id, title="Export to CSV, PDF and XLSX")
    assert req_of(session).title == "Export to CSV, PDF and XLSX"

    n = len(fake_slack.calls_to("response_url"))
    slack.action(ids.REQ_CONFIRM, old_confirm, user=people.client, channel_id=CLIENT_CHANNEL,
                 block_id=f"digest-requirement:{req_id}")
    answer = fake_slack.wait_for("response_url", n + 1)[-1].params
    stored = req_of(session)
    assert stored.status == "proposed" and stored.decided_by is None
    assert not session.exec(select(ActivityLog).where(ActivityLog.action == "confirmed")).all()
    assert answer["replace_original"] is False
    shown = json.dumps(answer["blocks"], ensure_ascii=False)
    assert "Export to CSV, PDF and XLSX" in shown and "nothing was recorded" in answer["text"]
    # the answer carries the buttons of the current version; that click decides
    current = value_of(answer["blocks"])
    assert current == ids.decision_value(req_id, stored.version) != old_confirm
    slack.action(ids.REQ_CONFIRM, current, user=people.client, channel_id=CLIENT_CHANNEL,
                 block_id=f"digest-requirement:{req_id}")
    fake_slack.wait_for("response_url", n + 2)
    stored = req_of(session)
    assert (stored.status, stored.title, stored.decided_by) == ("confirmed", "Export to CSV, PDF and XLSX", "U0CLIENT")


def test_an_app_home_confirm_drawn_before_an_edit_is_refused(slack, fake_slack, people, session, project):
    req_id = capture_and_send(slack, fake_slack, people, "Export to CSV")
    slack.event({"type": "app_home_opened", "user": people.client.id, "tab": "home",
                 "channel": f"D{people.client.id}", "event_ts": "1.0"})
    home = fake_slack.wait_for("views.publish")[0].params["view"]
    old_confirm = value_of(home["blocks"])
    edit(slack, fake_slack, people.pm, req_id, title="Export to CSV, PDF and XLSX")

    slack.action(ids.REQ_CONFIRM, old_confirm, user=people.client, view={"type": "home", "id": "VHOME"})
    republished = fake_slack.wait_for("views.publish", 2)[-1].params["view"]
    assert req_of(session).status == "proposed"
    told = [c.params for c in fake_slack.calls_to("chat.postMessage")
            if c.params["channel"] == fake_slack.dm_channel(people.client.id)]
    assert told and "Export to CSV, PDF and XLSX" in json.dumps(told[-1]["blocks"], ensure_ascii=False)
    # the republished App Home shows the current text, its Confirm carries the current version
    assert "Export to CSV, PDF and XLSX" in json.dumps(republished["blocks"], ensure_ascii=False)
    current = value_of(republished["blocks"])
    assert current == ids.decision_value(req_id, req_of(session).version)
    slack.action(ids.REQ_CONFIRM, current, user=people.client, view={"type": "home", "id": "VHOME"})
    fake_slack.wait_for("views.publish", 3)
    assert req_of(session).status == "confirmed"


# Item 3: an in-place update that lands late ----------------------------------------------------


def test_a_confirmed_requirement_never_ends_with_please_confirm(slack, fake_slack, people, session, engine, deps,
                                                                 clock, project):
    req_id = capture_and_send(slack, fake_slack, people, "Export to CSV")
    ts = req_of(session).confirmation_ts
    fake_slack.fail("chat.update", error="service_unavailable")  # the edit's update fails: it waits for a retry
    edit(slack, fake_slack, people.pm, req_id, title="Export to CSV and PDF")
    fake_slack.wait_for("chat.update")
    # the client confirms the current version (from the list, as the bot drew it for them)
    listing = slack.command("/req", "list", user=people.client).json()
    block = next(b["block_id"] for b in listing["blocks"] if b.get("type") == "actions")
    n = len(fake_slack.calls_to("response_url"))
    slack.action(ids.REQ_CONFIRM, value_of(listing["blocks"]), user=people.client, block_id=block,
                 is_ephemeral=True)
    fake_slack.wait_for("response_url", n + 1)
    assert req_of(session).status == "confirmed"
    # the retry sweep delivers what is left, late
    for _ in range(5):
        clock.advance(minutes=30)
        deliver_due(deps)
    final = fake_slack.message(CLIENT_CHANNEL, ts)
    assert "Please confirm" not in json.dumps(final["blocks"]) and "Confirmed by" in json.dumps(final["blocks"])
    assert not [b for b in final["blocks"] if b.get("type") == "actions"]
    expected = current_rendering(engine, req_id)
    assert final["blocks"] == expected["blocks"] and final["text"] == expected["text"]


# Item 5: a team member listed as a client approver ---------------------------------------------


def test_a_team_member_listed_as_approver_decides_on_behalf_of_the_client(slack, fake_slack, people, session,
                                                                          make_project):
    make_project(client_approver_ids=[people.client.id, people.dev.id])
    req_id = capture_and_send(slack, fake_slack, people, "Export to CSV")
    post = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == CLIENT_CHANNEL][-1]
    n = len(fake_slack.calls_to("response_url"))
    slack.action(ids.REQ_CONFIRM, value_of(post["blocks"]), user=people.dev, block_id=f"req_item:{req_id}:confirm")
    reply = fake_slack.wait_for("response_url", n + 1)[-1].params
    stored = req_of(session)
    assert (stored.status, stored.decided_by, stored.decided_on_behalf) == ("confirmed", "U0DEV", True)
    [entry] = session.exec(select(ActivityLog).where(ActivityLog.action == "confirmed")).all()
    assert entry.on_behalf_of_client is True
    assert "on behalf of the client" in reply["text"]
    shown = json.dumps(fake_slack.message(CLIENT_CHANNEL, stored.confirmation_ts)["blocks"])
    assert "<@U0DEV> on behalf of the client" in shown
    notices = [c.params for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == INTERNAL_CHANNEL]
    assert notices and "<@U0DEV> on behalf of the client" in notices[-1]["text"]


# Item 2: a stale edit form -----------------------------------------------------------------------


def test_a_stale_edit_form_keeps_what_someone_else_changed(slack, fake_slack, people, session, project):
    reply = slack.command("/req", "Export to CSV", user=people.dev).json()
    req_id = int(value_of(reply["blocks"], ids.REQ_EDIT))
    first = open_edit_form(slack, fake_slack, people.dev, req_id)  # opened, not submitted yet
    edit(slack, fake_slack, people.pm, req_id, title="Export to CSV and PDF")
    assert req_of(session).title == "Export to CSV and PDF"

    resp = slack.submit(ids.REQ_MODAL, form_values(first, description="For the finance team"), user=people.dev,
                        private_metadata=first["private_metadata"])
    assert not resp.content or "errors" not in resp.json()
    stored = req_of(session)
    assert (stored.title, stored.description) == ("Export to CSV and PDF", "For the finance team")

    # the same stale form changing the title too: answered next to the title, nothing saved
    body = slack.submit(ids.REQ_MODAL, form_values(first, title="Export everything"),
                        user=people.dev, private_metadata=first["private_metadata"]).json()
    assert body["response_action"] == "errors" and list(body["errors"]) == [ids.REQ_BLOCK_TITLE]
    assert "Export to CSV and PDF" in body["errors"][ids.REQ_BLOCK_TITLE]
    stored = req_of(session)
    assert (stored.title, stored.description) == ("Export to CSV and PDF", "For the finance team")
