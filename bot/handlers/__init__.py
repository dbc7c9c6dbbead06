"""Slack I/O: one module per Slack surface, each naming its listeners in a `ROUTES` table
(bot/handlers/routes.py); `register_handlers` puts them all behind one Bolt listener per kind."""

from __future__ import annotations

from slack_bolt import App

from bot.handlers.routes import merge, register_routes


def register_handlers(app: App) -> None:
    from bot.handlers import (
        acceptance,
        capture,
        changes,
        client_items,
        digest,
        feedback,
        home,
        milestones,
        project,
        requirements,
        risk,
    )

    modules = (changes, digest, feedback, home, milestones, project, requirements, risk, client_items, acceptance,
               capture)
    register_routes(app, merge(m.ROUTES for m in modules))
