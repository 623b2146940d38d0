"""LINK Mobility adapter on the MyLINK SMS API (PRODUCT.md D1–D3; API facts
in spec/PROVIDERS-HTTP.md, "LINK Mobility", A), on the HTTP kit; with
``platform = "common"`` the legacy "Common" platform (section B) instead:
see ``_send_common`` and the ``_common_*`` handlers.

Auth: OAuth2 client credentials against LINK's SSO (Keycloak). The token is
fetched at the first send, cached, renewed ``token_refresh_margin`` seconds
before its ``expires_in`` runs out, and renewed once when a send is answered
401 (revoked or expired early). Token fetches go through the same pooled
client and retry rules as sends.

Outbound: one ``POST /sms/v1/messages`` per message, a JSON array of one
message (LINK segments). ``referenceId`` is our message id (LINK echoes it
in the 202 answer and in every delivery report), so a report names its
message even after a restart. The 202 answer has no segment count: it is
estimated here (GSM-7 or UCS-2 lengths) and corrected by a report's
``status.segments``.

Status: reports carry ``status.code`` (1/2 accepted/scheduled, 1000/1001/
5000 in progress, 2000 delivered, 3xxx rejected, 4xxx failed); the code is
read first and ``status.type`` only when the code is missing or unknown.
Failure codes are mapped through the packaged, overridable S7 configuration
(``LINKMOBILITY_DEFAULTS``).

Errors: 400 ``{requestId, message}``, 401 ``{message}``, 403 (no body),
429/5xx ``{requestId, description, code}``; 429 and 5xx are retried by the
kit (Retry-After on 429 is UNCONFIRMED; honoured if sent).

Webhooks: no signature. A static custom header configured in the MyLINK
Portal (Callback Management) is checked in constant time, and the IP
allow-list. Only JSON callbacks are read (the portal can also send
form-encoded ones: choose JSON there). Whether per-message ``callback.urls``
callbacks carry the portal's custom headers is UNCONFIRMED
(``callback_mode = "Profile"`` uses the portal's callback instead). LINK's
callback retry policy is UNCONFIRMED: inbound messages are de-duplicated by
``eventId``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx
import trio

from byosms.advanced_config import LINKMOBILITY_COMMON_DEFAULTS, LINKMOBILITY_DEFAULTS, ErrorMapper, GenericErrorCode, load_advanced_config
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
from byosms.providers.http.fields import as_int
from byosms.providers.http.ordering import Match
from byosms.schemas.linkmobility import LinkMobilityIntegrationConfig, decode_linkmobility_config

__all__ = ["COMMON_SEND_PATH", "SEND_PATH", "SPEC", "LinkMobilityIntegration", "TokenError",
           "common_status_of", "status_of"]

SEND_PATH = "/sms/v1/messages"
#: Common platform: relative to the account's `api_base` (…/sms).
COMMON_SEND_PATH = "send"
MAX_WEBHOOK_BODY = 256 * 1024
#: expires_in when the token answer has none (UNCONFIRMED: Keycloak sends it).
DEFAULT_TOKEN_LIFETIME = 300.0

_G = GenericErrorCode
# (rank, SMPP message_state, final, generic code, cause) per kind of status.
_ACCEPTED = (0, ACCEPTED, False, _G.ACCEPTED, "ACCEPTED")
_SCHEDULED = (0, ACCEPTED, False, _G.ACCEPTED, "SCHEDULED")
_QUEUED = (1, ENROUTE, False, _G.EN_ROUTE, "QUEUED")
_SENT = (2, ENROUTE, False, _G.EN_ROUTE, "SENT")
_RETRIED = (2, ENROUTE, False, _G.EN_ROUTE, "RETRIED")
_DELIVERED = (9, DELIVERED, True, _G.SUCCESS, "DELIVERED")
_REJECTED = (9, REJECTED, True, _G.REJECTED, "REJECTED")
_FAILED = (9, UNDELIVERABLE, True, _G.UNDELIVERABLE, "FAILED")
_EXPIRED = (9, EXPIRED, True, _G.EXPIRED, "EXPIRED")
_NO_DLR = (9, UNKNOWN, True, _G.UNKNOWN, "DLR_NOT_SUPPORTED")
_CODES = {1: _ACCEPTED, 2: _SCHEDULED, 1000: _QUEUED, 1001: _SENT, 5000: _RETRIED,
          2000: _DELIVERED, 4008: _EXPIRED, 4010: _NO_DLR}
# status.type when the code is absent or not in the published table.
_TYPES = {"accepted": _ACCEPTED, "queued": _QUEUED, "sent": _SENT, "retried": _RETRIED,
          "delivered": _DELIVERED, "rejected": _REJECTED, "failed": _FAILED,
          # "read" comes after delivery (a read receipt): delivered, final.
          "read": (9, DELIVERED, True, _G.SUCCESS, "READ"),
          # "typing" is not an SMS status (other channels); in progress at most.
          "typing": _SENT}


# Common platform DLR resultCode: temporary codes (in progress), 1001 delivered;
# any other is final and failed (the mapping says how), 1002/1010 expired.
_COMMON_TEMPORARY = {1000: "SENT", 1007: "DELIVERED_BILLING_DELAYED", 1008: "BILLED",
                     1011: "BILLED_AND_SENT", 1012: "DELAYED_RESENDING"}
_COMMON_AUTH_CODES = {106100, 106101}


def common_status_of(code: int) -> tuple[int, int, bool, GenericErrorCode, str]:
    """The reading of a Common platform report's ``resultCode``."""
    if code in _COMMON_TEMPORARY:
        return (2, ENROUTE, False, _G.EN_ROUTE, _COMMON_TEMPORARY[code])
    if code == 1001:
        return _DELIVERED
    if code in (1002, 1010):
        return _EXPIRED
    if code == 4000:
        return _NO_DLR
    return _FAILED


