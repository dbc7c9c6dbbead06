"""The App Home: the user's projects, their status, and what waits on the user.

One unit of work reads it all (the user's channels are asked of Slack before it opens)."""

from __future__ import annotations

from typing import Any

from bot.deps import Deps
from bot.flows.undelivered import failed_for
from bot.flows.unit import unit_of_work
from bot.reports.facts import HomeEntry
from bot.services import digests, projects, reminders
from bot.slack.channels import channels_of_user


def home(deps: Deps, user_id: str) -> list[HomeEntry]:
    channels = channels_of_user(deps.client, user_id)
    with unit_of_work(deps) as u:
        mine = projects.visible_to(u.session, u.team_id, channels, include_closed=False)
        facts = digests.collect(u.session, mine, u.now)
        items = [i for i in reminders.items_for(u.session, mine, u.now) if i.user_id == user_id]
        refused = {p.id: failed_for(u.session, p.id) for p in mine if p.pm_user_id == user_id and p.id}
    entries = []
    for p in mine:
        f = facts[p.id or 0]
        decisions: list[tuple[str, Any]] = []
        if user_id in (p.client_approver_ids or []):
            decisions += [("requirement", r) for r in f.awaiting_requirements]
            decisions += [("change", c) for c in f.awaiting_changes]
        entries.append(HomeEntry(f, [i for i in items if i.project.id == p.id], decisions, refused.get(p.id, []),
                                 can_decide=user_id in (p.client_approver_ids or [])))
    return entries
