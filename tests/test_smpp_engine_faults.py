"""SmppIntegration under SMSC faults (issue 15): duplicates bounded, receipts
that match nothing not blocking a bind, backoff under a flapping SMSC,
framing errors answered before the close, protocol errors aggregated."""

from __future__ import annotations

import functools
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


# --- defect 13: a fatal framing error is answered before the close ------------------


async def test_fatal_framing_error_sends_generic_nack_then_closes() -> None:
    from byosms.schemas.smpp import decode_smpp_config
    from smpp_helpers import Recorder, make_bind

    received = bytearray()
    closed = trio.Event()

    async def smsc(stream: trio.SocketStream) -> None:
        framer = _core.Framer()
        bind = None
        while bind is None:
            for p in framer.feed(await stream.receive_some(4096)):
                bind = p
        await stream.send_all(_core.Pdu(bind.command_id | 0x80000000, bind.sequence_number,
                                        system_id="raw").encode())
        await trio.sleep(0.2)  # a read of its own, once bound (not in the bind's read)
        await stream.send_all(b"\x00\x00\x00\x05bad!")  # command_length 5 < 16
        with trio.fail_after(5):
            while data := await stream.receive_some(4096):
                received.extend(data)
        closed.set()

    async with trio.open_nursery() as n:
        (listener,) = await n.start(functools.partial(trio.serve_tcp, smsc, 0, host="127.0.0.1"))
        port = listener.socket.getsockname()[1]
        cfg = decode_smpp_config({"host": "127.0.0.1", "port": port, "transport": "tcp",
                                  "system_id": "a", "password": "b",
                                  "enquire_link_interval": 3600})
        rec = Recorder()
        bind = make_bind(cfg, rec)
        with trio.fail_after(10):
            with pytest.raises(Exception) as info:
                await bind.run()
            await closed.wait()
        n.cancel_scope.cancel()
    assert getattr(info.value, "cause", None) == "protocol_error"
    (nack,) = _core.Framer().feed(bytes(received))
    assert nack.command_id == _core.CMD_GENERIC_NACK
    assert nack.command_status == _core.ESME_RINVCMDLEN


# --- defect 9: a hostile SMSC's bad PDUs are aggregated -----------------------------


async def test_bad_pdus_give_one_protocol_error_event_per_interval() -> None:
    sink = Sink()
    async with simulator() as sim:
        integ = integration(sim, sink, bind_type="transceiver")
        async with integ:
            await integ.wait_bound()
            conn = sim.bound()[0]
            bad = []
            for _ in range(50):
                # A deliver_sm whose TLV area ends in 2 stray octets: it frames,
                # its body does not decode (answered with generic_nack).
                good = _core.encode_deliver_sm(conn.next_seq(), "1", "2", b"hi")
                body = good[4:] + b"\x00\x01"
                bad.append((len(body) + 4).to_bytes(4, "big") + body)
            conn.write(b"".join(bad))
            with trio.fail_after(10):
                await wait_for(lambda: integ.binds[0] is not None
                               and integ.binds[0].protocol_errors == 50)
            during = sink.of("protocol_error")
        after = sink.of("protocol_error")
        assert len(during) == 1  # not 50
        assert len(after) == 2 and "49 more" in after[1].detail  # the count, at the end
        assert len(sink.of("bind_up")) == 1  # not fatal: the bind stayed up


# --- defect 12: no Nagle on either side -----------------------------------------------


async def test_tcp_nodelay_on_engine_and_simulator_sockets() -> None:
    import socket

    def sock_of(stream: Any) -> socket.socket:
        while isinstance(stream, trio.SSLStream):
            stream = stream.transport_stream
        return stream.socket

    async with simulator() as sim:
        integ = integration(sim, Sink())
        async with integ:
            await integ.wait_bound()
            ours = sock_of(integ.binds[0]._stream)
            theirs = sock_of(sim.bound()[0].stream)
            for s in (ours, theirs):
                assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
