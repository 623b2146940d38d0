"""The SMSC simulator, driven over loopback by a raw client (our codec only)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import deque

import pytest
import trio
import trio.testing

from byosms import _core
from byosms._core import Framer, Pdu
from deadlines import WAIT, kill_after
from smpp_helpers import PASSWORD, SYSTEM_ID, simulator, wait_for

needs_text = pytest.mark.skipif(
    not hasattr(_core, "segment"), reason="byosms._core.segment (text branch) not built in"
)


class RawClient:
    """A bare SMPP client: bytes out, decoded PDUs in, nothing automatic
    except (optionally) deliver_sm_resp."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.framer = Framer()
        self.pending: deque = deque()
        self.seq = 100

    @classmethod
    async def connect(cls, sim) -> RawClient:
        return cls(await trio.open_tcp_stream("127.0.0.1", sim.port))

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def recv(self):
        with trio.fail_after(WAIT):  # a PDU that never comes fails the test
            while not self.pending:
                data = await self.stream.receive_some(65536)
                if not data:
                    raise EOFError
                self.pending.extend(self.framer.feed(bytes(data)))
        return self.pending.popleft()

    async def bind(self, bind_type="transceiver", system_id=SYSTEM_ID, password=PASSWORD):
        await self.send(
            Pdu(f"bind_{bind_type}", self.next_seq(), system_id=system_id, password=password).encode()
        )
        return await self.recv()

    async def submit(self, short_message=b"hello", **kw) -> int:
        seq = self.next_seq()
        src = kw.pop("source_addr", "12345")
        dst = kw.pop("destination_addr", "4915112345678")
        await self.send(_core.encode_submit_sm(seq, src, dst, short_message, **kw))
        return seq

    async def collect(self, n: int, ack: bool = True) -> list:
        out = []
        while len(out) < n:
            p = await self.recv()
            out.append(p)
            if ack and p.command_name == "deliver_sm":
                await self.send(_core.encode_deliver_sm_resp(p.sequence_number))
        return out

    async def aclose(self) -> None:
        await self.stream.aclose()


def by_name(pdus, name):
    return [p for p in pdus if p.command_name == name]


def receipt_of(p: Pdu):
    return _core.parse_receipt(
        p.short_message,
        receipted_message_id=p.tlv(_core.TLV_RECEIPTED_MESSAGE_ID).value,
        message_state=p.tlv(_core.TLV_MESSAGE_STATE).value,
        network_error_code=(t.value if (t := p.tlv(_core.TLV_NETWORK_ERROR_CODE)) else None),
    )


@pytest.mark.parametrize(
    "id_format,expected", [("hex", ["3e8", "3e9", "3ea"]), ("decimal", ["1000", "1001", "1002"])]
)
async def test_message_ids_hex_or_decimal(id_format, expected):
    async with simulator(id_format=id_format, first_id=1000) as sim:
        c = await RawClient.connect(sim)
        assert (await c.bind()).command_status == 0
        for _ in range(3):
            await c.submit(registered_delivery=0)
        got = await c.collect(3)
        assert [p.message_id for p in by_name(got, "submit_sm_resp")] == expected


async def test_receipt_fields():
    async with simulator() as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        seq = await c.submit(b"hello receipt text longer than twenty", source_addr="111",
                             destination_addr="222", source_addr_ton=5, dest_addr_ton=1)
        resp, dlr = await c.collect(2)
        assert (resp.command_name, resp.sequence_number, resp.command_status) == (
            "submit_sm_resp", seq, 0
        )
        assert dlr.command_name == "deliver_sm"
        assert dlr.esm_class == 0x04
        # A receipt goes from the recipient back to the sender.
        assert (dlr.source_addr, dlr.destination_addr) == ("222", "111")
        assert (dlr.source_addr_ton, dlr.dest_addr_ton) == (1, 5)
        r = receipt_of(dlr)
        assert r.message_id == resp.message_id
        assert (r.stat, r.state, r.is_success, r.err) == ("DELIVRD", 2, True, "000")
        assert r.text == b"hello receipt text l"  # the first 20 characters
        assert (r.sub, r.dlvrd) == (1, 1)
        assert len(r.submit_date) == 10 and len(r.done_date) == 10
        await wait_for(lambda: sim.stats.receipts_acked == 1)
        assert sim.stats.delivered == 1


