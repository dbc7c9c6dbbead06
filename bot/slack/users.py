"""Who is asking: a member of the installing workspace, a guest, or an external user.

The rule lives here and nowhere else. A user is external when their team differs from the
workspace the app is installed in, unless both belong to the same Enterprise Grid
organisation. Guests are `is_restricted` / `is_ultra_restricted`. `users.info` is asked at
most once per user per few minutes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

CACHE_SECONDS = 300.0


class UserKind(StrEnum):
    team = "team"
    guest = "guest"
    external = "external"


@dataclass(frozen=True)
class Workspace:
    """The installation: its team and, on Enterprise Grid, its organisation."""

    team_id: str
    enterprise_id: str | None = None
    # Our own bot (from auth.test): how a message we posted is told from anybody else's, e.g.
    # another install of PM Bot in a shared channel.
    bot_id: str | None = None
    bot_user_id: str | None = None


@dataclass(frozen=True)
class SlackUserInfo:
    id: str
    team_id: str | None
    enterprise_id: str | None
    is_restricted: bool
    is_ultra_restricted: bool
    is_bot: bool
    name: str
    tz: str | None
    locale: str | None


def classify(info: SlackUserInfo, workspace: Workspace) -> UserKind:
    """Team member, guest or external user, from what Slack says about the user."""
    same_team = info.team_id is None or info.team_id == workspace.team_id
    same_org = workspace.enterprise_id is not None and info.enterprise_id == workspace.enterprise_id
    if not (same_team or same_org):
        return UserKind.external
    if info.is_restricted or info.is_ultra_restricted:
        return UserKind.guest
    return UserKind.team


def _parse(user: dict) -> SlackUserInfo:
    enterprise = user.get("enterprise_user") or {}
    profile = user.get("profile") or {}
    return SlackUserInfo(
        id=user["id"],
        team_id=user.get("team_id"),
        enterprise_id=enterprise.get("enterprise_id") or user.get("enterprise_id"),
        is_restricted=bool(user.get("is_restricted")),
        is_ultra_restricted=bool(user.get("is_ultra_restricted")),
        is_bot=bool(user.get("is_bot")),
        name=profile.get("display_name") or profile.get("real_name") or user.get("name") or user["id"],
        tz=user.get("tz"),
        locale=user.get("locale"),
    )


class UserDirectory:
    """Cached `users.info` look-ups, shared by all handlers of one process."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic, ttl: float = CACHE_SECONDS) -> None:
        self._monotonic = monotonic
        self._ttl = ttl
        self._cache: dict[str, tuple[float, SlackUserInfo | None]] = {}
        self._lock = threading.Lock()

    def info(self, client: WebClient, user_id: str, *, hint_team_id: str | None = None) -> SlackUserInfo | None:
        """What Slack says about `user_id`; None when Slack does not know the user."""
        now = self._monotonic()
        with self._lock:
            hit = self._cache.get(user_id)
            if hit and now - hit[0] < self._ttl:
                return hit[1]
        try:
            user = client.users_info(user=user_id, include_locale=True)["user"]
            info: SlackUserInfo | None = _parse(user)
        except SlackApiError as err:
            if err.response.get("error") not in {"user_not_found", "user_not_visible"}:
                raise
            info = None
        with self._lock:
            self._cache[user_id] = (now, info)
        return info

    def known(self, user_id: str) -> bool:
        """Whether `info` would answer from memory (no Slack call)."""
        with self._lock:
            hit = self._cache.get(user_id)
        return hit is not None and self._monotonic() - hit[0] < self._ttl

    def cached_locale(self, user_id: str) -> str | None:
        """The user's Slack locale if a recent look-up knows it; never calls Slack."""
        with self._lock:
            hit = self._cache.get(user_id)
        return hit[1].locale if hit and hit[1] is not None else None

    def kind(
        self, client: WebClient, user_id: str, workspace: Workspace, *, payload_team_id: str | None = None
    ) -> UserKind:
        """Classify `user_id`. The payload's own `user.team_id`, when given, decides externality
        even before Slack answers (a user Slack cannot show us is treated as external)."""
        info = self.info(client, user_id)
        if info is None:
            return UserKind.external
        if payload_team_id and info.team_id is None:
            info = SlackUserInfo(**{**info.__dict__, "team_id": payload_team_id})
        return classify(info, workspace)
