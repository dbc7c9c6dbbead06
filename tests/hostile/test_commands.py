"""Hostile slash-command texts, for every command of the manifest, from every kind of user and
channel: the bot answers (never HTTP 500, never an unhandled exception) and never sends the
markup a user typed unescaped."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, OTHER_CHANNEL, PEOPLE, TEAM
from tests.fakes import payloads
from tests.hostile import world as w
from tests.hostile.conftest import ELSEWHERE, ELSEWHERE_CHANNEL
from tests.hostile.strategies import HOSTILE, hostile_text, pieces

SUBCOMMANDS = {
    "/project": ["setup", "show", "list", "edit", "close", "help"],
    "/req": ["list", "list open", "list proposed", "list changes", "export", "help", "lsit"],
    "/change": ["list", "list assessed", "list export", "help"],
    "/risk": ["list", "list all", "help", "?"],
    "/milestone": ["list", "update", "help"],
    "/feedback": ["ask", "list", "help"],
    "/digest": ["preview", "send", "help"],
    "/client": ["list", "list done", "list all", "list soon", "export", "help"],  # issue 15
}
USERS = [PEOPLE.pm, PEOPLE.dev, PEOPLE.guest, PEOPLE.client, PEOPLE.outsider, ELSEWHERE]
CHANNELS = [CLIENT_CHANNEL, INTERNAL_CHANNEL, OTHER_CHANNEL, "D0PMBOT", w.B_CLIENT_CHANNEL, w.X_CLIENT_CHANNEL,
            ELSEWHERE_CHANNEL]


@st.composite
def command_texts(draw: st.DrawFn, command: str) -> str:
    sub = draw(st.sampled_from(["", *SUBCOMMANDS[command]]))
    rest = draw(st.one_of(st.just(""), hostile_text, st.lists(pieces, min_size=1, max_size=4).map(" ".join)))
    joiner = draw(st.sampled_from([" ", "  ", "\n", "\t", ""]))
    return (sub + joiner + rest) if sub else rest


def command_request(command: str, text: str | None, *, user: payloads.SlackUser, channel: str, team: str,
                    response_url: str, trigger: str) -> tuple[str, dict[str, str]]:
    """A slash command as Slack form-encodes it; `text=None` leaves the field out."""
    fields = [("token", payloads.VERIFICATION_TOKEN), ("team_id", team), ("team_domain", team.lower()),
              ("channel_id", channel), ("channel_name", "directmessage" if channel.startswith("D") else "x"),
              ("user_id", user.id), ("user_name", user.name), ("command", command)]
    if text is not None:
        fields.append(("text", text))
    fields += [("api_app_id", payloads.API_APP_ID), ("is_enterprise_install", "false"),
               ("response_url", response_url), ("trigger_id", trigger)]
    body = urlencode(fields)
    return body, payloads.sign(body)


@pytest.mark.parametrize("command", list(SUBCOMMANDS))
@HOSTILE
@given(data=st.data())
def test_hostile_command_text(hostile, command, data):
    text = data.draw(st.one_of(command_texts(command), st.none()), label="text")
    user = data.draw(st.sampled_from(USERS), label="user")
    channel = data.draw(st.sampled_from(CHANNELS), label="channel")
    team = ELSEWHERE.team_id if user is ELSEWHERE else data.draw(st.sampled_from([TEAM, TEAM, "T0ELSE"]),
                                                                  label="team")
    n = len(hostile.fake.calls)
    built = command_request(command, text, user=user, channel=channel, team=team,
                            response_url=hostile.fake.response_url(f"cmd{n}"), trigger=f"trigger-{n}")
    outcome = hostile.send(built, count_rows=False)
    hostile.check(outcome, what=f"{command} {text!r} by {user.id} in {channel}")
