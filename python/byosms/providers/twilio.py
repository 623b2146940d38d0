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

The shape mirrors ``SmppIntegration`` so the pipeline drives both alike; the
common contract is ``byosms.providers.base.Provider`` (docs/providers.md).

Outbound: one ``POST /2010-04-01/Accounts/{Sid}/Messages.json`` per message
(Twilio segments itself; its ``num_segments`` is reported as the message's
segment count). ``StatusCallback`` is this integration's status URL with our
message id in the query (``?m=``): the query is covered by the signature, so
a callback names its message even after a restart. HTTP 429 / error 20429
and 5xx are retried with back-off (Retry-After honoured), bounded by
``config.max_attempts``; other errors are mapped to generic codes by the
ErrorMapper over the packaged Twilio defaults (S7, overridable).

Webhooks (``handle_webhook``): X-Twilio-Signature is checked first, against
the URL built from ``config.public_base_url`` (never the Host header); a
missing or wrong one is 403 plus a ``webhook_rejected`` event. Then, while
``active`` is False (T4), the request is dropped, counted and answered 200 so
that Twilio does not retry it later. Status callbacks become
``DeliveryReceipt``s, never moving a message back from a final state nor an
intermediate state backwards; inbound messages become ``InboundMessage``s,
answered with empty TwiML.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
import msgspec
import trio

from byosms.advanced_config import TWILIO_DEFAULTS, ErrorMapper, GenericErrorCode, load_advanced_config
from byosms.pipeline import (
    CallbackUrls,
    DeliveryReceipt,
    InboundMessage,
    NumberCheck,
    SubmitResult,
    VendorOptOut,
    WebhookRequest,
    WebhookResponse,
)
from byosms.providers.base import Capabilities, ConfigInvalid, ProviderSpec, callback
from byosms.providers.base import OutboundMessage as OutboundMessageLike
from byosms.schemas.events import Cause, EventKind, OperationalEvent
from byosms.schemas.twilio import ConfigError, TwilioIntegrationConfig, decode_twilio_config

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
EARLY_CALLBACK_HOLD = 10.0
#: Messages whose status is remembered for ordering callbacks and inbound
#: MessageSids remembered against Twilio's retries. Older ones are forgotten
#: (the store still refuses to move a final message backwards).
MAX_TRACKED = 100_000
MAX_RECENT_INBOUND = 10_000


class TwilioApiError(Exception):
    """Twilio answered a REST call with an error (or not at all)."""

    def __init__(self, http_status: int | None, code: int | None, message: str) -> None:
        super().__init__(f"HTTP {http_status} code {code}: {message}" if http_status else message)
        self.http_status = http_status
        self.code = code
        self.message = message


class ProviderInactive(RuntimeError):
    """submit() on a deactivated integration (T4: its numbers are disabled)."""


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
# Rank orders intermediate states; a final state ends the message.
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
_FINAL_RANK = 9
_DELIVERED_STATUSES = frozenset({"delivered", "read"})


class _Track:
    __slots__ = ("message_id", "segment_id", "segment_count", "rank")

    def __init__(self, message_id: str | None, segment_id: str | None, segment_count: int | None) -> None:
        self.message_id = message_id
        self.segment_id = segment_id
        self.segment_count = segment_count
        self.rank = -1


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _error_body(response: httpx.Response) -> tuple[int | None, str]:
    """(code, message) of a Twilio error body; tolerant of anything else."""
    try:
        doc = response.json()
    except (ValueError, UnicodeDecodeError):
        return None, response.text[:200]
    if not isinstance(doc, dict):
        return None, response.text[:200]
    return _int(doc.get("code")), str(doc.get("message") or "")


def _retry_after(response: httpx.Response, fallback: float, ceiling: float) -> float:
    """Retry-After as seconds (delta-seconds or an HTTP date), capped."""
    value = response.headers.get("retry-after")
    if value:
        seconds = _int(value)
        if seconds is None:
            try:
                when = email.utils.parsedate_to_datetime(value)
                seconds = int(when.timestamp() - time.time())
            except (TypeError, ValueError, IndexError, OverflowError):
                seconds = None
        if seconds is not None:
            return float(min(max(seconds, 0), ceiling))
    return min(fallback, ceiling)


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


