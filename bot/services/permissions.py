"""Who may decide for the client (SPEC §7).

Confirm / approve buttons work only for the project's client approvers, and for the PM, whose
decision is recorded as made "on behalf of the client". A member of our own team may be listed
as a client approver (standing in for a client who is not on Slack): their decisions are always
recorded on behalf of the client too. Everyone else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Project
from bot.services.errors import Forbidden


@dataclass(frozen=True)
class Decider:
    user_id: str
    on_behalf_of_client: bool


def client_decider(project: Project, user_id: str, *, client_side: bool) -> Decider:
    """The user as a decider for the client, or Forbidden. `client_side`: the user is on the
    client's side (an external user or a guest), not a member of our workspace."""
    if user_id in (project.client_approver_ids or []):
        return Decider(user_id=user_id, on_behalf_of_client=not client_side)
    if user_id == project.pm_user_id:
        return Decider(user_id=user_id, on_behalf_of_client=True)
    raise Forbidden("permissions.not_an_approver")


def can_decide_for_client(project: Project, user_id: str) -> bool:
    return user_id in (project.client_approver_ids or []) or user_id == project.pm_user_id


def speaks_for_client(project: Project, user_id: str, *, client_side: bool) -> bool:
    """Whether what the user raises is raised by the client: someone on the client's side (an
    external user, a guest) or one of the client approvers (a team member may stand in)."""
    return client_side or user_id in (project.client_approver_ids or [])
