"""The Vibes adapter against VibesFake over real HTTP on loopback: sends (the
XML on the wire), errors, retries, receipts (order, duplicates, error
mapping, multipart), inbound messages in both forms, allowed_ips, hostile
XML, the deactivated gate, and the US/Canada import check."""

from __future__ import annotations

import functools

import xml.etree.ElementTree as ET

import pytest
import trio

from byosms.advanced_config import GenericErrorCode as G
from byosms.pipeline import OutboundMessage
from byosms.providers import registry
from byosms.providers.base import ConfigInvalid
from byosms.providers.vibes import MAX_XML, VibesIntegration, XmlRefused, parse_xml
from byosms.testing.vibes_fake import VibesFake
from provider_rig import ProviderRig, provider_rig

WAIT = 30
SENDER = "12345"  # a short code
TO = "+13125550123"


def _config(fake: VibesFake, base: str) -> dict:
    return {"api_base": fake.base_url, "username": fake.username,
            "password": fake.password, "public_base_url": base}


Rig = ProviderRig
rig = functools.partial(provider_rig, VibesFake, "vibes", "vb", _config)


def msg(mid: str, text: str = "hello", to: str = TO) -> OutboundMessage:
    return OutboundMessage(message_id=mid, source=SENDER, destination=to, text=text,
                           segment_ids=["7"])


async def idle(r: Rig) -> None:
    with trio.fail_after(WAIT):
        await r.fake.wait_idle()


def test_config_is_checked_and_secrets_are_declared():
    spec = registry.spec("vibes")
    base = {"username": "u", "password": "p", "public_base_url": "https://gw.example"}
    assert spec.secret_fields == {"password"}
    cfg = spec.decode_config(base)
    assert cfg.api_base == "https://messageapi.vibesapps.com"
    with pytest.raises(ConfigInvalid, match="allowed_ips"):
        spec.decode_config({**base, "allowed_ips": ["not-an-ip"]})
    with pytest.raises(ConfigInvalid, match="api_base"):
        spec.decode_config({**base, "api_base": "ftp://x"})
    with pytest.raises(ConfigInvalid, match="password"):
        spec.decode_config({"username": "u", "public_base_url": "https://gw.example"})
    urls = spec.callback_urls("int_1", base)
    assert urls.status == "https://gw.example/vendors/v1/vibes/int_1/dlr"
    assert urls.inbound == "https://gw.example/vendors/v1/vibes/int_1/mo"
    assert "allowed_ips" in urls.setup and "US and Canada" in urls.setup
    assert spec.capabilities.number_check


def test_parse_xml_refuses_declarations_and_size():
    assert parse_xml(b"<a><!-- fine --><b><![CDATA[x]]></b></a>").tag == "a"
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;">]><moMessage>&lol2;</moMessage>')
    for body in (bomb, b"<!doctype x><x/>", b'<x><!ENTITY a "b"></x>',
                 b"<x>" + b"a" * MAX_XML + b"</x>", "<x/>".encode("utf-16"), b"not xml"):
        with pytest.raises(XmlRefused):
            parse_xml(body)


async def test_send_xml_and_delivered_receipt():
    async with rig() as r:
        integ = await r.integration()
        (res,) = await integ.submit(msg("msg_1", "x" * 200 + " <&> \"'"))
        assert res.ok and res.segment_id == "7" and res.attempts == 1
        (vid, sent), = r.fake.messages.items()
        assert res.vendor_message_id == vid
        assert sent["submitterMessageId"] == "msg_1" and sent["to"] == TO
        assert (sent["source"], sent["sourceType"]) == (SENDER, "SC")
        assert sent["text"] == "x" * 200 + " <&> \"'"
        assert sent["callbackUrl"] == r.url("dlr") and sent["receiptOption"] == "ALL"
        assert sent["splitLongMessage"] == "true"
        (_, path, body), = r.fake.requests
        assert path == "/MessageApi/mt/messages"
        assert ET.fromstring(body).tag == "mtMessage"
        await idle(r)
        (final,) = [x for x in r.receipts if x.is_final]
        assert final.state == 2 and final.generic_code == G.SUCCESS
        assert final.message_id == "msg_1" and final.segment_id == "7"
        assert final.message_state == "delivered"


def test_submitter_message_id_is_bounded():
    config = registry.spec("vibes").decode_config({
        "username": "u", "password": "p", "public_base_url": "https://gw.example"})
    integ = VibesIntegration(config, integration_id="vb")
    with pytest.raises(ValueError, match="40"):
        integ.request_body(msg("m" * 41))
    from byosms.schemas.records import new_id  # our ids fit
    assert len(new_id("msg_")) <= 40


async def test_receipts_out_of_order_and_twice_never_regress():
    async with rig() as r:
        r.fake.out_of_order = r.fake.duplicate_reports = True
        r.fake.outcome(TO, ["System", "Handset"])
        integ = await r.integration()
        await integ.submit(msg("msg_2"))
        await idle(r)
        assert [x.cause for x in r.receipts] == ["DELIVERED"]
        assert integ.stats["stale_callbacks"] >= 3