async def test_receipt_per_segment_of_a_long_ucs2_message():
    text = "Привет, мир! " * 12  # 156 UCS-2 characters: three segments of <= 67
    data = text.encode("utf-16-be")
    chunks = [data[i : i + 134] for i in range(0, len(data), 134)]
    assert len(chunks) == 3
    async with simulator() as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        for i, chunk in enumerate(chunks, 1):
            udh = bytes([5, 0, 3, 0x42, len(chunks), i])
            await c.submit(udh + chunk, data_coding=8, esm_class=0x40)
        got = await c.collect(6)
    ids = [p.message_id for p in by_name(got, "submit_sm_resp")]
    receipts = by_name(got, "deliver_sm")
    assert len(set(ids)) == 3
    assert sorted(receipt_of(p).message_id for p in receipts) == sorted(ids)
    # UDH / UCS-2 bytes are not copied into the receipt text.
    assert all(receipt_of(p).text == b"" for p in receipts)


async def test_receipt_id_format_mismatch_still_shares_a_key():
    async with simulator(id_format="hex", receipt_id_format="decimal", first_id=123456) as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        await c.submit()
        resp, dlr = await c.collect(2)
    assert resp.message_id == "1e240"
    assert receipt_of(dlr).message_id == "123456"
    assert set(_core.receipt_id_keys("1e240")) & set(_core.receipt_id_keys("123456"))


@pytest.mark.parametrize(
    "final_state,stat,err,state",
    [
        ("UNDELIV", "UNDELIV", "001", 5),
        (("EXPIRED", "042"), "EXPIRED", "042", 3),
        ("REJECTD", "REJECTD", "001", 8),
    ],
)
async def test_failed_final_states(final_state, stat, err, state):
    async with simulator(final_state=final_state) as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        await c.submit()
        _, dlr = await c.collect(2)
        await wait_for(lambda: sim.stats.undelivered == 1)
    r = receipt_of(dlr)
    assert (r.stat, r.err, r.state, r.is_success, r.dlvrd) == (stat, err, state, False, 0)
    nec = dlr.tlv(_core.TLV_NETWORK_ERROR_CODE).value
    assert nec == bytes([3]) + int(err).to_bytes(2, "big")
    assert r.network_type == 3 and r.error_code == int(err)


async def test_weighted_and_callable_final_states():
    async with simulator(final_state={"DELIVRD": 1, ("UNDELIV", "005"): 1}, seed=7) as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        for _ in range(40):
            await c.submit()
        stats = {receipt_of(p).stat for p in by_name(await c.collect(80), "deliver_sm")}
    assert stats == {"DELIVRD", "UNDELIV"}

    def by_destination(pdu):
        return "REJECTD" if pdu.destination_addr.endswith("9") else "DELIVRD"

    async with simulator(final_state=by_destination) as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        await c.submit(destination_addr="4919")
        await c.submit(destination_addr="4910")
        dlrs = by_name(await c.collect(4), "deliver_sm")
    assert {(p.source_addr, receipt_of(p).stat) for p in dlrs} == {
        ("4919", "REJECTD"), ("4910", "DELIVRD")
    }
    with pytest.raises(ValueError, match="unknown receipt stat"):
        simulator(final_state="LOST")


async def test_registered_delivery_flags():
    async with simulator(final_state={"DELIVRD": 1, "UNDELIV": 1}, seed=3) as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        for _ in range(20):
            await c.submit(registered_delivery=0)
        for _ in range(20):
            await c.submit(registered_delivery=2)  # receipts on failure only
        got = []
        while len(by_name(got, "submit_sm_resp")) < 40:
            got += await c.collect(1)
        with trio.fail_after(WAIT):
            await trio.testing.wait_all_tasks_blocked(cushion=0.05)
        got += list(c.pending)
        dlrs = by_name(got, "deliver_sm")
    assert dlrs and all(receipt_of(p).stat == "UNDELIV" for p in dlrs)
    assert len(dlrs) < 20


async def test_receipt_delay_keeps_order_and_counts():
    async with simulator(receipt_delay=(0.05, 0.1), seed=1) as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        for _ in range(5):
            await c.submit()
        got = await c.collect(10)
    names = [p.command_name for p in got]
    assert names[:5] == ["submit_sm_resp"] * 5  # receipts wait for their delay
    assert names[5:] == ["deliver_sm"] * 5


async def test_receipt_on_another_bind_and_parking():
    async with simulator(receipt_route="other") as sim:
        tx = await RawClient.connect(sim)
        assert (await tx.bind("transmitter")).command_status == 0
        await tx.submit()
        [resp] = await tx.collect(1)
        # No receiving bind yet: the receipt waits.
        await wait_for(lambda: sim.stats.receipts_parked == 1)
        rx = await RawClient.connect(sim)
        await rx.bind("receiver")
        [dlr] = await rx.collect(1)
        assert receipt_of(dlr).message_id == resp.message_id
        # With two receiving binds, "other" avoids the submitting one.
        trx = await RawClient.connect(sim)
        await trx.bind("transceiver")
        await trx.submit()
        [resp2] = await trx.collect(1)
        [dlr2] = await rx.collect(1)
        assert receipt_of(dlr2).message_id == resp2.message_id


