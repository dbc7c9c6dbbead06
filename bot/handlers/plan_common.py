"""Helpers the plan handlers share (`/milestone`, `/risk`, and `/change`): who asks and from where,
and how a refused use case is told (inline next to a field, or as a short message)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.deps import Deps
from bot.flows.people import is_outside_channels
from bot.flows.plan_scope import Refused, Who
from bot.handlers.common import (
    Actor,
    action_int,
    actor_of,
    channel_of,
    deps_of,
    domain_message,
    language_for,
    message,
    project_of_channel,
    view_errors,
    within_reach,
)
from bot.models import Project
from bot.services.errors import NotFound, ValidationFailed
from bot.slack.channels import channels_of_user

log = logging.getLogger(__name__)


def who_of(deps: Deps, body: dict[str, Any], *, reach: bool = False) -> Who:
    """The asker as a flow needs them. With `reach` (a command or a click), when the request
    comes from outside any conversation (a DM, the App Home), their channels are fetched here,
    before the flow's unit of work: for the project picker and the reach check."""
    actor = actor_of(deps, body)
    channel_id = channel_of(body)
    channels = frozenset(channels_of_user(deps.client, actor.user_id)) if (
        reach and actor.is_team and is_outside_channels(channel_id)) else None
    return Who(user_id=actor.user_id, is_team=actor.is_team, lang=language_for(actor), channel_id=channel_id,
               channels=channels, locale=actor.locale)


def inline(refused: Refused, fields: dict[str, str], block: str) -> dict[str, Any]:
    """A refused form: `response_action: errors`, each message next to its field (or `block`)."""
    err = refused.error
    if isinstance(err, ValidationFailed):
        return {"response_action": "errors", "errors": view_errors(err, refused.lang, fields)}
    return {"response_action": "errors", "errors": {block: domain_message(err, refused.lang, for_mrkdwn=False)}}


def open_from_click(body: dict[str, Any], context: Any, respond: Any,
                    use_case: Callable[[Deps, Who, int | None], Any], draw: Callable[[Any, Who], dict[str, Any]]
                    ) -> None:
    """A button that opens a form (already acknowledged): run the use case on the button's id,
    then open the modal `draw` makes of its result, or tell the refusal."""
    deps = deps_of(context)
    who = who_of(deps, body, reach=True)
    try:
        result = use_case(deps, who, action_int(body))
    except Refused as refused:
        respond(**said(refused), replace_original=False)
        return
    deps.client.views_open(trigger_id=body["trigger_id"], view=draw(result, who))


def said(refused: Refused) -> dict[str, Any]:
    """A refused command or click, as a short ephemeral answer."""
    return message(domain_message(refused.error, refused.lang))


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