async def test_failed_receipts_map_codes():
    async with rig() as r:
        r.fake.outcome(TO, ["System", "Carrier"], error_code=9)
        r.fake.outcome("+13125550124", ["Handset"], error_code=100, internal_code=12)
        r.fake.outcome("+13125550125", ["Carrier"], error_code=100, internal_code=255)
        integ = await r.integration()
        await integ.submit(msg("msg_a"))
        await integ.submit(msg("msg_b", to="+13125550124"))
        await integ.submit(msg("msg_c", to="+13125550125"))
        await idle(r)
        by = {x.message_id: x for x in r.receipts if x.is_final}
        assert (by["msg_a"].generic_code, by["msg_a"].cause, by["msg_a"].vendor_code) == (
            G.UNDELIVERABLE, "MESSAGE_BLOCKED", 9)
        # errorCode unlisted: the internal code is tried next.
        assert (by["msg_b"].generic_code, by["msg_b"].cause, by["msg_b"].vendor_code) == (
            G.RETRYABLE_FAILURE, "MESSAGE_CAPPED", 12)
        assert (by["msg_c"].generic_code, by["msg_c"].cause, by["msg_c"].vendor_code) == (
            G.UNDELIVERABLE, "CARRIER_ERROR", 100)
        assert all(x.message_state == "failed" for x in by.values())


async def test_custom_mapping_and_multipart():
    async with rig(auto_reports=False) as r:
        integ = await r.integration(advanced_config={"protocolSpecificCodeMapping": {
            "9": {"genericErrorCode": 3, "genericErrorCause": "NUMBER_GONE"}}})
        (res,) = await integ.submit(msg("msg_o"))
        vid = res.vendor_message_id
        with trio.fail_after(WAIT):
            assert (await r.fake.deliver(vid, "Handset", part=(1, 2))).status_code == 200
            assert not [x for x in r.receipts if x.is_final]  # one part is not the message
            await r.fake.deliver(vid, "Handset", error_code=9, part=(2, 2))
        (final,) = [x for x in r.receipts if x.is_final]
        assert (final.generic_code, final.cause, final.message_id) == (
            G.PERMANENT_FAILURE, "NUMBER_GONE", "msg_o")


async def test_throttled_then_sent_and_permanent_refusals_not_retried():
    async with rig() as r:
        r.fake.fail_next(1, http_status=429, retry_after="0")
        r.fake.fail_next(1, http_status=503)
        r.fake.reject("+13125550199")
        integ = await r.integration()
        (res,) = await integ.submit(msg("msg_t"))
        assert res.ok and res.attempts == 3
        assert [e.kind for e in r.events].count("throttled") == 1
        (bad,) = await integ.submit(msg("msg_r", to="+13125550199"))
        assert not bad.ok and bad.attempts == 1 and bad.http_status == 400
        assert (bad.generic_code, bad.cause) == (G.REJECTED, "HTTP_400")
        assert sum(1 for _, _, b in r.fake.requests if b"+13125550199" in b) == 1


async def test_throttled_for_good_is_retryable_and_wrong_login_is_not():
    async with rig() as r:
        r.fake.fail_next(10, http_status=429, retry_after="0")
        integ = await r.integration(max_attempts=2)
        (res,) = await integ.submit(msg("msg_x"))
        assert not res.ok and res.generic_code == G.RETRYABLE_FAILURE and res.cause == "THROTTLED"
        assert res.attempts == 2
    async with rig() as r:
        integ = await r.integration(password="wrong")
        (res,) = await integ.submit(msg("msg_k"))
        assert not res.ok and res.http_status == 401 and res.attempts == 1
        assert (res.generic_code, res.cause) == (G.PERMANENT_FAILURE, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("legacy", [False, True])
async def test_inbound_once_in_both_forms(legacy):
    async with rig() as r:
        await r.integration()
        for _ in range(2):  # Vibes retrying the same message
            resp = await r.fake.send_inbound(r.url("mo"), "+13125550123", SENDER,
                                             "STOP please", message_id="in-1", legacy=legacy)
            assert resp.status_code == 200
        (mo,) = r.inbound
        assert (mo.source, mo.destination, mo.text) == ("+13125550123", SENDER, "STOP please")
        assert mo.vendor_message_id == "in-1" and mo.extras["carrier"] == "103"


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


async def test_hostile_and_odd_xml():
    async with rig() as r:
        await r.integration()
        bomb = (b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa">'
                b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                b'<moMessage messageId="x"><source address="+13125550123"/>'
                b'<destination address="12345"/><message>&b;</message></moMessage>')
        with trio.fail_after(WAIT):
            assert (await r.fake.post_xml(r.url("mo"), bomb)).status_code == 403
            big = b"<moMessage>" + b"a" * (MAX_XML + 1) + b"</moMessage>"
            assert (await r.fake.post_xml(r.url("dlr"), big)).status_code == 413
            # Well-formed but not a Vibes document: answered 200, as Vibes asks.
            assert (await r.fake.post_xml(r.url("dlr"), b"<other/>")).status_code == 200
            assert (await r.fake.post_xml(r.url("mo"), b"<other/>")).status_code == 200
        assert r.inbound == [] and r.receipts == []
        assert [e.kind for e in r.events].count("protocol_error") == 2


async def test_check_number_us_and_canada_only():
    async with rig() as r:
        integ = await r.integration()
        for number in ("+13125550123", "+16135550123"):
            ok = await integ.check_number(number)
            assert ok.status == "found" and "no number lookup" in ok.message
        for number in ("+447860099299", "+18765550123"):  # GB; Jamaica is +1 but not US/CA
            no = await integ.check_number(number)
            assert no.status == "not_found"
            assert no.message.startswith("Vibes serves US and Canada numbers only")
        assert r.fake.requests == []  # nothing asked at Vibes
