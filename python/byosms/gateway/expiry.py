"""Receipt timeout (issue 14 item 5): a segment whose final receipt never
comes does not stay en route forever. After the integration's
``receipt_timeout`` (default 48 h) the store fails it with generic code 9
(unknown, cause RECEIPT_TIMEOUT) through the same path as a failed receipt,
so the message's state and status event follow the usual rules, and one
``receipt_timeout`` operational event says how many."""

from __future__ import annotations

import logging
import time
from typing import Any

import trio

from byosms.gateway.events import OperationalEvents
from byosms.gateway.running import RunningIntegration
from byosms.pipeline import OperationalEvent
from byosms.store.base import StoreError

log = logging.getLogger("byosms.gateway")

#: Default when a provider's configuration has no ``receipt_timeout``.
DEFAULT_RECEIPT_TIMEOUT = 48 * 3600.0
#: Sweeps happen this often at most (and at least every tenth of the timeout).
SWEEP_INTERVAL = 60.0
#: Segments failed per store call.
EXPIRE_BATCH = 1000


def receipt_timeout(running: RunningIntegration) -> float:
    cfg = getattr(running.provider, "config", None)
    value = getattr(cfg, "receipt_timeout", None)
    return float(value) if value else DEFAULT_RECEIPT_TIMEOUT


async def expire_receipts(running: RunningIntegration, store: Any,
                          events: OperationalEvents) -> None:
    """Sweep the integration's overdue segments until cancelled."""
    timeout = receipt_timeout(running)
    interval = min(SWEEP_INTERVAL, timeout / 10)
    expire = getattr(store, "expire_receipts", None)
    if expire is None:  # a store without the operation: nothing to sweep
        return
    while True:
        await trio.sleep(interval)
        total = 0
        try:
            while True:
                expired = await expire(running.id, time.time() - timeout, EXPIRE_BATCH)
                total += len(expired)
                if len(expired) < EXPIRE_BATCH:
                    break
        except StoreError as e:
            log.warning("receipt timeout sweep of %s failed: %s", running.id, e)
        if total:
            events.emit(OperationalEvent(
                kind="receipt_timeout", integration=running.id,
                detail=f"{total} segment(s) had no final receipt after {timeout:.0f} s: failed "
                       f"with generic code 9 (unknown), cause RECEIPT_TIMEOUT"))
