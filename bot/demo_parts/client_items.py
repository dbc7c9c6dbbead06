"""Client items in `pmbot demo`: what the team waits for from the client — one overdue item that
blocks a milestone (so the milestone is at risk), one the client asked more time for, one done —
shown as the list, the message in the client channel and the digest's "What we need from you"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot import demo
from bot.blocks.client_items import buttons_for, digest_section, item_message, list_blocks
from bot.clock import Clock
from bot.models import ClientItem, Milestone, Project
from bot.services import calendar, client_items
from bot.services.permissions import Decider

PM, CLIENT = "U0PM", "U0CLIENT"
CLIENT_SIDE = Decider(user_id=CLIENT, on_behalf_of_client=False)


def _open_milestone(session: Session, project: Project) -> Milestone | None:
    return session.exec(select(Milestone).where(Milestone.project_id == project.id, col(Milestone.done).is_(False))
                        .order_by(col(Milestone.due_date))).first()


def seed(session: Session, clock: Clock, project: Project) -> None:
    today = calendar.today(project, clock.now())

    def ask(title: str, details: str, due_days: int, milestone: Milestone | None = None) -> ClientItem:
        return client_items.create(session, clock, project=project, actor=PM, owners=None, data=client_items.ItemInput(
            title=title, details=details, owner_user_id=CLIENT, due_date=(today + timedelta(days=due_days)).isoformat(),
            milestone_id=milestone.id if milestone else None))

    photos = ask("Product photos for the 40 best sellers", "JPEG or PNG, at least 2000 px wide, on white.", 3,
                 _open_milestone(session, project))
    # It was due last week: the demo shows it overdue (and its milestone at risk).
    session.execute(update(ClientItem).where(col(ClientItem.id) == photos.id)
                    .values(due_date=today - timedelta(days=4)).execution_options(synchronize_session=False))
    session.refresh(photos)
    texts = ask("Legal texts: imprint, privacy policy, terms", "Reviewed by Acme's lawyer.", 5)
    client_items.extend(session, clock, item=texts, project=project, decider=CLIENT_SIDE,
                        new_due=(today + timedelta(days=12)).isoformat(), note="Our lawyer is back on Monday.")
    access = ask("Alipay merchant account credentials", "Share them through the password manager, please.", 2)
    client_items.mark_done(session, clock, item=access, project=project, decider=CLIENT_SIDE)


def _items(session: Session, project: Project) -> list[ClientItem]:
    return client_items.all_of(session, project.id or 0)


def list_section(session: Session, project: Project) -> list[dict[str, Any]]:
    items, total = client_items.list_page(session, project.id or 0, status_filter="all")
    names = {m.id or 0: m.name for m in session.exec(select(Milestone).where(Milestone.project_id == project.id))}
    return list_blocks(items, project, project.language, total=total, page=1, status_filter="all",
                       today=calendar.today(project, demo_now()), milestone_names=names,
                       buttons=lambda i: buttons_for(i, is_team=True, for_client=False))


def post_section(session: Session, project: Project) -> list[dict[str, Any]]:
    item = next(i for i in _items(session, project) if i.status == "open" and i.milestone_id)
    ms = session.get(Milestone, item.milestone_id)
    extensions = client_items.extensions(session, [item.id or 0]).get(item.id or 0, [])
    return item_message(item, project, today=calendar.today(project, demo_now()),
                        milestone_name=ms.name if ms else None, extensions=extensions)["blocks"]


def digest_part(session: Session, project: Project) -> list[dict[str, Any]]:
    facts = client_items.for_digest(session, [project], demo_now()).get(project.id or 0)
    return digest_section(project, facts, today=calendar.today(project, demo_now()), internal=False)


def demo_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


demo.SEEDERS.append(seed)
demo.SECTIONS += [
    ("Client items (/client list all, as the team sees it)", "client-items-list", list_section),
    ("What we need from the client, posted in the client channel", "client-item-post", post_section),
    ("The digest's “What we need from you” (an overdue item puts its milestone at risk)", "client-items-digest",
     digest_part),
]
