"""Group commit (bot/group_commit.py): what threads submit while another writes is written in one
batch by the next writer, each thread gets its own item's result, and a batch's error reaches
every thread whose item it held, not the next batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from bot.group_commit import GroupCommit


def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class _Gate:
    """A `ready` that holds the writer until the test opens it."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.waiting = threading.Event()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        self.waiting.set()
        assert self.open.wait(5)
        yield


def _submit_all(commit: GroupCommit, items: list[int], write: Callable, ready: Callable
                ) -> tuple[dict[int, object], list[threading.Thread]]:
    results: dict[int, object] = {}

    def run(item: int) -> None:
        try:
            results[item] = commit.submit(item, write, ready)
        except Exception as err:  # what each thread got is the test's
            results[item] = err

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for th in threads:
        th.start()
    return results, threads


def test_a_thread_alone_writes_its_item_at_once() -> None:
    commit: GroupCommit[int, str] = GroupCommit()
    written: list[list[int]] = []
    assert commit.submit(7, lambda items: written.append(items) or [f"r{i}" for i in items]) == "r7"
    assert written == [[7]] and commit.batches == 1


def test_what_piles_up_while_the_writer_waits_is_written_in_one_batch() -> None:
    commit: GroupCommit[int, str] = GroupCommit()
    gate = _Gate()
    written: list[list[int]] = []

    def write(items: list[int]) -> list[str]:
        written.append(sorted(items))
        return [f"r{i}" for i in items]

    results, threads = _submit_all(commit, [1], write, gate)
    assert gate.waiting.wait(5)  # the first is the writer, waiting for its turn
    more, others = _submit_all(commit, [2, 3, 4, 5], write, gate)
    _until(lambda: len(commit._queue) == 5)  # all queued behind it
    gate.open.set()
    for th in threads + others:
        th.join(5)
    assert written == [[1, 2, 3, 4, 5]] and commit.batches == 1
    assert {**results, **more} == {1: "r1", 2: "r2", 3: "r3", 4: "r4", 5: "r5"}


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def test_an_item_queued_during_a_write_goes_in_the_next_batch() -> None:
    commit: GroupCommit[int, int] = GroupCommit()
    writing, go_on = threading.Event(), threading.Event()
    written: list[list[int]] = []

    def write(items: list[int]) -> list[int]:
        written.append(list(items))
        if items == [1]:
            writing.set()
            assert go_on.wait(5)
        return [i * 10 for i in items]

    results, threads = _submit_all(commit, [1], write, _nothing)
    assert writing.wait(5)
    more, others = _submit_all(commit, [2, 3], write, _nothing)
    _until(lambda: len(commit._queue) == 2)
    go_on.set()
    for th in threads + others:
        th.join(5)
    assert written[0] == [1] and sorted(written[1]) == [2, 3] and commit.batches == 2
    assert {**results, **more} == {1: 10, 2: 20, 3: 30}


def test_a_failed_batch_fails_each_of_its_threads_and_not_the_next() -> None:
    commit: GroupCommit[int, int] = GroupCommit()
    gate = _Gate()

    def write(items: list[int]) -> list[int]:
        if 2 in items:
            raise ValueError("the database said no")
        return items

    results, threads = _submit_all(commit, [1], write, gate)
    assert gate.waiting.wait(5)
    more, others = _submit_all(commit, [2], write, gate)
    _until(lambda: len(commit._queue) == 2)
    gate.open.set()
    for th in threads + others:
        th.join(5)
    assert all(isinstance(results.get(i, more.get(i)), ValueError) for i in (1, 2))
    assert commit.submit(3, write) == 3  # the next batch is not held up by it
    with pytest.raises(RuntimeError, match="gave 0 results"):
        commit.submit(4, lambda items: [])
