"""The preamble every milestone and risk use case shares, inside its one unit of work.

    with plan_unit(deps, who) as s:      # one session scope: lookup, checks, change, commit
        project = s.here()               # the project bound to the channel asked from
        s.team_only()
        ...
    # a refusal (any DomainError) leaves the unit rolled back and reaches the handler as
    # `Refused(error, lang)`, in the language of the project it was about (else the asker's)

`Who` is what the handler learned from Slack before the flow ran (who asks, from where, whether
they belong to the installing workspace, and — for a click outside any channel — which channels
they are in), so no Slack call happens while the unit holds the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bot.deps import Deps
from bot.flows.unit import Unit, unit_of_work
from bot.i18n import person_language
from bot.models import Project, ProjectStatus
from bot.services import projects
from bot.services.errors import DomainError, Forbidden, InvalidTransition, NotFound


@dataclass(frozen=True)
class Who:
    """The person behind a request, and where it came from."""

    user_id: str
    is_team: bool
    lang: str  # their own language, for answers about no project
    channel_id: str | None = None
    channels: frozenset[str] | None = None  # their channels (fetched only outside a conversation)
    locale: str | None = None  # their Slack locale, when Slack tells it (issue 17)


class Refused(Exception):
    """A use case said no (nothing changed): the reason, in the language to tell it in."""

    def __init__(self, error: DomainError, lang: str) -> None:
        super().__init__(error.key)
        self.error = error
        self.lang = lang


@dataclass
class PlanScope:
    unit: Unit
    who: Who
    lang: str
    project: Project | None = field(default=None)

    @property
    def session(self):
        return self.unit.session

    def use(self, project: Project) -> Project:
        """From here on, answers are about `project`: in the asker's language where Slack tells it,
        else the project's (answers and forms are read by the asker alone; issue 17)."""
        self.project, self.lang = project, person_language(self.who.locale, project.language)
        return project

    def here(self) -> Project | None:
        """The project bound to the channel the request came from."""
        found = projects.for_channel(self.session, self.unit.team_id, self.who.channel_id)
        return self.use(found) if found is not None else None

    def project_by_id(self, project_id: int | None) -> Project:
        if project_id is None:
            raise NotFound("common.not_found")
        return self.use(projects.get(self.session, self.unit.team_id, project_id))

    def team_only(self) -> None:
        if not self.who.is_team:
            raise Forbidden("common.refused_team_only")

    def mine(self) -> list[Project]:
        """The active projects whose channels the asker is in (the picker outside a project)."""
        return projects.visible_to(self.session, self.unit.team_id, set(self.who.channels or ()),
                                   include_closed=False)

    def within_reach(self, project: Project) -> None:
        """A click about `project` counts in a channel bound to that project; elsewhere (a DM,
        the App Home) only for someone in one of its channels. Button values are untrusted."""
        bound = projects.for_channel(self.session, self.unit.team_id, self.who.channel_id)
        if bound is not None:
            ok = bound.id == project.id
        else:
            theirs = {project.client_channel_id, project.internal_channel_id} - {None}
            ok = bool(theirs & set(self.who.channels or ()))
        if not ok:
            raise NotFound("common.not_found")

    def active(self, project: Project, key: str = "project.error_closed") -> None:
        if project.status != ProjectStatus.active:
            raise InvalidTransition(key, name=project.name)


@contextmanager
def plan_unit(deps: Deps, who: Who) -> Iterator[PlanScope]:
    """One unit of work for one milestone or risk request; refusals become `Refused`."""
    scope: PlanScope | None = None
    try:
        with unit_of_work(deps) as u:
            scope = PlanScope(unit=u, who=who, lang=who.lang)
            yield scope
    except DomainError as err:
        raise Refused(err, scope.lang if scope else who.lang) from err
