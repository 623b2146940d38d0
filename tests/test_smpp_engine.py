"""SmppIntegration against the simulator over real loopback sockets: binds and
rebinds, failure causes, throttling, error mapping, retries, receipt
correlation, MO reassembly, S2/S3 addressing, TLS.

Tests that observe backoff run on trio's MockClock with autojump: virtual
time jumps to the next deadline whenever every task waits (a small real-time
threshold lets loopback I/O land first), so waits of seconds take none and
their lengths can be asserted exactly, without timed asserts on wall time."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
import trustme

from byosms import _core
from byosms.advanced_config import GenericErrorCode
from byosms.providers.smpp.messages import (
    DELIVERED,
    AddressError,
    DeliveryReceipt,
    InboundMessage,
    OutboundMessage,
    OutboundSegment,
    SubmitResult,
)
from byosms.providers.smpp.supervisor import RECONNECT_JITTER, SmppIntegration
from deadlines import WAIT
from smpp_helpers import config, server_context, simulator, wait_bound, wait_for

SRC = "+4915100000001"
DST = "+4915112345678"


@pytest.fixture
def jump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.002)


class Sink:
    """Collects everything an integration hands its owner."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.event_times: list[tuple[float, str, Any]] = []
        self.results: list[SubmitResult] = []
        self.receipts: list[DeliveryReceipt] = []
        self.mo: list[InboundMessage] = []
        self.order: list[tuple[str, str | None]] = []

    def on_event(self, ev: Any) -> None:
        self.events.append(ev)
        self.event_times.append((trio.current_time(), ev.kind, ev))

    async def on_submit_result(self, r: SubmitResult) -> None:
        self.results.append(r)
        self.order.append(("result", r.segment_id))

    async def on_receipt(self, r: DeliveryReceipt) -> None:
        self.receipts.append(r)
        self.order.append(("receipt", r.segment_id))

    async def on_mo(self, m: InboundMessage) -> None:
        self.mo.append(m)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.kind == kind]


def integration(sim: Any, sink: Sink, *, ssl_context: Any = None, **kw: Any) -> SmppIntegration:
    cfg_kw = {k: kw.pop(k) for k in list(kw) if k in CONFIG_FIELDS}
    cfg_kw.setdefault("enquire_link_interval", 3600)
    cfg_kw.setdefault("binds", 1)
    return SmppIntegration(
        config(sim, **cfg_kw),
        integration_id="it",
        on_event=sink.on_event,
        on_submit_result=sink.on_submit_result,
        on_receipt=sink.on_receipt,
        on_mo=sink.on_mo,
        ssl_context=ssl_context,
        **kw,
    )


CONFIG_FIELDS = {
    "binds", "bind_type", "window", "messages_per_second", "inbound_plus_prefix",
    "outbound_plus_prefix", "source_ton", "source_npi", "destination_ton", "destination_npi",
    "concatenation", "advanced_config", "enquire_link_interval", "response_timeout", "password",
    "port", "transport", "ca_file",
}


def msg(mid: str = "m1", text: str = "hello", **kw: Any) -> OutboundMessage:
    kw.setdefault("source", SRC)
    kw.setdefault("destination", DST)
    return OutboundMessage(message_id=mid, text=text, **kw)


# --- supervision ------------------------------------------------------------------


async def test_rebind_after_drops_without_growing_backoff(jump_clock: Any) -> None:
    """A bind that came up resets the backoff: a flapping SMSC (drops every
    few seconds) gets re-binds as fast each time, not ever slower."""
    sink = Sink()
    async with simulator() as sim:
        integ = integration(sim, sink, binds=2, reconnect_initial=1.0)
        async with integ:
            await wait_bound(integ, 2)
            for round_ in range(5):
                t0 = trio.current_time()
                assert sim.drop_connections() == 2
                await wait_for(lambda: len(integ.bound) == 0)
                await wait_bound(integ, 2)
                gap = trio.current_time() - t0
                assert 1 - RECONNECT_JITTER - 0.1 <= gap <= 1 + RECONNECT_JITTER + 0.5
                await trio.sleep(5)
        downs = sink.of("bind_down")
        assert {e.cause for e in downs[:10]} == {"connection_lost"}
        assert sink.kinds().count("bind_up") == 12
        # Shutdown: each bind unbinds.
        assert downs[-1].cause == "shutdown"
        await wait_for(lambda: sim.stats.unbinds == 2)


