"""Client feedback: satisfaction prompts and their answers, ad-hoc feedback, follow-ups, results.

The rules, Slack-free (the use cases that post prompts and DM the PM are in `bot/flows/feedback.py`):

- One answer per responder per prompt: answering again replaces the answer. On a project with
  anonymous feedback the responder is never stored — `responder_key` is then an HMAC-SHA256 of
  the Slack user id under a key derived from the prompt id and the bot's secret, so the same
  person's second click still finds (and replaces) their first answer, while the database alone
  cannot tell who answered. A score of 1–2, or a complaint, opens a follow-up for the PM.
- Prompts ask the client: external users and guests, and the project's client approvers. A
  member of our own workspace listed as a client approver (the PM, a team member standing in
  for a client who is not on Slack) may answer too; the answer is kept, marked as *not
  client-side*, and never counts in a satisfaction figure (averages, the trend, the digest).
  The mark is stored in `FeedbackResponse.kind` (`team_score`, `team_praise`, …: see
  `stored_kind` / `kind_of` / `is_client_side`), so no column is needed.
- At most one prompt per project within its cooldown; recurring prompts every N weeks and a
  prompt when a milestone is done (`due_prompts`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.models import (
    CLOSEOUT_TRIGGER,
    TEAM_SIDE,
    ActivityLog,
    FeedbackKind,
    FeedbackPrompt,
    FeedbackResponse,
    FollowUp,
    FollowUpStatus,
    Project,
    ProjectStatus,
)
from bot.services import activity, calendar
from bot.services.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed

SCORES = range(1, 6)
BAD_SCORE_MAX = 2
TEXT_MAX = 3000
QUESTION_MAX = 500
ADHOC_KINDS = (FeedbackKind.praise, FeedbackKind.complaint, FeedbackKind.suggestion)
TREND_PROMPTS = 8
ANONYMOUS_ACTOR = "anonymous"
MILESTONE_FRESH_WORKING_DAYS = 2  # a milestone done longer ago (in working days) no longer prompts
MILESTONE_LOOKBACK = timedelta(days=30)  # how far back a done milestone is looked for
# A milestone done, or accepted by the client (验收), may prompt for satisfaction.
PROMPTING_ACTIONS = ("milestone_done", "milestone_accepted")

# --- Scores and the trend (pure functions) --------------------------------------------------


def parse_score(value: object) -> int | None:
    """A score from untrusted input ("1"…"5" or an int), or None for anything else (0, 6, text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in SCORES else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) == 1:
        score = int(value)
        return score if score in SCORES else None
    return None


def is_bad_news(kind: str, score: int | None) -> bool:
    """Scores of 1–2 and complaints need the PM's attention (`kind` as stored, or bare)."""
    return kind.removeprefix(TEAM_SIDE) == FeedbackKind.complaint or (score is not None and score <= BAD_SCORE_MAX)


def average(scores: list[int | None]) -> float | None:
    given = [s for s in scores if s is not None]
    return round(sum(given) / len(given), 2) if given else None


# --- Whose answers count -------------------------------------------------------------------


def stored_kind(kind: str, *, client_side: bool) -> str:
    """The `kind` to store: `score`, `praise`, … for the client's side; `team_score`,
    `team_praise`, … for an answer from a member of our own workspace (kept, never counted).
    Read back with `FeedbackResponse.feedback_kind` and `.client_side`."""
    return kind if client_side else TEAM_SIDE + kind


def may_answer(project: Project, user_id: str, *, client_side: bool) -> None:
    """Prompts ask the client (SPEC §1: external users, guests, client approvers); Forbidden
    for anyone else on our side."""
    if not (client_side or user_id in (project.client_approver_ids or [])):
        raise Forbidden("feedback.only_clients")


# --- Anonymity ----------------------------------------------------------------------------


def prompt_secret(prompt_id: int, secret: bytes) -> bytes:
    """The per-prompt key: a responder's key differs from one prompt to the next."""
    return hmac.new(secret, f"pmbot-feedback-prompt:{prompt_id}".encode(), hashlib.sha256).digest()


def responder_key(prompt: FeedbackPrompt, user_id: str, secret: bytes) -> str:
    """The user id itself, or on an anonymous prompt its keyed hash (64 hex characters)."""
    if not prompt.anonymous:
        return user_id
    assert prompt.id is not None
    return hmac.new(prompt_secret(prompt.id, secret), user_id.encode(), hashlib.sha256).hexdigest()


