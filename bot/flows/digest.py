"""Digest use cases: the weekly digest job, the PM preview and its buttons, the late-digest
question, `/digest preview` and `/digest send`.

Exactly once per project and week: the digest is an outbox row whose key names the project and
the week (`outbox_keys.digest`). Creating it is an atomic insert, sending it an atomic claim,
and a sender that died after posting is recovered from the message metadata, so restarts,
crashes, downtime and several processes never give zero or two digests. A `DigestWeek` row
keeps the PM's answers for the week: a note, *Skip this week*, an approval.

Who posts: on its own, the digest is posted when due, unless the PM skipped the week or the
project waits for the PM's approval. The PM may post it now (*Post now*, `/digest send`).
Another team member's `/digest send` first asks them to confirm, naming what it overrides; once
confirmed it is posted and the PM is told by DM who posted it.

The internal digest goes to the internal channel, and never to a channel that is some other
project's client channel (`projects.internal_channel`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from bot.blocks.digest import digest_message, late_question, preview_message, sent_by_other
from bot.blocks.digest_chart import chart_spec
from bot.db import insert_ignore, read_scope
from bot.deps import Deps
from bot.flows import outbox_keys
from bot.flows.delivery import Lanes, deliver_many
from bot.flows.outbox_keys import Kind
from bot.flows.person_language import knowing_languages, language_of
from bot.flows.unit import Unit, unit_of_work
from bot.models import DigestWeek, Outbox, Project, ProjectStatus
from bot.reports.facts import DigestFacts
from bot.services import calendar, digests, outbox, projects
from bot.services.errors import Forbidden, InvalidTransition, NotFound
from bot.shutdown import stop_requested
from bot.slack.post import FILE_UPLOAD

log = logging.getLogger(__name__)

NOTE_MAX = 1000


@dataclass
class DigestReport:
    """What a run did (or, dry, would do): for the CLI and the tests."""

    posted: list[tuple[str, str]] = field(default_factory=list)  # (project name, week)
    asked_pm: list[tuple[str, str]] = field(default_factory=list)
    waiting_for_approval: list[tuple[str, str]] = field(default_factory=list)
    previews: list[tuple[str, str]] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # outbox keys an earlier run queued but did not send
    messages: list[dict] = field(default_factory=list)  # dry run: what would be posted


# The week's ledger --------------------------------------------------------------------------


def _week_row(session: Session, project: Project, week: str, due_at: datetime | None = None) -> DigestWeek:
    """The project's `DigestWeek` of `week`, created (atomically) when missing."""
    due = due_at or calendar.digest_due_at(project, calendar.week_monday(week))
    insert_ignore(session, DigestWeek, {"project_id": project.id, "week": week, "due_at": due,
                                        "created_at": datetime.now(UTC), "skipped": False}, ["project_id", "week"])
    return session.exec(select(DigestWeek).where(DigestWeek.project_id == project.id,
                                                 DigestWeek.week == week)).one()


def _week_rows(session: Session, pairs: list[tuple[int, str]]) -> dict[tuple[int, str], DigestWeek]:
    if not pairs:
        return {}
    rows = session.exec(select(DigestWeek).where(col(DigestWeek.project_id).in_({p for p, _ in pairs}),
                                                 col(DigestWeek.week).in_({w for _, w in pairs}))).all()
    return {(r.project_id, r.week): r for r in rows}


