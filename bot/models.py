"""Tables of SPEC §2 and the ledgers the jobs keep. All timestamps are stored in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """A timestamp that always comes back timezone-aware in UTC, on SQLite as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_type=sa.JSON, nullable=False)


class ProjectStatus(StrEnum):
    active = "active"
    closed = "closed"


class RequirementStatus(StrEnum):
    proposed = "proposed"
    confirmed = "confirmed"
    changes_requested = "changes_requested"
    deferred = "deferred"
    dropped = "dropped"
    done = "done"


class Priority(StrEnum):
    must = "must"
    should = "should"
    could = "could"
    wont = "wont"


class ChangeStatus(StrEnum):
    submitted = "submitted"
    assessed = "assessed"
    approved = "approved"
    rejected = "rejected"
    implemented = "implemented"
    withdrawn = "withdrawn"


class RiskStatus(StrEnum):
    open = "open"
    mitigated = "mitigated"
    occurred = "occurred"
    closed = "closed"


class Visibility(StrEnum):
    internal = "internal"
    client = "client"


class MilestoneStatus(StrEnum):
    """Derived, never stored (`services/milestones.py` `derive_status`)."""

    done = "done"
    late = "late"
    at_risk = "at_risk"
    on_track = "on_track"


class DayKind:
    """What sets a day of the project calendar apart from its usual week (services/calendar.py
    finds them; the project's coming days show them)."""

    PUBLIC_HOLIDAY = "public_holiday"
    CLOSURE = "closure"
    MAKE_UP = "make_up"


# Fixed rules of the plan: applied by services/milestones.py and services/risks.py, shown by
# the builders in bot/blocks (which import no services).
MILESTONE_NAME_MAX = 150
# A requirement's text limits (the modal and the services check them) and its priorities, in order.
REQ_TITLE_MAX = 200
REQ_TEXT_MAX = 3000
REQ_COMMENT_MAX = 3000
PRIORITIES = (Priority.must, Priority.should, Priority.could, Priority.wont)
# A change request's text limits; a milestone delivery's note and link (acceptance).
CR_TITLE_MAX = 200
CR_TEXT_MAX = 3000
DELIVERY_MAX = 2000
DELIVERY_LINK_MAX = 500
RISK_TITLE_MAX = 200
LONG_TEXT_MAX = 3000  # descriptions, mitigations
RISK_SCALE = range(1, 6)  # probability and impact
RISK_HIGH_SCORE = 15  # the threshold the milestone status and the reminders use too
RISK_MEDIUM_SCORE = 5
RISK_REVIEW_DAYS = 7  # a new risk is reviewed a week later unless told otherwise
# Which status a risk may move to from each status. Anything may be reopened.
RISK_TRANSITIONS: dict[str, frozenset[str]] = {
    RiskStatus.open: frozenset({RiskStatus.mitigated, RiskStatus.occurred, RiskStatus.closed}),
    RiskStatus.mitigated: frozenset({RiskStatus.open, RiskStatus.occurred, RiskStatus.closed}),
    RiskStatus.occurred: frozenset({RiskStatus.open, RiskStatus.closed}),
    RiskStatus.closed: frozenset({RiskStatus.open}),
}


def risk_level(score: int) -> str:
    """`high` (15–25), `medium` (5–14) or `low` (1–4)."""
    if score >= RISK_HIGH_SCORE:
        return "high"
    if score >= RISK_MEDIUM_SCORE:
        return "medium"
    return "low"


class FeedbackKind(StrEnum):
    score = "score"
    praise = "praise"
    complaint = "complaint"
    suggestion = "suggestion"


# An answer from a member of our own workspace (the PM or a team member listed as a client
# approver) is stored with its kind marked `team_score`, `team_praise`, …: kept, never counted.
TEAM_SIDE = "team_"


# Reports (issue 16): the trigger of the final satisfaction prompt posted when a project closes;
# it still takes answers once the project is closed, and its comment asks what to do better.
CLOSEOUT_TRIGGER = "closeout"


class FollowUpStatus(StrEnum):
    open = "open"
    resolved = "resolved"


