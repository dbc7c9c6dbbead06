"""Every live message and after-send hook, registered explicitly by the module that owns it."""

from __future__ import annotations

from bot.flows.messages import Registry
from bot.flows.outbox_keys import Kind, TargetKind


def register_all(reg: Registry) -> None:
    from bot.flows import feedback, requirements
    from bot.handlers import changes, project
    from bot.jobs import weekly_digest

    reg.add_after_sent(Kind.digest, weekly_digest.mark_posted)
    reg.add_after_sent(Kind.preview, weekly_digest.mark_preview)
    reg.add_live(TargetKind.requirement, requirements.render_confirmation)
    reg.add_after_sent(Kind.req_confirm, requirements.record_confirmation)
    reg.add_after_sent(Kind.intake, project.record_intake)
    reg.add_after_sent(Kind.cr_approval, changes.record_approval_message)
    reg.add_after_sent(Kind.feedback_prompt, feedback.record_prompt_message)
    reg.add_live(TargetKind.prompt, feedback.draw_prompt)
    reg.add_live(TargetKind.follow_up, feedback.draw_follow_up)
