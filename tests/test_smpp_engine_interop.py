"""Our engine against an SMSC we did not write: the smpp34 package's asyncio
Server, in a subprocess (trio and asyncio don't share a process's loop).
smpp34's Server offers no TLS, so the TLS test puts a terminator we did not
write in front of it: socat (installed by .ci/run), or, where socat is
missing, OpenSSL through Python's ssl module (tests/tls_terminator.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from byosms.providers.smpp.messages import DeliveryReceipt, OutboundMessage, SubmitResult
from byosms.providers.smpp.supervisor import SmppIntegration
from byosms.schemas.smpp import decode_smpp_config
from deadlines import WAIT, kill_after

pytest.importorskip("smpp34")

SCRIPT = Path(__file__).with_name("smpp34_smsc.py")
TERMINATOR = Path(__file__).with_name("tls_terminator.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smpp34_smsc():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        with kill_after(proc):
            line = proc.stdout.readline()
        assert line.startswith("listening"), line
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=WAIT)


def _wait_listening(port: int, proc: subprocess.Popen) -> None:
    """socat prints nothing when ready: poll its port (bounded)."""
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert proc.poll() is None, "TLS terminator exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("TLS terminator did not listen")


@pytest.fixture
def smpp34_smsc_tls(smpp34_smsc: int, tmp_path):
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file, ca_file = (tmp_path / "cert.pem", tmp_path / "key.pem",
                                    tmp_path / "ca.pem")
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(cert_file), append=True)
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    port = free_port()
    if shutil.which("socat"):
        cmd = ["socat", f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={cert_file},"
               f"key={key_file},verify=0", f"TCP:127.0.0.1:{smpp34_smsc}"]
        proc = subprocess.Popen(cmd)
        _wait_listening(port, proc)
    else:
        proc = subprocess.Popen([sys.executable, str(TERMINATOR), str(port), str(smpp34_smsc),
                                 str(cert_file), str(key_file)], stdout=subprocess.PIPE, text=True)
        with kill_after(proc):
            assert proc.stdout.readline().startswith("listening")
    try:
        yield port, str(ca_file)
    finally:
        proc.kill()
        proc.wait(timeout=WAIT)


async def test_engine_binds_submits_and_correlates_receipts_over_smpp34(smpp34_smsc: int) -> None:
    await _exchange({"port": smpp34_smsc, "transport": "tcp"})


async def test_tls_bind_to_smpp34_exchanges_messages_and_receipts(smpp34_smsc_tls) -> None:
    port, ca_file = smpp34_smsc_tls
    events = await _exchange({"port": port, "transport": "tls", "ca_file": ca_file,
                              "server_hostname": "localhost"})
    assert not [e for e in events if e.kind == "bind_failed"]


async def _exchange(conn: dict) -> list:
    cfg = decode_smpp_config({
        "host": "127.0.0.1", **conn,
        "system_id": "byosms", "password": "pw", "binds": 2,
        "enquire_link_interval": 3600,
    })
    results: list[SubmitResult] = []
    receipts: list[DeliveryReceipt] = []
    events = []
    integ = SmppIntegration(
        cfg, integration_id="interop", on_event=events.append,
        on_submit_result=results.append, on_receipt=receipts.append, rate_limit=False,
    )
    with trio.fail_after(WAIT):  # a hang is a failure, not a timing assert
        async with integ:
            await integ.wait_bound(2)
            async with trio.open_nursery() as n:
                for i in range(20):
                    n.start_soon(integ.submit, OutboundMessage(
                        message_id=f"m{i}", source="+4915100000001",
                        destination="+4915112345678", text=f"interop {i} " + "é" * (i * 10)))
            while len(receipts) < len(results):
                await trio.sleep(0.01)
    assert all(r.ok for r in results) and len(results) >= 20
    assert {r.segment_id for r in receipts} == {r.segment_id for r in results}
    assert all(r.state_name == "DELIVERED" and r.generic_code == 0 for r in receipts)
    by_msg: dict[str, str] = {}
    for r in receipts:
        by_msg[r.message_id] = r.message_state  # the last receipt of each message
    assert set(by_msg.values()) == {"delivered"}
    assert [e.kind for e in events].count("bind_up") == 2
    return events
