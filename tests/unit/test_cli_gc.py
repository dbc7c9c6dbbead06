"""`pmbot run` keeps what start-up built out of the garbage collector's full passes (gc.freeze),
which otherwise paused every thread for ~30-45 ms now and then under traffic: frozen before the
first Slack request is let in."""

from __future__ import annotations

import argparse
import gc
import signal
import time

import uvicorn

from bot import cli
from bot.health import StartingFront


def test_pmbot_run_freezes_start_up_objects_before_serving(settings, monkeypatch):
    frozen_when_serving: list[int] = []
    hand_over = StartingFront.ready_with

    def ready_with(self, app):
        frozen_when_serving.append(gc.get_freeze_count())
        hand_over(self, app)

    def serve(_server, *_a, **_k):  # instead of serving: wait until start-up handed the app over
        deadline = time.monotonic() + 60
        while not frozen_when_serving and time.monotonic() < deadline:
            time.sleep(0.05)

    monkeypatch.setattr(StartingFront, "ready_with", ready_with)
    monkeypatch.setattr(uvicorn.Server, "run", serve)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    gc.unfreeze()
    try:
        assert cli.cmd_run(settings, argparse.Namespace()) == 0
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert frozen_when_serving and frozen_when_serving[0] > 10_000
