"""Hypothesis strategies for hostile Slack input: texts, values of the wrong type, payloads
with fields missing, and the signed requests that carry them."""

from __future__ import annotations

import copy
import json
import os
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.fakes import payloads

# Modest by default, so the hostile suite stays well under two minutes; dig deeper with e.g.
# PMBOT_HOSTILE_EXAMPLES=500.
HOSTILE = settings(
    max_examples=int(os.environ.get("PMBOT_HOSTILE_EXAMPLES", "25")), deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much, HealthCheck.large_base_example],
)

# What people type to ping, mention or link (as Slack sends it after a slash command, and as
# raw text in a modal's input), and mrkdwn formatting.
MARKUP = [
    "<!channel>", "<!here>", "<!everyone>", "<!here|here>", "<!subteam^SEVIL1|@admins>", "<@UEVIL1>",
    "<@UEVIL2|the boss>", "<@WEVIL3>", "<#CEVIL1>", "<#CEVIL2|general>", "<https://evil.example|click me>",
    "<http://evil.example>", "<mailto:evil@example.com|write me>", "@channel", "@here", "*bold*", "_it_",
    "~gone~", "`code`", "```\nblock\n```", "> quoted", ">>> all quoted", "&amp;", "&lt;!channel&gt;", "&", "<", ">",
    "<<!channel>>", "<!channel", "<@UEVIL4", "&lt;@UEVIL5&gt;", "%s", "{name}", "{0}", "$(rm -rf /)", "'; DROP TABLE",
]
# Unusual Unicode: right-to-left, zero-width, combining marks, emoji sequences, digits that are
# not ASCII digits, NUL and other control characters, line separators.
UNICODE = [
    "\u202e", "\u200f", "\u200e", "\u2066", "\u2069", "\u200b", "\u200c", "\u200d", "\ufeff", "\u0301", "\u0000",
    "\u0007", "\u001b[31m", "\t", "\r\n", "\u2028", "\u2029", "👍🏽", "👨‍👩‍👧", "🇨🇳", "🏳️‍🌈", "𝕏", "中文需求",
    "עברית", "العربية", "²", "①", "١٢", "１２", "Ⅻ", "ß", "İ", "ﬃ", "\ud7ff", "\ue000", "\U0010fffd",
]
PIECES = MARKUP + UNICODE

plain_chars = st.text(st.characters(codec="utf-8"), max_size=20)
pieces = st.sampled_from(PIECES)
short_text = st.lists(st.one_of(pieces, plain_chars), max_size=8).map("".join)
huge_text = st.builds(lambda piece, n: piece * n, st.sampled_from([*MARKUP[:12], "a", "中", "&", "👍🏽", " "]),
                      st.integers(min_value=200, max_value=3000))
hostile_text = st.one_of(short_text, short_text, short_text, huge_text)

# Values that are not what a field expects.
huge_ints = st.sampled_from([2**31, 2**63, 10**30, -(2**63) - 1, 99999999999])
wrong_scalar = st.one_of(st.none(), st.booleans(), st.integers(), huge_ints, st.floats(allow_nan=True),
                         hostile_text, st.sampled_from(["", " ", "0", "-1", "1.5", "1e9", "9" * 40, "null", "[]",
                                                        "{}", "true", "²", "１", "0x10", " 7", "7 "]))
wrong_value = st.recursive(wrong_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["value", "id", "page", "p", "s", "x", ""]),
                                                 inner, max_size=3)), max_leaves=6)


def json_text(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def signed_interaction(payload: dict[str, Any]) -> tuple[str, dict[str, str]]:
    body = urlencode({"payload": json.dumps(payload)})
    return body, payloads.sign(body)


def unsign(built: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """The JSON payload inside a built interaction request."""
    from urllib.parse import parse_qs

    return json.loads(parse_qs(built[0])["payload"][0])


def delete_path(data: dict[str, Any], path: str) -> None:
    """Remove `a.b.0.c` from nested dicts/lists, if there."""
    parts = path.split(".")
    node: Any = data
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return
    last = parts[-1]
    if isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node.pop(int(last))


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = data
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.setdefault(part, {})
            if not isinstance(node, dict | list):
                return
        else:
            return
    if isinstance(node, dict):
        node[parts[-1]] = value


def mutated(payload: dict[str, Any], deletions: list[str], replacements: list[tuple[str, Any]]) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    for path in deletions:
        delete_path(out, path)
    for path, value in replacements:
        set_path(out, path, value)
    return out
