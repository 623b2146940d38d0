"""The TeleSign adapter against TelesignFake over real HTTP on loopback, and
TeleSign's official SDK (`telesign`) as the oracle for request signatures,
callback verification and the fake's API. Never copies SDK code."""

from __future__ import annotations

import functools

import json

import pytest
import trio
from telesign.messaging import MessagingClient
from telesign.rest import RestClient
from telesign.util import verify_telesign_callback_signature

from byosms.advanced_config import GenericErrorCode as G
from byosms.pipeline import OutboundMessage
from byosms.providers import registry
from byosms.providers.base import ConfigInvalid
from byosms.providers.telesign import callback_signature, sign_request, verify_callback
from byosms.testing.telesign_fake import TelesignFake
from provider_rig import ProviderRig, provider_rig

WAIT = 30
CID = "FFFFFFFF-EEEE-DDDD-1234-AB1234567890"
KEY = "EXAMPLE----TE8sTgg45yusumoN6BYsBVkh+yRJ5czgsnCehZaOYldPJdmFh6NeX8kunZ2zU1YWaUw/0wV6xfw=="
DATE = "Wed, 14 Dec 2016 18:20:12 GMT"
NONCE = "A1592C6F-E384-4CDB-BC42-C3AB970369E9"
SENDER = "+15005550006"
TO = "+15551230001"


# --- signatures against the SDK -------------------------------------------------


@pytest.mark.parametrize("method,fields", [
    ("POST", "test=param"), ("GET", ""), ("PUT", "a=1&b=two+words"),
    ("POST", "phone_number=15551230001&message=Hi+there+%26+co&message_type=ARN"),
    ("DELETE", ""),
])
def test_request_signature_is_the_sdks(method, fields):
    sdk = RestClient.generate_telesign_headers(
        CID, KEY, method, "/v1/resource", fields, date_rfc2616=DATE, nonce=NONCE)
    ours = sign_request(CID, KEY, method, "/v1/resource", fields, DATE, NONCE)
    assert ours == sdk["Authorization"]


def test_published_vectors():
    assert sign_request(CID, KEY, "POST", "/v1/resource", "test=param", DATE, NONCE) == \
        f"TSA {CID}:2xVlmbrxLjYrrPun3G3WMNG6Jon4yKcTeOoK9DjXJ/Q="
    assert sign_request(CID, KEY, "GET", "/v1/resource", "", DATE, NONCE) == \
        f"TSA {CID}:aUm7I+9GKl3ww7PNeeJntCT0iS7b+EmRKEE4LnRzChQ="
    assert callback_signature(KEY, b"{'test': 123}") == "B97g3N9lPdVaptvifxRau7bzVAC5hhRBZ6HKXABN744="


@pytest.mark.parametrize("body", [b"{'test': 123}", b'{"reference_id": "AB", "status": {}}',
                                  "{\"t\": \"Grüße\"}".encode()])
def test_callback_verification_agrees_with_the_sdk(body):
    sig = callback_signature(KEY, body)
    assert verify_telesign_callback_signature(KEY, sig, body.decode())
    for headers in ({"authorization": f"TSA {CID}:{sig}"}, {"x-ts-authorization": sig},
                    {"x-ts-authorization": f"TSA {CID}:{sig}"}):
        assert verify_callback(KEY, body, headers)
    bad = callback_signature(KEY, body + b" ")
    assert not verify_telesign_callback_signature(KEY, bad, body.decode())
    assert not verify_callback(KEY, body, {"authorization": f"TSA {CID}:{bad}"})
    assert not verify_callback(KEY, body, {})


async def test_the_sdk_client_sends_through_the_fake():
    async with TelesignFake(auto_callbacks=False) as fake:
        def send() -> object:
            client = MessagingClient(fake.customer_id, fake.api_key, rest_endpoint=fake.base_url)
            return client.message("15551230001", "Hello from the SDK", "ARN")

        with trio.fail_after(WAIT):
            response = await trio.to_thread.run_sync(send)
        assert response.ok and response.json["status"]["code"] == 290
        (ref,) = fake.messages
        assert fake.messages[ref]["message"] == "Hello from the SDK"
        assert fake.requests[-1][3] == "TSA"  # the fake checked the SDK's digest

        def replay() -> object:  # a second client with a wrong key: refused
            client = MessagingClient(fake.customer_id, KEY, rest_endpoint=fake.base_url)
            return client.message("15551230001", "x", "ARN")

        with trio.fail_after(WAIT):
            refused = await trio.to_thread.run_sync(replay)
        assert refused.status_code == 401 and refused.json["errors"][0]["code"] == -30006


# --- the adapter against the fake ----------------------------------------------------


def _config(fake: TelesignFake, base: str) -> dict:
    return {"customer_id": fake.customer_id, "api_key": fake.api_key,
            "api_base": fake.base_url, "public_base_url": base}


Rig = ProviderRig
rig = functools.partial(provider_rig, TelesignFake, "telesign", "ts", _config)


