"""Client items and milestone acceptance, each person in their language (issue 17): what only the
person reads (answers, lists, forms, a refused or outdated click) follows their Slack locale; the
messages in the client channel follow the project's language."""

from __future__ import annotations

import json

from bot.blocks import ids
from tests.conftest import CLIENT_CHANNEL, INTERNAL_CHANNEL, OTHER_ORG
from tests.e2e.test_acceptance import buttons as acc_buttons
from tests.e2e.test_acceptance import done_milestone, last_response, request_acceptance, text_of
from tests.e2e.test_client_items import items, posts, value_of


def test_client_items_answer_each_person_in_their_language(slack, fake_slack, people, session, make_project):
    """An English project: the developer and the client read Chinese in Slack, the PM English."""
    make_project(language="en")
    fake_slack.add_user(people.dev.id, name=people.dev.name, locale="zh-CN")
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")

    body = slack.command("/client", "Logo files in SVG", user=people.dev).json()
    assert "已发布到" in body["text"] and "2026年11月23日周一" in body["text"]  # the answer: Chinese, CLDR date
    assert "已发布到" in json.dumps(body["blocks"], ensure_ascii=False)
    [post] = posts(fake_slack)  # the client channel reads the project's language
    labels = [e["text"]["text"] for b in post["blocks"] if b.get("type") == "actions" for e in b["elements"]]
    assert labels[:2] == ["Done", "Need more time"] and "已完成" not in json.dumps(post, ensure_ascii=False)

    listed = json.dumps(slack.command("/client", "list", user=people.dev).json(), ensure_ascii=False)
    assert "Acme Web Shop 的客户事项" in listed and "Logo files in SVG" in listed
    listed = json.dumps(slack.command("/client", "list", user=people.pm).json(), ensure_ascii=False)
    assert "Client items of Acme Web Shop" in listed and "的客户事项" not in listed

    [item] = items(session)
    done = value_of(post["blocks"], ids.CLIENT_DONE)
    slack.action(ids.CLIENT_DONE, done, user=people.client)
    assert fake_slack.wait_for("response_url")[-1].params["text"].startswith(":white_check_mark: 谢谢您！")
    update = fake_slack.wait_for("chat.update")[-1].params
    assert update["ts"] == item.message_ts and "Marked done by <@U0CLIENT>" in json.dumps(update["blocks"])
    # the same old button again: told in Chinese that it is done already
    slack.action(ids.CLIENT_DONE, done, user=people.client)
    again = fake_slack.wait_for("response_url", 2)[-1].params["text"]
    assert "CI-" in again and "Marked done" not in again and "已" in again


def test_acceptance_answers_each_person_in_their_language(slack, fake_slack, people, make_project, engine):
    """An English project: the developer and the client read Chinese in Slack; the request in the
    client channel stays English."""
    project = make_project(language="en")
    fake_slack.add_user(people.dev.id, name=people.dev.name, locale="zh-CN")
    fake_slack.add_user(people.client.id, team_id=OTHER_ORG, name=people.client.name, locale="zh-CN")
    m = done_milestone(engine, project)

    post, view = request_acceptance(slack, fake_slack, people.dev, m.id)
    assert view["title"]["text"] == "提交验收"  # the form: the developer's language
    told = fake_slack.wait_for("chat.postEphemeral")[-1].params
    assert told["channel"] == INTERNAL_CHANNEL and "已发送到 <#C0CLIENT> 等待验收" in told["text"]
    shown = text_of(post.params["blocks"])  # the client channel: the project's language
    assert {e["text"]["text"] for b in post.params["blocks"] if b.get("type") == "actions"
            for e in b["elements"]} == {"Accept", "Report issues"} and "验收" not in shown

    value = acc_buttons(post.params["blocks"])[ids.ACC_ACCEPT]
    slack.action(ids.ACC_ACCEPT, value, user=people.client, channel_id=CLIENT_CHANNEL)
    assert last_response(fake_slack, 1)["text"] == "谢谢您！*Beta release* 已验收通过。"
    update = fake_slack.wait_for("chat.update")[-1].params
    assert "Accepted" in text_of(update["blocks"]) and "验收通过" not in text_of(update["blocks"])
    # an old button clicked again: why nothing was recorded in Chinese, then the request as it is (English)
    slack.action(ids.ACC_ACCEPT, value, user=people.client, channel_id=CLIENT_CHANNEL)
    answer = last_response(fake_slack, 2)
    assert answer["text"].startswith("未作记录。") and "Accepted" in text_of(answer["blocks"])
    # the PM (English in Slack) gets the record's answer in English
    slack.action(ids.ACC_EXPORT, str(m.id), user=people.pm, channel_id=INTERNAL_CHANNEL)
    assert last_response(fake_slack, 3)["text"] == "The acceptance record of *Beta release* is in your direct messages."
