"""The App Home tab, drawn when the user opens it (and on *Refresh*)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.blocks import ids
from bot.blocks.home import home_view
from bot.deps import Deps
from bot.handlers.common import actor_of, language_for, projects_of_user
from bot.services import digests, reminders


def register(app: App) -> None:
    app.event("app_home_opened")(home_opened)
    app.action(ids.HOME_REFRESH)(refresh_home)


def publish_home(deps: Deps, user_id: str, lang: str) -> None:
    projects = projects_of_user(deps, user_id)
    now = deps.clock.now()
    with deps.session() as session:
        facts = digests.collect(session, projects, now)
        items = [i for i in reminders.items_for(session, projects, now) if i.user_id == user_id]
    entries = []
    for p in projects:
        f = facts[p.id or 0]
        mine = [i for i in items if i.project.id == p.id]
        decisions: list[tuple[str, Any]] = []
        if user_id in (p.client_approver_ids or []):
            decisions += [("requirement", r) for r in f.awaiting_requirements]
            decisions += [("change", c) for c in f.awaiting_changes]
        entries.append((f, mine, decisions))
    deps.client.views_publish(user_id=user_id, view=home_view(lang, entries))


def home_opened(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    if event.get("tab") not in (None, "home"):
        return
    deps: Deps = context["deps"]
    user_id = str(event.get("user") or "")
    actor = actor_of(deps, {"user_id": user_id})
    publish_home(deps, user_id, language_for(actor))


def refresh_home(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    deps: Deps = context["deps"]
    actor = actor_of(deps, body)
    publish_home(deps, actor.user_id, language_for(actor))
