"""The gateway's group commit (`_Batcher`): concurrent callers share one call
of the batch function, each gets its own results in order, a failing call
fails every caller of that batch and no other."""

from __future__ import annotations

import trio
import trio.testing

from byosms.gateway.batcher import Batcher as _Batcher


async def test_callers_share_calls_and_get_their_own_results():
    calls: list[list[int]] = []

    async def fn(items):
        calls.append(list(items))
        await trio.sleep(0.01)
        return [x * 10 for x in items]

    b = _Batcher(fn, max_batch=5)
    got: dict[str, object] = {}
    async with trio.open_nursery() as nursery:
        await nursery.start(b.run)

        async def one(name, item):
            got[name] = await b(item)

        async def many(name, items):
            got[name] = await b.many(items)

        with trio.fail_after(10):  # every caller answered
            async with trio.open_nursery() as callers:
                callers.start_soon(one, "a", 1)
                callers.start_soon(many, "b", [2, 3, 4])
                callers.start_soon(many, "c", [5, 6])
                callers.start_soon(many, "big", list(range(100, 108)))
                callers.start_soon(many, "empty", [])
        nursery.cancel_scope.cancel()
    assert got == {"a": 10, "b": [20, 30, 40], "c": [50, 60],
                   "big": [x * 10 for x in range(100, 108)], "empty": []}
    # Whole calls per batch, up to max_batch items; a larger call goes alone.
    for c in calls:
        assert len(c) <= 5 or c == list(range(100, 108))
    assert sorted(x for c in calls for x in c) == [1, 2, 3, 4, 5, 6, *range(100, 108)]
    assert len(calls) < 5  # not one call per caller


async def test_a_failing_call_fails_its_batch_only():
    async def fn(items):
        await trio.sleep(0.01)
        if 13 in items:
            raise ValueError("unlucky")
        return [x for x in items]

    b = _Batcher(fn, max_batch=2)
    got: dict[str, object] = {}
    async with trio.open_nursery() as nursery:
        await nursery.start(b.run)

        async def one(name, item):
            try:
                got[name] = await b(item)
            except ValueError as e:
                got[name] = e

        async def many(name, items):
            got[name] = await b.many(items)

        with trio.fail_after(10):  # every caller answered
            async with trio.open_nursery() as callers:
                callers.start_soon(many, "bad", [13, 14])
                await trio.testing.wait_all_tasks_blocked()  # "bad"'s batch is in the call
                callers.start_soon(one, "good", 7)
        nursery.cancel_scope.cancel()
    assert [type(x) for x in got["bad"]] == [ValueError, ValueError]
    assert got["good"] == 7
