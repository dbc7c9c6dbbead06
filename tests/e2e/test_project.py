"""`/project` end to end: signed requests in, recorded Slack calls and stored rows out."""

from __future__ import annotations

import time

from sqlmodel import select

from bot.blocks import ids
from bot.models import ActivityLog, Outbox, Project
from tests.conftest import OTHER_ORG
from tests.e2e.helpers import submit_project
from tests.fakes import payloads


def _projects(session):
    session.expire_all()
    return list(session.exec(select(Project)))


def test_setup_modal_submit_and_show_round_trip(slack, fake_slack, people, session):
    resp = slack.command("/project", "setup", user=people.pm)
    assert resp.status_code == 200
    opened = fake_slack.wait_for("views.open")[0]
    view = opened.params["view"]
    assert view["callback_id"] == ids.PROJECT_MODAL
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert blocks[ids.PROJECT_BLOCK_CLIENT_CHANNEL]["element"]["initial_conversation"] == "C0CLIENT"
    assert blocks[ids.PROJECT_BLOCK_PM]["element"]["initial_user"] == people.pm.id
    # The caller's Slack time zone is the default.
    assert blocks[ids.PROJECT_BLOCK_TIMEZONE]["element"]["initial_option"]["value"] == "Europe/Berlin"

    resp = submit_project(slack, people.pm, name="Acme <!channel> Shop", holidays="2026-12-25\n2027-01-01")
    assert resp.status_code == 200
    assert resp.content in (b"", b"{}") or "errors" not in resp.json()

    [project] = _projects(session)
    assert project.name == "Acme <!channel> Shop"
    assert project.client_channel_id == "C0CLIENT"
    assert project.internal_channel_id == "C0INTERNAL"
    assert project.client_approver_ids == ["U0CLIENT"]
    assert project.timezone == "Asia/Shanghai"
    assert project.holidays == ["2026-12-25", "2027-01-01"]
    assert project.team_id == "T0TEAM"

    # The intake message is posted in the client channel, escaped, and pinned.
    post = fake_slack.wait_for("chat.postMessage")[0]
    assert post.params["channel"] == "C0CLIENT"
    shown = str(post.params["blocks"]) + post.params["text"]
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert post.params["metadata"]["event_payload"]["key"].startswith("intake:")
    pin = fake_slack.wait_for("pins.add")[0]
    assert pin.params["channel"] == "C0CLIENT"
    # The caller is told, where they ran the command.
    told = fake_slack.wait_for("chat.postEphemeral")[0]
    assert told.params["user"] == people.pm.id and "is set up" in told.params["text"]

    session.expire_all()
    log = list(session.exec(select(ActivityLog).where(ActivityLog.entity_type == "project")))
    assert [e.action for e in log] == ["created"]
    assert log[0].after["name"] == "Acme <!channel> Shop"

    resp = slack.command("/project", "show", user=people.dev)
    assert resp.status_code == 200
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    text = str(body["blocks"])
    assert "Acme &lt;!channel&gt; Shop" in text and "Asia/Shanghai" in text and "<@U0CLIENT>" in text


def test_intake_message_ts_is_recorded(slack, fake_slack, people, session):
    submit_project(slack, people.pm)
    post = fake_slack.wait_for("chat.postMessage")[0]
    fake_slack.wait_for("chat.postEphemeral")  # the bot's last step: it has recorded the ts by then
    [project] = _projects(session)
    ts = fake_slack.messages("C0CLIENT")[0]["ts"]
    assert project.intake_message_ts == ts
    assert post.params["channel"] == "C0CLIENT"


def test_invalid_input_is_answered_next_to_each_field_and_nothing_is_stored(slack, people, session):
    resp = submit_project(slack, people.pm, name="   ", pm=None, working_days=["9"], holidays="25.12.2026",
                          timezone="Mars/Olympus")
    assert resp.status_code == 200
    body = resp.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) >= {ids.PROJECT_BLOCK_NAME, ids.PROJECT_BLOCK_PM, ids.PROJECT_BLOCK_WORKING_DAYS,
                                   ids.PROJECT_BLOCK_HOLIDAYS, ids.PROJECT_BLOCK_TIMEZONE}
    assert "YYYY-MM-DD" in body["errors"][ids.PROJECT_BLOCK_HOLIDAYS]
    assert _projects(session) == []
    assert list(session.exec(select(Outbox))) == []


def test_one_project_per_channel(slack, fake_slack, people, session):
    submit_project(slack, people.pm, name="First")
    resp = submit_project(slack, people.pm, name="Second")
    assert resp.json()["errors"][ids.PROJECT_BLOCK_CLIENT_CHANNEL].startswith("This channel already belongs")
    assert [p.name for p in _projects(session)] == ["First"]
    # and `/project setup` in a bound channel says so instead of opening the modal
    resp = slack.command("/project", "setup", user=people.pm)
    assert "already belongs to project" in resp.json()["text"]


def test_guests_and_external_users_are_refused(slack, fake_slack, people, session):
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    resp = slack.command("/project", "setup", user=people.guest)
    assert resp.status_code == 200
    assert "Only members of the team" in resp.json()["text"]
    # The client's Slack is in Chinese, so the refusal is too.
    resp = slack.command("/project", "setup", user=people.client)
    assert "只有团队工作区的成员" in resp.json()["text"]
    resp = submit_project(slack, people.outsider)
    assert "Only members" in resp.json()["errors"][ids.PROJECT_BLOCK_NAME]
    assert fake_slack.calls_to("views.open") == []
    assert _projects(session) == []


