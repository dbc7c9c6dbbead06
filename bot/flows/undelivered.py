"""Messages Slack refused for good are never dropped in silence: the PM is told.

A row the sender gave up on (a permanent error such as `channel_not_found` or `not_in_channel`,
or a passing one that lasted longer than OUTBOX_RETRY_HOURS) is `failed`. Once per new batch of
such rows, the project's PM gets one DM naming what could not be sent and why, with the way to
send it again (`pmbot outbox retry`). The App Home lists them too (`failed_for`).
"""

from __future__ import annotations

from sqlmodel import col, select

from bot.blocks.outbox import undelivered_dm
from bot.deps import Deps
from bot.flows import outbox_keys
from bot.flows.outbox_keys import Kind
from bot.flows.person_language import knowing_languages, language_of
from bot.flows.unit import unit_of_work
from bot.models import Outbox, OutboxStatus, Project
from bot.reports.facts import Undelivered
from bot.services import outbox

SHOWN = 10  # rows named in one DM (the rest are counted)


@knowing_languages
def tell_pms(deps: Deps) -> int:
    """Owe each PM one DM about their project's newly failed messages. Returns how many DMs."""
    told = 0
    with unit_of_work(deps) as u:
        rows = u.session.exec(select(Outbox.project_id, Outbox.id).where(
            Outbox.status == OutboxStatus.failed, col(Outbox.project_id).is_not(None),
            Outbox.kind != Kind.undelivered)).all()
        newest: dict[int, int] = {}
        for project_id, row_id in rows:
            if project_id is not None and row_id is not None:
                newest[project_id] = max(newest.get(project_id, 0), row_id)
        for project_id, last in sorted(newest.items()):
            key = outbox_keys.undelivered(project_id, last)
            project = u.session.get(Project, project_id)
            if project is None or outbox.exists(u.session, key) is not None:
                continue
            failed = failed_for(u.session, project_id)
            u.owe(key=key, kind=Kind.undelivered, project=project, user_id=project.pm_user_id,
                  payload=undelivered_dm(project, [(f.kind, f.error) for f in failed[:SHOWN]],
                                         more=max(len(failed) - SHOWN, 0),
                                         lang=language_of(deps, project.pm_user_id, project.language)))
            told += 1
    return told


def failed_for(session, project_id: int) -> list[Undelivered]:
    """The project's messages that could not be sent, newest first (for the DM and the App Home)."""
    return [Undelivered(key=r.key, kind=r.kind, error=r.last_error or "") for r in outbox.failed(
        session, project_id=project_id) if r.kind != Kind.undelivered]
