"""The change request status machine, assessment validation, the plan change on approval,
concurrent decisions, and the change log export."""

from __future__ import annotations

import csv
import io
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from bot.db import session_scope
from bot.models import ActivityLog, ChangeRequest, ChangeRequestMilestone, ChangeStatus, Milestone
from bot.services import changes, edits, export_changes, milestones
from bot.services.errors import Forbidden, InvalidTransition, ValidationFailed
from bot.services.permissions import Decider

S = ChangeStatus
CLIENT = Decider(user_id="U0CLIENT", on_behalf_of_client=False)
PM = Decider(user_id="U0PM", on_behalf_of_client=True)


# The status machine ----------------------------------------------------------------------------

ALLOWED = {
    (S.submitted, S.assessed), (S.submitted, S.withdrawn),
    (S.assessed, S.assessed),  # the assessment revised while the client has not decided
    (S.assessed, S.approved), (S.assessed, S.rejected), (S.assessed, S.withdrawn),
    (S.approved, S.implemented),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_transitions(current, target):
    assert changes.can_transition(current, target) == ((current, target) in ALLOWED)
    if (current, target) in ALLOWED:
        changes.check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition):
            changes.check_transition(current, target)


def test_unknown_status_is_never_a_valid_transition():
    assert not changes.can_transition("archived", "approved")
    assert not changes.can_transition("submitted", "archived")


@pytest.mark.parametrize(("status", "user", "team", "decide", "expected"), [
    (S.submitted, "U0DEV", True, False, ["assess"]),
    (S.submitted, "U0CLIENT", False, True, []),
    (S.submitted, "U0CLIENT", False, True, ["withdraw"]),  # the client raised it
    (S.assessed, "U0CLIENT", False, True, ["approve", "reject"]),
    (S.assessed, "U0DEV", True, False, ["reassess"]),
    (S.approved, "U0DEV", True, False, ["implement"]),
    (S.approved, "U0CLIENT", False, True, []),
    (S.rejected, "U0PM", True, True, []),
])
def test_buttons_per_viewer(status, user, team, decide, expected):
    author = "U0CLIENT" if expected == ["withdraw"] else "U0AUTHOR"
    cr = ChangeRequest(id=1, project_id=1, title="x", requested_by=author, status=status)
    assert changes.actions_for(cr, user_id=user, is_team=team, can_decide=decide) == expected


# Validation --------------------------------------------------------------------------------------


def _assessment(**kw) -> changes.AssessmentInput:
    base = {"schedule_impact_days": "5", "effort_hours": "16"}
    return changes.AssessmentInput(**{**base, **kw})


@pytest.mark.parametrize(("field", "value"), [
    ("schedule_impact_days", "366"), ("schedule_impact_days", "-366"), ("schedule_impact_days", "1.5"),
    ("schedule_impact_days", "abc"), ("schedule_impact_days", ""), ("schedule_impact_days", None),
    ("effort_hours", "10000.01"), ("effort_hours", "-1"), ("effort_hours", "1.234"), ("effort_hours", "1e3"),
    ("effort_hours", ""), ("cost_amount", "-1"), ("cost_amount", "1.234"), ("cost_amount", "1,2"),
    ("cost_amount", "12,34.5"), ("cost_amount", "1e5"), ("cost_amount", "NaN"), ("cost_amount", "€100"),
])
def test_bad_assessment_numbers_are_refused(field, value):
    data = _assessment(**{field: value, **({"cost_currency": "EUR"} if field == "cost_amount" else {})})
    with pytest.raises(ValidationFailed) as err:
        changes.validate_assessment(data)
    assert list(err.value.errors) == [field]


@pytest.mark.parametrize(("amount", "currency", "bad"), [
    ("100", "", "cost_currency"), ("100", "EURO", "cost_currency"), ("100", "E1R", "cost_currency"),
    ("", "EU", "cost_currency"),
])
def test_currency_must_be_three_letters(amount, currency, bad):
    with pytest.raises(ValidationFailed) as err:
        changes.validate_assessment(_assessment(cost_amount=amount, cost_currency=currency))
    assert bad in err.value.errors


