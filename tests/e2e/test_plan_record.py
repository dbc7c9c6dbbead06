"""Issue 10 reproductions for milestones and risks, through signed requests and the fake Web API.

- item 2: a stale milestone or risk form (Slack sends back every prefilled field) never undoes
  what was decided or changed meanwhile; a field changed both meanwhile and in the form is
  answered inline next to that field;
- item 5: a risk owner is a member of the workspace (a guest or an external user is refused);
- item 7: `/risk <text>` stores what was typed, not Slack's escaped form;
- each click or submission opens exactly one session scope.
"""

from __future__ import annotations

import json
import threading
from datetime import date

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from bot.blocks import ids
from bot.db import session_scope
from bot.models import Milestone, Project, Risk
from bot.services import milestones, risks
from tests.e2e.test_changes import assess_values, cr_values
from tests.e2e.test_milestones import edit_values, next_call
from tests.e2e.test_risk import risk_values
from tests.fakes import payloads as p


@pytest.fixture
def beta(make_project, engine, clock) -> int:
    """The sample project with its Beta milestone, due 2026-12-01 at 40 %."""
    project = make_project()
    with session_scope(engine) as s:
        return milestones.create(s, clock, project=project, actor="U0PM", data=milestones.MilestoneInput(
            name="Beta", due_date="2026-12-01", progress="40")).id


def _milestone(session, milestone_id: int) -> Milestone:
    return session.get(Milestone, milestone_id)


def _open_milestone_form(slack, fake, user, milestone_id: int) -> str:
    """*Update* on the list: the form as Slack shows it; its private_metadata."""
    opened, _ = next_call(fake, "views.open", lambda: slack.action(
        ids.MILESTONE_EDIT, str(milestone_id), user=user, channel_id="C0INTERNAL", is_ephemeral=True))
    view = opened.params["view"]
    assert view["callback_id"] == ids.MILESTONE_EDIT_MODAL
    return view["private_metadata"]


def _button(calls, action_id: str) -> tuple[dict, str]:
    """The newest message holding a button `action_id`: (the button, the message's ts)."""
    for call in reversed(calls):
        for block in call.params.get("blocks") or []:
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("action_id") == action_id:
                    return element, call.params.get("ts") or call.response["ts"]
    raise AssertionError(f"no message with {action_id}")


def _approve_a_change_moving(slack, fake, people, project_id: int, milestone_id: int) -> None:
    """A client raises a change affecting the milestone, the team assesses it at five days, the
    client approves it in the client channel: the milestone moves by five days."""
    opened, _ = next_call(fake, "views.open", lambda: slack.action(
        ids.INTAKE_CHANGE_REQUEST, str(project_id), user=people.client))
    next_call(fake, "chat.postEphemeral", lambda: slack.submit(
        ids.CHANGE_MODAL, cr_values(milestones_=[milestone_id]), user=people.client,
        private_metadata=opened.params["view"]["private_metadata"]))
    assess, ts = _button(fake.calls_to("chat.postMessage"), ids.CHANGE_ASSESS)
    opened, _ = next_call(fake, "views.open", lambda: slack.action(
        ids.CHANGE_ASSESS, assess["value"], user=people.dev, channel_id="C0INTERNAL", message_ts=ts))
    next_call(fake, "chat.postEphemeral", lambda: slack.submit(
        ids.CHANGE_ASSESS_MODAL, assess_values("5", "16", milestones_=[milestone_id]), user=people.dev,
        private_metadata=opened.params["view"]["private_metadata"]))
    approve, ts = _button([c for c in fake.calls if c.method in ("chat.postMessage", "chat.update")
                           and c.params.get("channel") == "C0CLIENT"], ids.CHANGE_APPROVE)
    reply, _ = next_call(fake, "response_url", lambda: slack.action(
        ids.CHANGE_APPROVE, approve["value"], user=people.client, message_ts=ts))
    assert "approved" in reply.params["text"]


# Item 2: stale milestone forms -------------------------------------------------------------------


