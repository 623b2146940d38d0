"""SmppIntegration.submit_many / SmppBind.submit_many against the simulator:
the batch path gives the same results as submit (one per segment, in order),
keeps the window, hands successes to on_submit_results before receipts can
match them, and falls back to the per-segment retry logic for anything not
accepted at once."""

from __future__ import annotations

from typing import Any

import trio

from byosms.providers.smpp.bind import Later
import trio.testing

from byosms import _core
from byosms.advanced_config import GenericErrorCode
from byosms.providers.smpp.bind import ResponseTimeout
from byosms.providers.smpp.correlation import MessageTrack, TrackedSegment
from byosms.providers.smpp.messages import AddressError, SubmitResult
from byosms.providers.smpp.session import Response
from deadlines import WAIT
from smpp_helpers import simulator, wait_bound, wait_for
from test_smpp_engine import Sink, integration, msg


class BatchSink(Sink):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[SubmitResult]] = []
        self.registered_at_batch: list[bool] = []
        self.integ: Any = None

    async def on_submit_results(self, rs: list[SubmitResult]) -> None:
        # Receipts must not find these yet: registration follows the callback.
        self.registered_at_batch.append(
            any(self.integ.correlator.lookup(r.vendor_message_id) is not None for r in rs))
        self.batches.append(rs)
        for r in rs:
            self.order.append(("result", r.segment_id))


async def test_submit_many_all_ok_one_batch_callback_then_receipts() -> None:
    sink = BatchSink()
    async with simulator(record=200) as sim:
        integ = integration(sim, sink, binds=2, window=8, rate_limit=False,
                            on_submit_results=sink.on_submit_results)
        sink.integ = integ
        async with integ:
            await wait_bound(integ, 2)
            done: list[int] = []
            msgs = [msg(f"m{i}", f"text {i}") for i in range(40)]
            out = await integ.submit_many(msgs, on_done=done.append)
            await wait_for(lambda: len(sink.receipts) == 40)
    assert sorted(done) == list(range(40))
    for i, rs in enumerate(out):
        assert isinstance(rs, list) and len(rs) == 1
        assert rs[0].ok and rs[0].message_id == f"m{i}" and rs[0].attempts == 1
    assert sum(len(b) for b in sink.batches) == 40
    assert sink.results == []  # the per-segment callback is not used for the batch
    assert not any(sink.registered_at_batch)
    assert {r.bind for rs in out for r in rs} == {0, 1}
    # Every receipt matched its segment: it came after the result was recorded.
    assert all(r.message_id is not None for r in sink.receipts)
    texts = sorted(p.short_message for p in sim.received if p.command_id == _core.CMD_SUBMIT_SM)
    assert texts == sorted(f"text {i}".encode() for i in range(40))


async def test_submit_many_per_message_errors_and_fallbacks() -> None:
    sink = BatchSink()
    async with simulator() as sim:
        integ = integration(sim, sink, rate_limit=False, max_attempts=1,
                            on_submit_results=sink.on_submit_results)
        sink.integ = integ
        async with integ:
            await wait_bound(integ)
            sim.faults.fail_status = _core.ESME_RINVDSTADR
            sim.faults.fail_next = 1
            long_text = "x" * 400  # 3 segments
            out = await integ.submit_many([
                msg("bad", "first fails"), msg("addr", destination="not a number"),
                msg("long", long_text), msg("ok", "fine"),
            ])
    bad, addr, long_, ok = out
    assert isinstance(addr, AddressError)
    assert len(bad) == 1 and not bad[0].ok
    assert bad[0].generic_code == GenericErrorCode.PERMANENT_FAILURE
    assert bad[0] in sink.results  # failures go through the per-segment path
    assert [r.segment_index for r in long_] == [1, 2, 3] and all(r.ok for r in long_)
    assert ok[0].ok


async def test_submit_many_throttled_segments_retried() -> None:
    sink = BatchSink()
    async with simulator() as sim:
        integ = integration(sim, sink, rate_limit=False, throttle_backoff=0.01,
                            on_submit_results=sink.on_submit_results)
        sink.integ = integ
        async with integ:
            await wait_bound(integ)
            sim.faults.throttle_next = 3
            out = await integ.submit_many([msg(f"m{i}") for i in range(6)])
    assert all(rs[0].ok and rs[0].attempts == 1 for rs in out)
    assert sim.stats.rejected == 3 and sink.of("throttled")


async def test_submit_many_with_rate_limit_uses_per_segment_path() -> None:
    sink = BatchSink()
    async with simulator() as sim:
        integ = integration(sim, sink, messages_per_second=100,
                            on_submit_results=sink.on_submit_results)
        sink.integ = integ
        async with integ:
            await wait_bound(integ)
            out = await integ.submit_many([msg(f"m{i}") for i in range(5)])
    assert all(rs[0].ok for rs in out)
    assert sink.batches == [] and len(sink.results) == 5


