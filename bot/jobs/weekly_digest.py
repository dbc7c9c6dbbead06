"""The weekly digest and the PM preview, decided from the database at every tick.

Exactly once per project and week: the digest is an outbox row whose key names the project and
the week (`digest:<project>:<week>:client`). Creating it is an atomic insert, sending it is an
atomic claim, and a sender that died after posting is recovered from the message metadata, so
restarts, crashes, downtime and several processes never give zero or two digests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from bot.blocks.digest import digest_message, late_question, preview_message
from bot.db import insert_ignore
from bot.deps import Deps
from bot.flows.delivery import deliver_many
from bot.handlers import intake
from bot.models import DigestWeek, Outbox, Project, ProjectStatus
from bot.services import calendar, digests, outbox

log = logging.getLogger(__name__)

LATE_LIMIT = timedelta(days=1)  # a digest later than this is not posted without asking the PM


def digest_key(project_id: int, week: str, audience: str = "client") -> str:
    return f"digest:{project_id}:{week}:{audience}"


@dataclass
class DigestReport:
    """What a run did (or, dry, would do): for the CLI and the tests."""

    posted: list[tuple[str, str]] = field(default_factory=list)  # (project name, week)
    asked_pm: list[tuple[str, str]] = field(default_factory=list)
    waiting_for_approval: list[tuple[str, str]] = field(default_factory=list)
    previews: list[tuple[str, str]] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # outbox keys an earlier run queued but did not send
    messages: list[dict] = field(default_factory=list)  # dry run: what would be posted


def _active_projects(session: Session, project_name: str | None = None) -> list[Project]:
    stmt = select(Project).where(Project.status == ProjectStatus.active)
    if project_name:
        stmt = stmt.where(Project.name == project_name)
    return list(session.exec(stmt.order_by(col(Project.id))))


def _ensure_week(session: Session, project: Project, week: str, due_at: datetime) -> None:
    insert_ignore(session, DigestWeek, {"project_id": project.id, "week": week, "due_at": due_at,
                                        "created_at": datetime.now(UTC), "skipped": False}, ["project_id", "week"])


def _week_rows(session: Session, pairs: list[tuple[int, str]]) -> dict[tuple[int, str], DigestWeek]:
    if not pairs:
        return {}
    ids = {p for p, _ in pairs}
    weeks = {w for _, w in pairs}
    rows = session.exec(select(DigestWeek).where(col(DigestWeek.project_id).in_(ids),
                                                 col(DigestWeek.week).in_(weeks))).all()
    return {(r.project_id, r.week): r for r in rows}


def _existing_keys(session: Session, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(session.exec(select(Outbox.key).where(col(Outbox.key).in_(keys))).all())


def enqueue_digest(session: Session, facts: digests.DigestFacts, now: datetime) -> list[int]:
    """Queue the client digest (and the internal one when there is an internal channel)."""
    p = facts.project
    assert p.id is not None
    enabled = intake.enabled()
    ids: list[int] = []
    client = outbox.enqueue(session, key=digest_key(p.id, facts.week), team_id=p.team_id, kind="digest",
                            channel_id=p.client_channel_id, project_id=p.id, now=now,
                            payload=digest_message(facts, internal=False, intake_enabled=enabled))
    ids.append(client.id or 0)
    if p.internal_channel_id:
        internal = outbox.enqueue(session, key=digest_key(p.id, facts.week, "internal"), team_id=p.team_id,
                                  kind="digest", channel_id=p.internal_channel_id, project_id=p.id, now=now,
                                  payload=digest_message(facts, internal=True))
        ids.append(internal.id or 0)
    return ids


def mark_posted(session: Session, row: Outbox, ts: str | None) -> None:
    if not row.key.endswith(":client") or row.project_id is None:
        return
    week = row.key.split(":")[2]
    dw = session.exec(select(DigestWeek).where(DigestWeek.project_id == row.project_id,
                                               DigestWeek.week == week)).first()
    if dw is not None and dw.posted_at is None:
        dw.posted_at = row.sent_at or row.created_at
        session.add(dw)


def run_digests(deps: Deps, *, now: datetime | None = None, project_name: str | None = None,
                dry_run: bool = False) -> DigestReport:
    """Post every digest that is due and not yet posted; ask the PM about very late ones."""
    now = now or deps.clock.now()
    report = DigestReport()
    to_send: list[int] = []
    with deps.session() as session:
        projects = _active_projects(session, project_name)
        candidates: list[tuple[Project, str, datetime]] = []
        for p in projects:
            for week, due_at in calendar.recent_digest_weeks(p, now):
                if due_at <= now and due_at > p.created_at:
                    candidates.append((p, week, due_at))
        keys = [digest_key(p.id or 0, w) for p, w, _ in candidates]
        keys += [f"digest-late:{p.id}:{w}" for p, w, _ in candidates]
        existing = _existing_keys(session, keys)
        if not dry_run:  # queued by an earlier run that stopped or failed before sending them
            owed = [k for k in keys if k in existing]
            owed += [k.removesuffix(":client") + ":internal" for k in owed if k.endswith(":client")]
            resumed = outbox.unsent(session, keys=owed)
            to_send.extend(resumed)
            report.resumed = [r.key for r in (session.get(Outbox, i) for i in resumed) if r is not None]
        weeks = _week_rows(session, [(p.id or 0, w) for p, w, _ in candidates])
        post: list[tuple[Project, str, datetime]] = []
        for p, week, due_at in candidates:
            dw = weeks.get((p.id or 0, week))
            if digest_key(p.id or 0, week) in existing or (dw and (dw.skipped or dw.posted_at)):
                continue
            if p.require_pm_approval and not (dw and dw.approved_by):
                report.waiting_for_approval.append((p.name, week))
                continue
            if now - due_at > LATE_LIMIT and not (dw and dw.approved_by):
                if f"digest-late:{p.id}:{week}" not in existing:
                    report.asked_pm.append((p.name, week))
                    if not dry_run:
                        facts = digests.collect(session, [p], now, weeks={p.id or 0: week})[p.id or 0]
                        _ensure_week(session, p, week, due_at)
                        row = outbox.enqueue(session, key=f"digest-late:{p.id}:{week}", team_id=p.team_id,
                                             kind="digest-late", user_id=p.pm_user_id, project_id=p.id, now=now,
                                             payload=late_question(facts, due=due_at.astimezone(
                                                 calendar.tz(p)).date()))
                        to_send.append(row.id or 0)
                continue
            post.append((p, week, due_at))
        facts_by = digests.collect(session, [p for p, _, _ in post], now,
                                   weeks={p.id or 0: w for p, w, _ in post}) if post else {}
        for p, week, due_at in post:
            facts = facts_by[p.id or 0]
            report.posted.append((p.name, week))
            if dry_run:
                report.messages.append({"channel": p.client_channel_id,
                                        **digest_message(facts, internal=False, intake_enabled=intake.enabled())})
                continue
            _ensure_week(session, p, week, due_at)
            to_send.extend(enqueue_digest(session, facts, now))
    deliver_many(deps, to_send)
    return report


def post_now(deps: Deps, project: Project, week: str, *, approved_by: str | None = None) -> bool:
    """Post a given week's digest now (`/digest send`, *Post now*). False when already posted."""
    now = deps.clock.now()
    with deps.session() as session:
        p = session.get(Project, project.id)
        assert p is not None and p.id is not None
        key = digest_key(p.id, week)
        if outbox.exists(session, key) is not None:
            return False
        year, wk = week.split("-W")
        monday = datetime.fromisocalendar(int(year), int(wk), 1).date()
        _ensure_week(session, p, week, calendar.digest_due_at(p, monday))
        dw = session.exec(select(DigestWeek).where(DigestWeek.project_id == p.id, DigestWeek.week == week)).one()
        if approved_by:
            dw.approved_by = approved_by
        dw.skipped = False
        session.add(dw)
        facts = digests.collect(session, [p], now, weeks={p.id: week})[p.id]
        ids = enqueue_digest(session, facts, now)
    deliver_many(deps, ids)
    return True


