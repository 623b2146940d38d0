import random

import pytest
import trio
import trio.testing

from byosms.providers.ratelimit import CATCH_UP, MARGIN, SlidingWindow, TrioRateLimiter


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
        recent = [g for g in granted if g > now - w._span + 1e-9]
        if len(recent) < rate and (not granted or now >= w._next):
            # Not needlessly slow: one interval after the last grant and with
            # room in the window, a grant is immediate.
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


def test_grants_are_spaced_evenly_not_in_bursts():
    """Demand far above the rate: one grant per interval, never N at once."""
    w = SlidingWindow(100)
    now = 0.0
    granted = []
    for _ in range(300):
        at = w.earliest(now)
        w.grant(at)
        granted.append(at)
        now = at
    gaps = [b - a for a, b in zip(granted, granted[1:])]
    interval = 0.01 * (1 + MARGIN)
    assert min(gaps) >= interval * CATCH_UP - 1e-9
    assert sorted(gaps)[len(gaps) // 10] == pytest.approx(interval)  # nearly all
    assert _max_in_any_window(granted, 0.1) <= 11
    # Sustained: within 1 % of the rate.
    assert 299 / (granted[-1] - granted[0]) >= 0.99 * 100


def test_late_grant_keeps_the_schedule_without_a_burst():
    w = SlidingWindow(10)
    iv = w.interval  # ~0.1 s
    w.grant(0.0)
    # Granted 0.03 s late: the next keeps the schedule (no rate lost).
    w.grant(iv + 0.03)
    assert w.earliest(0.0) == pytest.approx(2 * iv)
    # Late by less than an interval: catches up, but never closer than CATCH_UP.
    w.grant(2 * iv + 0.08)
    assert w.earliest(0.0) == pytest.approx(2 * iv + 0.08 + iv * CATCH_UP)
    # The loop was busy for 0.5 s: no burst, the schedule starts afresh.
    w.grant(0.9)
    assert w.earliest(0.9) == pytest.approx(0.9 + iv)


def test_window_counts_from_the_stamped_wire_time():
    w = SlidingWindow(2)
    a = w.grant(0.0)
    w.grant(w.earliest(0.0))
    a[0] = 0.4  # the first really left at 0.4
    assert w.earliest(0.0) == pytest.approx(0.4 + 1.0 + MARGIN)
