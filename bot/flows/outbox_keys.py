"""Every kind of message the bot owes Slack, and its outbox key: built and parsed here only.

A key makes a message unique (enqueueing it twice queues it once); its first part names the
kind. `parse` turns any key back into its kind and parts, so no caller splits keys by hand.

A *target* names a bot message that lives on and is updated in place (a confirmation request,
an approval request, the intake message, a follow-up): "req:12". Updates of a target are
rendered from the record when they are sent, and a newer one supersedes an older one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """Outbox `kind` values (stored; do not rename)."""

    digest = "digest"
    digest_late = "digest_late"
    preview = "preview"
    reminder = "reminder"
    nudge = "nudge"
    escalation = "escalation"
    intake = "intake"
    req_confirm = "req_confirm"
    req_update = "req_confirm_update"
    req_notice = "req_notice"
    cr_notice = "cr_notice"
    cr_approval = "cr_approval"
    cr_update = "cr_update"
    feedback_prompt = "feedback_prompt"
    follow_up = "feedback_follow_up"
    notice = "notice"  # a one-off message to a person or a channel (DM, "PM is told")
    update = "update"  # an in-place update of a target, rendered at send time
    undelivered = "undelivered"  # the PM is told what could not be sent, and why
    client_item = "client_item"  # a client item posted in the client channel (issue 15)
    # Milestone acceptance
    acc_request = "acc_request"  # the delivery posted to the client channel (a live message)
    acc_notice = "acc_notice"  # the team is told of the client's answer (internal channel)
    acc_auto_notice = "acc_auto_notice"  # the request's thread: accepted automatically tomorrow
    # capture from the conversation (issue 14)
    capture_receipt = "capture_receipt"  # "Captured as REQ-12: …" in the message's thread
    capture_reaction = "capture_reaction"  # :white_check_mark: on the captured message
    # reports (issue 16)
    monthly_report = "monthly_report"
    closeout = "closeout"
    digest_chart = "digest_chart"  # digest chart: the week's chart, uploaded before the digest that shows it


class TargetKind(StrEnum):
    requirement = "req"
    change = "cr"
    change_notice = "crn"  # the team's notice of a new change request
    intake = "intake"
    follow_up = "fu"
    prompt = "prompt"
    client_item = "ci"  # issue 15
    acceptance = "acc"  # a milestone's delivery, sent for acceptance


@dataclass(frozen=True)
class Target:
    """A bot message that is updated in place, named by the record it shows."""

    kind: TargetKind
    id: int

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


def target(kind: TargetKind, record_id: int) -> str:
    return str(Target(kind, record_id))


def parse_target(value: str | None) -> Target | None:
    if not value or ":" not in value:
        return None
    kind, _, rest = value.partition(":")
    try:
        return Target(TargetKind(kind), int(rest))
    except ValueError:
        return None


@dataclass(frozen=True)
class Key:
    """A parsed key: its prefix and the parts after it (strings, as stored)."""

    prefix: str
    parts: tuple[str, ...]

    def int_part(self, n: int) -> int | None:
        value = self.parts[n] if n < len(self.parts) else ""
        return int(value) if value.isdigit() else None

    def part(self, n: int) -> str | None:
        return self.parts[n] if n < len(self.parts) else None


def parse(key: str) -> Key:
    prefix, *parts = key.split(":")
    return Key(prefix, tuple(parts))


def _join(*parts: object) -> str:
    return ":".join(str(p) for p in parts)


# Scheduled messages ------------------------------------------------------------------------

def digest(project_id: int, week: str, audience: str = "client") -> str:
    """`digest:12:2026-W47:client` (or `:internal`)."""
    return _join("digest", project_id, week, audience)


def digest_week(key: str) -> str | None:
    """The ISO week of a digest, preview or late-digest key."""
    return parse(key).part(1)


def digest_chart(project_id: int, week: str) -> str:
    """The week's chart upload, shown by the client and internal digests: `digest-chart:12:2026-W47`."""
    return _join("digest-chart", project_id, week)


def digest_late(project_id: int, week: str) -> str:
    return _join("digest-late", project_id, week)


def preview(project_id: int, week: str) -> str:
    return _join("preview", project_id, week)


def digest_sent_by(project_id: int, week: str) -> str:
    """The PM's note that someone else posted the week's digest (once per week)."""
    return _join("digest-sent-by", project_id, week)


def reminder(team_id: str, user_id: str, zone: str, day: str, start: str) -> str:
    """One reminder DM per person, time zone and local working day: `zone` is the projects'
    time zone, `day` the ISO date there and `start` the local time their reminders start
    ("0900"), so a PM with projects in Tokyo and New York gets each batch on its own day:
    `remind:T1:U1:Asia/Tokyo:2026-11-19:0900`."""
    return _join("remind", team_id, user_id, zone, day, start)