def _ton(address: str) -> str:
    """sourceTON of a sender: MSISDN (+digits), SHORTNUMBER (digits) or ALPHANUMERIC."""
    if address.startswith("+") and address[1:].isdigit():
        return "MSISDN"
    return "SHORTNUMBER" if address.isdigit() else "ALPHANUMERIC"


def status_of(code: int | None, type_: str | None) -> tuple[int, int, bool, GenericErrorCode, str] | None:
    """The reading of a report's ``status.code`` / ``status.type``."""
    if code is not None:
        if code in _CODES:
            return _CODES[code]
        if 3000 <= code < 4000:
            return _REJECTED
        if 4000 <= code < 5000:
            return _FAILED
    return _TYPES.get((type_ or "").lower())


class TokenError(Exception):
    """No token: (http status or None, attempts, detail)."""

    def __init__(self, detail: str, *, status: int | None, attempts: int) -> None:
        super().__init__(detail)
        self.detail, self.status, self.attempts = detail, status, attempts



def _segments(text: str) -> int:
    """An estimate of LINK's part count (GSM-7 or UCS-2 lengths)."""
    gsm = all(ord(c) < 128 for c in text)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // multi)


def _error_text(response: httpx.Response) -> tuple[str | None, str]:
    """(code, text) of any of the error bodies; tolerant of anything else."""
    try:
        doc = response.json()
    except (ValueError, UnicodeDecodeError):
        return None, response.text[:200]
    if not isinstance(doc, dict):
        return None, response.text[:200]
    code = doc.get("code") if doc.get("code") is not None else doc.get("status")  # Common: status
    text = str(doc.get("message") or doc.get("description") or doc.get("error_description")
               or doc.get("error") or "")
    return (str(code) if code is not None else None), text


