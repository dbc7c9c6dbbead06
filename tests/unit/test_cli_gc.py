"""`pmbot run` keeps what start-up built out of the garbage collector's full passes (gc.freeze),
which otherwise paused every thread for ~30-45 ms now and then under traffic."""

from __future__ import annotations

import argparse
import gc
import signal

import uvicorn

from bot import cli


def test_pmbot_run_freezes_start_up_objects_before_serving(settings, monkeypatch):
    frozen_when_serving: list[int] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_a, **_k: frozen_when_serving.append(gc.get_freeze_count()))
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    gc.unfreeze()
    try:
        assert cli.cmd_run(settings, argparse.Namespace()) == 0
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert frozen_when_serving and frozen_when_serving[0] > 10_000
