"""The pure rules of capture from the conversation (bot/services/capture.py)."""

from __future__ import annotations

import pytest

from bot.blocks import text as slack_text
from bot.services import capture


def test_decode_makes_slack_markup_readable():
    text = "Hi <@U0PM>, see <#C1|general> and <https://x.example/a|the spec> &amp; <@U9>  \n\n"
    assert slack_text.readable(text, {"U0PM": "pat.pm"}) == "Hi @pat.pm, see #general and the spec & @U9"
    assert slack_text.mentioned_users("<@U1> <@U2> <@U1> <@U3|named>") == ["U1", "U2"]


@pytest.mark.parametrize(("text", "title"), [
    ("Could the invoice page show the VAT number? Thanks!", "Could the invoice page show the VAT number?"),
    ("Add dark mode. It is late.", "Add dark mode"),
    ("First line without a stop\nsecond line.", "First line without a stop"),
    ("\n\n  Leading blank lines. Then more", "Leading blank lines"),
    ("发票页面能否显示税号？谢谢。", "发票页面能否显示税号？"),
    ("请加上导出功能。另外……", "请加上导出功能"),
    ("v1.2 needs SSO", "v1.2 needs SSO"),
])
def test_title_is_the_first_sentence_or_line(text, title):
    assert capture.title_of(text, 200) == title


def test_long_text_is_cut_at_a_word_within_the_limits():
    text = "word " * 8000
    title = capture.title_of(text, 200)
    assert len(title) <= 200 and title.endswith("word…")
    filled = capture.prefill("requirement", text.strip())
    assert len(filled.title) <= 200 and len(filled.description) <= 3000
    feedback = capture.prefill("feedback", "Great work on the dashboard!")
    assert feedback == capture.Prefill(title="", description="Great work on the dashboard!")
    unbroken = "x" * 500
    assert capture.title_of(unbroken, 200) == "x" * 199 + "…"


@pytest.mark.parametrize(("typed", "kept"), [
    ("memo", "memo"), (":pushpin:", "pushpin"), (" Memo ", "memo"), ("thumbsup::skin-tone-2", "thumbsup"),
    ("off", ""), ("", ""), ("none", ""), ("not an emoji!", None), ("<!channel>", None), ("x" * 65, None),
])
def test_the_capture_emoji_as_typed(typed, kept):
    assert capture.normalise_emoji(typed) == kept


def test_source_metadata_round_trip_and_tampering():
    source = capture.Source(channel_id="C0CLIENT", ts="1763460000.000100", user_id="U0CLIENT",
                            thread_ts="1763450000.000100", permalink="https://acme.slack.com/archives/C0CLIENT/p1",
                            author_team="T0EXT")
    assert capture.parse_meta(source.as_meta()) == source
    assert capture.parse_meta({"c": "C0CLIENT", "ts": "1.2", "p": "javascript:alert(1)", "u": "<!here>"}) == \
        capture.Source(channel_id="C0CLIENT", ts="1.2")
    for bad in (None, [], "x", {"c": "C0CLIENT"}, {"c": "c0 client", "ts": "1.2"}, {"c": "C1", "ts": "1e5"}):
        assert capture.parse_meta(bad) is None


def test_a_permalink_is_a_safe_link_target():
    from bot.blocks.capture import link_target, source_line
    from bot.models import Requirement

    reply = "https://acme.slack.com/archives/C0CLIENT/p1763460000000200?thread_ts=1763460000.000100&cid=C0CLIENT"
    assert capture.is_permalink(reply) and not capture.is_permalink("https://x/<!channel>|y")
    assert link_target(reply).endswith("?thread_ts=1763460000.000100&amp;cid=C0CLIENT")
    req = Requirement(project_id=1, title="t", raised_by="U1", source_channel_id="C0CLIENT",
                      source_ts="1763460000.000200", source_permalink=reply, source_user_id="U0CLIENT")
    assert source_line(req, "en") == f"from <{link_target(reply)}|a message> by <@U0CLIENT>"
    req.source_permalink = None
    assert source_line(req, "zh-CN") == "来自 <@U0CLIENT> 的一条消息（已删除）"


@pytest.mark.parametrize("model", ["requirement", "change", "risk", "feedback"])
def test_one_record_of_each_kind_per_message(engine, clock, make_project, model):
    """The database holds "once per message and kind", whoever races (two processes, a reaction
    while a form is open)."""
    from sqlalchemy.exc import IntegrityError

    from bot.db import session_scope
    from bot.models import ChangeRequest, FeedbackResponse, Requirement, Risk

    project = make_project()
    make = {"requirement": lambda: Requirement(project_id=project.id, title="t", raised_by="U1"),
            "change": lambda: ChangeRequest(project_id=project.id, title="t", requested_by="U1"),
            "risk": lambda: Risk(project_id=project.id, title="t"),
            "feedback": lambda: FeedbackResponse(project_id=project.id, responder_key="U1", comment="c")}[model]
    source = capture.Source(channel_id="C0CLIENT", ts="1763460000.000100", user_id="U0CLIENT")
    with session_scope(engine) as s:
        first = make()
        capture.keep(first, source)
        s.add(first)
        other_message = make()
        capture.keep(other_message, capture.Source(channel_id="C0CLIENT", ts="1763460000.000200"))
        s.add(other_message)
        s.add(make())  # records not captured from a message: any number
        s.add(make())
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        twin = make()
        capture.keep(twin, source)
        s.add(twin)
    with session_scope(engine) as s:
        assert capture.captured(s, model, "C0CLIENT", source.ts).id == first.id
