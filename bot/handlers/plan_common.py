"""Helpers `/change` and `/milestone` share: where a request comes from, and telling people."""

from __future__ import annotations

import logging

from bot.blocks.changes import explain
from bot.deps import Deps
from bot.handlers.common import Actor, language_for, project_of_channel, within_reach
from bot.models import Project
from bot.services.errors import NotFound

__all__ = ["channel_language", "check_request_channel", "explain", "int_values", "is_outside_channels"]

log = logging.getLogger(__name__)


def is_outside_channels(channel_id: str | None) -> bool:
    """A DM with the bot (or no channel at all): there a modal offers a project picker.
    In an ordinary channel without a project the answer is `common.no_project_here` instead."""
    return not channel_id or channel_id.startswith("D")


def check_request_channel(deps: Deps, channel_id: str | None, project: Project, user_id: str) -> None:
    """A button about `project` is refused in a channel bound to another project, and elsewhere
    (a DM, the App Home) for someone in none of the project's channels."""
    if not within_reach(deps, user_id, channel_id, project):
        raise NotFound("common.not_found")


def channel_language(deps: Deps, actor: Actor, channel_id: str | None) -> str:
    """The language of the project bound to the channel a request came from (else the user's)."""
    return language_for(actor, project_of_channel(deps, channel_id))


def int_values(values: list[str]) -> list[int]:
    """Option values that are ids; anything else is dropped."""
    from bot.handlers.common import as_id

    return [n for n in (as_id(v) for v in values) if n is not None]
