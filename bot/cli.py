"""`pmbot run | migrate | demo | digest | remind` (SPEC §5)."""

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


def cmd_digest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.jobs.commands import digest_command

    return digest_command(settings, project=args.project, dry_run=args.dry_run)


def cmd_remind(settings: Settings, args: argparse.Namespace) -> int:
    from bot.jobs.commands import remind_command

    return remind_command(settings, dry_run=args.dry_run)


EXPORT_KINDS = ("requirements", "changes")


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """`pmbot export requirements|changes --project NAME [--format md|csv] [--output FILE]`."""
    import importlib

    from sqlmodel import select

    from bot.db import make_engine, session_scope
    from bot.models import Project

    try:
        module = importlib.import_module(f"bot.services.export_{args.kind}")
    except ModuleNotFoundError:
        print(f"pmbot export: exporting {args.kind} is not available in this version.", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        found = list(session.exec(select(Project).where(Project.name == args.project)))
        if not found:
            print(f"pmbot export: no project called {args.project!r}.", file=sys.stderr)
            return 1
        if len(found) > 1:
            print(f"pmbot export: {len(found)} workspaces have a project called {args.project!r}.", file=sys.stderr)
            return 1
        content = module.render(session, found[0], args.format)
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
