"""Socket Mode, the README's quick start, end to end: a real `pmbot run` with SLACK_APP_TOKEN
asks the fake Web API for a connection (`apps.connections.open` answers a local `ws://` URL),
connects to the fake Socket Mode endpoint, and gets a slash command, a block action and an
event as Slack sends them. Each is acknowledged within 3 s over the socket, and the bot's
replies reach the fake Web API."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from bot.blocks import ids
from tests.deploy.helpers import base_url, bot_settings, lines, start_bot, stop, wait_http
from tests.fakes import payloads
from tests.fakes.socket_mode import FakeSocketMode

ACK_WITHIN = 3.0


def _form(built: tuple[str, dict]) -> dict:
    return dict(parse_qsl(built[0], keep_blank_values=True))


def test_socket_mode_acknowledges_a_command_a_click_and_an_event_and_replies(
        fake_slack, database_url, make_project, people, tmp_path):
    project = make_project()
    with FakeSocketMode() as socket:
        fake_slack.socket_mode_url = socket.url
        env = bot_settings(fake_slack, database_url, SLACK_APP_TOKEN="xapp-1-test", SLACK_SIGNING_SECRET="")
        proc, log = start_bot(env, tmp_path)
        try:
            socket.wait_connected(timeout=60)
            wait_http(base_url(env) + "/readyz", proc=proc, log=log, timeout=30)  # health served in Socket Mode too
            assert fake_slack.calls_to("apps.connections.open")[0].token == "xapp-1-test"

            # A slash command: the answer rides on the acknowledgement.
            command = _form(payloads.slash_command("/project", "help", user=people.pm, team_id="T0TEAM",
                                                   response_url=fake_slack.response_url()))
            seconds, ack = socket.wait_ack(socket.send("slash_commands", command), timeout=ACK_WITHIN)
            assert "/project setup" in ack["payload"]["text"], ack

            # A button in the client channel: acknowledged at once, then a modal through the Web API.
            click = json.loads(_form(payloads.block_actions(ids.INTAKE_NEW_REQUIREMENT, str(project.id),
                                                            user=people.client, team_id="T0TEAM",
                                                            trigger_id="trigger-socket"))["payload"])
            seconds_click, _ = socket.wait_ack(socket.send("interactive", click), timeout=ACK_WITHIN)
            opened = fake_slack.wait_for("views.open", timeout=10)[0]
            assert opened.params["trigger_id"] == "trigger-socket"

            # An event: the App Home is drawn and published.
            event = json.loads(payloads.event_callback({"type": "app_home_opened", "user": people.pm.id,
                                                        "channel": "D0PM", "tab": "home"}, team_id="T0TEAM")[0])
            seconds_event, _ = socket.wait_ack(socket.send("events_api", event), timeout=ACK_WITHIN)
            published = fake_slack.wait_for("views.publish", timeout=10)[0]
            assert published.params["user_id"] == people.pm.id
            assert max(seconds, seconds_click, seconds_event) < ACK_WITHIN
        finally:
            assert stop(proc) == 0, log.read_text()
    output = "\n".join(lines(log))
    assert "Traceback" not in output, output
    assert '"slack request"' in output or "slack request" in output  # the Socket Mode request lines
