"""Every slash command declared in manifest.yml is handled and answers `help`."""

import re
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def declared_commands() -> list[str]:
    return re.findall(r"^\s+- command: (/\S+)\s*$", MANIFEST.read_text(), flags=re.M)


def test_manifest_declares_project_and_escapes_every_command():
    text = MANIFEST.read_text()
    assert "/project" in declared_commands()
    assert text.count("should_escape: true") >= len(declared_commands())
    assert "app_home_opened" in text and "interactivity" in text


def test_every_declared_command_answers_help(slack, people):
    for command in declared_commands():
        resp = slack.command(command, "help", user=people.pm, channel_id="C0OTHER")
        assert resp.status_code == 200, command
        assert command in resp.json()["text"], command


def test_every_intake_button_opens_a_modal_for_an_external_client(slack, fake_slack, people, make_project):
    from bot.blocks.project import INTAKE_LABELS

    project = make_project()
    for n, action_id in enumerate(INTAKE_LABELS, start=1):
        resp = slack.action(action_id, str(project.id), user=people.client)
        assert resp.status_code == 200, action_id
        assert len(fake_slack.wait_for("views.open", n)) == n, action_id