# --- Prompts --------------------------------------------------------------------------------


def _require_active(project: Project) -> None:
    if project.status != ProjectStatus.active:
        raise InvalidTransition("feedback.error_project_closed", name=project.name)


def last_prompt(session: Session, project_id: int) -> FeedbackPrompt | None:
    stmt = (select(FeedbackPrompt).where(col(FeedbackPrompt.project_id) == project_id)
            .order_by(col(FeedbackPrompt.created_at).desc(), col(FeedbackPrompt.id).desc()).limit(1))
    return session.exec(stmt).first()


def cooldown_until(project: Project, last: FeedbackPrompt | None) -> datetime | None:
    """When the next prompt may be posted without asking, or None when there is no prompt yet."""
    if last is None:
        return None
    return last.created_at + timedelta(days=project.feedback_cooldown_days)


def in_cooldown(project: Project, last: FeedbackPrompt | None, now: datetime) -> bool:
    until = cooldown_until(project, last)
    return until is not None and now < until


def due_prompts(session: Session, now: datetime, among: Collection[int] | None = None) -> list[tuple[int, str]]:
    """(project id, trigger) of the prompts due now, in the projects' working hours: a recent
    milestone done since the last prompt (`milestone`), else the project's cadence
    (`recurring`); never within the cooldown. `among`: only these projects, else every one."""
    active = [p for p in session.exec(calendar.among(select(Project).where(Project.status == ProjectStatus.active),
                                                     among))
              if calendar.within_working_hours(p, now)]
    if not active:
        return []
    ids = [p.id for p in active]
    last = dict(session.exec(select(FeedbackPrompt.project_id, func.max(FeedbackPrompt.created_at))
                             .where(col(FeedbackPrompt.project_id).in_(ids))
                             .group_by(FeedbackPrompt.project_id)).all())
    done = dict(session.exec(select(ActivityLog.project_id, func.max(ActivityLog.created_at))
                             .where(col(ActivityLog.project_id).in_(ids),
                                    col(ActivityLog.action).in_(PROMPTING_ACTIONS),
                                    ActivityLog.created_at > now - MILESTONE_LOOKBACK)
                             .group_by(ActivityLog.project_id)).all())
    due: list[tuple[int, str]] = []
    for p in active:
        assert p.id is not None
        previous = _aware(last.get(p.id), now)
        if previous is not None and now - previous < timedelta(days=p.feedback_cooldown_days):
            continue
        milestone_done = _aware(done.get(p.id), now)
        if milestone_done is not None and calendar.working_days_between(p, milestone_done, now) > \
                MILESTONE_FRESH_WORKING_DAYS:  # a weekend or holidays in between do not make it stale
            milestone_done = None
        if milestone_done is not None and (previous is None or milestone_done > previous):
            due.append((p.id, "milestone"))
        elif p.feedback_cadence_weeks > 0 and now - (previous or p.created_at) >= timedelta(
                weeks=p.feedback_cadence_weeks):
            due.append((p.id, "recurring"))
    return due


def _aware(value: datetime | None, now: datetime) -> datetime | None:
    """A stored instant (SQLite returns it naive) in `now`'s time zone."""
    return value.replace(tzinfo=now.tzinfo) if value is not None and value.tzinfo is None else value


def create_prompt(session: Session, clock: Clock, *, project: Project, actor: str, question: str,
                  trigger: str = "manual") -> FeedbackPrompt:
    """A new prompt (the caller posts it). Anonymity is fixed when the prompt is created."""
    _require_active(project)
    question = _text({}, "question", " ".join((question or "").split()), required="feedback.error_question_required",
                     limit=QUESTION_MAX)
    prompt = FeedbackPrompt(project_id=project.id or 0, question=question, trigger=trigger,
                            anonymous=project.anonymous_feedback, sent_by=actor, created_at=clock.now(),
                            channel_id=project.client_channel_id)
    session.add(prompt)
    session.flush()
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor, action="created",
                    entity_type="feedback_prompt", entity_id=prompt.id,
                    after=activity.snapshot(prompt, ["question", "trigger", "anonymous"]))
    return prompt


def set_prompt_message(session: Session, prompt: FeedbackPrompt, channel_id: str | None, ts: str | None) -> None:
    prompt.channel_id = channel_id or prompt.channel_id
    prompt.message_ts = ts
    session.add(prompt)
    session.flush()


