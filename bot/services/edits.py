"""Edit forms that never undo someone else's change.

A form is opened on a version of a record: it carries a *stamp* of what it showed (the
record's version and a short fingerprint of each field's value). On submit, a field whose
submitted value equals what the form showed was not touched and is left alone (a form sends
back every prefilled field); a touched field is applied, unless someone else changed that same
field since the form was opened: then it is a conflict, answered next to the field.

    stamp = edits.stamp(record.version, {"title": req.title, "due_date": ms.due_date})
    plan = edits.plan(stamp, submitted={"title": "…", "due_date": …}, current={"title": …, …})
    plan.changes    # {field: new value} to apply
    plan.conflicts  # [field, …] changed meanwhile by someone else, and by this form too
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STAMP_VERSION = "v"
STAMP_FIELDS = "f"


def fingerprint(value: Any) -> str:
    """A short, stable fingerprint of a field's value (fits in a modal's private_metadata)."""
    if isinstance(value, list | tuple | set | frozenset):
        value = sorted(str(v) for v in value)
    text = "" if value is None else str(value)
    return hashlib.sha256(text.strip().encode()).hexdigest()[:10]


def stamp(version: int, shown: Mapping[str, Any]) -> dict[str, Any]:
    """What a form opened on `version` showed, to carry in its metadata."""
    return {STAMP_VERSION: version, STAMP_FIELDS: {k: fingerprint(v) for k, v in shown.items()}}


@dataclass
class Plan:
    changes: dict[str, Any] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)


def plan(form_stamp: Mapping[str, Any] | None, *, submitted: Mapping[str, Any], current: Mapping[str, Any]) -> Plan:
    """Which submitted fields to apply, and which collide with a change made meanwhile.

    Without a stamp (a form drawn before stamps existed) every submitted field that differs
    from the record is applied, as before."""
    shown = (form_stamp or {}).get(STAMP_FIELDS) if isinstance(form_stamp, Mapping) else None
    out = Plan()
    for name, value in submitted.items():
        now = current.get(name)
        if fingerprint(value) == fingerprint(now):
            continue  # nothing to do: already so
        was = shown.get(name) if isinstance(shown, Mapping) else None
        if was is None:
            out.changes[name] = value
        elif fingerprint(value) == was:
            continue  # untouched by this form; someone else changed it since: keep theirs
        elif fingerprint(now) != was:
            out.conflicts.append(name)  # both changed it
        else:
            out.changes[name] = value
    return out
