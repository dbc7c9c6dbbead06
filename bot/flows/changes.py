"""Change requests, one use case a function (SPEC §2, §3): raise (form, quick, intake), assess
and revise the assessment, send for the client's approval, approve, reject, withdraw, mark
implemented, list, export.

Each function opens ONE unit of work: the project is found by its channel, the clicker's reach
and rights are checked, the services change the record, the activity is logged and the messages
owed are queued, all in that one transaction. It returns a `Reply` the handler renders.

Two messages of a request live on and are drawn from the record when they are sent:

- the *approval request* in the client channel (`TargetKind.change`), posted when the request is
  first assessed and refreshed in place after every later change (a revised assessment, the
  decision, implementation, withdrawal); where it lives is recorded by `record_approval_message`;
- the team's *notice* (internal channel, else the PM by DM; `TargetKind.change_notice`), whose
  *Assess* button gives way to what happened.

Approve and Reject carry the version they showed. A decision on an older version (the team
revised the assessment since) or on none is refused with the request as it stands now and its
current buttons; nothing changes, and the approval message is refreshed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlmodel import Session, col, select

from bot.blocks import ids
from bot.blocks.changes import (
    ListItem,
    approval_message,
    assess_modal,
    change_list,
    change_modal,
    decision_line,
    explain,
    notice_closed,
    ref,
    reject_modal,
    stale_decision,
    stale_decision_plain,
    submitted_ack,
    team_notice,
)
from bot.blocks.pagination import page_count, pager
from bot.blocks.text import channel_link, mention, safe
from bot.deps import Deps
from bot.flows import outbox_keys
from bot.flows.delivery import deliver_now
from bot.flows.messages import Rendered
from bot.flows.outbox_keys import Kind, Target, TargetKind
from bot.flows.people import Person, channels_of, is_outside_channels, knowing_channels
from bot.flows.unit import Unit, send_after_answer, unit_of_work
from bot.i18n import person_language, t
from bot.models import ChangeRequest, ChangeStatus, Outbox, Project, Requirement
from bot.reports.change_wording import decision_moves
from bot.services import changes, edits, export_changes, milestones, outbox, permissions, projects
from bot.services.errors import DomainError, Forbidden, NotFound, ValidationFailed

PER_PAGE = 10
STATUSES = [s.value for s in ChangeStatus]




@dataclass
class Reply:
    """What a flow tells the person who acted, for the handler to render.

    `errors`: a form's refusals by field ("" for the form as a whole); `view`: a modal to open;
    `channel`: where to tell them after a form (their channel, else a DM); `home`: republish their
    App Home (the click came from there); `owed`: messages queued but not sent yet (the handler
    acknowledges first, then `finish`es)."""

    text: str
    blocks: list[dict[str, Any]] | None = None
    ok: bool = True
    view: dict[str, Any] | None = None
    errors: dict[str, str] | None = None
    channel: str | None = None
    home: bool = False
    owed: list[int] = field(default_factory=list)


def finish(deps: Deps, reply: Reply) -> None:
    """Send what a flow queued with `deliver=False`, once the request has its answer."""
    owed = list(reply.owed)
    if owed:
        send_after_answer(lambda: deliver_now(deps, owed))


# The frame of every flow -------------------------------------------------------------------


@dataclass
class _Scope:
    u: Unit
    person: Person
    channel_id: str | None
    project: Project | None = None

    @property
    def session(self) -> Session:
        return self.u.session

    @property
    def lang(self) -> str:
        if self.project is None:
            self.project = projects.for_channel(self.session, self.u.team_id, self.channel_id)
        return self.reader(self.project)

    def reader(self, project: Project | None) -> str:
        """The language of the person asking: their Slack locale where known, else the project's
        (an ephemeral answer or a form is read by them alone; issue 17)."""
        return person_language(self.person.locale, project.language if project else None)

    def here(self) -> Project | None:
        """The project bound to the channel the request came from."""
        found = projects.for_channel(self.session, self.u.team_id, self.channel_id)
        if found is not None:
            self.project = found
        return found

    def at(self, project: Project) -> Project:
        self.project = project
        return project


class _Refusal(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def _refused(err: DomainError, s: _Scope) -> Reply:
    """A refusal, worded while the records are at hand (the unit then rolls back)."""
    lang = s.lang
    if isinstance(err, ValidationFailed):
        errors = {f: t(key, lang, **params)[:2000] for f, (key, params) in err.errors.items()}
        return Reply(text=next(iter(errors.values()), ""), ok=False, errors=errors)
    text = explain(err.key, err.params, lang, s.project)
    return Reply(text=text, ok=False, errors={"": text[:2000]})


@contextmanager
def _flow(deps: Deps, person: Person, channel_id: str | None, *, deliver: bool = True) -> Iterator[_Scope]:
    """One unit of work; a DomainError raised inside becomes a worded `_Refusal` (rolled back)."""
    with unit_of_work(deps, deliver=deliver) as u:
        scope = _Scope(u, person, channel_id)
        try:
            yield scope
        except DomainError as err:
            raise _Refusal(_refused(err, scope)) from err


def _run(deps: Deps, person: Person, channel_id: str | None, body: Callable[[_Scope], Reply], *,
         deliver: bool = True, reaches: bool = True) -> Reply:
    """`body` as one unit of work. `reaches`: it may act on a project from outside its channels,
    so the person's channels are asked of Slack first (`knowing_channels`)."""
    owed: list[int] = []
    if reaches:
        person = knowing_channels(deps, person, channel_id)  # Slack first: no transaction waits on it
    try:
        with _flow(deps, person, channel_id, deliver=deliver) as s:
            reply = body(s)
            owed = s.u.owed
    except _Refusal as refusal:
        return refusal.reply
    if not deliver:
        reply.owed = list(owed)
    return reply