def msg(mid: str, text: str = "hello", to: str = TO) -> OutboundMessage:
    return OutboundMessage(message_id=mid, source=SENDER, destination=to, text=text,
                           segment_ids=["3"])


def test_config_checks():
    spec = registry.spec("telesign")
    base = {"customer_id": CID, "api_key": KEY, "public_base_url": "https://gw.example"}
    assert spec.secret_fields == {"api_key"}
    assert spec.decode_config(base).api_base == "https://rest-ww.telesign.com"
    with pytest.raises(ConfigInvalid, match="message_type"):
        spec.decode_config({**base, "message_type": "SPAM"})
    with pytest.raises(ConfigInvalid, match="api_key"):
        spec.decode_config({**base, "api_key": "%%%"})


@pytest.mark.parametrize("auth", ["digest", "basic"])
async def test_send_signed_and_delivered(auth):
    async with rig() as r:
        integ = await r.integration(auth_method=auth)
        (res,) = await integ.submit(msg("msg_1"))
        (res2,) = await integ.submit(msg("msg_2"))  # a fresh nonce each time
        assert res.ok and res2.ok and len(res.vendor_message_id) == 32
        method, path, form, scheme = r.fake.requests[0]
        assert (path, scheme) == ("/v1/messaging", "TSA" if auth == "digest" else "Basic")
        assert form["phone_number"] == TO[1:] and form["sender_id"] == SENDER[1:]
        assert form["callback_url"] == r.url("status") + "?m=msg_1"
        assert form["message_type"] == "ARN" and form["external_id"] == "msg_1"
        with trio.fail_after(WAIT):
            await r.fake.wait_idle()
        finals = {x.message_id: x for x in r.receipts if x.is_final}
        assert finals["msg_1"].generic_code == G.SUCCESS and finals["msg_1"].segment_id == "3"
        assert [x.cause for x in r.receipts if x.message_id == "msg_1"] == ["EN_ROUTE", "DELIVERED"]


async def test_failed_codes_map_and_never_regress():
    async with rig() as r:
        r.fake.outcome(TO, [203, 211])
        r.fake.outcome("+15551230002", [221])
        r.fake.out_of_order = r.fake.duplicate_callbacks = True
        integ = await r.integration()
        await integ.submit(msg("msg_a"))
        await integ.submit(msg("msg_b", to="+15551230002"))
        with trio.fail_after(WAIT):
            await r.fake.wait_idle()
        by = {x.message_id: x for x in r.receipts if x.is_final}
        assert (by["msg_a"].generic_code, by["msg_a"].cause, by["msg_a"].vendor_code) == (
            G.UNDELIVERABLE, "DEST_ADDR_INVALID", 211)
        assert (by["msg_b"].generic_code, by["msg_b"].cause) == (G.EXPIRED, "EXPIRED")
        # 211 came first (out of order): the later 203 and the copies are stale.
        assert [x.cause for x in r.receipts if x.message_id == "msg_a"] == ["DEST_ADDR_INVALID"]


async def test_refusals_throttling_and_auth_errors():
    async with rig() as r:
        r.fake.fail_next(2, http_status=429)
        integ = await r.integration()
        (ok,) = await integ.submit(msg("msg_t"))
        assert ok.ok and ok.attempts == 3
        (bad,) = await integ.submit(msg("msg_x", to="+12"))
        assert not bad.ok and bad.attempts == 1 and bad.vendor_code == 11000
        assert (bad.generic_code, bad.cause) == (G.PERMANENT_FAILURE, "DEST_ADDR_INVALID")
    async with rig() as r:
        integ = await r.integration(api_key=KEY)  # not this account's key
        (res,) = await integ.submit(msg("msg_k"))
        assert not res.ok and res.vendor_code == -30006 and res.attempts == 1
        assert (res.generic_code, res.cause) == (G.PERMANENT_FAILURE, "AUTHENTICATION_FAILED")


async def test_callbacks_authenticated_and_inbound_once():
    async with rig() as r:
        await r.integration()
        for _ in range(2):  # TeleSign retrying
            ok = await r.fake.send_inbound(r.url("mo"), "+15551230000", SENDER, "STOP",
                                           ref="AB" * 16)
            assert ok.status_code == 200
        (mo,) = r.inbound
        assert (mo.source, mo.destination, mo.text) == ("+15551230000", SENDER, "STOP")
        # The same endpoint takes either kind (TeleSign's one callback service).
        ok = await r.fake.send_inbound(r.url("status"), "+15551230000", SENDER, "again")
        assert ok.status_code == 200 and len(r.inbound) == 2
        for sig in ("bad", "none"):
            refused = await r.fake.send_inbound(r.url("mo"), "+15551230000", SENDER, "x",
                                                signature=sig)
            assert refused.status_code == 403
        assert len(r.inbound) == 2
        body = json.dumps(r.fake.inbound_body("+1555", SENDER, "x")).encode()
        assert verify_callback(r.fake.api_key, body, {
            "x-ts-authorization": callback_signature(r.fake.api_key, body)})
