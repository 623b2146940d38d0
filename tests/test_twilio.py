"""Twilio provider end to end against byosms.testing.TwilioFake over real
HTTP on loopback: send -> status callbacks -> receipts, 429 back-off, error
mapping (21610 opt-out), inbound -> on_mo, signatures (403 + event),
deactivated drops (T4), the import check (T3)."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import trio

from byosms.advanced_config import GenericErrorCode
from byosms.providers import twilio as tw
from byosms.providers.base import Provider, ProviderRuntime
from byosms.providers.twilio import EMPTY_TWIML, ProviderInactive, TwilioIntegration
from byosms.schemas.twilio import decode_twilio_config
from byosms.testing import TwilioFake
from byosms.web import IntegrationRegistry, create_app, serve_web

SENDER = "+15005550006"
RCPT = "+15551234567"


class Rig:
    def __init__(self, fake: TwilioFake, port: int, nursery: trio.Nursery, registry: IntegrationRegistry) -> None:
        self.fake = fake
        self.port = port
        self.nursery = nursery
        self.registry = registry
        self.events: list[Any] = []
        self.web_events: list[Any] = []
        self.results: list[Any] = []
        self.receipts: list[Any] = []
        self.mos: list[Any] = []
        self.opt_outs: list[Any] = []
        self.order: list[str] = []

    def integration(self, integration_id: str = "acme", **cfg: Any) -> TwilioIntegration:
        config = decode_twilio_config(
            {
                "account_sid": self.fake.account_sid,
                "auth_token": self.fake.auth_token,
                "api_base": self.fake.base_url,
                "public_base_url": f"http://127.0.0.1:{self.port}",
                "backoff": 0.0,
                **cfg,
            }
        )

        async def on_receipt(r: Any) -> None:
            self.order.append(f"receipt:{r.message_id}")
            self.receipts.append(r)

        def on_submit_result(r: Any) -> None:
            self.order.append(f"result:{r.message_id}")
            self.results.append(r)

        integ = TwilioIntegration(
            config,
            integration_id=integration_id,
            on_event=self.events.append,
            on_submit_result=on_submit_result,
            on_receipt=on_receipt,
            on_mo=self.mos.append,
            on_opt_out=self.opt_outs.append,
        )
        self.registry.add(integ)
        return integ

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
async def rig(nursery):
    async with TwilioFake() as fake:
        registry = IntegrationRegistry()
        web_events: list[Any] = []
        app = create_app(registry, on_event=web_events.append)
        port = await nursery.start(serve_web, app, "127.0.0.1", 0)
        r = Rig(fake, port, nursery, registry)
        r.web_events = web_events
        yield r


def msg(message_id: str = "m1", text: str = "hello", to: str = RCPT, source: str = SENDER) -> Any:
    return SimpleNamespace(message_id=message_id, source=source, destination=to, text=text)


async def test_is_a_provider(rig):
    integ = rig.integration()
    assert isinstance(integ, Provider)
    urls = integ.callback_urls()
    assert urls.inbound == f"http://127.0.0.1:{rig.port}/vendors/v1/twilio/acme/mo"
    assert urls.status == f"http://127.0.0.1:{rig.port}/vendors/v1/twilio/acme/status"
    await integ.aclose()


async def test_send_callbacks_receipts(rig):
    integ = rig.integration()
    [result] = await integ.submit(msg("m1", "x" * 200))  # 2 GSM segments at Twilio
    assert result.ok and result.vendor_message_id.startswith("SM")
    assert result.segment_count == 2
    assert result.generic_code == GenericErrorCode.ACCEPTED
    method, path, form = rig.fake.requests[-1]
    f = dict(form)
    assert (method, path) == ("POST", f"/2010-04-01/Accounts/{rig.fake.account_sid}/Messages.json")
    assert f["To"] == RCPT and f["From"] == SENDER and f["Body"] == "x" * 200
    assert f["StatusCallback"] == integ.callback_urls().status + "?m=m1"
    with trio.fail_after(30):
        await rig.fake.wait_idle()
    assert [r.state_name for r in rig.receipts] == ["sent", "delivered"]
    sent, delivered = rig.receipts
    assert not sent.is_final and sent.message_state == "en_route" and sent.generic_code == GenericErrorCode.EN_ROUTE
    assert delivered.is_final and delivered.message_state == "delivered"
    assert delivered.generic_code == GenericErrorCode.SUCCESS
    assert delivered.message_id == "m1" and delivered.segment_id == "m1:1" and delivered.segment_count == 2
    assert delivered.vendor_message_id == result.vendor_message_id
    assert delivered.done_date and len(delivered.done_date) == 10
    assert rig.order.index("result:m1") < rig.order.index("receipt:m1")
    assert all(status == 200 for _, _, status in rig.fake.callbacks)
    fetched = await integ.fetch_message(result.vendor_message_id)
    assert fetched["status"] == "delivered" and fetched["num_segments"] == "2"
    await integ.aclose()


async def test_connection_reuse(rig):
    integ = rig.integration()
    for i in range(5):
        await integ.submit(msg(f"m{i}"))
    assert len(rig.fake.connections) == 1
    with trio.fail_after(30):
        await rig.fake.wait_idle()
    await integ.aclose()


async def test_failed_delivery_maps_error_code(rig):
    integ = rig.integration()
    rig.fake.outcome(RCPT, ["sent", "undelivered"], error_code=30003)
    await integ.submit(msg("m1"))
    with trio.fail_after(30):
        await rig.fake.wait_idle()
    final = rig.receipts[-1]
    assert final.state_name == "undelivered" and final.is_final and final.message_state == "failed"
    assert final.vendor_code == 30003
    assert (final.generic_code, final.cause) == (GenericErrorCode.UNDELIVERABLE, "SUBSCRIBER_UNREACHABLE")
    await integ.aclose()


async def test_custom_mapping_overrides_twilio_default(rig):
    integ = rig.integration(
        advanced_config={"protocolSpecificCodeMapping": {"30007": {"genericErrorCode": 2, "genericErrorCause": "RETRY_ME"}}}
    )
    rig.fake.outcome(RCPT, ["failed"], error_code=30007)
    await integ.submit(msg("m1"))
    with trio.fail_after(30):
        await rig.fake.wait_idle()
    assert (rig.receipts[-1].generic_code, rig.receipts[-1].cause) == (GenericErrorCode.RETRYABLE_FAILURE, "RETRY_ME")
    # An unmapped code keeps the status's own meaning.
    rig.fake.outcome(RCPT, ["failed"], error_code=39999)
    await integ.submit(msg("m2"))
    with trio.fail_after(30):
        await rig.fake.wait_idle()
    assert (rig.receipts[-1].generic_code, rig.receipts[-1].cause) == (GenericErrorCode.REJECTED, "FAILED")
    await integ.aclose()


async def test_out_of_order_and_duplicate_callbacks(rig):
    integ = rig.integration()
    rig.fake.out_of_order = True
    rig.fake.duplicate_callbacks = True
    await integ.submit(msg("m1"))
    with trio.fail_after(30):
        await rig.fake.wait_idle()
    # delivered, delivered, sent, sent: only the first delivered counts.
    assert [r.state_name for r in rig.receipts] == ["delivered"]
    assert integ.stats["stale_callbacks"] == 3
    rig.fake.out_of_order = False
    rig.fake.outcome(RCPT, ["sending", "sent", "sending", "undelivered", "delivered"], error_code=30005)
    await integ.submit(msg("m2"))
    with trio.fail_after(30):
        await rig.fake.wait_idle()
    assert [r.state_name for r in rig.receipts[1:]] == ["sending", "sent", "undelivered"]
    await integ.aclose()


async def test_429_backs_off_and_retries(rig):
    integ = rig.integration(max_attempts=4)
    rig.fake.fail_next(2, retry_after="0")
    [result] = await integ.submit(msg("m1"))
    assert result.ok and result.attempts == 3
    assert rig.kinds().count("throttled") == 2 and integ.stats["throttled"] == 2
    # Bounded: more failures than attempts give a retryable failure result.
    rig.fake.fail_next(4, retry_after="0")
    [result] = await integ.submit(msg("m2"))
    assert not result.ok and result.attempts == 4 and result.http_status == 429
    assert (result.generic_code, result.cause, result.vendor_code) == (GenericErrorCode.RETRYABLE_FAILURE, "THROTTLED", 20429)
    assert rig.results[-1] is result
    with trio.fail_after(30):
        await rig.fake.wait_idle()
    await integ.aclose()


async def test_20429_in_a_4xx_body_is_throttling(rig):
    """Twilio may say "too many requests" in the body of another status:
    the kit's classify hook makes it a retried throttle."""
    integ = rig.integration(max_attempts=3)
    rig.fake.fail_next(1, http_status=400, code=20429, retry_after="0")
    [result] = await integ.submit(msg("m1"))
    assert result.ok and result.attempts == 2
    assert integ.stats["throttled"] == 1 and rig.kinds().count("throttled") == 1
    [event] = [e for e in rig.events if e.kind == "throttled"]
    assert event.command_status == 20429 and "HTTP 400" in event.detail
    await rig.fake.wait_idle()
    await integ.aclose()


