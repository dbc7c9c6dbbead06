"""Small helpers every handler shares: who is asking, in which language, reading views, and
refusing.

Refusing, the one way
---------------------
A refusal is a `DomainError` (bot/services/errors.py): an i18n key and its parameters as they
are, user text unescaped. Services and flows raise or return one; a handler turns it into words
with exactly one of these, which escape the parameters for mrkdwn exactly once (and not at all
where Slack shows plain text):

- `refused(err, lang, about=ref)` — the ephemeral message for `ack(refused(...))` or
  `respond(**refused(...))`; `about` names the record it is about ("*REQ-12*:" first);
- `refused_inline(err, lang, block_id)` — `ack(**refused_inline(...))` for a modal: the refusal
  under a field (a `ValidationFailed` puts each message under its own field);
- `domain_message(err, lang)` — the words alone, for a text built around them.

A refusal decided in the handler itself is a DomainError too:
`ack(refused(DomainError("common.not_found"), lang))` — never `t(key)` with parameters escaped by
hand. `refusal(key, lang, **params)` is the older shorthand whose caller escapes the parameters;
it goes once every handler words its refusals through `refused`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slack_bolt import BoltContext

from bot.deps import Deps
from bot.i18n import person_language, t
from bot.models import Project
from bot.services.errors import DomainError, ValidationFailed
from bot.slack.users import UserKind


def deps_of(context: BoltContext) -> Deps:
    return context["deps"]


@dataclass(frozen=True)
class Actor:
    """The person behind a request, as the authorization rules need them."""

    user_id: str
    kind: UserKind
    locale: str | None = None

    @property
    def is_team(self) -> bool:
        return self.kind == UserKind.team

    @property
    def is_client_side(self) -> bool:
        """External users and guests act for the client."""
        return self.kind != UserKind.team


def payload_user(body: dict[str, Any]) -> tuple[str, str | None]:
    """The user id and their own team id, from any kind of payload."""
    user = body.get("user")
    if isinstance(user, dict):
        return str(user.get("id", "")), user.get("team_id")
    return str(body.get("user_id", "")), None


def actor_of(deps: Deps, body: dict[str, Any]) -> Actor:
    user_id, team_id = payload_user(body)
    kind = deps.users.kind(deps.client, user_id, deps.workspace, payload_team_id=team_id)
    info = deps.users.info(deps.client, user_id)
    return Actor(user_id=user_id, kind=kind, locale=info.locale if info else None)


def language_for(actor: Actor | None, project: Project | None = None) -> str:
    """An ephemeral answer (or a modal) is read by one person: their Slack locale where it is
    known, else the project's language (issue 17). Channel posts use the project's language."""
    return person_language(actor.locale if actor else None, project.language if project is not None else None)


def _channel_id(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def channel_of(body: dict[str, Any]) -> str | None:
    """The channel a command ran or a button was clicked in (None in the App Home or a modal)."""
    if "channel_id" in body:
        return _channel_id(body["channel_id"])
    channel = body.get("channel")
    if isinstance(channel, dict) and _channel_id(channel.get("id")):
        return channel["id"]
    container = body.get("container")
    return _channel_id(container.get("channel_id")) if isinstance(container, dict) else None


def message(text: str, blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An ephemeral answer for `ack`/`respond`."""
    out: dict[str, Any] = {"response_type": "ephemeral", "text": text[:3000]}
    if blocks:
        out["blocks"] = blocks
    return out


def refusal(key: str, lang: str, **params: object) -> dict[str, Any]:
    """Older shorthand: the caller escapes `params`. Use `refused(DomainError(key, **params), lang)`."""
    return message(t(key, lang, **params))


def domain_message(err: DomainError, lang: str, *, for_mrkdwn: bool = True, about: str | None = None) -> str:
    """The refusal in words. Its parameters may hold user text (a project's name), so they are
    escaped for mrkdwn unless the text goes to a plain-text place (a modal's field error).
    `about` (a record's reference) comes first, in bold."""
    from bot.blocks.text import safe

    params = {k: safe(v, 300) if isinstance(v, str) and for_mrkdwn else v for k, v in err.params.items()}
    text = t(err.key, lang, **params)
    if about is None:
        return text
    ref = safe(about, 100) if for_mrkdwn else about
    return t("common.refused_about", lang, ref=ref) + " " + text


