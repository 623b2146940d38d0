"""Waking event readers when the store appends events — per business unit.

Events live in the store; readers (one per websocket connection) page them
with `events_after` for their business unit. Polling alone costs either
latency or queries, so the code that appends events pokes an `EventNotifier`
and readers sleep on it, with a slow poll as the fallback for appends nobody
poked for (another process writing the same database, a code path that
forgot).

Every event belongs to one business unit, and a reader reads one unit's
events, so the notifier keeps one signal per unit: an append for unit A wakes
A's readers only. With 1,000 idle connections of unit B, unit A's traffic
costs B nothing (a global signal made every B connection re-read the store on
every write of A: 9× the gateway CPU and 160 ms of accept latency).

`NotifyingStore` wraps any `Store` and pokes after every write that can
append events, naming the units the write touched: from the events
themselves (`append_events`), the message (`record_inbound`), the returned
integration (`set_integration_state`), or the integration a write names
(`record_receipts`, `expire_receipts`) mapped to its unit. Submit outcomes
name only segment ids: the wrapper learns each segment's integration when it
is claimed (`claim_segments`), which every submitted segment went through. A
write whose unit cannot be told (a segment claimed before a restart) wakes
every unit: a wasted read, never a lost wake-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import trio


class _Signal:
    __slots__ = ("generation", "event")

    def __init__(self) -> None:
        self.generation = 0
        self.event = trio.Event()

    def poke(self) -> None:
        self.generation += 1
        event, self.event = self.event, trio.Event()
        event.set()


class EventNotifier:
    """A generation counter and a trio.Event per business unit.

    A reader takes `generation_of(unit)` BEFORE it queries the store, then
    waits for a change after an empty result: an append that lands between
    the query and the wait has already bumped the counter, so no wake-up is
    lost. Pokes coalesce: many appends between two queries cost one query.

    `generation` / `poke()` / `wait(seen)` without a unit are the all-units
    signal (kept for callers that don't know the unit): a poke without a unit
    wakes every unit's readers."""

    __slots__ = ("_units", "_all", "wakeups")

    def __init__(self) -> None:
        self._units: dict[str, _Signal] = {}
        self._all = _Signal()
        #: Pokes per unit (tests and metrics: who was woken how often).
        self.wakeups: dict[str, int] = {}

    def _signal(self, unit: str) -> _Signal:
        sig = self._units.get(unit)
        if sig is None:
            sig = self._units[unit] = _Signal()
        return sig

    # --- the all-units signal (compatibility) -------------------------------------

    @property
    def generation(self) -> int:
        return self._all.generation

    def poke(self, units: Iterable[str] | None = None) -> None:
        """Something was appended for `units` (None: for any unit)."""
        if units is None:
            self._all.poke()
            for unit, sig in self._units.items():
                sig.poke()
                self.wakeups[unit] = self.wakeups.get(unit, 0) + 1
            return
        for unit in units:
            self._signal(unit).poke()
            self.wakeups[unit] = self.wakeups.get(unit, 0) + 1
        self._all.poke()

    async def wait(self, seen: int) -> None:
        """Return once the all-units generation differs from `seen`."""
        while self._all.generation == seen:
            await self._all.event.wait()

    # --- one unit -----------------------------------------------------------------

    def generation_of(self, unit: str) -> int:
        return self._signal(unit).generation

    async def wait_unit(self, unit: str, seen: int) -> None:
        """Return once `unit`'s generation differs from `seen`."""
        sig = self._signal(unit)
        while sig.generation == seen:
            await sig.event.wait()


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
#: Segments whose integration is remembered at once (claimed, not yet
#: recorded); beyond it the oldest are forgotten (their submit wakes all).
_MAX_CLAIMED = 1_000_000


class NotifyingStore:
    """A Store that pokes `notifier` after each committed write that can append
    events, for the business units the write touched. Everything else passes
    through untouched."""

    def __init__(self, store: Any, notifier: EventNotifier | None = None) -> None:
        self._store = store
        self.notifier = notifier if notifier is not None else EventNotifier()
        #: integration id -> business unit (an integration never changes unit).
        self._unit_of: dict[str, str] = {}
        #: segment id -> integration id, from claims until the submit is recorded.
        self._claimed: dict[int, str] = {}

    @property
    def inner(self) -> Any:
        return self._store

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name not in _EVENT_WRITERS:
            return attr
        # The generic path (record_submit, record_receipt): wake everyone.
        notifier = self.notifier

        async def poking(*args: Any, **kwargs: Any) -> Any:
            try:
                return await attr(*args, **kwargs)
            finally:
                # Also on error: a batch call may have committed some items.
                notifier.poke()

        return poking

    # --- what tells the unit of a write ---------------------------------------------

    def _learn(self, integ: Any) -> None:
        iid, unit = getattr(integ, "id", None), getattr(integ, "business_unit", None)
        if isinstance(iid, str) and isinstance(unit, str):
            self._unit_of[iid] = unit

    async def _units_of(self, integrations: Iterable[str]) -> set[str] | None:
        """The units of these integrations (one store read per integration
        never seen before); None when one cannot be told."""
        units: set[str] = set()
        for iid in integrations:
            unit = self._unit_of.get(iid)
            if unit is None:
                integ = await self._store.get_integration(iid)
                if integ is None:
                    return None
                self._learn(integ)
                unit = integ.business_unit
            units.add(unit)
        return units

    async def _poke_integrations(self, integrations: Iterable[str]) -> None:
        try:
            units = await self._units_of(set(integrations))
        except Exception:  # noqa: BLE001 - a wake-up too many, never one too few
            units = None
        self.notifier.poke(units)

    # --- reads that teach integration -> unit ---------------------------------------

    async def get_integration(self, *args: Any, **kwargs: Any) -> Any:
        integ = await self._store.get_integration(*args, **kwargs)
        if integ is not None:
            self._learn(integ)
        return integ

    async def list_integrations(self, *args: Any, **kwargs: Any) -> Any:
        out = await self._store.list_integrations(*args, **kwargs)
        for integ in out:
            self._learn(integ)
        return out

    async def create_integration(self, *args: Any, **kwargs: Any) -> Any:
        integ = await self._store.create_integration(*args, **kwargs)
        self._learn(integ)
        return integ

    async def claim_segments(self, integration: str, limit: int) -> Any:
        segments = await self._store.claim_segments(integration, limit)
        claimed = self._claimed
        if len(claimed) + len(segments) > _MAX_CLAIMED:
            claimed.clear()
        for seg in segments:
            claimed[seg.id] = integration
        return segments

    # --- writes that append events --------------------------------------------------

    async def append_events(self, events: Any) -> Any:
        try:
            return await self._store.append_events(events)
        finally:
            self.notifier.poke({e.business_unit for e in events})

    async def record_inbound(self, message: Any, payload: Any) -> Any:
        try:
            return await self._store.record_inbound(message, payload)
        finally:
            self.notifier.poke((message.business_unit,))

    async def set_integration_state(self, id: str, state: Any) -> Any:
        try:
            integ = await self._store.set_integration_state(id, state)
        except BaseException:
            await self._poke_integrations((id,))
            raise
        self._learn(integ)
        self.notifier.poke((integ.business_unit,))
        return integ

    async def record_receipts(self, receipts: Any, **kwargs: Any) -> Any:
        try:
            return await self._store.record_receipts(receipts, **kwargs)
        finally:
            await self._poke_integrations(r.integration for r in receipts)

    async def record_receipt(self, receipt: Any) -> Any:
        try:
            return await self._store.record_receipt(receipt)
        finally:
            await self._poke_integrations((receipt.integration,))

    async def expire_receipts(self, integration: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await self._store.expire_receipts(integration, *args, **kwargs)
        finally:
            await self._poke_integrations((integration,))

    async def record_submits(self, outcomes: Any, **kwargs: Any) -> Any:
        try:
            return await self._store.record_submits(outcomes, **kwargs)
        finally:
            await self._poke_segments([o.segment_id for o in outcomes])

    async def record_submit(self, segment_id: int, *args: Any, **kwargs: Any) -> Any:
        try:
            return await self._store.record_submit(segment_id, *args, **kwargs)
        finally:
            await self._poke_segments([segment_id])

    async def _poke_segments(self, segment_ids: list[int]) -> None:
        claimed = self._claimed
        integrations: set[str] = set()
        unknown = False
        for sid in segment_ids:
            # Forgotten once recorded: a retried segment is claimed again.
            iid = claimed.pop(sid, None)
            if iid is None:
                unknown = True
            else:
                integrations.add(iid)
        if unknown:
            self.notifier.poke()
        else:
            await self._poke_integrations(integrations)

    def __repr__(self) -> str:
        return f"NotifyingStore({self._store!r})"