async def test_5xx_retried_and_stays_retryable_when_exhausted(rig):
    integ = rig.integration(max_attempts=3)
    rig.fake.fail_next(2, http_status=503, code=29999)
    [result] = await integ.submit(msg("m1"))
    assert result.ok and result.attempts == 3 and integ.stats["throttled"] == 0
    # A code the mapping doesn't know, on a transient status: still retryable.
    rig.fake.fail_next(3, http_status=503, code=29999)
    [result] = await integ.submit(msg("m2"))
    assert not result.ok and result.attempts == 3 and result.http_status == 503
    assert (result.generic_code, result.cause, result.vendor_code) == (
        GenericErrorCode.RETRYABLE_FAILURE, "HTTP_ERROR", 29999)
    await rig.fake.wait_idle()
    await integ.aclose()


async def test_unreachable_api_is_a_retryable_result(rig):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    integ = rig.integration(api_base=f"http://127.0.0.1:{closed}", max_attempts=2)
    with trio.fail_after(10):
        [result] = await integ.submit(msg("m1"))
    assert not result.ok and result.attempts == 2 and result.http_status is None
    assert (result.generic_code, result.cause) == (GenericErrorCode.RETRYABLE_FAILURE, "HTTP_ERROR")
    assert integ.stats["transport_errors"] == 2 and rig.results == [result]
    assert "delivery_failure" in rig.kinds()
    with pytest.raises(tw.TwilioApiError) as e, trio.fail_after(10):
        await integ.check_number(SENDER)
    assert e.value.http_status is None
    await integ.aclose()


