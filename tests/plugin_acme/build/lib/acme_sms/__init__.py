"""A byosms provider plug-in: the worked example of docs/providers.md.

ACME SMS is fictional and sends nothing anywhere: `submit` accepts every
message and names it "acme-<message id>"; the provider "calls back" by
posting JSON to the integration's webhooks, authenticated by a shared token
in the X-Acme-Token header:

    POST .../dlr  {"id": "acme-msg_...", "status": "delivered" | "failed", "error": 0}
    POST .../mo   {"id": "...", "from": "+1555...", "to": "+1555...", "text": "..."}

Everything byosms needs is in SPEC: the config Struct (its Secret field is
encrypted at rest and masked), the capabilities, the callback kinds.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

import msgspec
import trio

from byosms.advanced_config import GenericErrorCode
from byosms.pipeline import (
    DELIVERED,
    UNDELIVERABLE,
    CallbackUrls,
    DeliveryReceipt,
    InboundMessage,
    NumberCheck,
    OperationalEvent,
    OutboundMessage,
    SubmitResult,
    WebhookRequest,
    WebhookResponse,
)
from byosms.providers.base import Capabilities, ProviderSpec, callback
from byosms.secret import Secret


class AcmeConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    token: Secret  # shared with ACME: authenticates its webhooks
    public_base_url: str
    #: The numbers this ACME account has (its "number lookup").
    numbers: list[str] = []


class AcmeProvider:
    provider_name = "acme"

    def __init__(self, config: AcmeConfig, *, integration_id: str, on_event=None,
                 on_submit_result=None, on_receipt=None, on_mo=None) -> None:
        self.config = config
        self.integration_id = integration_id
        self.active = True
        self._on_event = on_event
        self._on_submit_result = callback(on_submit_result)
        self._on_receipt = callback(on_receipt)
        self._on_mo = callback(on_mo)
        self._message_of: dict[str, str] = {}

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep_forever()

    async def submit(self, message: OutboundMessage) -> list[SubmitResult]:
        vendor_id = f"acme-{message.message_id}"
        segment_id = (message.segment_ids or [f"{message.message_id}:1"])[0]
        self._message_of[vendor_id] = message.message_id
        result = SubmitResult(message_id=message.message_id, segment_id=segment_id, ok=True,
                              vendor_message_id=vendor_id)
        if self._on_submit_result is not None:
            await self._on_submit_result(result)
        return [result]

    async def check_number(self, number: str) -> NumberCheck:
        if number in self.config.numbers:
            return NumberCheck(status="found", number=number)
        return NumberCheck(status="not_found", number=number,
                           message=f"{number} is not in this ACME account")

    def callback_urls(self) -> CallbackUrls:
        return SPEC.callback_urls(self.integration_id, {"public_base_url": self.config.public_base_url})

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResponse:
        if request.kind not in ("dlr", "mo"):
            return WebhookResponse(status=404)
        if request.method != "POST":
            return WebhookResponse(status=405)
        token = request.headers.get("x-acme-token", "")
        if not hmac.compare_digest(token.encode(), self.config.token.reveal().encode()):
            self._emit("webhook_rejected", "bad_signature", "bad X-Acme-Token")
            return WebhookResponse(status=403)
        if not self.active:
            self._emit("webhook_dropped", "deactivated", f"{request.kind} dropped")
            return WebhookResponse(status=200)
        try:
            doc = json.loads(request.body)
        except ValueError:
            return WebhookResponse(status=400, body=b"not JSON")
        if request.kind == "dlr":
            ok = doc.get("status") == "delivered"
            receipt = DeliveryReceipt(
                vendor_message_id=doc["id"], state=DELIVERED if ok else UNDELIVERABLE,
                state_name=doc.get("status", ""), is_final=True,
                generic_code=GenericErrorCode.SUCCESS if ok else GenericErrorCode.UNDELIVERABLE,
                cause="DELIVERED" if ok else "UNDELIVERABLE",
                vendor_code=doc.get("error") or None,
                message_id=self._message_of.get(doc["id"]))
            await self._on_receipt(receipt)
        else:
            await self._on_mo(InboundMessage(source=doc["from"], destination=doc["to"],
                                             text=doc["text"], vendor_message_id=doc["id"]))
        return WebhookResponse(status=204)

    def _emit(self, kind: str, cause: str, detail: str) -> None:
        if self._on_event is not None:
            self._on_event(OperationalEvent(kind=kind, integration=self.integration_id,
                                            cause=cause, detail=detail))


SPEC = ProviderSpec(
    name="acme",
    factory=AcmeProvider,
    config_type=AcmeConfig,
    capabilities=Capabilities(segments="provider", webhooks=("dlr", "mo"), inbound_kind="mo",
                              status_kind="dlr", number_check=True),
    credential_fields=frozenset({"token"}),
    setup="Paste the two URLs into the ACME console, with the token as X-Acme-Token.",
    description="ACME SMS (a fictional HTTP API: the plug-in example)",
)
