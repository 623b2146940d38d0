"""Inbound messages seen recently, so a provider's retry isn't routed twice.

Providers retry a webhook they think failed (a timeout on their side, a
lost answer): the same inbound message, same vendor id, again. Routing it
twice would show an app the message twice and might answer a STOP twice.

    async with recent.once(vendor_id) as first:
        if first:
            await on_mo(message)     # raises: not remembered, the retry passes

Only ids whose handling finished are remembered, at most ``max_ids`` of
them (least recently seen first out): a retry arriving after that many
other messages is routed again, which the pipeline tolerates (at least
once). A copy arriving while the first is still being handled waits for it
and is then a duplicate, or the first try if that one failed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

__all__ = ["MAX_RECENT", "RecentIds"]

#: Inbound vendor ids remembered (each ~100 bytes). Provider retries come
#: within minutes; this covers them at thousands of messages a minute.
MAX_RECENT = 10_000


class RecentIds:
    """See the module docstring. ``stats``: the integration's counter dict
    (``duplicate_inbound``)."""

    def __init__(self, max_ids: int = MAX_RECENT, *, stats: dict[str, int] | None = None) -> None:
        self.max_ids = max_ids
        self.stats = stats if stats is not None else {}
        self.stats.setdefault("duplicate_inbound", 0)
        self._done: OrderedDict[str, None] = OrderedDict()
        self._busy: dict[str, trio.Event] = {}

    def __contains__(self, vendor_id: str) -> bool:
        return vendor_id in self._done

    def __len__(self) -> int:
        return len(self._done)

    def remember(self, vendor_id: str) -> None:
        self._done[vendor_id] = None
        self._done.move_to_end(vendor_id)
        if len(self._done) > self.max_ids:
            self._done.popitem(last=False)

    @asynccontextmanager
    async def once(self, vendor_id: str) -> AsyncIterator[bool]:
        """Yields whether this is the first (or first successful) copy of
        ``vendor_id``; remembers it when the block ends without an error.
        An empty id (the provider gave none) is always first."""
        if not vendor_id:
            yield True
            return
        while (busy := self._busy.get(vendor_id)) is not None:
            # As long as the other copy's handling (a store commit): the
            # answer to this one depends on whether that one is recorded.
            await busy.wait()
        if vendor_id in self._done:
            self._done.move_to_end(vendor_id)
            self.stats["duplicate_inbound"] += 1
            yield False
            return
        busy = self._busy[vendor_id] = trio.Event()
        try:
            yield True
            self.remember(vendor_id)
        finally:
            del self._busy[vendor_id]
            busy.set()
