"""The one CSV writer of every export: each cell neutralised against spreadsheet formulas.

Spreadsheets run a cell that starts with = + - @ (or a tab or carriage return) as a formula, so
a client's title `=HYPERLINK("http://evil", "click")` would become a live link. Such text gets a
leading apostrophe, which spreadsheets hide; a plain number ("-3") is left as it is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def write(header: Iterable[object], rows: Iterable[Iterable[object]]) -> str:
    """CSV text (RFC 4180 line ends) with every cell, the header's too, neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([cell(c) for c in header])
    writer.writerows([cell(c) for c in row] for row in rows)
    return buf.getvalue()
