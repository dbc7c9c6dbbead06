"""The requirement status rules (SPEC §2), validation, the activity log and the document export."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from bot.db import session_scope
from bot.models import ActivityLog, Project, Requirement
from bot.services import csv_cells, projects, requirements
from bot.services.errors import InvalidTransition, ValidationFailed
from bot.services.export_requirements import md_block, md_inline, render
from bot.services.permissions import Decider

CLIENT = Decider(user_id="U0CLIENT", on_behalf_of_client=False)
PM = Decider(user_id="U0PM", on_behalf_of_client=True)
STATUSES = ["proposed", "changes_requested", "confirmed", "deferred", "dropped", "done"]

# SPEC §2: proposed → confirmed | changes_requested; any open one → deferred | dropped; confirmed → done.
# A changes_requested requirement is sent again (→ proposed). "Open" = proposed, changes_requested, confirmed.
ALLOWED = {
    "confirm": {"proposed": "confirmed"},
    "request_changes": {"proposed": "changes_requested"},
    "defer": {"proposed": "deferred", "changes_requested": "deferred", "confirmed": "deferred"},
    "drop": {"proposed": "dropped", "changes_requested": "dropped", "confirmed": "dropped"},
    "mark_done": {"confirmed": "done"},
    "send_for_confirmation": {"proposed": "proposed", "changes_requested": "proposed"},
}


@pytest.fixture
def project(make_project) -> Project:
    return make_project()


@pytest.fixture
def db(engine):
    with session_scope(engine) as s:
        yield s


def _new(db, clock, project, title="Alipay checkout", **kw) -> Requirement:
    proj = db.get(Project, project.id)
    return requirements.create(db, clock, project=proj, actor="U0DEV", raised_by_client=False,
                               data=requirements.RequirementInput(title=title, **kw))


def _force(db, req: Requirement, status: str) -> None:
    db.execute(update(Requirement).where(Requirement.id == req.id).values(status=status))
    db.refresh(req)


def _do(action: str, db, clock, req, project):
    proj = db.get(Project, project.id)
    if action == "confirm":
        return requirements.confirm(db, clock, req=req, project=proj, decider=CLIENT)
    if action == "request_changes":
        return requirements.request_changes(db, clock, req=req, project=proj, decider=CLIENT, comment="Adjust")
    return getattr(requirements, action)(db, clock, req=req, project=proj, actor="U0PM")


def _log(db, req) -> list[ActivityLog]:
    return list(db.exec(select(ActivityLog).where(ActivityLog.entity_id == req.id,
                                                  ActivityLog.entity_type == "requirement").order_by(ActivityLog.id)))


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", list(ALLOWED))
def test_transition_table(db, clock, project, action, status):
    req = _new(db, clock, project)
    _force(db, req, status)
    entries = len(_log(db, req))
    target = ALLOWED[action].get(status)
    if target is None:
        with pytest.raises(InvalidTransition) as err:
            _do(action, db, clock, req, project)
        assert err.value.key == f"requirements.error_now_{status}"
        db.refresh(req)
        assert req.status == status
        assert len(_log(db, req)) == entries  # nothing recorded
        assert requirements.can(action, status) is False
    else:
        _do(action, db, clock, req, project)
        assert req.status == target
        last = _log(db, req)[-1]
        assert last.before == {"status": status} and last.after["status"] == target
        assert requirements.can(action, status) is True


def test_only_proposed_and_changes_requested_can_be_edited(db, clock, project):
    for status in STATUSES:
        req = _new(db, clock, project, title=f"R {status}")
        _force(db, req, status)
        data = requirements.RequirementInput(title=f"R {status} v2", priority="must")
        if status in ("proposed", "changes_requested"):
            requirements.edit(db, clock, req=req, project=db.get(Project, project.id), actor="U0DEV", data=data)
            entry = _log(db, req)[-1]
            assert entry.action == "edited"
            assert entry.before == {"title": f"R {status}", "priority": "should"}
            assert entry.after == {"title": f"R {status} v2", "priority": "must"}
        else:
            with pytest.raises(InvalidTransition):
                requirements.edit(db, clock, req=req, project=db.get(Project, project.id), actor="U0DEV", data=data)
            db.refresh(req)
            assert req.title == f"R {status}"


def test_an_edit_that_changes_nothing_is_not_logged(db, clock, project):
    req = _new(db, clock, project, description="Same")
    requirements.edit(db, clock, req=req, project=db.get(Project, project.id), actor="U0DEV",
                      data=requirements.RequirementInput(title="Alipay checkout", description="Same"))
    assert [e.action for e in _log(db, req)] == ["created"]


def test_a_stale_read_loses_the_race_and_is_told_the_status_now(engine, clock, project):
    with session_scope(engine) as a:
        req = _new(a, clock, project)
        requirements.send_for_confirmation(a, clock, req=req, project=a.get(Project, project.id), actor="U0PM")
    stale = req  # what a second click read before the first one was committed
    with session_scope(engine) as b:
        fresh = b.get(Requirement, req.id)
        requirements.confirm(b, clock, req=fresh, project=b.get(Project, project.id), decider=CLIENT)
    assert stale.status == "proposed"
    with session_scope(engine) as c, pytest.raises(InvalidTransition) as err:
        c.add(stale)
        requirements.request_changes(c, clock, req=stale, project=c.get(Project, project.id), decider=PM,
                                     comment="Too late")
    assert err.value.key == "requirements.error_now_confirmed"
    with session_scope(engine) as d:
        row = d.get(Requirement, req.id)
        assert (row.status, row.decided_by, row.change_comment) == ("confirmed", "U0CLIENT", None)
        assert [e.action for e in _log(d, row)].count("confirmed") == 1
        assert "changes_requested" not in [e.action for e in _log(d, row)]


def test_sending_twice_is_refused_but_after_changes_it_goes_again(db, clock, project):
    req = _new(db, clock, project)
    proj = db.get(Project, project.id)
    requirements.send_for_confirmation(db, clock, req=req, project=proj, actor="U0PM")
    assert requirements.is_awaiting_confirmation(req)
    with pytest.raises(InvalidTransition) as err:
        requirements.send_for_confirmation(db, clock, req=req, project=proj, actor="U0PM")
    assert err.value.key == "requirements.error_already_sent"
    requirements.set_confirmation_message(db, req, channel_id="C0CLIENT", ts="1.1")
    requirements.request_changes(db, clock, req=req, project=proj, decider=CLIENT, comment="Also WeChat Pay")
    assert (req.status, req.change_comment, req.decided_by) == ("changes_requested", "Also WeChat Pay", "U0CLIENT")
    clock.advance(hours=1)
    requirements.send_for_confirmation(db, clock, req=req, project=proj, actor="U0PM")
    assert (req.status, req.change_comment, req.decided_by, req.confirmation_ts) == ("proposed", None, None, None)
    assert req.sent_for_confirmation_at == clock.now()


def test_pm_decision_is_recorded_on_behalf_of_the_client(db, clock, project):
    req = _new(db, clock, project)
    requirements.confirm(db, clock, req=req, project=db.get(Project, project.id), decider=PM)
    assert (req.status, req.decided_by, req.decided_on_behalf, req.decided_at) == (
        "confirmed", "U0PM", True, clock.now())
    entry = _log(db, req)[-1]
    assert entry.action == "confirmed" and entry.on_behalf_of_client is True and entry.actor_user_id == "U0PM"


def test_request_changes_needs_a_comment(db, clock, project):
    req = _new(db, clock, project)
    for comment in ("", "   ", "x" * 3001):
        with pytest.raises(ValidationFailed) as err:
            requirements.request_changes(db, clock, req=req, project=db.get(Project, project.id), decider=CLIENT,
                                         comment=comment)
        assert "comment" in err.value.errors
    assert req.status == "proposed"


@pytest.mark.parametrize(("data", "field"), [
    ({"title": ""}, "title"),
    ({"title": " \n\t "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": "ok", "description": "d" * 3001}, "description"),
    ({"title": "ok", "acceptance_criteria": "a" * 3001}, "acceptance_criteria"),
    ({"title": "ok", "priority": "urgent"}, "priority"),
])
def test_validation(data, field):
    with pytest.raises(ValidationFailed) as err:
        requirements.validate(requirements.RequirementInput(**data))
    assert list(err.value.errors) == [field]


def test_validation_accepts_the_limits_and_tidies_the_title():
    clean = requirements.validate(requirements.RequirementInput(
        title="  Pay   with\nAlipay ", description="d" * 3000, acceptance_criteria="a" * 3000, priority="wont"))
    assert clean.title == "Pay with Alipay"
    assert requirements.validate(requirements.RequirementInput(title="t" * 200)).title == "t" * 200


def test_a_closed_project_refuses_every_change(db, clock, project):
    req = _new(db, clock, project)
    proj = db.get(Project, project.id)
    projects.close(db, clock, project=proj, actor="U0PM")
    with pytest.raises(InvalidTransition):
        _new(db, clock, project, title="Late")
    for action in ALLOWED:
        with pytest.raises(InvalidTransition) as err:
            _do(action, db, clock, req, project)
        assert err.value.key == "permissions.project_closed"


def test_list_page_is_newest_first_and_filters(db, clock, project):
    for i in range(12):
        _new(db, clock, project, title=f"R{i}")
        clock.advance(minutes=1)
    first, total = requirements.list_page(db, project.id, page=1, per_page=10)
    assert total == 12 and [r.title for r in first] == [f"R{i}" for i in range(11, 1, -1)]
    second, _ = requirements.list_page(db, project.id, page=2, per_page=10)
    assert [r.title for r in second] == ["R1", "R0"]
    _force(db, first[0], "confirmed")
    confirmed, total = requirements.list_page(db, project.id, statuses=["confirmed"])
    assert total == 1 and confirmed[0].title == "R11"


def test_awaiting_and_digest_reads(db, clock, project):
    a, b = _new(db, clock, project, title="A"), _new(db, clock, project, title="B")
    proj = db.get(Project, project.id)
    requirements.send_for_confirmation(db, clock, req=a, project=proj, actor="U0PM")
    assert [r.title for r in requirements.awaiting_confirmation(db, project.id)] == ["A"]
    requirements.confirm(db, clock, req=a, project=proj, decider=CLIENT)
    raised, confirmed = requirements.raised_or_decided_between(db, project.id, clock.now() - timedelta(days=7),
                                                               clock.now() + timedelta(seconds=1))
    assert [r.title for r in raised] == ["A", "B"] and [r.title for r in confirmed] == ["A"]
    assert b.status == "proposed"


# The document -------------------------------------------------------------------------------


def test_csv_round_trips_commas_quotes_newlines_and_chinese(db, clock, project):
    texts = [
        ('Pay, then "ship"', 'She said "now", twice\nand again', "- a, b\r\n- c"),
        ("支付宝付款，微信支付", "第一行\n第二行", "「验收」\"引号\""),
        ("=SUM(A1)", "", ""),
    ]
    for title, description, acceptance in texts:
        _new(db, clock, project, title=title, description=description, acceptance_criteria=acceptance)
    out = render(db, db.get(Project, project.id), "csv")
    header, *rows = list(csv.reader(io.StringIO(out)))
    assert header[:6] == ["ref", "title", "priority", "status", "description", "acceptance_criteria"]
    # the CSV stores what was stored (the service trims leading/trailing blanks of the texts),
    # except that a cell a spreadsheet would run as a formula starts with an apostrophe
    stored = {r.id: r for r in requirements.all_of(db, project.id)}
    assert len(rows) == 3
    for row in rows:
        req = stored[int(row[0].removeprefix("REQ-"))]
        shown = [req.title, req.priority, req.status, req.description, req.acceptance_criteria]
        assert row[1:6] == [csv_cells.cell(v) for v in shown]
    titles = {row[1] for row in rows}
    assert "'=SUM(A1)" in titles and 'Pay, then "ship"' in titles
    assert "'- a, b\r\n- c" in {row[5] for row in rows}


def test_markdown_groups_by_priority_and_keeps_the_structure(db, clock, project):
    _new(db, clock, project, title="Nice to have", priority="could")
    _new(db, clock, project, title="Core *thing* [link](x)", priority="must",
         description="Intro\n# Not a heading\n---\n- a list stays", acceptance_criteria="<script>x</script>")
    proj = db.get(Project, project.id)
    md = render(db, proj, "md", names={"U0DEV": "Dana"}, now=clock.now())
    lines = md.splitlines()
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == ["## Must have (1)", "## Should have (0)", "## Could have (1)", "## Won't have this time (0)"]
    assert r"### REQ-2 · Core \*thing\* \[link\](x)" in lines
    assert "\\# Not a heading" in lines and "\\---" in lines and "- a list stays" in lines
    assert "\\<script\\>x\\</script\\>" not in md and "\\<script>x\\</script>" in md
    assert "- **Raised by:** Dana, 2026-11-18 18:00" in lines
    assert "Exported 2026-11-18 18:00 (Asia/Shanghai)" in md


def test_markdown_in_chinese_follows_the_project_language(db, clock, make_project):
    proj = make_project("中文项目", client_channel_id="C0ZH", internal_channel_id=None, language="zh-CN")
    _new(db, clock, proj, title="支持支付宝", priority="must")
    md = render(db, db.get(Project, proj.id), "md")
    assert md.startswith("# 需求文档：中文项目") and "## 必须有（Must）（1）" in md and "### REQ-1 · 支持支付宝" in md


def test_escaping_helpers():
    assert md_inline("a*b_c`d[e]<f>\\") == "a\\*b\\_c\\`d\\[e\\]\\<f\\>\\\\"
    assert md_block("```\n~~~\n===\n  # h\n1. item") == "\\```\n\\~~~\n\\===\n  \\# h\n1. item"


def test_unknown_format_is_an_error(db, project):
    with pytest.raises(ValueError):
        render(db, db.get(Project, project.id), "pdf")


def test_cli_export(engine, clock, project, database_url, monkeypatch, tmp_path, capsys):
    from bot.cli import main

    with session_scope(engine) as s:
        _new(s, clock, project, title="Pay, with \"Alipay\"", priority="must")
    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / "reqs.csv"
    assert main(["export", "requirements", "--project", "Acme Web Shop", "--format", "csv",
                 "--output", str(out)]) == 0
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][:3] == ["REQ-1", 'Pay, with "Alipay"', "must"]
    assert main(["export", "requirements", "--project", "Acme Web Shop"]) == 0
    assert "### REQ-1 · Pay, with \"Alipay\"" in capsys.readouterr().out
    assert main(["export", "requirements", "--project", "Nope"]) == 1


def test_a_full_list_page_fits_in_one_message_with_its_pager(db, clock, project):
    from bot.blocks import ids
    from bot.blocks.requirements import list_blocks
    from bot.flows.requirements import buttons_for

    for i in range(12):
        req = _new(db, clock, project, title=f"R{i} " + "x" * 190, description="d" * 3000)
        requirements.request_changes(db, clock, req=req, project=db.get(Project, project.id), decider=CLIENT,
                                     comment="c" * 3000)
    items, total = requirements.list_page(db, project.id, page=1, per_page=10)
    blocks = list_blocks(items, db.get(Project, project.id), "en", total=total, page=1, status_filter="",
                         buttons=lambda r: buttons_for(r, is_team=True, can_decide=True), notice="Done.")
    assert len(blocks) <= 50
    assert blocks[-1]["elements"][0]["action_id"] == f"{ids.REQ_LIST_PAGE}:next"
    for block in blocks:
        for el in block.get("elements", []) + ([block["text"]] if "text" in block else []):
            if el.get("type") == "mrkdwn":
                assert len(el["text"]) <= 3000


def test_every_change_bumps_the_version_and_a_decision_on_another_version_changes_nothing(db, clock, project):
    req = _new(db, clock, project)
    proj = db.get(Project, project.id)
    assert req.version == 1
    requirements.send_for_confirmation(db, clock, req=req, project=proj, actor="U0PM")
    shown = req.version
    assert shown == 2
    requirements.set_confirmation_message(db, req, channel_id="C0CLIENT", ts="1.1")  # bookkeeping only
    assert req.version == shown
    same = requirements.RequirementInput(title=req.title, priority=req.priority)
    requirements.edit(db, clock, req=req, project=proj, actor="U0PM", data=same)  # nothing changes
    assert req.version == shown and [e.action for e in _log(db, req)] == ["created", "sent_for_confirmation"]
    requirements.edit(db, clock, req=req, project=proj, actor="U0PM",
                      data=requirements.RequirementInput(title="Alipay and WeChat Pay checkout"))
    assert req.version == shown + 1
    with pytest.raises(requirements.Outdated) as err:
        requirements.confirm(db, clock, req=req, project=proj, decider=CLIENT, version=shown)
    assert err.value.key == "requirements.error_outdated"
    assert (req.status, req.decided_by) == ("proposed", None)
    requirements.confirm(db, clock, req=req, project=proj, decider=CLIENT, version=req.version)
    assert (req.status, req.version) == ("confirmed", shown + 2)


def test_the_confirmation_request_is_drawn_from_the_record_with_versioned_buttons(db, clock, project):
    from bot.blocks import ids
    from bot.flows.outbox_keys import Target, TargetKind
    from bot.flows.requirements import render_confirmation

    req = _new(db, clock, project)
    target = Target(TargetKind.requirement, req.id)
    assert render_confirmation(db, target) is None  # never sent: nothing to show
    requirements.send_for_confirmation(db, clock, req=req, project=db.get(Project, project.id), actor="U0PM")
    drawn = render_confirmation(db, target)
    assert drawn is not None and drawn.ts is None and drawn.channel_id == "C0CLIENT"
    values = {e["action_id"]: e["value"] for b in drawn.payload["blocks"] if b["type"] == "actions"
              for e in b["elements"]}
    assert values == {ids.REQ_CONFIRM: ids.decision_value(req.id, req.version),
                      ids.REQ_REQUEST_CHANGES: ids.decision_value(req.id, req.version)}
    assert "<@U0PM>" in json.dumps(drawn.payload["blocks"])  # who sent it, from the log
