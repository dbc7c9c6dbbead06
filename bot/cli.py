"""`pmbot run | migrate | demo | digest | remind | export` (SPEC §5).

`digest` and `remind` run the same flows as the scheduler's tick, now; they build their
dependencies directly (no Bolt app is needed to send).
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
from collections.abc import Sequence

from bot.config import ConfigError, Settings, load_settings, require_slack

log = logging.getLogger("bot")


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.db import make_engine
    from bot.migrate import upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    print("The database schema is up to date.")
    return 0


def _freeze_startup_objects(settings: Settings) -> None:
    """What start-up built (modules, the app, its listeners) lives as long as the process: keep
    it out of the garbage collector's full passes, which otherwise stopped every thread for
    ~30-45 ms now and then, one request in a hundred waiting behind it (bench/ack_latency.py)."""
    if not settings.socket_mode:  # the server's modules too
        import uvicorn  # noqa: F401

        import bot.web  # noqa: F401
    gc.collect()
    gc.freeze()


def cmd_run(settings: Settings, _args: argparse.Namespace) -> int:
    require_slack(settings)
    from bot.app import create_app, deps_of
    from bot.db import make_engine
    from bot.migrate import upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    app = create_app(settings, engine=engine)
    scheduler = None
    if settings.scheduler_enabled:
        from bot.jobs.scheduler import start_scheduler

        scheduler = start_scheduler(deps_of(app))
    _freeze_startup_objects(settings)
    try:
        if settings.socket_mode:
            return _run_socket_mode(app, settings)
        return _run_http(app, settings)
    finally:
        if scheduler is not None:
            from bot.shutdown import request_stop

            request_stop()  # a tick under way stops after the message it is sending
            scheduler.shutdown(wait=True)
        engine.dispose()


def _run_http(app: object, settings: Settings) -> int:
    import uvicorn

    from bot.shutdown import request_stop
    from bot.web import create_web_app

    log.info("PM Bot listening on port %s (POST /slack/events, GET /healthz)", settings.port)
    # uvicorn stops gracefully on SIGTERM/SIGINT: it finishes the requests under way first, then
    # raises the signal again for the handler it found. With this one, that lands back here
    # (instead of killing the process), so `cmd_run` stops the scheduler cleanly and exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: request_stop())
    uvicorn.run(create_web_app(app), host="0.0.0.0", port=settings.port,
                log_level=settings.log_level.lower(), timeout_graceful_shutdown=20)
    return 0


def _run_socket_mode(app: object, settings: Settings) -> int:
    from bot.slack.guard import socket_mode_handler

    handler = socket_mode_handler(app, settings.slack_app_token)  # the guard in front of dispatch

    def stop(_signum: int, _frame: object) -> None:
        log.info("stopping Socket Mode")
        handler.close()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    log.info("PM Bot connecting in Socket Mode")
    handler.start()
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return run_demo(settings, out_dir=args.out)


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd, Kubernetes, a timeout wrapper) ends the run after the message under
    way, instead of in the middle of it: nothing is left claimed, the rest stays queued."""
    from bot.shutdown import request_stop

    signal.signal(signal.SIGTERM, lambda _signum, _frame: request_stop())


def _report_stop() -> None:
    from bot.shutdown import stop_requested

    if stop_requested():
        print("Stopped on SIGTERM; the next run sends what is left.", file=sys.stderr)


def _deps(settings: Settings):
    from bot.db import make_engine
    from bot.deps import build_deps
    from bot.migrate import upgrade

    require_slack(settings)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return build_deps(settings, engine)


def cmd_digest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.blocks.terminal import render
    from bot.flows.digest import run_due

    dry_run = args.dry_run
    _stop_on_sigterm()
    report = run_due(_deps(settings), project_name=args.project, dry_run=dry_run)
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


def cmd_remind(settings: Settings, args: argparse.Namespace) -> int:
    from bot.blocks.terminal import render
    from bot.flows.reminders import send_reminders

    _stop_on_sigterm()
    report = send_reminders(_deps(settings), dry_run=args.dry_run)
    _report_stop()
    for user, keys in report.sent.items():
        print(f"{'would remind' if args.dry_run else 'reminded'} {user}: {', '.join(keys)}")
        if args.dry_run:
            print(render(report.messages[user]["blocks"]))
    if not report.sent:
        print("No reminder is due.")
    return 0


EXPORT_KINDS = ("requirements", "changes")


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """`pmbot export requirements|changes --project NAME [--format md|csv] [--output FILE]`."""
    from sqlmodel import select

    from bot.db import make_engine, session_scope
    from bot.models import Project
    from bot.services import export_changes, export_requirements

    render = {"requirements": export_requirements.render, "changes": export_changes.render}[args.kind]
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        found = list(session.exec(select(Project).where(Project.name == args.project)))
        if not found:
            print(f"pmbot export: no project called {args.project!r}.", file=sys.stderr)
            return 1
        if len(found) > 1:
            print(f"pmbot export: {len(found)} workspaces have a project called {args.project!r}.", file=sys.stderr)
            return 1
        content = render(session, found[0], args.format)
    engine.dispose()
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as fh:
            fh.write(content)
    else:
        sys.stdout.write(content)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmbot", description="PM Bot for Slack")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="start the bot and its scheduler").set_defaults(func=cmd_run)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(func=cmd_migrate)
    demo = sub.add_parser("demo", help="offline demo on the embedded database, without Slack")
    demo.add_argument("--out", default="demo-output", help="folder for the Block Kit JSON files")
    demo.set_defaults(func=cmd_demo)
    digest = sub.add_parser("digest", help="post this week's due digests now (idempotent)")
    digest.add_argument("--project", help="only this project (by name)")
    digest.add_argument("--dry-run", action="store_true", help="show what would be posted")
    digest.set_defaults(func=cmd_digest)
    remind = sub.add_parser("remind", help="send due reminders now (idempotent within the day)")
    remind.add_argument("--dry-run", action="store_true", help="show what would be sent")
    remind.set_defaults(func=cmd_remind)
    export = sub.add_parser("export", help="write a project's requirements document or change log")
    export.add_argument("kind", choices=EXPORT_KINDS)
    export.add_argument("--project", required=True, help="the project's name")
    export.add_argument("--format", choices=("md", "csv"), default="md")
    export.add_argument("--output", help="write to this file instead of standard output")
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        _setup_logging(settings)
        return int(args.func(settings, args) or 0)
    except ConfigError as err:
        print(str(err), file=sys.stderr)
        return 2
