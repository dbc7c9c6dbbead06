"""The answer goes out the moment a listener calls ack(): no polling.

With `process_before_response=False` Bolt runs a listener in its executor and the dispatching
thread waits for `ack()` by polling `ack.response` every 10 ms (`ThreadListenerRunner.run`), so
every request was answered up to 10 ms after its listener acknowledged it (5 ms on average,
bench/ack_latency.py; issue 13). `EventAck` is Bolt's `Ack` whose response, once set, wakes the
waiting thread at once; `EventListenerRunner` waits for it on a `threading.Event`. Everything
else (start/completion/error handlers, lazy listeners, `process_before_response=True`) is
Bolt's own code, unchanged.

Over HTTP, `dispatch_here` runs Bolt's dispatch in a listener thread and the listener in that
same thread: the answer is handed to the event loop the moment ack() sets it, and the thread
goes on with the listener's work after ack. Before, the event loop handed the request to a
worker thread of its own pool, which handed the listener to a second thread and slept until the
ack: one thread, one wake-up and the pool's bookkeeping more per request (issue 13).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from slack_bolt import App
from slack_bolt.context.ack import Ack
from slack_bolt.listener import Listener
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.logger.messages import warning_did_not_call_ack
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

Answer = Callable[[BoltResponse], None]
# Set by `dispatch_here` while it dispatches: whom to hand the answer to when ack() is called.
_answer: ContextVar[Answer | None] = ContextVar("pmbot_answer", default=None)


class EventAck(Ack):
    """Bolt's ack(), telling a waiting thread when a response is set (by ack() or by Bolt's
    error handling, which assigns `ack.response` directly)."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.done = threading.Event()
        self.answer = answer
        super().__init__()

    @property  # type: ignore[override]
    def response(self) -> BoltResponse | None:
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        self._response = value
        if value is not None:
            self.done.set()
            if self.answer is not None:
                self.answer(value)


class EventListenerRunner(ThreadListenerRunner):
    """`ThreadListenerRunner` whose wait for ack() is an Event, not a 10 ms poll."""

    def run(self, request: BoltRequest, response: BoltResponse | None, listener_name: str, listener: Listener,
            starting_time: float | None = None) -> BoltResponse | None:
        if self.process_before_response or request.lazy_only or listener.lazy_functions:
            return super().run(request, response, listener_name, listener, starting_time)
        current = request.context.get("ack")
        if current is not None and current.response is not None:
            return super().run(request, response, listener_name, listener, starting_time)
        answer = _answer.get()
        ack = EventAck(answer)
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

        if answer is not None:  # dispatched by `dispatch_here`: the listener runs in this thread
            run_ack_function_asynchronously()
        else:
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


def dispatch_here(app: App, request: BoltRequest, answer: Answer) -> None:
    """`app.dispatch(request)` in this thread, its listener too: `answer` gets the response
    the moment the listener calls ack() while the listener goes on here, or dispatch's own
    response when no listener acknowledged (a refusal, an unhandled request). `answer` may be
    called more than once: the first call counts."""
    token = _answer.set(answer)
    try:
        response = app.dispatch(request)
    except Exception:  # Bolt answers a listener's errors itself; this is one of its own
        log.exception("dispatching a Slack request failed")
        response = BoltResponse(status=500, body="")
    finally:
        _answer.reset(token)
    answer(response)