def test_good_assessment_numbers_are_normalised():
    clean = changes.validate_assessment(_assessment(schedule_impact_days="+365", effort_hours="7,5",
                                                    cost_amount="1,200.50", cost_currency="eur",
                                                    share_cost_with_client=True))
    assert clean.schedule_impact_days == 365
    assert clean.effort_hours == Decimal("7.5")
    assert clean.cost_amount == Decimal("1200.50") and clean.cost_currency == "EUR"
    assert clean.share_cost_with_client
    edge = changes.validate_assessment(_assessment(schedule_impact_days="-365", effort_hours="10000",
                                                   share_cost_with_client=True))
    assert edge.schedule_impact_days == -365 and edge.effort_hours == Decimal("10000")
    assert edge.cost_amount is None and not edge.share_cost_with_client  # nothing to share


# The life of a request ---------------------------------------------------------------------------


@pytest.fixture
def plan(engine, clock, make_project):
    """A project with two milestones (1 and 8 Dec) and a submitted request affecting the first."""
    project = make_project()
    other = make_project("Other", client_channel_id="C0OTHER", internal_channel_id=None)
    with session_scope(engine) as s:
        beta = milestones.create(s, clock, project=project, actor="U0PM",
                                 data=milestones.MilestoneInput(name="Beta", due_date="2026-12-01"))
        launch = milestones.create(s, clock, project=project, actor="U0PM",
                                   data=milestones.MilestoneInput(name="Launch", due_date="2026-12-08"))
        foreign = milestones.create(s, clock, project=other, actor="U0PM",
                                    data=milestones.MilestoneInput(name="Foreign", due_date="2026-12-01"))
        cr = changes.submit(s, clock, project=project, actor="U0CLIENT", by_client=True,
                            data=changes.ChangeInput(title="PayPal", reason="Customers ask",
                                                     milestone_ids=[beta.id, foreign.id]))
    return {"project": project, "beta": beta.id, "launch": launch.id, "foreign": foreign.id, "cr": cr.id}


def _assess(engine, clock, plan, **kw):
    with session_scope(engine) as s:
        cr, project = changes.get_in_team(s, "T0TEAM", plan["cr"])
        return changes.assess(s, clock, cr=cr, project=project, actor="U0DEV",
                              data=_assessment(**{"milestone_ids": [plan["beta"], plan["launch"]], **kw}))


def _decide(engine, clock, plan, decider=CLIENT, approve=True, reason=None):
    with session_scope(engine) as s:
        return changes.decide(s, clock, cr_id=plan["cr"], project=plan["project"], decider=decider,
                              approve=approve, reason=reason)


def _due(engine, milestone_id) -> date:
    with session_scope(engine) as s:
        return s.get(Milestone, milestone_id).due_date


def test_links_to_milestones_of_other_projects_are_ignored(engine, plan):
    with session_scope(engine) as s:
        assert changes.milestone_ids(s, plan["cr"]) == [plan["beta"]]
        cr = s.get(ChangeRequest, plan["cr"])
        assert cr.status == "submitted" and cr.requested_by_client


def test_approval_moves_each_affected_milestone_by_exactly_the_impact(engine, clock, plan):
    _assess(engine, clock, plan, schedule_impact_days="5")
    clock.advance(timedelta(hours=2))
    decision = _decide(engine, clock, plan)
    assert decision.cr.status == "approved" and decision.cr.decided_by == "U0CLIENT"
    assert _due(engine, plan["beta"]) == date(2026, 12, 6)
    assert _due(engine, plan["launch"]) == date(2026, 12, 13)
    assert _due(engine, plan["foreign"]) == date(2026, 12, 1)
    with session_scope(engine) as s:
        moves = s.exec(select(ActivityLog).where(ActivityLog.action == "rescheduled")
                       .order_by(ActivityLog.entity_id)).all()
        assert [(m.entity_id, m.before, m.after["due_date"]) for m in moves] == [
            (plan["beta"], {"due_date": "2026-12-01"}, "2026-12-06"),
            (plan["launch"], {"due_date": "2026-12-08"}, "2026-12-13"),
        ]
        assert all(m.after["change_request_id"] == plan["cr"] and m.actor_user_id == "U0CLIENT" for m in moves)
        [approved] = s.exec(select(ActivityLog).where(ActivityLog.action == "approved")).all()
        assert approved.created_at == clock.now() and not approved.on_behalf_of_client


def test_a_negative_impact_moves_milestones_earlier_and_zero_moves_nothing(engine, clock, plan):
    _assess(engine, clock, plan, schedule_impact_days="-3")
    _decide(engine, clock, plan)
    assert _due(engine, plan["beta"]) == date(2026, 11, 28)


