"""Per-integration send rate limit (PRODUCT.md S4).

The seed's promise is "never more than N messages in any one-second window",
as the SMSC sees it. Two rules together keep it:

- **Even spacing.** Grants are one ``interval`` (period / N, stretched by
  ``MARGIN``) apart, not N at once each second: a burst of N delayed on its
  way (a busy loop, a slow socket) would push part of it into the next
  window, where the next burst already is.
- **A sliding log** of the last N grants: grant k may go no earlier than one
  ``period`` (stretched by ``MARGIN``) after grant k-N. Each grant's time is
  a mutable cell that the caller may move forward to when the segment really
  left (``SmppBind`` stamps it when its writer hands the bytes to the
  kernel), so a grant that waited in our process counts from the wire.

``MARGIN`` (0.5 %) is the jitter between our socket and the SMSC's clock that
the limit tolerates: N+1 grants span at least 1.005 s at our end, so the SMSC
sees N+1 in one second only if the first was delayed on the way 5 ms more
than the last. The sustained rate is N / 1.005 = 99.5 % of N.

A grant that comes late (the event loop was busy) keeps the schedule: the
next may follow sooner, but never closer than ``CATCH_UP`` of an interval,
so small delays cost no rate and a stall never releases a burst (after
idle or a stall longer than an interval the schedule starts afresh).

The limiter itself has no clock (times are passed in) so it is testable
exactly; `TrioRateLimiter` adds trio's clock and sleeping. All binds of an
integration share one limiter.
"""

from __future__ import annotations

from collections import deque

import trio

#: Stretch of interval and window: the SMSC-side jitter the limit tolerates.
MARGIN = 0.005
#: The closest two grants may come, as a fraction of the interval (catching
#: up after a late grant).
CATCH_UP = 0.5


class SlidingWindow:
    def __init__(self, rate: int, period: float = 1.0) -> None:
        if rate < 1:
            raise ValueError("rate must be >= 1")
        if period <= 0:
            raise ValueError("period must be > 0")
        self.period = period
        self._span = period * (1 + MARGIN)
        self.set_rate(rate)
        self._paused_until = 0.0
        self._next = float("-inf")

    def earliest(self, now: float) -> float:
        """The earliest time at which the next grant may happen."""
        t = now
        if self._paused_until > t:
            t = self._paused_until
        if self._next > t:
            t = self._next
        grants = self._grants
        if len(grants) == self.rate:
            oldest = grants[0][0] + self._span
            if oldest > t:
                t = oldest
        return t

    def grant(self, at: float) -> list[float]:
        """Record a grant at `at` (which must be >= earliest(at)). Returns
        its time cell: set cell[0] to a later time when the segment really
        left, so the window counts from there."""
        cell = [at]
        self._grants.append(cell)
        # Even spacing on a schedule; a late grant catches up, within limits.
        interval = self.interval
        nxt = self._next + interval
        if at > nxt:  # idle, or a stall of more than an interval: start afresh
            nxt = at + interval
        elif nxt < at + interval * CATCH_UP:
            nxt = at + interval * CATCH_UP
        self._next = nxt
        return cell

    def pause(self, until: float) -> None:
        """Back off: no grant before `until` (the SMSC said throttled / queue full)."""
        self._paused_until = max(self._paused_until, until)

    def set_rate(self, rate: int) -> None:
        if rate < 1:
            raise ValueError("rate must be >= 1")
        self.rate = rate
        self.interval = self._span / rate
        self._grants: deque[list[float]] = deque(getattr(self, "_grants", ()), maxlen=rate)


class TrioRateLimiter:
    """Async wrapper: `await acquire()` returns when one message may be sent,
    with the grant's time cell (see ``SlidingWindow.grant``).

    Waiters are served in arrival order (a trio.Lock is fair), so one busy bind
    can't starve the others of the shared budget. The caller must send at
    once, without a checkpoint: wait for the bind and the window slot first.
    """

    def __init__(self, rate: int, period: float = 1.0) -> None:
        self.window = SlidingWindow(rate, period)
        self._lock = trio.Lock()

    async def acquire(self) -> list[float]:
        async with self._lock:
            window = self.window
            while True:
                now = trio.current_time()
                at = window.earliest(now)
                if at <= now:
                    return window.grant(now)
                await trio.sleep_until(at)

    def back_off(self, seconds: float) -> None:
        self.window.pause(trio.current_time() + seconds)
