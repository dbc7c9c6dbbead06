"""The one way to word a refusal (bot/handlers/common.py): a DomainError, its parameters escaped
for mrkdwn exactly once, plain where Slack shows plain text."""

from __future__ import annotations

from bot.handlers.common import domain_message, refused, refused_inline
from bot.i18n import t
from bot.services.errors import DomainError, NotFound, ValidationFailed


def test_parameters_are_escaped_once_for_mrkdwn():
    err = DomainError("project.error_already_closed", name="R&D <!channel>")
    text = refused(err, "en")["text"]
    assert "R&amp;D &lt;!channel&gt;" in text and "&amp;amp;" not in text
    assert refused(err, "en")["response_type"] == "ephemeral"


def test_about_names_the_record_first_in_each_language():
    err = NotFound("common.not_found")
    assert refused(err, "en", about="REQ-12")["text"] == "*REQ-12*: " + t("common.not_found", "en")
    assert domain_message(err, "zh-CN", about="REQ-12").startswith("*REQ-12*：")


def test_inline_refusals_are_plain_text_under_the_field():
    err = DomainError("project.error_already_closed", name="R&D")
    answer = refused_inline(err, "en", "block_name")
    assert answer["response_action"] == "errors"
    assert "R&D" in answer["errors"]["block_name"] and "&amp;" not in answer["errors"]["block_name"]


def test_a_validation_failure_puts_each_message_under_its_own_field():
    err = ValidationFailed({"title": ("common.error_too_long", {"max": 10}), "due": ("common.not_found", {})})
    answer = refused_inline(err, "en", "unused", {"title": "block_title"})
    assert answer["errors"] == {"block_title": t("common.error_too_long", "en", max=10),
                                "due": t("common.not_found", "en")}
