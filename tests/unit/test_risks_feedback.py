"""Scoring and trend rules of risks and feedback, and the services behind them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.blocks.feedback import SPARKS, prompt_message, spark, sparkline, stars
from bot.blocks.risks import badge
from bot.db import session_scope
from bot.models import FeedbackPrompt, FeedbackResponse, FollowUp, Milestone, Project, Risk
from bot.services import feedback, risks
from bot.services.errors import InvalidTransition, ValidationFailed

SECRET = b"unit-test-secret"

# --- Risk scoring ---------------------------------------------------------------------------


@pytest.mark.parametrize(("probability", "impact", "shown"), [
    (4, 5, "🔴 20"), (5, 5, "🔴 25"), (3, 5, "🔴 15"), (3, 4, "🟠 12"), (2, 5, "🟠 10"),
    (1, 5, "🟠 5"), (2, 2, "🟢 4"), (1, 1, "🟢 1"),
])
def test_score_is_probability_times_impact_with_a_badge_per_level(probability, impact, shown):
    assert badge(risks.score_of(probability, impact)) == shown


def test_levels_at_their_boundaries():
    assert [risks.level(s) for s in (1, 4, 5, 14, 15, 25)] == ["low", "low", "medium", "medium", "high", "high"]
    assert Risk(project_id=1, title="x", probability=3, impact=5).score == 15


def test_a_risk_puts_its_milestone_at_risk_when_occurred_or_open_and_high():
    def risk(status: str, p: int, i: int, milestone: int | None = 1) -> Risk:
        return Risk(project_id=1, title="x", probability=p, impact=i, status=status, milestone_id=milestone)

    assert risks.puts_milestone_at_risk(risk("occurred", 1, 1))
    assert risks.puts_milestone_at_risk(risk("open", 3, 5))
    assert not risks.puts_milestone_at_risk(risk("open", 2, 5))
    assert not risks.puts_milestone_at_risk(risk("mitigated", 5, 5))
    assert not risks.puts_milestone_at_risk(risk("occurred", 5, 5, milestone=None))


def test_status_transitions():
    assert risks.TRANSITIONS["open"] == {"mitigated", "occurred", "closed"}
    assert all("open" in risks.TRANSITIONS[s] for s in ("mitigated", "occurred", "closed"))
    assert "occurred" not in risks.TRANSITIONS["closed"]


def test_project_today_follows_the_time_zone():
    at = datetime(2026, 11, 18, 22, 0, tzinfo=UTC)
    assert risks.project_today(Project(timezone="Asia/Shanghai"), at) == date(2026, 11, 19)
    assert risks.project_today(Project(timezone="America/New_York"), at) == date(2026, 11, 18)


# --- Risk services --------------------------------------------------------------------------


def _input(**fields) -> risks.RiskInput:
    base = {"title": "Vendor late", "owner_user_id": "U0PM", "probability": 3, "impact": 3}
    base.update(fields)
    return risks.RiskInput(**base)


def test_validation_names_each_bad_field(make_project, engine, clock):
    project = make_project()
    with session_scope(engine) as s:
        with pytest.raises(ValidationFailed) as err:
            risks.create(s, clock, project=project, actor="U0PM", data=_input(
                title=" ", owner_user_id=None, probability=0, impact=6, next_review="2026-11-17",
                visibility="public", milestone_id=12345, mitigation="m" * 3001))
        assert set(err.value.errors) == {"title", "owner", "probability", "impact", "review", "visibility",
                                         "milestone", "mitigation"}
        assert err.value.errors["review"] == ("risk.error_review_past", {"today": "2026-11-18"})
        assert s.exec(select(Risk)).all() == []


def test_an_overdue_review_date_left_untouched_survives_an_edit(make_project, engine, clock):
    project = make_project()
    with session_scope(engine) as s:
        risk = risks.create(s, clock, project=project, actor="U0PM", data=_input(next_review="2026-11-20"))
        clock.advance(days=5)
        risks.update_risk(s, clock, project=project, risk=risk, actor="U0PM",
                          data=_input(title="Vendor very late", next_review="2026-11-20"))
        assert risk.title == "Vendor very late"
        with pytest.raises(ValidationFailed):
            risks.update_risk(s, clock, project=project, risk=risk, actor="U0PM", data=_input(next_review="2026-11-21"))


def test_quick_capture_keeps_long_text_whole(make_project, engine, clock):
    project = make_project()
    text = "word " * 100
    with session_scope(engine) as s:
        risk = risks.quick_capture(s, clock, project=project, actor="U0DEV", text=text)
        assert len(risk.title) == risks.TITLE_MAX and risk.title.endswith("…")
        assert risk.description == text.strip()
        assert (risk.probability, risk.impact, risk.owner_user_id) == (3, 3, "U0DEV")


def test_status_change_is_conditional(make_project, engine, clock):
    project = make_project()
    with session_scope(engine) as s:
        milestone = Milestone(project_id=project.id, name="Launch", due_date=date(2026, 12, 1))
        s.add(milestone)
        s.flush()
        risk = risks.create(s, clock, project=project, actor="U0PM", data=_input(milestone_id=milestone.id))
        risks.change_status(s, clock, project=project, risk=risk, actor="U0PM", to="occurred", expected="open")
        assert risk.status == "occurred" and risks.puts_milestone_at_risk(risk)
        with pytest.raises(InvalidTransition) as err:  # someone saw "open" and clicks "mitigated": too late
            risks.change_status(s, clock, project=project, risk=risk, actor="U0DEV", to="mitigated", expected="open")
        assert err.value.key == "risk.error_changed" and risk.status == "occurred"
        with pytest.raises(InvalidTransition):  # not a transition at all
            risks.change_status(s, clock, project=project, risk=risk, actor="U0DEV", to="mitigated")


def test_register_order_is_score_then_newest(make_project, engine, clock):
    project = make_project()
    with session_scope(engine) as s:
        for title, p, i in (("a", 2, 2), ("b", 4, 4), ("c", 2, 2), ("d", 5, 1)):
            risks.create(s, clock, project=project, actor="U0PM", data=_input(title=title, probability=p, impact=i))
            clock.advance(minutes=1)
        page, total = risks.register_page(s, project.id, per_page=3)
        assert total == 4 and [r.title for r in page] == ["b", "d", "c"]
        page2, _ = risks.register_page(s, project.id, page=2, per_page=3)
        assert [r.title for r in page2] == ["a"]


# --- Feedback scoring and trend -------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "2", "3", "4", "5", 1, 5])
def test_valid_scores(value):
    assert feedback.parse_score(value) == int(value)


@pytest.mark.parametrize("value", ["0", "6", "abc", "", " 3", "3 ", "10", "-1", "３", "²", "3.0",
                                   0, 6, True, None, 2.0])
def test_tampered_scores_are_none(value):
    assert feedback.parse_score(value) is None


def test_bad_news_is_a_low_score_or_a_complaint():
    assert feedback.is_bad_news("score", 1) and feedback.is_bad_news("score", 2)
    assert not feedback.is_bad_news("score", 3) and not feedback.is_bad_news("score", None)
    assert feedback.is_bad_news("complaint", None) and feedback.is_bad_news("complaint", 5)
    assert not feedback.is_bad_news("praise", None) and not feedback.is_bad_news("suggestion", 3)


def test_average_ignores_missing_scores():
    assert feedback.average([2, 3, None]) == 2.5
    assert feedback.average([None]) is None and feedback.average([]) is None
    assert feedback.average([4, 4, 5]) == 4.33


def test_sparkline_uses_a_fixed_one_to_five_scale():
    assert sparkline([1, 5]) == "▁█"
    assert sparkline([1.0, 2.0, 3.0, 4.0, 5.0]) == "▁▃▅▆█"
    assert sparkline([4.5, None, 2.5]) == "▇·▄"
    assert sparkline([]) == ""
    assert spark(0.2) == "▁" and spark(9) == "█"  # clamped
    # monotonic: a better average never draws a lower bar
    bars = [spark(1 + n / 20) for n in range(81)]
    assert [SPARKS.index(b) for b in bars] == sorted(SPARKS.index(b) for b in bars)


def test_stars():
    assert stars(2) == "★★☆☆☆" and stars(5) == "★★★★★" and stars(None) == "–"


def test_anonymous_responder_key_is_stable_keyed_and_per_prompt():
    one = FeedbackPrompt(id=1, project_id=1, question="q", anonymous=True)
    two = FeedbackPrompt(id=2, project_id=1, question="q", anonymous=True)
    key = feedback.responder_key(one, "U0CLIENT", SECRET)
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert key == feedback.responder_key(one, "U0CLIENT", SECRET)
    assert key != feedback.responder_key(two, "U0CLIENT", SECRET)
    assert key != feedback.responder_key(one, "U0OTHER", SECRET)
    assert key != feedback.responder_key(one, "U0CLIENT", b"another secret")
    named = FeedbackPrompt(id=3, project_id=1, question="q", anonymous=False)
    assert feedback.responder_key(named, "U0CLIENT", SECRET) == "U0CLIENT"


def test_cooldown(make_project, clock):
    project = make_project()
    assert not feedback.in_cooldown(project, None, clock.now())
    last = FeedbackPrompt(project_id=project.id, question="q", created_at=clock.now())
    assert feedback.in_cooldown(project, last, clock.now() + timedelta(days=13, hours=23))
    assert not feedback.in_cooldown(project, last, clock.now() + timedelta(days=14))
    assert feedback.cooldown_until(project, last) == clock.now() + timedelta(days=14)


# --- Feedback services ----------------------------------------------------------------------


def _prompt(s, clock, project_id: int) -> tuple[FeedbackPrompt, Project]:
    project = s.get(Project, project_id)
    return feedback.create_prompt(s, clock, project=project, actor="U0PM", question="How are we doing?"), project


def test_answers_replace_and_bad_news_opens_one_follow_up(make_project, engine, clock):
    project = make_project()
    with session_scope(engine) as s:
        prompt, project = _prompt(s, clock, project.id)
        first = feedback.record_score(s, clock, prompt=prompt, project=project, user_id="U0C", score=2, secret=SECRET)
        assert first.created and first.follow_up is not None
        again = feedback.record_score(s, clock, prompt=prompt, project=project, user_id="U0C", score=1, secret=SECRET)
        assert not again.created and again.previous_score == 2 and again.follow_up is None
        commented = feedback.answer(s, clock, prompt=prompt, project=project, user_id="U0C", secret=SECRET,
                                    comment="Too slow")
        assert (commented.response.score, commented.response.comment) == (1, "Too slow")
        assert len(s.exec(select(FeedbackResponse)).all()) == 1
        assert len(s.exec(select(FollowUp)).all()) == 1
        with pytest.raises(ValidationFailed):
            feedback.record_score(s, clock, prompt=prompt, project=project, user_id="U0C", score=6, secret=SECRET)
        with pytest.raises(ValidationFailed):
            feedback.answer(s, clock, prompt=prompt, project=project, user_id="U0C", secret=SECRET,
                            comment="x" * 3001)


def test_anonymous_answers_store_no_user(make_project, engine, clock):
    project = make_project(anonymous_feedback=True)
    with session_scope(engine) as s:
        prompt, project = _prompt(s, clock, project.id)
        feedback.record_score(s, clock, prompt=prompt, project=project, user_id="U0C", score=4, secret=SECRET)
        feedback.record_score(s, clock, prompt=prompt, project=project, user_id="U0C", score=5, secret=SECRET)
        [row] = s.exec(select(FeedbackResponse)).all()
        assert row.user_id is None and row.score == 5 and "U0C" not in row.responder_key
        adhoc = feedback.give_feedback(s, clock, project=project, user_id="U0C", kind="complaint", score=None,
                                       text="Hard to reach you")
        assert adhoc.response.user_id is None and "U0C" not in adhoc.response.responder_key
        assert adhoc.follow_up is not None


def test_closed_project_takes_no_answers(make_project, engine, clock):
    project = make_project()
    with session_scope(engine) as s:
        prompt, project = _prompt(s, clock, project.id)
        project.status = "closed"
        with pytest.raises(InvalidTransition):
            feedback.record_score(s, clock, prompt=prompt, project=project, user_id="U0C", score=4, secret=SECRET)


def test_resolving_twice_is_refused(make_project, engine, clock):
    project = make_project()
    with session_scope(engine) as s:
        project = s.get(Project, project.id)
        rec = feedback.give_feedback(s, clock, project=project, user_id="U0C", kind="complaint", score=2, text="No")
        with pytest.raises(ValidationFailed):
            feedback.resolve_follow_up(s, clock, follow_up=rec.follow_up, project=project, actor="U0PM", note=" ")
        feedback.resolve_follow_up(s, clock, follow_up=rec.follow_up, project=project, actor="U0PM", note="Called")
        with pytest.raises(InvalidTransition):
            feedback.resolve_follow_up(s, clock, follow_up=rec.follow_up, project=project, actor="U0DEV", note="Me")
        assert rec.follow_up.resolved_by == "U0PM"
        assert feedback.open_follow_ups(s, project.id) == []


def test_prompt_stats_and_trend_oldest_first(make_project, engine, clock):
    project = make_project()
    with session_scope(engine) as s:
        for scores in ((1, 2), (3, 3), ()):
            prompt, project = _prompt(s, clock, project.id)
            for n, score in enumerate(scores):
                feedback.record_score(s, clock, prompt=prompt, project=project, user_id=f"U{n}", score=score,
                                      secret=SECRET)
            clock.advance(days=15)
        stats = feedback.prompt_stats(s, project.id)
        assert [(st.answers, st.average) for st in stats] == [(2, 1.5), (2, 3.0), (0, None)]
        assert sparkline([st.average for st in stats]) == "▂▅·"


def test_prompt_message_has_five_scores_and_escapes_the_question(make_project):
    project = make_project()
    prompt = FeedbackPrompt(id=7, project_id=project.id, question="Ok <!channel>?", anonymous=False)
    msg = prompt_message(prompt, project)
    buttons = msg["blocks"][1]["elements"]
    assert [b["value"] for b in buttons[:5]] == ["7:1", "7:2", "7:3", "7:4", "7:5"]
    assert len({b["action_id"] for b in buttons}) == 6  # unique within the block, as Slack requires
    assert "<!channel>" not in str(msg) and "&lt;!channel&gt;" in msg["blocks"][0]["text"]["text"]


def test_demo_shows_the_register_and_the_feedback(tmp_path, monkeypatch, capsys):
    import json as _json

    from bot.config import load_settings
    from bot.demo import run_demo

    monkeypatch.chdir(tmp_path)
    assert run_demo(load_settings({}), out_dir="out") == 0
    out = capsys.readouterr().out
    assert "Risk register (/risk list)" in out and "🔴 20" in out and "Feedback results (/feedback list)" in out
    assert "Open follow-ups: 1" in out
    prompt = _json.loads((tmp_path / "out" / "feedback_prompt.json").read_text())
    assert len(prompt["blocks"][1]["elements"]) == 6
