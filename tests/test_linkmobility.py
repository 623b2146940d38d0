"""The LINK Mobility (MyLINK) adapter against LinkMobilityFake over real HTTP
on loopback: OAuth2 tokens (cached, renewed before expiry and once on a 401),
sends, retries, delivery reports (order, duplicates, code mapping), inbound
messages, the callback header, allowed_ips and the deactivated gate."""

from __future__ import annotations

import functools

import json

import httpx
import pytest
import trio

from byosms.advanced_config import GenericErrorCode as G
from byosms.pipeline import OutboundMessage
from byosms.providers import registry
from byosms.providers.base import ConfigInvalid
from byosms.providers.linkmobility import LinkMobilityIntegration
from byosms.testing.linkmobility_fake import LinkMobilityFake
from provider_rig import ProviderRig, provider_rig

WAIT = 30
SENDER = "+4790000000"
TO = "+4712345678"


def _config(fake: LinkMobilityFake, base: str) -> dict:
    return {"client_id": fake.client_id, "client_secret": fake.client_secret,
            "token_url": fake.token_url, "api_base": fake.base_url, "public_base_url": base,
            "webhook_header_value": fake.webhook_header_value}


Rig = ProviderRig
rig = functools.partial(provider_rig, LinkMobilityFake, "linkmobility", "lm", _config)


def msg(mid: str, text: str = "hello", to: str = TO) -> OutboundMessage:
    return OutboundMessage(message_id=mid, source=SENDER, destination=to, text=text,
                           segment_ids=["7"])


async def idle(r: Rig) -> None:
    with trio.fail_after(WAIT):
        await r.fake.wait_idle()


def test_config_is_checked_and_secrets_are_declared():
    spec = registry.spec("linkmobility")
    base = {"client_id": "c", "client_secret": "s", "public_base_url": "https://gw.example"}
    assert spec.secret_fields == {"client_secret", "webhook_header_value", "password"}
    cfg = spec.decode_config(base)
    assert cfg.token_url == ("https://sso.linkmobility.com/auth/realms/CPaaS/protocol/"
                             "openid-connect/token")
    assert cfg.api_base == "https://api.linkmobility.com"
    with pytest.raises(ConfigInvalid, match="allowed_ips"):
        spec.decode_config({**base, "allowed_ips": ["not-an-ip"]})
    with pytest.raises(ConfigInvalid, match="api_base"):
        spec.decode_config({**base, "api_base": "ftp://x"})
    with pytest.raises(ConfigInvalid, match="webhook_header"):
        spec.decode_config({**base, "webhook_header": "bad header:"})
    with pytest.raises(ConfigInvalid, match="client_id"):
        spec.decode_config({"client_secret": "s", "public_base_url": "https://gw.example"})
    urls = spec.callback_urls("int_1", base)
    assert urls.status == "https://gw.example/vendors/v1/linkmobility/int_1/dlr"
    assert urls.inbound == "https://gw.example/vendors/v1/linkmobility/int_1/mo"


async def test_send_with_a_cached_token_and_delivered_report():
    async with rig() as r:
        integ = await r.integration()
        (res,) = await integ.submit(msg("msg_1", "x" * 200))
        (res2,) = await integ.submit(msg("msg_2"))
        assert res.ok and res2.ok and res.segment_count == 2 and res.segment_id == "7"
        assert res.vendor_message_id in r.fake.messages
        assert len(r.fake.token_requests) == 1  # cached
        assert r.fake.token_requests[0]["grant_type"] == "client_credentials"
        (_, path, body, auth), _ = r.fake.requests
        assert path == "/sms/v1/messages" and auth.startswith("Bearer ")
        assert body == [{"recipient": TO,
                         "content": {"text": "x" * 200,
                                     "options": {"sms.sender": SENDER,
                                                 "sms.encoding": "AutoDetect"}},
                         "callback": {"mode": "URL", "urls": [r.url("dlr")]},
                         "referenceId": "msg_1"}]
        await idle(r)
        finals = {x.message_id: x for x in r.receipts if x.is_final}
        final = finals["msg_1"]
        assert final.state == 2 and final.generic_code == G.SUCCESS and final.vendor_code == 2000
        assert final.segment_id == "7" and final.message_state == "delivered"
        assert [x.cause for x in r.receipts if x.message_id == "msg_1"] == ["SENT", "DELIVERED"]


