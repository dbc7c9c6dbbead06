"""`/feedback` end to end: prompts, answers, ad-hoc feedback, follow-ups and results."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import select

from bot.blocks import ids
from bot.db import session_scope
from bot.models import ActivityLog, FeedbackPrompt, FeedbackResponse, FollowUp, Outbox
from bot.services import projects
from tests.conftest import OTHER_ORG
from tests.fakes import payloads as p


def _rows(session, model) -> list[Any]:
    """Fresh rows, detached: later reads of the observer session do not reload (and lock) them."""
    session.expire_all()
    rows = list(session.exec(select(model).order_by(model.id)))
    session.expunge_all()
    return rows


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def ask(slack, fake_slack, user, *, text: str = "ask") -> dict[str, Any]:
    """`/feedback ask`; waits for the bot's answer (and for the prompt's post, when it says so)."""
    before = len(fake_slack.calls_to("response_url"))
    posts = len(fake_slack.calls_to("chat.postMessage"))
    slack.command("/feedback", text, user=user)
    reply = fake_slack.wait_for("response_url", before + 1)[before].params
    if "is posted" in reply["text"] or "已发布" in reply["text"]:
        fake_slack.wait_for("chat.postMessage", posts + 1)
    return reply


def click(slack, fake_slack, action_id: str, value: str, user, **kwargs: Any) -> dict[str, Any]:
    """A button click; returns the bot's answer through the response_url."""
    before = len(fake_slack.calls_to("response_url"))
    slack.action(action_id, value, user=user, response_url=fake_slack.response_url(f"r{before}"), **kwargs)
    return fake_slack.wait_for("response_url", before + 1)[before].params


def click_score(slack, fake_slack, user, value: str) -> dict[str, Any]:
    return click(slack, fake_slack, f"{ids.FEEDBACK_SCORE}:{value.rpartition(':')[2]}", value, user)


def test_ask_posts_the_question_with_five_score_buttons(slack, fake_slack, people, session, make_project):
    make_project(language="zh-CN")
    reply = ask(slack, fake_slack, people.pm)
    assert reply["response_type"] == "ephemeral" and "<#C0CLIENT>" in reply["text"]
    post = fake_slack.wait_for("chat.postMessage")[0].params
    assert post["channel"] == "C0CLIENT"
    assert "您对我们本周的工作满意吗？" in post["text"]
    actions = next(b for b in post["blocks"] if b["type"] == "actions")
    scores = [e for e in actions["elements"] if e["action_id"].startswith(ids.FEEDBACK_SCORE)]
    [prompt] = _rows(session, FeedbackPrompt)
    assert [e["value"] for e in scores] == [f"{prompt.id}:{s}" for s in range(1, 6)]
    assert actions["elements"][-1]["action_id"] == ids.FEEDBACK_COMMENT
    assert actions["elements"][-1]["text"]["text"] == "补充意见"
    assert prompt.message_ts == fake_slack.messages("C0CLIENT")[0]["ts"]
    assert prompt.channel_id == "C0CLIENT" and prompt.sent_by == people.pm.id and prompt.trigger == "manual"
    # a custom question, escaped
    ask(slack, fake_slack, people.pm, text="ask How was the <!here> demo?")
    assert len(_rows(session, FeedbackPrompt)) == 1  # within the cooldown: asks first


def test_client_clicks_two_stored_follow_up_opened_and_pm_dmed(slack, fake_slack, people, session, make_project):
    make_project()
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)
    reply = click_score(slack, fake_slack, people.client, f"{prompt.id}:2")
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert "★★☆☆☆" in reply["text"] and "project manager has been told" in reply["text"]
    dm = fake_slack.wait_for("chat.postMessage", 2)[1].params
    opened = fake_slack.wait_for("conversations.open")[0].params
    assert opened["users"] == people.pm.id
    assert dm["channel"] == "DU0PM"
    shown = _dump(dm["blocks"])
    assert "★★☆☆☆" in shown and "<@U0CLIENT>" in shown and "How satisfied are you" in shown
    resolve = next(e for b in dm["blocks"] if b["type"] == "actions" for e in b["elements"])
    [response] = _rows(session, FeedbackResponse)
    assert (response.user_id, response.score, response.prompt_id, response.kind) == (
        people.client.id, 2, prompt.id, "score")
    [follow_up] = _rows(session, FollowUp)
    assert follow_up.status == "open" and follow_up.response_id == response.id
    assert resolve["action_id"] == ids.FEEDBACK_RESOLVE and resolve["value"] == str(follow_up.id)


