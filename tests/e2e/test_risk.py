"""`/risk` end to end: signed requests in, recorded Slack calls and stored rows out."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlmodel import select

from bot.blocks import ids
from bot.db import session_scope
from bot.models import ActivityLog, Milestone, Risk
from bot.services import risks
from tests.conftest import OTHER_ORG
from tests.fakes import payloads as p

TODAY_SHANGHAI = date(2026, 11, 18)  # the clock: Wed 2026-11-18 10:00 UTC = 18:00 in Shanghai


def _risks(session) -> list[Risk]:
    """Fresh rows, detached: later reads of the observer session do not reload (and lock) them."""
    session.expire_all()
    rows = list(session.exec(select(Risk).order_by(Risk.id)))
    session.expunge_all()
    return rows


def risk_values(title: str | None = "Payment API may change", *, probability: str | None = "4",
                impact: str | None = "5", owner: str | None = "U0DEV", review: str | None = "2026-11-30",
                visibility: str = "internal", milestone: str | None = None, description: str | None = None,
                mitigation: str | None = "Pin the API version") -> dict[str, Any]:
    v = ids.VALUE
    values = {
        ids.RISK_BLOCK_TITLE: {v: p.plain_text(title)},
        ids.RISK_BLOCK_DESCRIPTION: {v: p.plain_text(description)},
        ids.RISK_BLOCK_PROBABILITY: {v: p.static_select(probability)},
        ids.RISK_BLOCK_IMPACT: {v: p.static_select(impact)},
        ids.RISK_BLOCK_OWNER: {v: p.users_select(owner)},
        ids.RISK_BLOCK_MITIGATION: {v: p.plain_text(mitigation)},
        ids.RISK_BLOCK_REVIEW: {v: p.datepicker(review)},
        ids.RISK_BLOCK_VISIBILITY: {v: p.radio(visibility)},
    }
    if milestone is not None:
        values[ids.RISK_BLOCK_MILESTONE] = {v: p.static_select(milestone)}
    return values


def add_risk(engine, clock, project, title: str, probability: int, impact: int, **fields: Any) -> Risk:
    with session_scope(engine) as s:
        return risks.create(s, clock, project=project, actor="U0PM", data=risks.RiskInput(
            title=title, owner_user_id=fields.pop("owner", "U0PM"), probability=probability, impact=impact,
            **fields))


def add_milestone(engine, project, name: str = "Beta launch", due: date = date(2026, 12, 10)) -> Milestone:
    with session_scope(engine) as s:
        milestone = Milestone(project_id=project.id, name=name, due_date=due)
        s.add(milestone)
        s.flush()
        return milestone


def _dump(blocks: Any) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def _sections(blocks: list[dict]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]


def test_quick_capture_stores_defaults_and_offers_details(slack, fake_slack, people, session, make_project):
    make_project()
    # Slack sends what was typed escaped: a literal "<!channel>" arrives as "&lt;!channel&gt;"
    resp = slack.command("/risk", "Key &lt;!channel&gt; developer may leave in December", user=people.pm)
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    [risk] = _risks(session)
    assert (risk.title, risk.probability, risk.impact, risk.owner_user_id, risk.status, risk.visibility) == (
        "Key <!channel> developer may leave in December", 3, 3, people.pm.id, "open", "internal")
    assert risk.next_review_date == date(2026, 11, 25)  # a week from today in the project's zone
    shown = _dump(body["blocks"])
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert "🟠 9" in shown
    button = next(e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert button["action_id"] == ids.RISK_ADD_DETAILS and button["value"] == str(risk.id)
    log = list(session.exec(select(ActivityLog).where(ActivityLog.entity_type == "risk")))
    assert [e.action for e in log] == ["created"]
    assert log[0].after["probability"] == 3 and log[0].after["owner_user_id"] == people.pm.id

    # "Add details" opens the full modal, prefilled; saving it is an edit, logged with before/after
    slack.action(ids.RISK_ADD_DETAILS, str(risk.id), user=people.pm)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert blocks[ids.RISK_BLOCK_TITLE]["element"]["initial_value"] == risk.title
    assert blocks[ids.RISK_BLOCK_PROBABILITY]["element"]["initial_option"]["value"] == "3"
    assert blocks[ids.RISK_BLOCK_OWNER]["element"]["initial_user"] == people.pm.id
    resp = slack.submit(ids.RISK_MODAL, risk_values(risk.title, probability="5", impact="4"), user=people.pm,
                        private_metadata=view["private_metadata"])
    assert resp.status_code == 200 and "errors" not in (resp.json() if resp.content else {})
    [risk] = _risks(session)
    assert (risk.probability, risk.impact, risk.score, risk.owner_user_id) == (5, 4, 20, "U0DEV")
    [edit] = session.exec(select(ActivityLog).where(ActivityLog.action == "edited"))
    assert edit.before["probability"] == 3 and edit.after["probability"] == 5
    told = fake_slack.wait_for("chat.postEphemeral")[0]
    assert told.params["user"] == people.pm.id and "Risk updated" in told.params["text"]


def test_full_modal_creates_a_risk_linked_to_a_milestone(slack, fake_slack, people, session, make_project,
                                                         engine):
    project = make_project()
    milestone = add_milestone(engine, project)
    slack.command("/risk", "", user=people.dev)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ids.RISK_MODAL
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert [o["value"] for o in blocks[ids.RISK_BLOCK_MILESTONE]["element"]["options"]] == [str(milestone.id)]
    assert blocks[ids.RISK_BLOCK_OWNER]["element"]["initial_user"] == people.dev.id
    resp = slack.submit(ids.RISK_MODAL, risk_values(milestone=str(milestone.id), visibility="client"),
                        user=people.dev, private_metadata=view["private_metadata"])
    assert resp.status_code == 200
    [risk] = _risks(session)
    assert (risk.milestone_id, risk.visibility, risk.score, risk.next_review_date) == (
        milestone.id, "client", 20, date(2026, 11, 30))
    assert risk.created_by == people.dev.id


def test_bad_input_is_answered_inline_and_nothing_is_stored(slack, people, session, make_project, engine):
    project = make_project()
    other = make_project("Other", client_channel_id="C0OTHER", internal_channel_id=None)
    foreign = add_milestone(engine, other, "Someone else's")
    meta = json.dumps({"project_id": project.id})
    resp = slack.submit(ids.RISK_MODAL, risk_values(title="  ", probability="7", impact="0", owner=None,
                                                    review="2026-11-17", milestone=str(foreign.id)),
                        user=people.pm, private_metadata=meta)
    errors = resp.json()["errors"]
    assert set(errors) == {ids.RISK_BLOCK_TITLE, ids.RISK_BLOCK_PROBABILITY, ids.RISK_BLOCK_IMPACT,
                           ids.RISK_BLOCK_OWNER, ids.RISK_BLOCK_REVIEW, ids.RISK_BLOCK_MILESTONE}
    assert "1 to 5" in errors[ids.RISK_BLOCK_PROBABILITY]
    assert "2026-11-18" in errors[ids.RISK_BLOCK_REVIEW]
    # text instead of a number is refused the same way
    resp = slack.submit(ids.RISK_MODAL, risk_values(probability="high"), user=people.pm, private_metadata=meta)
    assert set(resp.json()["errors"]) == {ids.RISK_BLOCK_PROBABILITY}
    assert _risks(session) == []


def test_review_date_is_judged_in_the_projects_time_zone(slack, people, session, make_project):
    # 10:00 UTC on the 18th is already the 19th on Kiritimati (UTC+14).
    project = make_project(timezone="Pacific/Kiritimati")
    meta = json.dumps({"project_id": project.id})
    resp = slack.submit(ids.RISK_MODAL, risk_values(review="2026-11-18"), user=people.pm, private_metadata=meta)
    assert "2026-11-19" in resp.json()["errors"][ids.RISK_BLOCK_REVIEW]
    resp = slack.submit(ids.RISK_MODAL, risk_values(review="2026-11-19"), user=people.pm, private_metadata=meta)
    assert resp.status_code == 200 and not resp.content.strip(b"{}")
    assert [r.next_review_date for r in _risks(session)] == [date(2026, 11, 19)]


def test_external_users_and_guests_are_refused(slack, fake_slack, people, session, make_project, engine, clock):
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    project = make_project()
    for who in (people.client, people.outsider, people.guest):
        out = slack.command("/risk", "They are late", user=who).json()["text"]
        assert "只有团队" in out or "Only members of the team" in out
        slack.command("/risk", "list", user=who)
    assert _risks(session) == []
    assert fake_slack.calls_to("views.open") == []
    risk = add_risk(engine, clock, project, "Vendor delay", 3, 3)
    slack.action(ids.RISK_CLOSED, json.dumps({"id": risk.id, "from": "open", "page": 1}), user=people.client,
                 response_url=fake_slack.response_url("ext"))
    reply = fake_slack.wait_for("response_url")[0].params
    assert reply["replace_original"] is False and "只有团队" in reply["text"]
    assert _risks(session)[0].status == "open"
    resp = slack.submit(ids.RISK_MODAL, risk_values(), user=people.outsider,
                        private_metadata=json.dumps({"project_id": project.id}))
    assert "Only members" in resp.json()["errors"][ids.RISK_BLOCK_TITLE]
    assert len(_risks(session)) == 1


def test_list_is_sorted_by_score_with_badges_and_hides_closed(slack, people, make_project, engine, clock):
    project = make_project()
    add_risk(engine, clock, project, "Low one", 2, 2)
    add_risk(engine, clock, project, "High one", 4, 5)
    add_risk(engine, clock, project, "Medium one", 3, 4)
    closed = add_risk(engine, clock, project, "Gone", 5, 5)
    with session_scope(engine) as s:
        risks.change_status(s, clock, project=project, risk=s.get(Risk, closed.id), actor="U0PM", to="closed")
    body = slack.command("/risk", "list", user=people.dev, channel_id="C0INTERNAL").json()
    assert body["response_type"] == "ephemeral"
    texts = [t for t in _sections(body["blocks"]) if "#" in t]
    assert [t.split("*")[1] for t in texts] == ["High one", "Medium one", "Low one"]
    assert texts[0].startswith("🔴 20") and texts[1].startswith("🟠 12") and texts[2].startswith("🟢 4")
    assert "<@U0PM>" in texts[0] and "no review date" in texts[0]
    actions = [b for b in body["blocks"] if b["type"] == "actions" and b.get("block_id", "").startswith("risk_item")]
    assert [e["action_id"] for e in actions[0]["elements"]] == [
        ids.RISK_EDIT, ids.RISK_MITIGATED, ids.RISK_OCCURRED, ids.RISK_CLOSED, ids.RISK_SET_REVIEW]
    # `list all` shows the closed one too, with only Reopen among the status buttons
    body = slack.command("/risk", "list all", user=people.dev).json()
    texts = [t for t in _sections(body["blocks"]) if "#" in t]
    assert texts[0].startswith("🔴 25") and "Gone" in texts[0]
    first = next(b for b in body["blocks"] if b["type"] == "actions")
    assert [e["action_id"] for e in first["elements"]] == [ids.RISK_EDIT, ids.RISK_REOPEN, ids.RISK_SET_REVIEW]


def test_list_pages_ten_at_a_time(slack, fake_slack, people, make_project, engine, clock):
    project = make_project()
    for n in range(12):
        add_risk(engine, clock, project, f"Risk {n:02d}", 1 + n % 5, 1 + n // 5)
    body = slack.command("/risk", "list", user=people.pm).json()
    assert len([t for t in _sections(body["blocks"]) if "#" in t]) == 10
    assert len(body["blocks"]) <= 50
    nxt = next(e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]
               if e["action_id"] == f"{ids.RISK_LIST_PAGE}:next")
    slack.action(nxt["action_id"], nxt["value"], user=people.pm, response_url=fake_slack.response_url("page"))
    page2 = fake_slack.wait_for("response_url")[0].params
    assert page2["replace_original"] is True
    texts = [t for t in _sections(page2["blocks"]) if "#" in t]
    assert len(texts) == 2
    assert "Page 2 of 2" in _dump(page2["blocks"])


def test_status_changes_are_logged_and_the_loser_of_a_race_changes_nothing(slack, fake_slack, people, session,
                                                                            make_project, engine, clock):
    project = make_project()
    milestone = add_milestone(engine, project)
    risk = add_risk(engine, clock, project, "Hosting contract ends", 3, 3, milestone_id=milestone.id)
    value = json.dumps({"id": risk.id, "from": "open", "page": 1})
    slack.action(ids.RISK_OCCURRED, value, user=people.dev, response_url=fake_slack.response_url("a"))
    reply = fake_slack.wait_for("response_url")[0].params
    assert reply["replace_original"] is True
    shown = _dump(reply["blocks"])
    assert "marked occurred" in shown and "puts milestone *Beta launch* at risk" in shown
    assert _risks(session)[0].status == "occurred"
    [entry] = session.exec(select(ActivityLog).where(ActivityLog.action == "occurred"))
    assert entry.before == {"status": "open"}
    assert entry.after == {"status": "occurred", "milestone_id": milestone.id}
    assert entry.actor_user_id == people.dev.id

    # a second click from the same stale list (it still showed "open") loses and changes nothing
    slack.action(ids.RISK_MITIGATED, value, user=people.pm, response_url=fake_slack.response_url("b"))
    reply = fake_slack.wait_for("response_url", 2)[1].params
    assert "Someone changed this risk" in _dump(reply["blocks"])
    assert _risks(session)[0].status == "occurred"

    # tampered values are refused without a change
    for bad in ("7", "{\"id\": \"x\"}", json.dumps({"id": 99999, "from": "open", "page": 1})):
        slack.action(ids.RISK_CLOSED, bad, user=people.pm, response_url=fake_slack.response_url(f"t{bad[:2]}"))
    replies = fake_slack.wait_for("response_url", 5)[2:]
    assert all(r.params["replace_original"] is False and "no longer exists" in r.params["text"] for r in replies)
    assert _risks(session)[0].status == "occurred"

    # and back to open
    slack.action(ids.RISK_REOPEN, json.dumps({"id": risk.id, "from": "occurred", "page": 1}), user=people.pm,
                 response_url=fake_slack.response_url("c"))
    fake_slack.wait_for("response_url", 6)
    assert _risks(session)[0].status == "open"
    actions = [e.action for e in session.exec(select(ActivityLog).where(ActivityLog.entity_type == "risk"))]
    assert actions == ["created", "occurred", "reopened"]


def test_set_next_review(slack, fake_slack, people, session, make_project, engine, clock):
    project = make_project()
    risk = add_risk(engine, clock, project, "Scope creep", 3, 3)
    slack.action(ids.RISK_SET_REVIEW, str(risk.id), user=people.pm)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ids.RISK_REVIEW_MODAL
    values = {ids.RISK_BLOCK_REVIEW: {ids.VALUE: p.datepicker("2026-11-01")}}
    resp = slack.submit(ids.RISK_REVIEW_MODAL, values, user=people.pm, private_metadata=view["private_metadata"])
    assert ids.RISK_BLOCK_REVIEW in resp.json()["errors"]
    assert _risks(session)[0].next_review_date is None
    values = {ids.RISK_BLOCK_REVIEW: {ids.VALUE: p.datepicker("2026-12-02")}}
    resp = slack.submit(ids.RISK_REVIEW_MODAL, values, user=people.pm, private_metadata=view["private_metadata"])
    assert resp.status_code == 200
    assert _risks(session)[0].next_review_date == date(2026, 12, 2)
    told = fake_slack.wait_for("chat.postEphemeral")[0]
    assert "2026-12-02" in told.params["text"]
    [entry] = session.exec(select(ActivityLog).where(ActivityLog.action == "review_set"))
    assert entry.before == {"next_review_date": None} and entry.after == {"next_review_date": "2026-12-02"}


def test_outside_a_project_channel(slack, fake_slack, people, make_project):
    make_project()
    out = slack.command("/risk", "anything", user=people.pm, channel_id="C0OTHER").json()["text"]
    assert "/project setup" in out
    # from a DM, the modal lets the person pick one of their projects
    slack.command("/risk", "Late design", user=people.pm, channel_id="D0PM")
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["blocks"][0]["block_id"] == "project"
    assert view["blocks"][1]["element"]["initial_value"] == "Late design"
    assert "/risk list" in slack.command("/risk", "help", user=people.pm).json()["text"]
