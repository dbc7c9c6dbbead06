"""Tests of the test rig's fakes: the fake Slack Web API and the signed payload builders."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from . import payloads as p
from .slack_api import FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake
    assert fake.errors == [], "the fake itself crashed"


def client(fake: FakeSlack, **kwargs: Any) -> WebClient:
    return WebClient(base_url=fake.url, token="xoxb-test", **kwargs)


# ---------------------------------------------------------------------------- FakeSlack


def test_url_shape(slack: FakeSlack) -> None:
    assert slack.base.startswith("http://127.0.0.1:")
    assert slack.url == slack.base + "/api/"
    assert slack.response_url("x") == slack.base + "/response/x"


def test_post_message_is_recorded_with_parsed_params(slack: FakeSlack) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    metadata = {"event_type": "pm_request", "event_payload": {"id": 7}}
    resp = client(slack).chat_postMessage(channel="C1", text="hi", blocks=blocks, metadata=metadata)

    assert resp["ok"] is True
    assert resp["channel"] == "C1"
    assert resp["message"]["blocks"] == blocks
    assert resp["message"]["user"] == "UBOT"
    assert resp["message"]["bot_id"] == "BBOT"
    [call] = slack.calls_to("chat.postMessage")
    assert call.params["blocks"] == blocks
    assert call.params["metadata"] == metadata
    assert call.token == "xoxb-test"
    assert call.headers["authorization"] == "Bearer xoxb-test"
    assert call.status == 200
    assert slack.messages("C1")[0]["ts"] == resp["ts"]


def test_form_encoded_json_fields_are_decoded(slack: FakeSlack) -> None:
    blocks = [{"type": "divider"}]
    client(slack).api_call("chat.postMessage", params={"channel": "C1", "blocks": json.dumps(blocks)})
    assert slack.calls_to("chat.postMessage")[0].params["blocks"] == blocks


def test_ts_increase_and_user_ids_post_to_their_dm(slack: FakeSlack) -> None:
    web = client(slack)
    first = web.chat_postMessage(channel="C1", text="a")["ts"]
    second = web.chat_postMessage(channel="U0ALICE", text="b")
    assert float(second["ts"]) > float(first)
    assert second["channel"] == "D" + "U0ALICE"
    assert web.conversations_open(users="U0ALICE")["channel"]["id"] == second["channel"]
    assert [m["text"] for m in slack.messages("U0ALICE")] == ["b"]


def test_missing_text_and_unknown_update_are_errors(slack: FakeSlack) -> None:
    web = client(slack)
    with pytest.raises(SlackApiError) as no_text:
        web.api_call("chat.postMessage", params={"channel": "C1"})
    assert no_text.value.response["error"] == "no_text"
    with pytest.raises(SlackApiError) as not_found:
        web.chat_update(channel="C1", ts="1.000001", text="x")
    assert not_found.value.response["error"] == "message_not_found"


def test_update_keeps_blocks_and_delete_removes(slack: FakeSlack) -> None:
    web = client(slack)
    blocks = [{"type": "divider"}]
    ts = web.chat_postMessage(channel="C1", text="v1", blocks=blocks)["ts"]
    updated = web.chat_update(channel="C1", ts=ts, text="v2")
    assert updated["text"] == "v2"
    assert slack.message("C1", ts)["blocks"] == blocks  # type: ignore[index]
    web.chat_delete(channel="C1", ts=ts)
    assert slack.messages("C1") == []


def test_users_info_shapes(slack: FakeSlack) -> None:
    slack.add_user("U1", real_name="Ann Lee", tz="Europe/Paris", locale="fr-FR")
    slack.add_user("U2", team_id="T0EXT", enterprise_id="E0EXT", is_restricted=True)
    web = client(slack)

    user = web.users_info(user="U1", include_locale=True)["user"]
    assert user["team_id"] == "T0TEAM"
    assert user["profile"]["real_name"] == "Ann Lee"
    assert user["tz"] == "Europe/Paris"
    assert user["locale"] == "fr-FR"
    assert "enterprise_user" not in user
    assert "locale" not in web.users_info(user="U1")["user"]  # only with include_locale, like Slack

    ext = web.users_info(user="U2")["user"]
    assert ext["team_id"] == "T0EXT"
    assert ext["is_restricted"] is True
    assert ext["enterprise_user"]["enterprise_id"] == "E0EXT"

    with pytest.raises(SlackApiError) as err:
        web.users_info(user="UNOPE")
    assert err.value.response["error"] == "user_not_found"
    assert [c.params["user"] for c in slack.calls_to("users.info")] == ["U1", "U1", "U2", "UNOPE"]


def test_channels(slack: FakeSlack) -> None:
    slack.set_channel("C1", name="client-acme", is_ext_shared=True)
    slack.set_members("C1", ["U1", "U2"])
    web = client(slack)
    info = web.conversations_info(channel="C1")["channel"]
    assert (info["id"], info["name"], info["is_channel"], info["is_ext_shared"], info["is_member"]) == (
        "C1",
        "client-acme",
        True,
        True,
        True,
    )
    members = web.conversations_members(channel="C1")
    assert members["members"] == ["U1", "U2"]
    assert members["response_metadata"] == {"next_cursor": ""}
    with pytest.raises(SlackApiError) as err:
        web.chat_postEphemeral(channel="C1", user="U9", text="psst")
    assert err.value.response["error"] == "user_not_in_channel"
    assert web.chat_postEphemeral(channel="C1", user="U1", text="psst")["message_ts"]


def test_history_newest_first_with_metadata_only_on_request(slack: FakeSlack) -> None:
    web = client(slack)
    meta = {"event_type": "pm_digest", "event_payload": {"week": 3}}
    t1 = web.chat_postMessage(channel="C1", text="one", metadata=meta)["ts"]
    t2 = slack.add_message("C1", "two", user="U1")
    t3 = web.chat_postMessage(channel="C1", text="three")["ts"]
    web.chat_postMessage(channel="C1", text="reply", thread_ts=t1)

    plain = web.conversations_history(channel="C1")
    assert [m["ts"] for m in plain["messages"]] == [t3, t2, t1]  # replies stay in their thread
    assert all("metadata" not in m for m in plain["messages"])

    full = web.conversations_history(channel="C1", include_all_metadata=True, limit=2)
    assert [m["ts"] for m in full["messages"]] == [t3, t2]
    assert full["has_more"] is True
    call = slack.calls_to("conversations.history")[-1]
    assert call.params["include_all_metadata"] in ("1", "true", True)
    assert call.params["limit"] == "2"
    assert call.verb == "POST"  # the sync WebClient POSTs every method, reads included

    old = web.conversations_history(channel="C1", include_all_metadata=True, latest=t2)["messages"]
    assert [m["ts"] for m in old] == [t1]
    assert old[0]["metadata"] == meta
    assert old[0]["reply_count"] == 1
    assert [m["ts"] for m in web.conversations_history(channel="C1", oldest=t2)["messages"]] == [t3]

    thread = web.conversations_replies(channel="C1", ts=t1)["messages"]
    assert [m["text"] for m in thread] == ["one", "reply"]
    assert thread[1]["thread_ts"] == t1


def test_views(slack: FakeSlack) -> None:
    web = client(slack)
    view = {
        "type": "modal",
        "callback_id": "cr_new",
        "title": {"type": "plain_text", "text": "New change request"},
        "blocks": [],
    }
    opened = web.views_open(trigger_id="123.456", view=view)["view"]
    assert opened["id"].startswith("V") and opened["hash"]
    assert slack.calls_to("views.open")[0].params["view"]["callback_id"] == "cr_new"
    updated = web.views_update(view_id=opened["id"], view={**view, "private_metadata": "42"})["view"]
    assert updated["id"] == opened["id"] and slack.views[opened["id"]]["private_metadata"] == "42"
    too_long = {**view, "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError) as err:
        web.views_open(trigger_id="123.456", view=too_long)
    assert err.value.response["error"] == "invalid_arguments"
    home = web.views_publish(user_id="U1", view={"type": "home", "blocks": []})["view"]
    assert slack.home_views["U1"]["id"] == home["id"]


def test_files_upload_v2_end_to_end(slack: FakeSlack) -> None:
    resp = client(slack).files_upload_v2(
        channel="C1",
        filename="digest.csv",
        title="Weekly digest",
        content=b"a,b\n1,2\n",
        initial_comment="Here it is",
    )
    assert resp["file"]["id"].startswith("F")
    assert slack.uploaded_files() == [("digest.csv", b"a,b\n1,2\n")]
    [complete] = slack.calls_to("files.completeUploadExternal")
    assert complete.params["files"][0]["title"] == "Weekly digest"
    assert complete.params["channel_id"] == "C1"
    assert slack.completed_uploads[0]["initial_comment"] == "Here it is"
    assert [c.method for c in slack.calls] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]


def test_rate_limit_is_retried(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=0)
    web = client(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert web.chat_postMessage(channel="C1", text="hi")["ok"] is True
    calls = slack.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].response == {"ok": False, "error": "ratelimited"}


def test_rate_limit_without_retry_handler_fails(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=7, times=2)
    web = client(slack)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            web.chat_postMessage(channel="C1", text="hi")
        assert err.value.response.status_code == 429
        assert err.value.response.headers["Retry-After"] in ("7", ["7"])
    assert web.chat_postMessage(channel="C1", text="hi")["ok"] is True


def test_error_and_server_faults(slack: FakeSlack) -> None:
    web = client(slack)
    slack.fail("users.info", error="account_inactive")
    with pytest.raises(SlackApiError) as err:
        web.users_info(user="U1")
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "account_inactive"
    slack.fail("auth.test", status=503)
    with pytest.raises(SlackApiError) as err5:
        web.auth_test()
    assert err5.value.response.status_code == 503
    assert err5.value.response["error"] == "internal_error"
    assert web.auth_test()["user_id"] == "UBOT"


def test_delay_makes_client_time_out(slack: FakeSlack) -> None:
    slack.delay("chat.postMessage", 1.5)
    web = client(slack, timeout=1)
    with pytest.raises(TimeoutError):
        web.chat_postMessage(channel="C1", text="slow")
    assert web.chat_postMessage(channel="C1", text="fast")["ok"] is True


def test_not_authed_without_token(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=slack.url).chat_postMessage(channel="C1", text="x")
    assert err.value.response["error"] == "not_authed"


def test_unknown_methods_answer_ok(slack: FakeSlack) -> None:
    assert client(slack).api_call("bookmarks.add", params={"channel_id": "C1"})["ok"] is True
    assert slack.calls_to("bookmarks.add")[0].params == {"channel_id": "C1"}


def test_wait_for_blocks_until_recorded_and_times_out_with_listing(slack: FakeSlack) -> None:
    web = client(slack)
    web.auth_test()
    timer = threading.Timer(0.2, lambda: web.chat_postMessage(channel="C1", text="late"))
    timer.start()
    try:
        assert len(slack.wait_for("chat.postMessage", timeout=5)) == 1
    finally:
        timer.join()
    with pytest.raises(AssertionError, match=r"auth\.test\[200\], chat\.postMessage\[200\]"):
        slack.wait_for("chat.postMessage", count=2, timeout=0.2)
    slack.reset()
    assert slack.calls == []


def test_response_url_is_recorded(slack: FakeSlack) -> None:
    url = slack.response_url("cmd1")
    resp = WebhookClient(url).send(text="done", response_type="ephemeral", replace_original=False)
    assert (resp.status_code, resp.body) == (200, "ok")
    [call] = slack.wait_for("response_url")
    assert call.params["_name"] == "cmd1"
    assert call.params["text"] == "done"
    assert call.params["replace_original"] is False


# ---------------------------------------------------------------------------- payloads


def test_sign_verifies_with_slack_sdk() -> None:
    body, headers = p.slash_command("/pm", "risk add", user=p.team_user("U1"), response_url="http://x/r")
    verifier = SignatureVerifier(p.SIGNING_SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + "x", headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    stale = p.sign(body, timestamp=int(time.time()) - 3600)
    assert not verifier.is_valid_request(body, stale)
    assert p.sign("{}")["Content-Type"] == "application/json"


def test_slash_command_fields() -> None:
    body, _ = p.slash_command(
        "/pm",
        "cr new & more",
        user=p.external_user("U9", name="bob"),
        response_url="http://x/r",
        trigger_id="1.2.3",
        enterprise_id="E1",
    )
    fields = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    assert list(fields) == [
        "token",
        "team_id",
        "team_domain",
        "enterprise_id",
        "enterprise_name",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert fields["team_id"] == "T0TEAM"  # the workspace where it ran, not the user's
    assert (fields["user_id"], fields["user_name"], fields["text"]) == ("U9", "bob", "cr new & more")


def test_block_actions_parses_into_bolt_request() -> None:
    body, headers = p.block_actions(
        "cr_approve",
        "42",
        user=p.external_user("U9"),
        message_ts="1700000000.000100",
        response_url="http://x/r",
    )
    req = BoltRequest(body=body, headers=headers)
    assert req.body["type"] == "block_actions"
    assert req.context.user_id == "U9"
    assert req.context.team_id == "T0TEAM"
    assert req.context.channel_id == "C0CLIENT"
    assert req.body["user"]["team_id"] == "T0EXT"
    action = req.body["actions"][0]
    assert (action["action_id"], action["value"], action["type"]) == ("cr_approve", "42", "button")
    assert action["text"]["type"] == "plain_text"
    assert req.body["container"] == {
        "type": "message",
        "message_ts": "1700000000.000100",
        "channel_id": "C0CLIENT",
        "is_ephemeral": False,
    }
    assert req.body["message"]["ts"] == "1700000000.000100"
    assert req.body["response_url"] == "http://x/r"


def test_block_actions_select_and_view_container() -> None:
    body, headers = p.block_actions(
        "status",
        user=p.team_user("U1"),
        action_type="static_select",
        selected_option="done",
        view={"id": "V1", "callback_id": "cr_edit", "private_metadata": "7"},
    )
    payload = BoltRequest(body=body, headers=headers).body
    assert payload["container"] == {"type": "view", "view_id": "V1"}
    assert "channel" not in payload and "response_url" not in payload
    assert payload["view"]["callback_id"] == "cr_edit"
    assert payload["view"]["state"] == {"values": {}}
    action = payload["actions"][0]
    assert action["selected_option"]["value"] == "done"
    assert "value" not in action

    _, _ = users_body = p.block_actions("owner", "U5", user=p.team_user("U1"), action_type="users_select")
    assert json.loads(parse_qs(users_body[0])["payload"][0])["actions"][0]["selected_user"] == "U5"


def test_view_submission_state_values() -> None:
    values = {
        "title": {"v": p.plain_text("Add SSO")},
        "prio": {"v": p.static_select("high", "High")},
        "who": {"v": p.multi_users(["U1", "U2"])},
        "due": {"v": p.datepicker("2025-01-31")},
        "at": {"v": p.timepicker("09:30")},
        "est": {"v": p.number(3)},
        "opts": {"v": p.checkboxes(["a", ("b", "Bee")])},
        "ch": {"v": p.conversations_select("C1")},
    }
    body, headers = p.view_submission("cr_new", values, user=p.external_user("U9"), private_metadata='{"c":"C1"}')
    req = BoltRequest(body=body, headers=headers)
    view = req.body["view"]
    assert req.body["type"] == "view_submission"
    assert req.body["user"] == {"id": "U9", "username": "u9", "name": "u9", "team_id": "T0EXT"}
    assert req.context.team_id == "T0TEAM"
    assert (view["callback_id"], view["type"], view["private_metadata"]) == ("cr_new", "modal", '{"c":"C1"}')
    state = view["state"]["values"]
    assert state["title"]["v"] == {"type": "plain_text_input", "value": "Add SSO"}
    assert state["prio"]["v"]["selected_option"]["value"] == "high"
    assert state["who"]["v"]["selected_users"] == ["U1", "U2"]
    assert state["est"]["v"] == {"type": "number_input", "value": "3"}
    assert [o["value"] for o in state["opts"]["v"]["selected_options"]] == ["a", "b"]
    assert req.body["response_urls"] == []


def test_event_callback_shapes() -> None:
    body, headers = p.app_home_opened(p.team_user("U1"))
    assert headers["Content-Type"] == "application/json"
    req = BoltRequest(body=body, headers=headers)
    assert req.body["type"] == "event_callback"
    assert req.body["event"]["type"] == "app_home_opened"
    assert req.body["authorizations"][0]["user_id"] == "UBOT"
    assert req.context.user_id == "U1"
    assert json.loads(p.url_verification("abc")[0])["challenge"] == "abc"


# ---------------------------------------------------------------------------- together, through Bolt


class _BoltHTTP(BaseHTTPRequestHandler):
    """The smallest HTTP adapter for a Bolt app: enough to exercise payloads.post()."""

    app: App

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        resp = self.app.dispatch(BoltRequest(body=body, headers={k: v for k, v in self.headers.items()}))
        data = resp.body.encode()
        self.send_response(resp.status)
        for key, values in resp.headers.items():
            for value in values:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_bolt_app_round_trip(slack: FakeSlack) -> None:
    app = App(
        client=client(slack),
        signing_secret=p.SIGNING_SECRET,
        process_before_response=True,
    )
    assert slack.calls_to("auth.test"), "Bolt checks the token with auth.test at start"
    seen: dict[str, Any] = {}

    @app.command("/pm")
    def on_command(ack: Any, command: dict[str, Any], respond: Any) -> None:
        ack()
        respond(f"got {command['text']}")

    @app.action("cr_approve")
    def on_action(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        seen["action_user"] = body["user"]["id"]
        client.chat_postMessage(channel=body["channel"]["id"], text="approved")

    @app.view("cr_new")
    def on_view(ack: Any, view: dict[str, Any]) -> None:
        seen["title"] = view["state"]["values"]["title"]["v"]["value"]
        ack()

    handler = type("H", (_BoltHTTP,), {"app": app})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        user = p.team_user("U1")
        resp = p.post(base, *p.slash_command("/pm", "hello", user=user, response_url=slack.response_url()))
        assert resp.status_code == 200
        assert slack.wait_for("response_url")[0].params["text"] == "got hello"

        resp = p.post(base, *p.block_actions("cr_approve", "1", user=user, message_ts="1700000000.000100"))
        assert resp.status_code == 200
        assert slack.wait_for("chat.postMessage")[0].params["text"] == "approved"
        assert seen["action_user"] == "U1"

        values = {"title": {"v": p.plain_text("SSO")}}
        resp = p.post(base, *p.view_submission("cr_new", values, user=user))
        assert resp.status_code == 200
        assert seen["title"] == "SSO"

        body, headers = p.block_actions("cr_approve", user=user)
        resp = p.post(base, body, {**headers, "X-Slack-Signature": "v0=" + "0" * 64})
        assert resp.status_code == 401
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
