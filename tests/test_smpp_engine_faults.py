"""SmppIntegration under SMSC faults (issue 15): duplicates bounded, receipts
that match nothing not blocking a bind, backoff under a flapping SMSC,
framing errors answered before the close, protocol errors aggregated."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from byosms import _core
from byosms.advanced_config import GenericErrorCode
from byosms.providers.smpp.supervisor import RECONNECT_JITTER
from smpp_helpers import simulator, wait_for
from test_smpp_engine import Sink, integration, msg


@pytest.fixture
def jump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.002)


# --- defect 7: copies at the SMSC ----------------------------------------------------


async def test_slow_responses_give_at_most_two_copies(jump_clock: Any) -> None:
    sink = Sink()
    async with simulator(record_arrivals=True) as sim:
        integ = integration(sim, sink, response_timeout=0.5, retry_backoff=0.1)
        async with integ:
            await integ.wait_bound()
            sim.faults.response_delay = 2.0  # every answer after the timeout
            (r,) = await integ.submit(msg())
            await trio.sleep(3.0)  # anything still to arrive arrives
        assert not r.ok and r.cause == "SUBMIT_TIMEOUT"
        assert r.generic_code == GenericErrorCode.RETRYABLE_FAILURE
        assert len(sim.arrivals) == 2  # the first and one resend, not 3


async def test_garbage_responses_give_at_most_two_copies(jump_clock: Any) -> None:
    sink = Sink()
    async with simulator(record_arrivals=True) as sim:
        integ = integration(sim, sink, retry_backoff=0.1, reconnect_initial=0.1)
        async with integ:
            await integ.wait_bound()
            sim.faults.garbage_next = 10  # an unframeable answer: the bind is lost
            (r,) = await integ.submit(msg())
        assert not r.ok and r.cause == "BIND_LOST"
        assert len(sim.arrivals) == 2


async def test_unreadable_response_to_this_request_is_not_resent(jump_clock: Any) -> None:
    """A framed submit_sm_resp whose body does not decode: the SMSC did
    process this request, so it is not sent again (nor re-claimed)."""
    sink = Sink()
    async with simulator(record_arrivals=True) as sim:
        integ = integration(sim, sink, retry_backoff=0.1)
        async with integ:
            await integ.wait_bound()
            # submit_sm_resp (seq 2: the bind took 1) with a message_id over
            # 64 octets: frames fine, does not decode.
            body = b"x" * 80 + b"\0"
            sim.faults.garbage = (
                (16 + len(body)).to_bytes(4, "big") + (0x80000004).to_bytes(4, "big")
                + bytes(4) + (2).to_bytes(4, "big") + body
            )
            sim.faults.garbage_next = 1
            (r,) = await integ.submit(msg())
        assert not r.ok and r.cause == "RESPONSE_UNREADABLE"
        assert r.generic_code == GenericErrorCode.UNKNOWN_FAILURE
        assert len(sim.arrivals) == 1


# --- defect 5: receipts that match nothing do not stall the bind --------------------


@pytest.mark.parametrize("batch", [False, True], ids=["on_receipt", "on_receipts"])
async def test_unknown_receipts_do_not_hold_up_an_mo(batch: bool) -> None:
    sink = Sink()
    got: list[Any] = []

    async def on_receipts(rs: list[Any]) -> None:
        got.extend(rs)

    hold = 3.0
    async with simulator() as sim:
        kw: dict[str, Any] = {"on_receipts": on_receipts} if batch else {}
        integ = integration(sim, sink, early_receipt_hold=hold, bind_type="transceiver", **kw)
        async with integ:
            await integ.wait_bound()
            conn = sim.bound()[0]
            chunks = []
            for i in range(20):
                body = _core.format_receipt(f"dead{i:04x}", "DELIVRD")
                chunks.append(_core.encode_deliver_sm(conn.next_seq(), "1", "2", body, esm_class=4))
            t0 = trio.current_time()
            conn.write(b"".join(chunks))
            await sim.send_mo("+4915112345678", "12345", "STOP", wait=False)
            with trio.fail_after(hold + 10):
                await wait_for(lambda: len(sink.mo) == 1)
                mo_after = trio.current_time() - t0
                # The receipts are still answered: after their hold, unmatched.
                await wait_for(lambda: sim.stats.receipts_acked == 20)
                acked_after = trio.current_time() - t0
        receipts = got if batch else sink.receipts
        assert len(receipts) == 20 and all(r.segment_id is None for r in receipts)
        assert mo_after < hold / 3  # not behind the receipts' hold
        assert acked_after >= hold - 0.1  # each answered only once finally recorded
