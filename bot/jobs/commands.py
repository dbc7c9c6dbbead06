"""CLI verbs `pmbot digest` and `pmbot remind`."""

from __future__ import annotations

import sys

from bot.config import Settings


def digest_command(settings: Settings, *, project: str | None, dry_run: bool) -> int:
    print("pmbot digest: the weekly digest is not built yet in this version (see the README's roadmap).",
          file=sys.stderr)
    return 2


def remind_command(settings: Settings, *, dry_run: bool) -> int:
    print("pmbot remind: reminders are not built yet in this version (see the README's roadmap).",
          file=sys.stderr)
    return 2
