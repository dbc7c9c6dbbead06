"""CLI verbs `pmbot digest` and `pmbot remind`: the same jobs as the scheduler, run now."""

from __future__ import annotations

import signal
import sys

from bot.config import Settings, require_slack
from bot.shutdown import request_stop, stop_requested


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd, Kubernetes, a timeout wrapper) ends the run after the message under
    way, instead of in the middle of it: nothing is left claimed, the rest stays queued."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: request_stop())


def _report_stop() -> None:
    if stop_requested():
        print("Stopped on SIGTERM; the next run sends what is left.", file=sys.stderr)


def _deps(settings: Settings):
    from bot.app import create_app, deps_of
    from bot.db import make_engine
    from bot.migrate import upgrade

    require_slack(settings)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return deps_of(create_app(settings, engine=engine))


def digest_command(settings: Settings, *, project: str | None, dry_run: bool) -> int:
    from bot.blocks.terminal import render
    from bot.jobs.weekly_digest import run_digests

    _stop_on_sigterm()
    report = run_digests(_deps(settings), project_name=project, dry_run=dry_run)
    _report_stop()
    for key in report.resumed:
        print(f"resumed (queued by an earlier run): {key}")
    for name, week in report.posted:
        print(f"{'would post' if dry_run else 'posted'}: {name} ({week})")
    for name, week in report.asked_pm:
        print(f"{'would ask' if dry_run else 'asked'} the PM first (more than a day late): {name} ({week})")
    for name, week in report.waiting_for_approval:
        print(f"waiting for the PM's approval: {name} ({week})")
    if dry_run:
        for msg in report.messages:
            print(f"\n--- to {msg['channel']} ---\n{render(msg['blocks'])}")
    if not (report.posted or report.asked_pm or report.waiting_for_approval or report.resumed):
        print("No digest is due.")
    return 0


def remind_command(settings: Settings, *, dry_run: bool) -> int:
    from bot.blocks.terminal import render
    from bot.jobs.reminders import run_reminders

    _stop_on_sigterm()
    report = run_reminders(_deps(settings), dry_run=dry_run)
    _report_stop()
    for user, keys in report.sent.items():
        print(f"{'would remind' if dry_run else 'reminded'} {user}: {', '.join(keys)}")
        if dry_run:
            print(render(report.messages[user]["blocks"]))
    if not report.sent:
        print("No reminder is due.")
    return 0


