"""Refusals the domain gives, as i18n keys so each surface can word them in the user's language."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal with a reason a person can read: `key` names a text in the catalogues."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class NotFound(DomainError):
    """The thing asked for does not exist (any more), or is not visible from here."""


class Forbidden(DomainError):
    """The user may not do this."""


class InvalidTransition(DomainError):
    """The status change is not allowed from the current status."""


class ValidationFailed(DomainError):
    """Input was rejected; `errors` maps each field to the key (and params) of its message."""

    def __init__(self, errors: dict[str, tuple[str, dict[str, object]]]) -> None:
        super().__init__("common.invalid_input")
        self.errors = errors
