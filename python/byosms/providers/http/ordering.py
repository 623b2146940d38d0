"""Delivery-status callbacks put in order, per vendor message id.

HTTP providers post status callbacks as they please: out of order, more
than once, and sometimes before the response to the send that created the
message has reached us. The pipeline wants, per message, its submit result
first and then only moves forward (docs/providers.md):

- a final state is never followed by another state (not even another final
  one: the first word stands, as the store's lifecycle rules have it);
- intermediate states only move forward, by the provider's rank;
- a callback that overtakes its send's response waits, at most ``hold``
  seconds, until the send has finished (``on_submit_result`` returned).

    async with ordering.submitting(message_id):          # the send side
        result = await send(...)
        ordering.track(vendor_id, message_id, segment_id, segment_count)
        await on_submit_result(result)

    await ordering.deliver(vendor_id, rank=r, final=f,    # a callback
                           message_id=hint, send=emit_receipt)

What is remembered per vendor id is bounded (least recently used first out);
a forgotten message's late callbacks pass as new ones, and the store's own
lifecycle rules (S13) still refuse to move a final message backwards.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import trio

__all__ = ["DEFAULT_HOLD", "MAX_TRACKED", "Match", "StatusOrdering"]

#: How long a callback that overtook its send waits for the send to finish.
#: The send itself is bounded (request timeout x attempts), this bounds the
#: callback's share: after it the receipt goes on, marked ``early``.
DEFAULT_HOLD = 10.0
#: Vendor message ids remembered for ordering (each ~200 bytes).
MAX_TRACKED = 100_000


class Match(msgspec.Struct, frozen=True, kw_only=True):
    """What the ordering knows of a callback's message when it is let
    through: our ids if a send (or a hint) named them, and ``early`` when
    it arrived while its send was still in flight."""

    vendor_message_id: str
    message_id: str | None = None
    segment_id: str | None = None
    segment_count: int | None = None
    early: bool = False


class _Track:
    __slots__ = ("message_id", "segment_id", "segment_count", "rank", "final")

    def __init__(self, message_id: str | None, segment_id: str | None, segment_count: int | None) -> None:
        self.message_id = message_id
        self.segment_id = segment_id
        self.segment_count = segment_count
        self.rank = -1  # nothing delivered yet: any state moves forward
        self.final = False


class _Gate:
    """A send in flight; set when it (and its on_submit_result) finished.
    Counted, so two sends of one message id release it only together."""

    __slots__ = ("done", "users")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.users = 0


class StatusOrdering:
    """See the module docstring. ``stats``: the integration's counter dict
    (``stale_callbacks``, ``early_callbacks``, ``early_timeouts``)."""

    def __init__(
        self, *, hold: float = DEFAULT_HOLD, max_tracked: int = MAX_TRACKED, stats: dict[str, int] | None = None
    ) -> None:
        self.hold = hold
        self.max_tracked = max_tracked
        self.stats = stats if stats is not None else {}
        for key in ("stale_callbacks", "early_callbacks", "early_timeouts"):
            self.stats.setdefault(key, 0)
        self._tracks: OrderedDict[str, _Track] = OrderedDict()
        self._in_flight: dict[str, _Gate] = {}
        # Set and replaced whenever a vendor id is learnt or a send ends:
        # what a callback that names no message waits on. Only while one
        # does (``_listeners``): the common path allocates nothing.
        self._changed = trio.Event()
        self._listeners = 0

    def __len__(self) -> int:
        return len(self._tracks)

    # --- the send side ------------------------------------------------------

    @asynccontextmanager
    async def submitting(self, message_id: str) -> AsyncIterator[None]:
        """Around a send and its ``on_submit_result``: callbacks for it wait."""
        gate = self._in_flight.get(message_id)
        if gate is None:
            gate = self._in_flight[message_id] = _Gate()
        gate.users += 1
        try:
            yield
        finally:
            gate.users -= 1
            if gate.users == 0:
                del self._in_flight[message_id]
                gate.done.set()
                self._signal()

    def track(
        self, vendor_message_id: str, message_id: str | None, segment_id: str | None = None,
        segment_count: int | None = None,
    ) -> None:
        """The provider named the message ``vendor_message_id``."""
        t = self._get(vendor_message_id)
        if message_id is not None:
            t.message_id, t.segment_id = message_id, segment_id
        if segment_count is not None:
            t.segment_count = segment_count
        self._signal()

    def _get(self, vendor_message_id: str) -> _Track:
        t = self._tracks.get(vendor_message_id)
        if t is None:
            t = self._tracks[vendor_message_id] = _Track(None, None, None)
            if len(self._tracks) > self.max_tracked:
                self._tracks.popitem(last=False)
        else:
            self._tracks.move_to_end(vendor_message_id)
        return t

    def _signal(self) -> None:
        if self._listeners:
            self._changed.set()
            self._changed = trio.Event()

    # --- the callback side --------------------------------------------------

    async def deliver(
        self,
        vendor_message_id: str,
        *,
        rank: int,
        final: bool,
        message_id: str | None = None,
        send: Callable[[Match], Awaitable[Any]],
    ) -> bool:
        """Let one status through ``send`` if it moves the message forward;
        False (counted as stale) if it doesn't. ``rank`` orders the
        provider's intermediate states; ``message_id`` is our id when the
        callback carries it (e.g. in the callback URL's query), which lets
        it wait for exactly its send. If ``send`` raises, the status counts
        as not delivered, so the provider's redelivery is let through."""
        early = await self._wait_for_send(vendor_message_id, message_id)
        t = self._get(vendor_message_id)
        if t.message_id is None and message_id is not None:
            t.message_id = message_id
        if t.final or (not final and rank <= t.rank):
            self.stats["stale_callbacks"] += 1
            return False
        previous = (t.rank, t.final)
        # Taken before awaiting send: a concurrent older status is stale now.
        t.rank, t.final = rank, final
        match = Match(
            vendor_message_id=vendor_message_id, message_id=t.message_id, segment_id=t.segment_id,
            segment_count=t.segment_count, early=early,
        )
        try:
            await send(match)
        except BaseException:
            if (t.rank, t.final) == (rank, final):
                t.rank, t.final = previous
            raise
        return True

    async def _wait_for_send(self, vendor_message_id: str, hint: str | None) -> bool:
        """Wait (bounded by ``hold``) while the callback's send is in flight;
        whether it had to. Without a hint, the sends in flight when the
        callback arrived may be its own until one of them names its vendor
        id: wait for those (not for sends started later, which can't be)."""
        if not self._in_flight:
            return False
        suspects = None if hint is not None else set(self._in_flight.values())
        early = False
        with trio.move_on_after(self.hold) as scope:
            while True:
                key = hint
                if key is None:
                    t = self._tracks.get(vendor_message_id)
                    key = t.message_id if t is not None else None
                if key is not None:
                    gate = self._in_flight.get(key)
                    if gate is None:
                        break
                    event, listens = gate.done, 0
                else:
                    assert suspects is not None
                    suspects = {g for g in suspects if not g.done.is_set()}
                    if not suspects:
                        break
                    event, listens = self._changed, 1
                if not early:
                    # Counted as it starts to wait: operators (and tests)
                    # see a callback being held, not only one that was.
                    early = True
                    self.stats["early_callbacks"] += 1
                self._listeners += listens
                try:
                    await event.wait()
                finally:
                    self._listeners -= listens
        if scope.cancelled_caught:
            self.stats["early_timeouts"] += 1
        return early
