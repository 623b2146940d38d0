"""Group commit and a waitable count: the two small tools the pipeline's
writers and senders share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import trio

__all__ = ["WRITE_BATCH", "Batcher", "Gauge"]

#: Items per store call of the group-commit batchers.
WRITE_BATCH = 512

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Group commit: callers hand in one item and wait for its result; a
    single task writes whatever accumulated in one batch call, so N
    concurrent callers cost one transaction, not N."""

    def __init__(self, fn: Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]],
                 max_batch: int = WRITE_BATCH) -> None:
        self._fn = fn
        self._max = max_batch
        #: Callers' items, a list per call (`many` hands in thousands a
        #: second: no object per item), and who waits for their results.
        self._entries: list[tuple[Sequence[T], Waiting]] = []
        self._wake = trio.Event()

    async def __call__(self, item: T) -> R:
        (result,) = await self.many((item,))
        if isinstance(result, BaseException):
            raise result
        return result

    async def many(self, items: Sequence[T]) -> list[R | BaseException]:
        """Several items, one wait: their results (or errors), in order."""
        if not items:
            return []
        waiting = Waiting()
        self._entries.append((items, waiting))
        self._wake.set()
        await waiting.done.wait()
        return waiting.results

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            if not self._entries:
                self._wake = trio.Event()
                await self._wake.wait()
            # Whole calls, up to max_batch items (a larger call goes alone).
            entries = self._entries
            n = total = 0
            while n < len(entries) and (n == 0 or total + len(entries[n][0]) <= self._max):
                total += len(entries[n][0])
                n += 1
            batch, self._entries = entries[:n], entries[n:]
            items = batch[0][0] if n == 1 else [x for part, _ in batch for x in part]
            try:
                results: Sequence[Any] = await self._fn(items)
            except Exception as e:  # noqa: BLE001 - every caller of the batch gets it
                results = [e] * total
            at = 0
            for part, waiting in batch:
                waiting.results = list(results[at:at + len(part)])
                at += len(part)
                waiting.done.set()


class Waiting:
    __slots__ = ("done", "results")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.results: list[Any] = []


class Gauge:
    """A count with a wait for it to drop below a mark."""

    __slots__ = ("value", "_changed")

    def __init__(self) -> None:
        self.value = 0
        self._changed = trio.Event()

    def add(self, n: int) -> None:
        self.value += n
        if n < 0:
            self._changed.set()

    async def wait_below(self, mark: int) -> None:
        while self.value >= mark:
            self._changed = trio.Event()
            await self._changed.wait()
