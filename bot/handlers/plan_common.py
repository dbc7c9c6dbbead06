"""Helpers the plan handlers share (`/milestone`, `/risk`, and `/change`): who asks and from where,
and how a refused use case is told (inline next to a field, or as a short message)."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.deps import Deps
from bot.flows.plan_scope import Refused, Who, outside_channels
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
from bot.i18n import t
from bot.models import Project
from bot.services.errors import DomainError, NotFound, ValidationFailed
from bot.services.export_changes import local_time
from bot.slack.channels import channels_of_user

log = logging.getLogger(__name__)


def is_outside_channels(channel_id: str | None) -> bool:
    """A DM with the bot (or no channel at all): there a modal offers a project picker.
    In an ordinary channel without a project the answer is `common.no_project_here` instead."""
    return outside_channels(channel_id)


def who_of(deps: Deps, body: dict[str, Any], *, reach: bool = False) -> Who:
    """The asker as a flow needs them. With `reach` (a command or a click), when the request
    comes from outside any conversation (a DM, the App Home), their channels are fetched here,
    before the flow's unit of work: for the project picker and the reach check."""
    actor = actor_of(deps, body)
    channel_id = channel_of(body)
    channels = frozenset(channels_of_user(deps.client, actor.user_id)) if (
        reach and actor.is_team and outside_channels(channel_id)) else None
    return Who(user_id=actor.user_id, is_team=actor.is_team, lang=language_for(actor), channel_id=channel_id,
               channels=channels)


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


def explain(err: DomainError, lang: str, project: Project | None = None) -> str:
    """The refusal in words, with user ids as mentions and times in the project's time zone."""
    params = dict(err.params)
    if isinstance(params.get("user"), str):
        from bot.blocks.text import mention

        params["user"] = mention(params["user"]) or "-"
    if isinstance(params.get("at"), str) and params["at"] and project is not None:
        with contextlib.suppress(ValueError):
            params["at"] = local_time(datetime.fromisoformat(params["at"]), project)
    if isinstance(params.get("status"), str):
        key = f"changes.status_{params['status']}"
        with contextlib.suppress(KeyError):
            params["status"] = t(key, lang)
    return t(err.key, lang, **params)




_SLACK_MARKUP = re.compile(r"<([@#!])?([^<>|]+)(?:\|([^<>]*))?>")


def from_slash_text(text: str) -> str:
    """The words a person typed after a slash command, as plain text to store.

    With `should_escape: true` Slack sends `&`, `<`, `>` as entities and mentions, channels and
    links as `<@U…|name>`, `<#C…|name>`, `<!here>`, `<url|label>`. Those become readable text
    (`@name`, `#name`, `@here`, `label (url)`); the entities become characters again. Whatever is
    stored is escaped again wherever it is shown."""

    def readable(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        if sigil in ("@", "#"):
            return sigil + (label or target)
        if sigil == "!":
            shown = label or target.split("^", 1)[0]
            return shown if shown.startswith("@") else "@" + shown
        return f"{label} ({target})" if label and label != target else target

    text = _SLACK_MARKUP.sub(readable, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def int_values(values: list[str]) -> list[int]:
    """Option values that are ids; anything else is dropped."""
    from bot.handlers.common import as_id

    return [n for n in (as_id(v) for v in values) if n is not None]
