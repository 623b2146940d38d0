"""Twilio Programmable Messaging adapter (PRODUCT.md T1–T5, D3; API facts in
spec/PROVIDERS.md, "Twilio Programmable Messaging").

    twilio = TwilioIntegration(
        config, integration_id="acme",
        on_event=events.append,            # OperationalEvent (sync)
        on_submit_result=store_result,     # SubmitResult (one per message)
        on_receipt=store_receipt,          # DeliveryReceipt (status callbacks)
        on_mo=store_inbound,               # InboundMessage (inbound webhook)
        on_opt_out=record_opt_out,         # VendorOptOut (error 21610)
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(twilio.run)
        results = await twilio.submit(message)

Built on the HTTP kit (byosms.providers.http): the pooled client and its
retries, the webhook steps, status ordering and inbound de-duplication are
the kit's; what is here is Twilio's own: the signature, the wire fields,
the status table, the error codes and the number check.

Outbound: one ``POST /2010-04-01/Accounts/{Sid}/Messages.json`` per message
(Twilio segments itself; its ``num_segments`` is reported as the message's
segment count). ``StatusCallback`` is this integration's status URL with our
message id in the query (``?m=``): the query is covered by the signature, so
a callback names its message even after a restart. HTTP 429, error 20429
(in any status) and 5xx are retried by the kit; other errors are mapped to
generic codes by the ErrorMapper over the packaged Twilio defaults (S7,
overridable).

Webhooks: X-Twilio-Signature is checked against the URL built from
``config.public_base_url`` (never the Host header); then the kit's steps
(403 + ``webhook_rejected``, the T4 drop answered 200). Status callbacks
become ``DeliveryReceipt``s in order; inbound messages become
``InboundMessage``s, answered with empty TwiML.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from byosms.advanced_config import TWILIO_DEFAULTS, ErrorMapper, GenericErrorCode, load_advanced_config
from byosms.message_states import one_segment_state
from byosms.pipeline import (
    DeliveryReceipt,
    InboundMessage,
    NumberCheck,
    SubmitResult,
    VendorOptOut,
    WebhookRequest,
    WebhookResponse,
)
from byosms.providers.base import Capabilities, ProviderRuntime, ProviderSpec
from byosms.providers.base import OutboundMessage as OutboundMessageLike
from byosms.providers.base import callback as callback  # importable from here, as before the kit
from byosms.providers.http import (
    Classification,
    ClientSettings,
    HttpAdapter,
    HttpTransportError,
    Match,
    ProviderInactive,
    Route,
    WebhookRefused,
)
from byosms.providers.http.fields import as_int
from byosms.providers.http.ordering import DEFAULT_HOLD
from byosms.schemas.events import OperationalEvent
from byosms.schemas.twilio import TwilioIntegrationConfig, decode_twilio_config

__all__ = [
    "EMPTY_TWIML",
    "SIGNATURE_HEADER",
    "DeliveryReceipt",
    "InboundMessage",
    "ProviderInactive",
    "SPEC",
    "SubmitResult",
    "TwilioApiError",
    "TwilioIntegration",
    "compute_signature",
    "validate_signature",
]

API_VERSION = "2010-04-01"
SIGNATURE_HEADER = "X-Twilio-Signature"
#: Twilio expects TwiML (or an empty 200) back from an inbound webhook.
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
#: Twilio's own request bodies are a few hundred bytes (Body <= 1600
#: characters, PROVIDERS.md); anything far bigger is not Twilio.
MAX_WEBHOOK_BODY = 64 * 1024
#: Error code of "too many requests" (PROVIDERS.md, error codes).
ERROR_TOO_MANY_REQUESTS = 20429
#: Error code of "recipient unsubscribed" (PROVIDERS.md, error codes).
ERROR_OPTED_OUT = 21610
#: How long a status callback that overtook its message's create response
#: waits for it, so on_submit_result comes before on_receipt (as for SMPP).
EARLY_CALLBACK_HOLD = DEFAULT_HOLD


class TwilioApiError(Exception):
    """Twilio answered a REST call with an error (or not at all)."""

    def __init__(self, http_status: int | None, code: int | None, message: str) -> None:
        super().__init__(f"HTTP {http_status} code {code}: {message}" if http_status else message)
        self.http_status = http_status
        self.code = code
        self.message = message


# --- signatures (T1, T2) ----------------------------------------------------------


def _signing_string(url: str, params: Iterable[tuple[str, str]] | Mapping[str, Any] | None) -> bytes:
    s = url
    if params:
        values: dict[str, set[str]] = {}
        items = params.items() if isinstance(params, Mapping) else params
        for name, value in items:
            if isinstance(value, (list, tuple)):
                values.setdefault(name, set()).update(value)
            else:
                values.setdefault(name, set()).add(value)
        # PROVIDERS.md: each name of sorted(set(names)), then each of its
        # sorted(set(values)), appended as name+value.
        s += "".join(name + v for name in sorted(values) for v in sorted(values[name]))
    return s.encode("utf-8")


def compute_signature(
    auth_token: str, url: str, params: Iterable[tuple[str, str]] | Mapping[str, Any] | None = None
) -> str:
    """X-Twilio-Signature of a request to ``url`` carrying form ``params``
    (pairs, so repeated names are kept; or a mapping of name -> value or
    list of values): base64(HMAC-SHA1(auth token, url + sorted params))."""
    mac = hmac.new(auth_token.encode("utf-8"), _signing_string(url, params), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _url_variants(url: str) -> list[str]:
    """The URL as given, and with the port removed / the default port added.

    Twilio's back end is inconsistent about ports, so the reference
    validator (twilio.request_validator) accepts both forms; it strips any
    explicit port, not only the default one, and we follow it to agree."""
    out = [url]
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return out
    host = parts.hostname
    if host is None:
        return out
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = userinfo + "@" if userinfo else ""
    default = 443 if parts.scheme == "https" else 80
    without = urllib.parse.urlunsplit(parts._replace(netloc=prefix + host))
    with_port = urllib.parse.urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port or default}"))
    for u in (without, with_port):
        if u not in out:
            out.append(u)
    return out


def validate_signature(
    auth_token: str,
    url: str,
    signature: str | None,
    *,
    params: Iterable[tuple[str, str]] | Mapping[str, Any] | None = None,
    body: bytes | None = None,
) -> bool:
    """Whether ``signature`` (the X-Twilio-Signature header) is Twilio's for
    this request. Form requests pass ``params``; JSON requests pass the raw
    ``body``, and their URL carries ``bodySHA256=<hex sha256 of the body>``:
    the URL alone is signed and the body must hash to that value.
    Comparisons are constant-time."""
    if not signature:
        return False
    sig = signature.strip().encode("utf-8", "replace")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    body_ok = True
    if "bodySHA256" in query and body is not None:
        digest = hashlib.sha256(body).hexdigest().encode("ascii")
        body_ok = hmac.compare_digest(digest, query["bodySHA256"][0].encode("utf-8", "replace"))
        params = None
    ok = False
    for candidate in _url_variants(url):
        # No early exit: every variant costs the same whatever matches.
        ok |= hmac.compare_digest(compute_signature(auth_token, candidate, params).encode("ascii"), sig)
    return ok and body_ok


# Twilio MessageStatus -> (rank, SMPP message_state, final, generic code, cause).
# Rank orders intermediate states (the kit lets them only move forward); a
# final state ends the message.
_ENROUTE, _DELIVERED, _DELETED, _UNDELIVERABLE, _ACCEPTED, _REJECTED = 1, 2, 4, 5, 6, 8
_G = GenericErrorCode
_STATUS: dict[str, tuple[int, int, bool, GenericErrorCode, str]] = {
    "accepted": (0, _ACCEPTED, False, _G.ACCEPTED, "ACCEPTED"),
    "scheduled": (0, _ACCEPTED, False, _G.DEFERRED, "SCHEDULED"),
    "queued": (1, _ACCEPTED, False, _G.ACCEPTED, "QUEUED"),
    "sending": (2, _ENROUTE, False, _G.EN_ROUTE, "SENDING"),
    "sent": (3, _ENROUTE, False, _G.EN_ROUTE, "SENT"),
    "delivered": (9, _DELIVERED, True, _G.SUCCESS, "DELIVERED"),
    "read": (9, _DELIVERED, True, _G.SUCCESS, "DELIVERED"),
    "undelivered": (9, _UNDELIVERABLE, True, _G.UNDELIVERABLE, "UNDELIVERED"),
    "failed": (9, _REJECTED, True, _G.REJECTED, "FAILED"),
    "canceled": (9, _DELETED, True, _G.PERMANENT_FAILURE, "CANCELED"),
    # Part of a multi-part message did not arrive: the recipient can't read
    # it whole, so it counts as failed (S13's rule for segments).
    "partially_delivered": (9, _UNDELIVERABLE, True, _G.UNDELIVERABLE, "PARTIALLY_DELIVERED"),
}
_DELIVERED_STATUSES = frozenset({"delivered", "read"})



def _error_body(response: httpx.Response) -> tuple[int | None, str]:
    """(code, message) of a Twilio error body; tolerant of anything else."""
    try:
        doc = response.json()
    except (ValueError, UnicodeDecodeError):
        return None, response.text[:200]
    if not isinstance(doc, dict):
        return None, response.text[:200]
    return as_int(doc.get("code")), str(doc.get("message") or "")


def _same_url(a: str, b: str) -> bool:
    """URLs equal up to scheme/host case, a default port and a trailing
    slash: how an operator may reasonably have typed ours into Twilio."""
    def norm(u: str) -> tuple[str, str, str, str]:
        try:
            p = urllib.parse.urlsplit(u.strip())
            port = p.port
        except ValueError:
            return (u, "", "", "")
        scheme = p.scheme.lower()
        if port is None:
            port = 443 if scheme == "https" else 80
        return (scheme, f"{(p.hostname or '').lower()}:{port}", p.path.rstrip("/"), p.query)

    return norm(a) == norm(b)


def _parse(request: WebhookRequest) -> tuple[list[tuple[str, str]] | None, bool]:
    """(params, is_json_variant). Form bodies give their pairs; a body
    signed by bodySHA256 may be JSON (its top-level scalars are read)."""
    query = urllib.parse.urlsplit(request.url).query
    if "bodySHA256" in urllib.parse.parse_qs(query):
        try:
            doc = json.loads(request.body) if request.body else {}
        except (ValueError, UnicodeDecodeError):
            return None, True
        if not isinstance(doc, dict):
            return None, True
        return [(k, str(v)) for k, v in doc.items() if isinstance(v, (str, int, float))], True
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return None, False
    return urllib.parse.parse_qsl(text, keep_blank_values=True), False


class TwilioIntegration(HttpAdapter):
    """One Twilio account (usually a subaccount, T1) as an integration."""

    provider_name = "twilio"
    decode_config = staticmethod(decode_twilio_config)
    capabilities = Capabilities(
        segments="provider",
        webhooks=("mo", "status"),
        inbound_kind="mo",
        status_kind="status",
        number_check=True,
        # Twilio's Advanced Opt-Out answers STOP/HELP/START itself and blocks
        # the pair: a second reply from us would be refused (21610).
        answers_keywords=True,
    )

    def __init__(
        self,
        config: TwilioIntegrationConfig,
        *,
        integration_id: str,
        on_event: Callable[[OperationalEvent], Any] | None = None,
        on_submit_result: Callable[[SubmitResult], Any] | None = None,
        on_receipt: Callable[[DeliveryReceipt], Any] | None = None,
        on_mo: Callable[[InboundMessage], Any] | None = None,
        on_opt_out: Callable[[VendorOptOut], Any] | None = None,
        runtime: ProviderRuntime | None = None,
        active: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        early_callback_hold: float = EARLY_CALLBACK_HOLD,
    ) -> None:
        """Raises AdvancedConfigError for a bad ``config.advanced_config``.
        ``transport`` replaces httpx's network transport (tests only; else
        ``runtime.http_transport``)."""
        self.config = config
        self.errors = ErrorMapper(load_advanced_config(config.advanced_config, defaults=TWILIO_DEFAULTS))
        self._token = config.auth_token.reveal()
        self._account_path = f"/{API_VERSION}/Accounts/{config.account_sid}"
        super().__init__(
            integration_id=integration_id,
            public_base_url=config.public_base_url,
            settings=ClientSettings.of(config, base_url=config.api_base),
            on_event=on_event, on_submit_result=on_submit_result, on_receipt=on_receipt,
            on_mo=on_mo, on_opt_out=on_opt_out,
            runtime=runtime, active=active, transport=transport,
            auth=httpx.BasicAuth(config.account_sid, self._token),
            headers={"Accept": "application/json"},
            early_callback_hold=early_callback_hold,
            max_webhook_body=MAX_WEBHOOK_BODY,
        )

    @property
    def answers_keywords(self) -> bool:
        """Whether Twilio answers HELP/STOP/START for this integration (its
        Advanced Opt-Out) rather than the gateway's keywords."""
        return self.config.keyword_replies == "provider"

    @property
    def early_callback_hold(self) -> float:
        return self.ordering.hold

    @early_callback_hold.setter
    def early_callback_hold(self, seconds: float) -> None:
        self.ordering.hold = seconds

    def status_callback_url(self, message_id: str) -> str:
        return f"{self.callback_urls().status}?{urllib.parse.urlencode({'m': message_id})}"

    # --- outbound (T5) ------------------------------------------------------

    def classify(self, response: httpx.Response) -> Classification | None:
        if response.is_success:
            return None
        code, text = _error_body(response)
        # 20429 is "too many requests" whatever the HTTP status it comes with.
        throttled = code == ERROR_TOO_MANY_REQUESTS
        return Classification(verdict="throttled" if throttled else None, vendor_code=code, message=text)

    async def send(self, message: OutboundMessageLike) -> SubmitResult:
        """Create the message at Twilio (``submit`` calls this). Raises
        ValueError for a message without text."""
        text = getattr(message, "text", None)
        if text is None:
            raise ValueError("Twilio takes the text of a message (it segments it itself); text is None")
        form = {"To": message.destination, "Body": text, "StatusCallback": self.status_callback_url(message.message_id)}
        if self.config.messaging_service_sid:
            form["MessagingServiceSid"] = self.config.messaging_service_sid
        if message.source:
            form["From"] = message.source
        try:
            reply = await self.http.request("POST", f"{self._account_path}/Messages.json", data=form)
        except HttpTransportError as e:
            # Maybe created at Twilio anyway: retryable, a duplicate is
            # preferred to a loss (as for SMPP).
            return self.failed(
                message, attempts=e.attempts, http_status=None, vendor_code=None,
                generic_code=GenericErrorCode.RETRYABLE_FAILURE, cause="HTTP_ERROR", detail=e.detail,
            )
        if reply.ok:
            return self._created(message, reply.response, reply.attempts)
        status, code = reply.status, reply.vendor_code
        mapped = self.errors.known(code)
        if mapped is not None:
            generic, cause = mapped.generic_code, mapped.cause
        elif reply.verdict in ("throttled", "retryable"):
            # Retries ran out on a transient answer: still worth a later try.
            generic = GenericErrorCode.RETRYABLE_FAILURE
            cause = "THROTTLED" if reply.verdict == "throttled" else "HTTP_ERROR"
        elif code is not None:
            fallback = self.errors.map(code)  # the mapper's word for an unknown code
            generic, cause = fallback.generic_code, fallback.cause
        else:
            generic, cause = GenericErrorCode.UNKNOWN_FAILURE, "HTTP_ERROR"
        if code == ERROR_OPTED_OUT:
            await self.opted_out(message, code, sender=message.source or self.config.messaging_service_sid)
        return self.failed(
            message, attempts=reply.attempts, http_status=status, vendor_code=code,
            generic_code=generic, cause=cause, detail=reply.message,
        )

    def _created(self, message: OutboundMessageLike, response: httpx.Response, attempts: int) -> SubmitResult:
        try:
            doc = response.json()
        except (ValueError, UnicodeDecodeError):
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        sid = doc.get("sid")
        return SubmitResult(
            message_id=message.message_id,
            segment_id=self.first_segment_id(message),
            # num_segments is a string in Twilio's JSON (PROVIDERS.md).
            segment_count=max(as_int(doc.get("num_segments"), 1) or 1, 1),
            ok=True,
            vendor_message_id=str(sid) if sid else None,
            vendor_status=doc.get("status"),
            http_status=response.status_code,
            attempts=attempts,
        )

    async def fetch_message(self, sid: str) -> dict[str, Any]:
        """``GET .../Messages/{sid}.json``: Twilio's record of a message."""
        return await self._get_json(f"{self._account_path}/Messages/{urllib.parse.quote(sid, safe='')}.json", None)

    async def _get_json(self, path: str, params: dict[str, str] | None) -> dict[str, Any]:
        try:
            reply = await self.http.request("GET", path, params=params)
        except HttpTransportError as e:
            raise TwilioApiError(None, None, e.detail) from e
        if not reply.ok:
            raise TwilioApiError(reply.status, reply.vendor_code, reply.message)
        try:
            doc = reply.response.json()
        except ValueError as e:
            raise TwilioApiError(reply.status, None, "response is not JSON") from e
        if not isinstance(doc, dict):
            raise TwilioApiError(reply.status, None, "response is not a JSON object")
        return doc

    # --- import check (T3) --------------------------------------------------

    async def check_number(self, number: str) -> NumberCheck:
        """Whether ``number`` is in this Twilio account and sends its inbound
        SMS here. Raises TwilioApiError when Twilio can't be asked."""
        doc = await self._get_json(f"{self._account_path}/IncomingPhoneNumbers.json", {"PhoneNumber": number})
        expected = self.callback_urls().inbound
        assert expected is not None  # capabilities.inbound_kind is set
        rows = doc.get("incoming_phone_numbers")
        match = None
        for row in rows if isinstance(rows, list) else ():
            if isinstance(row, dict) and row.get("phone_number") == number:
                match = row
                break
        if match is None:
            return NumberCheck(
                status="not_found",
                number=number,
                expected_url=expected,
                message=f"number {number} not found at the vendor: it is not in Twilio account {self.config.account_sid}",
            )
        actual = match.get("sms_url") or None
        method = str(match.get("sms_method") or "POST").upper()
        if actual is not None and _same_url(actual, expected) and method == "POST":
            return NumberCheck(status="found", number=number, expected_url=expected, actual_url=actual,
                               vendor_number_id=match.get("sid"))
        now = f"sends them to {actual} ({method})" if actual else "has no SMS webhook URL"
        if match.get("sms_application_sid"):
            now += f" and uses TwiML app {match['sms_application_sid']}"
        return NumberCheck(
            status="webhook_mismatch",
            number=number,
            expected_url=expected,
            actual_url=actual,
            vendor_number_id=match.get("sid"),
            message=(
                f"Twilio number {number} {now}. Set its Messaging webhook \"A message comes in\" to "
                f"{expected} with HTTP POST. If the number belongs to a Messaging Service, set the "
                f"service's incoming messages setting to \"Defer to sender's webhook\" and the number's "
                f"webhook to this URL."
            ),
        )

    # --- webhooks (T1, T2, T4) ----------------------------------------------

    def routes(self) -> dict[str, Route]:
        return {
            "mo": Route(handler=self._inbound,
                        answer=WebhookResponse(status=200, body=EMPTY_TWIML, content_type="text/xml")),
            "status": Route(handler=self._status),
        }

    def authenticate(self, request: WebhookRequest) -> dict[str, str]:
        """The request's fields if X-Twilio-Signature is Twilio's for it."""
        params, json_body = _parse(request)
        if params is None:
            raise WebhookRefused("unreadable body")
        signature = request.headers.get(SIGNATURE_HEADER.lower())
        if not validate_signature(
            self._token, request.url, signature,
            params=None if json_body else params, body=request.body if json_body else None,
        ):
            raise WebhookRefused("missing X-Twilio-Signature" if not signature else "X-Twilio-Signature does not match")
        return dict(params)  # last value wins for the few fields we read

    def subject(self, payload: dict[str, str]) -> str | None:
        return payload.get("MessageSid") or "?"

    async def _status(self, request: WebhookRequest, fields: dict[str, str]) -> None:
        sid = fields.get("MessageSid") or fields.get("SmsSid")
        status = (fields.get("MessageStatus") or fields.get("SmsStatus") or "").lower()
        info = _STATUS.get(status)
        if not sid or info is None:
            self._emit("protocol_error", "protocol_error", f"status callback without MessageSid or with unknown status {status!r}")
            return
        # Our message id, from the StatusCallback URL we gave (signed).
        hint = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query).get("m", [None])[0]
        rank, state, final, generic, cause = info
        code = as_int(fields.get("ErrorCode")) if status not in _DELIVERED_STATUSES else None
        if code:
            mapped = self.errors.known(code)
            if mapped is not None:
                generic, cause = mapped.generic_code, mapped.cause

        def receipt(m: Match) -> DeliveryReceipt:
            return DeliveryReceipt(
                vendor_message_id=sid,
                state=state,
                state_name=status,
                is_final=final,
                generic_code=generic,
                cause=cause,
                vendor_code=code or None,
                message_id=m.message_id,
                # Twilio segments itself: its status speaks for the message,
                # reported on its one result's segment.
                segment_id=m.segment_id or (f"{m.message_id}:1" if m.message_id else None),
                segment_index=1 if m.message_id else None,
                segment_count=m.segment_count,
                message_state=one_segment_state(state if final else None),
                done_date=fields.get("RawDlrDoneDate") or None,
                early=m.early,
            )

        await self.deliver_receipt(sid, rank=rank, final=final, message_id=hint, build=receipt)

    async def _inbound(self, request: WebhookRequest, fields: dict[str, str]) -> None:
        sid = fields.get("MessageSid") or fields.get("SmsMessageSid") or fields.get("SmsSid") or ""
        parts = as_int(fields.get("NumSegments"), 1) or 1
        token = request.headers.get("i-twilio-idempotency-token")
        await self.deliver_inbound(InboundMessage(
            source=fields.get("From", ""),
            destination=fields.get("To", ""),
            text=fields.get("Body", ""),
            vendor_message_id=sid,
            parts=parts,
            total=parts,
            extras={k: v for k, v in (
                ("NumMedia", fields.get("NumMedia")),
                ("MessagingServiceSid", fields.get("MessagingServiceSid")),
                ("I-Twilio-Idempotency-Token", token),
            ) if v},
        ))


SPEC = ProviderSpec(
    name="twilio",
    factory=TwilioIntegration,
    config_type=TwilioIntegrationConfig,
    decode=decode_twilio_config,  # its ConfigError names the field
    capabilities=TwilioIntegration.capabilities,
    credential_fields=frozenset({"account_sid", "auth_token"}),
    advanced_defaults=TWILIO_DEFAULTS,
    setup=("In the Twilio Console, set each number's Messaging webhook \"A message comes in\" "
           "to the inbound URL with HTTP POST (numbers of a Messaging Service: set the "
           "service's incoming messages to \"Defer to sender's webhook\"). The status URL is "
           "sent with every message (StatusCallback); nothing to set for it."),
    description="Twilio Programmable Messaging (REST API, signed webhooks)",
)
