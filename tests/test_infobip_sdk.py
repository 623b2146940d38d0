"""Infobip's official SDK (infobip-api-python-client) as the oracle: our
request body is one its models accept; our fake's responses, reports,
inbound messages and error bodies parse with its models; and its client,
pointed at the fake, sends. Never copies SDK code."""

from __future__ import annotations

import json

import httpx
import trio
from infobip_api_client import (
    ApiClient,
    ApiError,
    Configuration,
    SmsApi,
    SmsDeliveryResult,
    SmsDestination,
    SmsInboundMessageResult,
    SmsMessage,
    SmsMessageContent,
    SmsRequest,
    SmsTextContent,
)
from infobip_api_client.exceptions import ApiException

from byosms.pipeline import OutboundMessage
from byosms.providers import registry
from byosms.testing.infobip_fake import InfobipFake

WAIT = 30


def adapter(fake: InfobipFake):
    spec = registry.spec("infobip")
    config = spec.decode_config({"base_url": fake.base_url, "api_key": fake.api_key,
                                 "public_base_url": "https://gw.example"})
    return spec.build(config, integration_id="ib", callbacks={})


async def test_our_request_is_the_sdks_request():
    async with InfobipFake() as fake:
        body = adapter(fake).request_body(OutboundMessage(
            message_id="msg_1", source="+14155550100", destination="+41793026727",
            text="Grüße"))
    parsed = SmsRequest.from_json(json.dumps(body))
    assert parsed is not None
    (m,) = parsed.messages
    assert m.sender == "14155550100"
    assert (m.destinations[0].to, m.destinations[0].message_id) == ("41793026727", "msg_1")
    assert m.content.actual_instance.text == "Grüße"
    assert m.webhooks.delivery.url == "https://gw.example/vendors/v1/infobip/ib/dlr"
    assert m.webhooks.delivery.intermediate_report is True
    assert m.webhooks.callback_data == "msg_1"
    assert parsed.options.include_sms_count_in_response is True


async def test_the_sdk_client_sends_through_the_fake_and_reads_its_answers():
    async with InfobipFake(auto_reports=False) as fake:
        cfg = Configuration(host=fake.base_url, api_key=fake.api_key)
        request = SmsRequest(messages=[SmsMessage(
            sender="InfoSMS", destinations=[SmsDestination(to="41793026727", message_id="m-1")],
            content=SmsMessageContent(actual_instance=SmsTextContent(text="Hello from the SDK")))])

        def send() -> object:
            with ApiClient(cfg) as client:
                return SmsApi(client).send_sms_messages(sms_request=request)

        with trio.fail_after(WAIT):
            response = await trio.to_thread.run_sync(send)
        (row,) = response.messages
        assert row.message_id == "m-1" and row.status.group_id == 1
        assert row.details.message_count == 1
        assert fake.messages["m-1"]["text"] == "Hello from the SDK"

        bad = Configuration(host=fake.base_url, api_key="wrong")

        def refused() -> ApiException:
            with ApiClient(bad) as client:
                try:
                    SmsApi(client).send_sms_messages(sms_request=request)
                except ApiException as e:
                    return e
            raise AssertionError("the fake accepted a wrong key")

        with trio.fail_after(WAIT):
            e = await trio.to_thread.run_sync(refused)
        assert e.status == 401
        assert ApiError.from_json(e.body).error_code == "E401"


async def test_reports_inbound_and_errors_parse_with_the_sdks_models():
    async with InfobipFake(auto_reports=False) as fake:
        ours = adapter(fake)
        body = ours.request_body(OutboundMessage(message_id="msg_9", source="+14155550100",
                                                 destination="+41793026727", text="hi"))
        async with httpx.AsyncClient(base_url=fake.base_url) as http:
            r = await http.post("/sms/3/messages", json=body,
                                headers={"Authorization": f"App {fake.api_key}"})
            assert r.status_code == 200
            for status, error in (("DELIVERED", None), ("UNDELIVERABLE", 1), ("PENDING", None)):
                report = SmsDeliveryResult.from_json(json.dumps(
                    fake.report_body("msg_9", status, error)))
                (res,) = report.results
                assert res.message_id == "msg_9" and res.callback_data == "msg_9"
                assert res.status.group_name.value == {"DELIVERED": "DELIVERED",
                                                       "UNDELIVERABLE": "UNDELIVERABLE",
                                                       "PENDING": "PENDING"}[status]
                assert res.error.permanent is (error == 1)
            fake.fail_next(1, http_status=429)
            throttled = await http.post("/sms/3/messages", json=body,
                                        headers={"Authorization": f"App {fake.api_key}"})
            assert ApiError.from_json(throttled.text).error_code == "TOO_MANY_REQUESTS"
            empty = await http.post("/sms/3/messages", json={"messages": []},
                                    headers={"Authorization": f"App {fake.api_key}"})
            err = ApiError.from_json(empty.text)
            assert empty.status_code == 400 and err.violations[0].var_property == "messages"

    inbound = SmsInboundMessageResult.from_json(json.dumps(
        fake.inbound_body("41793026727", "14155550100", "STOP now")))
    (mo,) = inbound.results
    assert (mo.var_from, mo.to, mo.text, mo.keyword) == ("41793026727", "14155550100",
                                                          "STOP now", "STOP")
    assert inbound.message_count == 1
