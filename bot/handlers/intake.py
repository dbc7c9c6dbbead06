"""The client's intake buttons (SPEC §3): New requirement, Change request, Give feedback.

Each feature registers the listener that opens its modal (`register(app)` of requirements,
changes and feedback); all three exist, so every intake message and digest carries all three.
"""

from __future__ import annotations

from bot.blocks import ids

INTAKE_ACTIONS = (ids.INTAKE_NEW_REQUIREMENT, ids.INTAKE_CHANGE_REQUEST, ids.INTAKE_GIVE_FEEDBACK)


def enable(action_id: str) -> None:
    """Kept for the features' `register(app)`: a button must have a listener (checked by a test)."""
    if action_id not in INTAKE_ACTIONS:
        raise ValueError(f"unknown intake action {action_id!r}")


def enabled() -> list[str]:
    return list(INTAKE_ACTIONS)
