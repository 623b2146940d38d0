"""Promises of the pipeline for SMPP integrations, through `byosms serve`
against the SMSC simulator running in this test (issue 14, "Found"):

- S16: `GET .../addresses` reports the binds' real local addresses;
- keyword auto-replies go through the same acceptor as every send: the
  integration's concatenation method (SAR here), not a fixed one;
- a segment whose final receipt never comes fails after the integration's
  receipt_timeout with generic code 9 and a `receipt_timeout` event.
"""

from __future__ import annotations

import trio

from byosms import _core
from byosms.schemas import api
from byosms.testing.smsc import SmscSimulator
from serve_harness import WAIT, serve

NUMBER = "+14155550100"
PHONE = "+14155550123"


def smpp_config(port: int, *, extra: str = "") -> str:
    return f"""
[store]
path = "smpp.db"
[[integrations]]
id = "carrier"
provider = "smpp"
[integrations.config]
host = "127.0.0.1"
port = {port}
transport = "tcp"
system_id = "byosms"
password = "secret"
binds = 2
{extra}
[[numbers]]
number = "{NUMBER}"
integration = "carrier"
"""


async def bound(gw, count: int) -> None:
    def up(ev: dict) -> bool:
        return ev["payload"].get("kind") == "bind_up"
    with trio.fail_after(WAIT):
        while len([e for e in await gw.events("operational") if up(e)]) < count:
            await trio.sleep(0.05)


async def test_addresses_are_the_binds_local_addresses(tmp_path):
    sim = SmscSimulator(record=100)
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.serve)
        async with serve(tmp_path, smpp_config(sim.port)) as gw:
            await bound(gw, 2)
            r = await gw.admin("GET", "/integrations/carrier/addresses")
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["source"] == "binds", body
            assert len(body["addresses"]) == 2
            for a in body["addresses"]:
                host, _, port = a.rpartition(":")
                assert host == "127.0.0.1" and 1024 <= int(port) <= 65535
            assert len(set(body["addresses"])) == 2  # one per bind, each its own port
        nursery.cancel_scope.cancel()


async def test_keyword_reply_uses_the_integrations_concatenation(tmp_path):
    sim = SmscSimulator(record=100, receipt_delay=0.01)
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.serve)
        async with serve(tmp_path, smpp_config(sim.port, extra='concatenation = "sar"')) as gw:
            await bound(gw, 2)
            # A short code takes its own keywords (N4): a HELP reply of two segments.
            long_help = ("Help: " + "call us any time on 0800 555 0100, " * 6).strip()
            r = await gw.admin("POST", "/numbers", json={
                "integration": "carrier", "sender_id": "12345", "type": "short_code",
                "country": "US", "keywords": {
                    "help": ["HELP"], "help_reply": long_help,
                    "opt_out": ["STOP"], "opt_out_reply": "You are unsubscribed.",
                    "opt_in": ["START"], "opt_in_reply": "You are subscribed again."}})
            assert r.status_code == 201, r.text
            await sim.send_mo(PHONE[1:], "12345", "STOP")
            await sim.send_mo(PHONE[1:], "12345", "HELP")
            with trio.fail_after(WAIT):
                while True:
                    texts = [p for p in sim.received if p.command_name == "submit_sm"]
                    if len(texts) >= 1 + 2:
                        break
                    await trio.sleep(0.05)
            help_parts = [p for p in texts if p.tlv(_core.TLV_SAR_MSG_REF_NUM) is not None]
            assert len(help_parts) == 2, [p.short_message for p in texts]
            assert all(not (p.esm_class & 0x40) for p in texts)  # no UDH: SAR TLVs
            assert sorted(p.tlv(_core.TLV_SAR_SEGMENT_SEQNUM).as_int()
                          for p in help_parts) == [1, 2]
        nursery.cancel_scope.cancel()


async def test_a_receipt_that_never_comes_times_out(tmp_path):
    # The SMSC answers every submit with an intermediate receipt only.
    sim = SmscSimulator(record=100, receipt_delay=0.01, final_state="ENROUTE")
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.serve)
        async with serve(tmp_path, smpp_config(sim.port, extra="receipt_timeout = 2")) as gw:
            await bound(gw, 1)
            async with gw.client(auto_ack=True) as c:
                sent = await c.send(PHONE, "where is my receipt", from_=NUMBER)
                with trio.fail_after(WAIT):
                    async for ev in c.events():
                        if isinstance(ev, api.Status) and ev.message_id == sent.message_id \
                                and ev.segment is None and ev.state == "failed":
                            break
                assert (ev.generic_code, ev.generic_cause) == (9, "RECEIPT_TIMEOUT")
            ev = await gw.wait_event(lambda e: e["payload"].get("kind") == "receipt_timeout",
                                     type_="operational")
            assert ev["payload"]["integration"] == "carrier"
        nursery.cancel_scope.cancel()
