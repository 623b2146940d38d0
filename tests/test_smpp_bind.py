"""One SMPP bind on trio against the simulator: real sockets, real TLS."""

from __future__ import annotations

import ssl

import pytest
import trio
import trio.testing
import trustme

from byosms import _core
from byosms._core import Framer, Pdu
from byosms.providers.smpp.bind import BindError, BindLost, PduRejected, ResponseTimeout
from byosms.providers.smpp.session import State
from deadlines import WAIT
from smpp_helpers import PASSWORD, SYSTEM_ID, Recorder, config, make_bind, server_context, simulator, wait_for


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca, tmp_path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


async def test_tls_bind_submit_receipt_and_unbind_on_shutdown(ca, ca_file):
    receipts = []

    async def on_request(pdu):
        receipts.append(pdu)
        return 0

    rec = Recorder()
    async with simulator(ssl_context=server_context(ca)) as sim:
        cfg = config(sim, ca_file=ca_file)
        assert cfg.transport == "tls"
        bind = make_bind(cfg, rec, on_request=on_request)
        async with trio.open_nursery() as nursery:
            await nursery.start(bind.run)
            assert bind.state is State.BOUND_TRX
            assert bind.smsc_system_id == "byosms-sim"
            resp = await bind.submit_sm("12345", "4915112345678", b"hello over TLS")
            assert resp.command_status == 0
            await wait_for(lambda: len(receipts) == 1)
            r = _core.parse_receipt(
                receipts[0].short_message,
                receipted_message_id=receipts[0].tlv(_core.TLV_RECEIPTED_MESSAGE_ID).value,
            )
            assert r.message_id == resp.pdu.message_id and r.is_success
            await wait_for(lambda: sim.stats.receipts_acked == 1)
            nursery.cancel_scope.cancel()
        # Shutdown unbound politely before closing.
        assert sim.stats.unbinds == 1
    assert rec.kinds() == ["bind_up", "bind_down"]
    assert rec.events[-1].cause == "shutdown"


@pytest.mark.parametrize(
    "overrides,status",
    [
        ({"password": "wrong"}, _core.ESME_RINVPASWD),
        ({"system_id": "nobody"}, _core.ESME_RINVSYSID),
    ],
)
async def test_auth_failures(overrides, status):
    rec = Recorder()
    async with simulator() as sim:
        bind = make_bind(config(sim, **overrides), rec)
        async with trio.open_nursery() as nursery:
            with pytest.raises(BindError) as ei:
                await nursery.start(bind.run)
    assert ei.value.cause == "auth_failed"
    assert ei.value.command_status == status
    [ev] = rec.events
    assert (ev.kind, ev.cause, ev.command_status) == ("bind_failed", "auth_failed", status)
    assert ev.command_status_name == _core.status_name(status)
    assert PASSWORD not in repr(ev) and "wrong" not in repr(ev)


async def test_bind_refused_when_the_smsc_has_enough_binds():
    rec = Recorder()
    async with simulator(max_binds=1) as sim:
        async with trio.open_nursery() as nursery:
            await nursery.start(make_bind(config(sim)).run)
            with pytest.raises(BindError) as ei:
                await nursery.start(make_bind(config(sim), rec).run)
            nursery.cancel_scope.cancel()
    assert (ei.value.cause, ei.value.command_status) == ("bind_refused", _core.ESME_RBINDFAIL)
    assert rec.events[0].kind == "bind_failed"


async def _expect_bind_error(cfg, cause, **kw) -> BindError:
    rec = Recorder()
    bind = make_bind(cfg, rec, **kw)
    async with trio.open_nursery() as nursery:
        with pytest.raises(BindError) as ei:
            await nursery.start(bind.run)
    assert ei.value.cause == cause, ei.value
    assert [(e.kind, e.cause) for e in rec.events] == [("bind_failed", cause)]
    return ei.value


async def test_tls_failure_untrusted_certificate(ca):
    # No ca_file: the system store does not trust the test CA.
    async with simulator(ssl_context=server_context(ca)) as sim:
        err = await _expect_bind_error(config(sim), "tls_failure")
    assert "certificate" in str(err).lower()
    assert sim.stats.binds == 0