def _decode(raw: Any) -> TwilioIntegrationConfig:
    try:
        return decode_twilio_config(raw)
    except ConfigError as e:
        raise ConfigInvalid(str(e)) from None


class TwilioIntegration:
    """One Twilio account (usually a subaccount, T1) as an integration."""

    provider_name = "twilio"
    decode_config = staticmethod(decode_twilio_config)

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
        active: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        early_callback_hold: float = EARLY_CALLBACK_HOLD,
    ) -> None:
        """Raises AdvancedConfigError for a bad ``config.advanced_config``.
        ``transport`` replaces httpx's network transport (tests only)."""
        self.config = config
        self.integration_id = integration_id
        self.active = active
        self._on_event = on_event
        self._on_submit_result = callback(on_submit_result)
        self._on_receipt = callback(on_receipt)
        self._on_mo = callback(on_mo)
        self._on_opt_out = callback(on_opt_out)
        self.errors = ErrorMapper(load_advanced_config(config.advanced_config, defaults=TWILIO_DEFAULTS))
        self.early_callback_hold = early_callback_hold
        self._token = config.auth_token.reveal()
        self._messages_path = f"/{API_VERSION}/Accounts/{config.account_sid}/Messages.json"
        self._client = httpx.AsyncClient(
            base_url=config.api_base,
            auth=httpx.BasicAuth(config.account_sid, self._token),
            headers={"Accept": "application/json", "User-Agent": "byosms"},
            timeout=httpx.Timeout(config.request_timeout, connect=config.connect_timeout),
            limits=httpx.Limits(
                max_connections=config.max_connections, max_keepalive_connections=config.max_connections
            ),
            transport=transport,
        )
        quoted = urllib.parse.quote(integration_id, safe="")
        self._base_path = f"/vendors/v1/twilio/{quoted}"
        self._tracks: OrderedDict[str, _Track] = OrderedDict()
        self._in_flight: dict[str, trio.Event] = {}
        self._recent_inbound: OrderedDict[str, None] = OrderedDict()
        #: Counters for operators and tests.
        self.stats = {
            "dropped_inactive": 0,
            "rejected_signature": 0,
            "stale_callbacks": 0,
            "duplicate_inbound": 0,
            "throttled": 0,
        }

    # --- events -------------------------------------------------------------

    def _emit(self, kind: EventKind, cause: Cause | None = None, detail: str = "", code: int | None = None) -> None:
        if self._on_event is None:
            return
        self._on_event(
            OperationalEvent(kind=kind, integration=self.integration_id, cause=cause, command_status=code, detail=detail)
        )

    # --- lifecycle ----------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled (nothing runs in the background: the HTTP
        client is used by the callers of submit); cancellation closes the
        client's connections."""
        try:
            task_status.started(self)
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await self._client.aclose()

    async def __aenter__(self) -> TwilioIntegration:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- URLs (D3) ----------------------------------------------------------

    def callback_urls(self) -> CallbackUrls:
        base = self.config.public_base_url + self._base_path
        return CallbackUrls(inbound=base + "/mo", status=base + "/status")

    def status_callback_url(self, message_id: str) -> str:
        return f"{self.callback_urls().status}?{urllib.parse.urlencode({'m': message_id})}"

    # --- outbound (T5) ------------------------------------------------------

    async def submit(self, message: OutboundMessageLike) -> list[SubmitResult]:
        """Create the message at Twilio. Returns one SubmitResult (also
        handed to on_submit_result); Twilio errors are results with
        ``ok=False``. Raises ProviderInactive while deactivated and
        ValueError for a message without text."""
        if not self.active:
            raise ProviderInactive(f"integration {self.integration_id} is deactivated")
        text = getattr(message, "text", None)
        if text is None:
            raise ValueError("Twilio takes the text of a message (it segments it itself); text is None")
        ids = getattr(message, "segment_ids", None)
        segment_id = ids[0] if ids else f"{message.message_id}:1"
        form = {"To": message.destination, "Body": text, "StatusCallback": self.status_callback_url(message.message_id)}
        if self.config.messaging_service_sid:
            form["MessagingServiceSid"] = self.config.messaging_service_sid
        if message.source:
            form["From"] = message.source
        gate = self._in_flight.setdefault(message.message_id, trio.Event())
        try:
            result = await self._create(message, segment_id, form)
            if result.ok and result.vendor_message_id:
                self._track(result.vendor_message_id, result.message_id, segment_id, result.segment_count)
            if self._on_submit_result is not None:
                await self._on_submit_result(result)
            return [result]
        finally:
            gate.set()
            if self._in_flight.get(message.message_id) is gate:
                del self._in_flight[message.message_id]

    async def _create(self, message: OutboundMessageLike, segment_id: str, form: dict[str, str]) -> SubmitResult:
        cfg = self.config
        attempts = 0
        delay = cfg.backoff
        while True:
            attempts += 1
            last = attempts >= cfg.max_attempts
            try:
                response = await self._client.post(self._messages_path, data=form)
            except httpx.HTTPError as e:
                # The request may have been created at Twilio anyway: a
                # duplicate is preferred to a loss (as for SMPP).
                if last:
                    return await self._failed(
                        message, segment_id, attempts, None, None, GenericErrorCode.RETRYABLE_FAILURE,
                        "HTTP_ERROR", f"{type(e).__name__}: {e}",
                    )
                await trio.sleep(delay)
                delay = min(delay * 2, cfg.max_backoff)
                continue
            status = response.status_code
            if 200 <= status < 300:
                return self._created(message, segment_id, response, attempts)
            code, text = _error_body(response)
            if status == 429 or code == ERROR_TOO_MANY_REQUESTS or status >= 500:
                if status == 429 or code == ERROR_TOO_MANY_REQUESTS:
                    self.stats["throttled"] += 1
                    self._emit("throttled", "http_error", f"HTTP {status} code {code}: {text}", code)
                if not last:
                    await trio.sleep(_retry_after(response, delay, cfg.max_backoff))
                    delay = min(delay * 2, cfg.max_backoff)
                    continue
            mapped = self.errors.map(code) if code is not None else None
            if mapped is None:
                generic = GenericErrorCode.RETRYABLE_FAILURE if status >= 500 or status == 429 else GenericErrorCode.UNKNOWN_FAILURE
                cause = "THROTTLED" if status == 429 else "HTTP_ERROR"
            else:
                generic, cause = mapped.generic_code, mapped.cause
            if code == ERROR_OPTED_OUT:
                self._emit(
                    "recipient_opted_out",
                    detail=f"{message.destination} opted out of {message.source or self.config.messaging_service_sid} at Twilio",
                    code=code,
                )
                if self._on_opt_out is not None:
                    await self._on_opt_out(
                        VendorOptOut(
                            integration=self.integration_id,
                            sender=message.source,
                            recipient=message.destination,
                            vendor_code=code,
                            message_id=message.message_id,
                        )
                    )
            return await self._failed(message, segment_id, attempts, status, code, generic, cause, text)

    def _created(
        self, message: OutboundMessageLike, segment_id: str, response: httpx.Response, attempts: int
    ) -> SubmitResult:
        try:
            doc = response.json()
        except (ValueError, UnicodeDecodeError):
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        sid = doc.get("sid")
        return SubmitResult(
            message_id=message.message_id,
            segment_id=segment_id,
            # num_segments is a string in Twilio's JSON (PROVIDERS.md).
            segment_count=max(_int(doc.get("num_segments"), 1) or 1, 1),
            ok=True,
            vendor_message_id=str(sid) if sid else None,
            vendor_status=doc.get("status"),
            http_status=response.status_code,
            attempts=attempts,
        )

    async def _failed(
        self,
        message: OutboundMessageLike,
        segment_id: str,
        attempts: int,
        http_status: int | None,
        code: int | None,
        generic: GenericErrorCode,
        cause: str,
        detail: str,
    ) -> SubmitResult:
        self._emit(
            "delivery_failure",
            "http_error",
            f"message {message.message_id} failed after {attempts} attempt(s): {cause}"
            + (f" (HTTP {http_status})" if http_status else "")
            + (f": {detail}" if detail else ""),
            code,
        )
        return SubmitResult(
            message_id=message.message_id,
            segment_id=segment_id,
            ok=False,
            vendor_code=code,
            http_status=http_status,
            generic_code=generic,
            cause=cause,
            attempts=attempts,
        )

    async def fetch_message(self, sid: str) -> dict[str, Any]:
        """``GET .../Messages/{sid}.json``: Twilio's record of a message."""
        path = f"/{API_VERSION}/Accounts/{self.config.account_sid}/Messages/{urllib.parse.quote(sid, safe='')}.json"
        return await self._get_json(path, None)

    async def _get_json(self, path: str, params: dict[str, str] | None) -> dict[str, Any]:
        try:
            response = await self._client.get(path, params=params)
        except httpx.HTTPError as e:
            raise TwilioApiError(None, None, f"{type(e).__name__}: {e}") from e
        if not 200 <= response.status_code < 300:
            code, text = _error_body(response)
            raise TwilioApiError(response.status_code, code, text)
        try:
            doc = response.json()
        except ValueError as e:
            raise TwilioApiError(response.status_code, None, "response is not JSON") from e
        if not isinstance(doc, dict):
            raise TwilioApiError(response.status_code, None, "response is not a JSON object")
        return doc

    # --- import check (T3) --------------------------------------------------

    async def check_number(self, number: str) -> NumberCheck:
        """Whether ``number`` is in this Twilio account and sends its inbound
        SMS here. Raises TwilioApiError when Twilio can't be asked."""
        path = f"/{API_VERSION}/Accounts/{self.config.account_sid}/IncomingPhoneNumbers.json"
        doc = await self._get_json(path, {"PhoneNumber": number})
        expected = self.callback_urls().inbound
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

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResponse:
        kind = request.kind
        if kind not in ("mo", "status"):
            return WebhookResponse(status=404, body=b"not found")
        if request.method != "POST":
            return WebhookResponse(status=405, body=b"POST only")
        if len(request.body) > MAX_WEBHOOK_BODY:
            return WebhookResponse(status=413, body=b"too large")
        signature = request.headers.get(SIGNATURE_HEADER.lower())
        params, json_body = self._parse(request)
        if params is None:
            ok = False
            why = "unreadable body"
        else:
            ok = validate_signature(
                self._token,
                request.url,
                signature,
                params=None if json_body else params,
                body=request.body if json_body else None,
            )
            why = "missing X-Twilio-Signature" if not signature else "X-Twilio-Signature does not match"
        if not ok:
            self.stats["rejected_signature"] += 1
            self._emit("webhook_rejected", "bad_signature", f"{kind} webhook refused: {why}")
            return WebhookResponse(status=403, body=b"forbidden")
        assert params is not None
        fields = dict(params)  # last value wins for the few fields we read
        if not self.active:
            self.stats["dropped_inactive"] += 1
            self._emit(
                "webhook_dropped",
                "deactivated",
                f"{kind} webhook for {fields.get('MessageSid', '?')} dropped: integration deactivated "
                f"({self.stats['dropped_inactive']} dropped so far)",
            )
            return self._answer(kind)
        if kind == "status":
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
            await self._status(fields, query.get("m", [None])[0])
        else:
            await self._inbound(fields, request.headers.get("i-twilio-idempotency-token"))
        return self._answer(kind)

    @staticmethod
    def _answer(kind: str) -> WebhookResponse:
        if kind == "mo":
            return WebhookResponse(status=200, body=EMPTY_TWIML, content_type="text/xml")
        return WebhookResponse(status=200)

    @staticmethod
    def _parse(request: WebhookRequest) -> tuple[list[tuple[str, str]] | None, bool]:
        """(params, is_json_variant). Form bodies give their pairs; a body
        signed by bodySHA256 may be JSON (its top-level scalars are read)."""
        query = urllib.parse.urlsplit(request.url).query
        json_variant = "bodySHA256" in urllib.parse.parse_qs(query)
        if json_variant:
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

    def _track(self, sid: str, message_id: str | None, segment_id: str | None, count: int | None) -> _Track:
        t = self._tracks.get(sid)
        if t is None:
            t = self._tracks[sid] = _Track(message_id, segment_id, count)
            if len(self._tracks) > MAX_TRACKED:
                self._tracks.popitem(last=False)
        else:
            self._tracks.move_to_end(sid)
            if message_id is not None:
                t.message_id = message_id
                t.segment_id = segment_id
                t.segment_count = count if count is not None else t.segment_count
        return t

    async def _status(self, fields: dict[str, str], message_id: str | None) -> None:
        sid = fields.get("MessageSid") or fields.get("SmsSid")
        status = (fields.get("MessageStatus") or fields.get("SmsStatus") or "").lower()
        info = _STATUS.get(status)
        if not sid or info is None:
            self._emit("protocol_error", "protocol_error", f"status callback without MessageSid or with unknown status {status!r}")
            return
        early = False
        gate = self._in_flight.get(message_id) if message_id else None
        if gate is not None:
            # The callback overtook the create response: on_submit_result first.
            early = True
            with trio.move_on_after(self.early_callback_hold):
                await gate.wait()
        track = self._tracks.get(sid)
        if track is None:
            track = self._track(sid, message_id, f"{message_id}:1" if message_id else None, None)
        elif track.message_id is None and message_id is not None:
            track.message_id, track.segment_id = message_id, f"{message_id}:1"
        rank, state, final, generic, cause = info
        previous = track.rank
        if previous >= _FINAL_RANK or (rank <= previous):
            # Never back from a final state; intermediate ones only forward
            # (Twilio callbacks may arrive out of order and more than once).
            self.stats["stale_callbacks"] += 1
            return
        code = _int(fields.get("ErrorCode")) if status not in _DELIVERED_STATUSES else None
        if code:
            mapped = self.errors.map(code)
            if mapped.cause != "UNMAPPED_VENDOR_CODE":
                generic, cause = mapped.generic_code, mapped.cause
        receipt = DeliveryReceipt(
            vendor_message_id=sid,
            state=state,
            state_name=status,
            is_final=final,
            generic_code=generic,
            cause=cause,
            vendor_code=code or None,
            message_id=track.message_id,
            segment_id=track.segment_id,
            segment_index=1 if track.message_id else None,
            segment_count=track.segment_count,
            message_state=("delivered" if status in _DELIVERED_STATUSES else "failed") if final else "en_route",
            done_date=fields.get("RawDlrDoneDate") or None,
            early=early,
        )
        track.rank = rank
        try:
            if self._on_receipt is not None:
                await self._on_receipt(receipt)
        except BaseException:
            if track.rank == rank:
                track.rank = previous  # not recorded: a redelivery may try again
            raise

    async def _inbound(self, fields: dict[str, str], idempotency_token: str | None) -> None:
        sid = fields.get("MessageSid") or fields.get("SmsMessageSid") or fields.get("SmsSid") or ""
        if sid and sid in self._recent_inbound:
            self.stats["duplicate_inbound"] += 1
            return
        parts = _int(fields.get("NumSegments"), 1) or 1
        msg = InboundMessage(
            source=fields.get("From", ""),
            destination=fields.get("To", ""),
            text=fields.get("Body", ""),
            vendor_message_id=sid,
            parts=parts,
            total=parts,
            extras={k: v for k, v in (
                ("NumMedia", fields.get("NumMedia")),
                ("MessagingServiceSid", fields.get("MessagingServiceSid")),
                ("I-Twilio-Idempotency-Token", idempotency_token),
            ) if v},
        )
        if self._on_mo is not None:
            await self._on_mo(msg)
        if sid:
            self._recent_inbound[sid] = None
            if len(self._recent_inbound) > MAX_RECENT_INBOUND:
                self._recent_inbound.popitem(last=False)


SPEC = ProviderSpec(
    name="twilio",
    factory=TwilioIntegration,
    config_type=TwilioIntegrationConfig,
    decode=_decode,
    capabilities=Capabilities(
        segments="provider",
        webhooks=("mo", "status"),
        inbound_kind="mo",
        status_kind="status",
        number_check=True,
        # Twilio's Advanced Opt-Out answers STOP/HELP/START itself and blocks
        # the pair: a second reply from us would be refused (21610).
        answers_keywords=True,
    ),
    credential_fields=frozenset({"account_sid", "auth_token"}),
    advanced_defaults=TWILIO_DEFAULTS,
    setup=("In the Twilio Console, set each number's Messaging webhook \"A message comes in\" "
           "to the inbound URL with HTTP POST (numbers of a Messaging Service: set the "
           "service's incoming messages to \"Defer to sender's webhook\"). The status URL is "
           "sent with every message (StatusCallback); nothing to set for it."),
    description="Twilio Programmable Messaging (REST API, signed webhooks)",
)