def test_a_stale_milestone_form_keeps_the_due_date_an_approved_change_moved(
        slack, fake_slack, people, make_project, beta, session):
    project_id = _milestone(session, beta).project_id
    stale = _open_milestone_form(slack, fake_slack, people.dev, beta)
    _approve_a_change_moving(slack, fake_slack, people, project_id, beta)
    assert _milestone(session, beta).due_date == date(2026, 12, 6)
    # The form still shows 2026-12-01 and sends it back, with the progress the person changed.
    _told, resp = next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.MILESTONE_EDIT_MODAL, edit_values("2026-12-01", "60", done=False), user=people.dev,
        private_metadata=stale))
    assert not resp.content.strip(b"{}"), resp.text
    m = _milestone(session, beta)
    assert (m.due_date, m.progress, m.done) == (date(2026, 12, 6), 60, False)


def test_a_stale_milestone_form_does_not_reopen_a_done_milestone(slack, fake_slack, people, beta, session):
    stale = _open_milestone_form(slack, fake_slack, people.dev, beta)
    fresh = _open_milestone_form(slack, fake_slack, people.pm, beta)
    next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.MILESTONE_EDIT_MODAL, edit_values("2026-12-01", "40", done=True), user=people.pm,
        private_metadata=fresh))
    assert _milestone(session, beta).done
    # The stale form (done unticked, as it was shown) only moves the due date.
    _told, resp = next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.MILESTONE_EDIT_MODAL, edit_values("2026-12-10", "40", done=False), user=people.dev,
        private_metadata=stale))
    assert not resp.content.strip(b"{}"), resp.text
    m = _milestone(session, beta)
    assert (m.done, m.progress, m.due_date) == (True, 100, date(2026, 12, 10))


def test_a_due_date_changed_meanwhile_and_in_the_form_is_answered_next_to_it(
        slack, fake_slack, people, beta, session):
    stale = _open_milestone_form(slack, fake_slack, people.dev, beta)
    fresh = _open_milestone_form(slack, fake_slack, people.pm, beta)
    next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.MILESTONE_EDIT_MODAL, edit_values("2026-12-05", "40"), user=people.pm, private_metadata=fresh))
    resp = slack.submit(ids.MILESTONE_EDIT_MODAL, edit_values("2026-12-08", "55"), user=people.dev,
                        private_metadata=stale)
    body = resp.json()
    assert body["response_action"] == "errors" and set(body["errors"]) == {ids.MILESTONE_BLOCK_DUE}
    assert "2026-12-05" in body["errors"][ids.MILESTONE_BLOCK_DUE]
    m = _milestone(session, beta)
    assert (m.due_date, m.progress) == (date(2026, 12, 5), 40)  # nothing stored half-way


# Item 2: stale risk forms ------------------------------------------------------------------------


@pytest.fixture
def risk_id(make_project, engine, clock) -> int:
    project = make_project()
    with session_scope(engine) as s:
        return risks.create(s, clock, project=project, actor="U0PM", data=risks.RiskInput(
            title="Payment API may change", owner_user_id="U0PM", probability=3, impact=4,
            next_review="2026-11-30", mitigation="")).id


def _risk(session, risk_id: int) -> Risk:
    return session.get(Risk, risk_id)


def _open_risk_form(slack, fake, user, risk_id: int) -> str:
    opened, _ = next_call(fake, "views.open", lambda: slack.action(
        ids.RISK_EDIT, str(risk_id), user=user, channel_id="C0INTERNAL", is_ephemeral=True))
    return opened.params["view"]["private_metadata"]


def _as_shown(**changes) -> dict:
    """The risk form as it was opened (on the fixture's risk), with `changes` made in it."""
    fields = {"title": "Payment API may change", "probability": "3", "impact": "4", "owner": "U0PM",
              "review": "2026-11-30", "mitigation": None, **changes}
    return risk_values(**fields)