async def test_bind_submit_many_window_and_timeout() -> None:
    sink = BatchSink()
    async with simulator() as sim:
        integ = integration(sim, sink, window=4, rate_limit=False, response_timeout=0.5)
        async with integ:
            await wait_bound(integ)
            (bind,) = integ.bound
            seg = ("12345", "4915112345678", b"hi", {})
            got = await bind.submit_many([seg] * 10)  # more than the window
            assert all(isinstance(r, Response) and r.command_status == 0 for r in got)
            assert len({r.pdu.message_id for r in got}) == 10
            assert bind._slots.value == 4 and bind.session.in_flight == 0
            sim.faults.pause_responses = True
            got = await bind.submit_many([seg] * 3)
            assert all(isinstance(r, ResponseTimeout) for r in got)
            assert bind._slots.value == 4 and not bind._waiters
            sim.release_responses()
            # Still usable: late answers are dropped, new requests answered.
            (r,) = await bind.submit_many([seg])
            assert isinstance(r, Response) and r.command_status == 0
            bad = await bind.submit_many([("12345", "4915112345678", b"x" * 300, {})])
            assert isinstance(bad[0], ValueError) and bind._slots.value == 4


async def test_receipts_of_one_read_in_one_on_receipts_call() -> None:
    sink = BatchSink()
    batches: list[list[Any]] = []

    async def on_receipts(rs: list[Any]) -> None:
        batches.append(rs)
        sink.receipts.extend(rs)

    async with simulator(record=200) as sim:
        integ = integration(sim, sink, rate_limit=False, window=64,
                            on_submit_results=sink.on_submit_results, on_receipts=on_receipts)
        sink.integ = integ
        async with integ:
            await wait_bound(integ)
            sim.faults.pause_responses = True  # responses (and receipts) leave together later
            async with trio.open_nursery() as n:
                n.start_soon(integ.submit_many, [msg(f"m{i}") for i in range(30)])
                await wait_for(lambda: sim.stats.system("acct").submit_sm == 30)
                with trio.fail_after(WAIT):  # the simulator has queued all 30 answers
                    await trio.testing.wait_all_tasks_blocked(cushion=0.05)
                sim.release_responses()
            await wait_for(lambda: len(sink.receipts) == 30)
            await wait_for(lambda: sim.stats.system("acct").receipts_acked == 30)
    assert sorted(r.message_id for r in sink.receipts) == sorted(f"m{i}" for i in range(30))
    assert all(r.is_final and r.message_state is not None for r in sink.receipts)
    # Held receipts (overtaking their response) come one by one; the rest in batches.
    assert any(len(b) > 1 for b in batches)


async def test_receipts_overtaking_their_registration_are_matched_together() -> None:
    """Under load the submit results' commit can outlast the SMSC's receipt
    delay: the receipts of one read whose segments are not registered yet
    wait as a group and reach on_receipts together, matched (early) — not
    one task and one on_receipt call each. One never claimed goes on
    unmatched when the hold ends."""
    calls: list[list[Any]] = []
    sink = BatchSink()

    async def on_receipts(rs: list[Any]) -> None:
        calls.append(rs)

    async with simulator() as sim:
        integ = integration(sim, sink, rate_limit=False, early_receipt_hold=0.5,
                            on_submit_results=sink.on_submit_results, on_receipts=on_receipts)
        pdus = [_core.decode(_core.encode_deliver_sm(
            k + 1, "4915112345678", "12345", _core.format_receipt(f"A{k}", "DELIVRD"),
            esm_class=4)) for k in range(4)]
        statuses: list[Any] = []
        async with trio.open_nursery() as n:
            integ._tasks = n  # what run() provides: the held receipts wait there

            async def receive() -> None:
                statuses.extend(await integ._on_receipt_pdus(pdus, bind=0))

            n.start_soon(receive)
            await trio.testing.wait_all_tasks_blocked()  # the group waits for its matches
            # The held receipts' answers come later; the call returned at once.
            assert len(statuses) == 4 and all(isinstance(s, Later) for s in statuses)
            assert calls == [] and integ.correlator.held == 4
            track = MessageTrack(3)
            for k in range(3):
                integ.correlator.register(TrackedSegment("m", f"s{k}", k + 1, 3, track), f"A{k}")
            await trio.testing.wait_all_tasks_blocked()  # the group has seen the three
            assert calls == []  # A3 is still awaited, until the hold ends
    assert [s.status for s in statuses] == [0, 0, 0, 0]
    (call,) = calls
    assert [(r.segment_id, r.early) for r in call] == \
        [("s0", True), ("s1", True), ("s2", True), (None, False)]
    assert call[2].message_state == "delivered" and call[3].vendor_message_id == "A3"
    assert integ.correlator.held == 0


async def test_receipt_registered_before_the_group_waits_is_not_held() -> None:
    """The group task starts after the read's lookups: a segment registered
    in between is matched at once, not after early_receipt_hold (a stall of
    the bind's receipts for the whole hold)."""
    calls: list[list[Any]] = []

    async def on_receipts(rs: list[Any]) -> None:
        calls.append(rs)

    sink = BatchSink()
    async with simulator() as sim:
        integ = integration(sim, sink, rate_limit=False, early_receipt_hold=30.0,
                            on_receipts=on_receipts)
        pdu = _core.decode(_core.encode_deliver_sm(
            1, "4915112345678", "12345", _core.format_receipt("B1", "DELIVRD"), esm_class=4))
        parsed = pdu.receipt()
        integ.correlator.register(TrackedSegment("m", "s1", 1, 1, MessageTrack(1)), "B1")
        statuses = [1]

        async def record(rs: list[Any], ks: list[int]) -> None:
            await on_receipts(rs)
            statuses[0] = 0

        with trio.fail_after(2):
            await integ._early_receipts([(0, parsed)], 0, record)
    ((r,),) = calls
    assert r.segment_id == "s1" and r.message_state == "delivered" and statuses == [0]
    assert integ.correlator.held == 0
