"""Property: a digest with 0 to 200 items of every kind, titled with hostile text, stays within
Block Kit's limits — client and internal, with and without its chart, and the PM's preview."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot.blocks.digest import digest_message, preview_message
from bot.blocks.digest_chart import chart_spec, with_chart_file
from bot.blocks.text import BLOCKS_PER_MESSAGE, MESSAGE_TEXT
from bot.i18n import t
from bot.models import (
    Acceptance,
    ChangeRequest,
    ClientItem,
    FeedbackResponse,
    Milestone,
    Project,
    Requirement,
    Risk,
)
from bot.reports.facts import DigestItems
from bot.services.digests import DigestFacts, MilestoneLine, TrendWeek
from tests.hostile.strategies import HOSTILE, hostile_text

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
MONDAY = date(2026, 11, 16)
counts = st.integers(min_value=0, max_value=200)


def build(n: dict[str, int], title: str, language: str, anonymous: bool) -> DigestFacts:
    p = Project(id=7, team_id="T1", name=title[:80] or "P", client_channel_id="C1", pm_user_id="U1",
                language=language, timezone="Asia/Shanghai", created_by="U1", anonymous_feedback=anonymous)
    f = DigestFacts(project=p, week="2026-W47", since=NOW - timedelta(days=4), today=NOW.date(), week_monday=MONDAY,
                    note=title or None)

    def req(i: int, status: str = "proposed") -> Requirement:
        return Requirement(id=i + 1, project_id=7, title=f"{title}{i}", raised_by="U2", status=status,
                           created_at=NOW, updated_at=NOW, sent_for_confirmation_at=NOW, decided_at=NOW)

    def cr(i: int, status: str) -> ChangeRequest:
        return ChangeRequest(id=i + 1, project_id=7, title=f"{title}{i}", requested_by="U2", status=status,
                             schedule_impact_days=i - 100, effort_hours=Decimal(i), cost_amount=Decimal(10 ** 9 + i),
                             cost_currency=title[:3] or "EUR", share_cost_with_client=bool(i % 2), created_at=NOW,
                             updated_at=NOW, decided_at=NOW, assessed_at=NOW)

    def milestone(i: int, done: bool) -> MilestoneLine:
        return MilestoneLine(id=i + 1, name=f"{title}{i}", due_date=MONDAY + timedelta(days=i), progress=i % 101,
                             status="done" if done else ("late", "at_risk", "on_track")[i % 3],
                             done_at=NOW if done else None, start=MONDAY - timedelta(days=30))

    f.requirements_raised = [req(i) for i in range(n["raised"])]
    f.requirements_confirmed = [req(i, "confirmed") for i in range(n["confirmed"])]
    f.awaiting_requirements = [req(i) for i in range(n["awaiting_req"])]
    f.changes_raised = [cr(i, "submitted") for i in range(n["cr_raised"])]
    f.changes_decided = [cr(i, ("approved", "rejected", "implemented")[i % 3]) for i in range(n["cr_decided"])]
    f.awaiting_changes = [cr(i, "assessed") for i in range(n["awaiting_cr"])]
    f.milestones = [milestone(i, False) for i in range(n["milestones"])] + \
        [milestone(i, True) for i in range(n["done"])]
    f.due_next_week = [milestone(i, False) for i in range(n["next_week"])]
    f.feedback = [FeedbackResponse(id=i + 1, project_id=7, user_id=None if anonymous else f"UFEEDBACK{i}",
                                   responder_key=str(i), kind=("score", "praise", "complaint", "suggestion")[i % 4],
                                   score=(i % 5) + 1, comment=title, created_at=NOW, updated_at=NOW)
                  for i in range(n["feedback"])]
    f.risks = [Risk(id=i + 1, project_id=7, title=f"{title}{i}", probability=5, impact=5, mitigation=title,
                    visibility=("client", "internal")[i % 2], owner_user_id="U1", created_by="U1",
                    created_at=NOW, updated_at=NOW) for i in range(n["risks"])]
    # what other features add: client items (issue 15) and milestone acceptances
    items = [ClientItem(id=i + 1, project_id=7, title=f"{title}{i}", owner_user_id="UCLIENT", due_date=MONDAY,
                        milestone_id=i + 1, created_by="U1") for i in range(n["client_items"])]
    f.client_items = DigestItems(open=items, overdue={i.id for i in items[::2] if i.id}, blocking={},
                                 milestone_names={i + 1: f"{title}{i}" for i in range(n["client_items"])})

    def acceptance(i: int, status: str) -> tuple[Acceptance, Milestone]:
        return (Acceptance(id=i + 1, project_id=7, milestone_id=i + 1, status=status, requested_by="U1",
                           requested_at=NOW, decided_at=NOW if status == "accepted" else None),
                Milestone(id=i + 1, project_id=7, name=f"{title}{i}", due_date=MONDAY))

    f.accepted = [acceptance(i, "accepted") for i in range(n["accepted"])]
    f.awaiting_acceptance = [acceptance(i, "requested") for i in range(n["awaiting_acceptance"])]
    f.satisfaction_trend = [TrendWeek(monday=MONDAY - timedelta(weeks=k), average=(k % 5) + 1.0, count=k)
                            for k in range(7, -1, -1)]
    return f


def mrkdwn_texts(node: Any) -> list[str]:
    """Every mrkdwn text of a message (where Slack would parse mentions and links)."""
    if isinstance(node, list):
        return [t for item in node for t in mrkdwn_texts(item)]
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return own + [t for value in node.values() for t in mrkdwn_texts(value)]
    return []


def assert_within_limits(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert 0 < len(blocks) <= BLOCKS_PER_MESSAGE
    assert len(message["text"]) <= MESSAGE_TEXT
    for block in blocks:
        Block.parse(block).validate_json()  # slack_sdk checks each block's lengths and counts
        assert len(block.get("block_id", "")) <= 255
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
            assert all(len(e["text"]) <= 2000 for e in block["elements"])
        if block["type"] == "actions":
            assert 0 < len(block["elements"]) <= 25
            assert all(len(e["text"]["text"]) <= 75 and len(e.get("value", "")) <= 2000 for e in block["elements"])
        if block["type"] == "image":
            assert 0 < len(block["alt_text"]) <= 2000 and len(block["title"]["text"]) <= 2000
            assert block["slack_file"]["id"]
    assert len(blocks) == len({b["block_id"] for b in blocks if "block_id" in b}) + \
        len([b for b in blocks if "block_id" not in b])  # block ids unique within the message


@HOSTILE
@given(n=st.fixed_dictionaries({k: counts for k in (
           "raised", "confirmed", "awaiting_req", "cr_raised", "cr_decided", "awaiting_cr", "milestones", "done",
           "next_week", "feedback", "risks", "client_items", "accepted", "awaiting_acceptance")}),
       title=hostile_text, language=st.sampled_from(["en", "zh-CN"]), anonymous=st.booleans())
def test_digests_with_any_number_of_items_stay_within_block_kit_limits(n, title, language, anonymous):
    facts = build(n, title, language, anonymous)
    for internal in (False, True):
        for chart in (False, True):
            message = digest_message(facts, internal=internal, chart=chart)
            sent = with_chart_file(message, "F0123456789") if chart else message
            assert_within_limits(sent)
            assert any(b["type"] == "image" for b in sent["blocks"]) == chart
            if not internal:
                shown = "\n".join(mrkdwn_texts(sent["blocks"]))
                assert "<!channel>" not in shown and "<!here>" not in shown  # user text is escaped
                if n["feedback"]:  # who gave feedback is never shown (anonymous or not)
                    assert "UFEEDBACK" not in str(sent)
    assert_within_limits(preview_message(facts, due=NOW.date(), requires_approval=True))
    spec = chart_spec(facts)
    assert len(spec.alt_text) <= 2000 and len(spec.milestones) == n["milestones"] + n["done"]


def test_the_biggest_digest_still_names_its_lists_and_keeps_the_intake_buttons():
    n = dict.fromkeys(("raised", "confirmed", "awaiting_req", "cr_raised", "cr_decided", "awaiting_cr", "milestones",
                       "done", "next_week", "feedback", "risks", "client_items", "accepted",
                       "awaiting_acceptance"), 200)
    message = digest_message(build(n, "x" * 3000, "en", False), internal=False, chart=True)
    assert_within_limits(with_chart_file(message, "F0123456789"))
    assert message["blocks"][-1]["block_id"].startswith("digest-intake:")
    shown = str(message)
    assert "…and 195 more: `/req list`" in shown and "…and 195 more: `/change list`" in shown
    # every section keeps its heading and some of its items: the longest ones gave up items first
    for key in ("digest.awaiting_title", "client_items.digest_title", "acceptance.digest_accepted_title",
                "acceptance.digest_awaiting_title", "digest.risks_title", "digest.next_week_title"):
        assert t(key, "en").split("{")[0].strip("*: ") in shown, key
    assert sum(b["type"] == "actions" for b in message["blocks"]) >= 4
