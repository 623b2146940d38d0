"""S4 as the SMSC sees it: submit_sm arrival times recorded at the simulator
under overload, through a bind drop, throttling and queue-full.

Real clock (the arrivals are what is measured); the assertions are on counts
per window with margins, never on how fast the machine is."""

from __future__ import annotations

import pytest
import trio

from smpp_helpers import wait_for
from test_smpp_engine import Sink, integration, msg
from smpp_helpers import simulator

MPS = 50


def max_in_window(times: list[float], width: float) -> int:
    times = sorted(times)
    best = j = 0
    for i, t in enumerate(times):
        while times[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


def count_between(times: list[float], a: float, b: float) -> int:
    return sum(1 for t in times if a <= t < b)


@pytest.mark.slow
async def test_s4_limit_exact_and_even_at_the_smsc() -> None:
    sink = Sink()
    async with simulator(record_arrivals=True) as sim:
        integ = integration(
            sim, sink, binds=2, window=10, messages_per_second=MPS,
            reconnect_initial=0.2, throttle_backoff=0.3,
        )
        async with integ:
            await integ.wait_bound(2)

            async def worker(w: int) -> None:
                for i in range(10_000):
                    await integ.submit(msg(f"w{w}-{i}"))

            with trio.fail_after(30):
                async with trio.open_nursery() as n:
                    for w in range(40):  # twice binds x window: always overloaded
                        n.start_soon(worker, w)
                    t0 = trio.current_time()
                    await trio.sleep(3.0)
                    t_drop = trio.current_time()
                    sim.drop_connections()  # in-flight segments are resent
                    await wait_for(lambda: len(integ.bound) == 2 and len(sim.bound()) == 2)
                    await trio.sleep(1.0)
                    sim.faults.throttle_next = 3
                    await trio.sleep(1.0)
                    sim.faults.queue_full_next = 2
                    await trio.sleep(1.5)
                    t_steady = trio.current_time()
                    await trio.sleep(2.5)
                    t_end = trio.current_time()
                    n.cancel_scope.cancel()
    arrivals = sim.arrivals
    assert arrivals is not None and len(arrivals) > 6 * MPS
    assert sim.stats.rejected >= 5  # the throttling happened
    # Never more than MPS in any sliding second, as the SMSC saw them.
    assert max_in_window(arrivals, 1.0) <= MPS
    # Spread evenly: a grant every 1/MPS s, not MPS at once (a 100 ms window
    # holds MPS/10; +2 for a grant catching up after a stall and edges).
    assert max_in_window(arrivals, 0.1) <= MPS // 10 + 2
    # And not needlessly slow, before the faults and after recovery. The
    # bound is loose on purpose: on a loaded 2-core CI machine the senders
    # themselves fall behind (44/50 seen once); a limiter that wastes slots
    # (a grant every 2 intervals) gives 25. tests/test_ratelimit.py holds the
    # schedule to 1 % without the machine in the way.
    first = count_between(arrivals, t0 + 0.5, t_drop) / (t_drop - t0 - 0.5)
    last = count_between(arrivals, t_steady, t_end) / (t_end - t_steady)
    assert first >= 0.8 * MPS, first
    assert last >= 0.8 * MPS, last