def test_answering_again_replaces_the_answer(slack, fake_slack, people, session, make_project):
    make_project()
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)
    click_score(slack, fake_slack, people.client, f"{prompt.id}:4")
    reply = click_score(slack, fake_slack, people.client, f"{prompt.id}:5")
    assert "updated your answer" in reply["text"]
    click_score(slack, fake_slack, people.outsider, f"{prompt.id}:3")
    rows = _rows(session, FeedbackResponse)
    assert sorted((r.user_id, r.score) for r in rows) == [(people.client.id, 5), (people.outsider.id, 3)]
    assert _rows(session, FollowUp) == []
    changed = list(session.exec(select(ActivityLog).where(ActivityLog.action == "answer_changed")))
    assert changed[0].before["score"] == 4 and changed[0].after["score"] == 5
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # no DM for good news


def test_tampered_scores_are_refused_and_nothing_is_stored(slack, fake_slack, people, session, make_project):
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    make_project()
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)
    for value in (f"{prompt.id}:0", f"{prompt.id}:6", f"{prompt.id}:abc", f"{prompt.id}:", "x:3",
                  f"{prompt.id}:²", "99999:3"):
        reply = click_score(slack, fake_slack, people.client, value)
        assert reply["replace_original"] is False
        # in the project's language when the prompt is known, else in the client's own (zh-CN)
        assert any(word in reply["text"] for word in ("1 to 5", "1 到 5", "不存在"))
    assert _rows(session, FeedbackResponse) == []


def test_anonymous_project_stores_no_identity_but_replaces_answers(slack, fake_slack, people, session,
                                                                   make_project):
    make_project(anonymous_feedback=True)
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)
    assert prompt.anonymous is True
    reply = click_score(slack, fake_slack, people.client, f"{prompt.id}:1")
    assert "anonymous" in reply["text"]
    dm = fake_slack.wait_for("chat.postMessage", 2)[1].params
    click_score(slack, fake_slack, people.client, f"{prompt.id}:3")
    click_score(slack, fake_slack, people.outsider, f"{prompt.id}:4")
    rows = _rows(session, FeedbackResponse)
    assert len(rows) == 2 and all(r.user_id is None for r in rows)
    assert sorted(r.score for r in rows) == [3, 4]
    keys = {r.responder_key for r in rows}
    assert all(len(k) == 64 and people.client.id not in k for k in keys)
    # the PM hears of the bad score, but not from whom
    assert people.client.id not in _dump(dm) and "anonymous" in _dump(dm["blocks"])
    # identity is nowhere in the database
    session.expire_all()
    stored = _dump([[e.actor_user_id, e.before, e.after] for e in session.exec(select(ActivityLog))
                    if e.entity_type != "project"])  # (the project's settings name its approvers)
    stored += _dump([o.payload for o in session.exec(select(Outbox))])
    stored += _dump([[f.resolved_by, f.resolution_note] for f in session.exec(select(FollowUp))])
    assert people.client.id not in stored and people.outsider.id not in stored, stored