# --- Answers --------------------------------------------------------------------------------


@dataclass
class Recorded:
    """What an answer did: the stored response, the previous score, and a follow-up it opened."""

    response: FeedbackResponse
    previous_score: int | None
    created: bool
    follow_up: FollowUp | None = None


def _text(errors: dict[str, tuple[str, dict[str, object]]], field: str, value: str | None, *,
          required: str | None = None, limit: int = TEXT_MAX, collect: bool = False) -> str:
    """Typed text, trimmed. Too long (or missing, when `required` names the message) fails as
    ValidationFailed on `field`; with `collect`, the message is added to `errors` instead."""
    text = (value or "").strip()
    problem = (required, {}) if required and not text else (
        ("common.error_too_long", {"max": limit}) if len(text) > limit else None)
    if problem is not None:
        errors[field] = problem
        if not collect:
            raise ValidationFailed(errors)
    return text


def _find_answer(session: Session, prompt_id: int, key: str) -> FeedbackResponse | None:
    return session.exec(select(FeedbackResponse).where(
        col(FeedbackResponse.prompt_id) == prompt_id, col(FeedbackResponse.responder_key) == key)).first()


def open_follow_up_of(session: Session, response_id: int | None) -> FollowUp | None:
    """The follow-up still open for a response, if any."""
    return session.exec(select(FollowUp).where(
        col(FollowUp.response_id) == response_id, col(FollowUp.status) == FollowUpStatus.open)).first()


def _open_follow_up(session: Session, clock: Clock, project: Project, response: FeedbackResponse,
                    actor: str) -> FollowUp | None:
    """Open a follow-up for bad news, unless one is already open for this response."""
    if not is_bad_news(response.kind, response.score) or open_follow_up_of(session, response.id) is not None:
        return None
    follow_up = FollowUp(project_id=project.id or 0, response_id=response.id or 0, created_at=clock.now())
    session.add(follow_up)
    session.flush()
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor, action="opened",
                    entity_type="follow_up", entity_id=follow_up.id,
                    after={"status": FollowUpStatus.open.value, "response_id": response.id,
                           "kind": response.kind, "score": response.score})
    return follow_up


def answer(session: Session, clock: Clock, *, prompt: FeedbackPrompt, project: Project, user_id: str,
           secret: bytes, score: int | None = None, comment: str | None = None,
           client_side: bool = True) -> Recorded:
    """Record (or replace) `user_id`'s answer to `prompt`. `score` / `comment` left None keep
    what the person answered before, so a comment added later does not erase the score.
    `client_side=False` keeps the answer of someone on our side without counting it.
    The final prompt of a closed project (`CLOSEOUT_TRIGGER`) still takes answers."""
    if prompt.trigger != CLOSEOUT_TRIGGER:
        _require_active(project)
    if score is not None and parse_score(score) is None:
        raise ValidationFailed({"score": ("feedback.error_score", {})})
    text = None if comment is None else _text({}, "comment", comment)
    assert prompt.id is not None
    key = responder_key(prompt, user_id, secret)
    stored_user = None if prompt.anonymous else user_id
    actor = ANONYMOUS_ACTOR if prompt.anonymous else user_id
    kind = stored_kind(FeedbackKind.score, client_side=client_side)
    now = clock.now()
    response = _find_answer(session, prompt.id, key)
    created = response is None
    if response is None:
        try:
            with session.begin_nested():
                response = FeedbackResponse(project_id=project.id or 0, prompt_id=prompt.id, user_id=stored_user,
                                            responder_key=key, kind=kind, score=score,
                                            comment=text or None, created_at=now, updated_at=now)
                session.add(response)
                session.flush()
        except IntegrityError:  # the same person's other click won the race: replace that answer
            response = _find_answer(session, prompt.id, key)
            if response is None:
                raise
            created = False
    previous = None if created else response.score
    before = None if created else {"score": response.score, "comment": response.comment}
    if not created:
        if score is not None:
            response.score = score
        if text is not None:
            response.comment = text or None
        response.kind = kind
        response.updated_at = now
        session.add(response)
        session.flush()
    after = {"score": response.score, "comment": response.comment}
    if before != after:
        activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor,
                        action="answered" if created else "answer_changed", entity_type="feedback_response",
                        entity_id=response.id, before=before, after={**after, "prompt_id": prompt.id})
    follow_up = _open_follow_up(session, clock, project, response, actor)
    return Recorded(response=response, previous_score=previous, created=created, follow_up=follow_up)


