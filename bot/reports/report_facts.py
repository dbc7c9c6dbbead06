"""The facts of the monthly and close-out reports (bot/services/reports.py gathers them, the
builders in bot/blocks/reports.py and the Markdown export draw them): plain values, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class PromptLine:
    day: date  # when it was asked (project time zone)
    question: str
    answers: int
    average: float | None


@dataclass(frozen=True)
class ChangeLine:
    id: int
    title: str
    decided: date | None
    days: int | None
    hours: Decimal | None
    cost: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class MilestoneLine:
    name: str
    planned: date  # the due date it was created with
    due: date  # its due date now (moved by approved changes or edits)
    actual: date | None  # when it was marked done
    as_of: date | None = None  # the day the report speaks of (the month's end, the close)

    @property
    def late(self) -> bool:
        """Not done, and its due date passed by the day the report speaks of."""
        return self.actual is None and self.as_of is not None and self.due < self.as_of

    @property
    def slip_days(self) -> int:
        """How far it slipped from the plan: to its actual date when done; to the report's day
        when it is late (at least that much); else to its due date."""
        end = self.actual or (self.as_of if self.late and self.as_of else self.due)
        return (end - self.planned).days


@dataclass(frozen=True)
class ItemLine:
    """A requirement, an open follow-up or an open client item: a reference and a title."""

    ref: str
    title: str
    extra: str = ""  # a date, a score: already plain text
    day: date | None = None  # a client item's due date, for the reader's CLDR format


@dataclass
class Impact:
    """The total impact of a set of approved changes."""

    days: int = 0
    hours: Decimal = Decimal(0)
    cost: dict[str, Decimal] = field(default_factory=dict)  # currency → amount (internal only)

    @classmethod
    def of(cls, lines: list[ChangeLine]) -> Impact:
        out = cls()
        for c in lines:
            out.days += c.days or 0
            out.hours += c.hours or Decimal(0)
            if c.cost is not None:
                out.cost[c.currency or ""] = out.cost.get(c.currency or "", Decimal(0)) + c.cost
        return out


@dataclass
class MonthlyFacts:
    project_id: int
    project_name: str
    language: str
    month: str  # "2026-11": the month the report is about
    first: date
    last: date
    prompts: list[PromptLine] = field(default_factory=list)
    average: float | None = None
    previous_average: float | None = None
    changes: list[ChangeLine] = field(default_factory=list)
    impact: Impact = field(default_factory=Impact)
    slips: list[MilestoneLine] = field(default_factory=list)
    raised: list[ItemLine] = field(default_factory=list)
    confirmed: list[ItemLine] = field(default_factory=list)
    previous_raised: int = 0
    previous_confirmed: int = 0


@dataclass
class CloseoutFacts:
    project_id: int
    project_name: str
    client_name: str
    language: str
    started: date
    closed: date | None
    closed_by: str | None
    delivered: list[ItemLine] = field(default_factory=list)
    deferred: list[ItemLine] = field(default_factory=list)
    dropped: list[ItemLine] = field(default_factory=list)
    not_delivered: list[ItemLine] = field(default_factory=list)  # still open when the project closed
    changes: list[ChangeLine] = field(default_factory=list)
    impact: Impact = field(default_factory=Impact)
    milestones: list[MilestoneLine] = field(default_factory=list)
    prompts: list[PromptLine] = field(default_factory=list)
    average: float | None = None
    follow_ups: list[ItemLine] = field(default_factory=list)
    client_items: list[ItemLine] = field(default_factory=list)
    went_well: str = ""
    to_improve: str = ""
