"""Who acts, as a flow sees them: a handler's `Actor` (built from the Slack payload) satisfies it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.db import read_scope
from bot.deps import Deps
from bot.models import Project
from bot.services import project_cache, projects
from bot.slack.channels import channels_of_user


class Person(Protocol):
    """The person behind a request: who, their Slack language, and which side they are on."""

    @property
    def user_id(self) -> str: ...

    @property
    def locale(self) -> str | None: ...

    @property
    def is_team(self) -> bool: ...

    @property
    def is_client_side(self) -> bool: ...


@dataclass(frozen=True)
class KnownPerson:
    """A `Person` whose channels (those Slack says they are in) were looked up already."""

    user_id: str
    locale: str | None
    is_team: bool
    is_client_side: bool
    channels: frozenset[str]


def is_outside_channels(channel_id: str | None) -> bool:
    """A DM with the bot, or no channel (the App Home): no project's channel."""
    return not channel_id or channel_id.startswith("D")


def knowing_channels(deps: Deps, who: Person, channel_id: str | None) -> Person:
    """`who`, with their channels looked up now, BEFORE the flow's transaction begins, when the
    request comes from a place no project holds (a DM, the App Home, a channel without a
    project): there an item may be acted on (a project picked) only by someone in one of its
    project's channels, which only Slack can say. Looked up inside the transaction, Slack's
    answer was waited for while holding a writer's turn: on SQLite every other request's save
    waited with it (minutes, on a 429's Retry-After)."""
    if isinstance(who, KnownPerson) or reached_by_channel(deps, channel_id):
        return who
    return KnownPerson(user_id=who.user_id, locale=who.locale, is_team=who.is_team,
                       is_client_side=who.is_client_side,
                       channels=frozenset(channels_of_user(deps.client, who.user_id)))


def reached_by_channel(deps: Deps, channel_id: str | None) -> bool:
    """Whether a project of this workspace holds the channel, so that the channel alone decides
    what a request from it may reach (else the person's channels do): from the project cache,
    else read apart (which fills the cache for the transaction that follows). Outside any
    transaction."""
    if channel_id is None or is_outside_channels(channel_id):
        return False
    team_id = deps.workspace.team_id
    cached = project_cache.peek(deps.engine, (team_id, channel_id))
    if cached is project_cache.UNKNOWN:
        with read_scope(deps.engine) as session:
            return projects.for_channel(session, team_id, channel_id) is not None
    return isinstance(cached, Project) and cached.team_id == team_id


def channels_of(deps: Deps, who: Person) -> set[str]:
    """The channels `who` is in: as looked up before the transaction (`knowing_channels`), else
    from Slack now (a channel that lost its project between the two)."""
    if isinstance(who, KnownPerson):
        return set(who.channels)
    return channels_of_user(deps.client, who.user_id)


def display_names(deps: Deps, user_ids: set[str]) -> dict[str, str]:
    """Display names by user id, where Slack knows the user. Asked outside any transaction:
    a name not cached yet is a Web API call."""
    names = {}
    for user_id in sorted(user_ids):
        info = deps.users.info(deps.client, user_id)
        if info is not None and info.name:
            names[user_id] = info.name
    return names