def test_a_stale_risk_form_keeps_the_owner_score_and_status_set_meanwhile(
        slack, fake_slack, people, risk_id, session):
    stale = _open_risk_form(slack, fake_slack, people.dev, risk_id)
    fresh = _open_risk_form(slack, fake_slack, people.pm, risk_id)
    next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.RISK_MODAL, _as_shown(owner="U0DEV", probability="5"), user=people.pm, private_metadata=fresh))
    slack.action(ids.RISK_MITIGATED, json.dumps({"id": risk_id, "from": "open", "page": 1}), user=people.pm,
                 channel_id="C0INTERNAL")
    fake_slack.wait_for("response_url")
    # The stale form sends back the owner and probability it showed, and adds a mitigation.
    _told, resp = next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.RISK_MODAL, _as_shown(mitigation="Pin the API version"), user=people.dev, private_metadata=stale))
    assert not resp.content.strip(b"{}"), resp.text
    r = _risk(session, risk_id)
    assert (r.owner_user_id, r.probability, r.status, r.mitigation) == ("U0DEV", 5, "mitigated",
                                                                       "Pin the API version")


def test_a_risk_field_changed_meanwhile_and_in_the_form_is_answered_next_to_it(
        slack, fake_slack, people, risk_id, session):
    stale = _open_risk_form(slack, fake_slack, people.dev, risk_id)
    fresh = _open_risk_form(slack, fake_slack, people.pm, risk_id)
    next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.RISK_MODAL, _as_shown(owner="U0DEV"), user=people.pm, private_metadata=fresh))
    fake_slack.add_user("U0ANN", name="ann.dev")  # another member of the team
    resp = slack.submit(ids.RISK_MODAL, _as_shown(owner="U0ANN", impact="2", mitigation="Escalate"),
                        user=people.dev, private_metadata=stale)
    body = resp.json()
    assert body["response_action"] == "errors" and set(body["errors"]) == {ids.RISK_BLOCK_OWNER}
    assert "@" + people.dev.name in body["errors"][ids.RISK_BLOCK_OWNER]
    r = _risk(session, risk_id)
    assert (r.owner_user_id, r.impact, r.mitigation) == ("U0DEV", 4, "")


def test_a_stale_review_form_keeps_the_date_set_meanwhile(slack, fake_slack, people, risk_id, session):
    def open_review(user):
        opened, _ = next_call(fake_slack, "views.open", lambda: slack.action(
            ids.RISK_SET_REVIEW, str(risk_id), user=user, channel_id="C0INTERNAL", is_ephemeral=True))
        return opened.params["view"]["private_metadata"]

    stale, fresh = open_review(people.dev), open_review(people.pm)
    review = {ids.RISK_BLOCK_REVIEW: {ids.VALUE: p.datepicker("2026-12-04")}}
    next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.RISK_REVIEW_MODAL, review, user=people.pm, private_metadata=fresh))
    as_shown = {ids.RISK_BLOCK_REVIEW: {ids.VALUE: p.datepicker("2026-11-30")}}
    told, _ = next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.RISK_REVIEW_MODAL, as_shown, user=people.dev, private_metadata=stale))
    assert _risk(session, risk_id).next_review_date == date(2026, 12, 4)
    assert "2026-12-04" in told.params["text"]


# Item 5: risk owners are members of the workspace ----------------------------------------------