async def test_runtime_http_transport_is_used():
    """ProviderRuntime.http_transport reaches the client; ``transport=``
    (the existing tests' way) wins over it."""
    seen: list[str] = []

    def answer(tag):
        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(tag)
            return httpx.Response(201, json={"sid": "SM" + "0" * 32, "status": "queued", "num_segments": "1"})
        return handler

    config = decode_twilio_config(
        {"account_sid": "AC" + "0" * 32, "auth_token": "tok", "public_base_url": "https://gw.example.com"}
    )
    runtime = ProviderRuntime(http_transport=httpx.MockTransport(answer("runtime")))
    integ = TwilioIntegration(config, integration_id="rt", runtime=runtime)
    [result] = await integ.submit(msg("m1"))
    assert result.ok and seen == ["runtime"]
    await integ.aclose()
    integ = TwilioIntegration(config, integration_id="rt", runtime=runtime,
                              transport=httpx.MockTransport(answer("explicit")))
    await integ.submit(msg("m2"))
    assert seen == ["runtime", "explicit"]
    await integ.aclose()


def test_answers_keywords_and_max_in_flight():
    base = {"account_sid": "AC" + "0" * 32, "auth_token": "tok", "public_base_url": "https://gw.example.com"}
    integ = TwilioIntegration(decode_twilio_config(base), integration_id="k")
    assert integ.answers_keywords is True and integ.max_in_flight == 10
    integ = TwilioIntegration(
        decode_twilio_config({**base, "keyword_replies": "gateway", "max_connections": 3}), integration_id="k"
    )
    assert integ.answers_keywords is False and integ.max_in_flight == 3


