"""Per-integration send rate limit (PRODUCT.md S4).

The seed's promise is "never more than N messages in any one-second window".
A plain token bucket with capacity N allows up to 2N in a window that straddles
a refill, so this keeps the send times of the last N grants (a sliding log):
grant k may go no earlier than one period after grant k−N. Cost is O(1) per
grant and O(N) memory, N ≤ 100.

The limiter itself has no clock (times are passed in) so it is testable
exactly; `TrioRateLimiter` adds trio's clock and sleeping. All binds of an
integration share one limiter.
"""

from __future__ import annotations

from collections import deque

import trio


class SlidingWindow:
    def __init__(self, rate: int, period: float = 1.0) -> None:
        if rate < 1:
            raise ValueError("rate must be >= 1")
        if period <= 0:
            raise ValueError("period must be > 0")
        self.rate = rate
        self.period = period
        self._grants: deque[float] = deque(maxlen=rate)
        self._paused_until = 0.0

    def earliest(self, now: float) -> float:
        """The earliest time at which the next grant may happen."""
        t = max(now, self._paused_until)
        if len(self._grants) == self.rate:
            t = max(t, self._grants[0] + self.period)
        return t

    def grant(self, at: float) -> None:
        """Record a grant at `at` (which must be >= earliest(at))."""
        self._grants.append(at)

    def pause(self, until: float) -> None:
        """Back off: no grant before `until` (the SMSC said throttled / queue full)."""
        self._paused_until = max(self._paused_until, until)

    def set_rate(self, rate: int) -> None:
        if rate < 1:
            raise ValueError("rate must be >= 1")
        self.rate = rate
        self._grants = deque(self._grants, maxlen=rate)


class TrioRateLimiter:
    """Async wrapper: `await acquire()` returns when one message may be sent.

    Waiters are served in arrival order (a trio.Lock is fair), so one busy bind
    can't starve the others of the shared budget.
    """

    def __init__(self, rate: int, period: float = 1.0) -> None:
        self.window = SlidingWindow(rate, period)
        self._lock = trio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = trio.current_time()
                at = self.window.earliest(now)
                if at <= now:
                    self.window.grant(now)
                    return
                await trio.sleep_until(at)

    def back_off(self, seconds: float) -> None:
        self.window.pause(trio.current_time() + seconds)
