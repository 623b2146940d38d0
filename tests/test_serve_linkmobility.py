"""A LINK Mobility (MyLINK) integration through `byosms serve` and the
websocket API against LinkMobilityFake (issue 16): GSM, UCS-2 and long
messages delivered, a failed one with its mapped code, an inbound message,
and STOP recorded and answered by byosms."""

from __future__ import annotations

import pytest
import trio

from byosms.client import Rejected
from byosms.testing.linkmobility_fake import LinkMobilityFake
from serve_harness import WAIT, finals, free_port, inbound_and_keyword, serve

NUMBER = "+4790000000"
PHONE = "+4712345678"
DEAD = "+4712345679"


def config(fake: LinkMobilityFake, web: int) -> str:
    return f"""
[store]
path = "lm.db"
[[integrations]]
id = "lm"
provider = "linkmobility"
[integrations.config]
client_id = "{fake.client_id}"
client_secret = "{fake.client_secret}"
token_url = "{fake.token_url}"
api_base = "{fake.base_url}"
public_base_url = "http://127.0.0.1:{web}"
webhook_header = "{fake.webhook_header}"
webhook_header_value = "{fake.webhook_header_value}"
backoff = 0.01
[[numbers]]
number = "{NUMBER}"
integration = "lm"
"""



async def test_linkmobility_through_serve(tmp_path):
    async with LinkMobilityFake() as fake:
        web = free_port()
        fake.outcome(DEAD, [1000, 1001, 3004])
        async with serve(tmp_path, config(fake, web), web_port=web) as gw:
            async with gw.client(auto_ack=True) as c:
                gsm = await c.send(PHONE, "hello link", from_=NUMBER)
                ucs2 = await c.send(PHONE, "你好，世界", from_=NUMBER)
                long = await c.send(PHONE, "z" * 300, from_=NUMBER)
                bad = await c.send(DEAD, "to a dead number", from_=NUMBER)
                assert (gsm.encoding, ucs2.encoding, long.segments) == ("gsm7", "ucs2", 2)
                got = await finals(c, {gsm.message_id, ucs2.message_id, long.message_id,
                                       bad.message_id})
                assert {got[m].state for m in (gsm.message_id, ucs2.message_id,
                                               long.message_id)} == {"delivered"}
                assert (got[bad.message_id].generic_code, got[bad.message_id].generic_cause,
                        got[bad.message_id].vendor_code) == (10, "DEST_ADDR_INVALID", "3004")
                # One send per message (LINK segments), one token for all.
                assert len(fake.messages) == 4 and len(fake.token_requests) == 1
                by_ref = {m["referenceId"]: m for m in fake.messages.values()}
                assert by_ref[long.message_id]["segments"] == 2
                assert by_ref[ucs2.message_id]["text"] == "你好，世界"
                r = await gw.admin("GET", f"/messages/{long.message_id}")
                assert {s["state"] for s in r.json()["segments"]} == {"delivered"}

                mo = f"{gw.web}/vendors/v1/linkmobility/lm/mo"
                r = await fake.send_inbound(mo, PHONE, NUMBER, "hi from a phone")
                assert r.status_code == 200
                r = await fake.send_inbound(mo, PHONE, NUMBER, "STOP")
                assert r.status_code == 200
                inbound, keyword = await inbound_and_keyword(c, "hi from a phone")
                assert (inbound.from_, inbound.to) == (PHONE, NUMBER)
                assert keyword.keyword == "opt_out"
                with pytest.raises(Rejected) as refused:
                    await c.send(PHONE, "after stop", from_=NUMBER)
                assert refused.value.code == "opted_out"
                # byosms answers STOP itself: the confirmation went to LINK.
                with trio.fail_after(WAIT):
                    while not any("unsubscribed" in m["text"] for m in fake.messages.values()):
                        await trio.sleep(0.05)
            # A report without the portal's header is refused.
            some = next(iter(fake.messages))
            r = await fake.post_webhook(f"{gw.web}/vendors/v1/linkmobility/lm/dlr",
                                        fake.report_body(some, 2000),
                                        headers={fake.webhook_header: "wrong"})
            assert r.status_code == 403