def test_cooldown_asks_before_posting_again(slack, fake_slack, people, session, make_project, clock):
    make_project()
    ask(slack, fake_slack, people.pm)
    clock.advance(days=3)
    reply = ask(slack, fake_slack, people.dev)
    assert "2026-11-18" in reply["text"] and "14 days" in reply["text"]
    button = next(e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert button["action_id"] == ids.FEEDBACK_POST_ANYWAY
    assert len(_rows(session, FeedbackPrompt)) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    # the person confirms: posted; a second click on the same warning posts nothing more
    confirmed = click(slack, fake_slack, ids.FEEDBACK_POST_ANYWAY, button["value"], people.dev)
    assert confirmed["replace_original"] is True and "posted" in confirmed["text"]
    fake_slack.wait_for("chat.postMessage", 2)
    again = click(slack, fake_slack, ids.FEEDBACK_POST_ANYWAY, button["value"], people.dev)
    assert "a moment ago" in again["text"]
    assert len(_rows(session, FeedbackPrompt)) == 2
    # guests cannot confirm either
    refused = click(slack, fake_slack, ids.FEEDBACK_POST_ANYWAY, button["value"], people.guest)
    assert "Only members of the team" in refused["text"]
    # after the cooldown it posts straight away
    clock.advance(days=14, seconds=1)
    reply = ask(slack, fake_slack, people.pm)
    assert "posted" in reply["text"]
    assert len(_rows(session, FeedbackPrompt)) == 3


def test_resolve_follow_up_with_a_note(slack, fake_slack, people, session, make_project):
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    make_project()
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)
    click_score(slack, fake_slack, people.client, f"{prompt.id}:1")
    dm_post = fake_slack.wait_for("chat.postMessage", 2)[1]
    [follow_up] = _rows(session, FollowUp)
    dm_ts = dm_post.response["ts"]
    # the client cannot resolve it
    refused = click(slack, fake_slack, ids.FEEDBACK_RESOLVE, str(follow_up.id), people.client, channel_id="DU0PM")
    assert "只有团队" in refused["text"]
    slack.action(ids.FEEDBACK_RESOLVE, str(follow_up.id), user=people.pm, channel_id="DU0PM", message_ts=dm_ts)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ids.FEEDBACK_RESOLVE_MODAL
    empty = {ids.FEEDBACK_BLOCK_NOTE: {ids.VALUE: p.plain_text(None)}}
    resp = slack.submit(ids.FEEDBACK_RESOLVE_MODAL, empty, user=people.pm, private_metadata=view["private_metadata"])
    assert ids.FEEDBACK_BLOCK_NOTE in resp.json()["errors"]
    assert _rows(session, FollowUp)[0].status == "open"
    note = {ids.FEEDBACK_BLOCK_NOTE: {ids.VALUE: p.plain_text("Called Chris; the demo moves to Friday.")}}
    resp = slack.submit(ids.FEEDBACK_RESOLVE_MODAL, note, user=people.pm, private_metadata=view["private_metadata"])
    assert resp.json()["response_action"] == "update"
    [follow_up] = _rows(session, FollowUp)
    assert (follow_up.status, follow_up.resolved_by, follow_up.resolution_note) == (
        "resolved", people.pm.id, "Called Chris; the demo moves to Friday.")
    [entry] = session.exec(select(ActivityLog).where(ActivityLog.action == "resolved"))
    assert entry.entity_type == "follow_up" and entry.after["note"].startswith("Called Chris")
    update = fake_slack.wait_for("chat.update")[0].params
    assert update["ts"] == dm_ts and update["channel"] == "DU0PM"
    assert "resolved" in update["text"] and "Called Chris" in _dump(update["blocks"])
    # resolving twice is refused, nothing changes
    resp = slack.submit(ids.FEEDBACK_RESOLVE_MODAL, note, user=people.dev, private_metadata=view["private_metadata"])
    assert "already been resolved" in resp.json()["errors"][ids.FEEDBACK_BLOCK_NOTE]
    assert _rows(session, FollowUp)[0].resolved_by == people.pm.id


def test_click_on_a_prompt_of_a_closed_project_is_politely_refused(slack, fake_slack, people, session,
                                                                   make_project, engine, clock):
    project = make_project()
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)
    with session_scope(engine) as s:
        projects.close(s, clock, project=projects.get(s, "T0TEAM", project.id), actor=people.pm.id)
    reply = click_score(slack, fake_slack, people.client, f"{prompt.id}:5")
    assert reply["replace_original"] is False and "has been closed" in reply["text"]
    assert _rows(session, FeedbackResponse) == []


def test_team_members_answers_are_not_counted(slack, fake_slack, people, session, make_project):
    make_project()
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)
    reply = click_score(slack, fake_slack, people.dev, f"{prompt.id}:1")
    assert "for the client" in reply["text"]
    assert _rows(session, FeedbackResponse) == []