def refused(err: DomainError, lang: str, *, about: str | None = None,
            blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A refusal as the ephemeral message for `ack(...)` / `respond(**...)`."""
    return message(domain_message(err, lang, about=about), blocks)


def refused_inline(err: DomainError, lang: str, block_id: str,
                   field_to_block: dict[str, str] | None = None) -> dict[str, Any]:
    """A refusal in a modal, for `ack(**...)`: the modal stays open with the message under
    `block_id` (a ValidationFailed: each field's message under its own block)."""
    if isinstance(err, ValidationFailed):
        return {"response_action": "errors", "errors": view_errors(err, lang, field_to_block)}
    return {"response_action": "errors", "errors": {block_id: domain_message(err, lang, for_mrkdwn=False)[:2000]}}


def view_errors(err: ValidationFailed, lang: str, field_to_block: dict[str, str] | None = None) -> dict[str, str]:
    """`response_action: errors` for a modal: each message next to its field."""
    mapping = field_to_block or {}
    return {mapping.get(f, f): t(key, lang, **params)[:2000] for f, (key, params) in err.errors.items()}


# Reading `view.state.values` -------------------------------------------------------------


def view_values(view: Any) -> dict[str, Any]:
    """`view.state.values` of a submitted modal ({} when it is missing or not a mapping)."""
    state = view.get("state") if isinstance(view, dict) else None
    values = state.get("values") if isinstance(state, dict) else None
    return values if isinstance(values, dict) else {}


def element(values: dict[str, Any], block_id: str) -> dict[str, Any]:
    block = values.get(block_id) if isinstance(values, dict) else None
    if not isinstance(block, dict) or not block:
        return {}
    state = next(iter(block.values()))
    return state if isinstance(state, dict) else {}


def text_value(values: dict[str, Any], block_id: str) -> str:
    value = element(values, block_id).get("value")
    return value if isinstance(value, str) else ""


def selected_value(values: dict[str, Any], block_id: str) -> str | None:
    opt = element(values, block_id).get("selected_option")
    if isinstance(opt, dict) and isinstance(opt.get("value"), str):
        return opt["value"]
    return None


def selected_values(values: dict[str, Any], block_id: str) -> list[str]:
    opts = element(values, block_id).get("selected_options")
    if not isinstance(opts, list):
        return []
    return [o["value"] for o in opts if isinstance(o, dict) and isinstance(o.get("value"), str)]


def selected_conversation(values: dict[str, Any], block_id: str) -> str | None:
    el = element(values, block_id)
    value = el.get("selected_conversation") or el.get("selected_channel")
    return value if isinstance(value, str) and value else None


def selected_user(values: dict[str, Any], block_id: str) -> str | None:
    value = element(values, block_id).get("selected_user")
    return value if isinstance(value, str) and value else None


def selected_users(values: dict[str, Any], block_id: str) -> list[str]:
    users = element(values, block_id).get("selected_users")
    return [u for u in users if isinstance(u, str)] if isinstance(users, list) else []


def selected_date(values: dict[str, Any], block_id: str) -> str | None:
    value = element(values, block_id).get("selected_date")
    return value if isinstance(value, str) else None


def selected_time(values: dict[str, Any], block_id: str) -> str | None:
    value = element(values, block_id).get("selected_time")
    return value if isinstance(value, str) else None


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# Which project a request is about ----------------------------------------------------------


def project_of_channel(deps: Deps, channel_id: str | None) -> Project | None:
    """The project bound to `channel_id` (client or internal channel), in this workspace."""
    from bot.services import projects

    with deps.session() as session:
        return projects.for_channel(session, deps.workspace.team_id, channel_id)


def projects_of_user(deps: Deps, user_id: str, *, active_only: bool = True) -> list[Project]:
    """The projects whose channels `user_id` belongs to (for the picker outside a project channel)."""
    from bot.services import projects
    from bot.slack.channels import channels_of_user

    channels = channels_of_user(deps.client, user_id)
    with deps.session() as session:
        return projects.visible_to(session, deps.workspace.team_id, channels, include_closed=not active_only)


def first_action(body: dict[str, Any]) -> dict[str, Any]:
    """The (first) action of a block_actions payload, or {}."""
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        return {}
    return actions[0]


def within_reach(deps: Deps, user_id: str, channel_id: str | None, project: Project) -> bool:
    """May a click in `channel_id` act on `project`? In a channel bound to a project, only on
    that project; elsewhere (a DM, the App Home, an unbound channel) only for someone in one of
    the project's channels. Button values are untrusted: they may name any project's items."""
    here = project_of_channel(deps, channel_id)
    if here is not None:
        return here.id == project.id
    from bot.slack.channels import channels_of_user

    mine = {project.client_channel_id, project.internal_channel_id} - {None}
    return bool(mine & channels_of_user(deps.client, user_id))


def action_value(body: dict[str, Any]) -> str:
    """The `value` of a button, or of the option picked in a menu; '' when there is none (or it
    is not text)."""
    action = first_action(body)
    value = action.get("value")
    if not value:
        option = action.get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else ""


MAX_ID = 2**31 - 1  # ids are INTEGER columns


def as_id(value: object) -> int | None:
    """A database id from untrusted input (a button value, an option, private_metadata): a
    positive integer that fits the column, else None. Booleans, floats, signs, spaces and digits
    other than ASCII 0-9 (`²`, `１`) are refused, never passed on to int() or the database."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        number = int(value)
        return number if 0 < number <= MAX_ID else None
    return None


def action_int(body: dict[str, Any]) -> int | None:
    """The action's value as a positive id, or None when it is missing or tampered with."""
    return as_id(action_value(body))


def tell(deps: Deps, user_id: str, channel_id: str | None, text: str,
         blocks: list[dict[str, Any]] | None = None) -> None:
    """An ephemeral note to the user where they were; by DM when that is not possible (the bot
    is not in the channel, the channel is gone, or there is none)."""
    import logging

    from slack_sdk.errors import SlackApiError

    kwargs: dict[str, Any] = {"text": text[:3000]}
    if blocks:
        kwargs["blocks"] = blocks
    if channel_id:
        try:
            deps.client.chat_postEphemeral(channel=channel_id, user=user_id, **kwargs)
            return
        except SlackApiError as err:
            logging.getLogger(__name__).info("ephemeral to %s in %s failed (%s); sending a DM", user_id,
                                             channel_id, err.response.get("error"))
    dm = deps.client.conversations_open(users=user_id)["channel"]["id"]
    deps.client.chat_postMessage(channel=dm, **kwargs)


def subcommand(body: dict[str, Any]) -> str:
    """The first word of a slash command's text, lower-cased; "help" when there is none."""
    words = str(body.get("text") or "").split()
    return words[0].lower() if words else "help"


def team_click(ack: Any, body: dict[str, Any], context: BoltContext, respond: Any) -> tuple[Deps, Actor] | None:
    """Acknowledge a team-only click: the deps and the actor, or None after refusing a guest or
    an external user."""
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    if not actor.is_team:
        respond(**refusal("common.refused_team_only", language_for(actor)), replace_original=False)
        return None
    return deps, actor