def parse_answer(score: str | None, comment: str) -> tuple[int | None, str]:
    """The comment form's optional score and comment, checked together (an answer needs one)."""
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    value = parse_score(score) if score is not None else None
    if score is not None and value is None:
        errors["score"] = ("feedback.error_score", {})
    text = _text(errors, "comment", comment, collect=True)
    if not text and value is None and "comment" not in errors:
        errors["comment"] = ("feedback.error_comment_empty", {})
    if errors:
        raise ValidationFailed(errors)
    return value, text


def record_score(session: Session, clock: Clock, *, prompt: FeedbackPrompt, project: Project, user_id: str,
                 score: int, secret: bytes, client_side: bool = True) -> Recorded:
    """A click on a score button (or a score from any other source, e.g. a job importing one)."""
    if parse_score(score) is None:
        raise ValidationFailed({"score": ("feedback.error_score", {})})
    return answer(session, clock, prompt=prompt, project=project, user_id=user_id, secret=secret, score=score,
                  client_side=client_side)


def my_answer(session: Session, prompt: FeedbackPrompt, user_id: str, secret: bytes) -> FeedbackResponse | None:
    assert prompt.id is not None
    return _find_answer(session, prompt.id, responder_key(prompt, user_id, secret))


def give_feedback(session: Session, clock: Clock, *, project: Project, user_id: str, kind: str,
                  score: int | None, text: str, client_side: bool = True) -> Recorded:
    """Ad-hoc praise, complaint or suggestion (`/feedback`, the intake button). Feedback from
    our own side is kept, marked, and not counted in satisfaction figures."""
    _require_active(project)
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    if kind not in ADHOC_KINDS:
        errors["kind"] = ("feedback.error_kind", {})
    if score is not None and parse_score(score) is None:
        errors["score"] = ("feedback.error_score", {})
    body = _text(errors, "text", text, required="feedback.error_text_required", collect=True)
    if errors:
        raise ValidationFailed(errors)
    anonymous = project.anonymous_feedback
    now = clock.now()
    response = FeedbackResponse(
        project_id=project.id or 0, prompt_id=None, user_id=None if anonymous else user_id,
        responder_key=f"anon:{secrets.token_hex(16)}" if anonymous else user_id,
        kind=stored_kind(kind, client_side=client_side), score=score, comment=body, created_at=now, updated_at=now,
    )
    session.add(response)
    session.flush()
    actor = ANONYMOUS_ACTOR if anonymous else user_id
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor, action="given",
                    entity_type="feedback_response", entity_id=response.id,
                    after={"kind": kind, "score": score, "comment": body})
    follow_up = _open_follow_up(session, clock, project, response, actor)
    return Recorded(response=response, previous_score=None, created=True, follow_up=follow_up)


# --- Follow-ups -----------------------------------------------------------------------------


def get_follow_up(session: Session, team_id: str, follow_up_id: int
                  ) -> tuple[FollowUp, FeedbackResponse, Project]:
    follow_up = session.get(FollowUp, follow_up_id)
    response = session.get(FeedbackResponse, follow_up.response_id) if follow_up else None
    project = session.get(Project, follow_up.project_id) if follow_up else None
    if follow_up is None or response is None or project is None or project.team_id != team_id:
        raise NotFound("common.not_found")
    return follow_up, response, project


