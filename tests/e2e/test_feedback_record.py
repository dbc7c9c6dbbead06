"""Issue 10, feedback part: the record of what the client said stays the client's.

- item 5: the PM (or a team member) listed as a client approver may answer a prompt, but only
  client-side people's answers count in satisfaction figures (the list, the digest);
- item 7: `/feedback ask <question>` stores what was typed, not Slack's escaped form;
- one `deps.session()` scope per click or submission.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any

from bot.blocks import ids
from bot.models import FeedbackPrompt, FeedbackResponse
from tests.e2e.test_feedback import _rows, ask, click_score
from tests.fakes import payloads as p


def _shown(body: dict[str, Any]) -> str:
    return json.dumps(body.get("blocks", []), ensure_ascii=False)


def test_pm_listed_as_approver_answers_but_only_the_client_counts(slack, fake_slack, people, session, make_project):
    make_project(client_approver_ids=[people.client.id, people.pm.id])
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)
    pm_reply = click_score(slack, fake_slack, people.pm, f"{prompt.id}:1")
    assert "★☆☆☆☆" in pm_reply["text"]  # the PM may answer (standing in for the client) ...
    click_score(slack, fake_slack, people.client, f"{prompt.id}:5")

    listed = slack.command("/feedback", "list", user=people.pm, channel_id="C0INTERNAL").json()
    shown = _shown(listed)
    assert "average *5.0* from 1 answer" in shown and "average 5.0 (out of 5)" in shown, shown
    assert "3.0" not in shown
    assert "not counted" in shown  # the PM's answer is in the record, marked as our side

    before = len(fake_slack.calls_to("response_url"))
    slack.command("/digest", "preview", user=people.pm)
    preview = fake_slack.wait_for("response_url", before + 1)[before].params
    assert "average 5.0 / 5" in _shown(preview) and "2 responses" not in _shown(preview), _shown(preview)

    rows = {r.user_id: r for r in _rows(session, FeedbackResponse)}
    assert (rows[people.pm.id].score, rows[people.pm.id].client_side) == (1, False)  # kept, marked
    assert (rows[people.client.id].score, rows[people.client.id].client_side) == (5, True)


def test_team_feedback_from_the_form_is_kept_but_not_counted(slack, fake_slack, people, session, make_project):
    project = make_project()
    values = {ids.FEEDBACK_BLOCK_KIND: {ids.VALUE: p.radio("praise")},
              ids.FEEDBACK_BLOCK_SCORE: {ids.VALUE: p.static_select("1")},
              ids.FEEDBACK_BLOCK_TEXT: {ids.VALUE: p.plain_text("Our own view")}}
    meta = json.dumps({"project_id": project.id})
    assert slack.submit(ids.FEEDBACK_MODAL, values, user=people.dev, private_metadata=meta).json()[
        "response_action"] == "update"
    values[ids.FEEDBACK_BLOCK_SCORE] = {ids.VALUE: p.static_select("4")}
    values[ids.FEEDBACK_BLOCK_TEXT] = {ids.VALUE: p.plain_text("Nice demo")}
    slack.submit(ids.FEEDBACK_MODAL, values, user=people.client, private_metadata=meta)

    before = len(fake_slack.calls_to("response_url"))
    slack.command("/digest", "preview", user=people.pm)
    preview = fake_slack.wait_for("response_url", before + 1)[before].params
    assert "average 4.0 / 5" in _shown(preview) and "2 responses" not in _shown(preview), _shown(preview)
    rows = {r.user_id: r for r in _rows(session, FeedbackResponse)}
    assert (rows[people.dev.id].feedback_kind, rows[people.dev.id].client_side) == ("praise", False)
    assert rows[people.client.id].client_side is True


def test_feedback_ask_stores_what_was_typed(slack, fake_slack, people, session, make_project):
    make_project()
    reply = ask(slack, fake_slack, people.pm, text="ask How did the R&amp;D demo with <@U0DEV|dana> go?")
    assert "posted" in reply["text"]
    [prompt] = _rows(session, FeedbackPrompt)
    assert prompt.question == "How did the R&D demo with @dana go?"
    post = fake_slack.wait_for("chat.postMessage")[0].params
    assert "R&amp;D demo with @dana" in post["text"] and "&amp;amp;" not in _shown(post)


@contextmanager
def counting_sessions(deps, monkeypatch):
    """Count the `deps.session()` scopes the request opens (the sender's own do not go there)."""
    opened: list[int] = []
    real = deps.session

    def session():
        opened.append(1)
        return real()

    monkeypatch.setattr(deps, "session", session)
    yield opened
    monkeypatch.undo()


def test_each_click_and_submission_opens_one_session(slack, fake_slack, people, session, make_project, deps,
                                                     monkeypatch):
    make_project()
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)

    with counting_sessions(deps, monkeypatch) as opened:
        click_score(slack, fake_slack, people.client, f"{prompt.id}:2")
        fake_slack.wait_for("chat.postMessage", 2)  # the PM's DM went out too
    assert len(opened) == 1

    with counting_sessions(deps, monkeypatch) as opened:
        values = {ids.FEEDBACK_BLOCK_SCORE: {ids.VALUE: p.radio(None)},
                  ids.FEEDBACK_BLOCK_COMMENT: {ids.VALUE: p.plain_text("Slow releases")}}
        resp = slack.submit(ids.FEEDBACK_COMMENT_MODAL, values, user=people.client,
                            private_metadata=json.dumps({"prompt_id": prompt.id}))
        assert resp.json()["response_action"] == "update"
        fake_slack.wait_for("chat.postMessage", 3)  # the news on the open follow-up
    assert len(opened) == 1

    with counting_sessions(deps, monkeypatch) as opened:
        listed = slack.command("/feedback", "list", user=people.pm, channel_id="C0INTERNAL").json()
        resolve = next(b["accessory"]["value"] for b in listed["blocks"]
                       if b.get("accessory", {}).get("action_id") == ids.FEEDBACK_RESOLVE)
    assert len(opened) == 1
    with counting_sessions(deps, monkeypatch) as opened:
        slack.action(ids.FEEDBACK_RESOLVE, resolve, user=people.pm, channel_id="DU0PM")
        view = fake_slack.wait_for("views.open")[0].params["view"]
    assert len(opened) == 1
    with counting_sessions(deps, monkeypatch) as opened:
        note = {ids.FEEDBACK_BLOCK_NOTE: {ids.VALUE: p.plain_text("Called them")}}
        resp = slack.submit(ids.FEEDBACK_RESOLVE_MODAL, note, user=people.pm,
                            private_metadata=view["private_metadata"])
        assert resp.json()["response_action"] == "update"
        fake_slack.wait_for("chat.update")  # the PM's DM, updated in place
    assert len(opened) == 1
