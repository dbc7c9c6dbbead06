"""Projects: one per client channel, with the settings every job and message follows.

One channel, one role (SPEC §7): a channel belongs to at most one project, as its client channel
or as its internal channel, and a channel shared with another organisation is never an internal
channel. `validate` refuses both (next to the field); `for_channel` finds one project or none,
deterministically, even in data written before the rule (the client role wins, then the oldest);
`internal_channel` never names another project's client channel.

The edit form carries a stamp of what it showed (`shown_fields`); `update` applies only the
fields the person changed, and refuses (next to the field) a change to a field someone else
changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time
from typing import Any

from sqlalchemy import update as sql_update
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.i18n import LANGUAGES
from bot.models import Project, ProjectStatus
from bot.reports import holiday_regions
from bot.services import activity, calendar, edits, project_cache
from bot.services.errors import InvalidTransition, NotFound, ValidationFailed

NAME_MAX = 80
CLIENT_NAME_MAX = 120
CADENCES = (0, 1, 2, 4)
AUTO_ACCEPT_CHOICES = (0, 3, 5, 10)  # milestone acceptance: working days (0 = never)
SETTINGS_FIELDS = [
    "name",
    "client_name",
    "client_channel_id",
    "internal_channel_id",
    "pm_user_id",
    "client_approver_ids",
    "timezone",
    "language",
    "digest_weekday",
    "digest_time",
    "working_days",
    "holidays",
    "country",
    "subdivision",
    "feedback_cadence_weeks",
    "anonymous_feedback",
    "require_pm_approval",
    "auto_accept_after_days",  # milestone acceptance
    "monthly_report",  # reports (issue 16)
    "charts_enabled",  # digest chart
    "status",
    "capture_emoji",  # capture from the conversation (issue 14)
]
# The form field (a key of `ValidationFailed.errors`) of each attribute the project form edits.
FORM_FIELDS = {
    "name": "name", "client_name": "client_name", "client_channel_id": "client_channel",
    "internal_channel_id": "internal_channel", "pm_user_id": "pm", "client_approver_ids": "approvers",
    "timezone": "timezone", "language": "language", "digest_weekday": "digest_weekday",
    "digest_time": "digest_time", "working_days": "working_days", "holidays": "holidays",
    "feedback_cadence_weeks": "feedback_cadence", "anonymous_feedback": "options",
    "require_pm_approval": "options",
    # public-holiday calendar (issue 17): one picker names both
    "country": "public_holidays", "subdivision": "public_holidays",
    "auto_accept_after_days": "auto_accept",  # milestone acceptance
    "capture_emoji": "capture_emoji",  # capture from the conversation (issue 14)
    "monthly_report": "options",  # reports (issue 16)
    "charts_enabled": "options",  # digest chart
}


@dataclass
class ProjectInput:
    """What a person typed or picked in the project modal, before validation."""

    name: str
    client_channel_id: str | None
    pm_user_id: str | None
    client_name: str = ""
    internal_channel_id: str | None = None
    client_approver_ids: list[str] = field(default_factory=list)
    timezone: str = "UTC"
    language: str = "en"
    digest_weekday: int = 4
    digest_time: str = "16:00"
    working_days: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    holidays_text: str = ""
    # The public-holiday calendar, "" for none; None when not given: a new project takes its time
    # zone's (holiday_regions.default_calendar), an edited one keeps its own.
    country: str | None = None
    subdivision: str | None = None
    feedback_cadence_weeks: int = 0
    anonymous_feedback: bool = False
    require_pm_approval: bool = False
    auto_accept_after_days: int = 0  # milestone acceptance: 0 = never
    # The capture reaction's emoji name ("" or "off": none); None: the form did not show it (kept).
    capture_emoji: str | None = None
    monthly_report: bool = False  # reports (issue 16)
    charts_enabled: bool = True  # digest chart


@dataclass(frozen=True)
class CleanProject:
    name: str
    client_name: str
    client_channel_id: str
    internal_channel_id: str | None
    pm_user_id: str
    client_approver_ids: list[str]
    timezone: str
    language: str
    digest_weekday: int
    digest_time: time
    working_days: list[int]
    holidays: list[str]
    country: str
    subdivision: str
    feedback_cadence_weeks: int
    anonymous_feedback: bool
    require_pm_approval: bool
    auto_accept_after_days: int
    capture_emoji: str = "memo"
    monthly_report: bool = False  # reports (issue 16)
    charts_enabled: bool = True  # digest chart


@dataclass(frozen=True)
class SlackFacts:
    """What only Slack knows and the rules need; asked before the transaction opens."""

    pm_is_member: bool = True  # a member of the installing workspace: not a guest, not external
    internal_is_shared: bool = False  # the internal channel is shared with another organisation


def shown_fields(project: Project | CleanProject) -> dict[str, Any]:
    """The values the project form shows (and sends back), by attribute: what its stamp records."""
    return {name: getattr(project, name) for name in FORM_FIELDS}


def parse_holidays(text: str) -> list[str] | None:
    """Dates separated by commas, spaces or new lines; None when one is not a date."""
    days: set[str] = set()
    for token in text.replace(",", " ").split():
        try:
            days.add(date.fromisoformat(token).isoformat())
        except ValueError:
            return None
    return sorted(days)


def channel_holder(session: Session, channel_id: str, *, other_than: int | None = None) -> Project | None:
    """The project (other than `other_than`) whose client or internal channel `channel_id` is.
    When old data has several, the one whose client channel it is wins, then the oldest."""
    rows = session.exec(
        select(Project)
        .where((Project.client_channel_id == channel_id) | (Project.internal_channel_id == channel_id))
        .order_by(col(Project.id))
    ).all()
    others = [p for p in rows if p.id != other_than]
    clients = [p for p in others if p.client_channel_id == channel_id]
    return (clients or others or [None])[0]


Errors = dict[str, tuple[str, dict[str, object]]]


def _check_channels(session: Session, data: ProjectInput, project_id: int | None, facts: SlackFacts,
                    errors: Errors) -> None:
    if not data.client_channel_id:
        errors["client_channel"] = ("project.error_channel_required", {})
    elif (holder := channel_holder(session, data.client_channel_id, other_than=project_id)) is not None:
        errors["client_channel"] = ("project.error_channel_taken", {"name": holder.name})
    internal = data.internal_channel_id
    if not internal:
        return
    if internal == data.client_channel_id:
        errors["internal_channel"] = ("project.error_internal_is_client", {})
    elif (holder := channel_holder(session, internal, other_than=project_id)) is not None:
        errors["internal_channel"] = ("project.error_channel_taken", {"name": holder.name})
    elif facts.internal_is_shared:
        errors["internal_channel"] = ("project.error_internal_shared", {})


def _check_name(session: Session, team_id: str, raw: str, project_id: int | None, errors: Errors) -> str:
    name = " ".join((raw or "").split())
    if not name:
        errors["name"] = ("project.error_name_required", {})
    elif len(name) > NAME_MAX:
        errors["name"] = ("common.error_too_long", {"max": NAME_MAX})
    else:
        clash = session.exec(select(Project.id).where(Project.team_id == team_id, Project.name == name)).first()
        if clash is not None and clash != project_id:
            errors["name"] = ("project.error_name_taken", {"name": name})
    return name


def _check_public_calendar(data: ProjectInput, errors: Errors) -> tuple[str, str]:
    """The public-holiday calendar picked (the time zone's when none was given)."""
    if data.country is None:
        return holiday_regions.default_calendar(data.timezone)
    country, subdivision = (data.country or "").strip().upper(), (data.subdivision or "").strip()
    if not holiday_regions.is_known(country, subdivision):
        errors["public_holidays"] = ("calendar.error_unknown", {})
        return "", ""
    return country, subdivision


def validate(session: Session, team_id: str, data: ProjectInput, *, project_id: int | None = None,
             facts: SlackFacts | None = None) -> CleanProject:
    """Check every field; raise ValidationFailed naming each bad one and why."""
    facts = facts or SlackFacts()
    errors: Errors = {}
    name = _check_name(session, team_id, data.name, project_id, errors)
    client_name = (data.client_name or "").strip()
    if len(client_name) > CLIENT_NAME_MAX:
        errors["client_name"] = ("common.error_too_long", {"max": CLIENT_NAME_MAX})
    _check_channels(session, data, project_id, facts, errors)
    if not data.pm_user_id:
        errors["pm"] = ("project.error_pm_required", {})
    elif not facts.pm_is_member:
        errors["pm"] = ("project.error_pm_not_member", {})
    if not calendar.is_timezone(data.timezone or ""):
        errors["timezone"] = ("project.error_timezone", {})
    if data.language not in LANGUAGES:
        errors["language"] = ("project.error_language", {})
    if not 0 <= data.digest_weekday <= 6:
        errors["digest_weekday"] = ("project.error_weekday", {})
    try:
        hh, mm = (int(part) for part in (data.digest_time or "").split(":"))
        digest_time = time(hh, mm)
    except ValueError:
        errors["digest_time"] = ("project.error_time", {})
        digest_time = time(16, 0)
    working_days = sorted({d for d in data.working_days if 0 <= d <= 6})
    if not working_days:
        errors["working_days"] = ("project.error_working_days", {})
    holidays = parse_holidays(data.holidays_text or "")
    if holidays is None:
        errors["holidays"] = ("project.error_holidays", {})
    if data.feedback_cadence_weeks not in CADENCES:
        errors["feedback_cadence"] = ("project.error_cadence", {})
    country, subdivision = _check_public_calendar(data, errors)
    if data.auto_accept_after_days not in AUTO_ACCEPT_CHOICES:  # milestone acceptance
        errors["auto_accept"] = ("acceptance.error_auto_accept", {})
    from bot.services.capture import DEFAULT_EMOJI, normalise_emoji

    emoji = DEFAULT_EMOJI if data.capture_emoji is None else normalise_emoji(data.capture_emoji)
    if emoji is None:
        errors["capture_emoji"] = ("capture.error_emoji", {})
    if errors:
        raise ValidationFailed(errors)
    return CleanProject(
        name=name,
        client_name=client_name,
        client_channel_id=data.client_channel_id or "",
        internal_channel_id=data.internal_channel_id or None,
        pm_user_id=data.pm_user_id or "",
        client_approver_ids=list(dict.fromkeys(data.client_approver_ids)),
        timezone=data.timezone,
        language=data.language,
        digest_weekday=data.digest_weekday,
        digest_time=digest_time,
        working_days=working_days,
        holidays=holidays or [],
        country=country,
        subdivision=subdivision,
        feedback_cadence_weeks=data.feedback_cadence_weeks,
        anonymous_feedback=data.anonymous_feedback,
        require_pm_approval=data.require_pm_approval,
        auto_accept_after_days=data.auto_accept_after_days,
        capture_emoji=emoji or "",
        monthly_report=data.monthly_report,
        charts_enabled=data.charts_enabled,
    )


def create(session: Session, clock: Clock, *, team_id: str, enterprise_id: str | None, actor: str,
           data: ProjectInput, facts: SlackFacts | None = None) -> Project:
    clean = validate(session, team_id, data, facts=facts)
    now = clock.now()
    project = Project(team_id=team_id, enterprise_id=enterprise_id, created_by=actor, created_at=now,
                      updated_at=now, monthly_report_since=now if clean.monthly_report else None, **clean.__dict__)
    session.add(project)
    session.flush()
    activity.record(session, clock, team_id=team_id, project_id=project.id, actor=actor, action="created",
                    entity_type="project", entity_id=project.id, after=activity.snapshot(project, SETTINGS_FIELDS))
    return project


def _shown_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return "-" if value in (None, "") else str(value)


def _conflict_value(project: Project, name: str) -> str:
    """What a field someone else changed now holds (the calendar as one code: "DE-BE")."""
    if FORM_FIELDS[name] == "public_holidays":
        return _shown_value(holiday_regions.join(project.country, project.subdivision))
    return _shown_value(getattr(project, name))


def update(session: Session, clock: Clock, *, project: Project, actor: str, data: ProjectInput,
           facts: SlackFacts | None = None, form_stamp: Mapping[str, Any] | None = None) -> Project:
    """Apply the fields the form changed (all that differ, for a form without a stamp). A field
    someone else changed since the form was opened, and this form changed too, is refused."""
    if project.status != ProjectStatus.active:
        raise InvalidTransition("project.error_closed", name=project.name)
    if data.country is None:  # a form without the calendar field keeps the project's
        data = replace(data, country=project.country, subdivision=project.subdivision)
    if data.capture_emoji is None:  # a form without the field keeps the emoji
        data = replace(data, capture_emoji=project.capture_emoji or "off")
    clean = validate(session, project.team_id, data, project_id=project.id, facts=facts)
    plan = edits.plan(form_stamp, submitted=shown_fields(clean), current=shown_fields(project))
    if plan.conflicts:
        raise ValidationFailed({FORM_FIELDS[f]: ("project.error_changed_meanwhile",
                                                 {"value": _conflict_value(project, f)})
                                for f in plan.conflicts})
    before = activity.snapshot(project, SETTINGS_FIELDS)
    for key, value in plan.changes.items():
        setattr(project, key, value)
    if not plan.changes:
        return project
    project.updated_at = clock.now()
    if "monthly_report" in plan.changes:  # a report due before it was turned on is not posted late
        project.monthly_report_since = project.updated_at if project.monthly_report else None
    session.add(project)
    session.flush()
    old, new = activity.diff(before, activity.snapshot(project, SETTINGS_FIELDS))
    if new:
        activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor,
                        action="edited", entity_type="project", entity_id=project.id, before=old, after=new)
    return project


