"""The Infobip adapter against InfobipFake over real HTTP on loopback: sends,
errors of both body families, retries, delivery reports (order, duplicates,
error mapping), inbound messages, and every webhook security option."""

from __future__ import annotations

import functools

import json

import httpx
import pytest
import trio

from byosms.advanced_config import GenericErrorCode as G
from byosms.pipeline import DeliveryReceipt, OutboundMessage
from byosms.providers import registry
from byosms.providers.base import ConfigInvalid
from byosms.providers.infobip import sign_body
from byosms.testing.infobip_fake import InfobipFake
from provider_rig import ProviderRig, provider_rig

WAIT = 30
SENDER = "+14155550100"
TO = "+41793026727"


def _config(fake: InfobipFake, base: str) -> dict:
    return {"base_url": fake.base_url, "api_key": fake.api_key, "public_base_url": base}


Rig = ProviderRig
rig = functools.partial(provider_rig, InfobipFake, "infobip", "ib", _config)


def msg(mid: str, text: str = "hello", to: str = TO) -> OutboundMessage:
    return OutboundMessage(message_id=mid, source=SENDER, destination=to, text=text,
                           segment_ids=["7"])


async def finals(r: Rig, n: int) -> list[DeliveryReceipt]:
    with trio.fail_after(WAIT):
        await r.fake.wait_idle()
    return [x for x in r.receipts if x.is_final][:n]


def test_config_is_checked_and_secrets_are_declared():
    spec = registry.spec("infobip")
    base = {"base_url": "https://x.api.infobip.com", "api_key": "k",
            "public_base_url": "https://gw.example"}
    assert spec.secret_fields == {"api_key", "webhook_password", "hmac_secret"}
    with pytest.raises(ConfigInvalid, match="webhook_username"):
        spec.decode_config({**base, "webhook_auth": "basic"})
    with pytest.raises(ConfigInvalid, match="hmac_secret"):
        spec.decode_config({**base, "webhook_auth": "hmac"})
    with pytest.raises(ConfigInvalid, match="allowed_ips"):
        spec.decode_config({**base, "allowed_ips": ["not-an-ip"]})
    with pytest.raises(ConfigInvalid, match="base_url"):
        spec.decode_config({**base, "base_url": "ftp://x"})
    urls = spec.callback_urls("int_1", base)
    assert urls.status == "https://gw.example/vendors/v1/infobip/int_1/dlr"
    assert urls.inbound == "https://gw.example/vendors/v1/infobip/int_1/mo"
    assert "no number lookup" in urls.setup


async def test_send_and_delivered_report():
    async with rig() as r:
        integ = await r.integration()
        (res,) = await integ.submit(msg("msg_1", "x" * 200))
        assert res.ok and res.vendor_message_id == "msg_1" and res.segment_count == 2
        assert res.segment_id == "7"
        (_, path, body), = r.fake.requests
        assert path == "/sms/3/messages"
        m = body["messages"][0]
        assert m["sender"] == SENDER[1:] and m["destinations"] == [{"to": TO[1:],
                                                                    "messageId": "msg_1"}]
        assert m["webhooks"]["delivery"]["url"] == r.url("dlr")
        assert m["webhooks"]["callbackData"] == "msg_1"
        (final,) = await finals(r, 1)
        assert final.state == 2 and final.generic_code == G.SUCCESS
        assert final.message_id == "msg_1" and final.segment_id == "7"
        assert final.message_state == "delivered"


async def test_reports_out_of_order_and_twice_never_regress():
    async with rig() as r:
        r.fake.out_of_order = r.fake.duplicate_reports = True
        r.fake.outcome(TO, ["PENDING", "DELIVERED_TO_OPERATOR", "DELIVERED"])
        integ = await r.integration()
        await integ.submit(msg("msg_2"))
        with trio.fail_after(WAIT):
            await r.fake.wait_idle()
        # DELIVERED came first: the later PENDING ones and the copy are stale.
        assert [x.cause for x in r.receipts] == ["DELIVERED"]
        assert integ.stats["stale_callbacks"] >= 4


async def test_failed_reports_map_error_ids():
    async with rig() as r:
        r.fake.outcome(TO, ["UNDELIVERABLE"], error_id=1)
        r.fake.outcome("+41793026728", ["EXPIRED"], error_id=27)
        r.fake.outcome("+41793026729", ["REJECTED"], error_id=4000)
        integ = await r.integration()
        await integ.submit(msg("msg_a"))
        await integ.submit(msg("msg_b", to="+41793026728"))
        await integ.submit(msg("msg_c", to="+41793026729"))
        with trio.fail_after(WAIT):
            await r.fake.wait_idle()
        by = {x.message_id: x for x in r.receipts}
        assert (by["msg_a"].generic_code, by["msg_a"].cause, by["msg_a"].vendor_code) == (
            G.UNDELIVERABLE, "DEST_ADDR_INVALID", 1)  # packaged mapping
        assert (by["msg_b"].generic_code, by["msg_b"].cause) == (G.RETRYABLE_FAILURE,
                                                                 "SUBSCRIBER_UNREACHABLE")
        # Unlisted id: its name, the group's code (permanent).
        assert (by["msg_c"].generic_code, by["msg_c"].cause) == (G.REJECTED,
                                                                 "EC_INVALID_DESTINATION")
        assert all(x.message_state == "failed" for x in by.values())


