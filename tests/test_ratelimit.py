import random

import pytest
import trio
import trio.testing

from byosms.providers.ratelimit import SlidingWindow, TrioRateLimiter


def _max_in_any_window(times: list[float], period: float) -> int:
    times = sorted(times)
    best = 0
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - period + 1e-9:  # half-open window, float slack
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.mark.parametrize("rate", [1, 3, 20, 100])
def test_never_more_than_rate_in_any_window(rate):
    rng = random.Random(rate)
    w = SlidingWindow(rate)
    now = 0.0
    granted = []
    for _ in range(rate * 20):
        now += rng.choice([0.0, 0.0, 0.001, 0.05, 0.3])
        at = w.earliest(now)
        assert at >= now
        recent = [g for g in granted if g > now - 1.0 + 1e-9]
        if len(recent) < rate:
            # Not needlessly slow: under the limit, a grant is immediate.
            assert at == pytest.approx(now, abs=1e-9)
        w.grant(at)
        granted.append(at)
        now = at
    # A window is half-open [t, t+period): a grant exactly one period later is allowed.
    assert _max_in_any_window(granted, 1.0) <= rate


def test_pause_defers_grants():
    w = SlidingWindow(10)
    w.pause(5.0)
    assert w.earliest(1.0) == 5.0
    assert w.earliest(6.0) == 6.0


def test_rejects_bad_rate():
    with pytest.raises(ValueError):
        SlidingWindow(0)


async def test_trio_limiter_respects_rate(autojump_clock):
    lim = TrioRateLimiter(5)
    times = []

    async def worker():
        for _ in range(10):
            await lim.acquire()
            times.append(trio.current_time())

    async with trio.open_nursery() as n:
        for _ in range(3):
            n.start_soon(worker)
    assert len(times) == 30
    assert _max_in_any_window(times, 1.0) <= 5
    # 30 grants at 5/s need just under 6 s, not more.
    assert times[-1] - times[0] < 6.0


async def test_trio_limiter_back_off(autojump_clock):
    lim = TrioRateLimiter(100)
    await lim.acquire()
    t0 = trio.current_time()
    lim.back_off(2.0)
    await lim.acquire()
    assert trio.current_time() - t0 >= 2.0