def test_same_enterprise_grid_org_is_not_external(fake_slack, settings, engine, clock):
    from bot.app import create_app, deps_of
    from bot.slack.users import UserKind, Workspace

    app = create_app(settings, engine=engine, clock=clock)
    deps = deps_of(app)
    fake_slack.add_user("U0SISTER", team_id="T0SISTER", enterprise_id="E0ORG")
    fake_slack.add_user("U0STRANGER", team_id="T0SISTER", enterprise_id="E0OTHER")
    grid = Workspace(team_id="T0TEAM", enterprise_id="E0ORG")
    assert deps.users.kind(deps.client, "U0SISTER", grid) == UserKind.team
    assert deps.users.kind(deps.client, "U0STRANGER", grid) == UserKind.external
    assert deps.users.kind(deps.client, "U0GUEST", grid) == UserKind.guest
    # users.info is asked once per user within the cache period
    before = len(fake_slack.calls_to("users.info"))
    deps.users.kind(deps.client, "U0SISTER", grid)
    assert len(fake_slack.calls_to("users.info")) == before


def test_forged_or_stale_signature_gets_401_and_has_no_effect(slack, fake_slack, people, session, server):
    import httpx

    body, headers = payloads.slash_command("/project", "setup", user=people.pm, response_url="http://x/",
                                           trigger_id="t1")
    forged = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
    assert httpx.post(server + "/slack/events", content=body, headers=forged).status_code == 401
    stale = payloads.sign(body, timestamp=int(time.time()) - 600)
    stale["Content-Type"] = headers["Content-Type"]
    assert httpx.post(server + "/slack/events", content=body, headers=stale).status_code == 401
    assert fake_slack.calls_to("views.open") == []


def test_edit_prefills_and_updates_with_activity(slack, fake_slack, people, session):
    submit_project(slack, people.pm)
    [project] = _projects(session)
    fake_slack.wait_for("chat.postMessage")
    slack.command("/project", "edit", user=people.dev)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert blocks[ids.PROJECT_BLOCK_NAME]["element"]["initial_value"] == "Acme Web Shop"
    resp = submit_project(slack, people.dev, project_id=project.id, language="zh-CN", weekday="0")
    assert resp.status_code == 200
    [project] = _projects(session)
    assert project.language == "zh-CN" and project.digest_weekday == 0
    edits = list(session.exec(select(ActivityLog).where(ActivityLog.action == "edited")))
    assert edits[0].before == {"language": "en", "digest_weekday": 4}
    assert edits[0].after == {"language": "zh-CN", "digest_weekday": 0}
    # the intake message is refreshed in place, now in Chinese
    update = fake_slack.wait_for("chat.update")[0]
    assert update.params["ts"] == project.intake_message_ts
    assert "您好" in str(update.params["blocks"])


def test_close_asks_first_then_closes(slack, fake_slack, people, session):
    """`/project close` asks in a modal (with an optional retrospective note); nothing is closed
    until it is submitted. (The close-out report itself: tests/e2e/test_reports.py.)"""
    submit_project(slack, people.pm)
    slack.command("/project", "close", user=people.pm)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ids.PROJECT_CLOSE_MODAL
    assert {b.get("block_id") for b in view["blocks"]} >= {ids.PROJECT_CLOSE_BLOCK_WENT_WELL,
                                                           ids.PROJECT_CLOSE_BLOCK_TO_IMPROVE}
    assert _projects(session)[0].status == "active"
    slack.submit(ids.PROJECT_CLOSE_MODAL, {}, user=people.pm, private_metadata=view["private_metadata"])
    reply = fake_slack.wait_for("chat.postEphemeral", 2)[-1]
    assert "is closed" in reply.params["text"]
    assert _projects(session)[0].status == "closed"


def test_close_button_of_an_older_confirmation_still_closes(slack, fake_slack, people, session):
    submit_project(slack, people.pm)
    [project] = _projects(session)
    slack.action(ids.PROJECT_CLOSE_CONFIRM, str(project.id), user=people.pm)
    reply = fake_slack.wait_for("response_url")[0]
    assert "is closed" in reply.params["text"]
    assert _projects(session)[0].status == "closed"


def test_list_shows_only_projects_of_my_channels(slack, fake_slack, people, session):
    submit_project(slack, people.pm, name="Mine")
    submit_project(slack, people.pm, name="Theirs", client_channel="C0OTHER", internal_channel=None,
                   origin="C0OTHER")
    slack.command("/project", "list", user=people.dev, channel_id="C0INTERNAL")
    reply = fake_slack.wait_for("response_url")[0]
    text = str(reply.params["blocks"])
    assert "Mine" in text and "Theirs" not in text


def test_help_and_unknown_subcommand_and_unbound_channel(slack, people):
    assert "/project setup" in slack.command("/project", "", user=people.pm).json()["text"]
    out = slack.command("/project", "frobnicate", user=people.pm).json()["text"]
    assert "frobnicate" in out and "/project setup" in out
    out = slack.command("/project", "show", user=people.pm, channel_id="C0OTHER").json()["text"]
    assert "/project setup" in out


def test_healthz_is_liveness_and_readyz_says_whether_the_database_answers(server):
    import httpx

    resp = httpx.get(server + "/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}
    resp = httpx.get(server + "/readyz")
    assert resp.status_code == 200
    assert resp.json()["checks"]["database"] == "ok"
