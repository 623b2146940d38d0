"""TeleSign SMS adapter (PRODUCT.md D1–D3; API facts in
spec/PROVIDERS-HTTP.md, "TeleSign"), on the HTTP kit.

Outbound: one form-encoded ``POST /v1/messaging`` per message (TeleSign
segments), signed per request with the TSA digest (``sign_request``: a fresh
Date and nonce on every attempt, since TeleSign refuses a reused nonce,
-30012) or HTTP Basic. ``callback_url`` is this integration's status URL
with our message id in the query; the answer's ``reference_id`` is the
vendor id. Outcomes are read from ``status.code`` and ``errors[].code``,
not the HTTP status (TeleSign's advice): 290 "in progress" is a success.

Callbacks: one endpoint for delivery reports (``sub_resource`` "sms") and
inbound messages ("mo_sms"), both kinds of URL accepted. Authenticated by
``base64(HMAC-SHA256(b64decode(api_key), raw body))`` in ``Authorization``
(``TSA {customer_id}:{sig}``) or ``X-TS-Authorization`` (its layout is
UNCONFIRMED: the ``TSA cid:`` form and a bare signature are both read).
The MO body beyond ``reference_id``/``sub_resource`` is UNCONFIRMED:
``user_response.{phone_number, sender_id, mo_message}`` is read, missing
keys tolerated. No date or nonce covers a callback, so repeats are dropped
by (reference_id, status code) — the kit's ordering for reports, its inbound
de-duplication for MOs.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import re
import urllib.parse
import uuid
from collections.abc import Callable, Generator
from typing import Any

import httpx

from byosms.advanced_config import TELESIGN_DEFAULTS, ErrorMapper, GenericErrorCode, load_advanced_config
from byosms.message_states import one_segment_state
from byosms.pipeline import (
    ACCEPTED,
    DELIVERED,
    ENROUTE,
    EXPIRED,
    REJECTED,
    UNDELIVERABLE,
    UNKNOWN,
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
from byosms.schemas.telesign import TelesignIntegrationConfig, decode_telesign_config

__all__ = ["SEND_PATH", "SPEC", "TelesignIntegration", "callback_signature", "sign_request",
           "verify_callback"]

SEND_PATH = "/v1/messaging"
MAX_WEBHOOK_BODY = 64 * 1024
#: status.code of an accepted send ("Message in progress").
IN_PROGRESS = 290
_TSA = re.compile(r"^TSA [^:]+:(.+)$")

_G = GenericErrorCode
# Delivery status code -> (rank, SMPP message_state, final); the generic code
# and cause come from the packaged mapping (overridable, S7).
_STATUS: dict[int, tuple[int, int, bool]] = {
    290: (0, ACCEPTED, False),
    291: (1, ENROUTE, False),  # queued (seen in status lookups)
    292: (1, ENROUTE, False),
    295: (1, ENROUTE, False),
    203: (2, ENROUTE, False),  # delivered to gateway
    200: (9, DELIVERED, True),
    207: (9, UNKNOWN, True),
    210: (9, UNDELIVERABLE, True),
    211: (9, UNDELIVERABLE, True),
    220: (9, UNDELIVERABLE, True),
    221: (9, EXPIRED, True),
    222: (9, UNDELIVERABLE, True),
    229: (9, REJECTED, True),
    230: (9, REJECTED, True),
    231: (9, REJECTED, True),
    233: (9, REJECTED, True),
    237: (9, REJECTED, True),
    238: (9, REJECTED, True),
}


def _key(api_key: str) -> bytes:
    # Lenient like TeleSign's SDK: characters outside the alphabet are skipped.
    return base64.b64decode(api_key)


def sign_request(customer_id: str, api_key: str, method: str, resource: str, fields: str,
                 date: str, nonce: str, content_type: str | None = None) -> str:
    """The ``Authorization`` value of a TSA-signed REST call: base64
    HMAC-SHA256 (decoded API key) over method, content type, date, auth
    method, nonce, the body as sent (when there is a content type and a
    body) and the resource path."""
    if content_type is None:
        content_type = "application/x-www-form-urlencoded" if method in ("POST", "PUT") else ""
    s = (f"{method}\n{content_type}\n{date}\nx-ts-auth-method:HMAC-SHA256\nx-ts-nonce:{nonce}"
         + (f"\n{fields}" if content_type and fields else "") + f"\n{resource}")
    mac = hmac.new(_key(api_key), s.encode("utf-8"), hashlib.sha256).digest()
    return f"TSA {customer_id}:{base64.b64encode(mac).decode()}"


def callback_signature(api_key: str, body: bytes) -> str:
    """The bare signature TeleSign puts on a callback with this body."""
    return base64.b64encode(hmac.new(_key(api_key), body, hashlib.sha256).digest()).decode()


def verify_callback(api_key: str, body: bytes, headers: dict[str, str] | Any) -> bool:
    """Whether either authorization header carries the body's signature
    (``TSA cid:sig`` or bare); constant-time."""
    expected = callback_signature(api_key, body).encode()
    ok = False
    for name in ("authorization", "x-ts-authorization"):
        value = (headers.get(name) or "").strip()
        m = _TSA.match(value)
        got = (m.group(1) if m else value).encode()
        ok |= bool(value) and hmac.compare_digest(got, expected)
    return ok


class _TsaAuth(httpx.Auth):
    """Signs each attempt afresh (a nonce is single-use at TeleSign)."""

    requires_request_body = True

    def __init__(self, customer_id: str, api_key: str) -> None:
        self._cid = customer_id
        self._key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        date = email.utils.formatdate(usegmt=True)
        nonce = str(uuid.uuid4())
        method = request.method
        ct = request.headers.get("content-type", "") if method in ("POST", "PUT") else ""
        fields = request.content.decode("utf-8") if method in ("POST", "PUT") else ""
        request.headers["Date"] = date
        request.headers["x-ts-auth-method"] = "HMAC-SHA256"
        request.headers["x-ts-nonce"] = nonce
        request.headers["Authorization"] = sign_request(
            self._cid, self._key, method, request.url.path, fields, date, nonce,
            content_type=ct)
        yield request




def _codes(doc: Any) -> tuple[int | None, list[int], str]:
    """(status.code, errors[].code, a description) of a TeleSign body."""
    if not isinstance(doc, dict):
        return None, [], ""
    status = doc.get("status") if isinstance(doc.get("status"), dict) else {}
    errors = [e for e in doc.get("errors") or () if isinstance(e, dict)]
    text = "; ".join(str(e.get("description") or e.get("code")) for e in errors) \
        or str(status.get("description") or "")
    return as_int(status.get("code")), [c for c in (as_int(e.get("code")) for e in errors)
                                      if c is not None], text


class TelesignIntegration(HttpAdapter):
    """One TeleSign account as an integration."""

    provider_name = "telesign"
    capabilities = Capabilities(segments="provider", webhooks=("mo", "status"),
                                inbound_kind="mo", status_kind="status")

    def __init__(self, config: TelesignIntegrationConfig, *, integration_id: str,
                 on_event: Callable[[OperationalEvent], Any] | None = None,
                 on_submit_result: Callable[[SubmitResult], Any] | None = None,
                 on_receipt: Callable[[DeliveryReceipt], Any] | None = None,
                 on_mo: Callable[[InboundMessage], Any] | None = None,
                 on_opt_out: Callable[[VendorOptOut], Any] | None = None,
                 runtime: ProviderRuntime | None = None, active: bool = True,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.errors = ErrorMapper(load_advanced_config(config.advanced_config,
                                                       defaults=TELESIGN_DEFAULTS))
        self._key = config.api_key.reveal()
        auth: httpx.Auth | tuple[str, str] = (
            _TsaAuth(config.customer_id, self._key) if config.auth_method == "digest"
            else (config.customer_id, self._key))
        super().__init__(
            integration_id=integration_id, public_base_url=config.public_base_url,
            settings=ClientSettings.of(config, base_url=config.api_base),
            on_event=on_event, on_submit_result=on_submit_result, on_receipt=on_receipt,
            on_mo=on_mo, on_opt_out=on_opt_out, runtime=runtime, active=active,
            transport=transport, auth=auth, headers={"Accept": "application/json"},
            max_webhook_body=MAX_WEBHOOK_BODY)

    # --- outbound -----------------------------------------------------------

    def form(self, message: OutboundMessage) -> dict[str, str]:
        """The send's form fields (public: tests compare with the SDK)."""
        if message.text is None:
            raise ValueError("TeleSign takes the text of a message (it segments it itself)")
        status = self.callback_urls().status
        form = {
            "phone_number": message.destination.lstrip("+"),
            "message": message.text,
            "message_type": self.config.message_type,
            "callback_url": f"{status}?{urllib.parse.urlencode({'m': message.message_id})}",
            "external_id": message.message_id,
        }
        if self.config.send_sender_id and message.source:
            form["sender_id"] = message.source.lstrip("+")
        return form

    def classify(self, response: httpx.Response) -> Classification | None:
        if response.is_success:
            return None
        try:
            status, errors, text = _codes(response.json())
        except (ValueError, UnicodeDecodeError):
            return Classification(message=response.text[:200])
        code = errors[0] if errors else status
        throttled = response.status_code == 429 or 3204 in errors
        return Classification(verdict="throttled" if throttled else None, vendor_code=code,
                              message=text)

    async def send(self, message: OutboundMessage) -> SubmitResult:
        form = self.form(message)
        try:
            reply = await self.http.request("POST", SEND_PATH, data=form)
        except HttpTransportError as e:
            return self.failed(message, attempts=e.attempts, http_status=None, vendor_code=None,
                               generic_code=_G.RETRYABLE_FAILURE, cause="HTTP_ERROR",
                               detail=e.detail)
        try:
            doc = reply.response.json()
        except (ValueError, UnicodeDecodeError):
            doc = None
        status, errors, text = _codes(doc)
        ref = doc.get("reference_id") if isinstance(doc, dict) else None
        if reply.ok and status in (IN_PROGRESS, 291, 292, 295) and ref:
            return SubmitResult(
                message_id=message.message_id, segment_id=self.first_segment_id(message),
                ok=True, vendor_message_id=str(ref), vendor_status=str(status),
                http_status=reply.status, attempts=reply.attempts)
        code = errors[0] if errors else status
        mapped = self.errors.known(code)
        if mapped is not None:
            generic, cause = mapped.generic_code, mapped.cause
        elif reply.verdict in ("throttled", "retryable") or reply.status >= 500:
            generic, cause = _G.RETRYABLE_FAILURE, "THROTTLED" if reply.status == 429 else "HTTP_ERROR"
        elif code is not None and code < 0:  # -300xx: authentication
            generic, cause = _G.PERMANENT_FAILURE, "AUTHENTICATION_FAILED"
        elif reply.ok:
            # 2xx without a reference or with another status: maybe sent.
            generic, cause = _G.UNKNOWN_FAILURE, "UNEXPECTED_STATUS"
        else:
            generic, cause = _G.REJECTED, "BAD_REQUEST"
        return self.failed(message, attempts=reply.attempts, http_status=reply.status,
                           vendor_code=code, generic_code=generic, cause=cause, detail=text)

    # --- callbacks ----------------------------------------------------------

    def routes(self) -> dict[str, Route]:
        # TeleSign's Transaction Callback Service sends both kinds to one
        # URL: either of ours takes either.
        return {"status": Route(handler=self._callback), "mo": Route(handler=self._callback)}

    def authenticate(self, request: WebhookRequest) -> dict[str, Any]:
        if not verify_callback(self._key, request.body, request.headers):
            raise WebhookRefused("missing or wrong TeleSign signature (Authorization / "
                                 "X-TS-Authorization)")
        try:
            doc = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRefused("body is not JSON") from None
        if not isinstance(doc, dict):
            raise WebhookRefused("body is not a JSON object")
        return doc

    def subject(self, payload: dict[str, Any]) -> str | None:
        return str(payload.get("reference_id") or "?")

    async def _callback(self, request: WebhookRequest, doc: dict[str, Any]) -> None:
        kind = str(doc.get("sub_resource") or "")
        if kind == "mo_sms":
            await self._inbound(doc)
            return
        ref = doc.get("reference_id")
        status, errors, text = _codes(doc)
        info = _STATUS.get(status) if status is not None else None
        if not ref or info is None:
            self._emit("protocol_error", "protocol_error",
                       f"TeleSign callback without reference_id or with unknown status {status!r}")
            return
        rank, state, final = info
        if state == DELIVERED:
            generic, cause = _G.SUCCESS, "DELIVERED"
        elif not final:
            generic, cause = _G.EN_ROUTE, "IN_PROGRESS" if status == IN_PROGRESS else "EN_ROUTE"
        else:
            mapped = self.errors.map(status)
            generic, cause = mapped.generic_code, mapped.cause
        hint = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query).get("m", [None])[0]
        extra = doc.get("additional_info") if isinstance(doc.get("additional_info"), dict) else {}
        parts = as_int(extra.get("message_parts_count"))

        def receipt(m: Match) -> DeliveryReceipt:
            mid = m.message_id or hint
            return DeliveryReceipt(
                vendor_message_id=str(ref), state=state, state_name=str(status),
                is_final=final, generic_code=generic, cause=cause,
                vendor_code=status if final and state != DELIVERED else None,
                message_id=mid, segment_id=m.segment_id,
                segment_index=1 if mid else None, segment_count=m.segment_count or parts,
                message_state=one_segment_state(state if final else None),
                done_date=str((doc.get("status") or {}).get("updated_on") or "") or None,
                early=m.early)

        await self.deliver_receipt(str(ref), rank=rank, final=final, message_id=hint,
                                   build=receipt)

    async def _inbound(self, doc: dict[str, Any]) -> None:
        user = doc.get("user_response") if isinstance(doc.get("user_response"), dict) else {}
        text = user.get("mo_message")
        source = user.get("phone_number")
        if text is None or not source:
            self._emit("protocol_error", "protocol_error",
                       f"TeleSign inbound {doc.get('reference_id')!r} without "
                       f"user_response.phone_number / mo_message")
            return
        await self.deliver_inbound(InboundMessage(
            source=e164(str(source)), destination=e164(str(user.get("sender_id") or "")),
            text=str(text), vendor_message_id=str(doc.get("reference_id") or "")))


SPEC = ProviderSpec(
    name="telesign",
    factory=TelesignIntegration,
    config_type=TelesignIntegrationConfig,
    decode=decode_telesign_config,  # its ConfigError names the field
    capabilities=TelesignIntegration.capabilities,
    credential_fields=frozenset({"customer_id", "api_key"}),
    advanced_defaults=TELESIGN_DEFAULTS,
    setup=("Delivery reports: each message names the status URL (callback_url); TeleSign "
           "must have delivery callbacks switched on for the account. Inbound: ask TeleSign "
           "to send inbound SMS (mo_sms) to the inbound URL through its Transaction Callback "
           "Service. Numbers are not checked at TeleSign on import (no number lookup in its "
           "verified API)."),
    description="TeleSign Messaging (REST, TSA-signed requests and callbacks)",
)
