"""Every live message and after-send hook, registered explicitly by the module that owns it."""

from __future__ import annotations

from bot.flows.messages import Registry
from bot.flows.outbox_keys import Kind, TargetKind


def register_all(reg: Registry) -> None:
    from bot.flows import changes, digest, feedback, projects, requirements

    reg.add_after_sent(Kind.digest, digest.mark_posted)
    reg.add_after_sent(Kind.preview, digest.mark_preview)
    reg.add_live(TargetKind.requirement, requirements.render_confirmation)
    reg.add_after_sent(Kind.req_confirm, requirements.record_confirmation)
    reg.add_live(TargetKind.intake, projects.render_intake)
    reg.add_after_sent(Kind.intake, projects.record_intake)
    reg.add_after_posted(Kind.intake, projects.pin_intake)
    reg.add_live(TargetKind.change, changes.draw_approval)
    reg.add_live(TargetKind.change_notice, changes.draw_notice)
    reg.add_after_sent(Kind.cr_approval, changes.record_approval_message)
    reg.add_after_sent(Kind.feedback_prompt, feedback.record_prompt_message)
    reg.add_live(TargetKind.prompt, feedback.draw_prompt)
    reg.add_live(TargetKind.follow_up, feedback.draw_follow_up)
