"""`pmbot run | migrate | demo | digest | remind | export | outbox | backup`, `pmbot --version` (SPEC §5).

`digest` and `remind` run the same flows as the scheduler's tick, now; they build their
dependencies directly (no Bolt app is needed to send).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from sqlalchemy.exc import OperationalError

from bot.config import ConfigError, Settings, load_settings, require_slack

log = logging.getLogger("bot")


def _setup_logging(settings: Settings) -> None:
    from bot.logs import setup_logging

    setup_logging(settings.log_level, settings.log_format)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.db import make_engine
    from bot.migrate import upgrade

    engine = make_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    upgrade(engine)
    print("The database schema is up to date.")
    return 0


def cmd_run(settings: Settings, _args: argparse.Namespace) -> int:
    require_slack(settings)
    from bot.runner import run

    return run(settings)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return run_demo(settings, out_dir=args.out, language=args.language)


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd, Kubernetes, a timeout wrapper) ends the run after the message under
    way, instead of in the middle of it: nothing is left claimed, the rest stays queued."""
    from bot.shutdown import request_stop

    signal.signal(signal.SIGTERM, lambda _signum, _frame: request_stop())


def _report_stop(deps=None) -> None:
    from bot.shutdown import stop_requested

    if stop_requested():
        print("Stopped on SIGTERM; the next run sends what is left.", file=sys.stderr)
    if deps is not None:
        _report_claims(deps)


def _report_claims(deps) -> None:
    """Messages another live process is sending right now: said, with their keys and ages, so a
    run that sent nothing for them does not look as if it had forgotten them."""
    from bot.db import session_scope
    from bot.flows.delivery import claim_timeout
    from bot.services import outbox

    now = deps.clock.now()
    with session_scope(deps.engine) as session:
        held = outbox.claims_in_flight(session, now=now, claim_timeout=claim_timeout(deps))
    for row in held:
        age = int((now - row.claimed_at).total_seconds()) if row.claimed_at else 0
        print(f"being sent by another process ({row.claimed_by}, claimed {age} s ago): {row.key}", file=sys.stderr)


def _deps(settings: Settings):
    from bot.db import make_engine
    from bot.deps import build_deps
    from bot.migrate import upgrade

    require_slack(settings)
    engine = make_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    upgrade(engine)
    return build_deps(settings, engine)


def cmd_digest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.blocks.terminal import render
    from bot.flows.digest import run_due

    dry_run = args.dry_run
    _stop_on_sigterm()
    deps = _deps(settings)
    report = run_due(deps, project_name=args.project, dry_run=dry_run)
    _report_stop(deps)
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
    deps = _deps(settings)
    report = send_reminders(deps, dry_run=args.dry_run)
    _report_stop(deps)
    for user, keys in report.sent.items():
        print(f"{'would remind' if args.dry_run else 'reminded'} {user}: {', '.join(keys)}")
        if args.dry_run:
            print(render(report.messages[user]["blocks"]))
    if not report.sent:
        print("No reminder is due.")
    return 0


EXPORT_KINDS = ("requirements", "changes", "closeout")


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """`pmbot export requirements|changes|closeout --project NAME [--format md|csv] [--output FILE]`
    (the close-out report is Markdown only)."""
    from sqlmodel import select

    from bot.db import make_engine, session_scope
    from bot.models import Project
    from bot.services import export_changes, export_closeout, export_requirements

    if args.kind == "closeout" and args.format != "md":
        print("pmbot export: the close-out report exports as Markdown only (--format md).", file=sys.stderr)
        return 2
    render = {"requirements": export_requirements.render, "changes": export_changes.render,
              "closeout": export_closeout.render}[args.kind]
    engine = make_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
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


def cmd_outbox(settings: Settings, args: argparse.Namespace) -> int:
    """`pmbot outbox list` shows the messages that could not be sent (and the ones being sent
    now, by whom); `pmbot outbox retry [--key KEY]` queues the failed ones again."""
    from datetime import UTC, datetime

    from bot.db import make_engine, session_scope
    from bot.services import outbox

    engine = make_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        if args.action == "retry":
            count = outbox.requeue(session, now=now, key=args.key)
            print(f"Queued {count} message(s) again; the running bot (or `pmbot digest`) sends them.")
            return 0 if count or not args.key else 1
        failed = outbox.failed(session, key=args.key)
        held = outbox.claims_in_flight(session, now=now)
        for row in failed:
            print(f"failed   {row.key}  ({row.kind}, {row.attempts} attempt(s)): {row.last_error or '-'}")
        for row in held:
            age = int((now - row.claimed_at).total_seconds()) if row.claimed_at else 0
            print(f"sending  {row.key}  claimed by {row.claimed_by} {age} s ago")
        if not failed and not held:
            print("Nothing failed; nothing is being sent.")
    engine.dispose()
    return 0


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    """`pmbot backup FILE`: an online copy of the SQLite database (PostgreSQL: pg_dump)."""
    from bot.backup import BackupError, backup

    try:
        written = backup(settings.database_url, args.file)
    except BackupError as err:
        print(f"pmbot backup: {err}", file=sys.stderr)
        return 2
    print(f"Backed up the database to {written}")
    return 0


def package_version() -> str:
    """The installed package's version (pyproject.toml is its one source)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pmbot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmbot", description="PM Bot for Slack")
    parser.add_argument("--version", action="version", version=f"pmbot {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="start the bot and its scheduler").set_defaults(func=cmd_run)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(func=cmd_migrate)
    demo = sub.add_parser("demo", help="offline demo on the embedded database, without Slack")
    demo.add_argument("--out", default="demo-output", help="folder for the Block Kit JSON files")
    demo.add_argument("--language", default="en", choices=("en", "zh-CN"),  # issue 17
                      help="the demo's language, sample data included (en or zh-CN)")
    demo.set_defaults(func=cmd_demo)
    digest = sub.add_parser("digest", help="post this week's due digests now (idempotent)")
    digest.add_argument("--project", help="only this project (by name)")
    digest.add_argument("--dry-run", action="store_true", help="show what would be posted")
    digest.set_defaults(func=cmd_digest)
    remind = sub.add_parser("remind", help="send due reminders now (idempotent within the day)")
    remind.add_argument("--dry-run", action="store_true", help="show what would be sent")
    remind.set_defaults(func=cmd_remind)
    export = sub.add_parser("export", help="write a project's requirements document, change log or close-out report")
    export.add_argument("kind", choices=EXPORT_KINDS)
    export.add_argument("--project", required=True, help="the project's name")
    export.add_argument("--format", choices=("md", "csv"), default="md")
    export.add_argument("--output", help="write to this file instead of standard output")
    export.set_defaults(func=cmd_export)
    box = sub.add_parser("outbox", help="list the messages Slack refused, or queue them again")
    box.add_argument("action", choices=("list", "retry"))
    box.add_argument("--key", help="only the message with this outbox key")
    box.set_defaults(func=cmd_outbox)
    backup = sub.add_parser("backup", help="copy the SQLite database to FILE while the bot runs")
    backup.add_argument("file", metavar="FILE", help="where to write the copy (replaced if it exists)")
    backup.set_defaults(func=cmd_backup)
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
    except OperationalError as err:  # `pmbot migrate`, `digest` …: the database is away
        from bot.health import one_line

        print(f"pmbot: the database does not answer ({one_line(err)})", file=sys.stderr)
        return 1