def _reach(s: _Scope, project: Project) -> None:
    """A button about `project` works in that project's channels, and elsewhere (a DM, the App
    Home) for someone in one of them; in another project's channel it is not found."""
    here = projects.for_channel(s.session, s.u.team_id, s.channel_id)
    if here is not None:
        ok = here.id == project.id
    else:
        mine = {project.client_channel_id, project.internal_channel_id} - {None}
        ok = bool(mine & channels_of(s.u.deps, s.person))
    if not ok:
        raise NotFound("common.not_found")


def _load(s: _Scope, cr_id: int | None, *, reach: bool = True) -> tuple[ChangeRequest, Project]:
    """The request a button or form names, within this workspace (and the clicker's reach)."""
    if cr_id is None:
        raise NotFound("common.not_found")
    cr, project = changes.get_in_team(s.session, s.u.team_id, cr_id)
    if reach:
        _reach(s, project)  # before it is known here: a refusal speaks the language of this channel
    s.at(project)
    return cr, project


def _team_only(s: _Scope) -> None:
    if not s.person.is_team:
        raise Forbidden("common.refused_team_only")


# Live messages: drawn from the record when sent --------------------------------------------


def approval_target(cr_id: int) -> str:
    return outbox_keys.target(TargetKind.change, cr_id)


def notice_target(cr_id: int) -> str:
    return outbox_keys.target(TargetKind.change_notice, cr_id)


def _approval_payload(session: Session, cr: ChangeRequest, project: Project) -> dict[str, Any]:
    assert cr.id is not None
    ms, reqs = changes.affected(session, [cr.id])
    moves = {int(m["milestone_id"]): (str(m["from"]), str(m["to"]))
             for m in decision_moves(changes.history(session, [cr.id])[cr.id])
             if m.get("milestone_id")}
    return approval_message(cr, project, project.language, milestones=ms[cr.id], requirements=reqs[cr.id],
                            moves=moves)


def _record(session: Session, target: Target) -> tuple[ChangeRequest, Project] | None:
    cr = session.get(ChangeRequest, target.id, populate_existing=True)
    project = session.get(Project, cr.project_id) if cr else None
    return (cr, project) if cr is not None and project is not None else None


def draw_approval(session: Session, target: Target) -> Rendered | None:
    """The approval request as the record stands now (nothing before the first assessment)."""
    found = _record(session, target)
    if found is None or found[0].status == ChangeStatus.submitted:
        return None
    cr, project = found
    return Rendered(channel_id=cr.approval_channel_id or project.client_channel_id,
                    payload=_approval_payload(session, cr, project), ts=cr.approval_ts)


def draw_notice(session: Session, target: Target) -> Rendered | None:
    """The team's notice as the record stands now; it lives where its first post went."""
    found = _record(session, target)
    if found is None:
        return None
    cr, project = found
    sent = outbox.exists(session, outbox_keys.cr_submitted(target.id))
    posted = sent if sent is not None and sent.message_ts else None
    payload = team_notice(cr, project, project.language, closed=notice_closed(cr, project, project.language))
    return Rendered(channel_id=posted.channel_id if posted else None, payload=payload,
                    ts=posted.message_ts if posted else None)


