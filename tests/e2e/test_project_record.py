"""Issue 10 reproductions of the project part, through signed requests and the fake Web API:

- item 4: one channel, one role — a channel that is one project's client channel cannot become
  another's internal channel, a Slack Connect channel is never an internal channel, lookups by
  channel are deterministic, and old data that breaks the rule never leaks an internal digest
  into a client channel;
- item 5: the PM must be a member of the installing workspace;
- item 6: `/digest send` by a team member who is not the PM asks first, naming what it
  overrides, and the PM is told;
- item 2: a stale project form applies only what its user changed and answers conflicts inline.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

from sqlmodel import select

from bot.blocks import ids
from bot.jobs.scheduler import tick
from bot.models import Project
from tests.conftest import TEAM
from tests.e2e.helpers import project_values, submit_project

FRIDAY_SHANGHAI = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai, the default digest time


def _projects(session):
    session.expire_all()
    return {p.name: p for p in session.exec(select(Project))}


def _digests_in(fake_slack, channel):
    return [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == channel and c.ok
            and str(c.params.get("metadata", {}).get("event_payload", {}).get("key", "")).startswith("digest:")]


# One channel, one role ------------------------------------------------------------------------


def test_another_projects_client_channel_is_refused_as_internal_channel(slack, fake_slack, people, session,
                                                                       make_project):
    fake_slack.set_channel("C0XCLIENT", name="client-x")  # not shared: only the one-role rule refuses it
    fake_slack.set_channel("C0BCLIENT", name="client-b", is_ext_shared=True)
    make_project("Alpha", client_channel_id="C0XCLIENT", internal_channel_id=None)

    resp = submit_project(slack, people.pm, name="Beta", client_channel="C0BCLIENT", internal_channel="C0XCLIENT",
                          origin="C0BCLIENT")
    errors = resp.json()["errors"]
    assert set(errors) == {ids.PROJECT_BLOCK_INTERNAL_CHANNEL} and "Alpha" in errors[ids.PROJECT_BLOCK_INTERNAL_CHANNEL]
    assert set(_projects(session)) == {"Alpha"}

    # nor can an existing project be edited into it
    submit_project(slack, people.pm, name="Beta", client_channel="C0BCLIENT", internal_channel=None,
                   origin="C0BCLIENT")
    beta = _projects(session)["Beta"]
    resp = submit_project(slack, people.pm, project_id=beta.id, name="Beta", client_channel="C0BCLIENT",
                          internal_channel="C0XCLIENT", origin="C0BCLIENT")
    assert set(resp.json()["errors"]) == {ids.PROJECT_BLOCK_INTERNAL_CHANNEL}
    assert _projects(session)["Beta"].internal_channel_id is None
    # and the internal channel of one project is no other project's client channel either
    resp = submit_project(slack, people.pm, name="Gamma", client_channel="C0INTERNAL", internal_channel=None,
                          origin="C0INTERNAL")
    assert "errors" not in (resp.json() if resp.content else {})
    resp = submit_project(slack, people.pm, name="Delta", client_channel="C0XNEW", internal_channel="C0INTERNAL",
                          origin="C0XNEW")
    assert "Gamma" in resp.json()["errors"][ids.PROJECT_BLOCK_INTERNAL_CHANNEL]


def test_a_slack_connect_channel_is_refused_as_internal_channel(slack, fake_slack, people, session):
    fake_slack.set_channel("C0SHARED", name="shared-with-vendor", is_ext_shared=True)
    resp = submit_project(slack, people.pm, internal_channel="C0SHARED")
    errors = resp.json()["errors"]
    assert set(errors) == {ids.PROJECT_BLOCK_INTERNAL_CHANNEL} and "another organisation" in errors[
        ids.PROJECT_BLOCK_INTERNAL_CHANNEL]
    assert _projects(session) == {}


def test_old_data_with_a_channel_in_two_roles_never_leaks_the_internal_digest(deps, slack, fake_slack, people,
                                                                            session, engine, clock):
    """Project B's internal channel is project A's (Slack Connect) client channel, as data from
    before the rule may have it. B's internal digest (internal risks, costs) must not go there,
    and the channel means project A, always."""
    from bot.db import session_scope

    with session_scope(engine) as s:
        for name, client, internal in (("Alpha", "C0CLIENT", None), ("Beta", "C0OTHER", "C0CLIENT")):
            s.add(Project(team_id=TEAM, name=name, client_channel_id=client, internal_channel_id=internal,
                          pm_user_id=people.pm.id, client_approver_ids=[people.client.id], timezone="Asia/Shanghai",
                          created_by=people.pm.id, created_at=clock.now(), updated_at=clock.now(),
                          digest_time=time(16, 0)))
    clock.set(FRIDAY_SHANGHAI)
    tick(deps)
    alpha_keys = [c.params["metadata"]["event_payload"]["key"] for c in _digests_in(fake_slack, "C0CLIENT")]
    ids_by_name = {n: p.id for n, p in _projects(session).items()}
    assert alpha_keys == [f"digest:{ids_by_name['Alpha']}:2026-W47:client"]
    assert len(_digests_in(fake_slack, "C0OTHER")) == 1  # B's client digest still goes out

    for _ in range(3):  # the lookup by channel is deterministic: the client role wins
        shown = slack.command("/project", "show", user=people.pm).json()
        assert "Alpha" in json.dumps(shown["blocks"]) and "Beta" not in json.dumps(shown["blocks"])


# People in the right roles -----------------------------------------------------------------------


def test_the_pm_must_be_a_member_of_the_workspace(slack, fake_slack, people, session):
    for outsider in (people.guest, people.client):
        resp = submit_project(slack, people.pm, pm=outsider.id)
        errors = resp.json()["errors"]
        assert set(errors) == {ids.PROJECT_BLOCK_PM} and "member of this workspace" in errors[ids.PROJECT_BLOCK_PM]
    assert _projects(session) == {}
    submit_project(slack, people.pm, pm=people.dev.id)
    assert _projects(session)["Acme Web Shop"].pm_user_id == people.dev.id


# `/digest send` by someone else than the PM ------------------------------------------------------


def test_a_team_members_digest_send_after_the_pms_skip_asks_first_and_tells_the_pm(deps, slack, fake_slack, people,
                                                                                    make_project, clock, session):
    make_project()
    clock.set(FRIDAY_SHANGHAI - timedelta(minutes=60))
    tick(deps)  # the PM preview
    [preview] = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "DU0PM"]
    skip = next(e for b in preview.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == ids.DIGEST_SKIP)
    slack.action(ids.DIGEST_SKIP, skip["value"], user=people.pm, channel_id="DU0PM")
    assert "skipped" in fake_slack.wait_for("response_url")[0].params["text"]

    slack.command("/digest", "send", user=people.dev)
    question = fake_slack.wait_for("response_url", 2)[1].params
    assert _digests_in(fake_slack, "C0CLIENT") == []  # nothing posted yet
    assert "Skip this week" in question["text"] and "<@U0PM>" in question["text"]
    confirm = next(e for b in question["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["action_id"] == ids.DIGEST_SEND_CONFIRM)

    slack.action(ids.DIGEST_SEND_CONFIRM, confirm["value"], user=people.dev)
    assert "is posted" in fake_slack.wait_for("response_url", 3)[2].params["text"]
    assert len(_digests_in(fake_slack, "C0CLIENT")) == 1
    told = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "DU0PM"
            and "<@U0DEV>" in c.params.get("text", "")]
    assert len(told) == 1 and "Skip this week" in told[0].params["text"]
    # the scheduled run of the same week posts nothing more
    clock.set(FRIDAY_SHANGHAI + timedelta(minutes=5))
    tick(deps)
    assert len(_digests_in(fake_slack, "C0CLIENT")) == 1


def test_a_team_members_digest_send_of_a_project_waiting_for_approval_asks_first(slack, fake_slack, people,
                                                                                  make_project):
    make_project(require_pm_approval=True)
    slack.command("/digest", "send", user=people.dev)
    question = fake_slack.wait_for("response_url")[0].params
    assert "approval" in question["text"] and _digests_in(fake_slack, "C0CLIENT") == []
    cancel = next(e for b in question["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == ids.DIGEST_SEND_CANCEL)
    slack.action(ids.DIGEST_SEND_CANCEL, cancel["value"], user=people.dev)
    assert "Nothing was posted" in fake_slack.wait_for("response_url", 2)[1].params["text"]
    assert _digests_in(fake_slack, "C0CLIENT") == []
    # the PM's own `/digest send` posts at once
    slack.command("/digest", "send", user=people.pm)
    fake_slack.wait_for("response_url", 3)
    assert len(_digests_in(fake_slack, "C0CLIENT")) == 1


def test_the_confirmation_of_another_project_is_refused(slack, fake_slack, people, make_project):
    make_project()
    other = make_project("Other", client_channel_id="C0OTHER", internal_channel_id=None)
    slack.action(ids.DIGEST_SEND_CONFIRM, f"{other.id}:2026-W47", user=people.dev)
    assert "/project setup" in fake_slack.wait_for("response_url")[0].params["text"]
    assert _digests_in(fake_slack, "C0OTHER") == [] and _digests_in(fake_slack, "C0CLIENT") == []


# A stale project form ------------------------------------------------------------------------------


def test_a_stale_project_form_applies_only_what_its_user_changed(slack, fake_slack, people, session, make_project):
    project = make_project()
    slack.command("/project", "edit", user=people.pm)
    stale = fake_slack.wait_for("views.open")[0].params["view"]["private_metadata"]
    slack.command("/project", "edit", user=people.dev)
    fresh = fake_slack.wait_for("views.open", 2)[1].params["view"]["private_metadata"]
    # meanwhile the dev moves the digest to Monday
    assert slack.submit(ids.PROJECT_MODAL, project_values(weekday="0"), user=people.dev,
                        private_metadata=fresh).status_code == 200
    assert _projects(session)["Acme Web Shop"].digest_weekday == 0

    # the PM's form, opened before, only switches the language: Monday stays
    resp = slack.submit(ids.PROJECT_MODAL, project_values(language="zh-CN"), user=people.pm, private_metadata=stale)
    assert resp.content in (b"", b"{}") or "errors" not in resp.json()
    now = _projects(session)["Acme Web Shop"]
    assert now.language == "zh-CN" and now.digest_weekday == 0

    # the same stale form changing the digest day too is answered next to that field
    resp = slack.submit(ids.PROJECT_MODAL, project_values(weekday="2"), user=people.pm, private_metadata=stale)
    errors = resp.json()["errors"]
    assert set(errors) == {ids.PROJECT_BLOCK_WEEKDAY} and "changed this since" in errors[ids.PROJECT_BLOCK_WEEKDAY]
    assert _projects(session)["Acme Web Shop"].digest_weekday == 0
    assert project.id == now.id


def test_closing_the_project_takes_the_buttons_off_the_intake_message(slack, fake_slack, people, session):
    submit_project(slack, people.pm)
    fake_slack.wait_for("chat.postEphemeral")
    project = _projects(session)["Acme Web Shop"]
    slack.action(ids.PROJECT_CLOSE_CONFIRM, str(project.id), user=people.pm)
    fake_slack.wait_for("response_url")
    update = fake_slack.wait_for("chat.update")[0].params
    assert update["ts"] == project.intake_message_ts
    assert not [b for b in update["blocks"] if b["type"] == "actions"] and "closed" in json.dumps(update["blocks"])
