"""Waking event readers when the store appends events.

Events live in the store; readers (one per websocket connection) page them
with `events_after`. Polling alone costs either latency or queries, so the
code that appends events pokes an `EventNotifier` and readers sleep on it,
with a slow poll as the fallback for appends nobody poked for (another
process writing the same database, a code path that forgot).

`NotifyingStore` wraps any `Store` and pokes after every write that can
append events, so the pipeline gets the wake-ups by using the wrapper, with no
change to the store backends.
"""

from __future__ import annotations

from typing import Any

import trio


class EventNotifier:
    """A generation counter and a trio.Event per generation.

    A reader takes `generation` BEFORE it queries the store, then waits for a
    change after an empty result: an append that lands between the query and
    the wait has already bumped the counter, so no wake-up is lost. Pokes
    coalesce: many appends between two queries cost one query."""

    __slots__ = ("_generation", "_event")

    def __init__(self) -> None:
        self._generation = 0
        self._event = trio.Event()

    @property
    def generation(self) -> int:
        return self._generation

    def poke(self) -> None:
        """Something was appended. Safe to call from any trio task."""
        self._generation += 1
        event, self._event = self._event, trio.Event()
        event.set()

    async def wait(self, seen: int) -> None:
        """Return once the generation differs from `seen`."""
        while self._generation == seen:
            await self._event.wait()


#: Store writes that may append events (status, inbound, operational).
_EVENT_WRITERS = frozenset({
    "append_events",
    "record_submit",
    "record_submits",
    "record_receipt",
    "record_receipts",
    "record_inbound",
    "expire_receipts",
    "set_integration_state",
})


class NotifyingStore:
    """A Store that pokes `notifier` after each committed write that can append
    events. Everything else passes through untouched."""

    def __init__(self, store: Any, notifier: EventNotifier | None = None) -> None:
        self._store = store
        self.notifier = notifier if notifier is not None else EventNotifier()

    @property
    def inner(self) -> Any:
        return self._store

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name not in _EVENT_WRITERS:
            return attr
        notifier = self.notifier

        async def poking(*args: Any, **kwargs: Any) -> Any:
            try:
                return await attr(*args, **kwargs)
            finally:
                # Also on error: a batch call may have committed some items.
                notifier.poke()

        return poking

    def __repr__(self) -> str:
        return f"NotifyingStore({self._store!r})"