async def test_tls_failure_wrong_host_name(ca, ca_file):
    async with simulator(ssl_context=server_context(ca, "smsc.example")) as sim:
        await _expect_bind_error(config(sim, ca_file=ca_file), "tls_failure")
        # The same server is fine once SNI / verification use its real name.
        async with trio.open_nursery() as nursery:
            await nursery.start(
                make_bind(config(sim, ca_file=ca_file, server_hostname="smsc.example")).run
            )
            nursery.cancel_scope.cancel()


async def test_tls_to_a_plain_tcp_smsc_is_a_tls_failure():
    async with simulator() as sim:
        await _expect_bind_error(config(sim, transport="tls"), "tls_failure", connect_timeout=5)


async def test_mutual_tls(ca, ca_file, tmp_path):
    ctx = server_context(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(ctx)
    client = ca.issue_cert("esme.example")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    client.cert_chain_pems[0].write_to_path(str(cert))
    client.private_key_pem.write_to_path(str(key))
    async with simulator(ssl_context=ctx) as sim:
        async with trio.open_nursery() as nursery:
            bind = make_bind(
                config(sim, ca_file=ca_file, client_cert_file=str(cert), client_key_file=str(key))
            )
            await nursery.start(bind.run)
            assert (await bind.submit_sm("1", "2", b"mtls")).command_status == 0
            nursery.cancel_scope.cancel()
        # Without a client certificate the server refuses the connection.
        await _expect_bind_error(config(sim, ca_file=ca_file), "tls_failure")


async def test_connection_refused():
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    await listener.aclose()
    sim = simulator()
    sim.port = port
    await _expect_bind_error(config(sim), "connection_refused")


async def test_bind_timeout():
    async with simulator() as sim:
        sim.faults.ignore_binds = True
        err = await _expect_bind_error(config(sim), "timeout", bind_timeout=0.2)
    assert "bind_resp" in err.detail


async def _run_until_lost(bind, act) -> BindLost:
    async def actor():
        await wait_for(lambda: bind.is_bound)
        await act()

    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor)
            with pytest.raises(BindLost) as ei:
                await bind.run()
    return ei.value


async def test_enquire_link_timeout_declares_the_peer_dead():
    rec = Recorder()
    async with simulator() as sim:
        sim.faults.ignore_enquire_link = True
        bind = make_bind(
            config(sim, enquire_link_interval=0.05, enquire_link_timeout=0.1), rec
        )

        async def nothing():
            pass

        lost = await _run_until_lost(bind, nothing)
    assert lost.cause == "timeout"
    assert rec.kinds() == ["bind_up", "enquire_link_timeout", "bind_down"]
    assert rec.events[-1].cause == "timeout"
    assert sim.stats.enquire_link >= 1


async def test_enquire_link_keeps_a_quiet_bind_alive():
    async with simulator() as sim:
        bind = make_bind(config(sim, enquire_link_interval=0.02, enquire_link_timeout=5))
        async with trio.open_nursery() as nursery:
            await nursery.start(bind.run)
            await wait_for(lambda: sim.stats.enquire_link >= 3)
            assert bind.is_bound
            nursery.cancel_scope.cancel()


async def test_window_full_waits_for_a_free_slot():
    rec = Recorder()
    async with simulator() as sim:
        bind = make_bind(config(sim, window=2), rec)
        results = []
        async with trio.open_nursery() as nursery:
            await nursery.start(bind.run)
            sim.faults.pause_responses = True

            async def one(i):
                results.append((i, (await bind.submit_sm("1", "2", b"m%d" % i)).command_status))

            for i in range(3):
                nursery.start_soon(one, i)
            await wait_for(lambda: sim.stats.submit_sm == 2)
            with trio.fail_after(WAIT):
                await trio.testing.wait_all_tasks_blocked(cushion=0.05)
            # The third submit is held back by the window, not sent.
            assert sim.stats.submit_sm == 2
            assert bind.session.in_flight == 2
            assert "window_full" in rec.kinds()
            sim.release_responses()
            await wait_for(lambda: len(results) == 3)
            assert sorted(results) == [(0, 0), (1, 0), (2, 0)]
            nursery.cancel_scope.cancel()


async def test_response_timeout_then_late_response_is_tolerated():
    async with simulator() as sim:
        bind = make_bind(config(sim))
        async with trio.open_nursery() as nursery:
            await nursery.start(bind.run)
            sim.faults.pause_responses = True
            with pytest.raises(ResponseTimeout):
                await bind.submit_sm("1", "2", b"slow", timeout=0.1)
            assert bind.session.in_flight == 0
            sim.release_responses()
            await wait_for(lambda: bind.late_responses == 1)
            assert (await bind.submit_sm("1", "2", b"fast")).command_status == 0
            nursery.cancel_scope.cancel()