def send_previews(deps: Deps, *, now: datetime | None = None) -> DigestReport:
    """DM each PM the coming digest, `preview_lead_minutes` before it is due, in working hours."""
    now = now or deps.clock.now()
    report = DigestReport()
    to_send: list[int] = []
    with deps.session() as session:
        projects = _active_projects(session)
        due: list[tuple[Project, str, datetime]] = []
        for p in projects:
            for week, due_at in calendar.recent_digest_weeks(p, now):
                lead = timedelta(minutes=p.preview_lead_minutes)
                if due_at - lead <= now < due_at and calendar.within_working_hours(p, now):
                    due.append((p, week, due_at))
        existing = _existing_keys(session, [f"preview:{p.id}:{w}" for p, w, _ in due]
                                  + [digest_key(p.id or 0, w) for p, w, _ in due])
        weeks = _week_rows(session, [(p.id or 0, w) for p, w, _ in due])
        due = [(p, w, d) for p, w, d in due
               if f"preview:{p.id}:{w}" not in existing and digest_key(p.id or 0, w) not in existing
               and not ((dw := weeks.get((p.id or 0, w))) and dw.skipped)]
        facts_by = digests.collect(session, [p for p, _, _ in due], now, weeks={p.id or 0: w for p, w, _ in due})
        for p, week, due_at in due:
            _ensure_week(session, p, week, due_at)
            payload = preview_message(facts_by[p.id or 0], due=due_at.astimezone(calendar.tz(p)).date(),
                                      requires_approval=p.require_pm_approval, intake_enabled=intake.enabled())
            row = outbox.enqueue(session, key=f"preview:{p.id}:{week}", team_id=p.team_id, kind="preview",
                                 user_id=p.pm_user_id, project_id=p.id, now=now, payload=payload)
            to_send.append(row.id or 0)
            report.previews.append((p.name, week))
    deliver_many(deps, to_send)
    return report


def mark_preview(session: Session, row: Outbox, ts: str | None) -> None:
    if row.project_id is None:
        return
    week = row.key.split(":")[2]
    dw = session.exec(select(DigestWeek).where(DigestWeek.project_id == row.project_id,
                                               DigestWeek.week == week)).first()
    if dw is not None:
        dw.preview_sent_at = row.sent_at or row.created_at
        session.add(dw)
