"""Requirements, one use case per function: capture, edit, send for confirmation, the client's
decision, the team's actions, the list and the export.

Each use case is one `unit_of_work`: the project of the channel, the permission check, the
service calls, the activity log and the messages it owes commit together, then the unit
delivers them. It returns a small result the handler renders (`Shown`, `Listing`, `Saved`, …);
a refusal that changes nothing is raised as a `DomainError` (the unit rolls back).

The confirmation request in the client channel is a *live message* (`TargetKind.requirement`):
it is posted with `target=` and no payload, drawn by `render_confirmation` from the record when
it is sent, and every later change of the requirement queues `u.refresh(target)`; the sender
re-draws it until Slack shows the current record. `record_confirmation` (after-send hook) keeps
where it was posted.

Decisions are versioned: Confirm and Request changes carry the version they showed. A decision
on another version (or without one) changes nothing: the person is shown the requirement as it
stands now, with this version's buttons, and the live message is refreshed.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot.blocks import ids
from bot.blocks.requirements import PER_PAGE, confirmation_message, notice_message
from bot.blocks.text import safe
from bot.db import read_scope
from bot.deps import Deps
from bot.flows import outbox_keys
from bot.flows.delivery import last_error
from bot.flows.messages import Rendered
from bot.flows.outbox_keys import Kind, Target, TargetKind
from bot.flows.people import Person, channels_of, display_names, knowing_channels
from bot.flows.unit import Unit, unit_of_work
from bot.i18n import t
from bot.models import Outbox, Project, ProjectStatus, Requirement
from bot.reports.wording import local
from bot.services import edits, outbox, permissions, project_cache, projects, requirements
from bot.services.errors import DomainError, Forbidden, InvalidTransition, NotFound, ValidationFailed
from bot.services.export_requirements import render

log = logging.getLogger(__name__)

# `/req list <filter>`: a status, or "open" for everything not settled yet.
FILTERS: dict[str, list[str]] = {"open": sorted(requirements.OPEN), **{str(s): [str(s)] for s in requirements.STATUSES}}
FILTER_ALIASES = {"changes": "changes_requested", "changes-requested": "changes_requested", "awaiting": "proposed"}
TEAM_ACTIONS = {"defer": requirements.defer, "drop": requirements.drop, "mark_done": requirements.mark_done}
DECISIONS = ("confirm", "request_changes")




@dataclass
class Page:
    """One page of `/req list` (the items as they are now)."""

    items: list[Requirement]
    total: int
    page: int
    status_filter: str


@dataclass
class Shown:
    """A requirement after a use case, as the person who acted may now see it."""

    req: Requirement
    project: Project
    is_team: bool
    can_decide: bool
    done: str = ""  # what happened ("confirm", "defer", "send" …); "" when nothing changed
    on_behalf: bool = False  # the decision was recorded on behalf of the client
    refused: DomainError | None = None  # why nothing changed (the requirement moved on)
    outdated: bool = False  # the click showed an older version: nothing changed
    sender: str | None = None  # who sent the requirement for confirmation (set when outdated)
    page: Page | None = None  # the list the click came from, redrawn
    send_error: str | None = None  # the post to the client channel failed (it is retried)
    stamp: dict[str, Any] = field(default_factory=dict)  # an edit form's stamp


@dataclass
class Listing:
    project: Project
    is_team: bool
    can_decide: bool
    page: Page | None  # None: the filter is not one we know


@dataclass
class Capture:
    """Where a new requirement's form opens: in the project of the channel, or with a picker."""

    project: Project | None
    picker: list[Project] = field(default_factory=list)
    for_client: bool = False


@dataclass
class Saved:
    req: Requirement
    project: Project
    created: bool
    by_client: bool
    is_team: bool
    can_decide: bool
    conflicts: dict[str, str] = field(default_factory=dict)  # field -> its value now (nothing saved)


@dataclass
class Exported:
    project: Project
    error: str | None = None  # the upload failed (Slack's error)