async def test_failed_binds_back_off_exponentially(jump_clock: Any) -> None:
    sink = Sink()
    async with simulator() as sim:
        sim.faults.reject_binds = _core.ESME_RBINDFAIL
        integ = integration(sim, sink, reconnect_initial=1.0)
        async with integ:
            await wait_for(lambda: len(sink.of("bind_failed")) >= 4)
            sim.faults.reject_binds = None
            await wait_bound(integ, 1)
        times = [t for t, k, _ in sink.event_times if k == "bind_failed"]
        gaps = [b - a for a, b in zip(times, times[1:])]
        for k, gap in enumerate(gaps[:3]):  # ~1 s, ~2 s, ~4 s
            assert 2.0**k * (1 - RECONNECT_JITTER) - 0.1 <= gap <= 2.0**k * (1 + RECONNECT_JITTER) + 0.5


async def test_bind_failure_causes_are_events(jump_clock: Any) -> None:
    sink = Sink()
    async with simulator() as sim:
        integ = integration(sim, sink, password="wrong", reconnect_initial=0.5)
        async with integ:
            await wait_for(lambda: len(sink.of("bind_failed")) >= 3)
        failed = sink.of("bind_failed")
        assert {e.cause for e in failed} == {"auth_failed"}
        assert failed[0].command_status == _core.ESME_RINVPASWD
        times = [t for t, k, _ in sink.event_times if k == "bind_failed"]
        assert times[2] - times[1] > times[1] - times[0]  # backing off
        port = sim.port
    # Nothing listens there any more.
    sink = Sink()
    async with simulator() as sim2:
        integ = SmppIntegration(
            config(sim2, port=port, enquire_link_interval=3600, binds=1),
            integration_id="it",
            on_event=sink.on_event,
        )
        async with integ:
            await wait_for(lambda: len(sink.of("bind_failed")) >= 2)
        assert {e.cause for e in sink.of("bind_failed")} == {"connection_refused"}


async def test_config_warnings_once_and_receiver_gets_no_submissions() -> None:
    sink = Sink()
    async with simulator() as sim:
        integ = integration(sim, sink, bind_type="receiver", binds=2)
        async with integ:
            await wait_bound(integ, 2)
            with pytest.raises(RuntimeError, match="receiver"):
                await integ.submit(msg())
        warnings = sink.of("config_warning")
        assert any("plain TCP" in w.detail for w in warnings)
        assert len(warnings) == len(integ.config.warnings())
        assert sim.stats.submit_sm == 0


async def test_tls_bind_submit_receipt() -> None:
    ca = trustme.CA()
    import ssl

    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    sink = Sink()
    async with simulator(ssl_context=server_context(ca)) as sim:
        integ = integration(sim, sink, ssl_context=client_ctx)
        assert integ.config.transport == "tls"
        async with integ:
            await wait_bound(integ)
            (r,) = await integ.submit(msg())
            await wait_for(lambda: len(sink.receipts) == 1)
        assert r.ok and sink.receipts[0].segment_id == r.segment_id


# --- submission -------------------------------------------------------------------


async def test_load_balanced_across_binds() -> None:
    sink = Sink()
    async with simulator(record=100) as sim:
        integ = integration(sim, sink, binds=3, rate_limit=False)
        async with integ:
            await wait_bound(integ, 3)
            sim.faults.response_delay = 0.01  # keep requests in flight
            async with trio.open_nursery() as n:
                for i in range(30):
                    n.start_soon(integ.submit, msg(f"m{i}"))
        used = {r.bind for r in sink.results}
        assert used == {0, 1, 2}
        assert all(r.ok for r in sink.results)


