"""Property: the monthly report (both versions) and the close-out report stay within Block Kit's
limits with 0 to 200 items of every kind and any text (hostile, long, Chinese, mentions)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot.blocks import text as kit
from bot.blocks.reports import closeout_message, monthly_message
from bot.reports.report_facts import (
    ChangeLine,
    CloseoutFacts,
    Impact,
    ItemLine,
    MilestoneLine,
    MonthlyFacts,
    PromptLine,
)

HOSTILE = "<!channel> & <@U1> *bold* "
TEXT = st.one_of(st.text(max_size=300), st.just(HOSTILE * 30), st.just("需求" * 400), st.just(""))
COUNT = st.integers(0, 200)  # items of one kind
DAY = date(2026, 11, 1)


def _prompts(n: int, text: str) -> list[PromptLine]:
    return [PromptLine(day=DAY + timedelta(days=i % 30), question=text + str(i), answers=i % 7,
                       average=None if i % 5 == 0 else 1 + (i % 40) / 10) for i in range(n)]


def _changes(n: int, text: str) -> list[ChangeLine]:
    return [ChangeLine(id=i + 1, title=text + str(i), decided=DAY, days=None if i % 4 == 0 else i - 100,
                       hours=None if i % 3 == 0 else Decimal(i * 1000) / 7, cost=Decimal(10**11 + i) if i % 2 else None,
                       currency=["EUR", "CNY", text[:3]][i % 3]) for i in range(n)]


def _milestones(n: int, text: str) -> list[MilestoneLine]:
    return [MilestoneLine(name=text + str(i), planned=DAY, due=DAY + timedelta(days=i),
                          actual=DAY + timedelta(days=2 * i - 50) if i % 2 else None,
                          as_of=DAY + timedelta(days=15) if i % 3 else None) for i in range(n)]


def _items(n: int, text: str) -> list[ItemLine]:
    return [ItemLine(ref=f"REQ-{10**8 + i}", title=text + str(i), extra=text[:20]) for i in range(n)]


def _mrkdwn_texts(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return own + [t for v in node.values() for t in _mrkdwn_texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in _mrkdwn_texts(v)]
    return []


def assert_within_limits(message: dict) -> None:
    blocks = message["blocks"]
    assert len(blocks) <= kit.BLOCKS_PER_MESSAGE
    assert 0 < len(message["text"]) <= kit.MESSAGE_TEXT
    for block in blocks:
        Block.parse(block).to_dict()  # slack_sdk raises on any length it knows
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= kit.SECTION_TEXT
        if block["type"] == "header":
            assert 0 < len(block["text"]["text"]) <= kit.HEADER_TEXT
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
            assert all(0 < len(e["text"]) <= kit.CONTEXT_TEXT for e in block["elements"])
    # user text is escaped wherever mrkdwn shows it (the fallback `text` included)
    assert all("<!channel>" not in s for s in [*_mrkdwn_texts(blocks), message["text"]])


SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(name=TEXT, text=TEXT, lang=st.sampled_from(["en", "zh-CN"]), n_prompts=COUNT, n_changes=COUNT,
       n_slips=COUNT, n_raised=COUNT, n_confirmed=COUNT, average=st.one_of(st.none(), st.floats(1, 5)))
def test_monthly_report_within_limits(name, text, lang, n_prompts, n_changes, n_slips, n_raised, n_confirmed,
                                      average):
    changes = _changes(n_changes, text)
    facts = MonthlyFacts(project_id=1, project_name=name, language=lang, month="2026-11", first=DAY,
                         last=date(2026, 11, 30), prompts=_prompts(n_prompts, text), average=average,
                         previous_average=average, changes=changes, impact=Impact.of(changes),
                         slips=_milestones(n_slips, text), raised=_items(n_raised, text),
                         confirmed=_items(n_confirmed, text), previous_raised=n_raised, previous_confirmed=n_confirmed)
    client = monthly_message(facts, internal=False)
    internal = monthly_message(facts, internal=True)
    assert_within_limits(client)
    assert_within_limits(internal)
    assert "100,000,000,00" not in str(client)  # cost never reaches the client's version
    if n_changes > 1:
        assert "100,000,000,00" in str(internal)


@SETTINGS
@given(name=TEXT, text=TEXT, lang=st.sampled_from(["en", "zh-CN"]), n_prompts=COUNT, n_changes=COUNT,
       n_milestones=COUNT, n_delivered=COUNT, n_deferred=COUNT, n_dropped=COUNT, n_open=COUNT,
       n_follow_ups=COUNT, n_client_items=COUNT, well=TEXT, better=TEXT)
def test_closeout_report_within_limits(name, text, lang, n_prompts, n_changes, n_milestones, n_delivered,
                                       n_deferred, n_dropped, n_open, n_follow_ups, n_client_items, well, better):
    changes = _changes(n_changes, text)
    facts = CloseoutFacts(project_id=1, project_name=name, client_name=name, language=lang, started=date(2026, 1, 5),
                          closed=date(2026, 11, 30), closed_by="U0PM", delivered=_items(n_delivered, text),
                          deferred=_items(n_deferred, text), dropped=_items(n_dropped, text),
                          not_delivered=_items(n_open, text), changes=changes, impact=Impact.of(changes),
                          milestones=_milestones(n_milestones, text), prompts=_prompts(n_prompts, text), average=3.5,
                          follow_ups=_items(n_follow_ups, text), client_items=_items(n_client_items, text),
                          went_well=well, to_improve=better)
    assert_within_limits(closeout_message(facts))