def test_no_schedule_impact_no_plan_change(engine, clock, plan):
    _assess(engine, clock, plan, schedule_impact_days="0")
    _decide(engine, clock, plan, decider=PM)
    assert _due(engine, plan["beta"]) == date(2026, 12, 1)
    with session_scope(engine) as s:
        assert s.exec(select(ActivityLog).where(ActivityLog.action == "rescheduled")).all() == []
        cr = s.get(ChangeRequest, plan["cr"])
        assert cr.decided_on_behalf
        [entry] = s.exec(select(ActivityLog).where(ActivityLog.action == "approved")).all()
        assert entry.on_behalf_of_client


def test_rejection_keeps_the_plan_and_records_the_reason(engine, clock, plan):
    _assess(engine, clock, plan, schedule_impact_days="5")
    decision = _decide(engine, clock, plan, approve=False, reason="  Not this quarter ")
    assert decision.cr.status == "rejected" and decision.cr.decision_reason == "Not this quarter"
    assert decision.rescheduled == []
    assert _due(engine, plan["beta"]) == date(2026, 12, 1)


def test_a_decision_before_assessment_is_refused(engine, clock, plan):
    with pytest.raises(InvalidTransition) as err:
        _decide(engine, clock, plan)
    assert err.value.key == "changes.error_not_assessed" and err.value.params["status"] == "submitted"


def test_a_second_decision_is_refused_and_names_the_first(engine, clock, plan):
    _assess(engine, clock, plan)
    _decide(engine, clock, plan)
    with pytest.raises(InvalidTransition) as err:
        _decide(engine, clock, plan, decider=PM, approve=False)
    assert err.value.key == "changes.error_already_approved" and err.value.params["user"] == "U0CLIENT"
    assert _due(engine, plan["beta"]) == date(2026, 12, 6)  # moved once


def test_a_decided_request_is_not_assessed_again(engine, clock, plan):
    _assess(engine, clock, plan)
    _decide(engine, clock, plan)
    with pytest.raises(InvalidTransition) as err:
        _assess(engine, clock, plan, schedule_impact_days="9")
    assert err.value.key == "changes.error_not_submitted" and err.value.params["status"] == "approved"


def test_a_revision_applies_only_what_the_form_changed_and_makes_a_new_version(engine, clock, plan):
    first = _assess(engine, clock, plan, schedule_impact_days="5", recommendation="Do it")
    with session_scope(engine) as s:
        cr = s.get(ChangeRequest, plan["cr"])
        opened = edits.stamp(cr.version, changes.assessment_of(cr, changes.milestone_ids(s, cr.id)))
    # Meanwhile someone else revises the recommendation.
    with session_scope(engine) as s:
        cr, project = changes.get_in_team(s, "T0TEAM", plan["cr"])
        changes.assess(s, clock, cr=cr, project=project, actor="U0PM",
                       data=_assessment(milestone_ids=[plan["beta"], plan["launch"]], recommendation="Wait"))
    # The older form changes the days only: its untouched recommendation does not undo theirs.
    with session_scope(engine) as s:
        cr, project = changes.get_in_team(s, "T0TEAM", plan["cr"])
        revised = changes.assess(s, clock, cr=cr, project=project, actor="U0DEV", stamp=opened,
                                 data=_assessment(schedule_impact_days="8", recommendation="Do it",
                                                  milestone_ids=[plan["beta"], plan["launch"]]))
        assert revised.schedule_impact_days == 8 and revised.recommendation == "Wait"
        assert revised.version == first.version + 2 and revised.status == "assessed"
        [entry] = s.exec(select(ActivityLog).where(ActivityLog.action == "reassessed",
                                                   ActivityLog.actor_user_id == "U0DEV")).all()
        assert entry.before == {"schedule_impact_days": 5} and entry.after == {"schedule_impact_days": 8}
    # Changing the recommendation too, from that old form, collides with theirs: refused by field.
    with session_scope(engine) as s, pytest.raises(ValidationFailed) as err:
        cr, project = changes.get_in_team(s, "T0TEAM", plan["cr"])
        changes.assess(s, clock, cr=cr, project=project, actor="U0DEV", stamp=opened,
                       data=_assessment(schedule_impact_days="8", recommendation="Now",
                                        milestone_ids=[plan["beta"], plan["launch"]]))
    assert set(err.value.errors) == {"recommendation"}
    assert err.value.errors["recommendation"] == ("changes.error_changed_meanwhile", {"value": "Wait"})
    # The version decided on is the current one: an older one is refused, nothing moves.
    with session_scope(engine) as s, pytest.raises(changes.Stale):
        changes.decide(s, clock, cr_id=plan["cr"], project=plan["project"], decider=CLIENT, approve=True,
                       version=first.version)
    assert _due(engine, plan["beta"]) == date(2026, 12, 1)
    with session_scope(engine) as s:
        current = s.get(ChangeRequest, plan["cr"]).version
        changes.decide(s, clock, cr_id=plan["cr"], project=plan["project"], decider=CLIENT, approve=True,
                       version=current)
    assert _due(engine, plan["beta"]) == date(2026, 12, 9)