def record_approval_message(session: Session, row: Outbox, ts: str | None) -> None:
    """After-send hook of the approval request: remember where the client decides."""
    target = outbox_keys.parse_target(row.target)
    if ts and row.channel_id and target is not None:
        changes.set_approval_message(session, target.id, row.channel_id, ts)


def _tell_team(u: Unit, cr: ChangeRequest, project: Project) -> None:
    """The team's notice that a request waits for assessment (internal channel, else the PM)."""
    assert cr.id is not None
    where: dict[str, Any] = ({"channel_id": project.internal_channel_id} if project.internal_channel_id
                             else {"user_id": project.pm_user_id})
    u.owe(key=outbox_keys.cr_submitted(cr.id), kind=Kind.cr_notice, project=project,
          target=notice_target(cr.id), **where)


def _send_for_approval(u: Unit, cr: ChangeRequest, project: Project) -> None:
    """Post the approval request in the client channel (drawn from the record when sent)."""
    assert cr.id is not None
    u.owe(key=outbox_keys.cr_approval(cr.id), kind=Kind.cr_approval, project=project,
          channel_id=project.client_channel_id, target=approval_target(cr.id))


def _tell_team_decided(u: Unit, cr: ChangeRequest, project: Project) -> None:
    assert cr.id is not None
    lang = project.language
    text = t("changes.team_decided", lang, line=decision_line(cr, project, lang), ref=ref(cr),
             title=safe(cr.title, 200), project=safe(project.name, 200))
    where: dict[str, Any] = ({"channel_id": project.internal_channel_id} if project.internal_channel_id
                             else {"user_id": project.pm_user_id})
    u.owe(key=outbox_keys.cr_decided(cr.id), kind=Kind.cr_notice, project=project, payload={"text": text}, **where)


# Raising a request -------------------------------------------------------------------------


def _open_requirements(session: Session, project: Project) -> list[Requirement]:
    return list(session.exec(
        select(Requirement).where(Requirement.project_id == project.id,
                                  col(Requirement.status).not_in(["dropped", "done"]))
        .order_by(col(Requirement.created_at).desc(), col(Requirement.id).desc()).limit(100)
    ))


def _form_for(s: _Scope, project: Project) -> Reply:
    if project.status != "active":
        raise Forbidden("permissions.project_closed")
    plan = milestones.for_project(s.session, project.id or 0)
    view = change_modal(s.reader(project), requirements=_open_requirements(s.session, project),
                        milestones=[m for m in plan if not m.done],
                        metadata={"project_id": project.id, "origin_channel": s.channel_id})
    return Reply(text="", view=view)


def request(deps: Deps, person: Person, *, channel_id: str | None, text: str) -> Reply:
    """`/change [text]`: in a project's channel the form (or, with text, a quick request with that
    title); in a DM the form with a picker of the user's projects."""

    def body(s: _Scope) -> Reply:
        project = s.here()
        if project is None:
            if not is_outside_channels(channel_id):
                raise NotFound("common.no_project_here")
            mine = projects.visible_to(s.session, s.u.team_id, channels_of(deps, s.person),
                                       include_closed=False)
            if not mine:
                raise NotFound("common.no_projects_for_you")
            view = change_modal(s.lang, title=text[: changes.TITLE_MAX], projects=mine,
                                metadata={"project_id": None, "origin_channel": channel_id})
            return Reply(text="", view=view)
        if not text:
            return _form_for(s, project)
        if project.status != "active":
            raise Forbidden("permissions.project_closed")
        return _submit(s, project, changes.ChangeInput(title=text[: changes.TITLE_MAX]))

    return _run(deps, person, channel_id, body, deliver=False)


def request_form(deps: Deps, person: Person, *, channel_id: str | None, project_id: int | None) -> Reply:
    """*Change request* on the intake message or the digest: the form, for anyone in that
    project's client channel (external users and guests included)."""

    def body(s: _Scope) -> Reply:
        project = s.session.get(Project, project_id) if project_id else None
        if project is None or project.team_id != s.u.team_id or project.client_channel_id != channel_id:
            raise NotFound("common.not_found")
        return _form_for(s, s.at(project))

    return _run(deps, person, channel_id, body)


def _submit(s: _Scope, project: Project, data: changes.ChangeInput) -> Reply:
    by_client = s.person.is_client_side or s.person.user_id in (project.client_approver_ids or [])
    cr = changes.submit(s.session, s.u.clock, project=project, actor=s.person.user_id, data=data,
                        by_client=by_client)
    _tell_team(s.u, cr, project)
    ack = submitted_ack(cr, project, s.reader(project), team_told=True)
    return Reply(text=ack["text"], blocks=ack["blocks"])


