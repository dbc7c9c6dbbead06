"""What the PM is told about messages Slack refused for good (pure builders)."""

from __future__ import annotations

from typing import Any

from bot.blocks.text import CONTEXT_TEXT, SECTION_TEXT, mrkdwn, safe
from bot.i18n import t
from bot.models import Project


def undelivered_dm(project: Project, failed: list[tuple[str, str]], *, more: int,
                   lang: str | None = None) -> dict[str, Any]:
    """`failed`: (kind, Slack's error) of each message, newest first; `more`: how many are not
    named; `lang`: the PM's own language (default: the project's)."""
    lang = lang or project.language
    head = t("common.undelivered_title", lang, name=safe(project.name, 200))
    lines = "\n".join(t("common.undelivered_line", lang, kind=safe(kind, 40), error=safe(error, 100))
                      for kind, error in failed)
    if more:
        lines += "\n" + t("common.undelivered_more", lang, count=more)
    return {"text": head, "blocks": [
        {"type": "section", "text": mrkdwn(f"{head}\n{lines}", SECTION_TEXT)},
        {"type": "context", "elements": [mrkdwn(t("common.undelivered_how", lang), CONTEXT_TEXT)]},
    ]}
