"""Project use cases: set up, edit, show, list and close a project, and its intake message.

Each function is one unit of work (one session scope): the project-by-channel lookup, the
permission check, the change, the activity and the messages owed commit together. What only
Slack knows (is the PM a member of the workspace? is the internal channel shared with another
organisation? which channels is the user in?) is asked *before* the transaction opens, so no
database lock is held while Slack answers.

The intake message (SPEC §3: *New requirement*, *Change request*, *Give feedback*) is a live
message, `TargetKind.intake`: posted with no payload and drawn from the project when it is sent
(`render_intake`), updated in place with `u.refresh` after an edit or a close; its ts is
recorded by `record_intake` and it is pinned by `pin_intake` once posted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot.blocks.project import intake_message
from bot.deps import Deps
from bot.flows import outbox_keys
from bot.flows.messages import Rendered
from bot.flows.outbox_keys import Kind, Target, TargetKind
from bot.flows.people import is_outside_channels
from bot.flows.unit import Unit, unit_of_work
from bot.models import Outbox, Project
from bot.services import edits, projects
from bot.slack.channels import channels_of_user, is_shared_externally
from bot.slack.users import UserKind

log = logging.getLogger(__name__)


# Looking a project up -----------------------------------------------------------------------


def here(deps: Deps, channel_id: str | None) -> Project | None:
    """The project bound to `channel_id` (one or none)."""
    with unit_of_work(deps) as u:
        return projects.for_channel(u.session, u.team_id, channel_id)


def reach(deps: Deps, user_id: str, channel_id: str | None) -> set[str] | None:
    """The user's channels when a click comes from outside any channel (a DM, the App Home),
    asked before the transaction; None for a click in a channel (the channel decides)."""
    return channels_of_user(deps.client, user_id) if is_outside_channels(channel_id) else None


def within_reach(session: Session, team_id: str, project: Project, channel_id: str | None,
                 user_channels: set[str] | None) -> bool:
    """May a click in `channel_id` act on `project`? In a channel, only when that channel is
    bound to this very project; elsewhere only for someone in one of the project's channels.
    Button values are untrusted: they may name any project's items."""
    if user_channels is None:
        bound = projects.for_channel(session, team_id, channel_id)
        return bound is not None and bound.id == project.id
    return bool({project.client_channel_id, project.internal_channel_id} & user_channels)


@dataclass(frozen=True)
class Listing:
    here: Project | None
    projects: list[Project]


def visible(deps: Deps, user_id: str, channel_id: str | None) -> Listing:
    """`/project list`: the projects of the user's channels (and the one of this channel)."""
    channels = channels_of_user(deps.client, user_id)
    with unit_of_work(deps) as u:
        return Listing(projects.for_channel(u.session, u.team_id, channel_id),
                       projects.visible_to(u.session, u.team_id, channels))


# The project form ---------------------------------------------------------------------------


def form_stamp(project: Project) -> dict[str, Any]:
    """What an edit form opened on `project` carries, to apply only what the person changes."""
    return edits.stamp(project.version, projects.shown_fields(project))


def slack_facts(deps: Deps, data: projects.ProjectInput) -> projects.SlackFacts:
    """What the project rules need from Slack: the PM's kind, the internal channel's sharing."""
    pm_ok = True
    if data.pm_user_id:
        pm_ok = deps.users.kind(deps.client, data.pm_user_id, deps.workspace) == UserKind.team
    shared = bool(data.internal_channel_id) and is_shared_externally(deps.client, data.internal_channel_id or "")
    return projects.SlackFacts(pm_is_member=pm_ok, internal_is_shared=shared)


@dataclass(frozen=True)
class Saved:
    project: Project
    created: bool
    intake_failed: bool  # the intake message was owed but could not be posted (yet)


def save(deps: Deps, *, user_id: str, data: projects.ProjectInput, project_id: int | None = None,
         stamp: Mapping[str, Any] | None = None) -> Saved:
    """Create a project (`project_id` None) or apply an edit form. Raises ValidationFailed
    (each message next to its field) or another DomainError; nothing is stored then."""
    facts = slack_facts(deps, data)
    with unit_of_work(deps) as u:
        if project_id is None:
            project = projects.create(u.session, u.clock, team_id=u.team_id,
                                      enterprise_id=deps.workspace.enterprise_id, actor=user_id, data=data,
                                      facts=facts)
            moved = True
        else:
            project = projects.get(u.session, u.team_id, project_id)
            old_channel = project.client_channel_id
            project = projects.update(u.session, u.clock, project=project, actor=user_id, data=data, facts=facts,
                                      form_stamp=stamp)
            moved = old_channel != project.client_channel_id
        post = _owe_intake(u, project, moved=moved)
    failed = post is not None and post not in u.sent
    return Saved(project=project, created=project_id is None, intake_failed=failed)


def _owe_intake(u: Unit, project: Project, *, moved: bool) -> int | None:
    """Post the intake message in a (new) client channel, or refresh it where it is. Returns
    the id of the post it owes, if any."""
    assert project.id is not None
    target = outbox_keys.target(TargetKind.intake, project.id)
    if not moved and project.intake_message_ts:
        u.refresh(target, project)
        return None
    if moved:
        projects.set_intake_message(u.session, project, None)
    row = u.owe(key=outbox_keys.intake(project.id, project.client_channel_id), kind=Kind.intake, project=project,
                channel_id=project.client_channel_id, target=target)
    if row.status == "sent" and row.message_ts:  # back in a channel where it was posted before
        projects.set_intake_message(u.session, project, row.message_ts)
        u.refresh(target, project)
        return None
    return row.id if row.status == "pending" else None


# The intake message, drawn at send time -------------------------------------------------------


def render_intake(session: Session, target: Target) -> Rendered | None:
    project = session.get(Project, target.id)
    if project is None:
        return None
    return Rendered(channel_id=project.client_channel_id, payload=intake_message(project),
                    ts=project.intake_message_ts)


def record_intake(session: Session, row: Outbox, ts: str | None) -> None:
    """Remember where the intake message lives (unless the project moved channel meanwhile)."""
    if row.project_id is None or not ts or row.method != "chat.postMessage":
        return
    project = session.get(Project, row.project_id)
    if project is not None and project.client_channel_id == row.channel_id:
        projects.set_intake_message(session, project, ts)


def pin_intake(deps: Deps, row: Outbox, ts: str) -> None:
    """Pin the intake message once posted, where the scopes and the channel allow it."""
    try:
        deps.client.pins_add(channel=row.channel_id, timestamp=ts)
    except SlackApiError as err:  # pins:write may be missing, or the channel may not allow pins
        log.info("could not pin the intake message in %s: %s", row.channel_id, err.response.get("error"))