def submit_request(deps: Deps, person: Person, *, project_id: int | None, data: changes.ChangeInput,
                   origin_channel: str | None) -> Reply:
    """The request form submitted: the request is recorded and the team is told."""

    def body(s: _Scope) -> Reply:
        if project_id is None:
            raise NotFound("common.not_found")
        project = s.at(projects.get(s.session, s.u.team_id, project_id))
        reply = _submit(s, project, data)
        reply.channel = origin_channel or project.client_channel_id
        return reply

    return _run(deps, person, origin_channel, body, deliver=False)


# Assessment --------------------------------------------------------------------------------


def assess_form(deps: Deps, person: Person, *, cr_id: int | None, channel_id: str | None) -> Reply:
    """*Assess* (or *Revise assessment*): the form, prefilled with the current assessment and
    stamped with what it shows, for the team while the client has not decided."""

    def body(s: _Scope) -> Reply:
        cr, project = _load(s, cr_id)
        _team_only(s)
        changes.check_transition(cr.status, ChangeStatus.assessed)
        assert cr.id is not None
        plan = milestones.for_project(s.session, project.id or 0)
        linked = changes.milestone_ids(s.session, cr.id)
        is_pm = person.user_id == project.pm_user_id
        shown = {k: v for k, v in changes.assessment_of(cr, linked).items()
                 if is_pm or k != "share_cost_with_client"}
        view = assess_modal(s.reader(project), cr=cr, milestones=[m for m in plan if not m.done or m.id in linked],
                            linked=linked, can_share_cost=is_pm,
                            metadata={"cr_id": cr.id, "channel": channel_id,
                                      "stamp": edits.stamp(cr.version, shown)})
        return Reply(text="", view=view)

    return _run(deps, person, channel_id, body)


def assess(deps: Deps, person: Person, *, cr_id: int | None, data: changes.AssessmentInput,
           stamp: dict[str, Any] | None, share_shown: bool, channel_id: str | None) -> Reply:
    """The assessment form submitted. The first assessment sends the request to the client; a
    revision applies the fields the form changed, makes a new version and refreshes the approval
    request in place (older Approve / Reject buttons stop working)."""

    def body(s: _Scope) -> Reply:
        cr, project = _load(s, cr_id, reach=False)
        _team_only(s)
        if data.share_cost_with_client and person.user_id != project.pm_user_id:
            raise ValidationFailed({"share_cost_with_client": ("changes.error_share_pm_only", {})})
        first = cr.status == ChangeStatus.submitted
        version = cr.version
        shown = [f for f in changes.ASSESSED if share_shown or f != "share_cost_with_client"]
        cr = changes.assess(s.session, s.u.clock, cr=cr, project=project, actor=person.user_id, data=data,
                            stamp=stamp, fields=shown)
        assert cr.id is not None
        lang = s.reader(project)
        if first:
            _send_for_approval(s.u, cr, project)
        elif cr.version == version:
            return Reply(text=t("changes.reassessed_nothing", lang, ref=ref(cr)), channel=channel_id)
        else:
            s.u.refresh(approval_target(cr.id), project)
        s.u.refresh(notice_target(cr.id), project)
        key = "changes.assessed_ack" if first else "changes.reassessed_ack"
        return Reply(text=t(key, lang, ref=ref(cr), channel=channel_link(project.client_channel_id)),
                     channel=channel_id)

    return _run(deps, person, channel_id, body, deliver=False)


# Decisions ---------------------------------------------------------------------------------


def _stale(s: _Scope, cr: ChangeRequest, project: Project, *, from_home: bool, in_form: bool) -> Reply:
    """A decision on an older version: nothing changes; the current request and its buttons are
    shown, and the approval message is refreshed (it may still show the older version)."""
    assert cr.id is not None
    s.u.refresh(approval_target(cr.id), project)
    lang = s.reader(project)
    to_client = not s.person.is_team
    if in_form:
        text = stale_decision_plain(cr, lang, to_client=to_client)
        return Reply(text=text, ok=False, errors={"": text[:2000]}, home=from_home)
    ms, reqs = changes.affected(s.session, [cr.id])
    msg = stale_decision(cr, lang, milestones=ms[cr.id], requirements=reqs[cr.id], to_client=to_client)
    return Reply(text=msg["text"], blocks=msg["blocks"], ok=False, home=from_home)


