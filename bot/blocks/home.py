"""The App Home tab: the user's projects, their status, and what waits on the user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.blocks import ids
from bot.blocks.acceptance import home_blocks as acceptance_home_blocks
from bot.blocks.digest import decision_buttons
from bot.blocks.reminders import act_button, item_text
from bot.blocks.text import BLOCKS_PER_VIEW, BUTTON_TEXT, HEADER_TEXT, channel_link, mrkdwn, plain_text, safe
from bot.i18n import t
from bot.i18n.names import HOME_DECIDE_KEYS, OVERALL_KEYS

if TYPE_CHECKING:  # plain data; the builder needs no flow or service at run time
    from bot.reports.facts import HomeEntry


def home_view(lang: str, entries: list[HomeEntry]) -> dict[str, Any]:
    """`entries`: per project, its digest facts, the user's reminder items, and the decisions
    (kind, item) the user owes as a client approver."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text(t("home.title", lang), HEADER_TEXT)},
        {"type": "context", "elements": [mrkdwn(t("home.intro", lang))]},
        {"type": "actions", "elements": [{"type": "button", "action_id": ids.HOME_REFRESH, "value": "refresh",
                                          "text": plain_text(t("home.refresh", lang), BUTTON_TEXT)}]},
    ]
    if not entries:
        blocks.append({"type": "section", "text": mrkdwn(t("home.no_projects", lang))})
    for entry in entries:
        facts, items, decisions = entry.facts, entry.items, entry.decisions
        p = facts.project
        plang = p.language
        blocks.append({"type": "divider"})
        blocks.append({"type": "section", "text": mrkdwn(t(
            "home.project_line", lang, name=safe(p.name, 150), client=safe(p.client_name or "-", 150),
            channel=channel_link(p.client_channel_id), status=t(OVERALL_KEYS[facts.overall], lang)))})
        if entry.undelivered:
            refused = "\n".join(t("common.undelivered_line", lang, kind=safe(u.kind, 40), error=safe(u.error, 100))
                                 for u in entry.undelivered[:5])
            blocks.append({"type": "section", "text": mrkdwn(
                t("home.undelivered", lang, count=len(entry.undelivered)) + "\n" + refused)})
        blocks += acceptance_home_blocks(facts.accepted, [], p, lang, can_decide=False)  # milestone acceptance
        if not items and not decisions and not (entry.can_decide and facts.awaiting_acceptance):
            blocks.append({"type": "context", "elements": [mrkdwn(t("home.nothing_waiting", lang))]})
            continue
        blocks.append({"type": "section", "text": mrkdwn(t("home.waiting_title", lang))})
        for kind, item in decisions:
            blocks.append({"type": "section", "text": mrkdwn(t(HOME_DECIDE_KEYS[kind], lang,
                                                               title=safe(item.title, 200)))})
            blocks.append({"type": "actions", "elements": decision_buttons(kind, plang, item)})
        blocks += acceptance_home_blocks([], facts.awaiting_acceptance, p, lang, can_decide=entry.can_decide)
        for item in items:
            block: dict[str, Any] = {"type": "section", "text": mrkdwn(item_text(item, lang))}
            element = act_button(item, lang)
            if element:
                block["accessory"] = element
            blocks.append(block)
    if len(blocks) > BLOCKS_PER_VIEW:
        more = t("common.and_more", lang, count=len(blocks) - BLOCKS_PER_VIEW + 1)
        blocks = [*blocks[: BLOCKS_PER_VIEW - 1], {"type": "context", "elements": [mrkdwn(more)]}]
    return {"type": "home", "blocks": blocks}
