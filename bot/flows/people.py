"""Who acts, as a flow sees them: a handler's `Actor` (built from the Slack payload) satisfies it."""

from __future__ import annotations

from typing import Protocol


class Person(Protocol):
    """The person behind a request: who, their Slack language, and which side they are on."""

    @property
    def user_id(self) -> str: ...

    @property
    def locale(self) -> str | None: ...

    @property
    def is_team(self) -> bool: ...

    @property
    def is_client_side(self) -> bool: ...