def _is_stale(cr: ChangeRequest, version: int | None) -> bool:
    """Only an undecided request can be decided on an older version; a decided one is refused
    by what happened to it instead ("already approved by …")."""
    return cr.status == ChangeStatus.assessed and version != cr.version


def decide(deps: Deps, person: Person, *, cr_id: int | None, version: int | None, channel_id: str | None,
           approve: bool, reason: str | None = None, from_home: bool = False, in_form: bool = False) -> Reply:
    """*Approve* (a click) or *Reject* (the reason form submitted) on the version shown.

    Only a client decider decides: a client approver, or the PM, or a team member listed as a
    client approver, the last two always on behalf of the client. Approval moves the affected
    milestones in the same transaction."""

    def body(s: _Scope) -> Reply:
        s.u.after_the_answer()  # the answer says what was recorded: it goes before the message's update
        cr, project = _load(s, cr_id, reach=not in_form)
        decider = permissions.client_decider(project, person.user_id, client_side=person.is_client_side)
        if _is_stale(cr, version):
            return _stale(s, cr, project, from_home=from_home, in_form=in_form)
        try:
            decision = changes.decide(s.session, s.u.clock, cr_id=cr.id or 0, project=project, decider=decider,
                                      approve=approve, reason=reason, version=version)
        except changes.Stale as err:
            return _stale(s, err.cr, project, from_home=from_home, in_form=in_form)
        cr = decision.cr
        assert cr.id is not None
        s.u.refresh(approval_target(cr.id), project)
        _tell_team_decided(s.u, cr, project)
        lang = s.reader(project)
        behalf = "_on_behalf" if decider.on_behalf_of_client else ""
        key = {True: "changes.approved_ack", False: "changes.rejected_ack"}[approve] + behalf
        lines = [t(key, lang, ref=ref(cr), title=safe(cr.title, 200))]
        lines += [t("changes.moved_line", lang, name=safe(r.milestone.name, 150), old=r.old.isoformat(),
                    new=r.new.isoformat()) for r in decision.rescheduled]
        return Reply(text="\n".join(lines), channel=channel_id, home=from_home)

    return _run(deps, person, channel_id, body, deliver=not in_form)


def reject_form(deps: Deps, person: Person, *, cr_id: int | None, version: int | None, channel_id: str | None,
                from_home: bool = False) -> Reply:
    """*Reject* asks for an optional reason first; the form carries the version it rejects. Only
    a decider gets it, and only for the current version of an assessed request."""

    def body(s: _Scope) -> Reply:
        cr, project = _load(s, cr_id)
        permissions.client_decider(project, person.user_id, client_side=person.is_client_side)
        if cr.status != ChangeStatus.assessed:
            raise changes.why_not(s.session, cr.id or 0, ChangeStatus.rejected)
        if _is_stale(cr, version):
            return _stale(s, cr, project, from_home=from_home, in_form=False)
        view = reject_modal(s.reader(project), cr=cr,
                            metadata={"cr_id": cr.id, "version": cr.version, "channel": channel_id})
        return Reply(text="", view=view)

    return _run(deps, person, channel_id, body)


# Implemented, withdrawn --------------------------------------------------------------------


def implement(deps: Deps, person: Person, *, cr_id: int | None, channel_id: str | None) -> Reply:
    def body(s: _Scope) -> Reply:
        cr, project = _load(s, cr_id)
        _team_only(s)
        s.u.after_the_answer()  # the answer says what was recorded: it goes before the message's update
        cr = changes.implement(s.session, s.u.clock, cr_id=cr.id or 0, project=project, actor=person.user_id)
        s.u.refresh(approval_target(cr.id or 0), project)
        return Reply(text=t("changes.implemented_ack", s.reader(project), ref=ref(cr), title=safe(cr.title, 200)))

    return _run(deps, person, channel_id, body)


def withdraw(deps: Deps, person: Person, *, cr_id: int | None, channel_id: str | None) -> Reply:
    """Only the author, and only while the request is undecided."""

    def body(s: _Scope) -> Reply:
        cr, project = _load(s, cr_id)
        s.u.after_the_answer()  # the answer says what was recorded: it goes before the messages' updates
        cr, _former = changes.withdraw(s.session, s.u.clock, cr_id=cr.id or 0, project=project,
                                       actor=person.user_id)
        s.u.refresh(approval_target(cr.id or 0), project)
        s.u.refresh(notice_target(cr.id or 0), project)
        return Reply(text=t("changes.withdrawn_ack", s.reader(project), ref=ref(cr), title=safe(cr.title, 200)))

    return _run(deps, person, channel_id, body)


