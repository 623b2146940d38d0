"""A Vibes integration through `byosms serve` and the websocket API against
VibesFake (issue 16): GSM, UCS-2 and long messages delivered, a failed one
with its mapped code, an inbound message (current and legacy forms), STOP
recorded and answered by byosms, and the import of a non-US/Canada number
refused (Vibes serves US and Canada only)."""

from __future__ import annotations

import pytest
import trio

from byosms.client import Rejected
from byosms.schemas import api
from byosms.testing.vibes_fake import VibesFake
from serve_harness import WAIT, finals, free_port, serve

NUMBER = "+14155550100"
PHONE = "+13125550123"
DEAD = "+13125550124"


def config(fake: VibesFake, web: int) -> str:
    return f"""
[store]
path = "vb.db"
[[integrations]]
id = "vb"
provider = "vibes"
[integrations.config]
api_base = "{fake.base_url}"
username = "{fake.username}"
password = "{fake.password}"
public_base_url = "http://127.0.0.1:{web}"
allowed_ips = ["127.0.0.0/8", "::1"]
backoff = 0.01
[[numbers]]
number = "{NUMBER}"
integration = "vb"
"""



async def test_vibes_through_serve(tmp_path):
    async with VibesFake() as fake:
        web = free_port()
        fake.outcome(DEAD, ["System", "Carrier"], error_code=9)
        async with serve(tmp_path, config(fake, web), web_port=web) as gw:
            async with gw.client(auto_ack=True) as c:
                gsm = await c.send(PHONE, "hello vibes", from_=NUMBER)
                ucs2 = await c.send(PHONE, "你好，世界", from_=NUMBER)
                long = await c.send(PHONE, "z" * 300, from_=NUMBER)
                bad = await c.send(DEAD, "to a blocked number", from_=NUMBER)
                assert (gsm.encoding, ucs2.encoding, long.segments) == ("gsm7", "ucs2", 2)
                got = await finals(c, {gsm.message_id, ucs2.message_id, long.message_id,
                                       bad.message_id})
                assert {got[m].state for m in (gsm.message_id, ucs2.message_id,
                                               long.message_id)} == {"delivered"}
                assert (got[bad.message_id].generic_code, got[bad.message_id].generic_cause,
                        got[bad.message_id].vendor_code) == (10, "MESSAGE_BLOCKED", "9")
                # One send per message, named by our id; Vibes splits itself.
                assert len(fake.messages) == 4
                by_ours = {m["submitterMessageId"]: m for m in fake.messages.values()}
                assert by_ours[long.message_id]["text"] == "z" * 300
                r = await gw.admin("GET", f"/messages/{long.message_id}")
                assert {s["state"] for s in r.json()["segments"]} == {"delivered"}

                mo = f"{gw.web}/vendors/v1/vibes/vb/mo"
                r = await fake.send_inbound(mo, PHONE, NUMBER, "hi from a phone")
                assert r.status_code == 200
                r = await fake.send_inbound(mo, PHONE, NUMBER, "old form", legacy=True)
                assert r.status_code == 200
                r = await fake.send_inbound(mo, PHONE, NUMBER, "STOP")
                assert r.status_code == 200
                seen: dict[str, api.Inbound] = {}
                keyword = None
                with trio.fail_after(WAIT):
                    async for ev in c.events():
                        if isinstance(ev, api.Inbound):
                            seen[ev.text] = ev
                        if isinstance(ev, api.Keyword):
                            keyword = ev
                        if {"hi from a phone", "old form"} <= set(seen) and keyword:
                            break
                for text in ("hi from a phone", "old form"):
                    assert (seen[text].from_, seen[text].to) == (PHONE, NUMBER)
                assert keyword.keyword == "opt_out"
                with pytest.raises(Rejected) as refused:
                    await c.send(PHONE, "after stop", from_=NUMBER)
                assert refused.value.code == "opted_out"
                # byosms answers STOP itself: the confirmation went to Vibes.
                with trio.fail_after(WAIT):
                    while not any("unsubscribed" in m["text"] for m in fake.messages.values()):
                        await trio.sleep(0.05)

            # Vibes serves US and Canada only: a UK number is refused at import.
            r = await gw.admin("POST", "/numbers", json={
                "integration": "vb", "sender_id": "+447860099299", "type": "mobile"})
            assert r.status_code == 422, r.text
            assert (r.json()["code"], r.json()["reason"]) == ("not_found_at_vendor", "not_found")
            assert "US and Canada" in r.json()["message"]
            # A hostile XML body is refused, and said so.
            r = await fake.post_xml(f"{gw.web}/vendors/v1/vibes/vb/dlr",
                                    b'<!DOCTYPE x [<!ENTITY a "b">]><mtMessageResponse/>')
            assert r.status_code == 403