@pytest.mark.parametrize("fault", ["throttle_next", "queue_full_next"])
async def test_throttling_backs_off_then_succeeds(jump_clock: Any, fault: str) -> None:
    sink = Sink()
    async with simulator() as sim:
        integ = integration(sim, sink, throttle_backoff=1.0)
        async with integ:
            await wait_bound(integ)
            setattr(sim.faults, fault, 3)
            t0 = trio.current_time()
            (r,) = await integ.submit(msg())
            elapsed = trio.current_time() - t0
        assert r.ok and r.attempts == 1  # throttling is not a failed attempt
        assert sim.stats.rejected == 3
        throttled = sink.of("throttled")
        assert len(throttled) == 3
        status = _core.ESME_RTHROTTLED if fault == "throttle_next" else _core.ESME_RMSGQFUL
        assert {e.command_status for e in throttled} == {status}
        # Consecutive throttles double the pause: 1 + 2 + 4 s.
        assert 7.0 <= elapsed < 7.5
        assert "delivery_failure" not in sink.kinds()


async def test_throttle_pauses_the_whole_integration(jump_clock: Any) -> None:
    """Several segments in flight get throttled together: one pause, not one
    escalation per answer; the limiter shared by the binds is paused too."""
    sink = Sink()
    async with simulator() as sim:
        integ = integration(sim, sink, binds=2, throttle_backoff=1.0, messages_per_second=100)
        async with integ:
            await wait_bound(integ, 2)
            sim.faults.response_delay = 0.01
            sim.faults.throttle_next = 4
            t0 = trio.current_time()
            async with trio.open_nursery() as n:
                for i in range(4):
                    n.start_soon(integ.submit, msg(f"m{i}"))
            elapsed = trio.current_time() - t0
        assert len(sink.of("throttled")) == 1
        assert all(r.ok for r in sink.results) and len(sink.results) == 4
        assert 1.0 <= elapsed < 1.5


async def test_permanent_failure_mapped() -> None:
    sink = Sink()
    async with simulator() as sim:
        integ = integration(sim, sink)
        async with integ:
            await wait_bound(integ)
            sim.faults.fail_status = _core.ESME_RINVDSTADR
            sim.faults.fail_next = 1
            (r,) = await integ.submit(msg())
        assert not r.ok and r.attempts == 1
        assert r.command_status == _core.ESME_RINVDSTADR
        assert r.generic_code == GenericErrorCode.PERMANENT_FAILURE
        assert r.cause == "DEST_ADDR_INVALID"
        (ev,) = sink.of("delivery_failure")
        assert ev.command_status_name == "ESME_RINVDSTADR"


async def test_custom_mapping_makes_failure_retryable(jump_clock: Any) -> None:
    sink = Sink()
    custom = {"protocolSpecificCodeMapping": {"0x0B": {"genericErrorCode": 2, "genericErrorCause": "FLAKY"}}}
    async with simulator() as sim:
        integ = integration(sim, sink, advanced_config=custom, retry_backoff=1.0)
        async with integ:
            await wait_bound(integ)
            sim.faults.fail_status = _core.ESME_RINVDSTADR
            sim.faults.fail_next = 1
            (r,) = await integ.submit(msg())
        assert r.ok and r.attempts == 2


async def test_retryable_failure_retried_with_bound(jump_clock: Any) -> None:
    sink = Sink()
    async with simulator() as sim:
        integ = integration(sim, sink, retry_backoff=1.0, max_attempts=3)
        async with integ:
            await wait_bound(integ)
            sim.faults.fail_status = _core.ESME_RSYSERR  # default mapping: retryable
            sim.faults.fail_next = 1
            t0 = trio.current_time()
            (ok,) = await integ.submit(msg("a"))
            assert 1.0 <= trio.current_time() - t0 < 1.5
            sim.faults.fail_next = 10
            t0 = trio.current_time()
            (bad,) = await integ.submit(msg("b"))
            assert 3.0 <= trio.current_time() - t0 < 3.5  # 1 + 2 s between 3 attempts
        assert ok.ok and ok.attempts == 2
        assert not bad.ok and bad.attempts == 3
        assert bad.generic_code == GenericErrorCode.RETRYABLE_FAILURE
        assert bad.cause == "OTHER_TEMPORARY_FAILURE"


async def test_rate_limit_shared_by_binds(jump_clock: Any) -> None:
    sink = Sink()
    async with simulator(record_arrivals=True) as sim:
        integ = integration(sim, sink, binds=3, messages_per_second=5)
        async with integ:
            await wait_bound(integ, 3)
            async with trio.open_nursery() as n:
                for i in range(16):
                    n.start_soon(integ.submit, msg(f"m{i}"))
        times = sorted(sim.arrivals)  # counted where S4 counts: at the SMSC
        assert len(times) == 16
        for i in range(len(times) - 5):
            assert times[i + 5] - times[i] >= 1.0 - 1e-9  # never 6 in one second
        assert {r.bind for r in sink.results} == {0, 1, 2}