# The list and the export -------------------------------------------------------------------


def help_text(deps: Deps, person: Person, *, channel_id: str | None) -> Reply:
    return _run(deps, person, channel_id, lambda s: Reply(text=t("changes.help", s.lang)), reaches=False)


def list_page(deps: Deps, person: Person, *, channel_id: str | None, status: str | None, page: int = 1,
              of_project: int | None = None) -> Reply:
    """`/change list [status]` and its pages (`of_project`: the project the page was drawn for):
    newest first, each request with its history and the buttons this viewer may use."""

    def body(s: _Scope) -> Reply:
        project = s.here()
        if project is None or (of_project is not None and project.id != of_project):
            raise NotFound("common.no_project_here" if of_project is None else "common.not_found")
        lang = s.reader(project)
        if status is not None and status not in STATUSES:
            return Reply(text=t("changes.unknown_status", lang, status=safe(status, 30),
                                statuses=", ".join(STATUSES)), ok=False)
        assert project.id is not None
        number = page
        rows, total = changes.list_for_project(s.session, project.id, status=status, page=number, per_page=PER_PAGE)
        if not rows and number > 1:
            number = page_count(total, PER_PAGE)
            rows, total = changes.list_for_project(s.session, project.id, status=status, page=number,
                                                   per_page=PER_PAGE)
        cr_ids = [c.id for c in rows if c.id is not None]
        logs = changes.history(s.session, cr_ids)
        ms, _reqs = changes.affected(s.session, cr_ids)
        names = {m.id: m.name for group in ms.values() for m in group if m.id is not None}
        can_decide = permissions.can_decide_for_client(project, person.user_id)
        active = project.status == "active"  # a closed project shows its record, and no buttons
        items = [ListItem(cr=c, history=logs.get(c.id or 0, []), milestone_names=names,
                          actions=changes.actions_for(c, user_id=person.user_id, is_team=person.is_team,
                                                      can_decide=can_decide) if active else [])
                 for c in rows]
        pages = pager(ids.CHANGE_LIST_PAGE, page=number, total=total, per_page=PER_PAGE, lang=lang,
                      state={"p": project.id, "s": status}) if total > PER_PAGE else []
        blocks = change_list(project, items, lang, to_client=not person.is_team, status=status, pager_blocks=pages,
                             who=lambda u: mention(u) or "-")
        return Reply(text=t("changes.list_text", lang, project=safe(project.name, 200), count=total), blocks=blocks)

    return _run(deps, person, channel_id, body)


def export(deps: Deps, person: Person, *, channel_id: str | None, started: Callable[[Reply], None]) -> Reply:
    """`/change list export`: the change log as Markdown and CSV, to the user's DM. People of the
    client never get costs kept internal. `started` is told (in the project's language) as soon
    as the project is known, before the files are drawn."""
    files: dict[str, str] = {}

    def body(s: _Scope) -> Reply:
        project = s.here()
        if project is None:
            raise NotFound("common.no_project_here")
        started(Reply(text=t("changes.export_started", s.reader(project))))
        today = milestones.project_today(project, s.u.clock)
        for fmt in ("md", "csv"):
            files[fmt] = export_changes.render(s.session, project, fmt, include_internal=person.is_team, today=today)
        slug = re.sub(r"[^A-Za-z0-9]+", "-", project.name).strip("-").lower() or f"project-{project.id}"
        files["name"] = f"change-log-{slug}-{today.isoformat()}"
        files["project"], files["lang"] = project.name, project.language
        return Reply(text=t("changes.export_sent", s.reader(project)))

    reply = _run(deps, person, channel_id, body)
    if not reply.ok:
        return reply
    lang = files["lang"]
    try:
        dm = deps.client.conversations_open(users=person.user_id)["channel"]["id"]
        name, title = files["name"], files["project"]
        deps.client.files_upload_v2(
            channel=dm,
            initial_comment=t("changes.export_comment", lang, project=safe(title, 200)),
            file_uploads=[
                {"content": files["md"], "filename": f"{name}.md", "title": f"{title} — change log (Markdown)"},
                {"content": files["csv"], "filename": f"{name}.csv", "title": f"{title} — change log (CSV)"},
            ],
        )
    except SlackApiError as err:
        code = str(err.response.get("error"))
        return Reply(text=t("changes.export_failed", lang, error=safe(code, 100)),
                     ok=False)
    return reply
