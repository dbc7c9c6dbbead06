"""Every live message and after-send hook, registered explicitly by the module that owns it."""

from __future__ import annotations

from bot.flows.messages import Registry
from bot.flows.outbox_keys import Kind, TargetKind


def register_all(reg: Registry) -> None:
    from bot.flows import changes
    from bot.handlers import project, requirements
    from bot.jobs import weekly_digest
    from bot.slack import feedback_prompts

    reg.add_after_sent(Kind.digest, weekly_digest.mark_posted)
    reg.add_after_sent(Kind.preview, weekly_digest.mark_preview)
    reg.add_after_sent(Kind.req_confirm, requirements.record_confirmation)
    reg.add_after_sent(Kind.intake, project.record_intake)
    reg.add_live(TargetKind.change, changes.draw_approval)
    reg.add_live(TargetKind.change_notice, changes.draw_notice)
    reg.add_after_sent(Kind.cr_approval, changes.record_approval_message)
    reg.add_after_sent(Kind.feedback_prompt, feedback_prompts.record_prompt_message)
