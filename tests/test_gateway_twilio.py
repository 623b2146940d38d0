"""A Twilio integration through the Gateway against TwilioFake: MT over the
fake's REST API, status callbacks and inbound messages through the gateway's
webhook routes, events over the websocket."""

from __future__ import annotations

import socket

import trio

from byosms.client import connect
from byosms.server import Gateway
from byosms.schemas import api
from byosms.schemas.config import load_config
from byosms.testing.twilio_fake import TwilioFake

NUMBER = "+15005550006"
WAIT = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_twilio_send_delivered_and_inbound(tmp_path):
    async with TwilioFake() as fake:
        web = free_port()
        base = f"http://127.0.0.1:{web}"
        cfg = load_config(f"""
[websocket]
port = 0
[web]
port = {web}
[store]
path = "tw.db"
[[integrations]]
id = "tw"
provider = "twilio"
[integrations.twilio]
account_sid = "{fake.account_sid}"
auth_token = "{fake.auth_token}"
api_base = "{fake.base_url}"
public_base_url = "{base}"
[[numbers]]
number = "{NUMBER}"
integration = "tw"
""")
        gw = Gateway(cfg, base_dir=tmp_path)
        async with trio.open_nursery() as nursery:
            await nursery.start(gw.run)
            _, token = await gw.store.create_api_key("default", "t")
            async with connect(f"ws://127.0.0.1:{gw.ws_port}/", token, auto_ack=True) as c:
                short = await c.send("+15551230000", "hello twilio", from_=NUMBER)
                long = await c.send("+15551230000", "y" * 300, from_=NUMBER)
                assert long.segments == 2
                want = {short.message_id, long.message_id}
                done: set[str] = set()
                events = []
                with trio.fail_after(WAIT):
                    async for ev in c.events():
                        events.append(ev)
                        if isinstance(ev, api.Status) and ev.segment is None \
                                and ev.state == "delivered":
                            done.add(ev.message_id)
                        if done >= want:
                            break
                # One REST create per message (Twilio segments itself).
                assert len(fake.messages) == 2
                assert sorted(m["body"] for m in fake.messages.values()) == \
                    sorted(["hello twilio", "y" * 300])
                for mid in want:
                    assert {s.state for s in await gw.store.get_segments(mid)} == {"delivered"}

                r = await fake.send_inbound(f"{base}/vendors/v1/twilio/tw/mo", "+15551230000",
                                            NUMBER, "hi from a phone")
                assert r.status_code == 200
                with trio.fail_after(WAIT):
                    async for ev in c.events():
                        if isinstance(ev, api.Inbound):
                            assert (ev.from_, ev.to, ev.text) == ("+15551230000", NUMBER,
                                                                  "hi from a phone")
                            break
            nursery.cancel_scope.cancel()
