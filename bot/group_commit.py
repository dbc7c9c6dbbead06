"""Group commit: what several threads have to write, written in one transaction.

A thread hands its item to `GroupCommit.submit` with the function that writes a batch. If no
thread is writing, it becomes the writer: it waits until it may write (`ready`, e.g. its turn
among the process's transactions), takes every item queued by then, its own among them, writes
them, and each submitter gets its own item's result. If a thread is writing, a submitter waits
for that write to end, and then either finds its item written or writes the next batch itself.
So nothing waits for a timer, a batch is whatever piled up while the writer waited for the
database, and a thread alone writes at once, as it did without batching.

Used for the records of sent messages (bot/flows/delivery.py): under 20 Confirm clicks in flight
each click recorded its two sends in a transaction of its own, a seventh of a click's CPU
(issue 13).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """Items written in batches by whichever submitter finds no write under way (see the module)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[_Slot[T, R]] = []
        self._writing = False
        self.batches = 0  # writes so far (for tests and benchmarks)

    def submit(self, item: T, write: Callable[[list[T]], Sequence[R]],
               ready: Callable[[], AbstractContextManager[object]] = nullcontext) -> R:
        """`item`'s result once it is written: by `write` (one result per item, in order) inside
        `ready()`, in this thread or in another submitter's. An error of the batch is raised in
        every thread whose item it held."""
        slot: _Slot[T, R] = _Slot(item)
        with self._cond:
            self._queue.append(slot)
            while self._writing and not slot.done:
                self._cond.wait()
            lead = not slot.done  # nobody is writing, and this item is still queued: write it
            if lead:
                self._writing = True
        if lead:
            self._write(write, ready)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _write(self, write: Callable[[list[T]], Sequence[R]],
               ready: Callable[[], AbstractContextManager[object]]) -> None:
        batch: list[_Slot[T, R]] = []
        results: Sequence[R] = ()
        error: BaseException | None = None
        try:
            with ready():
                with self._cond:  # what piled up while this thread waited to write
                    batch, self._queue = self._queue, []
                results = write([s.item for s in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"a batch of {len(batch)} gave {len(results)} results")
        except BaseException as err:  # handed to every submitter of the batch, this one too
            error = err
        with self._cond:
            if not batch:  # `ready` failed before the batch was taken: it fails them all
                batch, self._queue = self._queue, []
            for n, s in enumerate(batch):
                s.error = error
                s.result = results[n] if error is None else None
                s.done = True
            self.batches += 1
            self._writing = False
            self._cond.notify_all()