async def test_bind_state_checks_and_unknown_commands():
    async with simulator(accounts={"other": "pw2"}) as sim:
        c = await RawClient.connect(sim)
        seq = await c.submit()
        [early] = await c.collect(1)
        assert (early.sequence_number, early.command_status) == (seq, _core.ESME_RINVBNDSTS)
        assert (await c.bind("receiver")).command_status == 0
        assert (await c.bind("receiver")).command_status == _core.ESME_RALYBND
        await c.submit()
        [rx_submit] = await c.collect(1)
        assert rx_submit.command_status == _core.ESME_RINVBNDSTS
        await c.send(Pdu("query_sm", 9, message_id="1", source_addr="1").encode())
        [nack] = await c.collect(1)
        assert (nack.command_name, nack.sequence_number, nack.command_status) == (
            "generic_nack", 9, _core.ESME_RINVCMDID
        )
        await c.send(_core.encode_enquire_link(10))
        [el] = await c.collect(1)
        assert (el.command_name, el.sequence_number) == ("enquire_link_resp", 10)

        o = await RawClient.connect(sim)
        assert (await o.bind(system_id="other", password="pw2")).command_status == 0
        await o.submit(registered_delivery=0)
        await o.collect(1)
        assert sim.stats.system("other").submit_sm == 1
        assert sim.stats.system(SYSTEM_ID).submit_sm == 0
        assert sim.stats.binds == 2 and sim.stats.submit_sm == 1
        assert sim.stats.as_dict()["by_system"]["other"]["binds"] == 1


async def test_data_sm_is_answered_with_an_id_and_a_receipt():
    async with simulator(id_format="decimal", first_id=5) as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        await c.send(
            Pdu("data_sm", 7, source_addr="1", destination_addr="2", registered_delivery=1,
                tlvs=[_core.Tlv(_core.TLV_MESSAGE_PAYLOAD, b"payload")]).encode()
        )
        resp, dlr = await c.collect(2)
    assert (resp.command_name, resp.message_id) == ("data_sm_resp", "5")
    assert receipt_of(dlr).message_id == "5"
    assert sim.stats.data_sm == 1


async def test_record_keeps_the_last_n():
    async with simulator(record=2) as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        for i in range(3):
            await c.submit(b"m%d" % i, registered_delivery=0)
        await c.collect(3)
    assert [p.short_message for p in sim.received] == [b"m1", b"m2"]


async def test_throttle_queue_full_and_failure_faults():
    async with simulator() as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        sim.faults.throttle_next = 2
        sim.faults.queue_full_next = 1
        sim.faults.fail_next = 1
        sim.faults.fail_status = _core.ESME_RSUBMITFAIL
        for _ in range(5):
            await c.submit(registered_delivery=0)
        statuses = [p.command_status for p in await c.collect(5)]
        assert statuses == [
            _core.ESME_RTHROTTLED, _core.ESME_RTHROTTLED, _core.ESME_RMSGQFUL,
            _core.ESME_RSUBMITFAIL, 0,
        ]
        sim.faults.throttle_rate = 1.0
        await c.submit()
        [p] = await c.collect(1)
        assert p.command_status == _core.ESME_RTHROTTLED
        sim.faults.clear()
        await c.submit(registered_delivery=0)
        assert (await c.collect(1))[0].command_status == 0
        assert sim.stats.rejected == 5


async def test_fault_rates_are_fractions():
    async with simulator(seed=11) as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        sim.faults.fail_rate = 0.5
        for _ in range(200):
            await c.submit(registered_delivery=0)
        failed = sum(p.command_status != 0 for p in await c.collect(200))
    assert 60 < failed < 140


async def test_garbage_and_drop_faults():
    async with simulator() as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        sim.faults.garbage_next = 1
        await c.submit()
        with trio.fail_after(WAIT):
            data = await c.stream.receive_some(100)
        assert data == sim.faults.garbage

        d = await RawClient.connect(sim)
        await d.bind()
        sim.faults.drop_after = 2
        await d.submit(registered_delivery=0)
        await d.submit(registered_delivery=0)
        got = []
        with pytest.raises((EOFError, trio.BrokenResourceError)):
            while True:
                got.append(await d.recv())
        assert [p.command_name for p in got] == ["submit_sm_resp"]
        assert sim.stats.dropped == 1