def resolve_follow_up(session: Session, clock: Clock, *, follow_up: FollowUp, project: Project, actor: str,
                      note: str) -> FollowUp:
    """Close a follow-up with a note. One conditional UPDATE: of two resolvers, one wins."""
    text = _text({}, "note", note, required="feedback.error_note_required")
    now = clock.now()
    result = session.execute(
        update(FollowUp)
        .where(col(FollowUp.id) == follow_up.id, col(FollowUp.status) == FollowUpStatus.open)
        .values(status=FollowUpStatus.resolved, resolution_note=text, resolved_by=actor, resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(follow_up)
    if result.rowcount != 1:
        raise InvalidTransition("feedback.error_already_resolved")
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor, action="resolved",
                    entity_type="follow_up", entity_id=follow_up.id, before={"status": FollowUpStatus.open.value},
                    after={"status": FollowUpStatus.resolved.value, "note": text})
    return follow_up


def open_follow_ups(session: Session, project_id: int, limit: int = 20
                    ) -> list[tuple[FollowUp, FeedbackResponse]]:
    """Open follow-ups, oldest first (the longest-waiting client first)."""
    stmt = (select(FollowUp, FeedbackResponse)
            .join(FeedbackResponse, col(FeedbackResponse.id) == col(FollowUp.response_id))
            .where(col(FollowUp.project_id) == project_id, col(FollowUp.status) == FollowUpStatus.open)
            .order_by(col(FollowUp.created_at), col(FollowUp.id)).limit(limit))
    return [(f, r) for f, r in session.exec(stmt)]


def count_open_follow_ups(session: Session, project_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(FollowUp).where(
        col(FollowUp.project_id) == project_id, col(FollowUp.status) == FollowUpStatus.open)).one())


# --- Results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptStats:
    prompt: FeedbackPrompt
    answers: int
    average: float | None


def prompt_stats(session: Session, project_id: int, limit: int = TREND_PROMPTS) -> list[PromptStats]:
    """The last `limit` prompts with the number and average score of the client's answers,
    oldest first (answers from our own side are not counted)."""
    prompts = list(session.exec(
        select(FeedbackPrompt).where(col(FeedbackPrompt.project_id) == project_id)
        .order_by(col(FeedbackPrompt.created_at).desc(), col(FeedbackPrompt.id).desc()).limit(limit)))
    if not prompts:
        return []
    ids = [p.id for p in prompts]
    rows = session.exec(select(FeedbackResponse.prompt_id, FeedbackResponse.score)
                        .where(col(FeedbackResponse.prompt_id).in_(ids),
                               col(FeedbackResponse.kind).not_like(f"{TEAM_SIDE}%")))
    scores: dict[int, list[int | None]] = {}
    for prompt_id, score in rows:
        scores.setdefault(prompt_id, []).append(score)
    out = [PromptStats(prompt=p, answers=len(scores.get(p.id or 0, [])), average=average(scores.get(p.id or 0, [])))
           for p in prompts]
    return list(reversed(out))


def recent_responses(session: Session, project_id: int, *, page: int = 1, per_page: int = 10
                     ) -> tuple[list[FeedbackResponse], int]:
    """Answers and ad-hoc feedback, most recently given or changed first."""
    where = col(FeedbackResponse.project_id) == project_id
    total = session.exec(select(func.count()).select_from(FeedbackResponse).where(where)).one()
    stmt = (select(FeedbackResponse).where(where)
            .order_by(col(FeedbackResponse.updated_at).desc(), col(FeedbackResponse.id).desc())
            .offset((max(page, 1) - 1) * per_page).limit(per_page))
    return list(session.exec(stmt)), int(total)


def question_of(session: Session, response: FeedbackResponse) -> str | None:
    """The question a response answers (None for ad-hoc feedback)."""
    if response.prompt_id is None:
        return None
    prompt = session.get(FeedbackPrompt, response.prompt_id)
    return prompt.question if prompt else None


def questions(session: Session, prompt_ids: set[int]) -> dict[int, str]:
    if not prompt_ids:
        return {}
    rows = session.exec(select(FeedbackPrompt).where(col(FeedbackPrompt.id).in_(prompt_ids)))
    return {p.id: p.question for p in rows if p.id is not None}


@dataclass(frozen=True)
class Summary:
    """`/feedback list`: the trend, open follow-ups and a page of recent feedback."""

    stats: list[PromptStats]
    follow_ups: list[tuple[FollowUp, FeedbackResponse]]
    open_count: int
    responses: list[FeedbackResponse]
    total: int
    page: int
    questions: dict[int, str]


def summary(session: Session, project_id: int, *, page: int = 1, per_page: int = 10) -> Summary:
    follow_ups = open_follow_ups(session, project_id)
    responses, total = recent_responses(session, project_id, page=page, per_page=per_page)
    asked = {r.prompt_id for r in responses} | {r.prompt_id for _, r in follow_ups}
    return Summary(stats=prompt_stats(session, project_id), follow_ups=follow_ups,
                   open_count=count_open_follow_ups(session, project_id), responses=responses, total=total,
                   page=page, questions=questions(session, {i for i in asked if i is not None}))