async def test_rate_limit_can_be_disabled() -> None:
    async with simulator() as sim:
        integ = integration(sim, Sink(), rate_limit=False)
        assert integ.limiter is None


# --- S2 / S3 / S8 fields -----------------------------------------------------------------


async def test_addressing_and_fields_on_the_wire() -> None:
    sink = Sink()
    async with simulator(record=20) as sim:
        integ = integration(
            sim, sink, source_ton=1, source_npi=1, destination_ton=1, destination_npi=1
        )
        async with integ:
            await wait_bound(integ)
            await integ.submit(msg("a", source="+4915100000001"))
            await integ.submit(msg("b", source="ACME"))
            await integ.submit(msg("c", source="12345"))
            with pytest.raises(AddressError):
                await integ.submit(msg("d", destination="015112345678"))
        a, b, c = sim.received
        assert (a.source_addr, a.source_addr_ton, a.source_addr_npi) == ("4915100000001", 1, 1)
        assert (a.destination_addr, a.dest_addr_ton, a.dest_addr_npi) == ("4915112345678", 1, 1)
        assert (b.source_addr, b.source_addr_ton, b.source_addr_npi) == ("ACME", 5, 0)
        assert (c.source_addr, c.source_addr_ton) == ("12345", 1)
        assert all(p.registered_delivery == 1 and p.data_coding == 0 for p in (a, b, c))


async def test_outbound_plus_prefix() -> None:
    async with simulator(record=5) as sim:
        integ = integration(sim, Sink(), outbound_plus_prefix=True)
        async with integ:
            await wait_bound(integ)
            await integ.submit(msg())
        (p,) = sim.received
        assert p.source_addr == SRC and p.destination_addr == DST[1:]


@pytest.mark.parametrize("method", ["udh8", "udh16", "sar", "payload"])
async def test_concatenation_methods(method: str) -> None:
    text = "日本語のテキストです。" * 15  # kanji: only utf-16be in the chain can carry it
    sink = Sink()
    async with simulator(record=20) as sim:
        integ = integration(sim, sink, concatenation=method)
        async with integ:
            await wait_bound(integ)
            results = await integ.submit(msg(text=text))
        pdus = sim.received
        assert all(p.data_coding == 8 for p in pdus)  # UCS-2 from the chain (S8)
        if method == "payload":
            assert len(pdus) == 1 and pdus[0].short_message == b""
            assert pdus[0].tlv(_core.TLV_MESSAGE_PAYLOAD).value.decode("utf-16-be") == text
            return
        assert len(pdus) == len(results) == 3
        seg = _core.Chain().decode_parts(
            [p.short_message for p in pdus] if method != "sar" else [], 8, udhi=True
        ) if method != "sar" else "".join(p.short_message.decode("utf-16-be") for p in pdus)
        assert seg == text
        if method == "sar":
            assert all(p.esm_class == 0 for p in pdus)
            assert [p.tlv(_core.TLV_SAR_SEGMENT_SEQNUM).as_int() for p in pdus] == [1, 2, 3]
            assert {p.tlv(_core.TLV_SAR_TOTAL_SEGMENTS).as_int() for p in pdus} == {3}
        else:
            assert all(p.esm_class & 0x40 for p in pdus)
            bits = 8 if method == "udh8" else 16
            assert {_core.parse_udh(p.short_message).reference_bits for p in pdus} == {bits}


async def test_prebuilt_segments() -> None:
    async with simulator(record=5) as sim:
        integ = integration(sim, Sink())
        async with integ:
            await wait_bound(integ)
            m = OutboundMessage(
                message_id="x", source=SRC, destination=DST,
                segments=[OutboundSegment(b"\x05\x00\x03\x01\x02\x01ab", 0, True),
                          OutboundSegment(b"\x05\x00\x03\x01\x02\x02cd", 0, True)],
                segment_ids=["s1", "s2"],
            )
            rs = await integ.submit(m)
        assert [r.segment_id for r in rs] == ["s1", "s2"]
        assert [p.esm_class for p in sim.received] == [0x40, 0x40]