class OutboxStatus(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    skipped = "skipped"


class Project(SQLModel, table=True):
    """A client engagement bound to one client channel of one workspace."""

    __table_args__ = (sa.UniqueConstraint("team_id", "name", name="uq_project_team_name"),)

    id: int | None = Field(default=None, primary_key=True)
    # Bumped by every change; buttons and edit forms carry the version they showed (stale → refused).
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    team_id: str = Field(index=True, max_length=32)
    enterprise_id: str | None = Field(default=None, max_length=32)
    name: str = Field(max_length=80)
    client_name: str = Field(default="", max_length=120)
    client_channel_id: str = Field(unique=True, max_length=32)
    internal_channel_id: str | None = Field(default=None, max_length=32)
    pm_user_id: str = Field(index=True, max_length=32)
    client_approver_ids: list[str] = _json(list)
    timezone: str = Field(default="UTC", max_length=64)
    language: str = Field(default="en", max_length=8)
    digest_weekday: int = Field(default=4)  # 0 = Monday … 6 = Sunday
    digest_time: time = Field(default=time(16, 0), sa_type=sa.Time)
    preview_lead_minutes: int = Field(default=120)
    require_pm_approval: bool = Field(default=False)
    working_days: list[int] = _json(lambda: [0, 1, 2, 3, 4])
    holidays: list[str] = _json(list)  # ISO dates in the project's time zone
    # Public-holiday calendar (issue 17): a country of the `holidays` package ("" = none) and
    # optionally one of its subdivisions; see bot.reports.holiday_regions.
    country: str = Field(default="", max_length=8, sa_column_kwargs={"server_default": ""})
    subdivision: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})
    work_start: time = Field(default=time(9, 0), sa_type=sa.Time)
    work_end: time = Field(default=time(18, 0), sa_type=sa.Time)
    nudge_after_days: int = Field(default=3)
    escalate_after_days: int = Field(default=5)
    feedback_cadence_weeks: int = Field(default=0)  # 0 = no recurring prompt
    feedback_cooldown_days: int = Field(default=14)
    anonymous_feedback: bool = Field(default=False)
    # Milestone acceptance: a request unanswered this many working days is accepted (0 = never).
    auto_accept_after_days: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # digest chart: the weekly digest carries a progress chart unless the project turns it off
    charts_enabled: bool = Field(default=True, sa_column_kwargs={"server_default": "1"})
    status: str = Field(default=ProjectStatus.active, max_length=16, index=True)
    intake_message_ts: str | None = Field(default=None, max_length=32)
    # Capture from the conversation (issue 14): the reaction that captures a message as a
    # requirement ("memo" for :memo:), "" when reactions capture nothing.
    capture_emoji: str = Field(default="memo", max_length=64, sa_column_kwargs={"server_default": "memo"})
    created_by: str = Field(max_length=32)
    created_at: datetime = _created()
    updated_at: datetime = _created()
    closed_at: datetime | None = _ts()
    # Reports (issue 16): the monthly report (on since when: a report due before it was turned
    # on is not posted late) and the PM's retrospective note, asked for when the project closes.
    monthly_report: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    monthly_report_since: datetime | None = _ts()
    retro_went_well: str | None = Field(default=None, sa_type=sa.Text)
    retro_to_improve: str | None = Field(default=None, sa_type=sa.Text)