def close(session: Session, clock: Clock, *, project: Project, actor: str) -> Project:
    """Close an active project. A conditional UPDATE, so of two closes at the same moment one
    wins and the other is refused (what a close owes — the close-out report — is owed once)."""
    if project.status == ProjectStatus.closed:
        raise InvalidTransition("project.error_already_closed", name=project.name)
    now = clock.now()
    session.flush()
    result = session.execute(
        sql_update(Project)
        .where(col(Project.id) == project.id, col(Project.status) == ProjectStatus.active)
        .values(status=ProjectStatus.closed, closed_at=now, updated_at=now, version=col(Project.version) + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidTransition("project.error_already_closed", name=project.name)
    session.refresh(project)
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=actor, action="closed",
                    entity_type="project", entity_id=project.id, before={"status": ProjectStatus.active.value},
                    after={"status": ProjectStatus.closed.value})
    return project


def get(session: Session, team_id: str, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None or project.team_id != team_id:
        raise NotFound("project.error_not_found")
    return project


def for_channel(session: Session, team_id: str, channel_id: str | None) -> Project | None:
    """The one project bound to a channel (as client or internal channel), or None. Data written
    before the one-role rule may bind a channel twice: the project whose client channel it is
    wins, then the oldest."""
    if not channel_id:
        return None
    holder = project_cache.lookup(session, (team_id, channel_id), lambda s: channel_holder(s, channel_id))
    return holder if holder is not None and holder.team_id == team_id else None


def internal_channel(session: Session, project: Project) -> str | None:
    """Where the project's internal (team-only) messages may go: its internal channel, unless
    that channel is some other project's client channel (data from before the one-role rule)."""
    channel = project.internal_channel_id
    if not channel or channel == project.client_channel_id:
        return None
    clash = session.exec(select(Project.id).where(Project.client_channel_id == channel,
                                                  Project.id != project.id)).first()
    return None if clash is not None else channel


def visible_to(
    session: Session, team_id: str, channel_ids: set[str], *, include_closed: bool = True
) -> list[Project]:
    """Projects whose client or internal channel is one of `channel_ids`, newest first."""
    if not channel_ids:
        return []
    stmt = select(Project).where(
        Project.team_id == team_id,
        col(Project.client_channel_id).in_(channel_ids) | col(Project.internal_channel_id).in_(channel_ids),
    )
    if not include_closed:
        stmt = stmt.where(Project.status == ProjectStatus.active)
    return list(session.exec(stmt.order_by(col(Project.created_at).desc(), col(Project.id).desc())))


def set_intake_message(session: Session, project: Project, ts: str | None) -> None:
    project.intake_message_ts = ts
    session.add(project)
    session.flush()
