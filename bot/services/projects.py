"""Projects: one per client channel, with the settings every job and message follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.i18n import LANGUAGES
from bot.models import Project, ProjectStatus
from bot.services import activity
from bot.services.errors import InvalidTransition, NotFound, ValidationFailed

NAME_MAX = 80
CLIENT_NAME_MAX = 120
CADENCES = (0, 1, 2, 4)
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
    "feedback_cadence_weeks",
    "anonymous_feedback",
    "require_pm_approval",
    "status",
]


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
    feedback_cadence_weeks: int = 0
    anonymous_feedback: bool = False
    require_pm_approval: bool = False


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
    feedback_cadence_weeks: int
    anonymous_feedback: bool
    require_pm_approval: bool


def is_timezone(name: str) -> bool:
    if name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_holidays(text: str) -> list[str] | None:
    """Dates separated by commas, spaces or new lines; None when one is not a date."""
    days: set[str] = set()
    for token in text.replace(",", " ").split():
        try:
            days.add(date.fromisoformat(token).isoformat())
        except ValueError:
            return None
    return sorted(days)


def validate(
    session: Session, team_id: str, data: ProjectInput, *, project_id: int | None = None
) -> CleanProject:
    """Check every field; raise ValidationFailed naming each bad one and why."""
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    name = " ".join((data.name or "").split())
    if not name:
        errors["name"] = ("project.error_name_required", {})
    elif len(name) > NAME_MAX:
        errors["name"] = ("common.error_too_long", {"max": NAME_MAX})
    else:
        clash = session.exec(
            select(Project.id).where(Project.team_id == team_id, Project.name == name)
        ).first()
        if clash is not None and clash != project_id:
            errors["name"] = ("project.error_name_taken", {"name": name})
    client_name = (data.client_name or "").strip()
    if len(client_name) > CLIENT_NAME_MAX:
        errors["client_name"] = ("common.error_too_long", {"max": CLIENT_NAME_MAX})
    if not data.client_channel_id:
        errors["client_channel"] = ("project.error_channel_required", {})
    else:
        bound = session.exec(
            select(Project).where(Project.client_channel_id == data.client_channel_id)
        ).first()
        if bound is not None and bound.id != project_id:
            errors["client_channel"] = ("project.error_channel_taken", {"name": bound.name})
    if data.internal_channel_id and data.internal_channel_id == data.client_channel_id:
        errors["internal_channel"] = ("project.error_internal_is_client", {})
    if not data.pm_user_id:
        errors["pm"] = ("project.error_pm_required", {})
    if not is_timezone(data.timezone or ""):
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
        feedback_cadence_weeks=data.feedback_cadence_weeks,
        anonymous_feedback=data.anonymous_feedback,
        require_pm_approval=data.require_pm_approval,
    )


def create(
    session: Session, clock: Clock, *, team_id: str, enterprise_id: str | None, actor: str, data: ProjectInput
) -> Project:
    clean = validate(session, team_id, data)
    now = clock.now()
    project = Project(
        team_id=team_id,
        enterprise_id=enterprise_id,
        created_by=actor,
        created_at=now,
        updated_at=now,
        **clean.__dict__,
    )
    session.add(project)
    session.flush()
    activity.record(
        session,
        clock,
        team_id=team_id,
        project_id=project.id,
        actor=actor,
        action="created",
        entity_type="project",
        entity_id=project.id,
        after=activity.snapshot(project, SETTINGS_FIELDS),
    )
    return project


def update(session: Session, clock: Clock, *, project: Project, actor: str, data: ProjectInput) -> Project:
    if project.status != ProjectStatus.active:
        raise InvalidTransition("project.error_closed", name=project.name)
    clean = validate(session, project.team_id, data, project_id=project.id)
    before = activity.snapshot(project, SETTINGS_FIELDS)
    for key, value in clean.__dict__.items():
        setattr(project, key, value)
    project.updated_at = clock.now()
    session.add(project)
    session.flush()
    old, new = activity.diff(before, activity.snapshot(project, SETTINGS_FIELDS))
    if new:
        activity.record(
            session,
            clock,
            team_id=project.team_id,
            project_id=project.id,
            actor=actor,
            action="edited",
            entity_type="project",
            entity_id=project.id,
            before=old,
            after=new,
        )
    return project


def close(session: Session, clock: Clock, *, project: Project, actor: str) -> Project:
    if project.status == ProjectStatus.closed:
        raise InvalidTransition("project.error_already_closed", name=project.name)
    project.status = ProjectStatus.closed
    project.closed_at = project.updated_at = clock.now()
    session.add(project)
    session.flush()
    activity.record(
        session,
        clock,
        team_id=project.team_id,
        project_id=project.id,
        actor=actor,
        action="closed",
        entity_type="project",
        entity_id=project.id,
        before={"status": ProjectStatus.active.value},
        after={"status": ProjectStatus.closed.value},
    )
    return project


def get(session: Session, team_id: str, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None or project.team_id != team_id:
        raise NotFound("project.error_not_found")
    return project


def for_channel(session: Session, team_id: str, channel_id: str | None) -> Project | None:
    """The project bound to a channel (as client or internal channel), if any."""
    if not channel_id:
        return None
    return session.exec(
        select(Project).where(
            Project.team_id == team_id,
            (Project.client_channel_id == channel_id) | (Project.internal_channel_id == channel_id),
        )
    ).first()


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


def set_intake_message(session: Session, project: Project, ts: str) -> None:
    project.intake_message_ts = ts
    session.add(project)
    session.flush()
