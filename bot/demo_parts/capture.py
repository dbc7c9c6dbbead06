"""Capture from the conversation in `pmbot demo` (issue 14): a client's message in the shared
channel, captured with :memo: as a proposed requirement raised by the client, the receipt the
bot posts in the message's thread, the note the person who reacted sees, and the requirement as
it is listed with its source."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot import demo
from bot.blocks import capture as cb
from bot.blocks import text as slack_text
from bot.blocks.requirements import item_blocks
from bot.blocks.text import CONTEXT_TEXT, mrkdwn, safe
from bot.clock import Clock
from bot.demo_parts.language import sample_text
from bot.flows.requirements import buttons_for
from bot.models import Project, Requirement
from bot.services import activity, capture, requirements

CLIENT, DEV = "U0CLIENT", "U0DEV"
MESSAGE_TS = "1763460000.000100"
MESSAGE = ("Could the invoice page also show our VAT number? <@U0PM> said it is a small change. "
           "Our accountant needs it on every PDF from January.")


def _source(project: Project) -> capture.Source:
    return capture.Source(channel_id=project.client_channel_id, ts=MESSAGE_TS, user_id=CLIENT,
                          permalink=f"https://acme.slack.com/archives/{project.client_channel_id}/"
                                    f"p{MESSAGE_TS.replace('.', '')}")


def seed(session: Session, clock: Clock, project: Project) -> None:
    """The client's message, captured by a team member's :memo: (what `flows.capture.react` stores)."""
    text = slack_text.readable(MESSAGE, {"U0PM": "pat.pm"})
    filled = capture.prefill("requirement", text)
    req = requirements.create(session, clock, project=project, actor=CLIENT, raised_by_client=True,
                              data=requirements.RequirementInput(title=filled.title, description=filled.description))
    capture.keep(req, _source(project))
    session.add(req)
    session.flush()
    activity.record(session, clock, team_id=project.team_id, project_id=project.id, actor=DEV, action="captured",
                    entity_type="requirement", entity_id=req.id, after={"source": capture.source_of(req)})


def _captured(session: Session, project: Project) -> Requirement:
    return next(r for r in requirements.all_of(session, project.id or 0) if r.source_ts == MESSAGE_TS)


def thread_section(session: Session, project: Project) -> list[dict[str, Any]]:
    req = _captured(session, project)
    lang = project.language
    said = sample_text(slack_text.readable(MESSAGE, {"U0PM": "pat.pm"}), lang)
    who = f"<@{CLIENT}> (Acme Ltd.) in the client channel"
    message = [{"type": "context", "elements": [mrkdwn(who, CONTEXT_TEXT)]},
               {"type": "section", "text": mrkdwn("> " + safe(said, 2900))},
               {"type": "context", "elements": [mrkdwn(":memo: added by <@U0DEV> · :white_check_mark: by PM Bot",
                                                       CONTEXT_TEXT)]},
               {"type": "divider"}]
    receipt = cb.receipt("requirement", req.id, req.title, lang, thread_ts=MESSAGE_TS)["blocks"]
    return message + [{"type": "context", "elements": [mrkdwn("Reply in the thread:", CONTEXT_TEXT)]}, *receipt]


def reacted_section(session: Session, project: Project) -> list[dict[str, Any]]:
    req = _captured(session, project)
    lang = project.language
    return cb.reacted_message("requirement", req.id, req.title, lang, created=True, can_edit=True,
                              source=cb.source_line(req, lang))[1]


def item_section(session: Session, project: Project) -> list[dict[str, Any]]:
    req = _captured(session, project)
    return item_blocks(req, project, project.language, buttons=buttons_for(req, is_team=True, can_decide=True))


demo.SEEDERS.append(seed)
demo.SECTIONS += [
    ("A client's message captured with :memo: — the receipt in its thread", "capture-thread", thread_section),
    ("What the person who reacted sees (only them)", "capture-reacted", reacted_section),
    ("The captured requirement in /req list, with its source", "capture-item", item_section),
]