def test_a_guest_or_an_external_user_cannot_own_a_risk(slack, fake_slack, people, make_project, session):
    project = make_project()
    meta = json.dumps({"project_id": project.id})
    for outsider in (people.guest, people.client):
        resp = slack.submit(ids.RISK_MODAL, risk_values(owner=outsider.id), user=people.pm, private_metadata=meta)
        errors = resp.json()["errors"]
        assert set(errors) == {ids.RISK_BLOCK_OWNER} and "member of our workspace" in errors[ids.RISK_BLOCK_OWNER]
    # with other mistakes in the form, all are answered at once
    resp = slack.submit(ids.RISK_MODAL, risk_values(title=" ", owner=people.guest.id), user=people.pm,
                        private_metadata=meta)
    assert set(resp.json()["errors"]) == {ids.RISK_BLOCK_TITLE, ids.RISK_BLOCK_OWNER}
    assert session.exec(select(Risk)).all() == []
    # the quick path makes its author the owner, and only the team may use it
    assert "Only members" in slack.command("/risk", "Vendor is late", user=people.guest).json()["text"]
    assert session.exec(select(Risk)).all() == []
    slack.command("/risk", "Vendor is late", user=people.dev)
    [risk] = session.exec(select(Risk)).all()
    assert risk.owner_user_id == people.dev.id
    # an edit cannot hand the risk to a guest either; a member is fine
    opened, _ = next_call(fake_slack, "views.open", lambda: slack.action(
        ids.RISK_EDIT, str(risk.id), user=people.dev, channel_id="C0INTERNAL", is_ephemeral=True))
    meta = opened.params["view"]["private_metadata"]
    shown = dict(title="Vendor is late", probability="3", impact="3", review="2026-11-25", mitigation=None)
    resp = slack.submit(ids.RISK_MODAL, risk_values(owner=people.guest.id, **shown), user=people.dev,
                        private_metadata=meta)
    assert set(resp.json()["errors"]) == {ids.RISK_BLOCK_OWNER}
    assert session.get(Risk, risk.id).owner_user_id == people.dev.id
    next_call(fake_slack, "chat.postEphemeral", lambda: slack.submit(
        ids.RISK_MODAL, risk_values(owner=people.pm.id, **shown), user=people.dev, private_metadata=meta))
    assert session.get(Risk, risk.id).owner_user_id == people.pm.id


# Item 7: `/risk <text>` stores what was typed ----------------------------------------------------


def test_quick_risk_stores_what_was_typed_and_shows_it_escaped(slack, people, make_project, session):
    make_project()
    # What Slack sends for "R&D delay for @chris" (should_escape: entities and a mention).
    body = slack.command("/risk", "R&amp;D delay for <@U0CLIENT|chris>", user=people.pm).json()
    [risk] = session.exec(select(Risk)).all()
    assert risk.title == "R&D delay for @chris"
    shown = json.dumps(body["blocks"])
    assert "R&amp;D delay for @chris" in shown and "&amp;amp;" not in shown and "<@U0CLIENT" not in shown


# One session scope per request -----------------------------------------------------------------


@pytest.fixture
def scopes(engine):
    """How many transactions the bot began on its engine (one per session scope)."""
    begun: list[int] = []
    lock = threading.Lock()

    def count(session, _transaction, connection) -> None:
        if connection.engine is engine:
            with lock:
                begun.append(1)

    event.listen(Session, "after_begin", count)
    yield begun
    event.remove(Session, "after_begin", count)


def test_each_request_opens_one_session_scope(slack, fake_slack, people, beta, engine, clock, scopes):
    with session_scope(engine) as s:
        project = s.get(Project, s.get(Milestone, beta).project_id)
        risk_id = risks.create(s, clock, project=project, actor="U0PM",
                               data=risks.RiskInput(title="Vendor", owner_user_id="U0PM")).id

    def one(send, method: str) -> None:
        scopes.clear()
        before = len(fake_slack.calls_to(method))
        send()
        fake_slack.wait_for(method, before + 1)
        assert len(scopes) == 1, (method, len(scopes))

    meta = _open_milestone_form(slack, fake_slack, people.dev, beta)
    one(lambda: slack.command("/milestone", "list", user=people.pm), "response_url")
    one(lambda: slack.action(ids.MILESTONE_EDIT, str(beta), user=people.dev, channel_id="C0INTERNAL",
                             is_ephemeral=True), "views.open")
    one(lambda: slack.submit(ids.MILESTONE_EDIT_MODAL, edit_values("2026-12-03", "50"), user=people.dev,
                             private_metadata=meta), "chat.postEphemeral")
    one(lambda: slack.action(ids.RISK_MITIGATED, json.dumps({"id": risk_id, "from": "open", "page": 1}),
                             user=people.pm), "response_url")
    one(lambda: slack.action(ids.RISK_EDIT, str(risk_id), user=people.pm, channel_id="C0INTERNAL",
                             is_ephemeral=True), "views.open")
    scopes.clear()
    slack.command("/risk", "Another one", user=people.pm)
    assert len(scopes) == 1
