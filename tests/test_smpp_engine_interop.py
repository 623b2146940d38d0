"""Our engine against an SMSC we did not write: the smpp34 package's asyncio
Server, in a subprocess (trio and asyncio don't share a process's loop).
smpp34's Server offers no TLS, so this exchange is plain TCP."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from byosms.providers.smpp.messages import DeliveryReceipt, OutboundMessage, SubmitResult
from byosms.providers.smpp.supervisor import SmppIntegration
from byosms.schemas.smpp import decode_smpp_config

pytest.importorskip("smpp34")

SCRIPT = Path(__file__).with_name("smpp34_smsc.py")


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
        line = proc.stdout.readline()
        assert line.startswith("listening"), line
        yield port
    finally:
        proc.kill()
        proc.wait()


async def test_engine_binds_submits_and_correlates_receipts_over_smpp34(smpp34_smsc: int) -> None:
    cfg = decode_smpp_config({
        "host": "127.0.0.1", "port": smpp34_smsc, "transport": "tcp",
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
    with trio.fail_after(30):  # a hang is a failure, not a timing assert
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