class Refused(Exception):
    """Nothing was done, and why (`error`), in the language of the project it was about (None:
    no project). Raised out of the unit of work, so whatever was begun is rolled back."""

    def __init__(self, error: DomainError, project: Project | None) -> None:
        super().__init__(error.key)
        self.error = error
        self.language = project.language if project is not None else None


P = ParamSpec("P")
R = TypeVar("R")


def _refusing(use_case: Callable[P, R]) -> Callable[P, R]:
    """A use case's refusals all come out as `Refused` (without a project: the person's language)."""
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


def target_of(req_id: int) -> str:
    return outbox_keys.target(TargetKind.requirement, req_id)


# The live confirmation message ----------------------------------------------------------------


def render_confirmation(session: Session, target: Target) -> Rendered | None:
    """The confirmation request as the record stands now (registered for TargetKind.requirement)."""
    req = session.get(Requirement, target.id)
    project = project_cache.by_id(session, req.project_id) if req is not None else None
    if req is None or project is None or req.sent_for_confirmation_at is None:
        return None
    # Who sent it is shown only beside the buttons, while it awaits the client (a read of the log)
    sender = requirements.sent_by(session, req) if requirements.is_awaiting_confirmation(req) else None
    payload = confirmation_message(req, project, sender=sender)
    return Rendered(channel_id=req.confirmation_channel_id or project.client_channel_id, payload=payload,
                    ts=req.confirmation_ts)


def record_confirmation(session: Session, row: Outbox, ts: str | None) -> None:
    """After-send hook of the post: keep where the request lives (for updates and nudges). The
    first post of a sending wins; what it shows is the record at send time."""
    target = outbox_keys.parse_target(row.target)
    req_id = target.id if target is not None else outbox_keys.parse(row.key).int_part(0)  # rows queued before
    req = session.get(Requirement, req_id) if req_id else None
    if req is None or not ts or row.channel_id is None or req.confirmation_ts:
        return
    requirements.set_confirmation_message(session, req, channel_id=row.channel_id, ts=ts)


# Shared steps -------------------------------------------------------------------------------


def _reachable(u: Unit, who: Person, req_id: int | None, channel_id: str | None) -> tuple[Requirement, Project]:
    """The requirement a button names, if it may be acted on from where it was clicked: in a
    project's channel only that project's; elsewhere (a DM, the App Home) one of a project whose
    channels the user is in. Button values are untrusted."""
    if req_id is None:
        raise NotFound("common.not_found")
    req, project = requirements.get(u.session, u.team_id, req_id)
    here = projects.for_channel(u.session, u.team_id, channel_id)
    if here is not None and here.id != project.id:
        raise NotFound("common.not_found")
    mine = {project.client_channel_id, project.internal_channel_id} - {None}
    if here is None and not (mine & channels_of(u.deps, who)):
        raise NotFound("common.not_found")
    return req, project


