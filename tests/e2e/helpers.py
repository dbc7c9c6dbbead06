"""Helpers the end-to-end tests share: filling in the project modal as a user would."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks import ids
from tests.fakes import payloads as p


def project_values(
    name: str = "Acme Web Shop",
    *,
    client_channel: str | None = "C0CLIENT",
    internal_channel: str | None = "C0INTERNAL",
    pm: str | None = "U0PM",
    approvers: list[str] | None = None,
    timezone: str = "Asia/Shanghai",
    language: str = "en",
    weekday: str = "4",
    digest_time: str = "16:00",
    working_days: list[str] | None = None,
    holidays: str | None = None,
    cadence: str = "0",
    options: list[str] | None = None,
    client_name: str = "Acme Ltd.",
) -> dict[str, Any]:
    """`view.state.values` of a filled-in project modal."""
    v = ids.VALUE
    return {
        ids.PROJECT_BLOCK_NAME: {v: p.plain_text(name)},
        ids.PROJECT_BLOCK_CLIENT_NAME: {v: p.plain_text(client_name)},
        ids.PROJECT_BLOCK_CLIENT_CHANNEL: {v: p.conversations_select(client_channel)},
        ids.PROJECT_BLOCK_INTERNAL_CHANNEL: {v: p.conversations_select(internal_channel)},
        ids.PROJECT_BLOCK_PM: {v: p.users_select(pm)},
        ids.PROJECT_BLOCK_APPROVERS: {v: p.multi_users(approvers if approvers is not None else ["U0CLIENT"])},
        ids.PROJECT_BLOCK_TIMEZONE: {ids.PROJECT_TZ_ACTION: {"type": "external_select",
                                                              "selected_option": p.option(timezone)}},
        ids.PROJECT_BLOCK_LANGUAGE: {v: p.static_select(language)},
        ids.PROJECT_BLOCK_WEEKDAY: {v: p.static_select(weekday)},
        ids.PROJECT_BLOCK_TIME: {v: p.timepicker(digest_time)},
        ids.PROJECT_BLOCK_WORKING_DAYS: {v: p.checkboxes(working_days or ["0", "1", "2", "3", "4"])},
        ids.PROJECT_BLOCK_HOLIDAYS: {v: p.plain_text(holidays)},
        ids.PROJECT_BLOCK_CADENCE: {v: p.static_select(cadence)},
        ids.PROJECT_BLOCK_OPTIONS: {v: p.checkboxes(options or [])},
    }


def submit_project(slack, user, *, project_id: int | None = None, origin: str = "C0CLIENT", **fields: Any):
    meta = json.dumps({"project_id": project_id, "origin_channel": origin})
    return slack.submit(ids.PROJECT_MODAL, project_values(**fields), user=user, private_metadata=meta)
