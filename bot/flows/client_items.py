"""Client items, one use case per function: the form and quick capture (`/client`), the list
and its export, the client's *Done* and *Need more time*, the team's *Received* and *Cancel*,
and the nudges and escalations of overdue items.

Each use case is one `unit_of_work`. The item posted in the client channel is a *live message*
(`TargetKind.client_item`): queued with `target=` and no payload, drawn by `render_item` from
the record when it is sent; every later change queues `u.refresh(target)`. `record_item`
(after-send hook) keeps where it was posted, so nudges go to its thread.

Who acts: the team (members of our workspace) captures, lists, marks received and cancels.
*Done* and *Need more time* are the client's side: guests and external users in the project's
channels, the item's owner and the client approvers; the PM (or a team member standing in as
owner or approver) acts on the client's behalf, and it is recorded so. Everyone else is refused
and nothing changes. Buttons carry the version they showed; a click on another version changes
nothing and is answered with the item as it is now.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import ParamSpec, TypeVar

from slack_sdk.errors import SlackApiError
from sqlmodel import Session, col, select

from bot.blocks import client_items as cb
from bot.blocks.text import safe
from bot.db import read_scope
from bot.deps import Deps
from bot.flows import outbox_keys
from bot.flows.delivery import deliver_many
from bot.flows.messages import Rendered
from bot.flows.outbox_keys import Kind, Target, TargetKind
from bot.flows.people import Person, channels_of, knowing_channels
from bot.flows.person_language import knowing_languages, language_of
from bot.flows.reminders import queued_keys
from bot.flows.unit import Unit, unit_of_work
from bot.i18n import t
from bot.models import ClientItem, Milestone, Outbox, Project, ProjectStatus
from bot.services import calendar, client_items, projects
from bot.services.errors import DomainError, Forbidden, InvalidTransition, NotFound
from bot.services.export_client_items import render as render_export
from bot.services.permissions import Decider
from bot.slack.users import UserKind

log = logging.getLogger(__name__)

PER_PAGE = cb.PER_PAGE
FILTERS = tuple(client_items.FILTERS)
OWNER_CHOICES_MAX = 100


class Refused(Exception):
    """Nothing was done, and why, in the language of the project it was about (None: none)."""

    def __init__(self, error: DomainError, project: Project | None) -> None:
        super().__init__(error.key)
        self.error = error
        self.language = project.language if project is not None else None


P = ParamSpec("P")
R = TypeVar("R")


def _refusing(use_case: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(use_case)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return use_case(*args, **kwargs)
        except DomainError as err:
            raise Refused(err, None) from err
    return run


@contextmanager
def _about(project: Project) -> Iterator[None]:
    try:
        yield
    except DomainError as err:
        raise Refused(err, project) from err


def target_of(item_id: int) -> str:
    return outbox_keys.target(TargetKind.client_item, item_id)


# Results ------------------------------------------------------------------------------------


@dataclass
class Form:
    project: Project
    owners: list[tuple[str, str]]
    milestones: list[tuple[int, str]]
    default_due: date


@dataclass
class Page:
    items: list[ClientItem]
    total: int
    page: int
    status_filter: str
    milestone_names: dict[int, str]


@dataclass
class Shown:
    """An item after a use case, as the person who acted may now see it."""

    item: ClientItem
    project: Project
    is_team: bool
    for_client: bool
    today: date
    milestone_name: str | None = None
    extensions: list = field(default_factory=list)
    done: str = ""  # created / done / receive / cancel / extend; "" when nothing changed
    on_behalf: bool = False
    refused: DomainError | None = None
    outdated: bool = False
    page: Page | None = None
    suggested_due: date | None = None  # for the extension form


@dataclass
class Listing:
    project: Project
    is_team: bool
    for_client: bool
    today: date
    page: Page


@dataclass
class Exported:
    project: Project
    error: str | None = None


# The live message ------------------------------------------------------------------------------


def _milestone_name(session: Session, item: ClientItem) -> str | None:
    m = session.get(Milestone, item.milestone_id) if item.milestone_id else None
    return m.name if m is not None else None


def render_item(session: Session, target: Target) -> Rendered | None:
    """The item in the client channel as the record stands now (TargetKind.client_item)."""
    item = session.get(ClientItem, target.id)
    project = session.get(Project, item.project_id) if item is not None else None
    if item is None or project is None:
        return None
    payload = cb.item_message(item, project, milestone_name=_milestone_name(session, item),
                              extensions=client_items.extensions(session, [item.id or 0]).get(item.id or 0, []))
    return Rendered(channel_id=item.channel_id or project.client_channel_id, payload=payload, ts=item.message_ts)


def record_item(session: Session, row: Outbox, ts: str | None) -> None:
    """After-send hook of the post: keep where the item lives (updates, threaded nudges)."""
    target = outbox_keys.parse_target(row.target)
    item = session.get(ClientItem, target.id) if target is not None else None
    if item is None or not ts or row.channel_id is None or item.message_ts:
        return
    client_items.set_message(session, item, channel_id=row.channel_id, ts=ts)


# Shared steps -------------------------------------------------------------------------------


def _team_only(who: Person) -> None:
    if not who.is_team:
        raise Forbidden("common.refused_team_only")


def _may_act_for_client(project: Project, item: ClientItem, who: Person) -> bool:
    return (who.is_client_side or who.user_id == item.owner_user_id or who.user_id == project.pm_user_id
            or who.user_id in (project.client_approver_ids or []))


def client_decider(project: Project, item: ClientItem, who: Person) -> Decider:
    """The person as the client's side on this item, or Forbidden: guests and external users
    (in the project's channels), the owner and the approvers act for the client; the PM, or a
    team member standing in as owner or approver, acts on the client's behalf."""
    if who.is_client_side:
        return Decider(user_id=who.user_id, on_behalf_of_client=False)
    if _may_act_for_client(project, item, who):
        return Decider(user_id=who.user_id, on_behalf_of_client=True)
    raise Forbidden("client_items.refused_client_side")


def _reachable(u: Unit, who: Person, item_id: int | None, channel_id: str | None) -> tuple[ClientItem, Project]:
    """The item a button names, if it may be acted on from where it was clicked (untrusted)."""
    if item_id is None:
        raise NotFound("common.not_found")
    item, project = client_items.get(u.session, u.team_id, item_id)
    here = projects.for_channel(u.session, u.team_id, channel_id)
    if here is not None and here.id != project.id:
        raise NotFound("common.not_found")
    mine = {project.client_channel_id, project.internal_channel_id} - {None}
    if here is None and not (mine & channels_of(u.deps, who)):
        raise NotFound("common.not_found")
    return item, project


def _today(u: Unit, project: Project) -> date:
    return calendar.today(project, u.now)


def _page(u: Unit, project: Project, status_filter: str, page: int) -> Page:
    items, total = client_items.list_page(u.session, project.id or 0, status_filter=status_filter, page=page,
                                          per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        page = pages
        items, total = client_items.list_page(u.session, project.id or 0, status_filter=status_filter, page=page,
                                              per_page=PER_PAGE)
    ids = {i.milestone_id for i in items if i.milestone_id}
    names = {m.id or 0: m.name for m in u.session.exec(select(Milestone).where(col(Milestone.id).in_(ids)))} \
        if ids else {}
    return Page(items=items, total=total, page=page, status_filter=status_filter, milestone_names=names)


def parse_filter(word: str) -> str | None:
    word = (word or "open").lower()
    return word if word in client_items.FILTERS else None


def parse_where(where: str) -> tuple[str, int] | None:
    """(filter, page) when a button was clicked in a list (`list:<filter>:<page>`)."""
    if not where.startswith("list:"):
        return None
    _, status_filter, page = [*where.split(":"), "", "1"][:3]
    number = int(page) if page.isascii() and page.isdigit() and len(page) < 6 else 1
    return (status_filter if status_filter in client_items.FILTERS else "open"), max(number, 1)


def _shown(u: Unit, who: Person, item: ClientItem, project: Project, where: str = "", **kw) -> Shown:
    listed = parse_where(where)
    return Shown(item=item, project=project, is_team=who.is_team, for_client=_may_act_for_client(project, item, who),
                 today=_today(u, project), milestone_name=_milestone_name(u.session, item),
                 extensions=client_items.extensions(u.session, [item.id or 0]).get(item.id or 0, []),
                 page=_page(u, project, *listed) if listed else None, **kw)


def _project_here(u: Unit, who: Person, channel_id: str | None) -> Project:
    project = projects.for_channel(u.session, u.team_id, channel_id)
    if project is None:
        raise NotFound("common.no_project_here")
    with _about(project):
        _team_only(who)
        if project.status != ProjectStatus.active:
            raise InvalidTransition("permissions.project_closed")
    return project


def client_side_people(deps: Deps, project: Project) -> list[tuple[str, str]]:
    """Who may own an item: the client approvers first, then the guests and external users of
    the client channel (user id, display name), as Slack knows them now."""
    out: dict[str, str] = {}
    for user_id in project.client_approver_ids or []:
        info = deps.users.info(deps.client, user_id)
        out[user_id] = info.name if info is not None and info.name else user_id
    try:
        members = deps.client.conversations_members(channel=project.client_channel_id, limit=200).get("members") or []
    except SlackApiError as err:
        log.info("members of %s unknown (%s)", project.client_channel_id, err.response.get("error"))
        members = []
    for user_id in members:
        if user_id in out or len(out) >= OWNER_CHOICES_MAX or not isinstance(user_id, str):
            continue
        info = deps.users.info(deps.client, user_id)
        if info is None or info.is_bot:
            continue
        if deps.users.kind(deps.client, user_id, deps.workspace) != UserKind.team:
            out[user_id] = info.name or user_id
    return list(out.items())


def is_client_side_person(deps: Deps, project: Project, user_id: str) -> bool:
    """A client approver, or a guest or external member of the client channel (asked of Slack)."""
    if user_id in (project.client_approver_ids or []):
        return True
    info = deps.users.info(deps.client, user_id)
    if info is None or info.is_bot or deps.users.kind(deps.client, user_id, deps.workspace) == UserKind.team:
        return False
    try:
        members = deps.client.conversations_members(channel=project.client_channel_id, limit=1000).get("members")
    except SlackApiError:
        return False
    return user_id in (members or [])


# Reading ------------------------------------------------------------------------------------


@_refusing
def project_here(deps: Deps, channel_id: str | None) -> Project | None:
    with unit_of_work(deps) as u:
        return projects.for_channel(u.session, u.team_id, channel_id)


@_refusing
def listing(deps: Deps, who: Person, channel_id: str | None, status_filter: str, page: int = 1) -> Listing:
    """`/client list [open|done|all]` and its pager: team only."""
    with unit_of_work(deps) as u:
        project = projects.for_channel(u.session, u.team_id, channel_id)
        if project is None:
            raise NotFound("common.no_project_here")
        with _about(project):
            _team_only(who)
        acts_for_client = who.user_id == project.pm_user_id or who.user_id in (project.client_approver_ids or [])
        return Listing(project=project, is_team=who.is_team, for_client=acts_for_client,
                       today=_today(u, project), page=_page(u, project, status_filter, page))


@_refusing
def export(deps: Deps, who: Person, channel_id: str | None) -> Exported:
    """The project's client items (Markdown and CSV), sent to the person by DM."""
    with unit_of_work(deps) as u:
        project = projects.for_channel(u.session, u.team_id, channel_id)
        if project is None:
            raise NotFound("common.no_project_here")
        with _about(project):
            _team_only(who)
        markdown = render_export(u.session, project, "md", today=_today(u, project))
        csv_text = render_export(u.session, project, "csv")
        stem = _file_stem(project, _today(u, project))
    lang, name = project.language, project.name
    try:
        dm = deps.client.conversations_open(users=who.user_id)["channel"]["id"]
        deps.client.files_upload_v2(
            channel=dm, initial_comment=t("client_items.export_comment", lang, name=safe(name, 200)),
            file_uploads=[
                {"content": markdown.encode("utf-8"), "filename": f"{stem}.md",
                 "title": t("client_items.export_title_md", lang, name=name)},
                {"content": csv_text.encode("utf-8"), "filename": f"{stem}.csv",
                 "title": t("client_items.export_title_csv", lang, name=name)},
            ])
    except SlackApiError as err:
        log.warning("client items export upload for %s failed: %s", who.user_id, err.response.get("error"))
        return Exported(project=project, error=str(err.response.get("error") or "error"))
    return Exported(project=project)


def _file_stem(project: Project, today: date) -> str:
    slug = re.sub(r"[^\w-]+", "-", project.name, flags=re.UNICODE).strip("-").lower() or f"project-{project.id}"
    return f"client-items-{slug[:60]}-{today.isoformat()}"


# Capture ------------------------------------------------------------------------------------


@_refusing
def open_form(deps: Deps, who: Person, channel_id: str | None) -> Form:
    """`/client`: the form, in the project of the channel (team only)."""
    with unit_of_work(deps) as u:
        project = _project_here(u, who, channel_id)
        open_ms = [(m.id or 0, m.name) for m in u.session.exec(
            select(Milestone).where(Milestone.project_id == project.id, col(Milestone.done).is_(False))
            .order_by(col(Milestone.due_date), col(Milestone.id)))]
        default_due = client_items.due_in_working_days(project, u.now)
    return Form(project=project, owners=client_side_people(deps, project), milestones=open_ms,
                default_due=default_due)


def _post(u: Unit, item: ClientItem, project: Project) -> None:
    """The item is owed to the client channel, drawn from the record when it is posted."""
    u.owe(key=outbox_keys.client_item(item.id or 0), kind=Kind.client_item, project=project,
          channel_id=project.client_channel_id, target=target_of(item.id or 0))


@_refusing
def quick(deps: Deps, who: Person, channel_id: str | None, title: str) -> Shown:
    """`/client <text>`: owned by the first client approver, due in 3 working days."""
    with unit_of_work(deps) as u:
        project = _project_here(u, who, channel_id)
        with _about(project):
            if not project.client_approver_ids:
                raise InvalidTransition("client_items.error_no_approver")
            due = client_items.due_in_working_days(project, u.now)
            data = client_items.ItemInput(title=title, owner_user_id=project.client_approver_ids[0],
                                          due_date=due.isoformat())
            item = client_items.create(u.session, u.clock, project=project, actor=who.user_id, owners=None,
                                       data=data)
        _post(u, item, project)
        return _shown(u, who, item, project, done="created")


@_refusing
def save(deps: Deps, who: Person, *, project_id: int | None, data: client_items.ItemInput) -> Shown:
    """The form submitted: the owner must be one of the project's client-side people."""
    if project_id is None:
        raise NotFound("common.not_found")
    owner = data.owner_user_id or ""
    client_side = bool(owner) and _asked_first(deps, project_id, owner)
    with unit_of_work(deps) as u:
        project = projects.get(u.session, u.team_id, project_id)
        with _about(project):
            _team_only(who)
            owners = {owner} if client_side else set()
            item = client_items.create(u.session, u.clock, project=project, actor=who.user_id, owners=owners,
                                       data=data)
        _post(u, item, project)
        return _shown(u, who, item, project, done="created")


def _asked_first(deps: Deps, project_id: int, owner: str) -> bool:
    """Whether `owner` is on the client's side of the project, asked of Slack BEFORE the form is
    saved: inside the save's transaction every other request's save waited for Slack's answer
    (on SQLite). A read apart, not a unit of work: the save must stay the request's first unit
    (the one that remembers the form, bot/flows/unit.py)."""
    with read_scope(deps.engine) as session:
        try:
            project = projects.get(session, deps.workspace.team_id, project_id)
        except NotFound:
            return False  # the save says so
    return is_client_side_person(deps, project, owner)


# The client's side and the team's actions ---------------------------------------------------


def _check_version(u: Unit, who: Person, item: ClientItem, project: Project, version: int | None,
                   where: str) -> Shown | None:
    """Why nothing is done: closed already, or a click on another version (then the live
    message is refreshed and the current text shown)."""
    if item.status != "open":
        return _shown(u, who, item, project, where, refused=InvalidTransition(f"client_items.error_now_{item.status}"))
    if version != item.version:
        u.refresh(target_of(item.id or 0), project)
        return _shown(u, who, item, project, where, outdated=True)
    return None


def _notice(u: Unit, item: ClientItem, project: Project, done: str, decider: Decider) -> None:
    if project.internal_channel_id:
        u.owe(key=outbox_keys.client_notice(item.id or 0, item.version), kind=Kind.notice, project=project,
              channel_id=project.internal_channel_id,
              payload=cb.notice_message(item, project, done, user=decider.user_id,
                                        on_behalf=decider.on_behalf_of_client))


@_refusing
def act(deps: Deps, who: Person, action: str, item_id: int | None, version: int | None, channel_id: str | None,
        where: str = "") -> Shown:
    """*Done* (the client's side), *Received* / *Cancel* (the team), on the version shown."""
    assert action in ("done", "receive", "cancel")
    who = knowing_channels(deps, who, channel_id)  # Slack first: no transaction waits on it
    with unit_of_work(deps) as u:
        u.after_the_answer()  # the answer says what was recorded: it goes before the message's update
        item, project = _reachable(u, who, item_id, channel_id)
        with _about(project):
            decider = client_decider(project, item, who) if action == "done" else None
            if decider is None:
                _team_only(who)
        stale = _check_version(u, who, item, project, version, where)
        if stale is not None:
            return stale
        try:
            if decider is not None:
                client_items.mark_done(u.session, u.clock, item=item, project=project, decider=decider,
                                       version=version)
            elif action == "receive":
                client_items.receive(u.session, u.clock, item=item, project=project, actor=who.user_id,
                                     version=version)
            else:
                client_items.cancel(u.session, u.clock, item=item, project=project, actor=who.user_id,
                                    version=version)
        except client_items.Outdated:
            u.refresh(target_of(item.id or 0), project)
            return _shown(u, who, item, project, where, outdated=True)
        except InvalidTransition as err:
            return _shown(u, who, item, project, where, refused=err)
        u.refresh(target_of(item.id or 0), project)
        if decider is not None:
            _notice(u, item, project, "done", decider)
        return _shown(u, who, item, project, where, done=action,
                      on_behalf=bool(decider and decider.on_behalf_of_client))


@_refusing
def open_extend(deps: Deps, who: Person, item_id: int | None, version: int | None, channel_id: str | None,
                where: str = "") -> Shown:
    """*Need more time*: the form, for the version the button showed."""
    who = knowing_channels(deps, who, channel_id)  # Slack first: no transaction waits on it
    with unit_of_work(deps) as u:
        item, project = _reachable(u, who, item_id, channel_id)
        with _about(project):
            client_decider(project, item, who)
        stale = _check_version(u, who, item, project, version, where)
        if stale is not None:
            return stale
        today = _today(u, project)
        suggested = calendar.next_working_day(project, max(item.due_date, today) + timedelta(days=7))
        return _shown(u, who, item, project, where, suggested_due=suggested)


@_refusing
def extend(deps: Deps, who: Person, item_id: int | None, version: int | None, *, new_due: str | None,
           note: str) -> Shown:
    """The extension form submitted: a later date and a note, kept with the item. The person is
    checked again: the client's side, and a member of one of the project's channels (asked of
    Slack: the form's metadata names no channel to trust)."""
    who = knowing_channels(deps, who, None)  # Slack first: no transaction waits on it
    with unit_of_work(deps) as u:
        item, project = _reachable(u, who, item_id, None)
        with _about(project):
            decider = client_decider(project, item, who)
        stale = _check_version(u, who, item, project, version, "")
        if stale is not None:
            return stale
        try:
            client_items.extend(u.session, u.clock, item=item, project=project, decider=decider, new_due=new_due,
                                note=note, version=version)
        except client_items.Outdated:
            u.refresh(target_of(item.id or 0), project)
            return _shown(u, who, item, project, outdated=True)
        except InvalidTransition as err:
            return _shown(u, who, item, project, refused=err)
        except DomainError as err:  # the date or the note
            raise Refused(err, project) from err
        u.refresh(target_of(item.id or 0), project)
        _notice(u, item, project, "extend", decider)
        return _shown(u, who, item, project, done="extend", on_behalf=decider.on_behalf_of_client)


# Overdue items: nudges and escalations --------------------------------------------------------


@knowing_languages
def send_nudges(deps: Deps, *, now: datetime | None = None, among: Collection[int] | None = None) -> list[str]:
    """A polite nudge in an overdue item's thread on its first overdue working day and then every
    `nudge_after_days` working days (the project's nudge setting), naming its owner; the PM is
    told once per due date when it is `escalate_after_days` working days overdue. Only within
    the project's working hours (of the projects `among`, when given). Returns the keys queued.
    The keys due are looked up in one query, and only the messages not queued yet are drawn."""
    keys: list[str] = []
    to_send: list[int] = []
    with unit_of_work(deps, deliver=False) as u:
        now = now or u.now
        active = {p.id or 0: p for p in u.session.exec(calendar.among(
            select(Project).where(Project.status == ProjectStatus.active), among))
                  if calendar.within_working_hours(p, now)}
        due: list[tuple[ClientItem, Project, int, str, str | None]] = []  # days overdue, nudge and escalation keys
        for item in client_items.open_items(u.session, list(active)):
            p = active[item.project_id]
            if not client_items.is_overdue(item, calendar.today(p, now)):
                continue
            days = client_items.overdue_working_days(p, item, now)
            if days < 1:
                continue
            due_date = item.due_date.isoformat()
            every = max(p.nudge_after_days, 1)
            due.append((item, p, days, outbox_keys.client_nudge(item.id or 0, due_date, 1 + (days - 1) // every),
                        outbox_keys.client_escalation(item.id or 0, due_date) if days >= p.escalate_after_days
                        else None))
        wanted = [k for _, _, _, nudge, escalation in due for k in (nudge, escalation) if k]
        queued = queued_keys(u.session, wanted)
        for item, p, days, nudge, escalation in due:
            if nudge not in queued:
                row = u.owe(key=nudge, kind=Kind.nudge, project=p, channel_id=item.channel_id or p.client_channel_id,
                            payload=cb.nudge_message(p, item, days, thread_ts=item.message_ts), deliver=False)
                to_send.append(row.id or 0)
                keys.append(nudge)
            if escalation and escalation not in queued:
                row = u.owe(key=escalation, kind=Kind.escalation, project=p, user_id=p.pm_user_id,
                            payload=cb.escalation_message(p, item, days, language_of(deps, p.pm_user_id, p.language)),
                            deliver=False)
                to_send.append(row.id or 0)
                keys.append(escalation)
    deliver_many(deps, to_send)
    return keys
