"""The provider contract's promises, through `byosms serve` against a
Twilio-faithful server (issue 14, "Found"): each failed before the pipeline
became provider-neutral.

- number import asks Twilio (N5 not_found_at_vendor; a wrong webhook is
  refused with the exact URL to set);
- a permanent Twilio refusal keeps its vendor code and mapped generic code
  and is sent once, never retried;
- 21610 (opted out at Twilio) is recorded: the next send is refused;
- a deactivated integration answers its webhooks 2xx, drops them and says
  so (webhook_dropped, T4);
- STOP through Twilio is recorded, and byosms sends no second reply (Twilio
  answers it) unless the integration says keyword_replies = "gateway".
"""

from __future__ import annotations

import pytest
import trio

from byosms.client import Rejected
from byosms.schemas import api
from byosms.testing.twilio_fake import TwilioFake
from serve_harness import WAIT, free_port, serve

NUMBER = "+15005550006"
OTHER = "+15005550007"
PHONE = "+15551230000"


def twilio_config(fake: TwilioFake, web_port: int, *, number: str | None = NUMBER,
                  extra: str = "") -> str:
    numbers = f'[[numbers]]\nnumber = "{number}"\nintegration = "tw"\n' if number else ""
    return f"""
[store]
path = "tw.db"
[[integrations]]
id = "tw"
provider = "twilio"
[integrations.twilio]
account_sid = "{fake.account_sid}"
auth_token = "{fake.auth_token}"
api_base = "{fake.base_url}"
public_base_url = "http://127.0.0.1:{web_port}"
max_attempts = 3
backoff = 0.01
{extra}
{numbers}"""


async def delivered(c, message_id: str) -> None:
    with trio.fail_after(WAIT):
        async for ev in c.events():
            if isinstance(ev, api.Status) and ev.message_id == message_id \
                    and ev.segment is None and ev.state == "delivered":
                return


async def test_import_asks_twilio(tmp_path):
    async with TwilioFake() as fake:
        web = free_port()
        expected = f"http://127.0.0.1:{web}/vendors/v1/twilio/tw/mo"
        fake.add_number(OTHER, sms_url="https://elsewhere.example/sms")
        fake.add_number(NUMBER, sms_url=expected)
        async with serve(tmp_path, twilio_config(fake, web, number=None), web_port=web) as gw:
            body = {"integration": "tw", "sender_id": "+15005550009", "type": "mobile"}
            r = await gw.admin("POST", "/numbers", json=body)
            assert r.status_code == 422, r.text
            assert (r.json()["code"], r.json()["reason"]) == ("not_found_at_vendor", "not_found")

            r = await gw.admin("POST", "/numbers", json={**body, "sender_id": OTHER})
            assert r.status_code == 422, r.text
            err = r.json()
            assert (err["code"], err["reason"]) == ("not_found_at_vendor", "webhook_wrong")
            assert expected in err["message"]  # the exact URL to set at Twilio

            r = await gw.admin("POST", "/numbers", json={**body, "sender_id": NUMBER})
            assert r.status_code == 201, r.text
            # Twilio was asked about each number, by its own API.
            asked = [f for m, p, f in fake.requests if p.endswith("/IncomingPhoneNumbers.json")]
            assert len(asked) == 3


async def test_permanent_refusal_keeps_codes_and_is_sent_once(tmp_path):
    async with TwilioFake() as fake:
        web = free_port()
        fake.add_number(NUMBER)
        fake.reject(PHONE, 21212, message="The 'From' number is not a valid phone number")
        async with serve(tmp_path, twilio_config(fake, web), web_port=web) as gw:
            async with gw.client(auto_ack=True) as c:
                sent = await c.send(PHONE, "hello", from_=NUMBER)
                with trio.fail_after(WAIT):
                    async for ev in c.events():
                        if isinstance(ev, api.Status) and ev.message_id == sent.message_id \
                                and ev.segment is None and ev.state == "failed":
                            break
            assert ev.vendor_code == "21212"
            assert ev.generic_code != 0 and ev.generic_cause != "AttributeError"
            creates = [f for m, p, f in fake.requests if p.endswith("/Messages.json")
                       and dict(f).get("To") == PHONE]
            assert len(creates) == 1  # permanent: never retried, never re-claimed
            r = await gw.admin("GET", f"/messages/{sent.message_id}")
            assert r.json()["state"] == "failed"
            assert r.json()["segments"][0]["vendor_code"] == 21212