async def test_token_renewed_before_expiry():
    async with rig(token_ttl=61) as r:
        # Margin 60 s: a 61 s token is renewed after about 1 s.
        integ = await r.integration()
        await integ.submit(msg("msg_a"))
        await integ.submit(msg("msg_b"))
        assert len(r.fake.token_requests) == 1
        await trio.sleep(1.2)
        (res,) = await integ.submit(msg("msg_c"))
        assert res.ok and len(r.fake.token_requests) == 2
        assert not any(e.kind == "token_refused" for e in r.events)  # no 401 needed


async def test_a_401_renews_the_token_once():
    async with rig() as r:
        integ = await r.integration()
        await integ.submit(msg("msg_a"))
        r.fake.expire_tokens()  # revoked at LINK before its expiry
        (res,) = await integ.submit(msg("msg_b"))
        assert res.ok and res.attempts == 2 and len(r.fake.token_requests) == 2
        assert [e.kind for e in r.events].count("token_refused") == 1
        # A second 401 after renewing: refused for good, not looped.
        r.fake.fail_next(2, http_status=401)
        (bad,) = await integ.submit(msg("msg_c"))
        assert not bad.ok and bad.http_status == 401
        assert (bad.generic_code, bad.cause) == (G.PERMANENT_FAILURE, "AUTHENTICATION_FAILED")
        assert len(r.fake.token_requests) == 3


async def test_wrong_credentials_fail_permanently_and_token_5xx_is_retryable():
    async with rig() as r:
        integ = await r.integration(client_secret="wrong")
        (res,) = await integ.submit(msg("msg_k"))
        assert not res.ok and res.http_status == 401 and res.attempts == 1
        assert (res.generic_code, res.cause) == (G.PERMANENT_FAILURE, "AUTHENTICATION_FAILED")
        assert r.fake.requests == []
    async with rig() as r:
        r.fake.fail_token(5, http_status=503)
        integ = await r.integration(max_attempts=2)
        (res,) = await integ.submit(msg("msg_k"))
        assert not res.ok and (res.generic_code, res.cause) == (G.RETRYABLE_FAILURE,
                                                                "TOKEN_UNAVAILABLE")


async def test_throttled_then_sent_and_permanent_refusals_not_retried():
    async with rig() as r:
        r.fake.fail_next(2, http_status=429, retry_after="0")
        r.fake.reject("+4712345699")
        integ = await r.integration()
        (res,) = await integ.submit(msg("msg_t"))
        assert res.ok and res.attempts == 3
        assert [e.kind for e in r.events].count("throttled") == 2
        (bad,) = await integ.submit(msg("msg_r", to="+4712345699"))
        assert not bad.ok and bad.attempts == 1 and bad.http_status == 400
        assert (bad.generic_code, bad.cause) == (G.REJECTED, "BAD_REQUEST")
        assert sum(1 for _, _, b, _ in r.fake.requests if b[0]["recipient"] == "+4712345699") == 1
        r.fake.fail_next(1, http_status=403)
        (forbidden,) = await integ.submit(msg("msg_f"))
        assert not forbidden.ok and forbidden.attempts == 1
        assert forbidden.cause == "AUTHENTICATION_FAILED"


async def test_server_errors_retried_then_retryable():
    async with rig() as r:
        r.fake.fail_next(10, http_status=502)
        integ = await r.integration(max_attempts=3)
        (res,) = await integ.submit(msg("msg_x"))
        assert not res.ok and res.attempts == 3
        assert (res.generic_code, res.cause) == (G.RETRYABLE_FAILURE, "HTTP_ERROR")


