"""A use case that writes to someone in their language asks Slack for it outside its
transaction (bot/flows/unit.py `asking_slack_first`): its unit is rolled back, Slack is asked,
and it runs again. Against the fake Web API, with a real database."""

from __future__ import annotations

from sqlmodel import select

from bot.flows.person_language import knowing_languages, language_of
from bot.flows.unit import submission, unit_of_work
from bot.models import ActivityLog, Submission


def _use_case(runs: list[str]):
    @knowing_languages
    def write(deps, user_id: str) -> str:
        with unit_of_work(deps) as u:  # stores something, so a rolled-back run would show
            lang = language_of(deps, user_id, "en")
            u.session.add(ActivityLog(team_id=u.team_id, actor_user_id=user_id, action=lang, entity_type="test",
                                      created_at=u.now))
            runs.append(lang)
        return lang

    return write


def test_someone_not_known_yet_is_asked_about_between_two_runs_of_the_unit(deps, fake_slack, session):
    fake_slack.add_user("U0ZH", locale="zh-CN")
    runs: list[str] = []
    assert _use_case(runs)(deps, "U0ZH") == "zh-CN"
    assert runs == ["en", "zh-CN"]  # the first run wrote a placeholder, and was rolled back
    assert [a.action for a in session.exec(select(ActivityLog))] == ["zh-CN"]
    assert [c.params["user"] for c in fake_slack.calls_to("users.info")] == ["U0ZH"]
    # known now: one run, no call (the suite's own check fails on any call inside a transaction)
    runs.clear()
    assert _use_case(runs)(deps, "U0ZH") == "zh-CN" and runs == ["zh-CN"]
    assert len(fake_slack.calls_to("users.info")) == 1


def test_when_slack_cannot_tell_the_fallback_is_used_without_asking_inside(deps, fake_slack, session):
    fake_slack.add_user("U0ZH", locale="zh-CN")
    fake_slack.fail("users.info", error="internal_error", times=5)
    runs: list[str] = []
    assert _use_case(runs)(deps, "U0ZH") == "en"
    assert runs == ["en", "en"]  # asked once between the runs; the second run did with the fallback
    assert len(fake_slack.calls_to("users.info")) == 1
    assert [a.action for a in session.exec(select(ActivityLog))] == ["en"]


def test_a_form_is_remembered_by_the_run_that_saves_it(deps, fake_slack, session):
    """A modal submission is marked saved in the unit that saves it, so that Slack's resubmission
    of a slow form saves nothing twice; the rolled-back run must not use the mark up."""
    fake_slack.add_user("U0ZH", locale="zh-CN")
    runs: list[str] = []
    token = submission.set(("V0FORM", "feedback_modal"))
    try:
        _use_case(runs)(deps, "U0ZH")
    finally:
        submission.reset(token)
    assert runs == ["en", "zh-CN"]
    assert [(s.view_id, s.callback_id) for s in session.exec(select(Submission))] == [("V0FORM", "feedback_modal")]