async def test_slow_responses_let_receipts_overtake():
    async with simulator() as sim:
        sim.faults.response_delay = 0.1
        c = await RawClient.connect(sim)
        await c.bind()
        await c.submit()
        names = [p.command_name for p in await c.collect(2)]
    assert names == ["deliver_sm", "submit_sm_resp"]


async def test_simulator_sends_enquire_link():
    async with simulator(enquire_link_interval=0.01) as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        p = await c.recv()
        assert p.command_name == "enquire_link"


async def test_unbind_from_client():
    async with simulator() as sim:
        c = await RawClient.connect(sim)
        await c.bind()
        await c.send(Pdu("unbind", 50).encode())
        [p] = await c.collect(1)
        assert (p.command_name, p.sequence_number) == ("unbind_resp", 50)
        with trio.fail_after(WAIT):
            assert await c.stream.receive_some(10) == b""  # closed
        assert sim.stats.unbinds == 1


# --- MO ------------------------------------------------------------------


def udh_concat(sm: bytes) -> tuple[int, int, int, bytes]:
    """(reference, total, seq, payload) from a concatenation UDH, parsed here
    independently of the core."""
    udhl = sm[0]
    ies, payload = sm[1 : 1 + udhl], sm[1 + udhl :]
    i = 0
    while i < len(ies):
        iei, ln = ies[i], ies[i + 1]
        v = ies[i + 2 : i + 2 + ln]
        if iei == 0:
            return v[0], v[1], v[2], payload
        if iei == 8:
            return int.from_bytes(v[:2], "big"), v[2], v[3], payload
        i += 2 + ln
    raise AssertionError("no concatenation IE")


async def _mo(sim, text, **kw):
    c = await RawClient.connect(sim)
    await c.bind("receiver")
    async with trio.open_nursery() as nursery:
        result = []

        async def send():
            result.append(await sim.send_mo("4915112345678", "12345", text, **kw))

        nursery.start_soon(send)
        n = sim.stats.mo_sent
        await wait_for(lambda: sim.stats.mo_sent > n)
        got = await c.collect(sim.stats.mo_sent - n)
    return result[0], got


@needs_text
async def test_mo_single():
    async with simulator() as sim:
        res, [p] = await _mo(sim, "hello")
    assert p.short_message == b"hello" and p.esm_class == 0 and p.data_coding == 0
    assert res.statuses == {1: 0}


@needs_text
@pytest.mark.parametrize("concat,bits", [("udh8", 8), ("udh16", 16)])
async def test_mo_concatenated_out_of_order(concat, bits):
    text = "".join(chr(0x41 + i % 26) for i in range(400))  # GSM: 3 parts
    async with simulator() as sim:
        res, got = await _mo(sim, text, concat=concat, order="reverse", reference=0x1234 if bits == 16 else 0x12)
    parts = [udh_concat(p.short_message) for p in got]
    assert [seq for _, _, seq, _ in parts] == [3, 2, 1]
    assert {(ref, total) for ref, total, _, _ in parts} == {(res.reference, 3)}
    assert all(p.esm_class & 0x40 for p in got)
    assert b"".join(pl for *_, pl in sorted(parts, key=lambda x: x[2])).decode() == text
    assert res.statuses == {3: 0, 2: 0, 1: 0}


@needs_text
async def test_mo_sar_with_a_dropped_part():
    text = "x" * 400
    async with simulator() as sim:
        res, got = await _mo(sim, text, concat="sar", order=[2, 1, 3], drop_parts=[3])
    assert res.parts == [2, 1] and res.count == 3
    seqs = [p.tlv(_core.TLV_SAR_SEGMENT_SEQNUM).as_int() for p in got]
    assert seqs == [2, 1]
    assert {p.tlv(_core.TLV_SAR_TOTAL_SEGMENTS).as_int() for p in got} == {3}
    assert {p.tlv(_core.TLV_SAR_MSG_REF_NUM).as_int() for p in got} == {res.reference}
    assert all(p.esm_class & 0x40 == 0 for p in got)


@needs_text
async def test_mo_ucs2():
    async with simulator() as sim:
        _, [p] = await _mo(sim, "こんにちは")
    assert p.data_coding == 8 and p.short_message.decode("utf-16-be") == "こんにちは"