async def test_unbind_from_the_smsc_is_answered_and_ends_run():
    rec = Recorder()
    async with simulator() as sim:
        bind = make_bind(config(sim), rec)

        async def actor():
            await wait_for(lambda: bind.is_bound)
            sim.unbind()

        with trio.fail_after(WAIT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(actor)
                await bind.run()  # returns normally: an orderly end
        await wait_for(lambda: not sim.connections)
    assert rec.kinds() == ["bind_up", "bind_down"]
    assert rec.events[-1].cause == "unbind"
    assert bind.state is State.CLOSED


async def test_dropped_connection_fails_outstanding_requests():
    rec = Recorder()
    async with simulator() as sim:
        bind = make_bind(config(sim), rec)
        outcome = []

        async def act():
            sim.faults.pause_responses = True

            async def submit():
                try:
                    await bind.submit_sm("1", "2", b"x")
                except BindLost as e:
                    outcome.append(e.cause)

            async with trio.open_nursery() as n:
                n.start_soon(submit)
                await wait_for(lambda: sim.stats.submit_sm == 1)
                sim.drop_connections()

        lost = await _run_until_lost(bind, act)
    assert lost.cause == "connection_lost"
    assert outcome == ["connection_lost"]
    assert rec.kinds() == ["bind_up", "bind_down"]
    assert rec.events[-1].cause == "connection_lost"
    with pytest.raises(BindLost):
        await bind.submit_sm("1", "2", b"after")


async def test_garbage_from_the_smsc_is_a_protocol_error():
    rec = Recorder()
    async with simulator() as sim:
        bind = make_bind(config(sim), rec)

        async def act():
            sim.send_garbage()

        lost = await _run_until_lost(bind, act)
    assert lost.cause == "protocol_error"
    assert rec.kinds() == ["bind_up", "protocol_error", "bind_down"]
    assert rec.events[1].command_status == _core.ESME_RINVCMDLEN


async def test_deliver_sm_is_answered_only_after_the_handler_returns():
    gate = trio.Event()
    seen = []

    async def on_request(pdu):
        seen.append(pdu)
        await gate.wait()
        return 0

    async with simulator() as sim:
        bind = make_bind(config(sim), on_request=on_request)
        async with trio.open_nursery() as nursery:
            await nursery.start(bind.run)
            await bind.submit_sm("1", "2", b"x")
            await wait_for(lambda: len(seen) == 1)
            with trio.fail_after(WAIT):
                await trio.testing.wait_all_tasks_blocked(cushion=0.05)
            assert sim.stats.receipts_acked == 0
            gate.set()
            await wait_for(lambda: sim.stats.receipts_acked == 1)
            nursery.cancel_scope.cancel()


async def test_failing_handler_answers_temporary_error_and_bind_survives():
    async def on_request(pdu):
        raise RuntimeError("store down")

    rec = Recorder()
    async with simulator() as sim:
        bind = make_bind(config(sim), rec, on_request=on_request)
        async with trio.open_nursery() as nursery:
            await nursery.start(bind.run)
            await bind.submit_sm("1", "2", b"x")
            await wait_for(lambda: "protocol_error" in rec.kinds())
            assert bind.is_bound
            assert (await bind.submit_sm("1", "2", b"y")).command_status == 0
            nursery.cancel_scope.cancel()


async def test_receipt_before_response():
    log = []

    async def on_request(pdu):
        log.append(("receipt", pdu.tlv(_core.TLV_RECEIPTED_MESSAGE_ID).as_str()))
        return 0

    async with simulator() as sim:
        sim.faults.receipt_before_response_next = 1
        bind = make_bind(config(sim), on_request=on_request)
        async with trio.open_nursery() as nursery:
            await nursery.start(bind.run)
            resp = await bind.submit_sm("1", "2", b"x")
            log.append(("resp", resp.pdu.message_id))
            nursery.cancel_scope.cancel()
    assert log == [("receipt", resp.pdu.message_id), ("resp", resp.pdu.message_id)]


async def test_error_statuses_are_responses_not_exceptions():
    async with simulator() as sim:
        bind = make_bind(config(sim))
        async with trio.open_nursery() as nursery:
            await nursery.start(bind.run)
            sim.faults.throttle_next = 1
            sim.faults.queue_full_next = 1
            sim.faults.fail_next = 1
            sim.faults.fail_status = _core.ESME_RINVDSTADR
            statuses = [(await bind.submit_sm("1", "2", b"x")).command_status for _ in range(4)]
            nursery.cancel_scope.cancel()
    assert statuses == [_core.ESME_RTHROTTLED, _core.ESME_RMSGQFUL, _core.ESME_RINVDSTADR, 0]


async def test_outbind_then_bind_receiver():
    """The SMSC connects to us, sends outbind; we answer with bind_receiver."""
    ours, theirs = trio.testing.memory_stream_pair()
    framer = Framer()
    rec = Recorder()
    delivered = []

    async def on_request(pdu):
        delivered.append(pdu.short_message)
        return 0

    async def read_pdu():
        while True:
            items = framer.feed(bytes(await theirs.receive_some(4096)))
            if items:
                assert len(items) == 1
                return items[0]

    async def smsc():
        await theirs.send_all(Pdu("outbind", 1, system_id="smsc", password="pw").encode())
        req = await read_pdu()
        assert (req.command_name, req.system_id, req.password) == ("bind_receiver", SYSTEM_ID, PASSWORD)
        await theirs.send_all(
            Pdu("bind_receiver_resp", req.sequence_number, system_id="smsc").encode()
            + _core.encode_deliver_sm(2, "4915", "123", b"MO after outbind")
        )
        resp = await read_pdu()
        assert (resp.command_name, resp.sequence_number) == ("deliver_sm_resp", 2)
        await theirs.send_all(Pdu("unbind", 3).encode())
        resp = await read_pdu()
        assert resp.command_name == "unbind_resp"
        await theirs.aclose()

    sim = simulator(port=2776)  # not started: only its address goes into the config
    cfg = config(sim, bind_type="transmitter", transport="tcp")
    bind = make_bind(cfg, rec, on_request=on_request)
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(smsc)
            await bind.run(stream=ours, wait_outbind=True)
    assert delivered == [b"MO after outbind"]
    assert bind.session.bind_type == "receiver"
    assert rec.kinds() == ["bind_up", "bind_down"]


async def test_undecodable_response_fails_only_that_request():
    """A fake SMSC answers one submit_sm with a malformed body."""
    ours, theirs = trio.testing.memory_stream_pair()
    framer = Framer()

    async def smsc():
        while True:
            data = await theirs.receive_some(4096)
            if not data:
                return
            for p in framer.feed(bytes(data)):
                seq = p.sequence_number
                if p.command_name == "bind_transceiver":
                    await theirs.send_all(Pdu("bind_transceiver_resp", seq, system_id="x").encode())
                elif p.command_name == "submit_sm" and p.short_message == b"bad":
                    body = b"A" * 70 + b"\0"
                    await theirs.send_all(
                        (16 + len(body)).to_bytes(4, "big") + (0x80000004).to_bytes(4, "big")
                        + bytes(4) + seq.to_bytes(4, "big") + body
                    )
                elif p.command_name == "submit_sm":
                    await theirs.send_all(_core.encode_submit_sm_resp(seq, "ok"))
                elif p.command_name == "unbind":
                    await theirs.send_all(Pdu("unbind_resp", seq).encode())

    sim = simulator(port=2776)  # not started: only its address goes into the config
    # The fake SMSC is cancelled with us and won't answer our unbind: don't wait long.
    bind = make_bind(config(sim), unbind_timeout=0.05)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(smsc)
        await nursery.start(lambda task_status: bind.run(stream=ours, task_status=task_status))
        with pytest.raises(PduRejected):
            await bind.submit_sm("1", "2", b"bad")
        assert (await bind.submit_sm("1", "2", b"good")).pdu.message_id == "ok"
        assert bind.session.in_flight == 0
        nursery.cancel_scope.cancel()


def test_connect_failure_causes():
    import errno
    import socket

    from byosms.providers.smpp.bind import _connect_cause

    assert _connect_cause(socket.gaierror(-2, "Name or service not known")) == "dns_failure"
    # trio's "all attempts to connect failed" wraps the per-address errors.
    wrapped = OSError("all attempts to connect to h:1 failed")
    wrapped.__cause__ = ExceptionGroup("x", [ConnectionRefusedError(errno.ECONNREFUSED, "refused")])
    assert _connect_cause(wrapped) == "connection_refused"
    assert _connect_cause(OSError(errno.EHOSTUNREACH, "no route")) == "other"
