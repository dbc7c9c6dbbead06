"""Render Block Kit as plain text for a terminal (used by `pmbot demo`)."""

from __future__ import annotations

import re
from typing import Any

_MENTION = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]+))?>")


def _unmrkdwn(text: str) -> str:
    text = _MENTION.sub(lambda m: m.group(3) or f"{m.group(1) if m.group(1) != '!' else '@'}{m.group(2)}", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: dict[str, Any] | None) -> str:
    return _unmrkdwn(obj.get("text", "")) if obj else ""


def _element(element: dict[str, Any]) -> str:
    if element.get("type") == "overflow":
        return "[⋯ " + " / ".join(_text(o.get("text")) for o in element.get("options", [])) + "]"
    return f"[{_text(element.get('text'))}]"


def render(blocks: list[dict[str, Any]], width: int = 78) -> str:
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = _text(block.get("text"))
            lines += [title, "=" * min(len(title) * 2, width)]
        elif kind == "section":
            if block.get("text"):
                lines.append(_text(block["text"]))
            for field in block.get("fields", []):
                text = _text(field)
                colon = "：" if re.search(r"[\u3400-\u9fff]", text.partition("\n")[0]) else ": "  # Chinese label
                lines.append("  " + text.replace("\n", colon, 1))
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                lines.append(f"  [{_text(accessory.get('text'))}]")
        elif kind == "context":
            lines.append("  " + " · ".join(_text(e) for e in block.get("elements", []) if "text" in e))
        elif kind == "divider":
            lines.append("-" * width)
        elif kind == "actions":
            lines.append("  " + "  ".join(_element(e) for e in block.get("elements", [])))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