class Requirement(SQLModel, table=True):
    """Something the client needs, written down and confirmed by a client approver."""

    __table_args__ = (sa.Index("ix_requirement_project_status", "project_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    # Bumped by every change; buttons and edit forms carry the version they showed (stale → refused).
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    project_id: int = Field(foreign_key="project.id", index=True)
    title: str = Field(max_length=REQ_TITLE_MAX)
    description: str = Field(default="", sa_type=sa.Text)
    priority: str = Field(default=Priority.should, max_length=8)
    acceptance_criteria: str = Field(default="", sa_type=sa.Text)
    raised_by: str = Field(max_length=32)
    raised_by_client: bool = Field(default=False)
    status: str = Field(default=RequirementStatus.proposed, max_length=20)
    sent_for_confirmation_at: datetime | None = _ts()
    confirmation_channel_id: str | None = Field(default=None, max_length=32)
    confirmation_ts: str | None = Field(default=None, max_length=32)
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = _ts()
    decided_on_behalf: bool = Field(default=False)
    change_comment: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created()
    updated_at: datetime = _created()
    # Capture from the conversation (issue 14): the Slack message this record was captured from.
    source_channel_id: str | None = Field(default=None, max_length=32)
    source_ts: str | None = Field(default=None, max_length=32)
    source_permalink: str | None = Field(default=None, max_length=500)
    source_user_id: str | None = Field(default=None, max_length=32)  # the message's author

    @property
    def awaiting_confirmation(self) -> bool:
        """Posted to the client channel and not decided yet."""
        return self.status == RequirementStatus.proposed and self.sent_for_confirmation_at is not None


class Milestone(SQLModel, table=True):
    """A dated point of the plan; its status (done / late / at risk / on track) is derived."""

    id: int | None = Field(default=None, primary_key=True)
    # Bumped by every change; buttons and edit forms carry the version they showed (stale → refused).
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    project_id: int = Field(foreign_key="project.id", index=True)
    name: str = Field(max_length=MILESTONE_NAME_MAX)
    description: str = Field(default="", sa_type=sa.Text)
    due_date: date
    progress: int = Field(default=0)
    done: bool = Field(default=False)
    done_at: datetime | None = _ts()
    created_by: str = Field(default="", max_length=32)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class ChangeRequest(SQLModel, table=True):
    """A change to the agreed scope: assessed by the team, decided by the client."""

    __table_args__ = (sa.Index("ix_changerequest_project_status", "project_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    # Bumped by every change; buttons and edit forms carry the version they showed (stale → refused).
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    project_id: int = Field(foreign_key="project.id", index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_type=sa.Text)
    reason: str = Field(default="", sa_type=sa.Text)
    requested_by: str = Field(max_length=32)
    requested_by_client: bool = Field(default=False)
    status: str = Field(default=ChangeStatus.submitted, max_length=20)
    schedule_impact_days: int | None = Field(default=None)
    effort_hours: Decimal | None = Field(default=None, sa_type=sa.Numeric(10, 2))
    cost_amount: Decimal | None = Field(default=None, sa_type=sa.Numeric(14, 2))
    cost_currency: str | None = Field(default=None, max_length=3)
    share_cost_with_client: bool = Field(default=False)
    recommendation: str | None = Field(default=None, sa_type=sa.Text)
    assessed_by: str | None = Field(default=None, max_length=32)
    assessed_at: datetime | None = _ts()
    approval_channel_id: str | None = Field(default=None, max_length=32)
    approval_ts: str | None = Field(default=None, max_length=32)
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = _ts()
    decided_on_behalf: bool = Field(default=False)
    decision_reason: str | None = Field(default=None, sa_type=sa.Text)
    implemented_at: datetime | None = _ts()
    withdrawn_at: datetime | None = _ts()
    created_at: datetime = _created()
    updated_at: datetime = _created()
    # Capture from the conversation (issue 14): the Slack message this record was captured from.
    source_channel_id: str | None = Field(default=None, max_length=32)
    source_ts: str | None = Field(default=None, max_length=32)
    source_permalink: str | None = Field(default=None, max_length=500)
    source_user_id: str | None = Field(default=None, max_length=32)  # the message's author

    def cost_visible(self, *, to_client: bool) -> bool:
        """Cost is internal unless the PM chose to share it with the client."""
        return self.cost_amount is not None and (not to_client or self.share_cost_with_client)


class ChangeRequestRequirement(SQLModel, table=True):
    """A requirement a change request affects."""

    change_request_id: int = Field(foreign_key="changerequest.id", primary_key=True)
    requirement_id: int = Field(foreign_key="requirement.id", primary_key=True)


class ChangeRequestMilestone(SQLModel, table=True):
    """A milestone a change request affects (and moves when it is approved)."""

    change_request_id: int = Field(foreign_key="changerequest.id", primary_key=True)
    milestone_id: int = Field(foreign_key="milestone.id", primary_key=True)


class Risk(SQLModel, table=True):
    """An entry of the risk register; score = probability × impact."""

    __table_args__ = (sa.Index("ix_risk_project_status", "project_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    # Bumped by every change; buttons and edit forms carry the version they showed (stale → refused).
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    project_id: int = Field(foreign_key="project.id", index=True)
    title: str = Field(max_length=RISK_TITLE_MAX)
    description: str = Field(default="", sa_type=sa.Text)
    probability: int = Field(default=3)
    impact: int = Field(default=3)
    owner_user_id: str | None = Field(default=None, max_length=32, index=True)
    mitigation: str = Field(default="", sa_type=sa.Text)
    next_review_date: date | None = Field(default=None)
    status: str = Field(default=RiskStatus.open, max_length=16)
    visibility: str = Field(default=Visibility.internal, max_length=16)
    milestone_id: int | None = Field(default=None, foreign_key="milestone.id")
    created_by: str = Field(default="", max_length=32)
    created_at: datetime = _created()
    updated_at: datetime = _created()
    # Capture from the conversation (issue 14): the Slack message this record was captured from.
    source_channel_id: str | None = Field(default=None, max_length=32)
    source_ts: str | None = Field(default=None, max_length=32)
    source_permalink: str | None = Field(default=None, max_length=500)
    source_user_id: str | None = Field(default=None, max_length=32)  # the message's author

    @property
    def score(self) -> int:
        return self.probability * self.impact

    @property
    def puts_milestone_at_risk(self) -> bool:
        """Whether this risk, by itself, makes its milestone at risk: it occurred, or it is
        open and scored high."""
        if self.milestone_id is None:
            return False
        return self.status == RiskStatus.occurred or (self.status == RiskStatus.open
                                                      and self.score >= RISK_HIGH_SCORE)


class FeedbackPrompt(SQLModel, table=True):
    """A satisfaction question posted to the client channel."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    question: str = Field(sa_type=sa.Text)
    trigger: str = Field(default="manual", max_length=16)  # manual / recurring / milestone
    anonymous: bool = Field(default=False)
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    sent_by: str | None = Field(default=None, max_length=32)
    created_at: datetime = _created()


class FeedbackResponse(SQLModel, table=True):
    """An answer to a prompt (one per responder, replaced on re-answer) or ad-hoc feedback."""

    __table_args__ = (
        sa.UniqueConstraint("prompt_id", "responder_key", name="uq_feedback_prompt_responder"),
        sa.Index("ix_feedbackresponse_project_created", "project_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    prompt_id: int | None = Field(default=None, foreign_key="feedbackprompt.id")
    user_id: str | None = Field(default=None, max_length=32)  # None when anonymous
    # Stable per-responder key (a keyed hash when anonymous) so answering again replaces.
    responder_key: str = Field(max_length=64)
    kind: str = Field(default=FeedbackKind.score, max_length=16)  # marked with TEAM_SIDE when from our side
    score: int | None = Field(default=None)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created()
    updated_at: datetime = _created()
    # Capture from the conversation (issue 14): the Slack message this record was captured from.
    source_channel_id: str | None = Field(default=None, max_length=32)
    source_ts: str | None = Field(default=None, max_length=32)
    source_permalink: str | None = Field(default=None, max_length=500)
    source_user_id: str | None = Field(default=None, max_length=32)  # the message's author

    @property
    def feedback_kind(self) -> str:
        """score / praise / complaint / suggestion, whoever gave it."""
        return self.kind.removeprefix(TEAM_SIDE)

    @property
    def client_side(self) -> bool:
        """Given by the client's side: counted in satisfaction figures."""
        return not self.kind.startswith(TEAM_SIDE)


class FollowUp(SQLModel, table=True):
    """Bad news (score 1–2 or a complaint) the PM must act on."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    response_id: int = Field(foreign_key="feedbackresponse.id", index=True)
    status: str = Field(default=FollowUpStatus.open, max_length=16)
    resolution_note: str | None = Field(default=None, sa_type=sa.Text)
    resolved_by: str | None = Field(default=None, max_length=32)
    resolved_at: datetime | None = _ts()
    created_at: datetime = _created()


class ActivityLog(SQLModel, table=True):
    """Every create, edit, status change and decision: what was agreed, by whom, when."""

    __table_args__ = (
        sa.Index("ix_activitylog_project_created", "project_id", "created_at"),
        sa.Index("ix_activitylog_entity", "entity_type", "entity_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    project_id: int | None = Field(default=None, foreign_key="project.id")
    actor_user_id: str = Field(max_length=32)
    action: str = Field(max_length=40)
    entity_type: str = Field(max_length=32)
    entity_id: int | None = Field(default=None)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    on_behalf_of_client: bool = Field(default=False)
    created_at: datetime = _created()


class Outbox(SQLModel, table=True):
    """A Slack message the bot owes, committed with the change that caused it.

    The key makes each message unique (e.g. ``digest:12:2026-W47:client``); a sender claims a
    row atomically before posting and records the message ``ts`` after, so a crash or a second
    process never sends it twice and a failed call is retried, not dropped.
    """

    __table_args__ = (sa.Index("ix_outbox_status_due", "status", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=160)
    team_id: str = Field(max_length=32)
    project_id: int | None = Field(default=None, foreign_key="project.id", index=True)
    kind: str = Field(max_length=32)
    method: str = Field(default="chat.postMessage", max_length=40)
    channel_id: str | None = Field(default=None, max_length=32)
    user_id: str | None = Field(default=None, max_length=32)  # DM target, opened at send time
    payload: dict[str, Any] = _json(dict)
    status: str = Field(default=OutboxStatus.pending, max_length=16)
    attempts: int = Field(default=0)
    not_before: datetime = _created()
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = _ts()
    sent_at: datetime | None = _ts()
    message_ts: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created()
    # The bot message this row posts or updates ("req:12"): rendered from the record when sent.
    target: str | None = Field(default=None, max_length=64, index=True)
    # A digest of what was last sent for the target, to tell whether the record moved on since.
    rendered_hash: str | None = Field(default=None, max_length=64)
    # digest chart: the key of the row whose result this one shows (the digest's uploaded chart):
    # it is sent first, and its result (`message_ts`: the file id) is filled in when this one is sent.
    after_key: str | None = Field(default=None, max_length=160)


class DigestWeek(SQLModel, table=True):
    """One row per project and week: the PM preview's state and the digest's outcome."""

    __table_args__ = (sa.UniqueConstraint("project_id", "week", name="uq_digestweek_project_week"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    week: str = Field(max_length=10)  # ISO week in the project's time zone, e.g. 2026-W47
    due_at: datetime = Field(sa_type=UTCDateTime)
    preview_sent_at: datetime | None = _ts()
    note: str | None = Field(default=None, sa_type=sa.Text)
    skipped: bool = Field(default=False)
    approved_by: str | None = Field(default=None, max_length=32)
    posted_at: datetime | None = _ts()
    created_at: datetime = _created()


class ReminderItemSent(SQLModel, table=True):
    """That a reminder item reached a person, so it is not repeated within 24 hours."""

    __table_args__ = (sa.Index("ix_reminderitemsent_user_item", "user_id", "item_key", "sent_at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    item_key: str = Field(max_length=80)
    sent_at: datetime = _created()


class Snooze(SQLModel, table=True):
    """A person asked not to be reminded of an item until a given time."""

    __table_args__ = (sa.UniqueConstraint("user_id", "item_key", name="uq_snooze_user_item"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=32)
    item_key: str = Field(max_length=80)
    until: datetime = Field(sa_type=UTCDateTime)


class Submission(SQLModel, table=True):
    """A modal submission that saved something, by Slack's view id: when Slack shows "trouble
    connecting" (our answer came after 3 s) the user submits the same view again, and that
    second submission is answered "already saved" instead of storing a duplicate."""

    view_id: str = Field(primary_key=True, max_length=64)
    team_id: str = Field(max_length=32)
    callback_id: str = Field(default="", max_length=64)
    created_at: datetime = _created()


# Client items (issue 15) -------------------------------------------------------------------


class ClientItemStatus(StrEnum):
    open = "open"
    done = "done"
    cancelled = "cancelled"


CLIENT_ITEM_TITLE_MAX = 200


class ClientItem(SQLModel, table=True):
    """Something the team needs from the client (content, credentials, a sign-off), owned by a
    client-side person, due on a date; every extension is kept as a `ClientItemExtension`.
    Every change is a conditional UPDATE that bumps `version` itself (services/client_items.py)."""

    __table_args__ = (sa.Index("ix_clientitem_project_status", "project_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    project_id: int = Field(foreign_key="project.id", index=True)
    title: str = Field(max_length=CLIENT_ITEM_TITLE_MAX)
    details: str = Field(default="", sa_type=sa.Text)
    owner_user_id: str = Field(max_length=32)
    due_date: date
    milestone_id: int | None = Field(default=None, foreign_key="milestone.id")
    status: str = Field(default=ClientItemStatus.open, max_length=16)
    created_by: str = Field(max_length=32)
    closed_by: str | None = Field(default=None, max_length=32)  # who marked it done / received / cancelled
    closed_at: datetime | None = _ts()
    closed_how: str | None = Field(default=None, max_length=16)  # done (client) / received (team) / cancelled
    closed_on_behalf: bool = Field(default=False)
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class ClientItemExtension(SQLModel, table=True):
    """One *Need more time*: the due date before and after, the note, who asked and when."""

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="clientitem.id", index=True)
    old_due_date: date
    new_due_date: date
    note: str = Field(default="", sa_type=sa.Text)
    by_user_id: str = Field(max_length=32)
    on_behalf: bool = Field(default=False)
    created_at: datetime = _created()


# --- Milestone acceptance (验收) -------------------------------------------------------------


class AcceptanceStatus(StrEnum):
    requested = "requested"
    accepted = "accepted"
    issues_reported = "issues_reported"


class Acceptance(SQLModel, table=True):
    """A done milestone sent to the client for acceptance (one per milestone; each request
    again after issues is a new `round`). Every change is a conditional UPDATE that bumps
    `version` itself (bot/services/acceptance.py)."""

    __table_args__ = (sa.Index("ix_acceptance_status_requested", "status", "requested_at"),)

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    project_id: int = Field(foreign_key="project.id", index=True)
    milestone_id: int = Field(foreign_key="milestone.id", unique=True)
    round: int = Field(default=1)
    status: str = Field(default=AcceptanceStatus.requested, max_length=20)
    delivery: str = Field(default="", sa_type=sa.Text)
    link: str | None = Field(default=None, max_length=500)
    requested_by: str = Field(max_length=32)
    requested_at: datetime = Field(sa_type=UTCDateTime)
    message_channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = _ts()
    decided_on_behalf: bool = Field(default=False)
    auto_accepted: bool = Field(default=False)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class AcceptanceIssue(SQLModel, table=True):
    """One thing the client said is wrong with a delivery; resolved when the team requests
    acceptance again."""

    id: int | None = Field(default=None, primary_key=True)
    acceptance_id: int = Field(foreign_key="acceptance.id", index=True)
    round: int = Field(default=1)
    text: str = Field(sa_type=sa.Text)
    raised_by: str = Field(max_length=32)
    raised_at: datetime = Field(sa_type=UTCDateTime)
    resolved_by: str | None = Field(default=None, max_length=32)
    resolved_at: datetime | None = _ts()
# Capture from the conversation (issue 14): one record of each kind per Slack message.
CAPTURED = (Requirement, ChangeRequest, Risk, FeedbackResponse)
for _captured in CAPTURED:
    sa.Index(f"uq_{_captured.__tablename__}_source", _captured.source_channel_id, _captured.source_ts, unique=True)


# Versions ----------------------------------------------------------------------------------

VERSIONED = (Project, Requirement, Milestone, ChangeRequest, Risk)
# Columns whose change is not a change of what anybody was shown (where a message lives, when).
_BOOKKEEPING = frozenset({"version", "updated_at", "confirmation_channel_id", "confirmation_ts",
                          "approval_channel_id", "approval_ts", "intake_message_ts",
                          # capture from the conversation: where a record came from
                          "source_channel_id", "source_ts", "source_permalink", "source_user_id"})


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _bump_versions(session: sa.orm.Session, _ctx: object, _instances: object) -> None:
    """Every change of a versioned record made through the ORM bumps its version, so a button or
    a form that showed an older one can tell. Conditional UPDATE statements bump it themselves."""
    for obj in session.dirty:
        if not isinstance(obj, VERSIONED):
            continue
        state = sa.inspect(obj)
        changed = {a.key for a in state.attrs if a.history.has_changes()}
        if changed - _BOOKKEEPING:
            obj.version = (obj.version or 1) + 1
