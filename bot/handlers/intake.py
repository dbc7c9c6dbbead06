"""Which intake buttons exist: a feature that builds the modal for a button enables it."""

from __future__ import annotations

from bot.blocks import ids

# Filled by the handler modules that own each button's modal, at registration time.
ENABLED: list[str] = []


def enable(action_id: str) -> None:
    if action_id not in ENABLED:
        ENABLED.append(action_id)


def enabled() -> list[str]:
    return [a for a in (ids.INTAKE_NEW_REQUIREMENT, ids.INTAKE_CHANGE_REQUEST, ids.INTAKE_GIVE_FEEDBACK)
            if a in ENABLED]
