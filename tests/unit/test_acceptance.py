"""Milestone acceptance rules that need no Slack: the transition table, the issues list, the
request form's checks and the auto-accept date (on the project's calendar)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.models import Acceptance, Project
from bot.services import acceptance
from bot.services.errors import ValidationFailed


def test_the_transition_table():
    assert acceptance.can("accept", "requested") and acceptance.can("report_issues", "requested")
    assert acceptance.can("request_again", "issues_reported")
    for action in ("accept", "report_issues", "auto_accept", "request_again"):
        assert not acceptance.can(action, "accepted")  # accepted is final
    assert not acceptance.can("request_again", "requested")


def test_issues_one_per_line_bullets_and_numbers_dropped():
    text = "- Logo blurry\n\n  2. Button colour\n• 第三个问题\n（4）退款按钮缺失\n* last  one  "
    assert acceptance.parse_issues(text) == ["Logo blurry", "Button colour", "第三个问题", "退款按钮缺失", "last one"]
    for bad in ("", "  \n - \n"):
        with pytest.raises(ValidationFailed) as err:
            acceptance.parse_issues(bad)
        assert err.value.errors["issues"][0] == "acceptance.error_issues_required"
    with pytest.raises(ValidationFailed):
        acceptance.parse_issues("\n".join(f"issue {n}" for n in range(acceptance.ISSUES_MAX + 1)))
    with pytest.raises(ValidationFailed) as err:
        acceptance.parse_issues("ok\n" + "x" * (acceptance.ISSUE_MAX + 1))
    assert err.value.errors["issues"] == ("acceptance.error_issue_too_long", {"n": 2, "max": acceptance.ISSUE_MAX})


@pytest.mark.parametrize("link", ["javascript:alert(1)", "https://a.example/<!channel>", "ftp://x", "https://a b",
                                  "https://x|y"])
def test_a_link_must_be_a_plain_web_address(link):
    with pytest.raises(ValidationFailed) as err:
        acceptance.validate(acceptance.RequestInput(delivery="Done", link=link))
    assert set(err.value.errors) == {"link"}


def test_a_delivery_is_required_and_a_link_optional():
    with pytest.raises(ValidationFailed) as err:
        acceptance.validate(acceptance.RequestInput(delivery="   "))
    assert set(err.value.errors) == {"delivery"}
    clean = acceptance.validate(acceptance.RequestInput(delivery=" Done ", link=" https://x.example/a?b=1 "))
    assert (clean.delivery, clean.link) == ("Done", "https://x.example/a?b=1")


def test_auto_accept_date_counts_working_days_of_the_project():
    project = Project(team_id="T", name="P", client_channel_id="C", pm_user_id="U", created_by="U",
                      timezone="Asia/Shanghai", auto_accept_after_days=3, holidays=["2026-11-23"])
    acc = Acceptance(project_id=1, milestone_id=1, requested_by="U",
                     requested_at=datetime(2026, 11, 18, 10, 0, tzinfo=UTC))  # Wednesday 18:00 in Shanghai
    # Thursday, Friday, (weekend, Monday a holiday) Tuesday: accepted Tuesday at the start of work
    assert acceptance.auto_accept_on(project, acc) == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    project.auto_accept_after_days = 0
    assert acceptance.auto_accept_on(project, acc) is None
