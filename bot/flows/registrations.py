"""Every live message and after-send hook, registered explicitly by the module that owns it."""

from __future__ import annotations

from bot.flows.messages import Registry
from bot.flows.outbox_keys import Kind, TargetKind


def register_all(reg: Registry) -> None:
    from bot.flows import changes, digest, feedback, projects, requirements

    # Messages drawn from their record whenever they are posted or updated.
    live = {
        TargetKind.requirement: requirements.render_confirmation,
        TargetKind.change: changes.draw_approval,
        TargetKind.change_notice: changes.draw_notice,
        TargetKind.intake: projects.render_intake,
        TargetKind.prompt: feedback.draw_prompt,
        TargetKind.follow_up: feedback.draw_follow_up,
    }
    # What the domain records once a message of a kind is in Slack (in the sender's transaction).
    after_sent = {
        Kind.digest: digest.mark_posted,
        Kind.preview: digest.mark_preview,
        Kind.req_confirm: requirements.record_confirmation,
        Kind.cr_approval: changes.record_approval_message,
        Kind.intake: projects.record_intake,
        Kind.feedback_prompt: feedback.record_prompt_message,
    }
    # Milestone acceptance (验收): the delivery in the client channel, and where it was posted.
    from bot.flows import acceptance

    live[TargetKind.acceptance] = acceptance.render_request
    after_sent[Kind.acc_request] = acceptance.record_request
    for target, render in live.items():
        reg.add_live(target, render)
    for kind, hook in after_sent.items():
        reg.add_after_sent(kind, hook)
    reg.add_after_posted(Kind.intake, projects.pin_intake)  # pinning calls Slack: after the commit

    # Client items (issue 15): the item in the client channel, drawn from its record.
    from bot.flows import client_items

    reg.add_live(TargetKind.client_item, client_items.render_item)
    reg.add_after_sent(Kind.client_item, client_items.record_item)
    # digest chart: the chart is drawn when it is uploaded; the digest shows the uploaded file
    from bot.flows import digest_charts

    reg.add_prepare(Kind.digest_chart, digest_charts.draw_chart)
    reg.add_prepare(Kind.digest, digest_charts.attach_chart)
