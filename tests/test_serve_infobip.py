"""An Infobip integration through `byosms serve` and the websocket API against
InfobipFake (issue 16 item 10): GSM, UCS-2 and long messages delivered,
a failed one with its mapped code, an inbound message, and STOP recorded and
answered by byosms (Infobip keeps no opt-outs of its own)."""

from __future__ import annotations

import pytest
import trio

from byosms.client import Rejected
from byosms.testing.infobip_fake import InfobipFake
from serve_harness import WAIT, finals, free_port, inbound_and_keyword, serve

NUMBER = "+14155550100"
PHONE = "+41793026727"


def config(fake: InfobipFake, web: int) -> str:
    return f"""
[store]
path = "ib.db"
[[integrations]]
id = "ib"
provider = "infobip"
[integrations.config]
base_url = "{fake.base_url}"
api_key = "{fake.api_key}"
public_base_url = "http://127.0.0.1:{web}"
webhook_auth = "basic"
webhook_username = "{fake.webhook_username}"
webhook_password = "{fake.webhook_password}"
backoff = 0.01
[[numbers]]
number = "{NUMBER}"
integration = "ib"
"""



async def test_infobip_through_serve(tmp_path):
    async with InfobipFake(webhook_auth="basic") as fake:
        web = free_port()
        fake.outcome("+41793026728", ["PENDING", "UNDELIVERABLE"], error_id=1)
        async with serve(tmp_path, config(fake, web), web_port=web) as gw:
            async with gw.client(auto_ack=True) as c:
                gsm = await c.send(PHONE, "hello infobip", from_=NUMBER)
                ucs2 = await c.send(PHONE, "你好，世界", from_=NUMBER)
                long = await c.send(PHONE, "z" * 300, from_=NUMBER)
                bad = await c.send("+41793026728", "to a dead number", from_=NUMBER)
                assert (gsm.encoding, ucs2.encoding, long.segments) == ("gsm7", "ucs2", 2)
                got = await finals(c, {gsm.message_id, ucs2.message_id, long.message_id,
                                       bad.message_id})
                assert {got[m].state for m in (gsm.message_id, ucs2.message_id,
                                               long.message_id)} == {"delivered"}
                assert (got[bad.message_id].generic_code, got[bad.message_id].generic_cause,
                        got[bad.message_id].vendor_code) == (10, "DEST_ADDR_INVALID", "1")
                # One send per message; Infobip segments (and counts) itself.
                assert len(fake.messages) == 4
                assert fake.messages[long.message_id]["messageCount"] == 2
                r = await gw.admin("GET", f"/messages/{long.message_id}")
                assert {s["state"] for s in r.json()["segments"]} == {"delivered"}

                r = await fake.send_inbound(f"{gw.web}/vendors/v1/infobip/ib/mo", PHONE, NUMBER,
                                            "hi from a phone")
                assert r.status_code == 200
                r = await fake.send_inbound(f"{gw.web}/vendors/v1/infobip/ib/mo", PHONE, NUMBER,
                                            "STOP")
                assert r.status_code == 200
                inbound, keyword = await inbound_and_keyword(c, "hi from a phone")
                assert (inbound.from_, inbound.to) == (PHONE, NUMBER)
                assert keyword.keyword == "opt_out"
                with pytest.raises(Rejected) as refused:
                    await c.send(PHONE, "after stop", from_=NUMBER)
                assert refused.value.code == "opted_out"
                # byosms answers STOP itself: the confirmation went to Infobip.
                with trio.fail_after(WAIT):
                    while not any("unsubscribed" in m["text"] for m in fake.messages.values()):
                        await trio.sleep(0.05)
            # An unsigned report is refused, and said so.
            r = await fake.post_webhook(f"{gw.web}/vendors/v1/infobip/ib/dlr",
                                        fake.report_body(gsm.message_id, "DELIVERED"),
                                        headers={"Authorization": "Basic eDp5"})
            assert r.status_code == 403