@needs_text
async def test_mo_parts_shuffled_and_missing_reassemble_with_the_core():
    text = "Grüße aus Köln! " * 20  # 320 GSM characters: 3 parts
    async with simulator(seed=5) as sim:
        res, got = await _mo(sim, text, concat="udh16", order="shuffle")
        res2, got2 = await _mo(sim, text, concat="udh8", drop_parts=[2])
    r = _core.Reassembler()
    outcomes = [r.add_short_message(p.source_addr, p.destination_addr, p.short_message, 0) for p in got]
    assert [o[0] for o in outcomes] == ["pending", "pending", "complete"]
    parts = outcomes[-1][1]
    assert _core.decode_text(b"".join(_core.parse_udh(p).payload for p in parts), "gsm_0338") == text
    for p in got2:
        assert r.add_short_message(p.source_addr, p.destination_addr, p.short_message, 0)[0] == "pending"
    [expired] = r.expire(60_000, 30_000)
    assert res2.parts == [1, 3] and res2.count == 3
    assert (expired.reference, expired.missing, expired.received) == (res2.reference, [2], [1, 3])


async def test_mo_needs_a_receiving_bind():
    async with simulator() as sim:
        with pytest.raises(RuntimeError, match="no receiving bind"):
            await sim.send_mo("1", "2", "x")


# --- CLI and interop -----------------------------------------------------------


def test_cli_help_documents_every_flag():
    out = subprocess.run(
        [sys.executable, "-m", "byosms", "smsc-sim", "--help"], capture_output=True, text=True,
        check=True, timeout=WAIT,
    ).stdout
    for flag in ("--host", "--port", "--tls-cert", "--tls-key", "--tls-self-signed", "--system-id",
                 "--password", "--id-format", "--receipt-delay", "--fail-rate", "--throttle-rate",
                 "--queue-full-rate", "--final-state", "--response-delay"):
        assert flag in out


def test_smpplib_client_against_the_cli_simulator():
    """An SMPP client we did not write binds, submits and gets its receipt,
    against `byosms smsc-sim` in a subprocess."""
    import smpplib.client
    import smpplib.consts

    proc = subprocess.Popen(
        [sys.executable, "-m", "byosms", "smsc-sim", "--port", "0", "--system-id", "lib",
         "--password", "libpw", "--id-format", "decimal"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        with kill_after(proc):
            line = proc.stdout.readline()
        assert line.startswith("listening on "), line
        port = int(line.split()[2].rsplit(":", 1)[1])
        client = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
        sent, received = [], []
        client.set_message_sent_handler(lambda pdu: sent.append(pdu))
        client.set_message_received_handler(lambda pdu: received.append(pdu))
        client.connect()
        client.bind_transceiver(system_id="lib", password="libpw")
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_INTL,
            source_addr="12345",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            destination_addr="4915112345678",
            short_message=b"hello from smpplib",
            registered_delivery=1,
        )
        deadline = time.monotonic() + WAIT
        while not (sent and received):
            assert time.monotonic() < deadline, f"no answer and receipt in {WAIT:g} s"
            client.read_once()
        client.unbind()
        client.disconnect()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    message_id = sent[0].message_id.decode()
    assert message_id.isdigit()
    dlr = received[0]
    assert int(dlr.esm_class) == 0x04
    assert dlr.receipted_message_id.decode().rstrip("\0") == message_id
    assert b"stat:DELIVRD" in dlr.short_message
    assert int(dlr.message_state) == 2


async def test_smpplib_client_in_a_thread():
    """smpplib (blocking) in a worker thread against the in-process simulator."""
    import smpplib.client

    async with simulator(id_format="hex") as sim:
        port = sim.port

        def run_client():
            client = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
            sent, received = [], []
            client.set_message_sent_handler(lambda pdu: sent.append(pdu))
            client.set_message_received_handler(lambda pdu: received.append(pdu))
            client.connect()
            client.bind_transceiver(system_id=SYSTEM_ID, password=PASSWORD)
            for i in range(3):
                client.send_message(source_addr="1", destination_addr="2",
                                    short_message=b"m%d" % i, registered_delivery=1)
            deadline = time.monotonic() + WAIT
            while len(sent) < 3 or len(received) < 3:
                assert time.monotonic() < deadline, f"not 3 answers and receipts in {WAIT:g} s"
                client.read_once()
            client.unbind()
            client.disconnect()
            return [p.message_id.decode() for p in sent], [
                p.receipted_message_id.decode().rstrip("\0") for p in received
            ]

        ids, receipted = await trio.to_thread.run_sync(run_client)
        assert sorted(ids) == sorted(receipted)
        assert sim.stats.submit_sm == 3 and sim.stats.receipts_acked == 3
    assert threading.active_count() >= 1