def _page(u: Unit, project: Project, status_filter: str, page: int) -> Page:
    """A page of the list; a page emptied since falls back to the last page there is."""
    statuses = FILTERS[status_filter] if status_filter else None
    items, total = requirements.list_page(u.session, project.id or 0, statuses=statuses, page=page,
                                          per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        page = pages
        items, total = requirements.list_page(u.session, project.id or 0, statuses=statuses, page=page,
                                              per_page=PER_PAGE)
    return Page(items=items, total=total, page=page, status_filter=status_filter)


def parse_filter(word: str) -> str | None:
    """A `/req list` filter as typed ("" for none); None when it is not one we know."""
    word = FILTER_ALIASES.get(word.lower(), word.lower())
    return word if word == "" or word in FILTERS else None


def parse_where(where: str) -> tuple[str, int] | None:
    """(filter, page) when a button was clicked in a list (`list:<filter>:<page>`)."""
    if not where.startswith("list:"):
        return None
    _, status_filter, page = [*where.split(":"), "", "1"][:3]
    number = int(page) if page.isascii() and page.isdigit() and len(page) < 6 else 1
    return (status_filter if status_filter in FILTERS else ""), max(number, 1)


def _shown(u: Unit, who: Person, req: Requirement, project: Project, where: str, **kw: Any) -> Shown:
    listed = parse_where(where)
    return Shown(req=req, project=project, is_team=who.is_team,
                 can_decide=permissions.can_decide_for_client(project, who.user_id),
                 page=_page(u, project, *listed) if listed else None,
                 # only an outdated click's answer names the sender: no query otherwise
                 sender=requirements.sent_by(u.session, req) if kw.get("outdated") else None, **kw)


def buttons_for(req: Requirement, *, is_team: bool, can_decide: bool) -> list[str]:
    """The buttons a viewer may use on `req`: team actions for team members, Confirm /
    Request changes for the client's deciders while it awaits their confirmation."""
    out: list[str] = []
    if can_decide and requirements.is_awaiting_confirmation(req):
        out += [ids.REQ_CONFIRM, ids.REQ_REQUEST_CHANGES]
    if is_team:
        if requirements.can_edit(req.status):
            out.append(ids.REQ_EDIT)
        if requirements.can_send(req):
            out.append(ids.REQ_SEND)
        if requirements.can("mark_done", req.status):
            out.append(ids.REQ_DONE)
        if requirements.can("defer", req.status):
            out += [ids.REQ_DEFER, ids.REQ_DROP]
    return out


def _notice(u: Unit, req: Requirement, project: Project, key: str, *, user: str, on_behalf: bool = False) -> None:
    """Tell the team in the internal channel (when the project has one)."""
    if project.internal_channel_id:
        u.owe(key=outbox_keys.req_notice(req.id or 0, str(req.version)), kind=Kind.req_notice, project=project,
              channel_id=project.internal_channel_id,
              payload=notice_message(req, project, key, user=user, on_behalf=on_behalf,
                                     buttons=buttons_for(req, is_team=True, can_decide=False)))


def _status_now(req: Requirement) -> InvalidTransition:
    return InvalidTransition(f"requirements.error_now_{req.status}")


def _team_only(who: Person) -> None:
    if not who.is_team:
        raise Forbidden("common.refused_team_only")


# Reading ------------------------------------------------------------------------------------


@_refusing
def project_here(deps: Deps, channel_id: str | None) -> Project | None:
    """The project of a channel (for answers that only need its language)."""
    with unit_of_work(deps) as u:
        return projects.for_channel(u.session, u.team_id, channel_id)


@_refusing
def listing(deps: Deps, who: Person, channel_id: str | None, status_filter: str | None, page: int = 1) -> Listing:
    """`/req list [filter]` and its pager; `status_filter` None: a filter we do not know."""
    with unit_of_work(deps) as u:
        project = projects.for_channel(u.session, u.team_id, channel_id)
        if project is None:
            raise NotFound("common.no_project_here")
        shown = _page(u, project, status_filter, page) if status_filter is not None else None
        return Listing(project=project, is_team=who.is_team, page=shown,
                       can_decide=permissions.can_decide_for_client(project, who.user_id))


@_refusing
def export(deps: Deps, who: Person, channel_id: str | None) -> Exported:
    """The requirements document of the channel's project (Markdown and CSV, with display
    names), sent to the person as a direct message."""
    with unit_of_work(deps) as u:
        project = projects.for_channel(u.session, u.team_id, channel_id)
        if project is None:
            raise NotFound("common.no_project_here")
        user_ids = {x for r in requirements.all_of(u.session, project.id or 0) for x in (r.raised_by, r.decided_by)
                    if x}
    names = display_names(deps, user_ids)  # Slack, between the transactions
    with read_scope(deps.engine) as session:
        markdown = render(session, project, "md", names=names, now=u.now)
        csv_text = render(session, project, "csv", names=names)
    lang, name, stem = project.language, project.name, _file_stem(project, u.now)
    try:
        dm = deps.client.conversations_open(users=who.user_id)["channel"]["id"]
        deps.client.files_upload_v2(
            channel=dm, initial_comment=t("requirements.export_comment", lang, name=safe(name, 200)),
            file_uploads=[
                {"content": markdown.encode("utf-8"), "filename": f"{stem}.md",
                 "title": t("requirements.export_title_md", lang, name=name)},
                {"content": csv_text.encode("utf-8"), "filename": f"{stem}.csv",
                 "title": t("requirements.export_title_csv", lang, name=name)},
            ],
        )
    except SlackApiError as err:
        log.warning("requirements export upload for %s failed: %s", who.user_id, err.response.get("error"))
        return Exported(project=project, error=str(err.response.get("error") or "error"))
    return Exported(project=project)


def _file_stem(project: Project, now: datetime) -> str:
    slug = re.sub(r"[^\w-]+", "-", project.name, flags=re.UNICODE).strip("-").lower() or f"project-{project.id}"
    return f"requirements-{slug[:60]}-{local(now, project.timezone)[:10]}"


# Capture ------------------------------------------------------------------------------------


@_refusing
def open_capture(deps: Deps, who: Person, channel_id: str | None) -> Capture:
    """Where the capture form opens: the channel's project, else a picker of the user's projects
    (their channels asked of Slack between two transactions, so that none waits on it)."""
    with unit_of_work(deps) as u:
        project = projects.for_channel(u.session, u.team_id, channel_id)
        if project is not None:
            return _capture(u, who, project)
    who = knowing_channels(deps, who, None)
    with unit_of_work(deps) as u:
        return _picker(u, who)


def _capture(u: Unit, who: Person, project: Project) -> Capture:
    if project.status != ProjectStatus.active:
        raise Refused(InvalidTransition("permissions.project_closed"), project)
    return Capture(project=project, for_client=permissions.speaks_for_client(
        project, who.user_id, client_side=who.is_client_side))


def _picker(u: Unit, who: Person) -> Capture:
    mine = projects.visible_to(u.session, u.team_id, channels_of(u.deps, who),
                               include_closed=False)
    if not mine:
        raise NotFound("common.no_project_here")
    return Capture(project=None, picker=mine)


@_refusing
def open_intake(deps: Deps, who: Person, project_id: int | None, channel_id: str | None) -> Capture:
    """The intake message's *New requirement*: anyone in the project's client channel."""
    with unit_of_work(deps) as u:
        project = u.session.get(Project, project_id) if project_id else None
        if project is None or project.team_id != u.team_id or channel_id != project.client_channel_id:
            raise NotFound("common.not_found")
        return _capture(u, who, project)


@_refusing
def quick_capture(deps: Deps, who: Person, channel_id: str | None, title: str) -> Saved | Capture:
    """`/req <title>` in a project's channel: saved at once. Outside a project's channel the
    form opens instead, prefilled, with a project picker."""
    with unit_of_work(deps) as u:
        project = projects.for_channel(u.session, u.team_id, channel_id)
        if len(title) > requirements.TITLE_MAX:
            raise Refused(ValidationFailed({"title": ("requirements.error_quick_too_long",
                                                      {"max": requirements.TITLE_MAX, "length": len(title)})}),
                          project)
        if project is not None:
            with _about(project):
                return _create(u, who, project, requirements.RequirementInput(title=title))
    who = knowing_channels(deps, who, None)  # the picker: Slack asked between two transactions
    with unit_of_work(deps) as u:
        return _picker(u, who)


def _create(u: Unit, who: Person, project: Project, data: requirements.RequirementInput) -> Saved:
    by_client = permissions.speaks_for_client(project, who.user_id, client_side=who.is_client_side)
    req = requirements.create(u.session, u.clock, project=project, actor=who.user_id, data=data,
                              raised_by_client=by_client)
    if by_client:
        _notice(u, req, project, "requirements.notice_raised", user=who.user_id)
    return Saved(req=req, project=project, created=True, by_client=by_client, is_team=who.is_team,
                 can_decide=permissions.can_decide_for_client(project, who.user_id))


@_refusing
def save(deps: Deps, who: Person, *, project_id: int | None, req_id: int | None,
         data: requirements.RequirementInput, stamp: dict[str, Any] | None) -> Saved:
    """The requirement form submitted: a new requirement, or an edit applying only the fields
    this form changed (a field someone else changed meanwhile is a conflict: nothing is saved)."""
    if project_id is None:
        raise ValidationFailed({"project": ("requirements.error_pick_project", {})})
    with unit_of_work(deps) as u:
        try:
            project = projects.get(u.session, u.team_id, project_id)
        except NotFound:  # the project picked (or named by the form) is not one here
            raise ValidationFailed({"project" if req_id is None else "title": ("common.not_found", {})}) from None
        with _about(project):
            return _save(u, who, project, req_id, data, stamp)


def _save(u: Unit, who: Person, project: Project, req_id: int | None, data: requirements.RequirementInput,
          stamp: dict[str, Any] | None) -> Saved:
    if req_id is None:
        return _create(u, who, project, data)
    _team_only(who)
    req, owner = requirements.get(u.session, u.team_id, req_id)
    if owner.id != project.id:
        raise NotFound("common.not_found")
    current = {f: getattr(req, f) for f in requirements.CONTENT_FIELDS}
    plan = edits.plan(stamp, submitted={f: getattr(data, f) for f in requirements.CONTENT_FIELDS},
                      current=current)
    saved = Saved(req=req, project=project, created=False, by_client=False, is_team=True,
                  can_decide=permissions.can_decide_for_client(project, who.user_id))
    if plan.conflicts:
        saved.conflicts = {f: str(current[f] or "") for f in plan.conflicts}
        return saved
    merged = requirements.RequirementInput(**{**current, **plan.changes})
    requirements.edit(u.session, u.clock, req=req, project=project, actor=who.user_id, data=merged,
                      version=req.version)
    u.refresh(target_of(req.id or 0), project)
    return saved


@_refusing
def open_edit(deps: Deps, who: Person, req_id: int | None, channel_id: str | None, where: str) -> Shown:
    """*Edit*: the form opens on the current version (its stamp says what it showed)."""
    who = knowing_channels(deps, who, channel_id)  # Slack first: no transaction waits on it
    with unit_of_work(deps) as u:
        req, project = _reachable(u, who, req_id, channel_id)
        with _about(project):
            _team_only(who)
        if not requirements.can_edit(req.status):
            return _shown(u, who, req, project, where, refused=_status_now(req))
        stamp = edits.stamp(req.version, {f: getattr(req, f) for f in requirements.CONTENT_FIELDS})
        return _shown(u, who, req, project, where, stamp=stamp)


# Sending and the team's actions -----------------------------------------------------------


@_refusing
def send(deps: Deps, who: Person, req_id: int | None, channel_id: str | None, where: str) -> Shown:
    """*Send for confirmation*: the status changes and the request is owed to the client
    channel in the same transaction; it is drawn from the record when it is posted."""
    who = knowing_channels(deps, who, channel_id)  # Slack first: no transaction waits on it
    with unit_of_work(deps) as u:
        req, project = _reachable(u, who, req_id, channel_id)
        with _about(project):
            _team_only(who)
        try:
            requirements.send_for_confirmation(u.session, u.clock, req=req, project=project, actor=who.user_id)
        except InvalidTransition as err:
            return _shown(u, who, req, project, where, refused=err)
        target = target_of(req.id or 0)
        outbox.skip_pending_posts(u.session, target, now=u.now)  # an earlier sending never posted
        row = u.owe(key=outbox_keys.req_confirm(req.id or 0, str(req.version)), kind=Kind.req_confirm,
                    project=project, channel_id=project.client_channel_id, target=target)
        shown = _shown(u, who, req, project, where, done="send")
    shown.send_error = last_error(deps, row.id or 0)
    return shown


@_refusing
def team_action(deps: Deps, who: Person, action: str, req_id: int | None, channel_id: str | None,
                where: str) -> Shown:
    """Defer, drop, mark done: team only, each recorded with before and after."""
    who = knowing_channels(deps, who, channel_id)  # Slack first: no transaction waits on it
    with unit_of_work(deps) as u:
        u.after_the_answer()  # the answer says what was recorded: it goes before the message's update
        req, project = _reachable(u, who, req_id, channel_id)
        with _about(project):
            _team_only(who)
        try:
            TEAM_ACTIONS[action](u.session, u.clock, req=req, project=project, actor=who.user_id)
        except InvalidTransition as err:
            return _shown(u, who, req, project, where, refused=err)
        u.refresh(target_of(req.id or 0), project)
        return _shown(u, who, req, project, where, done=action)


# The client's decision ----------------------------------------------------------------------


def _decision_check(u: Unit, who: Person, req: Requirement, project: Project, version: int | None,
                    where: str) -> tuple[permissions.Decider | None, Shown | None]:
    """Who decides, or why nothing is decided: not awaiting any more, or an older version
    (then the live message is refreshed and the current text shown)."""
    decider = permissions.client_decider(project, who.user_id, client_side=who.is_client_side)
    if not requirements.is_awaiting_confirmation(req):
        return None, _shown(u, who, req, project, where, refused=_status_now(req))
    if version != req.version:
        u.refresh(target_of(req.id or 0), project)
        return None, _shown(u, who, req, project, where, outdated=True)
    return decider, None


@_refusing
def open_changes(deps: Deps, who: Person, req_id: int | None, version: int | None, channel_id: str | None,
                 where: str) -> Shown:
    """*Request changes*: the comment form, for the version the button showed."""
    who = knowing_channels(deps, who, channel_id)  # Slack first: no transaction waits on it
    with unit_of_work(deps) as u:
        req, project = _reachable(u, who, req_id, channel_id)
        with _about(project):
            _, refused = _decision_check(u, who, req, project, version, where)
        return refused or _shown(u, who, req, project, where)


@_refusing
def decide(deps: Deps, who: Person, decision: str, req_id: int | None, version: int | None, *,
           channel_id: str | None = None, where: str = "", comment: str = "", from_form: bool = False) -> Shown:
    """Confirm or request changes, on the version the decider was shown. Exactly one decision is
    recorded however often it is clicked; a team member (the PM, or one listed as a client
    approver) decides on behalf of the client, and it is recorded and shown so."""
    assert decision in DECISIONS
    if not from_form:
        who = knowing_channels(deps, who, channel_id)  # Slack first: no transaction waits on it
    with unit_of_work(deps) as u:
        u.after_the_answer()  # the note says what was recorded: it goes before the message's update
        if from_form:  # the form was opened from a checked button; the decider is checked again
            if req_id is None:
                raise NotFound("common.not_found")
            req, project = requirements.get(u.session, u.team_id, req_id)
        else:
            req, project = _reachable(u, who, req_id, channel_id)
        with _about(project):
            decider, refused = _decision_check(u, who, req, project, version, where)
        if decider is None:
            assert refused is not None
            return refused
        try:
            if decision == "confirm":
                requirements.confirm(u.session, u.clock, req=req, project=project, decider=decider, version=version)
            else:
                requirements.request_changes(u.session, u.clock, req=req, project=project, decider=decider,
                                             comment=comment, version=version)
        except requirements.Outdated:
            u.refresh(target_of(req.id or 0), project)
            return _shown(u, who, req, project, where, outdated=True)
        except InvalidTransition as err:
            return _shown(u, who, req, project, where, refused=err)
        except DomainError as err:  # the comment is missing or too long
            raise Refused(err, project) from err
        u.refresh(target_of(req.id or 0), project)
        key = "requirements.notice_confirmed" if decision == "confirm" else "requirements.notice_changes"
        _notice(u, req, project, key, user=decider.user_id, on_behalf=decider.on_behalf_of_client)
        return _shown(u, who, req, project, where, done=decision, on_behalf=decider.on_behalf_of_client)