async def test_inbound_not_remembered_when_routing_failed(rig):
    """A failed on_mo answers 500 so Twilio retries; that retry must be
    routed, not taken for a duplicate."""
    integ = rig.integration()
    calls: list[str] = []

    def flaky(m):
        calls.append(m.text)
        if len(calls) == 1:
            raise RuntimeError("store down")

    integ._on_mo = tw.callback(flaky)
    url = integ.callback_urls().inbound
    r = await rig.fake.send_inbound(url, RCPT, SENDER, "hi", message_sid="SM" + "7" * 32)
    assert r.status_code == 500
    r = await rig.fake.send_inbound(url, RCPT, SENDER, "hi", message_sid="SM" + "7" * 32)
    assert r.status_code == 200 and calls == ["hi", "hi"]
    r = await rig.fake.send_inbound(url, RCPT, SENDER, "hi", message_sid="SM" + "7" * 32)
    assert r.status_code == 200 and calls == ["hi", "hi"] and integ.stats["duplicate_inbound"] == 1
    await integ.aclose()


async def test_opted_out_recipient(rig):
    integ = rig.integration()
    rig.fake.reject(RCPT, 21610, message="Attempt to send to unsubscribed recipient")
    [result] = await integ.submit(msg("m1"))
    assert not result.ok and result.vendor_code == 21610 and result.http_status == 400
    assert (result.generic_code, result.cause) == (GenericErrorCode.REJECTED, "RECIPIENT_OPTED_OUT")
    [opt] = rig.opt_outs
    assert (opt.sender, opt.recipient, opt.vendor_code, opt.message_id) == (SENDER, RCPT, 21610, "m1")
    assert "recipient_opted_out" in rig.kinds() and "delivery_failure" in rig.kinds()
    await integ.aclose()


@pytest.mark.parametrize(
    ("to", "code", "generic"),
    [("12345", 21211, GenericErrorCode.PERMANENT_FAILURE), ("+15557654321", 21614, GenericErrorCode.UNDELIVERABLE)],
)
async def test_create_errors_map(rig, to, code, generic):
    integ = rig.integration()
    if code != 21211:
        rig.fake.reject(to, code)
    [result] = await integ.submit(msg("m1", to=to))
    assert not result.ok and result.vendor_code == code and result.generic_code == generic
    assert result.attempts == 1
    await integ.aclose()


async def test_wrong_token_is_auth_failure(rig):
    integ = rig.integration(auth_token="wrong")
    [result] = await integ.submit(msg("m1"))
    assert not result.ok and result.http_status == 401 and result.vendor_code == 20003
    assert result.cause == "AUTHENTICATION_FAILED" and result.attempts == 1
    with pytest.raises(tw.TwilioApiError) as e:
        await integ.check_number(SENDER)
    assert e.value.code == 20003 and e.value.http_status == 401
    await integ.aclose()


async def test_messaging_service(rig):
    integ = rig.integration(messaging_service_sid="MG" + "1" * 32)
    [result] = await integ.submit(msg("m1", source=""))
    assert result.ok and result.vendor_status == "accepted"
    f = dict(rig.fake.requests[-1][2])
    assert f["MessagingServiceSid"] == "MG" + "1" * 32 and "From" not in f
    with trio.fail_after(30):
        await rig.fake.wait_idle()
    await integ.aclose()


async def test_inbound_to_on_mo(rig):
    integ = rig.integration()
    url = integ.callback_urls().inbound
    r = await rig.fake.send_inbound(url, RCPT, SENDER, "STOP please é")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    assert r.content == EMPTY_TWIML
    [mo] = rig.mos
    assert (mo.source, mo.destination, mo.text) == (RCPT, SENDER, "STOP please é")
    assert mo.vendor_message_id.startswith("SM") and mo.parts == 1 and mo.extras["I-Twilio-Idempotency-Token"]
    # Twilio retrying the same message: answered, not routed twice.
    r = await rig.fake.send_inbound(url, RCPT, SENDER, "STOP please é", message_sid=mo.vendor_message_id)
    assert r.status_code == 200 and len(rig.mos) == 1 and integ.stats["duplicate_inbound"] == 1
    await integ.aclose()


@pytest.mark.parametrize("signature", ["bad", None, "garbage=="])
async def test_bad_signature_403_event_nothing_routed(rig, signature):
    integ = rig.integration()
    r = await rig.fake.send_inbound(integ.callback_urls().inbound, RCPT, SENDER, "hi", signature=signature)
    assert r.status_code == 403
    assert rig.mos == []
    [event] = [e for e in rig.events if e.kind == "webhook_rejected"]
    assert event.cause == "bad_signature" and event.integration == "acme"
    # Status callbacks too.
    rig.fake.bad_signatures = True
    await integ.submit(msg("m1"))
    with trio.fail_after(30):
        await rig.fake.wait_idle()
    assert rig.receipts == []
    assert {s for _, _, s in rig.fake.callbacks} == {403}
    assert integ.stats["rejected_signature"] == 3
    await integ.aclose()


