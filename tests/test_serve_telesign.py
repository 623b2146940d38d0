"""A TeleSign integration through `byosms serve` and the websocket API against
TelesignFake (issue 16 item 10): GSM, UCS-2 and long messages delivered, a
failed one with its mapped code, inbound, and STOP (TeleSign keeps no
opt-outs: byosms replies)."""

from __future__ import annotations

import pytest
import trio

from byosms.client import Rejected
from byosms.schemas import api
from byosms.testing.telesign_fake import TelesignFake
from serve_harness import WAIT, free_port, inbound_and_keyword, serve

NUMBER = "+15005550006"
PHONE = "+15551230000"


def config(fake: TelesignFake, web: int) -> str:
    return f"""
[store]
path = "ts.db"
[[integrations]]
id = "ts"
provider = "telesign"
[integrations.config]
customer_id = "{fake.customer_id}"
api_key = "{fake.api_key}"
api_base = "{fake.base_url}"
public_base_url = "http://127.0.0.1:{web}"
backoff = 0.01
[[numbers]]
number = "{NUMBER}"
integration = "ts"
"""


async def test_telesign_through_serve(tmp_path):
    async with TelesignFake() as fake:
        web = free_port()
        fake.outcome("+15551230009", [203, 222])
        async with serve(tmp_path, config(fake, web), web_port=web) as gw:
            async with gw.client(auto_ack=True) as c:
                sent = [await c.send(PHONE, "hello telesign", from_=NUMBER),
                        await c.send(PHONE, "你好，世界", from_=NUMBER),
                        await c.send(PHONE, "q" * 300, from_=NUMBER)]
                bad = await c.send("+15551230009", "no sms there", from_=NUMBER)
                assert [a.encoding for a in sent] == ["gsm7", "ucs2", "gsm7"]
                assert sent[2].segments == 2
                want = {a.message_id for a in sent} | {bad.message_id}
                got: dict[str, api.Status] = {}
                with trio.fail_after(WAIT):
                    async for ev in c.events():
                        if isinstance(ev, api.Status) and ev.segment is None \
                                and ev.state in ("delivered", "failed"):
                            got[ev.message_id] = ev
                            if set(got) >= want:
                                break
                assert {got[a.message_id].state for a in sent} == {"delivered"}
                assert (got[bad.message_id].generic_code, got[bad.message_id].vendor_code) == (
                    10, "222")
                assert len(fake.messages) == 4  # one signed send per message
                assert {t for _, _, _, t in fake.requests} == {"TSA"}

                hook = f"{gw.web}/vendors/v1/telesign/ts/mo"
                assert (await fake.send_inbound(hook, PHONE, NUMBER, "hi there")).status_code == 200
                assert (await fake.send_inbound(hook, PHONE, NUMBER, "STOP")).status_code == 200
                inbound, keyword = await inbound_and_keyword(c, "hi there")
                assert (inbound.from_, inbound.to) == (PHONE, NUMBER)
                assert keyword.keyword == "opt_out"
                with pytest.raises(Rejected) as refused:
                    await c.send(PHONE, "after stop", from_=NUMBER)
                assert refused.value.code == "opted_out"
                with trio.fail_after(WAIT):
                    while not any("unsubscribed" in m["message"] for m in fake.messages.values()):
                        await trio.sleep(0.05)
            assert (await fake.send_inbound(hook, PHONE, NUMBER, "forged",
                                            signature="bad")).status_code == 403
