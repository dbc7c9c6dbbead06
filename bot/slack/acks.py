"""The answer goes out the moment a listener calls ack(): no polling.

With `process_before_response=False` Bolt runs a listener in its executor and the dispatching
thread waits for `ack()` by polling `ack.response` every 10 ms (`ThreadListenerRunner.run`), so
every request was answered up to 10 ms after its listener acknowledged it (5 ms on average,
bench/ack_latency.py; issue 13). `EventAck` is Bolt's `Ack` whose response, once set, wakes the
waiting thread at once; `EventListenerRunner` waits for it on a `threading.Event`. Everything
else (start/completion/error handlers, lazy listeners, `process_before_response=True`) is
Bolt's own code, unchanged.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from slack_bolt import App
from slack_bolt.context.ack import Ack
from slack_bolt.listener import Listener
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.logger.messages import warning_did_not_call_ack
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse


class EventAck(Ack):
    """Bolt's ack(), telling a waiting thread when a response is set (by ack() or by Bolt's
    error handling, which assigns `ack.response` directly)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        super().__init__()

    @property  # type: ignore[override]
    def response(self) -> BoltResponse | None:
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        self._response = value
        if value is not None:
            self.done.set()


class EventListenerRunner(ThreadListenerRunner):
    """`ThreadListenerRunner` whose wait for ack() is an Event, not a 10 ms poll."""

    def run(self, request: BoltRequest, response: BoltResponse | None, listener_name: str, listener: Listener,
            starting_time: float | None = None) -> BoltResponse | None:
        if self.process_before_response or request.lazy_only or listener.lazy_functions:
            return super().run(request, response, listener_name, listener, starting_time)
        current = request.context.get("ack")
        if current is not None and current.response is not None:
            return super().run(request, response, listener_name, listener, starting_time)
        ack = EventAck()
        request.context["ack"] = ack
        starting_time = starting_time if starting_time is not None else time.time()
        if listener.auto_acknowledgement:
            ack()  # acknowledge at once (Events API), as Bolt does

        def run_ack_function_asynchronously() -> None:  # Bolt's own, as in ThreadListenerRunner.run
            nonlocal response
            try:
                self.listener_start_handler.handle(request=request, response=response)
                listener.run_ack_function(request=request, response=response)
            except Exception as e:
                if listener.auto_acknowledgement:
                    self.listener_error_handler.handle(error=e, request=request, response=response)
                else:
                    if response is None:
                        response = BoltResponse(status=500)
                    response.status = 500
                    if ack.response is not None:  # already acknowledged
                        response = None
                    self.listener_error_handler.handle(error=e, request=request, response=response)
                    ack.response = response
            finally:
                self.listener_completion_handler.handle(request=request, response=response)

        self.listener_executor.submit(run_ack_function_asynchronously)
        ack.done.wait(max(0.0, listener.ack_timeout - (time.time() - starting_time)))
        if response is None and ack.response is None:
            self.logger.warning(warning_did_not_call_ack(listener_name))
            return None
        if response is None:
            return ack.response
        return response


def use_event_acks(app: App) -> App:
    """Give `app` the runner above (same logger, handlers and executor as Bolt's own)."""
    old: Any = app.listener_runner
    app._listener_runner = EventListenerRunner(  # type: ignore[attr-defined]
        logger=old.logger, process_before_response=old.process_before_response,
        listener_error_handler=old.listener_error_handler, listener_start_handler=old.listener_start_handler,
        listener_completion_handler=old.listener_completion_handler, listener_executor=old.listener_executor,
        lazy_listener_runner=old.lazy_listener_runner,
    )
    return app
