"""Risks and client feedback in `pmbot demo`: a small register, three prompts with answers, a complaint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot import demo
from bot.blocks.feedback import PER_PAGE, follow_up_dm, prompt_message, results
from bot.blocks.risks import register_list
from bot.clock import Clock, FrozenClock, SystemClock
from bot.i18n import t
from bot.models import FeedbackResponse, FollowUp, Project
from bot.services import feedback, risks

DEMO_SECRET = b"pmbot-demo"
_clock: list[Clock] = [SystemClock()]


def _ago(clock: Clock, days: int) -> FrozenClock:
    return FrozenClock(clock.now() - timedelta(days=days))


def seed(session: Session, clock: Clock, project: Project) -> None:
    _clock[0] = clock
    today = risks.project_today(project, clock.now())
    milestones = risks.milestones_for(session, project.id or 0)
    launch = milestones[-1].id if milestones else None
    samples: list[dict[str, Any]] = [
        {"title": "Payment provider retires its v2 API before our launch", "probability": 4, "impact": 5,
         "owner_user_id": "U0PM", "mitigation": "Build against v3 in a feature branch; ask the provider for the date.",
         "next_review": (today + timedelta(days=2)).isoformat(), "visibility": "client", "milestone_id": launch},
        {"title": "Lead backend developer on leave for two weeks in December", "probability": 3, "impact": 4,
         "owner_user_id": "U0DEV", "mitigation": "Pair on the order service now; document the deployment.",
         "next_review": (today + timedelta(days=7)).isoformat()},
        {"title": "Product photos arrive late from the client", "probability": 2, "impact": 2,
         "owner_user_id": "U0PM", "visibility": "client", "next_review": (today + timedelta(days=14)).isoformat()},
    ]
    for data in samples:
        risks.create(session, _ago(clock, 20), project=project, actor="U0PM", data=risks.RiskInput(**data))
    hosting = risks.create(session, _ago(clock, 20), project=project, actor="U0DEV", data=risks.RiskInput(
        title="Hosting costs above the estimate", probability=2, impact=3, owner_user_id="U0DEV",
        mitigation="Reserved instances bought."))
    risks.change_status(session, _ago(clock, 6), project=project, risk=hosting, actor="U0DEV", to="mitigated")

    answers = {29: [("U0CLIENT", 4), ("U0CLIENT2", 3)], 15: [("U0CLIENT", 4), ("U0CLIENT2", 5)],
               1: [("U0CLIENT", 2), ("U0CLIENT2", 4)]}
    for days, scores in answers.items():
        at = _ago(clock, days)
        prompt = feedback.create_prompt(session, at, project=project, actor="U0PM", question=feedback_question(project))
        for user_id, score in scores:
            feedback.record_score(session, at, prompt=prompt, project=project, user_id=user_id, score=score,
                                  secret=DEMO_SECRET)
    last = feedback.last_prompt(session, project.id or 0)
    if last is not None:
        feedback.answer(session, _ago(clock, 1), prompt=last, project=project, user_id="U0CLIENT", secret=DEMO_SECRET,
                        comment="The staging site was down twice this week and we could not show it to our board.")
    feedback.give_feedback(session, _ago(clock, 3), project=project, user_id="U0CLIENT2", kind="praise", score=5,
                           text="The new checkout flow is lovely — our team tested it on their phones.")


def feedback_question(project: Project) -> str:
    return t("feedback.default_question", project.language)


def _register(session: Session, project: Project) -> list[dict[str, Any]]:
    items, total = risks.register_page(session, project.id or 0, include_closed=False)
    names = risks.milestone_names(session, {r.milestone_id for r in items if r.milestone_id})
    return register_list(project, items, total=total, page=1, lang=project.language,
                         today=risks.project_today(project, _clock[0].now()), milestones=names, include_closed=False)


def _prompt(session: Session, project: Project) -> list[dict[str, Any]]:
    prompt = feedback.last_prompt(session, project.id or 0)
    return prompt_message(prompt, project)["blocks"] if prompt else []


def _results(session: Session, project: Project) -> list[dict[str, Any]]:
    found = feedback.summary(session, project.id or 0, per_page=PER_PAGE)
    return results(project, stats=found.stats, follow_ups=found.follow_ups, open_count=found.open_count,
                   responses=found.responses, total=found.total, page=found.page, questions=found.questions,
                   lang=project.language)


def _follow_up(session: Session, project: Project) -> list[dict[str, Any]]:
    row = session.exec(select(FollowUp, FeedbackResponse)
                       .join(FeedbackResponse, col(FeedbackResponse.id) == col(FollowUp.response_id))
                       .where(col(FollowUp.project_id) == project.id).order_by(col(FollowUp.id))).first()
    if row is None:
        return []
    follow_up, response = row
    return follow_up_dm(project, follow_up, response, feedback.question_of(session, response))["blocks"]


demo.SEEDERS.append(seed)
demo.SECTIONS.extend([
    ("Risk register (/risk list)", "risks", _register),
    ("Satisfaction prompt (posted in the client channel by /feedback ask)", "feedback_prompt", _prompt),
    ("Bad news for the PM (DM with a Resolve button)", "feedback_follow_up", _follow_up),
    ("Feedback results (/feedback list)", "feedback", _results),
])
