"""The authorization matrix of SPEC §7: every action (each slash sub-command, each button, each
modal) × every kind of person, against a table of expectations.

- Team-only actions refuse guests and external users.
- Confirm / request changes / approve / reject work for the client approvers and the PM (on the
  client's behalf); anyone else is refused and nothing changes.
- A person only sees projects whose channels they belong to, and data of one workspace never
  reaches another: buttons carrying the id of another project (project B, in channels none of
  these people are in) or of another workspace's project (X) are refused for everyone.

The people: the PM and a team member of project A; a guest of the workspace; the client approver
and another external user of the client's organisation (Slack Connect, in A's client channel);
and a user of another workspace and organisation, in none of A's channels, whose requests carry
their own team. Each cell gets fresh items, so one person's click never decides another's.

A modal is only ever submitted by the person the bot opened it for, and its private_metadata is
the bot's own (Slack returns it unchanged), so a submission is authorized again by role (team,
decider, PM) and by workspace (metadata naming another workspace's items is refused); who may
open the modal in the first place is checked by the command and button rows.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

import pytest
from sqlmodel import select

from bot.blocks import ids
from bot.db import session_scope
from bot.i18n import t
from bot.models import (
    Acceptance,
    ChangeRequest,
    ClientItem,
    DigestWeek,
    FeedbackPrompt,
    FeedbackResponse,
    FollowUp,
    Milestone,
    Project,
    Requirement,
    Risk,
    Snooze,
)
from tests.conftest import CLIENT_CHANNEL, OTHER_ORG, PEOPLE, TEAM
from tests.e2e.helpers import project_values
from tests.fakes import payloads
from tests.hostile import world as w
from tests.hostile.conftest import ELSEWHERE, ELSEWHERE_CHANNEL
from tests.hostile.harness import Hostile, Outcome, snapshot
from tests.hostile.strategies import signed_interaction, unsign

ROLES = ("pm", "dev", "guest", "client", "outsider", "elsewhere")
USERS = {"pm": PEOPLE.pm, "dev": PEOPLE.dev, "guest": PEOPLE.guest, "client": PEOPLE.client,
         "outsider": PEOPLE.outsider, "elsewhere": ELSEWHERE}
# The workspace a request says it comes from: people of the client's organisation and of the
# other workspace send their own team, as Slack does in shared channels.
TEAMS = {"pm": TEAM, "dev": TEAM, "guest": TEAM, "client": OTHER_ORG, "outsider": OTHER_ORG,
         "elsewhere": ELSEWHERE.team_id}

TEAM_ONLY = frozenset({"pm", "dev"})
DECIDERS = frozenset({"pm", "client"})
PM_ONLY = frozenset({"pm"})
IN_CHANNEL = frozenset({"pm", "dev", "guest", "client", "outsider"})
CLIENT_SIDE = frozenset({"guest", "client", "outsider"})
EVERYONE = frozenset(ROLES)

REFUSAL_KEYS = ["common.refused_team_only", "common.not_found", "permissions.not_an_approver", "digest.not_pm",
                "feedback.only_clients", "common.no_project_here", "common.no_projects_for_you",
                "project.error_not_found", "changes.error_not_author", "client_items.refused_client_side"]
REFUSALS = [t(key, lang) for key in REFUSAL_KEYS for lang in ("en", "zh-CN")]


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


class Matrix:
    """Fresh items per cell, the requests, and what the person was told."""

    def __init__(self, hostile: Hostile, world: w.World, engine: Any, clock: Any, session: Any,
                 make_project: Any) -> None:
        self.hostile, self.world, self.engine, self.clock, self.session = hostile, world, engine, clock, session
        self.make_project = make_project
        self.fake = hostile.fake
        self._n = count(1)

    # Fresh items of project A --------------------------------------------------------------

    def _a(self, session: Any) -> Project:
        return session.get(Project, self.world.a.project)

    def req(self, state: str) -> int:
        with session_scope(self.engine) as s:
            return w.make_req(s, self.clock, self._a(s), state, tag="Acme", client="U0CLIENT", pm="U0PM",
                              dev="U0DEV")

    def cr(self, state: str) -> int:
        with session_scope(self.engine) as s:
            return w.make_cr(s, self.clock, self._a(s), state, tag="Acme", client="U0CLIENT", dev="U0DEV")

    def milestone(self) -> int:
        with session_scope(self.engine) as s:
            return w.make_milestone(s, self.clock, self._a(s), "open", tag="Acme", pm="U0PM")

    def risk(self, state: str = "open") -> int:
        with session_scope(self.engine) as s:
            return w.make_risk(s, self.clock, self._a(s), state, tag="Acme", pm="U0PM")

    def follow_up(self) -> int:
        with session_scope(self.engine) as s:
            return w.make_follow_up(s, self.clock, self._a(s), tag="Acme", client="U0CLIENT", pm="U0PM")[1]

    # Milestone acceptance
    def done_milestone(self) -> int:
        with session_scope(self.engine) as s:
            return w.make_milestone(s, self.clock, self._a(s), "done", tag="Acme", pm="U0PM")

    def acceptance(self, state: str = "requested") -> tuple[int, int]:
        """A fresh request of A in `state`: (request id, milestone id)."""
        with session_scope(self.engine) as s:
            return w.make_acceptance(s, self.clock, self._a(s), state, tag="Acme", pm="U0PM", client="U0CLIENT")

    def project(self) -> tuple[int, str]:
        """A project of its own (for actions on a whole project: close, digest, prompts), in a
        channel everyone of A's client channel is in."""
        n = next(self._n)
        channel = f"C0FRESH{n}"
        self.fake.set_channel(channel, name=f"fresh-{n}", is_ext_shared=True)
        self.fake.set_members(channel, ["U0PM", "U0DEV", "U0GUEST", "U0CLIENT", "U0OUTSIDER"])
        project = self.make_project(f"Acme fresh {n}", client_channel_id=channel, internal_channel_id=None)
        return project.id, channel

    # Requests ------------------------------------------------------------------------------

    def channel(self, role: str, channel: str) -> str:
        return ELSEWHERE_CHANNEL if role == "elsewhere" else channel

    def command(self, role: str, command: str, text: str, channel: str = CLIENT_CHANNEL) -> Outcome:
        built = payloads.slash_command(command, text, user=USERS[role], channel_id=self.channel(role, channel),
                                       team_id=TEAMS[role], response_url=self.fake.response_url(f"m{next(self._n)}"))
        return self.send(built)

    def click(self, role: str, action_id: str, value: str, channel: str = CLIENT_CHANNEL,
              block_id: str = "b") -> Outcome:
        if channel == "DM":
            channel = f"D{USERS[role].id}"
        built = payloads.block_actions(action_id, value, user=USERS[role], team_id=TEAMS[role],
                                       channel_id=self.channel(role, channel), block_id=block_id,
                                       response_url=self.fake.response_url(f"m{next(self._n)}"))
        return self.send(built)

    def overflow(self, role: str, action_id: str, value: str) -> Outcome:
        built = payloads.block_actions(action_id, None, user=USERS[role], team_id=TEAMS[role],
                                       channel_id=f"D{USERS[role].id}", action_type="overflow",
                                       selected_option=value, response_url=self.fake.response_url("o"))
        return self.send(built)

    def submit(self, role: str, callback_id: str, values: dict[str, Any], meta: dict[str, Any]) -> Outcome:
        built = payloads.view_submission(callback_id, values, user=USERS[role], team_id=TEAMS[role],
                                         private_metadata=json.dumps(meta), installed_team_id=TEAM)
        return self.send(signed_interaction(unsign(built)))

    def send(self, built: tuple[str, dict[str, str]]) -> Outcome:
        self.hostile.settle()
        self.before = snapshot(self.engine)  # after the cell's fresh items were made
        return self.hostile.send(built, count_rows=False)

    # Reading the outcome -------------------------------------------------------------------

    def told(self, outcome: Outcome) -> str:
        """Everything the person was shown: the ack, responses, ephemerals, DMs, inline errors."""
        shown: list[str] = []
        with contextlib.suppress(ValueError):
            shown += _strings(outcome.response.json())
        for call in outcome.calls:
            if call.method in ("response_url", "chat.postEphemeral") or (
                    call.method == "chat.postMessage" and str(call.params.get("channel", "")).startswith("D")):
                shown += _strings({k: call.params.get(k) for k in ("text", "blocks")})
        return "\n".join(shown)

    def refused(self, outcome: Outcome) -> bool:
        told = self.told(outcome)
        return any(r in told for r in REFUSALS)

    def get(self, model: Any, ident: int) -> Any:
        return self.session.get(model, ident)

    def exists(self, model: Any, **where: Any) -> bool:
        stmt = select(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return bool(self.session.exec(stmt).all())


# The table ----------------------------------------------------------------------------------

Run = Callable[[Matrix, str], tuple[Outcome, Callable[[], bool]]]


@dataclass(frozen=True)
class Row:
    name: str
    allowed: frozenset[str]
    run: Run
    roles: tuple[str, ...] = ROLES


def opened(outcome: Outcome, callback_id: str) -> bool:
    return any(c.method == "views.open" and c.params["view"].get("callback_id") == callback_id
               for c in outcome.calls)


def posted_to(outcome: Outcome, channel: str) -> bool:
    return any(c.method == "chat.postMessage" and c.params.get("channel") == channel and c.ok for c in outcome.calls)


def cmd(command: str, text: str, check: Callable[[Matrix, Outcome, str], bool], channel: str = CLIENT_CHANNEL) -> Run:
    def run(m: Matrix, role: str) -> tuple[Outcome, Callable[[], bool]]:
        outcome = m.command(role, command, text, channel)
        return outcome, lambda: check(m, outcome, role)
    return run


def cmd_fresh(command: str, text: str, check: Callable[[Matrix, Outcome, str, int, str], bool]) -> Run:
    """A command in the channel of a project of its own (it changes the whole project)."""
    def run(m: Matrix, role: str) -> tuple[Outcome, Callable[[], bool]]:
        pid, channel = m.project()
        outcome = m.command(role, command, text, channel)
        return outcome, lambda: check(m, outcome, role, pid, channel)
    return run


def btn(action_id: str, make: Callable[[Matrix], Any], check: Callable[[Matrix, Outcome, Any], bool], *,
        value: Callable[[Any], str] = str, channel: str | Callable[[Any], str] = CLIENT_CHANNEL,
        versioned: Any = None) -> Run:
    """`versioned`: the model of a decision button, whose value carries the version it showed."""
    def run(m: Matrix, role: str) -> tuple[Outcome, Callable[[], bool]]:
        item = make(m)
        shown = ids.decision_value(item, m.get(versioned, item).version) if versioned is not None else value(item)
        outcome = m.click(role, action_id, shown, channel(item) if callable(channel) else channel)
        return outcome, lambda: check(m, outcome, item)
    return run


def decision_btn(action_id: str, model: Any, make: Callable[[Matrix], Any],
                 check: Callable[[Matrix, Outcome, Any], bool]) -> Run:
    """A decision button as the bot draws it: its value names the item's current version."""
    def run(m: Matrix, role: str) -> tuple[Outcome, Callable[[], bool]]:
        item = make(m)
        outcome = m.click(role, action_id, ids.decision_value(item, m.get(model, item).version), CLIENT_CHANNEL)
        return outcome, lambda: check(m, outcome, item)
    return run


def view(callback_id: str, make: Callable[[Matrix, str], tuple[dict, dict, Any]],
         check: Callable[[Matrix, Outcome, Any], bool]) -> Run:
    def run(m: Matrix, role: str) -> tuple[Outcome, Callable[[], bool]]:
        values, meta, item = make(m, role)
        outcome = m.submit(role, callback_id, values, meta)
        return outcome, lambda: outcome.view_errors is None and check(m, outcome, item)
    return run


def modal(callback_id: str) -> Callable[[Matrix, Outcome, Any], bool]:
    return lambda m, o, _item: opened(o, callback_id)


def status(model: Any, expected: str) -> Callable[[Matrix, Outcome, Any], bool]:
    return lambda m, o, item: m.get(model, item).status == expected


def shows(*texts: str, hides: tuple[str, ...] = ("Beta", "Xeno")) -> Callable[..., bool]:
    """The person was shown `texts` (A's data) and nothing of project B or of the other workspace."""
    def check(m: Matrix, o: Outcome, *_: Any) -> bool:
        told = m.told(o)
        return all(x in told for x in texts) and not any(h in told for h in hides)
    return check


V = ids.VALUE


def text(value: str) -> dict[str, Any]:
    return {V: payloads.plain_text(value)}


COMMANDS = [
    Row("/project setup", TEAM_ONLY, cmd("/project", "setup", lambda m, o, r: opened(o, ids.PROJECT_MODAL),
                                         channel="C0OTHER")),
    Row("/project show", TEAM_ONLY, cmd("/project", "show", shows("Acme Web Shop"))),
    Row("/project list", TEAM_ONLY, cmd("/project", "list", shows("Acme Web Shop"))),
    Row("/project edit", TEAM_ONLY, cmd("/project", "edit", lambda m, o, r: opened(o, ids.PROJECT_MODAL))),
    Row("/project close", TEAM_ONLY, cmd("/project", "close",
                                         lambda m, o, r: ids.PROJECT_CLOSE_CONFIRM in o.response.text)),
    Row("/req", IN_CHANNEL, cmd("/req", "", lambda m, o, r: opened(o, ids.REQ_MODAL))),
    Row("/req <title>", IN_CHANNEL, cmd("/req", "Quick capture by someone",
                                        lambda m, o, r: "REQ-" in m.told(o) and not m.refused(o))),
    Row("/req list", IN_CHANNEL, cmd("/req", "list", shows("Acme requirement"))),
    Row("/req export", IN_CHANNEL, cmd("/req", "export", lambda m, o, r: any(
        c.method == "files.completeUploadExternal" for c in o.calls))),
    Row("/change", IN_CHANNEL, cmd("/change", "", lambda m, o, r: opened(o, ids.CHANGE_MODAL))),
    Row("/change <title>", IN_CHANNEL, cmd("/change", "Quick change by someone",
                                           lambda m, o, r: "CR-" in m.told(o) and not m.refused(o))),
    Row("/change list", IN_CHANNEL, cmd("/change", "list", shows("Acme change"))),
    Row("/risk", TEAM_ONLY, cmd("/risk", "", lambda m, o, r: opened(o, ids.RISK_MODAL))),
    Row("/risk <title>", TEAM_ONLY, cmd("/risk", "Quick risk by someone",
                                        lambda m, o, r: m.exists(Risk, title="Quick risk by someone"))),
    Row("/risk list", TEAM_ONLY, cmd("/risk", "list", shows("Acme risk"))),
    Row("/milestone", TEAM_ONLY, cmd("/milestone", "", lambda m, o, r: opened(o, ids.MILESTONE_MODAL))),
    Row("/milestone list", TEAM_ONLY, cmd("/milestone", "list", shows("Acme milestone"))),
    Row("/milestone update", TEAM_ONLY, cmd("/milestone", "update",
                                            lambda m, o, r: opened(o, ids.MILESTONE_PICK_MODAL))),
    Row("/feedback", IN_CHANNEL, cmd("/feedback", "", lambda m, o, r: opened(o, ids.FEEDBACK_MODAL))),
    Row("/feedback ask", TEAM_ONLY, cmd_fresh("/feedback", "ask", lambda m, o, r, pid, ch: m.exists(
        FeedbackPrompt, project_id=pid))),
    Row("/feedback list", TEAM_ONLY, cmd("/feedback", "list", shows("Acme Web Shop"))),
    Row("/digest preview", TEAM_ONLY, cmd("/digest", "preview", shows("Acme Web Shop"))),
    # The PM posts at once; another team member is asked to confirm first (issue 10, item 6).
    Row("/digest send", TEAM_ONLY, cmd_fresh("/digest", "send", lambda m, o, r, pid, ch: posted_to(o, ch) if r == "pm"
                                             else ids.DIGEST_SEND_CONFIRM in m.told(o))),
]

REQUIREMENT_BUTTONS = [
    Row("intake: New requirement", IN_CHANNEL, btn(ids.INTAKE_NEW_REQUIREMENT, lambda m: m.world.a.project,
                                                   modal(ids.REQ_MODAL))),
    Row("requirement: Edit", TEAM_ONLY, btn(ids.REQ_EDIT, lambda m: m.req("proposed"), modal(ids.REQ_MODAL))),
    Row("requirement: Send for confirmation", TEAM_ONLY, btn(ids.REQ_SEND, lambda m: m.req("proposed"),
                                                             lambda m, o, i: m.get(Requirement, i).status == "proposed"
                                                             and m.get(Requirement, i).sent_for_confirmation_at
                                                             is not None)),
    Row("requirement: Defer", TEAM_ONLY, btn(ids.REQ_DEFER, lambda m: m.req("proposed"),
                                             status(Requirement, "deferred"))),
    Row("requirement: Drop", TEAM_ONLY, btn(ids.REQ_DROP, lambda m: m.req("proposed"),
                                            status(Requirement, "dropped"))),
    Row("requirement: Done", TEAM_ONLY, btn(ids.REQ_DONE, lambda m: m.req("confirmed"),
                                            status(Requirement, "done"))),
    Row("requirement: Confirm", DECIDERS, btn(ids.REQ_CONFIRM, lambda m: m.req("awaiting"),
                                              status(Requirement, "confirmed"), versioned=Requirement)),
    Row("requirement: Request changes", DECIDERS, btn(ids.REQ_REQUEST_CHANGES, lambda m: m.req("awaiting"),
                                                      modal(ids.REQ_CHANGES_MODAL), versioned=Requirement)),
    Row("requirements list: Next", IN_CHANNEL, btn(ids.REQ_LIST_PAGE + ":next", lambda m: None,
                                                   shows("Acme requirement"), value=lambda _: '{"s": "", "page": 1}')),
]

CHANGE_BUTTONS = [
    Row("intake: Change request", IN_CHANNEL, btn(ids.INTAKE_CHANGE_REQUEST, lambda m: m.world.a.project,
                                                  modal(ids.CHANGE_MODAL))),
    Row("change: Assess", TEAM_ONLY, btn(ids.CHANGE_ASSESS, lambda m: m.cr("submitted"),
                                         modal(ids.CHANGE_ASSESS_MODAL))),
    Row("change: Approve", DECIDERS, decision_btn(ids.CHANGE_APPROVE, ChangeRequest, lambda m: m.cr("assessed"),
                                                  status(ChangeRequest, "approved"))),
    Row("change: Reject", DECIDERS, decision_btn(ids.CHANGE_REJECT, ChangeRequest, lambda m: m.cr("assessed"),
                                                 modal(ids.CHANGE_REJECT_MODAL))),
    Row("change: Implemented", TEAM_ONLY, btn(ids.CHANGE_IMPLEMENTED, lambda m: m.cr("approved"),
                                              status(ChangeRequest, "implemented"))),
    # Only the author withdraws (the client raised these requests).
    Row("change: Withdraw", frozenset({"client"}), btn(ids.CHANGE_WITHDRAW, lambda m: m.cr("submitted"),
                                                       status(ChangeRequest, "withdrawn"))),
    Row("changes list: Next", IN_CHANNEL, btn(ids.CHANGE_LIST_PAGE + ":next", lambda m: m.world.a.project,
                                              shows("Acme change"), value=lambda p: json.dumps({"p": p, "page": 1}))),
]

PLAN_BUTTONS = [
    Row("milestone: Update", TEAM_ONLY, btn(ids.MILESTONE_EDIT, lambda m: m.milestone(),
                                            modal(ids.MILESTONE_EDIT_MODAL))),
    Row("milestones list: Next", TEAM_ONLY, btn(ids.MILESTONE_LIST_PAGE + ":next", lambda m: m.world.a.project,
                                                shows("Acme milestone"),
                                                value=lambda p: json.dumps({"p": p, "page": 1}))),
    Row("risk: Add details", TEAM_ONLY, btn(ids.RISK_ADD_DETAILS, lambda m: m.risk(), modal(ids.RISK_MODAL))),
    Row("risk: Edit", TEAM_ONLY, btn(ids.RISK_EDIT, lambda m: m.risk(), modal(ids.RISK_MODAL))),
    Row("risk: Set next review", TEAM_ONLY, btn(ids.RISK_SET_REVIEW, lambda m: m.risk(),
                                                modal(ids.RISK_REVIEW_MODAL))),
    *[Row(f"risk: {to}", TEAM_ONLY, btn(action, lambda m, s=frm: m.risk(s), status(Risk, to),
                                        value=lambda i, s=frm: json.dumps({"id": i, "from": s, "page": 1})))
      for action, frm, to in [(ids.RISK_MITIGATED, "open", "mitigated"), (ids.RISK_OCCURRED, "open", "occurred"),
                              (ids.RISK_CLOSED, "open", "closed"), (ids.RISK_REOPEN, "mitigated", "open")]],
    Row("risks list: Next", TEAM_ONLY, btn(ids.RISK_LIST_PAGE + ":next", lambda m: m.world.a.project,
                                           shows("Acme risk"), value=lambda p: json.dumps({"project": p, "page": 1}))),
]


def score(n: int) -> Run:
    """A score button of A's prompt: the person's answer is that score afterwards."""
    def run(m: Matrix, role: str) -> tuple[Outcome, Callable[[], bool]]:
        prompt = m.world.a.prompt
        outcome = m.click(role, f"{ids.FEEDBACK_SCORE}:{n}", f"{prompt}:{n}")
        return outcome, lambda: m.exists(FeedbackResponse, prompt_id=prompt, user_id=USERS[role].id, score=n)
    return run


FEEDBACK_BUTTONS = [
    Row("intake: Give feedback", IN_CHANNEL, btn(ids.INTAKE_GIVE_FEEDBACK, lambda m: m.world.a.project,
                                                 modal(ids.FEEDBACK_MODAL))),
    *[Row(f"prompt: score {n}", CLIENT_SIDE, score(n)) for n in (1, 5)],
    Row("prompt: Add a comment", CLIENT_SIDE, btn(ids.FEEDBACK_COMMENT, lambda m: m.world.a.prompt,
                                                  modal(ids.FEEDBACK_COMMENT_MODAL))),
    Row("cooldown: Post anyway", TEAM_ONLY, btn(ids.FEEDBACK_POST_ANYWAY, lambda m: m.project(),
                                                lambda m, o, item: m.exists(FeedbackPrompt, project_id=item[0]),
                                                value=lambda item: json.dumps({"project": item[0], "after": None}),
                                                channel="DM")),
    Row("follow-up: Resolve", TEAM_ONLY, btn(ids.FEEDBACK_RESOLVE, lambda m: m.follow_up(),
                                             modal(ids.FEEDBACK_RESOLVE_MODAL), channel="DM")),
    Row("feedback list: Next", TEAM_ONLY, btn(ids.FEEDBACK_LIST_PAGE + ":next", lambda m: m.world.a.project,
                                              shows("Acme Web Shop"),
                                              value=lambda p: json.dumps({"project": p, "page": 1}))),
]


PROJECT_BUTTONS = [
    Row("project: Close", TEAM_ONLY, btn(ids.PROJECT_CLOSE_CONFIRM, lambda m: m.project(),
                                         lambda m, o, item: m.get(Project, item[0]).status == "closed",
                                         value=lambda item: str(item[0]), channel=lambda item: item[1])),
    Row("preview: Post now", PM_ONLY, btn(ids.DIGEST_POST_NOW, lambda m: m.project(),
                                          lambda m, o, item: posted_to(o, item[1]),
                                          value=lambda item: f"{item[0]}:2026-W47", channel="DM")),
    Row("digest: confirm a send", TEAM_ONLY, btn(
        ids.DIGEST_SEND_CONFIRM, lambda m: m.project(), lambda m, o, item: posted_to(o, item[1]),
        value=lambda item: f"{item[0]}:2026-W47", channel=lambda item: item[1])),
    Row("preview: Skip", PM_ONLY, btn(ids.DIGEST_SKIP, lambda m: m.project(), lambda m, o, item: m.exists(
        DigestWeek, project_id=item[0], skipped=True), value=lambda item: f"{item[0]}:2026-W47", channel="DM")),
    Row("preview: Add a note", PM_ONLY, btn(ids.DIGEST_ADD_NOTE, lambda m: m.world.a.project,
                                            modal(ids.DIGEST_NOTE_MODAL), value=lambda p: f"{p}:2026-W47",
                                            channel="DM")),
    # Snoozing is about the person's own reminders: anyone may, and it touches nobody else's.
    Row("reminder: Snooze", EVERYONE, lambda m, role: (lambda o: (o, lambda: m.exists(
        Snooze, user_id=USERS[role].id, item_key="risk_review:1")))(m.overflow(role, ids.REMINDER_SNOOZE,
                                                                               "risk_review:1|1d"))),
    # Everyone may refresh their own Home; it shows only the projects of their channels.
    Row("home: Refresh", EVERYONE, lambda m, role: (lambda o: (o, lambda: any(
        c.method == "views.publish" and c.params.get("user_id") == USERS[role].id and "Beta" not in json.dumps(
            c.params["view"]) and ("Acme" in json.dumps(c.params["view"])) == (role != "elsewhere")
        for c in o.calls)))(m.click(role, ids.HOME_REFRESH, "refresh", channel="DM"))),
]


# Milestone acceptance: the team requests (and exports the record); the client's deciders answer.
ACCEPTANCE_BUTTONS = [
    Row("milestone: Request acceptance", TEAM_ONLY, btn(ids.ACC_REQUEST, lambda m: m.done_milestone(),
                                                        modal(ids.ACC_REQUEST_MODAL))),
    Row("milestone: Request acceptance again", TEAM_ONLY, btn(ids.ACC_REQUEST,
                                                              lambda m: m.acceptance("issues_reported")[1],
                                                              modal(ids.ACC_REQUEST_MODAL))),
    Row("acceptance: Accept", DECIDERS, decision_btn(ids.ACC_ACCEPT, Acceptance, lambda m: m.acceptance()[0],
                                                     status(Acceptance, "accepted"))),
    Row("acceptance: Report issues", DECIDERS, decision_btn(ids.ACC_REPORT_ISSUES, Acceptance,
                                                            lambda m: m.acceptance()[0],
                                                            modal(ids.ACC_ISSUES_MODAL))),
    Row("milestone: Acceptance record", TEAM_ONLY, btn(ids.ACC_EXPORT, lambda m: m.acceptance()[1],
                                                       lambda m, o, i: any(c.method == "files.completeUploadExternal"
                                                                           for c in o.calls))),
]


def _now_week(m: Matrix) -> str:
    return m.world.a.week


VIEWS = [
    Row("modal: new project", TEAM_ONLY, view(ids.PROJECT_MODAL, lambda m, role: (
        project_values(f"New {role}", client_channel=f"C0NEW{role.upper()}", internal_channel=None),
        {"project_id": None, "origin_channel": "C0OTHER"}, f"New {role}"),
        lambda m, o, name: m.exists(Project, name=name))),
    Row("modal: new requirement", EVERYONE, view(ids.REQ_MODAL, lambda m, role: (
        {ids.REQ_BLOCK_TITLE: text(f"Wish of {role}")}, {"project_id": m.world.a.project}, f"Wish of {role}"),
        lambda m, o, title: m.exists(Requirement, title=title))),
    Row("modal: edit requirement", TEAM_ONLY, view(ids.REQ_MODAL, lambda m, role: (
        {ids.REQ_BLOCK_TITLE: text(f"Edited by {role}")}, {"project_id": m.world.a.project,
                                                          "req_id": m.req("proposed")}, f"Edited by {role}"),
        lambda m, o, title: m.exists(Requirement, title=title))),
    Row("modal: request changes", DECIDERS, view(ids.REQ_CHANGES_MODAL, lambda m, role: (
        {ids.REQ_BLOCK_COMMENT: text("Please add the receipt.")},
        *(lambda i: ({"req_id": i, "version": m.get(Requirement, i).version}, i))(m.req("awaiting"))),
        status(Requirement, "changes_requested"))),
    Row("modal: change request", EVERYONE, view(ids.CHANGE_MODAL, lambda m, role: (
        {ids.CHANGE_BLOCK_TITLE: text(f"Change of {role}")}, {"project_id": m.world.a.project}, f"Change of {role}"),
        lambda m, o, title: m.exists(ChangeRequest, title=title))),
    Row("modal: assess", TEAM_ONLY, view(ids.CHANGE_ASSESS_MODAL, lambda m, role: (
        {ids.CHANGE_BLOCK_SCHEDULE: text("2"), ids.CHANGE_BLOCK_EFFORT: text("8")},
        *(lambda i: ({"cr_id": i}, i))(m.cr("submitted"))), status(ChangeRequest, "assessed"))),
    Row("modal: reject", DECIDERS, view(ids.CHANGE_REJECT_MODAL, lambda m, role: (
        {ids.CHANGE_BLOCK_REJECT_REASON: text("Not now.")},
        *(lambda i: ({"cr_id": i, "version": m.get(ChangeRequest, i).version}, i))(m.cr("assessed"))),
        status(ChangeRequest, "rejected"))),
    Row("modal: new milestone", TEAM_ONLY, view(ids.MILESTONE_MODAL, lambda m, role: (
        {ids.MILESTONE_BLOCK_NAME: text(f"Milestone of {role}"),
         ids.MILESTONE_BLOCK_DUE: {V: payloads.datepicker("2026-12-20")}}, {"project_id": m.world.a.project},
        f"Milestone of {role}"), lambda m, o, name: m.exists(Milestone, name=name))),
    Row("modal: update milestone", TEAM_ONLY, view(ids.MILESTONE_EDIT_MODAL, lambda m, role: (
        {ids.MILESTONE_BLOCK_PROGRESS: {V: payloads.number("55")},
         ids.MILESTONE_BLOCK_DUE: {V: payloads.datepicker("2026-12-24")}},
        *(lambda i: ({"milestone_id": i}, i))(m.milestone())), lambda m, o, i: m.get(Milestone, i).progress == 55)),
    Row("modal: pick milestone", TEAM_ONLY, view(ids.MILESTONE_PICK_MODAL, lambda m, role: (
        {ids.MILESTONE_BLOCK_PICK: {V: payloads.static_select(str(m.world.a.milestone["open"]))}},
        {"project_id": m.world.a.project}, None), lambda m, o, _: o.body.get("response_action") == "update")),
    Row("modal: new risk", TEAM_ONLY, view(ids.RISK_MODAL, lambda m, role: (
        {ids.RISK_BLOCK_TITLE: text(f"Risk of {role}"), ids.RISK_BLOCK_PROBABILITY: {V: payloads.static_select("2")},
         ids.RISK_BLOCK_IMPACT: {V: payloads.static_select("3")}, ids.RISK_BLOCK_OWNER: {V: payloads.users_select(
             "U0PM")}}, {"project_id": m.world.a.project}, f"Risk of {role}"),
        lambda m, o, title: m.exists(Risk, title=title))),
    Row("modal: risk review", TEAM_ONLY, view(ids.RISK_REVIEW_MODAL, lambda m, role: (
        {ids.RISK_BLOCK_REVIEW: {V: payloads.datepicker("2026-12-01")}}, *(lambda i: ({"risk_id": i}, i))(m.risk())),
        lambda m, o, i: str(m.get(Risk, i).next_review_date) == "2026-12-01")),
    Row("modal: comment on a prompt", CLIENT_SIDE | {"elsewhere"}, view(ids.FEEDBACK_COMMENT_MODAL, lambda m, role: (
        {ids.FEEDBACK_BLOCK_COMMENT: text(f"Comment of {role}")}, {"prompt_id": m.world.a.prompt},
        f"Comment of {role}"),
        lambda m, o, comment: m.exists(FeedbackResponse, comment=comment))),
    Row("modal: feedback", EVERYONE, view(ids.FEEDBACK_MODAL, lambda m, role: (
        {ids.FEEDBACK_BLOCK_KIND: {V: payloads.static_select("praise")}, ids.FEEDBACK_BLOCK_TEXT: text(
            f"Praise of {role}")}, {"project_id": m.world.a.project}, f"Praise of {role}"),
        lambda m, o, comment: m.exists(FeedbackResponse, comment=comment))),
    Row("modal: resolve follow-up", TEAM_ONLY, view(ids.FEEDBACK_RESOLVE_MODAL, lambda m, role: (
        {ids.FEEDBACK_BLOCK_NOTE: text("Called them.")}, *(lambda i: ({"follow_up_id": i}, i))(m.follow_up())),
        status(FollowUp, "resolved"))),
    Row("modal: digest note", PM_ONLY, view(ids.DIGEST_NOTE_MODAL, lambda m, role: (
        {ids.DIGEST_NOTE_BLOCK: text(f"Note of {role}")}, {"project_id": m.world.a.project, "week": _now_week(m)},
        f"Note of {role}"), lambda m, o, note: m.exists(DigestWeek, note=note))),
]

# Client items (issue 15): the team asks; the client's side (and the PM on its behalf) answers.
FOR_CLIENT = CLIENT_SIDE | PM_ONLY


def client_item(m: Matrix, state: str = "open") -> int:
    with session_scope(m.engine) as s:
        return w.make_client_item(s, m.clock, m._a(s), state, tag="Acme", client="U0CLIENT", pm="U0PM")


CLIENT_ITEMS = [
    Row("/client", TEAM_ONLY, cmd("/client", "", lambda m, o, r: opened(o, ids.CLIENT_MODAL))),
    Row("/client <text>", TEAM_ONLY, cmd("/client", "Signed contract by someone",
                                         lambda m, o, r: m.exists(ClientItem, title="Signed contract by someone"))),
    Row("/client list", TEAM_ONLY, cmd("/client", "list all", shows("Acme client item"))),
    Row("/client export", TEAM_ONLY, cmd("/client", "export", lambda m, o, r: any(
        c.method == "files.completeUploadExternal" for c in o.calls))),
    Row("client item: Done", FOR_CLIENT, btn(ids.CLIENT_DONE, client_item, status(ClientItem, "done"),
                                             versioned=ClientItem)),
    Row("client item: Need more time", FOR_CLIENT, btn(ids.CLIENT_MORE_TIME, client_item,
                                                       modal(ids.CLIENT_EXTEND_MODAL), versioned=ClientItem)),
    Row("client item: Received", TEAM_ONLY, btn(ids.CLIENT_RECEIVED, client_item, status(ClientItem, "done"),
                                                versioned=ClientItem)),
    Row("client item: Cancel", TEAM_ONLY, btn(ids.CLIENT_CANCEL, client_item, status(ClientItem, "cancelled"),
                                              versioned=ClientItem)),
    Row("client items list: Next", TEAM_ONLY, btn(ids.CLIENT_LIST_PAGE + ":next", lambda m: None,
                                                  shows("Acme client item"),
                                                  value=lambda _: '{"s": "all", "page": 1}')),
    Row("modal: client item", TEAM_ONLY, view(ids.CLIENT_MODAL, lambda m, role: (
        {ids.CLIENT_BLOCK_TITLE: text(f"Need of {role}"), ids.CLIENT_BLOCK_OWNER: {V: payloads.static_select(
            "U0CLIENT")}, ids.CLIENT_BLOCK_DUE: {V: payloads.datepicker("2026-12-01")}},
        {"project_id": m.world.a.project}, f"Need of {role}"), lambda m, o, title: m.exists(ClientItem, title=title))),
    Row("modal: need more time", FOR_CLIENT, view(ids.CLIENT_EXTEND_MODAL, lambda m, role: (
        {ids.CLIENT_BLOCK_NEW_DUE: {V: payloads.datepicker("2026-12-30")}},
        *(lambda i: ({"item_id": i, "version": m.get(ClientItem, i).version, "origin_channel": CLIENT_CHANNEL},
                     i))(client_item(m))),
        lambda m, o, i: str(m.get(ClientItem, i).due_date) == "2026-12-30")),
]


# Capture from the conversation (issue 14): message shortcuts on a client's message in A's client
# channel (from "elsewhere": in that person's own channel, bound to no project), the capture
# forms' submissions (the kinds' own rules), and the capture reaction (anyone in the channel).

def _client_message(m: Matrix, channel: str = CLIENT_CHANNEL, text: str = "Could we also get a CSV export?") -> str:
    return m.fake.add_message(channel, text, user="U0CLIENT", team=OTHER_ORG)


def capture_shortcut(callback_id: str, modal_id: str) -> Run:
    def run(m: Matrix, role: str) -> tuple[Outcome, Callable[[], bool]]:
        channel = m.channel(role, CLIENT_CHANNEL)
        ts = _client_message(m, channel)
        built = payloads.message_shortcut(callback_id, user=USERS[role], team_id=TEAMS[role], channel_id=channel,
                                          message_ts=ts, message_text="Could we also get a CSV export?",
                                          message_team=OTHER_ORG,
                                          response_url=m.fake.response_url(f"m{next(m._n)}"))
        outcome = m.send(built)
        return outcome, lambda: opened(outcome, modal_id)
    return run


def capture_view(callback_id: str, model: Any, values: Callable[[str], dict[str, Any]],
                 found: Callable[[str], dict[str, Any]]) -> Run:
    """A capture form submitted with the source of a message in A's client channel."""
    def run(m: Matrix, role: str) -> tuple[Outcome, Callable[[], bool]]:
        ts = _client_message(m)
        meta = {"project_id": m.world.a.project, "origin_channel": CLIENT_CHANNEL,
                "source": {"c": CLIENT_CHANNEL, "ts": ts, "u": "U0CLIENT", "ut": OTHER_ORG}}
        outcome = m.submit(role, callback_id, values(role), meta)
        return outcome, lambda: outcome.view_errors is None and m.exists(model, source_ts=ts, **found(role))
    return run


def capture_reaction(m: Matrix, role: str) -> tuple[Outcome, Callable[[], bool]]:
    ts = _client_message(m, text=f"Wish of {role}: a CSV export.")
    built = payloads.reaction_added("memo", user=USERS[role], channel=CLIENT_CHANNEL, ts=ts, item_user="U0CLIENT",
                                    team_id=TEAM)
    outcome = m.send(built)
    return outcome, lambda: m.exists(Requirement, source_ts=ts, raised_by="U0CLIENT")


CAPTURE = [
    Row("shortcut: Capture as requirement", IN_CHANNEL, capture_shortcut(ids.CAPTURE_REQ_SHORTCUT,
                                                                         ids.CAPTURE_REQ_MODAL)),
    Row("shortcut: Capture as change request", IN_CHANNEL, capture_shortcut(ids.CAPTURE_CHANGE_SHORTCUT,
                                                                            ids.CAPTURE_CHANGE_MODAL)),
    Row("shortcut: Capture as risk", TEAM_ONLY, capture_shortcut(ids.CAPTURE_RISK_SHORTCUT, ids.CAPTURE_RISK_MODAL)),
    Row("shortcut: Record as feedback", IN_CHANNEL, capture_shortcut(ids.CAPTURE_FEEDBACK_SHORTCUT,
                                                                     ids.CAPTURE_FEEDBACK_MODAL)),
    Row("capture form: requirement", EVERYONE, capture_view(
        ids.CAPTURE_REQ_MODAL, Requirement, lambda role: {ids.REQ_BLOCK_TITLE: text(f"Captured wish of {role}")},
        lambda role: {"title": f"Captured wish of {role}"})),
    Row("capture form: change request", EVERYONE, capture_view(
        ids.CAPTURE_CHANGE_MODAL, ChangeRequest, lambda role: {ids.CHANGE_BLOCK_TITLE: text(f"Captured of {role}")},
        lambda role: {"title": f"Captured of {role}"})),
    Row("capture form: risk", TEAM_ONLY, capture_view(
        ids.CAPTURE_RISK_MODAL, Risk, lambda role: {
            ids.RISK_BLOCK_TITLE: text(f"Captured risk of {role}"), ids.RISK_BLOCK_PROBABILITY: {
                V: payloads.static_select("2")}, ids.RISK_BLOCK_IMPACT: {V: payloads.static_select("3")},
            ids.RISK_BLOCK_OWNER: {V: payloads.users_select("U0PM")}},
        lambda role: {"title": f"Captured risk of {role}"})),
    Row("capture form: feedback", EVERYONE, capture_view(
        ids.CAPTURE_FEEDBACK_MODAL, FeedbackResponse, lambda role: {
            ids.FEEDBACK_BLOCK_KIND: {V: payloads.static_select("praise")},
            ids.FEEDBACK_BLOCK_TEXT: text(f"Captured praise of {role}")},
        lambda role: {"comment": f"Captured praise of {role}"})),
    # Anyone who sees the message may react; an event answers nobody with a refusal, so the
    # person of another workspace is tried apart (tests/e2e/test_capture.py).
    Row("reaction: :memo:", IN_CHANNEL, capture_reaction, roles=tuple(sorted(IN_CHANNEL))),
]

NOBODY: frozenset[str] = frozenset()
# Buttons as the bot draws them for items of project B or of the other workspace's project X,
# sent from A's client channel (bound to A) or from a DM (bound to nothing): refused for all.
FOREIGN_BUTTONS: list[tuple[str, Callable[[w.Items], str]]] = [
    (ids.INTAKE_NEW_REQUIREMENT, lambda i: str(i.project)), (ids.INTAKE_CHANGE_REQUEST, lambda i: str(i.project)),
    (ids.INTAKE_GIVE_FEEDBACK, lambda i: str(i.project)), (ids.PROJECT_CLOSE_CONFIRM, lambda i: str(i.project)),
    (ids.REQ_EDIT, lambda i: str(i.req["proposed"])), (ids.REQ_SEND, lambda i: str(i.req["proposed"])),
    (ids.REQ_DEFER, lambda i: str(i.req["proposed"])), (ids.REQ_DROP, lambda i: str(i.req["proposed"])),
    (ids.REQ_DONE, lambda i: str(i.req["confirmed"])), (ids.REQ_CONFIRM, lambda i: str(i.req["awaiting"])),
    (ids.REQ_REQUEST_CHANGES, lambda i: str(i.req["awaiting"])),
    (ids.CHANGE_ASSESS, lambda i: str(i.cr["submitted"])), (ids.CHANGE_APPROVE, lambda i: str(i.cr["assessed"])),
    (ids.CHANGE_REJECT, lambda i: str(i.cr["assessed"])), (ids.CHANGE_IMPLEMENTED, lambda i: str(i.cr["approved"])),
    (ids.CHANGE_WITHDRAW, lambda i: str(i.cr["withdrawable"])),
    (ids.CHANGE_LIST_PAGE + ":next", lambda i: json.dumps({"p": i.project, "page": 1})),
    (ids.MILESTONE_EDIT, lambda i: str(i.milestone["open"])),
    (ids.MILESTONE_LIST_PAGE + ":next", lambda i: json.dumps({"p": i.project, "page": 1})),
    (ids.RISK_ADD_DETAILS, lambda i: str(i.risk["open"])), (ids.RISK_EDIT, lambda i: str(i.risk["open"])),
    (ids.RISK_SET_REVIEW, lambda i: str(i.risk["open"])),
    (ids.RISK_CLOSED, lambda i: json.dumps({"id": i.risk["open"], "from": "open", "page": 1})),
    (ids.RISK_REOPEN, lambda i: json.dumps({"id": i.risk["mitigated"], "from": "mitigated", "page": 1})),
    (ids.RISK_LIST_PAGE + ":next", lambda i: json.dumps({"project": i.project, "page": 1})),
    (ids.FEEDBACK_SCORE + ":4", lambda i: f"{i.prompt}:4"), (ids.FEEDBACK_COMMENT, lambda i: str(i.prompt)),
    (ids.FEEDBACK_POST_ANYWAY, lambda i: json.dumps({"project": i.project, "after": i.prompt})),
    (ids.FEEDBACK_RESOLVE, lambda i: str(i.follow_up)),
    (ids.FEEDBACK_LIST_PAGE + ":next", lambda i: json.dumps({"project": i.project, "page": 1})),
    (ids.DIGEST_POST_NOW, lambda i: f"{i.project}:{i.week}"), (ids.DIGEST_ADD_NOTE, lambda i: f"{i.project}:{i.week}"),
    (ids.DIGEST_SKIP, lambda i: f"{i.project}:{i.week}"),
    *[(action_id, lambda i: f"{i.client_item['open']}@1") for action_id in (  # client items (issue 15)
        ids.CLIENT_DONE, ids.CLIENT_MORE_TIME, ids.CLIENT_RECEIVED, ids.CLIENT_CANCEL)],
    # Milestone acceptance
    (ids.ACC_REQUEST, lambda i: str(i.milestone["done"])),
    (ids.ACC_EXPORT, lambda i: str(i.acc_milestone["requested"])),
    (ids.ACC_ACCEPT, lambda i: ids.decision_value(i.acc["requested"], 1)),
    (ids.ACC_REPORT_ISSUES, lambda i: ids.decision_value(i.acc["requested"], 1)),
]


def foreign(action_id: str, value: Callable[[w.Items], str], whose: str, channel: str) -> Run:
    def run(m: Matrix, role: str) -> tuple[Outcome, Callable[[], bool]]:
        items = m.world.b if whose == "project B" else m.world.x
        outcome = m.click(role, action_id, value(items), channel)
        return outcome, lambda: False
    return run


FOREIGN = [Row(f"{action_id} with an item of {whose}, clicked in {where}", NOBODY,
               foreign(action_id, value, whose, channel), roles=roles)
           for action_id, value in FOREIGN_BUTTONS
           for whose, where, channel, roles in [
               ("project B", "A's client channel", CLIENT_CHANNEL, ("pm", "dev", "client")),
               ("project B", "a DM", "DM", ("pm", "dev")),
               ("the other workspace", "a DM", "DM", ("pm", "client"))]]

# Modals whose private_metadata names items of the other workspace's project X.
FOREIGN_VIEWS = [Row(f"{callback_id} about an item of the other workspace", NOBODY, view(
    callback_id, lambda m, role, v=values, k=key, f=field: (v, {k: f(m.world.x)}, None), lambda m, o, _: True),
    roles=("pm", "client", "elsewhere"))
    for callback_id, key, field, values in [
        (ids.REQ_MODAL, "project_id", lambda i: i.project, {ids.REQ_BLOCK_TITLE: text("Sneaky")}),
        (ids.REQ_CHANGES_MODAL, "req_id", lambda i: i.req["awaiting"], {ids.REQ_BLOCK_COMMENT: text("No")}),
        (ids.CHANGE_MODAL, "project_id", lambda i: i.project, {ids.CHANGE_BLOCK_TITLE: text("Sneaky")}),
        (ids.CHANGE_ASSESS_MODAL, "cr_id", lambda i: i.cr["submitted"],
         {ids.CHANGE_BLOCK_SCHEDULE: text("1"), ids.CHANGE_BLOCK_EFFORT: text("1")}),
        (ids.CHANGE_REJECT_MODAL, "cr_id", lambda i: i.cr["assessed"], {}),
        (ids.MILESTONE_MODAL, "project_id", lambda i: i.project,
         {ids.MILESTONE_BLOCK_NAME: text("Sneaky"), ids.MILESTONE_BLOCK_DUE: {V: payloads.datepicker("2026-12-20")}}),
        (ids.MILESTONE_EDIT_MODAL, "milestone_id", lambda i: i.milestone["open"],
         {ids.MILESTONE_BLOCK_DUE: {V: payloads.datepicker("2026-12-20")}}),
        (ids.RISK_MODAL, "project_id", lambda i: i.project, {ids.RISK_BLOCK_TITLE: text("Sneaky")}),
        (ids.RISK_REVIEW_MODAL, "risk_id", lambda i: i.risk["open"],
         {ids.RISK_BLOCK_REVIEW: {V: payloads.datepicker("2026-12-01")}}),
        (ids.FEEDBACK_COMMENT_MODAL, "prompt_id", lambda i: i.prompt, {ids.FEEDBACK_BLOCK_COMMENT: text("Sneaky")}),
        (ids.FEEDBACK_MODAL, "project_id", lambda i: i.project,
         {ids.FEEDBACK_BLOCK_KIND: {V: payloads.static_select("praise")}, ids.FEEDBACK_BLOCK_TEXT: text("Sneaky")}),
        (ids.FEEDBACK_RESOLVE_MODAL, "follow_up_id", lambda i: i.follow_up, {ids.FEEDBACK_BLOCK_NOTE: text("x")}),
        (ids.CLIENT_MODAL, "project_id", lambda i: i.project,  # client items (issue 15)
         {ids.CLIENT_BLOCK_TITLE: text("Sneaky"), ids.CLIENT_BLOCK_OWNER: {V: payloads.static_select("U0CLIENTX")},
          ids.CLIENT_BLOCK_DUE: {V: payloads.datepicker("2026-12-20")}}),
        (ids.CLIENT_EXTEND_MODAL, "item_id", lambda i: i.client_item["open"],
         {ids.CLIENT_BLOCK_NEW_DUE: {V: payloads.datepicker("2026-12-30")}}),
        (ids.ACC_REQUEST_MODAL, "milestone_id", lambda i: i.milestone["done"],
         {ids.ACC_BLOCK_DELIVERY: text("Sneaky")}),
        (ids.ACC_ISSUES_MODAL, "acc_id", lambda i: i.acc["requested"], {ids.ACC_BLOCK_ISSUES: text("Sneaky")}),
        (ids.CAPTURE_REQ_MODAL, "project_id", lambda i: i.project, {ids.REQ_BLOCK_TITLE: text("Sneaky")}),
        (ids.CAPTURE_CHANGE_MODAL, "project_id", lambda i: i.project, {ids.CHANGE_BLOCK_TITLE: text("Sneaky")}),
        (ids.CAPTURE_RISK_MODAL, "project_id", lambda i: i.project, {ids.RISK_BLOCK_TITLE: text("Sneaky")}),
        (ids.CAPTURE_FEEDBACK_MODAL, "project_id", lambda i: i.project,
         {ids.FEEDBACK_BLOCK_KIND: {V: payloads.static_select("praise")}, ids.FEEDBACK_BLOCK_TEXT: text("Sneaky")}),
    ]]

GROUPS = {"commands": COMMANDS, "requirement buttons": REQUIREMENT_BUTTONS, "change buttons": CHANGE_BUTTONS,
          "milestone and risk buttons": PLAN_BUTTONS, "feedback buttons": FEEDBACK_BUTTONS,
          "project, digest, reminder and home buttons": PROJECT_BUTTONS, "modals": VIEWS,
          "client items": CLIENT_ITEMS,
          "milestone acceptance buttons": ACCEPTANCE_BUTTONS,
          "capture from the conversation": CAPTURE,
          "buttons carrying another project's or workspace's ids": FOREIGN,
          "modals about another workspace's items": FOREIGN_VIEWS}


@pytest.fixture
def matrix(hostile, world, engine, clock, session, make_project) -> Matrix:
    return Matrix(hostile, world, engine, clock, session, make_project)


def cell(m: Matrix, row: Row, role: str) -> str | None:
    """Run one cell; the mismatch in words, or None when it went as the table says."""
    outcome, happened = row.run(m, role)
    try:
        Hostile.check(outcome, what=f"{row.name} / {role}")
    except AssertionError as err:
        return str(err)[:600]
    if role in row.allowed:
        if m.refused(outcome) or not happened():
            return f"{row.name} / {role}: should be allowed; was told {m.told(outcome)[:300]!r}"
        return None
    problems = []
    if not m.refused(outcome):
        problems.append(f"no refusal (told {m.told(outcome)[:300]!r})")
    if any(other in m.told(outcome) for other in ("Beta", "Xeno")):
        problems.append("shown another project's data")
    if snapshot(m.engine) != m.before:
        problems.append("stored rows changed")
    if any(c.method == "views.open" for c in outcome.calls):
        problems.append("a modal was opened")
    if any(c.method == "chat.postMessage" and not str(c.params.get("channel", "")).startswith("D")
           for c in outcome.calls):
        problems.append("something was posted to a channel")
    return f"{row.name} / {role}: should be refused: {'; '.join(problems)}" if problems else None


@pytest.mark.parametrize("group", list(GROUPS))
def test_authorization_matrix(matrix, group):
    mismatches = [problem for row in GROUPS[group] for role in row.roles if (problem := cell(matrix, row, role))]
    assert not mismatches, "\n".join(mismatches)
