"""Requirements in `pmbot demo`: a few sample requirements in every state the client sees,
the list as the PM sees it, a confirmation request, a decided one and the exported document."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot import demo
from bot.blocks.requirements import PER_PAGE, confirmation_message, list_blocks
from bot.blocks.text import SECTION_TEXT, mrkdwn
from bot.clock import Clock
from bot.demo_parts.language import sample_text
from bot.flows.requirements import buttons_for
from bot.models import Project, Requirement
from bot.services import requirements
from bot.services.export_requirements import render
from bot.services.permissions import Decider

PM, CLIENT, DEV = "U0PM", "U0CLIENT", "U0DEV"

SAMPLES: list[dict[str, Any]] = [
    {"title": "Customers can pay with Alipay and WeChat Pay", "priority": "must", "by": CLIENT, "client": True,
     "description": "Most of Acme's customers pay with their phones; card-only checkout loses them.",
     "acceptance": "- Alipay and WeChat Pay appear at checkout\n- A paid order is confirmed within 10 seconds\n"
                   "- Refunds go back to the same wallet", "then": "confirm"},
    {"title": "Order confirmation e-mail in Chinese and English", "priority": "should", "by": DEV, "client": False,
     "description": "The e-mail follows the language the customer shopped in.",
     "acceptance": "- Sent within 1 minute of payment\n- Subject and body in the shop language", "then": "send"},
    {"title": "Guest checkout without an account", "priority": "should", "by": PM, "client": False,
     "description": "Buy without registering; offer an account after payment.",
     "acceptance": "- No sign-up step before payment", "then": "changes"},
    {"title": "Wishlist shared with friends", "priority": "could", "by": CLIENT, "client": True,
     "description": "", "acceptance": "", "then": None},
    {"title": "Native iOS and Android apps", "priority": "wont", "by": PM, "client": False,
     "description": "The responsive web shop covers phones for the first release.", "acceptance": "",
     "then": "defer"},
]


def seed(session: Session, clock: Clock, project: Project) -> None:
    for sample in SAMPLES:
        req = requirements.create(
            session, clock, project=project, actor=sample["by"], raised_by_client=sample["client"],
            data=requirements.RequirementInput(title=sample["title"], description=sample["description"],
                                               priority=sample["priority"],
                                               acceptance_criteria=sample["acceptance"]),
        )
        then = sample["then"]
        if then in ("send", "confirm", "changes"):
            requirements.send_for_confirmation(session, clock, req=req, project=project, actor=PM)
        if then == "confirm":
            requirements.confirm(session, clock, req=req, project=project,
                                 decider=Decider(user_id=CLIENT, on_behalf_of_client=False))
        elif then == "changes":
            requirements.request_changes(session, clock, req=req, project=project,
                                         decider=Decider(user_id=CLIENT, on_behalf_of_client=False),
                                         comment="Please keep the e-mail address mandatory for the receipt.")
        elif then == "defer":
            requirements.defer(session, clock, req=req, project=project, actor=PM)


def _by_title(session: Session, project: Project, title: str) -> Requirement:
    title = sample_text(title, project.language)  # the Chinese demo stores its samples in Chinese
    return next(r for r in requirements.all_of(session, project.id or 0) if r.title == title)


def list_section(session: Session, project: Project) -> list[dict[str, Any]]:
    items, total = requirements.list_page(session, project.id or 0, per_page=PER_PAGE)
    return list_blocks(items, project, project.language, total=total, page=1, status_filter="",
                       buttons=lambda r: buttons_for(r, is_team=True, can_decide=True))


def awaiting_section(session: Session, project: Project) -> list[dict[str, Any]]:
    return confirmation_message(_by_title(session, project, SAMPLES[1]["title"]), project, sender=PM)["blocks"]


def decided_section(session: Session, project: Project) -> list[dict[str, Any]]:
    return confirmation_message(_by_title(session, project, SAMPLES[0]["title"]), project)["blocks"]


def document_section(session: Session, project: Project) -> list[dict[str, Any]]:
    text = render(session, project, "md")
    return [{"type": "section", "text": mrkdwn("```" + text.replace("```", "'''") + "```", SECTION_TEXT)}]


demo.SEEDERS.append(seed)
demo.SECTIONS += [
    ("Requirements (/req list, as the PM sees it)", "requirements-list", list_section),
    ("Confirmation request in the client channel", "requirements-confirm", awaiting_section),
    ("The same kind of message after the client confirmed (updated in place)", "requirements-decided",
     decided_section),
    ("Requirements document (/req export, Markdown; CSV alongside)", "requirements-document", document_section),
]