def _existing_keys(session: Session, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(session.exec(select(Outbox.key).where(col(Outbox.key).in_(keys))).all())


def _active_projects(session: Session, project_name: str | None = None,
                     among: Collection[int] | None = None) -> list[Project]:
    stmt = calendar.among(select(Project).where(Project.status == ProjectStatus.active), among)
    if project_name:
        stmt = stmt.where(Project.name == project_name)
    return list(session.exec(stmt.order_by(col(Project.id))))


@dataclass(frozen=True)
class _Drawn:
    """A project's digest messages, rendered (a batch's are drawn before its unit of work)."""

    facts: DigestFacts
    chart: dict | None  # digest chart: the upload, when the project shows one
    client: dict
    internal_channel: str | None
    internal: dict | None


def _draw_digest(session: Session, facts: DigestFacts) -> _Drawn:
    p = facts.project
    chart = chart_spec(facts).to_payload() if p.charts_enabled else None
    internal = projects.internal_channel(session, p)
    if p.internal_channel_id and internal is None:
        log.warning("project %s: internal channel %s is another project's client channel; no internal digest",
                    p.id, p.internal_channel_id)
    shows = chart is not None
    return _Drawn(facts, chart, digest_message(facts, internal=False, chart=shows), internal,
                  digest_message(facts, internal=True, chart=shows) if internal else None)


def _owe_digest(u: Unit, facts: DigestFacts, drawn: _Drawn | None = None) -> list[int]:
    """Queue the client digest, and the internal one where the project may have it."""
    d = drawn or _draw_digest(u.session, facts)
    p = facts.project
    assert p.id is not None
    rows = []
    chart_key = None
    if d.chart is not None:  # digest chart: one upload per project and week, before the digests that show it
        chart_key = outbox_keys.digest_chart(p.id, facts.week)
        rows.append(u.owe(key=chart_key, kind=Kind.digest_chart, project=p, channel_id=p.client_channel_id,
                          payload=d.chart, method=FILE_UPLOAD, deliver=False))
    rows.append(u.owe(key=outbox_keys.digest(p.id, facts.week), kind=Kind.digest, project=p,
                      channel_id=p.client_channel_id, payload=d.client, deliver=False, after_key=chart_key))
    if d.internal_channel and d.internal is not None:
        rows.append(u.owe(key=outbox_keys.digest(p.id, facts.week, "internal"), kind=Kind.digest, project=p,
                          channel_id=d.internal_channel, payload=d.internal, deliver=False, after_key=chart_key))
    return [r.id for r in rows if r.id is not None and r.status == "pending"]


def mark_posted(session: Session, row: Outbox, ts: str | None) -> None:
    """After-send hook of a digest: the client digest of that week is posted."""
    key = outbox_keys.parse(row.key)
    if key.part(2) != "client" or row.project_id is None:
        return
    dw = session.exec(select(DigestWeek).where(DigestWeek.project_id == row.project_id,
                                               DigestWeek.week == key.part(1))).first()
    if dw is not None and dw.posted_at is None:
        dw.posted_at = row.sent_at or row.created_at
        session.add(dw)


def mark_preview(session: Session, row: Outbox, ts: str | None) -> None:
    """After-send hook of a PM preview."""
    week = outbox_keys.digest_week(row.key)
    if row.project_id is None or week is None:
        return
    dw = session.exec(select(DigestWeek).where(DigestWeek.project_id == row.project_id,
                                               DigestWeek.week == week)).first()
    if dw is not None:
        dw.preview_sent_at = row.sent_at or row.created_at
        session.add(dw)


# The scheduled job ------------------------------------------------------------------------------


def _due_weeks(projects_: list[Project], now: datetime) -> list[tuple[Project, str, datetime]]:
    """The weeks whose digest is due, of the projects inside their working hours now: what fell
    due outside them (or while the bot was down) waits for the next working hour."""
    return [(p, week, due_at) for p in projects_ if calendar.within_working_hours(p, now)
            for week, due_at in calendar.recent_digest_weeks(p, now) if p.created_at < due_at <= now]


def is_late(p: Project, due_at: datetime, now: datetime) -> bool:
    """More than a working day of working time passed since the digest was due: it is not
    posted without asking the PM (weekends, holidays and nights do not count)."""
    return calendar.working_time_between(p, due_at, now) > calendar.working_day_length(p)


def _collect(session: Session, weeks: list[tuple[Project, str, datetime]], now: datetime
             ) -> dict[tuple[int, str], DigestFacts]:
    """Digest facts of each (project id, week): one batch per round, as a project may owe
    several weeks at once (two weeks a closure pushed to the same day)."""
    rounds: list[list[tuple[Project, str]]] = []
    seen: dict[int, int] = {}
    for p, week, _ in weeks:
        n = seen[p.id or 0] = seen.get(p.id or 0, -1) + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append((p, week))
    facts: dict[tuple[int, str], DigestFacts] = {}
    for batch in rounds:
        got = digests.collect(session, [p for p, _ in batch], now, weeks={p.id or 0: w for p, w in batch})
        facts.update({(p.id or 0, w): got[p.id or 0] for p, w in batch})
    return facts


BATCH = 25  # digests built and committed together: sending starts after the first batch


@knowing_languages
def run_due(deps: Deps, *, now: datetime | None = None, project_name: str | None = None,
            dry_run: bool = False, among: Collection[int] | None = None) -> DigestReport:
    """Post every digest that is due and not yet posted; ask the PM about very late ones.

    The digests are built and queued BATCH projects at a time, each batch in a unit of work of
    its own (its outbox rows and week rows commit together), and each committed batch is handed
    to the senders while the next one is built. A run stopped at any moment leaves each digest
    either queued (the next run sends it: `resumed`) or not built at all. `among`: only these
    projects (the scheduler's tick passes those inside their working hours), else every one."""
    report = DigestReport()
    to_send: list[int] = []
    with unit_of_work(deps, deliver=False) as u:
        now = now or u.now
        candidates = _due_weeks(_active_projects(u.session, project_name, among), now)
        keys = [outbox_keys.digest(p.id or 0, w) for p, w, _ in candidates]
        late_keys = {(p.id, w): outbox_keys.digest_late(p.id or 0, w) for p, w, _ in candidates}
        existing = _existing_keys(u.session, keys + list(late_keys.values()))
        if not dry_run:  # queued by an earlier run that stopped or failed before sending them
            owed = [k for k in keys if k in existing]
            owed += [outbox_keys.digest(p.id or 0, w, "internal") for p, w, _ in candidates
                     if outbox_keys.digest(p.id or 0, w) in existing]
            owed += [outbox_keys.digest_chart(p.id or 0, w) for p, w, _ in candidates  # digest chart
                     if outbox_keys.digest(p.id or 0, w) in existing]
            owed += [k for k in late_keys.values() if k in existing]
            resumed = calendar.in_working_hours(u.session, outbox.unsent(u.session, keys=owed), now)
            to_send.extend(resumed)
            report.resumed = [r.key for r in (u.session.get(Outbox, i) for i in resumed) if r is not None]
        weeks = _week_rows(u.session, [(p.id or 0, w) for p, w, _ in candidates])
        post: list[tuple[Project, str, datetime]] = []
        for p, week, due_at in candidates:
            dw = weeks.get((p.id or 0, week))
            if outbox_keys.digest(p.id or 0, week) in existing or (dw and (dw.skipped or dw.posted_at)):
                continue
            approved = bool(dw and dw.approved_by)
            if p.require_pm_approval and not approved:
                report.waiting_for_approval.append((p.name, week))
                if dw is None and not dry_run:  # the App Home and the PM's reminder say it waits
                    _week_row(u.session, p, week, due_at)
            elif is_late(p, due_at, now) and not approved:
                if late_keys[(p.id, week)] not in existing:
                    report.asked_pm.append((p.name, week))
                    if not dry_run:
                        to_send.extend(_ask_pm(u, p, week, due_at))
            else:
                post.append((p, week, due_at))
        if dry_run:
            facts_by = _collect(u.session, post, now)
            for p, week, _ in post:
                report.posted.append((p.name, week))
                report.messages.append({"channel": p.client_channel_id,
                                        **digest_message(facts_by[(p.id or 0, week)], internal=False)})
            return report
    with Lanes(deps) as lanes:
        lanes.add(to_send)
        for n in range(0, len(post), BATCH):
            lanes.wait_below(4 * BATCH)  # two batches in hand (~2 s): building slows the senders
            if stop_requested():  # the next run builds the rest
                log.warning("stopping: %d digest(s) left for the next run", len(post) - n)
                break
            lanes.add(_queue_batch(deps, post[n:n + BATCH], now, report))
    return report


@knowing_languages
def _queue_batch(deps: Deps, batch: list[tuple[Project, str, datetime]], now: datetime,
                 report: DigestReport) -> list[int]:
    """Build and queue one batch of digests in one unit of work; the ids to send once it has
    committed. What another process queued, or the PM skipped, since the run began is left out.

    The facts are read and the messages drawn in a read-only session (on SQLite the senders,
    recording what they sent, need not wait for it); the unit of work only writes."""
    with read_scope(deps.engine) as session:
        facts_by = _collect(session, batch, now)
        drawn = {key: _draw_digest(session, facts) for key, facts in facts_by.items()}
    ids: list[int] = []
    with unit_of_work(deps, deliver=False) as u:
        existing = _existing_keys(u.session, [outbox_keys.digest(p.id or 0, w) for p, w, _ in batch])
        weeks = _week_rows(u.session, [(p.id or 0, w) for p, w, _ in batch])
        for p, week, due_at in batch:
            dw = weeks.get((p.id or 0, week))
            if outbox_keys.digest(p.id or 0, week) in existing or (dw and (dw.skipped or dw.posted_at)):
                continue
            _week_row(u.session, p, week, due_at)
            ids.extend(_owe_digest(u, drawn[(p.id or 0, week)].facts, drawn[(p.id or 0, week)]))
            report.posted.append((p.name, week))
    return ids


def _ask_pm(u: Unit, p: Project, week: str, due_at: datetime) -> list[int]:
    """The late-digest question: the bot was down when it was due; post it now?"""
    facts = digests.collect(u.session, [p], u.now, weeks={p.id or 0: week})[p.id or 0]
    _week_row(u.session, p, week, due_at)
    row = u.owe(key=outbox_keys.digest_late(p.id or 0, week), kind=Kind.digest_late, project=p,
                user_id=p.pm_user_id, payload=late_question(facts, due=calendar.local_date(p, due_at) or facts.today,
                                                            lang=language_of(u.deps, p.pm_user_id, p.language)),
                deliver=False)
    return [row.id] if row.id is not None and row.status == "pending" else []


def send_previews(deps: Deps, *, now: datetime | None = None, among: Collection[int] | None = None) -> DigestReport:
    """DM each PM the coming digest, `preview_lead_minutes` before it is due, inside working
    hours: when that moment is outside them, in the last working hours before it (the
    previous working day's afternoon for a digest due at the start of the day)."""
    report = DigestReport()
    to_send: list[int] = []
    with unit_of_work(deps, deliver=False) as u:
        now = now or u.now
        due = [(p, week, due_at) for p in _active_projects(u.session, among=among)
               if calendar.within_working_hours(p, now)
               for week, due_at in calendar.coming_digest_weeks(p, now)
               if calendar.preview_at(p, due_at) <= now]
        existing = _existing_keys(u.session, [outbox_keys.preview(p.id or 0, w) for p, w, _ in due]
                                  + [outbox_keys.digest(p.id or 0, w) for p, w, _ in due])
        weeks = _week_rows(u.session, [(p.id or 0, w) for p, w, _ in due])
        due = [(p, w, d) for p, w, d in due
               if outbox_keys.preview(p.id or 0, w) not in existing and outbox_keys.digest(p.id or 0, w) not in existing
               and not ((dw := weeks.get((p.id or 0, w))) and dw.skipped)]
        facts_by = _collect(u.session, due, now)
        for p, week, due_at in due:
            _week_row(u.session, p, week, due_at)
            payload = preview_message(facts_by[(p.id or 0, week)], due=calendar.local_date(p, due_at) or now.date(),
                                      requires_approval=p.require_pm_approval)
            row = u.owe(key=outbox_keys.preview(p.id or 0, week), kind=Kind.preview, project=p,
                        user_id=p.pm_user_id, payload=payload, deliver=False)
            to_send.append(row.id or 0)
            report.previews.append((p.name, week))
    deliver_many(deps, to_send)
    return report


# `/digest preview` and `/digest send` -------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    project: Project | None
    facts: DigestFacts | None = None  # None: no project here, or it is closed


def preview(deps: Deps, channel_id: str | None) -> Preview:
    """This week's digest of the channel's project as it looks now (nothing is posted)."""
    with unit_of_work(deps) as u:
        project = projects.for_channel(u.session, u.team_id, channel_id)
        if project is None or project.status != ProjectStatus.active:
            return Preview(project)
        week = calendar.current_week(project, u.now)
        facts = digests.collect(u.session, [project], u.now, weeks={project.id or 0: week})[project.id or 0]
        return Preview(project, facts)


@dataclass(frozen=True)
class Sent:
    """The outcome of `/digest send`, *Post now* or a confirmed send."""

    project: Project | None
    status: str  # no_project, closed, posted, already_posted, confirm (a team member must confirm first)
    week: str = ""
    overrides: list[str] = field(default_factory=list)  # skip, approval


def _overrides(project: Project, dw: DigestWeek | None) -> list[str]:
    """What posting now goes against: the PM's *Skip this week*, the PM's approval pending."""
    out = []
    if dw is not None and dw.skipped:
        out.append("skip")
    if project.require_pm_approval and not (dw is not None and dw.approved_by):
        out.append("approval")
    return out


@knowing_languages
def send(deps: Deps, *, user_id: str, channel_id: str | None, week: str | None = None,
         project_id: int | None = None, confirmed: bool = False) -> Sent:
    """Post this week's digest now. The PM posts at once; another team member first gets
    `status="confirm"` (with what it overrides) and posts with `confirmed=True`, from the
    project's own channel; the PM is then told by DM."""
    with unit_of_work(deps) as u:
        project = projects.for_channel(u.session, u.team_id, channel_id)
        if project is None or (project_id is not None and project.id != project_id):
            return Sent(None, "no_project")
        if project.status != ProjectStatus.active:
            return Sent(project, "closed")
        week = week or calendar.current_week(project, u.now)
        if outbox.exists(u.session, outbox_keys.digest(project.id or 0, week)) is not None:
            return Sent(project, "already_posted", week)
        dw = _week_row(u.session, project, week)
        overrides = _overrides(project, dw)
        if user_id != project.pm_user_id and not confirmed:
            return Sent(project, "confirm", week, overrides)
        _post(u, project, dw, approved_by=user_id)
        if user_id != project.pm_user_id:
            u.owe(key=outbox_keys.digest_sent_by(project.id or 0, week), kind=Kind.notice, project=project,
                  user_id=project.pm_user_id, payload=sent_by_other(
                      project, user_id, overrides, language_of(deps, project.pm_user_id, project.language)))
        return Sent(project, "posted", week, overrides)


def _post(u: Unit, project: Project, dw: DigestWeek, *, approved_by: str) -> None:
    dw.skipped = False
    dw.approved_by = approved_by
    u.session.add(dw)
    facts = digests.collect(u.session, [project], u.now, weeks={project.id or 0: dw.week})[project.id or 0]
    u.owed.extend(_owe_digest(u, facts))


# The PM's buttons (preview, late question) and note ----------------------------------------------


def _pm_week(u: Unit, user_id: str, project_id: int, week: str) -> tuple[Project, DigestWeek]:
    project = u.session.get(Project, project_id)
    if project is None or project.team_id != u.team_id:
        raise NotFound("common.not_found")
    if user_id != project.pm_user_id:
        raise Forbidden("digest.not_pm")
    return project, _week_row(u.session, project, week)


def post_now(deps: Deps, *, user_id: str, project_id: int, week: str) -> Sent:
    """*Post now* (preview) or *Post it now* (late question): the PM's approval, posted."""
    with unit_of_work(deps) as u:
        project, dw = _pm_week(u, user_id, project_id, week)
        if outbox.exists(u.session, outbox_keys.digest(project_id, week)) is not None:
            return Sent(project, "already_posted", week)
        _post(u, project, dw, approved_by=user_id)
        return Sent(project, "posted", week)


def skip(deps: Deps, *, user_id: str, project_id: int, week: str) -> Project:
    """*Skip this week*. InvalidTransition when the digest is already posted."""
    with unit_of_work(deps) as u:
        project, dw = _pm_week(u, user_id, project_id, week)
        if outbox.exists(u.session, outbox_keys.digest(project_id, week)) is not None:
            raise InvalidTransition("digest.already_posted", name=project.name)
        dw.skipped = True
        u.session.add(dw)
        return project


def note_of(deps: Deps, *, user_id: str, project_id: int, week: str) -> tuple[Project, str]:
    """The project and the PM's note so far, for the note form."""
    with unit_of_work(deps) as u:
        project, dw = _pm_week(u, user_id, project_id, week)
        return project, dw.note or ""


def save_note(deps: Deps, *, user_id: str, project_id: int, week: str, note: str) -> Project:
    with unit_of_work(deps) as u:
        project, dw = _pm_week(u, user_id, project_id, week)
        dw.note = note.strip()[:NOTE_MAX] or None
        u.session.add(dw)
        return project