def test_add_a_comment_keeps_the_score_and_checks_the_length(slack, fake_slack, people, session, make_project):
    make_project()
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)
    click_score(slack, fake_slack, people.client, f"{prompt.id}:4")
    slack.action(ids.FEEDBACK_COMMENT, str(prompt.id), user=people.client)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ids.FEEDBACK_COMMENT_MODAL
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks[ids.FEEDBACK_BLOCK_SCORE]["element"]["initial_option"]["value"] == "4"
    too_long = {ids.FEEDBACK_BLOCK_SCORE: {ids.VALUE: p.radio(None)},
                ids.FEEDBACK_BLOCK_COMMENT: {ids.VALUE: p.plain_text("x" * 3001)}}
    resp = slack.submit(ids.FEEDBACK_COMMENT_MODAL, too_long, user=people.client,
                        private_metadata=view["private_metadata"])
    assert "3000" in resp.json()["errors"][ids.FEEDBACK_BLOCK_COMMENT]
    assert _rows(session, FeedbackResponse)[0].comment is None
    ok = {ids.FEEDBACK_BLOCK_SCORE: {ids.VALUE: p.radio(None)},
          ids.FEEDBACK_BLOCK_COMMENT: {ids.VALUE: p.plain_text("Great <b>demo</b> & fast fixes")}}
    resp = slack.submit(ids.FEEDBACK_COMMENT_MODAL, ok, user=people.client, private_metadata=view["private_metadata"])
    assert resp.json()["response_action"] == "update"
    [response] = _rows(session, FeedbackResponse)
    assert (response.score, response.comment) == (4, "Great <b>demo</b> & fast fixes")


def test_comment_on_bad_news_reaches_the_pm(slack, fake_slack, people, session, make_project):
    make_project()
    ask(slack, fake_slack, people.pm)
    [prompt] = _rows(session, FeedbackPrompt)
    click_score(slack, fake_slack, people.client, f"{prompt.id}:2")
    fake_slack.wait_for("chat.postMessage", 2)
    values = {ids.FEEDBACK_BLOCK_SCORE: {ids.VALUE: p.radio("2")},
              ids.FEEDBACK_BLOCK_COMMENT: {ids.VALUE: p.plain_text("Releases keep <!channel> slipping")}}
    slack.submit(ids.FEEDBACK_COMMENT_MODAL, values, user=people.client,
                 private_metadata=json.dumps({"prompt_id": prompt.id}))
    update = fake_slack.wait_for("chat.postMessage", 3)[2].params
    assert update["channel"] == "DU0PM"
    assert "Releases keep &lt;!channel&gt; slipping" in _dump(update["blocks"])
    assert len(_rows(session, FollowUp)) == 1


def test_give_feedback_from_the_intake_button_and_the_command(slack, fake_slack, people, session, make_project):
    project = make_project()
    slack.action(ids.INTAKE_GIVE_FEEDBACK, str(project.id), user=people.guest)
    view = fake_slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == ids.FEEDBACK_MODAL
    values = {ids.FEEDBACK_BLOCK_KIND: {ids.VALUE: p.radio("complaint")},
              ids.FEEDBACK_BLOCK_SCORE: {ids.VALUE: p.static_select(None)},
              ids.FEEDBACK_BLOCK_TEXT: {ids.VALUE: p.plain_text("Nobody answered our emails this week")}}
    resp = slack.submit(ids.FEEDBACK_MODAL, values, user=people.guest, private_metadata=view["private_metadata"])
    assert resp.json()["response_action"] == "update"
    dm = fake_slack.wait_for("chat.postMessage")[0].params
    assert dm["channel"] == "DU0PM" and "Complaint" in _dump(dm["blocks"]) and "<@U0GUEST>" in _dump(dm["blocks"])
    [response] = _rows(session, FeedbackResponse)
    assert (response.kind, response.user_id, response.prompt_id, response.score) == (
        "complaint", people.guest.id, None, None)
    assert len(_rows(session, FollowUp)) == 1

    # `/feedback` opens the same modal for a client; bad input is answered inline
    slack.command("/feedback", "", user=people.client)
    view = fake_slack.wait_for("views.open", 2)[1].params["view"]
    bad = {ids.FEEDBACK_BLOCK_KIND: {ids.VALUE: p.radio("rant")},
           ids.FEEDBACK_BLOCK_SCORE: {ids.VALUE: p.static_select("9")},
           ids.FEEDBACK_BLOCK_TEXT: {ids.VALUE: p.plain_text("y" * 3001)}}
    resp = slack.submit(ids.FEEDBACK_MODAL, bad, user=people.client, private_metadata=view["private_metadata"])
    assert ids.FEEDBACK_BLOCK_SCORE in resp.json()["errors"]
    bad[ids.FEEDBACK_BLOCK_SCORE] = {ids.VALUE: p.static_select(None)}
    resp = slack.submit(ids.FEEDBACK_MODAL, bad, user=people.client, private_metadata=view["private_metadata"])
    assert set(resp.json()["errors"]) == {ids.FEEDBACK_BLOCK_KIND, ids.FEEDBACK_BLOCK_TEXT}
    praise = {ids.FEEDBACK_BLOCK_KIND: {ids.VALUE: p.radio("praise")},
              ids.FEEDBACK_BLOCK_SCORE: {ids.VALUE: p.static_select("5")},
              ids.FEEDBACK_BLOCK_TEXT: {ids.VALUE: p.plain_text("Lovely work")}}
    resp = slack.submit(ids.FEEDBACK_MODAL, praise, user=people.client, private_metadata=view["private_metadata"])
    assert resp.json()["response_action"] == "update"
    assert len(_rows(session, FeedbackResponse)) == 2 and len(_rows(session, FollowUp)) == 1