def nudge(item_kind: str, item_id: int) -> str:
    return _join("nudge", item_kind, item_id)


def escalation(item_kind: str, item_id: int) -> str:
    return _join("escalate", item_kind, item_id)


# Messages of a record ----------------------------------------------------------------------

def intake(project_id: int, channel_id: str) -> str:
    return _join("intake", project_id, channel_id)


def req_confirm(req_id: int, change: str) -> str:
    """The confirmation request for one sending of a requirement (`change`: its version once sent)."""
    return _join("req-confirm", req_id, change)


def req_notice(req_id: int, change: str) -> str:
    return _join("req-notice", req_id, change)


def cr_submitted(cr_id: int) -> str:
    return _join("cr-submitted", cr_id)


def cr_approval(cr_id: int) -> str:
    return _join("cr-approval", cr_id)


def cr_decided(cr_id: int) -> str:
    return _join("cr-decided", cr_id)


def feedback_prompt(project_id: int, after_prompt_id: int | None) -> str:
    """The prompt that follows prompt `after_prompt_id` (0: the first): never two in a row."""
    return _join("feedback-prompt", project_id, "after", after_prompt_id or 0)


def follow_up(follow_up_id: int) -> str:
    return _join("feedback-follow-up", follow_up_id)


def follow_up_news(follow_up_id: int, stamp: int) -> str:
    """A comment arrived on a response whose follow-up is open (`stamp`: its time in ms)."""
    return _join("feedback-follow-up", follow_up_id, "update", stamp)


def follow_up_resolved(follow_up_id: int) -> str:
    return _join("feedback-follow-up", follow_up_id, "resolved")


def undelivered(project_id: int, last_failed_id: int) -> str:
    """The PM's DM about messages that could not be sent, up to failed row `last_failed_id`."""
    return _join("undelivered", project_id, last_failed_id)


# Client items (issue 15) ------------------------------------------------------------------

def client_item(item_id: int) -> str:
    """The post of a client item in the client channel (once)."""
    return _join("client-item", item_id)


def client_nudge(item_id: int, due: str, n: int) -> str:
    """The `n`-th nudge of an overdue client item for its due date `due` (an extension starts
    the count again): `nudge:client:12:2026-11-20:1`."""
    return _join("nudge", "client", item_id, due, n)


def client_escalation(item_id: int, due: str) -> str:
    """The PM is told once per due date that a client item is overdue past the threshold."""
    return _join("escalate", "client", item_id, due)


def client_notice(item_id: int, version: int) -> str:
    """The team's note in the internal channel that the client acted on an item."""
    return _join("client-item-notice", item_id, version)
# Milestone acceptance ------------------------------------------------------------------------

def acc_request(acc_id: int, round_: int) -> str:
    """The delivery posted for acceptance, once per round (a request again is a new post)."""
    return _join("acc-request", acc_id, round_)


def acc_notice(acc_id: int, version: int) -> str:
    """The team's notice of the client's answer to one version of the request."""
    return _join("acc-notice", acc_id, version)


def acc_auto_notice(acc_id: int, round_: int) -> str:
    """The thread's notice that the request is accepted automatically the next working day."""
    return _join("acc-auto-notice", acc_id, round_)


def update(target_value: str) -> str:
    """An in-place update of a target; unique per update (its content is rendered at send time)."""
    return _join("update", target_value, secrets.token_hex(6))


def notice(*parts: object) -> str:
    """A one-off message; the caller names what makes it unique."""
    return _join("notice", *parts)


# Capture from the conversation (issue 14) ---------------------------------------------------

def capture_receipt(kind: str, record_id: int) -> str:
    """The receipt in the thread of the message a record was captured from (once per record)."""
    return _join("capture-receipt", kind, record_id)


def capture_reaction(channel_id: str, ts: str) -> str:
    """The bot's :white_check_mark: on a captured message (once per message, whatever the kinds)."""
    return _join("capture-reaction", channel_id, ts)
# Reports (issue 16) ------------------------------------------------------------------------

def monthly_report(project_id: int, month: str, audience: str = "client") -> str:
    """`monthly:12:2026-11:client` (or `:internal`): one report per project, month and audience."""
    return _join("monthly", project_id, month, audience)


def monthly_month(key: str) -> str | None:
    """The month ("2026-11") of a monthly report key."""
    parsed = parse(key)
    return parsed.part(1) if parsed.prefix == "monthly" else None


def closeout(project_id: int) -> str:
    """The close-out report of a project (once: a project closes once)."""
    return _join("closeout", project_id)


def closeout_prompt(project_id: int) -> str:
    """The final satisfaction prompt of a closed project (once, whatever the cooldown)."""
    return _join("closeout-prompt", project_id)