async def test_opted_out_at_twilio_is_recorded(tmp_path):
    async with TwilioFake() as fake:
        web = free_port()
        fake.reject(PHONE, 21610, message="Attempt to send to unsubscribed recipient")
        async with serve(tmp_path, twilio_config(fake, web), web_port=web) as gw:
            async with gw.client(auto_ack=True) as c:
                sent = await c.send(PHONE, "hello", from_=NUMBER)
                with trio.fail_after(WAIT):
                    async for ev in c.events():
                        if isinstance(ev, api.Status) and ev.message_id == sent.message_id \
                                and ev.segment is None and ev.state == "failed":
                            break
                assert ev.vendor_code == "21610"
                r = await gw.admin("GET", "/opt-outs", params={"sender": NUMBER,
                                                               "recipient": PHONE})
                assert r.json()["opted_out"] is True
                with pytest.raises(Rejected) as refused:
                    await c.send(PHONE, "again", from_=NUMBER)
                assert refused.value.code == "opted_out"


async def test_deactivated_integration_answers_and_drops_webhooks(tmp_path):
    async with TwilioFake() as fake:
        web = free_port()
        async with serve(tmp_path, twilio_config(fake, web), web_port=web) as gw:
            async with gw.client(auto_ack=True) as c:
                sent = await c.send(PHONE, "hello", from_=NUMBER)
                await delivered(c, sent.message_id)
            sid = next(iter(fake.messages))
            r = await gw.admin("POST", "/integrations/tw/deactivate")
            assert r.status_code == 200 and r.json()["state"] == "inactive"

            answer = await fake.deliver(sid, "read")
            assert answer.status_code == 200  # not 404: Twilio must not retry it later
            answer = await fake.send_inbound(f"{gw.web}/vendors/v1/twilio/tw/mo", PHONE, NUMBER,
                                             "while you were out")
            assert answer.status_code == 200
            dropped = await gw.wait_event(
                lambda e: e["payload"].get("kind") == "webhook_dropped"
                and "inbound" not in e["payload"].get("detail", "")
                and e["payload"].get("cause") == "deactivated", type_="operational")
            assert dropped["payload"]["integration"] == "tw"
            # A bad signature is still refused while inactive.
            answer = await fake.deliver(sid, "read", signature="bad")
            assert answer.status_code == 403
            # Deleted: unknown from now on.
            assert (await gw.admin("DELETE", "/integrations/tw")).status_code in (200, 204)
            assert (await fake.deliver(sid, "read")).status_code == 404
            r = await gw.admin("GET", f"/messages/{sent.message_id}")
            assert r.json()["state"] == "delivered"  # the dropped "read" changed nothing


async def _stop_through_twilio(gw, fake, *, expect_reply: bool) -> None:
    async with gw.client(auto_ack=True) as c:
        r = await fake.send_inbound(f"{gw.web}/vendors/v1/twilio/tw/mo", PHONE, NUMBER, "STOP")
        assert r.status_code == 200
        with trio.fail_after(WAIT):
            async for ev in c.events():
                if isinstance(ev, api.Keyword):
                    break
        assert ev.keyword == "opt_out"
        with pytest.raises(Rejected) as refused:
            await c.send(PHONE, "after stop", from_=NUMBER)
        assert refused.value.code == "opted_out"
    if expect_reply:
        with trio.fail_after(WAIT):
            while not fake.messages:
                await trio.sleep(0.05)
        (reply,) = fake.messages.values()
        assert reply["to"] == PHONE and "unsubscribed" in reply["body"].lower()
    else:
        # Give a wrongly queued reply every chance to leave, then look.
        await trio.sleep(1.0)
        assert fake.messages == {}


async def test_stop_through_twilio_gets_no_second_reply(tmp_path):
    async with TwilioFake() as fake:
        web = free_port()
        async with serve(tmp_path, twilio_config(fake, web), web_port=web) as gw:
            await _stop_through_twilio(gw, fake, expect_reply=False)


async def test_stop_reply_by_byosms_when_configured(tmp_path):
    async with TwilioFake() as fake:
        web = free_port()
        cfg = twilio_config(fake, web, extra='keyword_replies = "gateway"')
        async with serve(tmp_path, cfg, web_port=web) as gw:
            await _stop_through_twilio(gw, fake, expect_reply=True)