async def test_signature_bound_to_integration_url(rig):
    """A request validly signed for one integration's URL is refused at
    another's (the URL is part of what is signed)."""
    a = rig.integration("a")
    b = rig.integration("b")
    params = [("From", RCPT), ("To", SENDER), ("Body", "x"), ("MessageSid", "SM1")]
    sig = tw.compute_signature(rig.fake.auth_token, a.callback_urls().inbound, params)
    r = await rig.fake.post_webhook(b.callback_urls().inbound, params, signature=sig)
    assert r.status_code == 403 and rig.mos == []
    r = await rig.fake.post_webhook(a.callback_urls().inbound, params, signature=sig)
    assert r.status_code == 200 and len(rig.mos) == 1
    await a.aclose()
    await b.aclose()


async def test_deactivated_drops_inbound_and_status(rig):
    integ = rig.integration()
    await integ.submit(msg("m1"))
    with trio.fail_after(30):
        await rig.fake.wait_idle()
    sid = rig.results[0].vendor_message_id
    n_receipts = len(rig.receipts)
    integ.active = False
    r = await rig.fake.send_inbound(integ.callback_urls().inbound, RCPT, SENDER, "hi")
    assert r.status_code == 200 and rig.mos == []
    r = await rig.fake.deliver(sid, "undelivered", error_code=30003)
    assert r.status_code == 200 and len(rig.receipts) == n_receipts
    dropped = [e for e in rig.events if e.kind == "webhook_dropped"]
    assert len(dropped) == 2 and all(e.cause == "deactivated" for e in dropped)
    assert "2 dropped so far" in dropped[-1].detail and integ.stats["dropped_inactive"] == 2
    with pytest.raises(ProviderInactive):
        await integ.submit(msg("m2"))
    # Bad signatures are refused (403) before the drop rule is applied.
    r = await rig.fake.send_inbound(integ.callback_urls().inbound, RCPT, SENDER, "hi", signature="bad")
    assert r.status_code == 403 and integ.stats["dropped_inactive"] == 2
    integ.active = True
    r = await rig.fake.send_inbound(integ.callback_urls().inbound, RCPT, SENDER, "back")
    assert [m.text for m in rig.mos] == ["back"]
    await integ.aclose()


async def test_unknown_integration_and_healthz(rig):
    async with httpx.AsyncClient() as client:
        r = await client.post(f"http://127.0.0.1:{rig.port}/vendors/v1/twilio/nope/mo", data={"a": "b"})
        assert r.status_code == 404
        r = await client.get(f"http://127.0.0.1:{rig.port}/healthz")
        assert r.status_code == 200 and r.text == "ok"


async def test_handler_failure_is_500_and_event(rig):
    integ = rig.integration()

    def boom(_):
        raise RuntimeError("store down")

    integ._on_mo = tw.callback(boom)
    r = await rig.fake.send_inbound(integ.callback_urls().inbound, RCPT, SENDER, "hi")
    assert r.status_code == 500
    assert [e.kind for e in rig.web_events] == ["protocol_error"] and "store down" in rig.web_events[0].detail
    await integ.aclose()


async def test_receipt_before_create_response_waits(rig):
    """A callback that overtakes the create response is held until
    on_submit_result returned (as SMPP receipts are)."""
    integ = rig.integration()
    gate = trio.Event()
    entered = trio.Event()

    async def slow_result(r):
        entered.set()
        await gate.wait()
        rig.order.append(f"result:{r.message_id}")

    integ._on_submit_result = slow_result
    rig.fake.auto_callbacks = True
    async with trio.open_nursery() as n:
        n.start_soon(integ.submit, msg("m1"))
        with trio.fail_after(30):
            await entered.wait()
        sid = next(iter(rig.fake.messages))
        n.start_soon(rig.fake.deliver, sid, "delivered")
        await trio.testing.wait_all_tasks_blocked()
        assert not any(o.startswith("receipt") for o in rig.order)
        gate.set()
    with trio.fail_after(30):
        await rig.fake.wait_idle()
    assert rig.order[0] == "result:m1" and rig.order[1] == "receipt:m1"
    assert rig.receipts[0].early
    await integ.aclose()


