"""The plain facts the builders draw (`bot/blocks/`): filled by the services and flows, read by
the builders, so that neither side imports the other. Dataclasses of values and records only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.models import ChangeRequest, ClientItem, FeedbackResponse, Milestone, Project, Requirement, Risk


def satisfaction(responses: Iterable[FeedbackResponse]) -> float | None:
    """The average score of the client's side (one decimal), None without any such score."""
    scores = [r.score for r in responses if r.score is not None and r.client_side]
    return round(sum(scores) / len(scores), 1) if scores else None


@dataclass
class MilestoneLine:
    id: int
    name: str
    due_date: date
    progress: int
    status: str  # done / late / at_risk / on_track
    # digest that names things: when it was done, and where its straight-line plan starts
    done_at: datetime | None = None
    start: date | None = None  # the local day the milestone was created (the plan's start)


@dataclass
class TrendWeek:
    """The client's satisfaction of one week (scores answered that week)."""

    monday: date
    average: float | None
    count: int


@dataclass
class DigestItems:
    """What the weekly digest shows of a project's client items."""

    open: list[ClientItem]
    overdue: set[int]  # ids of the overdue ones
    milestone_names: dict[int, str]
    blocking: dict[int, list[ClientItem]]  # milestone id → overdue items that put it at risk


@dataclass
class DigestFacts:
    project: Project
    week: str
    since: datetime  # start of the week, UTC
    today: date  # in the project's time zone
    week_monday: date  # first day of the digest's week
    overall: str = "on_track"
    milestones: list[MilestoneLine] = field(default_factory=list)
    due_next_week: list[MilestoneLine] = field(default_factory=list)
    requirements_raised: list[Requirement] = field(default_factory=list)
    requirements_confirmed: list[Requirement] = field(default_factory=list)
    changes_raised: list[ChangeRequest] = field(default_factory=list)
    changes_decided: list[ChangeRequest] = field(default_factory=list)
    awaiting_requirements: list[Requirement] = field(default_factory=list)
    awaiting_changes: list[ChangeRequest] = field(default_factory=list)
    feedback: list[FeedbackResponse] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)  # open or occurred, highest score first
    open_follow_ups: int = 0
    note: str | None = None
    # Working days each awaiting item has waited (requirement id / change id → days).
    requirement_waiting: dict[int, int] = field(default_factory=dict)
    change_waiting: dict[int, int] = field(default_factory=dict)
    # What we need from the client (issue 15), or None.
    client_items: DigestItems | None = None
    # Milestone acceptance: (request, milestone) accepted this week, and awaiting the client.
    accepted: list[tuple[Any, Milestone]] = field(default_factory=list)
    awaiting_acceptance: list[tuple[Any, Milestone]] = field(default_factory=list)
    # digest that names things: the chart's satisfaction trend, oldest week first (this week last)
    satisfaction_trend: list[TrendWeek] = field(default_factory=list)
    # Other features add what they name here (client items completed, acceptances this week).

    @property
    def milestones_done(self) -> list[MilestoneLine]:
        """Milestones marked done this week."""
        return [m for m in self.milestones if m.status == "done" and m.done_at is not None
                and m.done_at >= self.since]

    @property
    def feedback_kinds(self) -> dict[str, int]:
        """This week's client feedback by kind (score / praise / complaint / suggestion)."""
        out: dict[str, int] = {}
        for fb in self.feedback:
            out[fb.feedback_kind] = out.get(fb.feedback_kind, 0) + 1
        return out

    @property
    def client_risks(self) -> list[Risk]:
        return [r for r in self.risks if r.visibility == "client"]

    @property
    def feedback_average(self) -> float | None:
        """The client's satisfaction this week (answers from our own side do not count)."""
        return satisfaction(self.feedback)


@dataclass(frozen=True)
class ReminderItem:
    key: str
    user_id: str
    project: Project
    kind: str  # risk_review, risk_unmitigated, milestone_late, milestone_soon, cr_assess, cr_decision,
    #           follow_up, req_confirm
    title: str
    entity_id: int
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Undelivered:
    key: str
    kind: str
    error: str


@dataclass(frozen=True)
class HomeEntry:
    facts: DigestFacts
    items: list[ReminderItem]  # the user's reminder items of the project
    decisions: list[tuple[str, Any]]  # (kind, item) the user owes as a client approver
    undelivered: list[Undelivered] = field(default_factory=list)  # the PM's: what Slack refused
    can_decide: bool = False  # milestone acceptance: the user answers deliveries for the client