async def test_reports_out_of_order_and_twice_never_regress():
    async with rig() as r:
        r.fake.out_of_order = r.fake.duplicate_reports = True
        r.fake.outcome(TO, [1000, 1001, 2000])
        integ = await r.integration()
        await integ.submit(msg("msg_2"))
        await idle(r)
        assert [x.cause for x in r.receipts] == ["DELIVERED"]
        assert integ.stats["stale_callbacks"] >= 4


async def test_failed_reports_map_status_codes():
    async with rig() as r:
        r.fake.outcome(TO, [1001, 3004])
        r.fake.outcome("+4712345671", [1001, 4008])
        r.fake.outcome("+4712345672", [4004])
        r.fake.outcome("+4712345673", [4099])  # unlisted failure code
        integ = await r.integration()
        for mid, to in (("msg_a", TO), ("msg_b", "+4712345671"), ("msg_c", "+4712345672"),
                        ("msg_d", "+4712345673")):
            await integ.submit(msg(mid, to=to))
        await idle(r)
        by = {x.message_id: x for x in r.receipts if x.is_final}
        assert (by["msg_a"].generic_code, by["msg_a"].cause, by["msg_a"].vendor_code) == (
            G.UNDELIVERABLE, "DEST_ADDR_INVALID", 3004)
        assert by["msg_a"].state == 8  # REJECTED
        assert (by["msg_b"].generic_code, by["msg_b"].cause, by["msg_b"].state) == (
            G.EXPIRED, "EXPIRED", 3)
        assert (by["msg_c"].generic_code, by["msg_c"].cause) == (G.RETRYABLE_FAILURE,
                                                                 "SUBSCRIBER_UNREACHABLE")
        assert (by["msg_d"].generic_code, by["msg_d"].cause) == (G.UNDELIVERABLE, "FAILED")
        assert all(x.message_state == "failed" for x in by.values())


async def test_custom_mapping_overrides_the_packaged_one():
    async with rig() as r:
        r.fake.outcome(TO, [4007])
        integ = await r.integration(advanced_config={"protocolSpecificCodeMapping": {
            "4007": {"genericErrorCode": 3, "genericErrorCause": "NUMBER_GONE"}}})
        await integ.submit(msg("msg_o"))
        await idle(r)
        (final,) = [x for x in r.receipts if x.is_final]
        assert (final.generic_code, final.cause) == (G.PERMANENT_FAILURE, "NUMBER_GONE")


async def test_inbound_once():
    async with rig() as r:
        await r.integration()
        for _ in range(2):  # LINK retrying the same event
            resp = await r.fake.send_inbound(r.url("mo"), TO, SENDER, "STOP please",
                                             event_id="ev-1")
            assert resp.status_code == 200
        (mo,) = r.inbound
        assert (mo.source, mo.destination, mo.text) == (TO, SENDER, "STOP please")
        assert mo.vendor_message_id == "ev-1" and mo.extras["routeKeyword"] == "STOP"


async def test_callback_header_is_required():
    async with rig() as r:
        await r.integration()
        body = json.dumps(r.fake.inbound_body(TO, SENDER, "hi")).encode()
        async with httpx.AsyncClient() as http:
            missing = await http.post(r.url("mo"), content=body,
                                      headers={"Content-Type": "application/json"})
            wrong = await http.post(r.url("dlr"), content=body,
                                    headers={"X-Webhook-Token": "nope"})
        assert missing.status_code == wrong.status_code == 403 and r.inbound == []
        assert any(e.kind == "webhook_rejected" for e in r.events)


async def test_allowed_ips_and_the_deactivated_gate():
    async with rig() as r:
        await r.integration(allowed_ips=["10.0.0.0/8"])
        refused = await r.fake.send_inbound(r.url("mo"), TO, SENDER, "hi")
        assert refused.status_code == 403 and r.inbound == []
    async with rig() as r:
        integ = await r.integration(allowed_ips=["127.0.0.0/8", "::1"])
        integ.active = False
        dropped = await r.fake.send_inbound(r.url("mo"), TO, SENDER, "hi")
        assert dropped.status_code == 200 and r.inbound == []
        assert [e.kind for e in r.events] == ["webhook_dropped"]


