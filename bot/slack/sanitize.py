"""Text a database cannot store is taken out of every Slack payload before a handler reads it.

PostgreSQL refuses NUL characters in text (and in any query parameter), and no database driver
can encode a lone UTF-16 surrogate (JSON may carry one as an escape). Neither means anything in
Slack text, so NUL is dropped and a lone surrogate becomes U+FFFD, once, at the edge (the guard,
bot/slack/guard.py, for HTTP and Socket Mode alike): titles, comments, ids, channel names and
option values alike.
"""

from __future__ import annotations

from typing import Any


def _clean_text(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # one U+FFFD per lone surrogate (through UTF-8 it became three)
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def clean(obj: Any) -> Any:
    """`obj` with every string made storable; dicts and lists are cleaned in place."""
    if isinstance(obj, str):
        return _clean_text(obj)
    if isinstance(obj, dict):
        for key, value in list(obj.items()):
            cleaned = clean(value)
            if cleaned is not value:
                obj[key] = cleaned
            if isinstance(key, str) and _clean_text(key) != key:
                obj[_clean_text(key)] = obj.pop(key)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            cleaned = clean(value)
            if cleaned is not value:
                obj[i] = cleaned
    return obj