async def test_import_check(rig):
    integ = rig.integration()
    expected = integ.callback_urls().inbound
    rig.fake.add_number(SENDER, sms_url=expected)
    rig.fake.add_number("+15005550007", sms_url=expected.replace("127.0.0.1", "127.0.0.1:80").replace(f":{rig.port}", "") + "/")
    rig.fake.add_number("+15005550008", sms_url="https://demo.twilio.com/welcome/sms/reply")
    rig.fake.add_number("+15005550009")
    rig.fake.add_number("+15005550010", sms_url=expected, sms_method="GET")

    found = await integ.check_number(SENDER)
    assert found.status == "found" and found.vendor_number_id.startswith("PN")
    assert rig.fake.requests[-1][2] == [("PhoneNumber", SENDER)]

    missing = await integ.check_number("+15005550099")
    assert missing.status == "not_found" and "not found at the vendor" in missing.message

    for number, shown in (("+15005550008", "https://demo.twilio.com/welcome/sms/reply"), ("+15005550009", "no SMS webhook"), ("+15005550010", "(GET)")):
        check = await integ.check_number(number)
        assert check.status == "webhook_mismatch", number
        assert check.expected_url == expected
        assert expected in check.message and "Defer to sender's webhook" in check.message
        assert shown in check.message
    # A different port is a different URL.
    other = await integ.check_number("+15005550007")
    assert other.status == "webhook_mismatch"
    await integ.aclose()


async def test_import_check_accepts_equivalent_url(rig):
    integ = rig.integration()
    expected = integ.callback_urls().inbound
    rig.fake.add_number(SENDER, sms_url=expected.upper().replace("/VENDORS/V1/TWILIO/ACME/MO", "/vendors/v1/twilio/acme/mo/"))
    assert (await integ.check_number(SENDER)).status == "found"
    await integ.aclose()


async def test_run_closes_client(rig):
    integ = rig.integration()
    async with trio.open_nursery() as n:
        assert await n.start(integ.run) is integ
        await integ.submit(msg("m1"))
        n.cancel_scope.cancel()
    assert integ.http.is_closed
    with trio.fail_after(30):
        await rig.fake.wait_idle()


async def test_json_body_webhook_and_unreadable_bodies():
    """handle_webhook without the web layer: the bodySHA256 variant routes,
    a body that doesn't match its hash or isn't readable is refused."""
    import hashlib
    import json

    from byosms.providers.base import WebhookRequest

    events: list[Any] = []
    receipts: list[Any] = []
    config = decode_twilio_config(
        {"account_sid": "AC" + "0" * 32, "auth_token": "tok", "public_base_url": "https://gw.example.com"}
    )
    integ = TwilioIntegration(config, integration_id="j", on_event=events.append, on_receipt=receipts.append)
    body = json.dumps({"MessageSid": "SM9", "MessageStatus": "delivered"}).encode()
    url = integ.callback_urls().status + "?m=x&bodySHA256=" + hashlib.sha256(body).hexdigest()

    def req(b: bytes, u: str = url, sig: str | None = None) -> WebhookRequest:
        return WebhookRequest(
            kind="status", method="POST", url=u, body=b,
            headers={"x-twilio-signature": sig or tw.compute_signature("tok", u)},
        )

    assert (await integ.handle_webhook(req(body))).status == 200
    assert [(r.vendor_message_id, r.message_id, r.state_name) for r in receipts] == [("SM9", "x", "delivered")]
    assert (await integ.handle_webhook(req(body.replace(b"delivered", b"failed")))).status == 403
    assert (await integ.handle_webhook(req(b"\xff\xfe", u=integ.callback_urls().status))).status == 403
    assert (await integ.handle_webhook(WebhookRequest(kind="status", method="GET", url=url, headers={}, body=b""))).status == 405
    assert (await integ.handle_webhook(WebhookRequest(kind="other", method="POST", url=url, headers={}, body=b""))).status == 404
    # Two refusals, reported in one event now and one at the interval's end.
    assert [e.kind for e in events] == ["webhook_rejected"] and integ.stats["rejected_signature"] == 2
    assert integ.webhooks.rejections.flush() and [e.kind for e in events] == ["webhook_rejected"] * 2
    await integ.aclose()