async def test_custom_mapping_overrides_the_packaged_one():
    async with rig() as r:
        r.fake.outcome(TO, ["UNDELIVERABLE"], error_id=1)
        integ = await r.integration(advanced_config={"protocolSpecificCodeMapping": {
            "1": {"genericErrorCode": 3, "genericErrorCause": "NUMBER_GONE"}}})
        await integ.submit(msg("msg_o"))
        (final,) = await finals(r, 1)
        assert (final.generic_code, final.cause) == (G.PERMANENT_FAILURE, "NUMBER_GONE")


async def test_throttled_then_sent_and_permanent_refusals_not_retried():
    async with rig() as r:
        r.fake.fail_next(2, http_status=429, retry_after="0")
        r.fake.reject("+41793026799")
        integ = await r.integration()
        (res,) = await integ.submit(msg("msg_t"))
        assert res.ok and res.attempts == 3
        assert [e.kind for e in r.events].count("throttled") == 2
        (bad,) = await integ.submit(msg("msg_r", to="+41793026799"))
        assert not bad.ok and bad.attempts == 1 and bad.http_status == 400
        assert (bad.generic_code, bad.cause) == (G.REJECTED, "E400")
        assert sum(1 for _, _, b in r.fake.requests
                   if b["messages"][0]["destinations"][0]["to"] == "41793026799") == 1


async def test_throttled_for_good_is_retryable_and_wrong_key_is_not():
    async with rig() as r:
        r.fake.fail_next(10, http_status=429, retry_after="0")
        integ = await r.integration(max_attempts=2)
        (res,) = await integ.submit(msg("msg_x"))
        assert not res.ok and res.generic_code == G.RETRYABLE_FAILURE and res.cause == "THROTTLED"
    async with rig() as r:
        integ = await r.integration()
        integ.http._client.headers["Authorization"] = "App wrong"  # a revoked key
        (res,) = await integ.submit(msg("msg_k"))
        assert not res.ok and res.http_status == 401 and res.attempts == 1
        assert (res.generic_code, res.cause) == (G.PERMANENT_FAILURE, "AUTHENTICATION_FAILED")


async def test_inbound_once_with_e164_numbers():
    async with rig() as r:
        await r.integration()
        for _ in range(2):  # Infobip retrying the same messageId
            resp = await r.fake.send_inbound(r.url("mo"), "41793026727", "14155550100",
                                             "STOP please", message_id="in-1")
            assert resp.status_code == 200
        (mo,) = r.inbound
        assert (mo.source, mo.destination, mo.text) == ("+41793026727", SENDER, "STOP please")
        assert mo.vendor_message_id == "in-1" and mo.extras["keyword"] == "STOP"


@pytest.mark.parametrize("mode", ["basic", "hmac"])
async def test_webhook_security(mode):
    kw = {"webhook_auth": mode}
    async with rig(**kw) as r:
        cfg = ({"webhook_auth": "basic", "webhook_username": r.fake.webhook_username,
                "webhook_password": r.fake.webhook_password} if mode == "basic" else
               {"webhook_auth": "hmac", "hmac_secret": r.fake.hmac_secret})
        await r.integration(**cfg)
        ok = await r.fake.send_inbound(r.url("mo"), "41793026727", "14155550100", "hi")
        assert ok.status_code == 200 and len(r.inbound) == 1
        body = json.dumps({"results": []}).encode()
        async with httpx.AsyncClient() as http:
            bad = await http.post(r.url("mo"), content=body,
                                  headers={"Authorization": "Basic bm9wZTpub3Bl",
                                           "X-Hub-Signature": sign_body("wrong", body)})
        assert bad.status_code == 403
        assert any(e.kind == "webhook_rejected" for e in r.events)


async def test_allowed_ips_and_the_deactivated_gate():
    async with rig() as r:
        integ = await r.integration(allowed_ips=["10.0.0.0/8"])
        refused = await r.fake.send_inbound(r.url("mo"), "41793026727", "14155550100", "hi")
        assert refused.status_code == 403 and r.inbound == []
    async with rig() as r:
        integ = await r.integration(allowed_ips=["127.0.0.0/8", "::1"])
        integ.active = False
        dropped = await r.fake.send_inbound(r.url("mo"), "41793026727", "14155550100", "hi")
        assert dropped.status_code == 200 and r.inbound == []
        assert [e.kind for e in r.events] == ["webhook_dropped"]