def test_withdraw_only_by_the_author_and_only_while_undecided(engine, clock, plan):
    with session_scope(engine) as s, pytest.raises(Forbidden):
        changes.withdraw(s, clock, cr_id=plan["cr"], project=plan["project"], actor="U0DEV")
    _assess(engine, clock, plan)
    with session_scope(engine) as s:
        cr, former = changes.withdraw(s, clock, cr_id=plan["cr"], project=plan["project"], actor="U0CLIENT")
    assert cr.status == "withdrawn" and former == "assessed" and cr.withdrawn_at == clock.now()
    with pytest.raises(InvalidTransition) as err:
        _decide(engine, clock, plan)
    assert err.value.key == "changes.error_withdrawn"


def test_implemented_only_after_approval(engine, clock, plan):
    with session_scope(engine) as s, pytest.raises(InvalidTransition):
        changes.implement(s, clock, cr_id=plan["cr"], project=plan["project"], actor="U0DEV")
    _assess(engine, clock, plan)
    _decide(engine, clock, plan)
    with session_scope(engine) as s:
        cr = changes.implement(s, clock, cr_id=plan["cr"], project=plan["project"], actor="U0DEV")
    assert cr.status == "implemented"
    with session_scope(engine) as s, pytest.raises(InvalidTransition):
        changes.withdraw(s, clock, cr_id=plan["cr"], project=plan["project"], actor="U0CLIENT")
    with session_scope(engine) as s:
        log = [e.action for e in changes.history(s, [plan["cr"]])[plan["cr"]]]
    assert log == ["submitted", "assessed", "approved", "implemented"]


def test_assessment_replaces_the_affected_milestones(engine, clock, plan):
    _assess(engine, clock, plan, milestone_ids=[plan["launch"], plan["foreign"]])
    with session_scope(engine) as s:
        links = s.exec(select(ChangeRequestMilestone.milestone_id)
                       .where(ChangeRequestMilestone.change_request_id == plan["cr"])).all()
        assert links == [plan["launch"]]
        [entry] = s.exec(select(ActivityLog).where(ActivityLog.action == "assessed")).all()
        assert entry.before["milestone_ids"] == [plan["beta"]] and entry.after["milestone_ids"] == [plan["launch"]]
        assert entry.after["schedule_impact_days"] == 5 and entry.after["effort_hours"] == "16.00"


