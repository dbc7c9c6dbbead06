"""Slack I/O. Each module of this package (and of `commands/`) has a `register(app)`."""

from __future__ import annotations

import importlib
import pkgutil

from slack_bolt import App

_SKIP = {"common", "errors"}


def register_handlers(app: App) -> None:
    """Call `register(app)` of every handler module, in a stable order."""
    import bot.handlers as package

    for info in sorted(pkgutil.walk_packages(package.__path__, package.__name__ + "."), key=lambda i: i.name):
        if info.ispkg or info.name.rsplit(".", 1)[-1] in _SKIP:
            continue
        module = importlib.import_module(info.name)
        register = getattr(module, "register", None)
        if callable(register):
            register(app)