# --- the legacy Common platform ---------------------------------------------------


async def common(r: Rig, **cfg) -> LinkMobilityIntegration:
    r.fake.gate_url = r.url("dlr")
    return await r.integration(**{
        "platform": "common", "client_id": None, "client_secret": None,
        "api_base": r.fake.common_base, "username": r.fake.username,
        "password": r.fake.password, "platform_id": r.fake.platform_id,
        "platform_partner_id": r.fake.platform_partner_id,
        "delivery_report_gates": [r.fake.gate_id], **cfg})


def test_common_config_is_checked():
    spec = registry.spec("linkmobility")
    base = {"platform": "common", "public_base_url": "https://gw.example",
            "api_base": "https://n-eu.linkmobility.io/sms", "username": "u", "password": "p",
            "platform_id": "COMMON-API", "platform_partner_id": "1"}
    assert spec.decode_config(base).client_id is None
    with pytest.raises(ConfigInvalid, match="platform_partner_id"):
        spec.decode_config({**base, "platform_partner_id": None})
    with pytest.raises(ConfigInvalid, match="api_base"):
        spec.decode_config({k: v for k, v in base.items() if k != "api_base"})


async def test_common_send_reports_and_mapping():
    async with rig() as r:
        r.fake.outcome("+4712345671", [1000, 2104])
        r.fake.outcome("+4712345672", [1002])
        integ = await common(r)
        (res,) = await integ.submit(msg("msg_1"))
        (bad,) = await integ.submit(msg("msg_2", to="+4712345671"))
        (old,) = await integ.submit(msg("msg_3", to="+4712345672"))
        assert res.ok and bad.ok and old.ok and r.fake.token_requests == []
        (_, path, body, auth) = r.fake.requests[0]
        assert path == "/sms/send" and auth.startswith("Basic ")
        assert body == {"source": SENDER, "sourceTON": "MSISDN", "destination": TO,
                        "destinationTON": "MSISDN", "userData": "hello", "dcs": "TEXT",
                        "platformId": r.fake.platform_id,
                        "platformPartnerId": r.fake.platform_partner_id,
                        "useDeliveryReport": True, "deliveryReportGates": [r.fake.gate_id],
                        "refId": "msg_1", "ignoreResponse": False}
        await idle(r)
        by = {x.message_id: x for x in r.receipts if x.is_final}
        assert (by["msg_1"].generic_code, by["msg_1"].vendor_code) == (G.SUCCESS, 1001)
        assert (by["msg_2"].generic_code, by["msg_2"].cause, by["msg_2"].vendor_code) == (
            G.UNDELIVERABLE, "DEST_ADDR_INVALID", 2104)
        assert (by["msg_3"].generic_code, by["msg_3"].state) == (G.EXPIRED, 3)
        assert [x.cause for x in r.receipts if x.message_id == "msg_1"] == ["SENT", "DELIVERED"]


async def test_common_errors_and_inbound():
    async with rig() as r:
        r.fake.fail_next(1, http_status=503)
        r.fake.reject("+4712345699")
        integ = await common(r)
        (res,) = await integ.submit(msg("msg_t"))
        assert res.ok and res.attempts == 2
        (bad,) = await integ.submit(msg("msg_r", to="+4712345699"))
        assert not bad.ok and bad.attempts == 1 and bad.generic_code == G.REJECTED
        for _ in range(2):
            resp = await r.fake.send_common_inbound(r.url("mo"), TO, "NO-2333", "STOP now",
                                                    message_id="mo-1")
            assert resp.status_code == 200
        (mo,) = r.inbound
        assert (mo.source, mo.destination, mo.text, mo.extras["keyword"]) == (
            TO, "NO-2333", "STOP now", "STOP")
    async with rig() as r:
        integ = await common(r, password="wrong")
        (denied,) = await integ.submit(msg("msg_d"))
        assert not denied.ok and denied.attempts == 1
        assert (denied.cause, denied.vendor_code) == ("AUTHENTICATION_FAILED", 106100)