def _race(engine, clock, project, cr_id: int) -> dict[str, str]:
    """The client approves and the PM rejects at the same moment, from two threads."""
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def decide(name: str, decider: Decider, approve: bool) -> None:
        barrier.wait()
        try:
            with session_scope(engine) as s:
                changes.decide(s, clock, cr_id=cr_id, project=project, decider=decider, approve=approve)
            outcomes[name] = "won"
        except InvalidTransition as err:
            outcomes[name] = err.key

    threads = [threading.Thread(target=decide, args=("client", CLIENT, True)),
               threading.Thread(target=decide, args=("pm", PM, False))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    return outcomes


@pytest.mark.parametrize("rounds", [6])
def test_concurrent_approve_and_reject_yield_exactly_one_decision(engine, clock, make_project, rounds):
    """Two people decide at the same moment from two threads: one wins, the other is refused."""
    project = make_project()
    for n in range(rounds):
        with session_scope(engine) as s:
            m = milestones.create(s, clock, project=project, actor="U0PM",
                                  data=milestones.MilestoneInput(name=f"M{n}", due_date="2026-12-01"))
            cr = changes.submit(s, clock, project=project, actor="U0DEV", by_client=False,
                                data=changes.ChangeInput(title=f"CR {n}", milestone_ids=[m.id]))
        with session_scope(engine) as s:
            cr = s.get(ChangeRequest, cr.id)
            changes.assess(s, clock, cr=cr, project=project, actor="U0DEV", data=_assessment(milestone_ids=[m.id]))
        outcomes = _race(engine, clock, project, cr.id)
        assert sorted(map(str, outcomes.values())) in (
            ["changes.error_already_approved", "won"], ["changes.error_already_rejected", "won"]), outcomes
        with session_scope(engine) as s:
            decisions = s.exec(select(ActivityLog).where(ActivityLog.entity_id == cr.id,
                                                         ActivityLog.entity_type == "change_request",
                                                         ActivityLog.action.in_(["approved", "rejected"]))).all()
            assert len(decisions) == 1
            final = s.get(ChangeRequest, cr.id)
            moved = s.get(Milestone, m.id).due_date
        if outcomes["client"] == "won":
            assert final.status == "approved" and moved == date(2026, 12, 6)
        else:
            assert final.status == "rejected" and moved == date(2026, 12, 1)


# Export ----------------------------------------------------------------------------------------


def test_change_log_export_in_markdown_and_csv(engine, clock, plan):
    with session_scope(engine) as s:
        changes.submit(s, clock, project=plan["project"], actor="U0DEV", by_client=False,
                       data=changes.ChangeInput(title="=HYPERLINK(\"http://evil\") | pipe"))
    _assess(engine, clock, plan, cost_amount="1200", cost_currency="EUR", recommendation="Worth it")
    _decide(engine, clock, plan)
    with session_scope(engine) as s:
        md = export_changes.render(s, plan["project"], "md", today=date(2026, 11, 18))
        text = export_changes.render(s, plan["project"], "csv")
        shared = export_changes.render(s, plan["project"], "csv", include_internal=False)
    assert "# Change log — Acme Web Shop" in md
    assert f"## CR-{plan['cr']} · PayPal" in md
    assert "Beta: 2026-12-01 → 2026-12-06" in md and "€1,200.00" in md
    assert "\\| pipe" in md  # a pipe in a title does not break the table
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["ID"] for r in rows] == [f"CR-{plan['cr']}", f"CR-{plan['cr'] + 1}"]
    first = rows[0]
    assert first["Status"] == "Approved" and first["Schedule impact (days)"] == "+5"
    assert first["Effort (hours)"] == "16" and first["Cost"] == "€1,200.00"
    assert first["Decided by"] == "U0CLIENT" and first["On behalf of the client"] == "No"
    assert first["Plan change"] == "Beta: 2026-12-01 → 2026-12-06; Launch: 2026-12-08 → 2026-12-13"
    assert rows[1]["Title"].startswith("'=")  # no formula runs in a spreadsheet
    # costs the PM did not share stay out of what the client may get
    assert next(iter(csv.DictReader(io.StringIO(shared))))["Cost"] == ""


def test_export_in_chinese_and_empty(engine, clock, make_project):
    project = make_project(language="zh-CN")
    with session_scope(engine) as s:
        md = export_changes.render(s, project, "md")
        head = export_changes.render(s, project, "csv").splitlines()[0]
    assert "变更记录" in md and "暂无变更请求" in md
    assert head.startswith("编号,标题,状态")
    with pytest.raises(ValueError), session_scope(engine) as s:
        export_changes.render(s, project, "pdf")


@pytest.mark.parametrize(("sent", "stored"), [
    ("Dark mode", "Dark mode"),
    ("a &lt;b&gt; &amp;amp; c", "a <b> &amp; c"),
    ("ask <@U0CLIENT|chris> in <#C0CLIENT|client-acme>", "ask @chris in #client-acme"),
    ("<!here> and <!subteam^S1|@devs> and <!channel>", "@here and @devs and @channel"),
    ("see <https://example.com|the spec> or <https://x.io>", "see the spec or https://x.io"),
])
def test_slash_command_text_becomes_plain_text(sent, stored):
    """`/change <text>` goes through the one decoder of slash-command text."""
    from bot.blocks.text import from_slack_text

    assert from_slack_text(sent) == stored