def test_list_shows_averages_trend_and_open_follow_ups(slack, fake_slack, people, session, make_project, clock):
    make_project()
    for scores in ((2, 3), (4, 5)):
        clock.advance(days=15)
        ask(slack, fake_slack, people.pm)
        prompt = _rows(session, FeedbackPrompt)[-1]
        click_score(slack, fake_slack, people.client, f"{prompt.id}:{scores[0]}")
        click_score(slack, fake_slack, people.outsider, f"{prompt.id}:{scores[1]}")
    body = slack.command("/feedback", "list", user=people.pm, channel_id="C0INTERNAL").json()
    shown = _dump(body["blocks"])
    assert "`▄▇`" in shown  # averages 2.5 then 4.5 on the fixed 1–5 scale
    assert "average *2.5*" in shown and "average *4.5*" in shown
    assert "Open follow-ups: 1" in shown
    resolve = [b["accessory"] for b in body["blocks"]
               if b.get("accessory", {}).get("action_id") == ids.FEEDBACK_RESOLVE]
    [follow_up] = _rows(session, FollowUp)
    assert [r["value"] for r in resolve] == [str(follow_up.id)]
    assert "(4 in all)" in shown and len(body["blocks"]) <= 50
    out = slack.command("/feedback", "list", user=people.client).json()["text"]
    assert "Only members of the team" in out  # in the client's Slack language, English here
    out = slack.command("/feedback", "ask", user=people.guest).json()["text"]
    assert "Only members of the team" in out


def test_a_job_posts_prompts_through_the_same_code(deps, fake_slack, session, make_project, engine, clock):
    from bot.flows.feedback import post_prompt

    project = make_project(language="zh-CN")
    outcome = post_prompt(deps, project_id=project.id, actor="pmbot", trigger="recurring")
    assert outcome.status == "posted"
    [prompt] = _rows(session, FeedbackPrompt)
    assert (prompt.trigger, prompt.sent_by, prompt.question) == ("recurring", "pmbot", "您对我们本周的工作满意吗？")
    assert prompt.message_ts == fake_slack.wait_for("chat.postMessage")[0].response["ts"]
    # within the cooldown a job does nothing (and says why)
    clock.advance(days=7)
    again = post_prompt(deps, project_id=project.id, actor="pmbot", trigger="milestone")
    assert again.status == "cooling_down" and again.last.id == prompt.id
    assert len(_rows(session, FeedbackPrompt)) == 1
    clock.advance(days=8)
    with session_scope(engine) as s:
        projects.close(s, clock, project=projects.get(s, "T0TEAM", project.id), actor="U0PM")
    assert post_prompt(deps, project_id=project.id, actor="pmbot").status == "closed"
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_two_processes_posting_at_once_keep_one_prompt(deps, fake_slack, session, make_project, monkeypatch):
    """The other process enqueues the same key between our check and our insert: ours rolls back."""
    from bot.flows import feedback as flow
    from bot.flows import outbox_keys
    from bot.services import outbox

    project = make_project()
    real_enqueue = outbox.enqueue

    def rival_first(s, **kwargs):  # the other process's row: the same key, its own prompt
        real_enqueue(s, **{**kwargs, "target": outbox_keys.target(outbox_keys.TargetKind.prompt, 999)})
        return real_enqueue(s, **kwargs)

    monkeypatch.setattr(outbox, "enqueue", rival_first)
    outcome = flow.post_prompt(deps, project_id=project.id, actor="pmbot", trigger="recurring")
    assert outcome.status == "superseded"
    assert _rows(session, FeedbackPrompt) == [] and _rows(session, Outbox) == []
    assert fake_slack.calls_to("chat.postMessage") == []