# --- receipts -----------------------------------------------------------------------


async def test_long_ucs2_message_receipts_roll_up() -> None:
    text = "日本語のメッセージ。" * 21  # 210 UCS-2 characters: 4 parts of 67
    sink = Sink()
    async with simulator(receipt_delay=0.01) as sim:
        integ = integration(sim, sink)
        async with integ:
            await wait_bound(integ)
            results = await integ.submit(msg(text=text))
            await wait_for(lambda: len(sink.receipts) == 4)
        assert len(results) == 4 and all(r.ok for r in results)
        by_seg = {r.segment_id: r for r in sink.receipts}
        assert set(by_seg) == {r.segment_id for r in results}
        assert all(r.state == DELIVERED and r.generic_code == 0 for r in sink.receipts)
        states = [r.message_state for r in sink.receipts]
        assert states == ["en_route"] * 3 + ["delivered"]
        # on_submit_result of a segment always precedes its receipt.
        for r in results:
            assert sink.order.index(("result", r.segment_id)) < sink.order.index(("receipt", r.segment_id))


async def test_failed_segment_fails_the_message() -> None:
    def final(p: Any) -> Any:
        seq = _core.parse_udh(p.short_message).concat[2]
        return ("UNDELIV", "011") if seq == 2 else "DELIVRD"

    sink = Sink()
    async with simulator(final_state=final) as sim:
        integ = integration(sim, sink)
        async with integ:
            await wait_bound(integ)
            await integ.submit(msg(text="x" * 400))  # 3 GSM parts
            await wait_for(lambda: len(sink.receipts) == 3)
        failed = [r for r in sink.receipts if r.state != DELIVERED]
        (f,) = failed
        assert f.segment_index == 2 and f.state_name == "UNDELIVERABLE"
        # err 011 / network_error_code 11 through the ErrorMapper (S7).
        assert f.vendor_code == 11 and f.cause == "DEST_ADDR_INVALID"
        assert f.generic_code == GenericErrorCode.PERMANENT_FAILURE
        assert sink.receipts[-1].message_state == "failed"


async def test_receipt_before_response() -> None:
    sink = Sink()
    async with simulator() as sim:
        integ = integration(sim, sink)
        async with integ:
            await wait_bound(integ)
            sim.faults.hold = 0.1
            sim.faults.receipt_before_response_next = 1
            (r,) = await integ.submit(msg())
            await wait_for(lambda: len(sink.receipts) == 1)
        (rc,) = sink.receipts
        assert rc.early and rc.segment_id == r.segment_id and rc.message_state == "delivered"
        assert sink.order == [("result", r.segment_id), ("receipt", r.segment_id)]
        assert integ.correlator.held == 0 and len(integ.correlator) == 0


async def test_receipt_on_another_bind() -> None:
    sink = Sink()
    async with simulator(receipt_route="other") as sim:
        integ = integration(sim, sink, binds=2)
        async with integ:
            await wait_bound(integ, 2)
            rs = []
            for i in range(4):
                rs += await integ.submit(msg(f"m{i}"))
            await wait_for(lambda: len(sink.receipts) == 4)
        for r in rs:
            (rc,) = [x for x in sink.receipts if x.segment_id == r.segment_id]
            assert rc.bind != r.bind


@pytest.mark.parametrize(("ids", "receipt_ids"), [("hex", "decimal"), ("decimal", "hex")])
async def test_hex_decimal_id_mismatch(ids: str, receipt_ids: str) -> None:
    sink = Sink()
    async with simulator(id_format=ids, receipt_id_format=receipt_ids, first_id=0xABCDEF) as sim:
        integ = integration(sim, sink)
        async with integ:
            await wait_bound(integ)
            (r,) = await integ.submit(msg())
            await wait_for(lambda: len(sink.receipts) == 1)
        (rc,) = sink.receipts
        assert r.vendor_message_id != rc.vendor_message_id
        assert rc.segment_id == r.segment_id


