"""Each person in their language (issue 17): a DM or an ephemeral answer is read by one person,
so it follows their Slack locale where it is known; a channel post follows the project's language.

The locale comes from `users.info` with `include_locale` (bot/slack/users.py), cached per process
for a few minutes like the rest of what Slack says about a user. When Slack cannot tell (the user
is unknown, Slack is down), the project's language is used: a message is never held back for it.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.deps import Deps
from bot.flows.unit import asking_slack_first, defer_lookup
from bot.i18n import person_language

log = logging.getLogger(__name__)


def language_of(deps: Deps, user_id: str | None, fallback: str | None) -> str:
    """The language `user_id` reads: their Slack locale if known, else `fallback`."""
    if not user_id:
        return person_language(None, fallback)
    if not deps.users.known(user_id) and defer_lookup(user_id):
        return person_language(None, fallback)  # a placeholder (the run is rolled back), or Slack could not tell
    try:
        info = deps.users.info(deps.client, user_id)
    except (SlackApiError, SlackClientError, OSError) as err:
        log.info("locale of %s unknown (%s); the project's language is used", user_id, type(err).__name__)
        info = None
    return person_language(info.locale if info else None, fallback)


def look_up(deps: Deps, user_id: str) -> None:
    """Ask Slack about `user_id` now (outside any transaction), for `asking_slack_first`."""
    language_of(deps, user_id, None)


knowing_languages = asking_slack_first(look_up)  # decorates a use case that writes in people's languages