class LinkMobilityIntegration(HttpAdapter):
    """One MyLINK account (client credentials) as an integration."""

    provider_name = "linkmobility"
    capabilities = Capabilities(segments="provider", webhooks=("mo", "dlr"), inbound_kind="mo",
                                status_kind="dlr")

    def __init__(self, config: LinkMobilityIntegrationConfig, *, integration_id: str,
                 on_event: Callable[[OperationalEvent], Any] | None = None,
                 on_submit_result: Callable[[SubmitResult], Any] | None = None,
                 on_receipt: Callable[[DeliveryReceipt], Any] | None = None,
                 on_mo: Callable[[InboundMessage], Any] | None = None,
                 on_opt_out: Callable[[VendorOptOut], Any] | None = None,
                 runtime: ProviderRuntime | None = None, active: bool = True,
                 transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = trio.current_time) -> None:
        self.config = config
        self.common = config.platform == "common"
        self.errors = ErrorMapper(load_advanced_config(
            config.advanced_config,
            defaults=LINKMOBILITY_COMMON_DEFAULTS if self.common else LINKMOBILITY_DEFAULTS))
        self._clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = trio.Lock()
        super().__init__(
            integration_id=integration_id, public_base_url=config.public_base_url,
            allowed_ips=config.allowed_ips,
            settings=ClientSettings.of(config, base_url=config.api_base),
            on_event=on_event, on_submit_result=on_submit_result, on_receipt=on_receipt,
            on_mo=on_mo, on_opt_out=on_opt_out, runtime=runtime, active=active,
            transport=transport, max_webhook_body=MAX_WEBHOOK_BODY,
            headers={"Accept": "application/json"},
            auth=(config.username or "", config.password.reveal()) if self.common
            and config.password is not None else None,
        )
        self.stats.setdefault("token_fetches", 0)

    # --- the token ------------------------------------------------------------

    async def token(self, *, renew: str | None = None) -> str:
        """A valid bearer token: the cached one unless it is (nearly)
        expired or is ``renew`` (the one a 401 refused)."""
        async with self._token_lock:
            fresh = self._token is not None and self._clock() < self._token_expires
            if fresh and (renew is None or renew != self._token):
                assert self._token is not None
                return self._token
            self._token = None
            cfg = self.config
            assert cfg.client_id is not None and cfg.client_secret is not None
            try:
                reply = await self.http.request("POST", cfg.token_url, data={
                    "grant_type": "client_credentials", "client_id": cfg.client_id,
                    "client_secret": cfg.client_secret.reveal()})
            except HttpTransportError as e:
                raise TokenError(e.detail, status=None, attempts=e.attempts) from e
            self.stats["token_fetches"] += 1
            if not reply.ok:
                _, text = _error_text(reply.response)
                raise TokenError(text, status=reply.status, attempts=reply.attempts)
            try:
                doc = reply.response.json()
                token = str(doc["access_token"])
            except (ValueError, KeyError, TypeError):
                raise TokenError("token answer without access_token", status=reply.status,
                                 attempts=reply.attempts) from None
            lifetime = float(as_int(doc.get("expires_in")) or DEFAULT_TOKEN_LIFETIME)
            # Renew a margin early; never treat a token as valid for less than
            # no time at all (a lifetime shorter than the margin: reuse briefly).
            self._token_expires = self._clock() + max(lifetime - cfg.token_refresh_margin,
                                                      min(lifetime / 2, 1.0))
            self._token = token
            return token

    # --- outbound -------------------------------------------------------------

    def request_body(self, message: OutboundMessage) -> list[dict[str, Any]]:
        """The send request for one message (public: tests check it)."""
        if message.text is None:
            raise ValueError("LINK Mobility takes the text of a message (it segments it itself)")
        callback: dict[str, Any] = (
            {"mode": "URL", "urls": [self.callback_urls().status]}
            if self.config.callback_mode == "URL" else {"mode": "Profile"})
        return [{
            "recipient": message.destination,
            "content": {"text": message.text,
                        "options": {"sms.sender": message.source,
                                    "sms.encoding": self.config.encoding}},
            "callback": callback,
            "referenceId": message.message_id,
        }]

    def classify(self, response: httpx.Response) -> Classification | None:
        if response.is_success:
            return None
        code, text = _error_text(response)
        return Classification(vendor_code=as_int(code), message=text)

    async def send(self, message: OutboundMessage) -> SubmitResult:
        if self.common:
            return await self._send_common(message)
        body = self.request_body(message)
        attempts = 0
        renew: str | None = None
        for _ in range(2):  # a second time only after a 401 (token renewed)
            try:
                token = await self.token(renew=renew)
            except TokenError as e:
                attempts += e.attempts
                if e.status is None or e.status >= 500 or e.status == 429:
                    generic, cause = _G.RETRYABLE_FAILURE, "TOKEN_UNAVAILABLE"
                else:
                    generic, cause = _G.PERMANENT_FAILURE, "AUTHENTICATION_FAILED"
                return self.failed(message, attempts=max(attempts, 1), http_status=e.status,
                                   vendor_code=None, generic_code=generic, cause=cause,
                                   detail=e.detail)
            try:
                reply = await self.http.request("POST", SEND_PATH, json=body,
                                                headers={"Authorization": f"Bearer {token}"})
            except HttpTransportError as e:
                # Maybe sent anyway: retryable (a duplicate is preferred to a loss).
                return self.failed(message, attempts=attempts + e.attempts, http_status=None,
                                   vendor_code=None, generic_code=_G.RETRYABLE_FAILURE,
                                   cause="HTTP_ERROR", detail=e.detail)
            attempts += reply.attempts
            if reply.status == 401 and renew is None:
                self._emit("token_refused", "http_error",
                           "LINK Mobility refused the access token: renewing it once")
                renew = token
                continue
            break
        if not reply.ok:
            code, text = _error_text(reply.response)
            status = reply.status
            if reply.verdict in ("throttled", "retryable") or status >= 500:
                generic, cause = _G.RETRYABLE_FAILURE, "THROTTLED" if status == 429 else "HTTP_ERROR"
            elif status in (401, 403):
                generic, cause = _G.PERMANENT_FAILURE, "AUTHENTICATION_FAILED"
            else:
                generic, cause = _G.REJECTED, "BAD_REQUEST"
            return self.failed(message, attempts=attempts, http_status=status,
                               vendor_code=as_int(code), generic_code=generic, cause=cause,
                               detail=text)
        try:
            doc = reply.response.json()
            row = next(r for r in doc["messages"]
                       if isinstance(r, dict) and r.get("referenceId") in (None, message.message_id))
            vid = str(row["messageId"])
        except (ValueError, KeyError, TypeError, StopIteration):
            # Accepted (2xx) but unreadable: the message may be at LINK.
            return self.failed(message, attempts=attempts, http_status=reply.status,
                               vendor_code=None, generic_code=_G.UNKNOWN_FAILURE,
                               cause="UNREADABLE_RESPONSE", detail=reply.response.text[:200])
        return SubmitResult(
            message_id=message.message_id, segment_id=self.first_segment_id(message),
            segment_count=_segments(message.text or ""), ok=True, vendor_message_id=vid,
            vendor_status="Accepted", http_status=reply.status, attempts=attempts)

    def common_request_body(self, message: OutboundMessage) -> dict[str, Any]:
        """The Common platform send request for one message."""
        if message.text is None:
            raise ValueError("LINK Mobility takes the text of a message (it segments it itself)")
        cfg = self.config
        return {
            "source": message.source, "sourceTON": _ton(message.source),
            "destination": message.destination, "destinationTON": "MSISDN",
            "userData": message.text, "dcs": "TEXT",  # TEXT: LINK picks GSM/UCS-2 and splits
            "platformId": cfg.platform_id, "platformPartnerId": cfg.platform_partner_id,
            # Reports only where a gate is set up (else useDeliveryReport must be false).
            "useDeliveryReport": bool(cfg.delivery_report_gates),
            "deliveryReportGates": list(cfg.delivery_report_gates),
            "refId": message.message_id,
            # The doc says it defaults to true, yet shows 200 bodies: always false.
            "ignoreResponse": False,
        }

    async def _send_common(self, message: OutboundMessage) -> SubmitResult:
        body = self.common_request_body(message)
        try:
            reply = await self.http.request("POST", COMMON_SEND_PATH, json=body)
        except HttpTransportError as e:
            return self.failed(message, attempts=e.attempts, http_status=None, vendor_code=None,
                               generic_code=_G.RETRYABLE_FAILURE, cause="HTTP_ERROR",
                               detail=e.detail)
        if not reply.ok:
            code, text = _error_text(reply.response)
            status, vcode = reply.status, as_int(code)
            if reply.verdict in ("throttled", "retryable") or status >= 500:
                generic, cause = _G.RETRYABLE_FAILURE, "THROTTLED" if status == 429 else "HTTP_ERROR"
            elif status in (401, 403) or vcode in _COMMON_AUTH_CODES:
                generic, cause = _G.PERMANENT_FAILURE, "AUTHENTICATION_FAILED"
            else:
                generic, cause = _G.REJECTED, str(vcode) if vcode else "BAD_REQUEST"
            return self.failed(message, attempts=reply.attempts, http_status=status,
                               vendor_code=vcode, generic_code=generic, cause=cause, detail=text)
        try:
            doc = reply.response.json()
            vid = str(doc["messageId"])
        except (ValueError, KeyError, TypeError):
            # 2xx without a messageId (a 204 of ignoreResponse): maybe at LINK.
            return self.failed(message, attempts=reply.attempts, http_status=reply.status,
                               vendor_code=None, generic_code=_G.UNKNOWN_FAILURE,
                               cause="UNREADABLE_RESPONSE", detail=reply.response.text[:200])
        return SubmitResult(
            message_id=message.message_id, segment_id=self.first_segment_id(message),
            segment_count=as_int(doc.get("smsCount")) or _segments(message.text or ""), ok=True,
            vendor_message_id=vid, vendor_status=str(doc.get("description") or "") or None,
            http_status=reply.status, attempts=reply.attempts)

    # --- webhooks -------------------------------------------------------------

    def routes(self) -> dict[str, Route]:
        return {"dlr": Route(handler=self._report), "mo": Route(handler=self._inbound)}

    def authenticate(self, request: WebhookRequest) -> dict[str, Any]:
        cfg = self.config
        if cfg.webhook_header_value is not None:
            got = request.headers.get(cfg.webhook_header.lower(), "")
            if not hmac.compare_digest(got.encode(), cfg.webhook_header_value.reveal().encode()):
                raise WebhookRefused(f"missing or wrong {cfg.webhook_header}")
        try:
            doc = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRefused("body is not JSON (set the callback's content format to "
                                 "JSON in the MyLINK Portal)") from None
        if not isinstance(doc, dict):
            raise WebhookRefused("body is not a JSON object")
        return doc

    def subject(self, payload: dict[str, Any]) -> str | None:
        status = payload.get("status")
        if isinstance(status, dict) and status.get("messageId"):
            return str(status["messageId"])
        return str(payload.get("eventId") or payload.get("id") or payload.get("messageId") or "?")

    async def _report(self, request: WebhookRequest, doc: dict[str, Any]) -> None:
        if self.common:
            return await self._common_report(doc)
        status = doc.get("status")
        status = status if isinstance(status, dict) else {}
        vid = status.get("messageId")
        code = as_int(status.get("code"))
        info = status_of(code, status.get("type"))
        if not vid or info is None:
            self._emit("protocol_error", "protocol_error",
                       f"delivery report without messageId or with unknown status "
                       f"{code!r}/{status.get('type')!r}")
            return
        rank, state, final, generic, cause = info
        if final and state != DELIVERED and code is not None:
            mapped = self.errors.known(code)
            if mapped is not None:
                generic, cause = mapped.generic_code, mapped.cause
        ref = status.get("referenceId")
        hint = ref if isinstance(ref, str) and ref.startswith("msg_") else None
        provider = doc.get("provider") if isinstance(doc.get("provider"), dict) else {}

        def receipt(m: Match) -> DeliveryReceipt:
            return DeliveryReceipt(
                vendor_message_id=str(vid), state=state,
                state_name=str(status.get("type") or cause), is_final=final,
                generic_code=generic, cause=cause, vendor_code=code,
                message_id=m.message_id or hint,
                segment_id=m.segment_id or (f"{hint}:1" if hint else None),
                segment_index=1 if (m.message_id or hint) else None,
                segment_count=m.segment_count or as_int(status.get("segments")),
                message_state=one_segment_state(state if final else None),
                done_date=provider.get("timestamp") or doc.get("timeStamp"), early=m.early)

        await self.deliver_receipt(str(vid), rank=rank, final=final, message_id=hint,
                                   build=receipt)

    async def _common_report(self, doc: dict[str, Any]) -> None:
        """A Common platform DLR: {refId, id, resultCode, operator, sentTimestamp, …}."""
        vid, code = doc.get("id"), as_int(doc.get("resultCode"))
        if not vid or code is None:
            self._emit("protocol_error", "protocol_error",
                       f"delivery report without id or resultCode {doc.get('resultCode')!r}")
            return
        rank, state, final, generic, cause = common_status_of(code)
        if final and state != DELIVERED:
            mapped = self.errors.known(code)
            if mapped is not None:
                generic, cause = mapped.generic_code, mapped.cause
        ref = doc.get("refId")
        hint = ref if isinstance(ref, str) and ref.startswith("msg_") else None

        def receipt(m: Match) -> DeliveryReceipt:
            return DeliveryReceipt(
                vendor_message_id=str(vid), state=state, state_name=cause, is_final=final,
                generic_code=generic, cause=cause, vendor_code=code,
                message_id=m.message_id or hint,
                segment_id=m.segment_id or (f"{hint}:1" if hint else None),
                segment_index=1 if (m.message_id or hint) else None,
                segment_count=m.segment_count or as_int(doc.get("segments")),
                message_state=one_segment_state(state if final else None),
                done_date=doc.get("timestamp"), early=m.early)

        await self.deliver_receipt(str(vid), rank=rank, final=final, message_id=hint,
                                   build=receipt)

    async def _common_inbound(self, doc: dict[str, Any]) -> None:
        """A Common platform MO: {source, destination, content.userData, messageId, …}.
        ``destination`` may carry a country prefix ("NO-2333") and is passed
        on as is (how it matches a configured number is UNCONFIRMED)."""
        content = doc.get("content") if isinstance(doc.get("content"), dict) else {}
        text = content.get("userData")
        if not isinstance(text, str):
            self.stats["inbound_without_text"] = self.stats.get("inbound_without_text", 0) + 1
            return
        route = doc.get("route") if isinstance(doc.get("route"), dict) else {}
        await self.deliver_inbound(InboundMessage(
            source=str(doc.get("source") or ""), destination=str(doc.get("destination") or ""),
            text=text, vendor_message_id=str(doc.get("messageId") or ""),
            extras={k: str(v) for k, v in (("keyword", route.get("keyword")),
                                           ("operator", doc.get("operator")),
                                           ("timestamp", doc.get("timestamp"))) if v}))

    async def _inbound(self, request: WebhookRequest, doc: dict[str, Any]) -> None:
        if self.common:
            return await self._common_inbound(doc)
        reply = doc.get("reply")
        reply = reply if isinstance(reply, dict) else {}
        text = reply.get("text")
        if not isinstance(text, str):
            # Reactions and "unknown" replies are not SMS text: counted, dropped.
            self.stats["inbound_without_text"] = self.stats.get("inbound_without_text", 0) + 1
            return
        provider = doc.get("provider") if isinstance(doc.get("provider"), dict) else {}
        # UNCONFIRMED reading (from the names): reply.sender is the subscriber,
        # recipient our number.
        await self.deliver_inbound(InboundMessage(
            source=str(reply.get("sender") or ""), destination=str(doc.get("recipient") or ""),
            text=text, vendor_message_id=str(doc.get("eventId") or ""),
            extras={k: str(v) for k, v in (("routeKeyword", reply.get("routeKeyword")),
                                           ("routeId", reply.get("routeId")),
                                           ("operator", provider.get("operator")),
                                           ("timeStamp", doc.get("timeStamp"))) if v}))


SPEC = ProviderSpec(
    name="linkmobility",
    factory=LinkMobilityIntegration,
    config_type=LinkMobilityIntegrationConfig,
    decode=decode_linkmobility_config,  # its ConfigError names the field
    capabilities=LinkMobilityIntegration.capabilities,
    credential_fields=frozenset({"client_id", "client_secret", "api_base", "token_url"}),
    advanced_defaults=LINKMOBILITY_DEFAULTS,
    setup=("Create API credentials (client id and secret) in the MyLINK Portal. In its Callback "
           "Management, add a DLR callback to the status URL and an MO callback to the inbound "
           "URL, content format JSON, with a custom header whose name and value are "
           "webhook_header and webhook_header_value here; also set allowed_ips to LINK's "
           "published source addresses. Each message also names the status URL "
           "(callback_mode \"URL\"). platform \"common\": ask LINK Support for DLR gates posting "
           "to the status URL (delivery_report_gates) and MO to the inbound URL. Numbers are "
           "not checked at LINK on import."),
    description="LINK Mobility MyLINK SMS API (OAuth2, JSON); legacy Common platform",
)