async def test_unknown_receipt_handed_on_unmatched() -> None:
    sink = Sink()
    async with simulator() as sim:
        integ = integration(sim, sink, early_receipt_hold=0.05)
        async with integ:
            await wait_bound(integ)
            conn = sim.bound()[0]
            body = _core.format_receipt("deadbeef", "DELIVRD")
            conn.write(_core.encode_deliver_sm(conn.next_seq(), "1", "2", body, esm_class=4))
            await wait_for(lambda: len(sink.receipts) == 1)
            # Answered too: the simulator counts the deliver_sm_resp when its
            # reader gets to it, so wait for that (not assert at once) before
            # the integration unbinds.
            with trio.fail_after(10):
                await wait_for(lambda: sim.stats.receipts_acked == 1)
        (rc,) = sink.receipts
        assert rc.segment_id is None and rc.vendor_message_id == "deadbeef"
        assert sim.stats.receipts_acked == 1


# --- MO -------------------------------------------------------------------------------


async def test_mo_reassembled_out_of_order_normalised() -> None:
    text = "Hallo! Wie geht's? Das ist eine lange Nachricht, Teil für Teil. " * 4
    sink = Sink()
    async with simulator() as sim:
        integ = integration(sim, sink, binds=2)
        async with integ:
            await wait_bound(integ, 2)
            res = await sim.send_mo("4917612345678", "4915100000001", text, order="reverse", source_ton=1)
            assert set(res.statuses.values()) == {0}
            res = await sim.send_mo("4917612345678", "4915100000001", "ünicode ✓" * 30, concat="sar", order="shuffle")
            res = await sim.send_mo("ACME", "4915100000001", "hi", source_ton=5, source_npi=0)
            await wait_for(lambda: len(sink.mo) == 3)
        a, b, c = sink.mo
        assert a.text == text and a.source == "+4917612345678" and a.total > 1 and not a.incomplete
        assert b.text == "ünicode ✓" * 30 and b.data_coding == 8
        assert c.source == "ACME" and c.text == "hi"


async def test_mo_missing_part_times_out(jump_clock: Any) -> None:
    text = "0123456789" * 40  # 3 GSM parts
    sink = Sink()
    async with simulator() as sim:
        integ = integration(sim, sink, reassembly_timeout=30.0)
        async with integ:
            await wait_bound(integ)
            t0 = trio.current_time()
            await sim.send_mo("4917612345678", "12345", text, drop_parts=[2], source_ton=1)
            await wait_for(lambda: len(sink.mo) == 1, step=0.25)
            waited = trio.current_time() - t0
        (m,) = sink.mo
        assert m.incomplete and m.missing == (2,) and m.parts == 2 and m.total == 3
        assert m.text == text[:153] + text[306:]
        assert 30.0 <= waited <= 31.0
        (ev,) = sink.of("mo_incomplete")
        assert ev.cause == "timeout"


async def test_mo_resp_only_after_on_mo_returned() -> None:
    release = trio.Event()
    got: list[InboundMessage] = []

    async def on_mo(m: InboundMessage) -> None:
        got.append(m)
        await release.wait()

    async with simulator() as sim:
        integ = SmppIntegration(
            config(sim, binds=1, enquire_link_interval=3600), integration_id="it", on_mo=on_mo
        )
        async with integ:
            await wait_bound(integ)
            with trio.fail_after(WAIT):
                async with trio.open_nursery() as n:
                    n.start_soon(sim.send_mo, "4917612345678", "12345", "x" * 300)
                    await wait_for(lambda: len(got) == 1)
                    # Part 1 is answered once stored for reassembly; the last part
                    # (which completed the message) not while on_mo runs: not
                    # once everything else has settled either.
                    await trio.testing.wait_all_tasks_blocked(cushion=0.05)
                    assert sim.stats.mo_acked == 1
                    release.set()
            assert sim.stats.mo_acked == 2


async def test_failing_callback_makes_smsc_redeliver() -> None:
    async def on_mo(m: InboundMessage) -> None:
        raise RuntimeError("store down")

    sink = Sink()
    async with simulator() as sim:
        integ = SmppIntegration(
            config(sim, binds=1, enquire_link_interval=3600),
            integration_id="it",
            on_mo=on_mo,
            on_event=sink.on_event,
        )
        async with integ:
            await wait_bound(integ)
            res = await sim.send_mo("4917612345678", "12345", "hi")
        assert set(res.statuses.values()) == {_core.ESME_RX_T_APPN}
