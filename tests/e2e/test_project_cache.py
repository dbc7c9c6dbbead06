"""Issue 13: the project of a channel is remembered between requests, and a change to projects
is seen by the very next request (bot/services/project_cache.py)."""

from __future__ import annotations

from sqlmodel import select

from bot.db import session_scope
from bot.models import Project, Requirement
from bot.services import projects
from tests.conftest import CLIENT_CHANNEL, OTHER_CHANNEL


def titles(engine) -> list[str]:
    with session_scope(engine) as s:
        return sorted(s.exec(select(Requirement.title)).all())


def test_a_closed_project_refuses_the_next_capture_at_once(slack, people, engine, clock, make_project):
    project = make_project()
    first = slack.command("/req", "Export as PDF", user=people.dev).json()
    assert "Saved" in first["text"]
    with session_scope(engine) as s:  # closed elsewhere (another request, a CLI verb) in this process
        projects.close(s, clock, project=s.get(Project, project.id), actor=people.pm.id)
    second = slack.command("/req", "Export as CSV", user=people.dev).json()
    assert "Saved" not in second["text"] and "closed" in second["text"].lower()
    assert titles(engine) == ["Export as PDF"]


def test_a_project_set_up_on_a_channel_is_found_by_the_next_request(slack, fake_slack, people, engine, make_project):
    make_project()
    before = len(fake_slack.calls_to("views.open"))
    slack.command("/req", "Dark mode", channel_id=OTHER_CHANNEL, user=people.pm)  # no project here: the form
    assert len(fake_slack.wait_for("views.open", before + 1)) == before + 1
    assert titles(engine) == []
    make_project("Second Project", client_channel_id=OTHER_CHANNEL, internal_channel_id=None)
    answer = slack.command("/req", "Dark mode", channel_id=OTHER_CHANNEL, user=people.pm).json()
    assert "Saved" in answer["text"]
    with session_scope(engine) as s:
        [req] = s.exec(select(Requirement)).all()
        assert s.get(Project, req.project_id).client_channel_id == OTHER_CHANNEL
    assert CLIENT_CHANNEL != OTHER_CHANNEL
