"""Infobip SMS adapter (PRODUCT.md D1–D3; API facts in
spec/PROVIDERS-HTTP.md, "Infobip"), on the HTTP kit.

Outbound: one ``POST /sms/3/messages`` per message (Infobip segments; its
``details.messageCount`` is the message's segment count). We set the
destination's ``messageId`` to our message id (Infobip echoes it as the
message id of the response and of every report) and ask for delivery
reports at this integration's status URL with ``callbackData`` = our id too,
so a report names its message even after a restart.

Status: reports carry ``status.groupId`` (1 PENDING, 2 UNDELIVERABLE,
3 DELIVERED, 4 EXPIRED, 5 REJECTED; 0 ACCEPTED is UNCONFIRMED) — matched on
the number, never on ``name``, which varies between sources — and an
``error`` whose ``id`` is mapped through the packaged, overridable S7
configuration (``INFOBIP_DEFAULTS``); an unlisted id falls back to its
group and ``permanent`` flag.

Errors: both body families are read (v3 ``ApiError`` {errorCode,
description, violations}, legacy ``requestError.serviceException``
{messageId, text}); which one v3 returns live is UNCONFIRMED. 429 and 5xx
are retried by the kit (Retry-After honoured if ever sent: UNCONFIRMED).

Webhooks: per-message webhooks carry no signature. Checked as configured:
Basic credentials or an HMAC-SHA256 of the body (both Subscriptions
security settings; the HMAC header and encoding are UNCONFIRMED, so hex and
base64 are both accepted), and the IP allow-list. Infobip's number lookup
is not part of the verified API facts: imports are recorded unchecked, and
the creation answer says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx

from byosms.advanced_config import INFOBIP_DEFAULTS, ErrorMapper, GenericErrorCode, load_advanced_config
from byosms.message_states import one_segment_state
from byosms.pipeline import (
    DELIVERED,
    ENROUTE,
    ACCEPTED,
    EXPIRED,
    REJECTED,
    UNDELIVERABLE,
    DeliveryReceipt,
    InboundMessage,
    OperationalEvent,
    OutboundMessage,
    SubmitResult,
    VendorOptOut,
    WebhookRequest,
)
from byosms.providers.base import Capabilities, ProviderRuntime, ProviderSpec
from byosms.providers.http import (
    Classification,
    ClientSettings,
    HttpAdapter,
    HttpTransportError,
    Route,
    WebhookRefused,
)
from byosms.providers.http.fields import as_int, e164
from byosms.providers.http.ordering import Match
from byosms.schemas.infobip import InfobipIntegrationConfig, decode_infobip_config

__all__ = ["SEND_PATH", "SPEC", "InfobipIntegration", "sign_body"]

SEND_PATH = "/sms/3/messages"
#: Infobip's own reports and inbound batches are small JSON documents.
MAX_WEBHOOK_BODY = 1024 * 1024

_G = GenericErrorCode
# status.groupId -> (rank, SMPP message_state, final, generic code, cause).
_GROUPS: dict[int, tuple[int, int, bool, GenericErrorCode, str]] = {
    0: (0, ACCEPTED, False, _G.ACCEPTED, "ACCEPTED"),  # UNCONFIRMED group number
    1: (1, ENROUTE, False, _G.EN_ROUTE, "PENDING"),
    2: (9, UNDELIVERABLE, True, _G.UNDELIVERABLE, "UNDELIVERABLE"),
    3: (9, DELIVERED, True, _G.SUCCESS, "DELIVERED"),
    4: (9, EXPIRED, True, _G.EXPIRED, "EXPIRED"),
    5: (9, REJECTED, True, _G.REJECTED, "REJECTED"),
}
#: status.id of DELIVERED_TO_OPERATOR: in the DELIVERED group on some
#: accounts, but the handset has not confirmed it (PROVIDERS.md).
_DELIVERED_TO_OPERATOR = 2


def sign_body(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of a webhook body (the layout our HMAC check
    accepts, with base64 of the same digest; Infobip's is UNCONFIRMED)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _digits(address: str) -> str:
    """Infobip numbers are international digits without '+'."""
    return address[1:] if address.startswith("+") and address[1:].isdigit() else address




def _error_body(response: httpx.Response) -> tuple[str | None, str]:
    """(code, text) of either error family; tolerant of anything else."""
    try:
        doc = response.json()
    except (ValueError, UnicodeDecodeError):
        return None, response.text[:200]
    if not isinstance(doc, dict):
        return None, response.text[:200]
    if "errorCode" in doc or "description" in doc:  # v3 ApiError
        violations = "; ".join(f"{v.get('property')}: {v.get('violation')}"
                               for v in doc.get("violations") or () if isinstance(v, dict))
        text = str(doc.get("description") or "") + (f" ({violations})" if violations else "")
        return (str(doc["errorCode"]) if doc.get("errorCode") is not None else None), text
    exc = (doc.get("requestError") or {}).get("serviceException") or {}
    if isinstance(exc, dict) and exc:
        return (str(exc.get("messageId")) if exc.get("messageId") else None), str(exc.get("text") or "")
    return None, response.text[:200]


class InfobipIntegration(HttpAdapter):
    """One Infobip account as an integration."""

    provider_name = "infobip"
    capabilities = Capabilities(segments="provider", webhooks=("mo", "dlr"), inbound_kind="mo",
                                status_kind="dlr")

    def __init__(self, config: InfobipIntegrationConfig, *, integration_id: str,
                 on_event: Callable[[OperationalEvent], Any] | None = None,
                 on_submit_result: Callable[[SubmitResult], Any] | None = None,
                 on_receipt: Callable[[DeliveryReceipt], Any] | None = None,
                 on_mo: Callable[[InboundMessage], Any] | None = None,
                 on_opt_out: Callable[[VendorOptOut], Any] | None = None,
                 runtime: ProviderRuntime | None = None, active: bool = True,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.errors = ErrorMapper(load_advanced_config(config.advanced_config,
                                                       defaults=INFOBIP_DEFAULTS))
        super().__init__(
            integration_id=integration_id, public_base_url=config.public_base_url,
            allowed_ips=config.allowed_ips,
            settings=ClientSettings.of(config, base_url=config.base_url),
            on_event=on_event, on_submit_result=on_submit_result, on_receipt=on_receipt,
            on_mo=on_mo, on_opt_out=on_opt_out, runtime=runtime, active=active,
            transport=transport, max_webhook_body=MAX_WEBHOOK_BODY,
            headers={"Authorization": f"App {config.api_key.reveal()}",
                     "Accept": "application/json"},
        )

    # --- outbound -----------------------------------------------------------

    def request_body(self, message: OutboundMessage) -> dict[str, Any]:
        """The v3 send request for one message (public: tests check it
        against Infobip's own SDK models)."""
        if message.text is None:
            raise ValueError("Infobip takes the text of a message (it segments it itself)")
        return {
            "messages": [{
                "sender": _digits(message.source),
                "destinations": [{"to": _digits(message.destination),
                                  "messageId": message.message_id}],
                "content": {"text": message.text},
                "webhooks": {
                    "delivery": {"url": self.callback_urls().status,
                                 "intermediateReport": self.config.intermediate_reports},
                    "contentType": "application/json",
                    "callbackData": message.message_id,
                },
            }],
            "options": {"includeSmsCountInResponse": True},
        }

    def classify(self, response: httpx.Response) -> Classification | None:
        if response.is_success:
            return None
        code, text = _error_body(response)
        throttled = code == "TOO_MANY_REQUESTS"
        return Classification(verdict="throttled" if throttled else None, message=text)

    async def send(self, message: OutboundMessage) -> SubmitResult:
        body = self.request_body(message)
        try:
            reply = await self.http.request("POST", SEND_PATH, json=body)
        except HttpTransportError as e:
            # Maybe sent anyway: retryable (a duplicate is preferred to a loss).
            return self.failed(message, attempts=e.attempts, http_status=None, vendor_code=None,
                               generic_code=_G.RETRYABLE_FAILURE, cause="HTTP_ERROR",
                               detail=e.detail)
        if not reply.ok:
            code, text = _error_body(reply.response)
            status = reply.status
            if reply.verdict in ("throttled", "retryable") or status >= 500:
                generic, cause = _G.RETRYABLE_FAILURE, "THROTTLED" if status == 429 else "HTTP_ERROR"
            elif status in (401, 403):
                generic, cause = _G.PERMANENT_FAILURE, "AUTHENTICATION_FAILED"
            else:
                generic, cause = _G.REJECTED, code or "BAD_REQUEST"
            return self.failed(message, attempts=reply.attempts, http_status=status,
                               vendor_code=None, generic_code=generic, cause=cause, detail=text)
        try:
            doc = reply.response.json()
            row = doc["messages"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            # Accepted (2xx) but unreadable: the message may be at Infobip.
            return self.failed(message, attempts=reply.attempts, http_status=reply.status,
                               vendor_code=None, generic_code=_G.UNKNOWN_FAILURE,
                               cause="UNREADABLE_RESPONSE", detail=reply.response.text[:200])
        status = row.get("status") or {}
        if as_int(status.get("groupId")) == 5:  # REJECTED at once
            return self.failed(message, attempts=reply.attempts, http_status=reply.status,
                               vendor_code=as_int(status.get("id")), generic_code=_G.REJECTED,
                               cause=str(status.get("name") or "REJECTED"),
                               detail=str(status.get("description") or ""))
        count = as_int((row.get("details") or {}).get("messageCount")) or 1
        return SubmitResult(
            message_id=message.message_id, segment_id=self.first_segment_id(message),
            segment_count=max(count, 1), ok=True,
            vendor_message_id=str(row.get("messageId") or message.message_id),
            vendor_status=str(status.get("groupName") or "") or None,
            http_status=reply.status, attempts=reply.attempts)

    # --- webhooks -----------------------------------------------------------

    def routes(self) -> dict[str, Route]:
        return {"dlr": Route(handler=self._reports), "mo": Route(handler=self._inbound)}

    def authenticate(self, request: WebhookRequest) -> dict[str, Any]:
        cfg = self.config
        if cfg.webhook_auth == "basic":
            assert cfg.webhook_username is not None and cfg.webhook_password is not None
            expected = "Basic " + base64.b64encode(
                f"{cfg.webhook_username}:{cfg.webhook_password.reveal()}".encode()).decode()
            got = request.headers.get("authorization", "")
            if not hmac.compare_digest(got.encode(), expected.encode()):
                raise WebhookRefused("missing or wrong Basic credentials")
        elif cfg.webhook_auth == "hmac":
            assert cfg.hmac_secret is not None
            got = request.headers.get(cfg.hmac_header.lower(), "").strip()
            got = got.split("=", 1)[1] if got.lower().startswith("sha256=") else got
            digest = hmac.new(cfg.hmac_secret.reveal().encode(), request.body,
                              hashlib.sha256).digest()
            ok = False
            for form in (digest.hex(), base64.b64encode(digest).decode()):
                ok |= hmac.compare_digest(got.encode(), form.encode())
            if not ok:
                raise WebhookRefused(f"missing or wrong {cfg.hmac_header}")
        try:
            doc = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRefused("body is not JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            raise WebhookRefused("body has no `results` list")
        return doc

    def subject(self, payload: dict[str, Any]) -> str | None:
        results = payload.get("results") or []
        return str(results[0].get("messageId")) if results and isinstance(results[0], dict) else "?"

    async def _reports(self, request: WebhookRequest, doc: dict[str, Any]) -> None:
        for row in doc["results"]:
            if isinstance(row, dict):
                await self._report(row)

    async def _report(self, row: dict[str, Any]) -> None:
        vid = row.get("messageId")
        status = row.get("status") or {}
        group = as_int(status.get("groupId"))
        info = _GROUPS.get(group) if group is not None else None
        if not vid or info is None:
            self._emit("protocol_error", "protocol_error",
                       f"delivery report without messageId or with unknown status group {group!r}")
            return
        rank, state, final, generic, cause = info
        if group == 3 and as_int(status.get("id")) == _DELIVERED_TO_OPERATOR:
            rank, state, final, generic, cause = 2, ENROUTE, False, _G.EN_ROUTE, "DELIVERED_TO_OPERATOR"
        error = row.get("error") or {}
        code = as_int(error.get("id")) or None
        if code and final and state != DELIVERED:
            mapped = self.errors.known(code)
            if mapped is not None:
                generic, cause = mapped.generic_code, mapped.cause
            else:
                cause = str(error.get("name") or cause)
                if error.get("permanent") is False:
                    generic = _G.RETRYABLE_FAILURE
        callback = row.get("callbackData")
        hint = str(callback) if isinstance(callback, str) and callback.startswith("msg_") else None

        def receipt(m: Match) -> DeliveryReceipt:
            return DeliveryReceipt(
                vendor_message_id=str(vid), state=state, state_name=str(status.get("name") or ""),
                is_final=final, generic_code=generic, cause=cause, vendor_code=code,
                message_id=m.message_id or hint,
                segment_id=m.segment_id or (f"{hint}:1" if hint else None),
                segment_index=1 if (m.message_id or hint) else None,
                segment_count=m.segment_count or as_int(row.get("messageCount") or row.get("smsCount")),
                message_state=one_segment_state(state if final else None),
                done_date=row.get("doneAt"), early=m.early)

        await self.deliver_receipt(str(vid), rank=rank, final=final, message_id=hint,
                                   build=receipt)

    async def _inbound(self, request: WebhookRequest, doc: dict[str, Any]) -> None:
        for row in doc["results"]:
            if not isinstance(row, dict):
                continue
            parts = as_int(row.get("smsCount")) or 1
            await self.deliver_inbound(InboundMessage(
                source=e164(str(row.get("from") or "")),
                destination=e164(str(row.get("to") or "")),
                text=str(row.get("text") if row.get("text") is not None else row.get("cleanText") or ""),
                vendor_message_id=str(row.get("messageId") or ""),
                parts=parts, total=parts,
                extras={k: str(row[k]) for k in ("keyword", "receivedAt", "applicationId")
                        if row.get(k)}))


SPEC = ProviderSpec(
    name="infobip",
    factory=InfobipIntegration,
    config_type=InfobipIntegrationConfig,
    decode=decode_infobip_config,  # its ConfigError names the field
    capabilities=InfobipIntegration.capabilities,
    credential_fields=frozenset({"api_key", "base_url"}),
    advanced_defaults=INFOBIP_DEFAULTS,
    setup=("Delivery reports: nothing to set (each message names the status URL). Inbound: in "
           "the Infobip portal, forward the number's incoming SMS to the inbound URL "
           "(HTTP POST, JSON). Infobip's webhooks carry no signature: set allowed_ips, or "
           "Basic/HMAC security on the subscription and the same here. Numbers are not "
           "checked at Infobip on import (no number lookup in its verified API)."),
    description="Infobip SMS API v3 (JSON)",
)
