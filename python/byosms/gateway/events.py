"""Operational events (S17): what providers and the pipeline report about
binds, webhooks and failures, logged at once and stored in batches for the
business unit that owns the integration."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec
import trio

from byosms.gateway.batcher import WRITE_BATCH
from byosms.schemas.events import OperationalEvent
from byosms.schemas.records import NewEvent
from byosms.store.base import StoreError

log = logging.getLogger("byosms.gateway")

#: Kinds logged as warnings (the operator should look); the rest are info.
_WARNING_KINDS = frozenset({"bind_failed", "bind_down", "delivery_failure", "receipt_timeout"})


class OperationalEvents:
    """``emit`` from anywhere (sync, never blocks); ``run`` writes them.
    ``business_unit_of(integration_id)`` names the unit that sees an event."""

    def __init__(self, store: Any, business_unit_of: Callable[[str], str]) -> None:
        self._store = store
        self._unit_of = business_unit_of
        # Unbounded on purpose: emit() is called from code that cannot wait
        # (engine callbacks); the writer drains batches of WRITE_BATCH.
        self._send, self._recv = trio.open_memory_channel[OperationalEvent](float("inf"))

    def emit(self, ev: OperationalEvent) -> None:
        try:
            self._send.send_nowait(ev)
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            pass
        level = logging.WARNING if ev.kind in _WARNING_KINDS else logging.INFO
        log.log(level, "%s %s%s", ev.integration, ev.kind, f": {ev.detail}" if ev.detail else "")

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            batch = [await self._recv.receive()]
            while len(batch) < WRITE_BATCH:
                try:
                    batch.append(self._recv.receive_nowait())
                except trio.WouldBlock:
                    break
            events = [NewEvent(self._unit_of(ev.integration or ""), "operational",
                               msgspec.to_builtins(ev)) for ev in batch]
            try:
                await self._store.append_events(events)
            except StoreError as e:
                log.warning("could not store %d operational events: %s", len(events), e)
