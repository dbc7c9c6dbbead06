"""The App Home tab, drawn when the user opens it (and on *Refresh*)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.blocks import ids
from bot.blocks.home import home_view
from bot.deps import Deps
from bot.flows.home import home
from bot.handlers.common import actor_of, deps_of, language_for
from bot.handlers.routes import Routes


def publish_home(deps: Deps, user_id: str, lang: str) -> None:
    deps.client.views_publish(user_id=user_id, view=home_view(lang, home(deps, user_id)))


def home_opened(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    if event.get("tab") not in (None, "home"):
        return
    deps = deps_of(context)
    user_id = str(event.get("user") or "")
    publish_home(deps, user_id, language_for(actor_of(deps, {"user_id": user_id})))


def refresh_home(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    deps = deps_of(context)
    actor = actor_of(deps, body)
    publish_home(deps, actor.user_id, language_for(actor))


ROUTES = Routes(events={"app_home_opened": home_opened}, actions={ids.HOME_REFRESH: refresh_home})
