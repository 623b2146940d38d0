"""Vibes Connect adapter (issue 16; API facts in spec/PROVIDERS-HTTP.md,
"Vibes Connect (aggregation; XML)"), on the HTTP kit.

Outbound: one ``POST /MessageApi/mt/messages`` per message, an
``<mtMessage>`` XML document with ``submitterMessageId`` = our message id
(Vibes allows 40 characters; ours are shorter, checked) and a
``receiptOption`` naming this integration's status URL. Vibes splits long
texts itself (``splitLongMessage``). The 200 answer's ``<mtMessageRsp
messageId=…>`` is the Vibes message id every receipt names; any other
status is a "system error" to Vibes: 429 and 5xx are retried by the kit
(the aggregation API's throttling signal is UNCONFIRMED, 429 is assumed as
on Vibes' Platform API), 401/403 are a wrong login, other 4xx are refused.

Receipts (``<mtMessageResponse>``): ``status/@isError`` and ``type``
(System, Carrier, Handset) give the state; an error's ``errorCode`` (then
``internalErrorCode``) is mapped through the packaged, overridable S7
configuration (``VIBES_DEFAULTS``). Which of the two elements carries
Vibes' published internal codes (1-20) is UNCONFIRMED, so both are tried.
A multipart message's receipts name its ``originalMessageId``.

Inbound: the current ``<moMessage>`` and the legacy ``<deliver>`` form are
both read. Callbacks are answered 200 at once (Vibes waits 2 s, then retries
every 5 minutes); content we can't use is still answered 200, as Vibes asks.

Security: Vibes' callbacks carry no credentials and no signature. The
check here is ``allowed_ips`` (Vibes publishes its addresses); a client
certificate must be terminated in front of the gateway. XML is parsed with
the standard library after refusing any DTD or entity declaration, and
bodies are bounded.

Numbers: Vibes serves US and Canada only and has no number lookup in its
verified API; ``check_number`` refuses any other number at import and
accepts US/Canada numbers unchecked, saying so.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import httpx
import phonenumbers

from byosms.advanced_config import VIBES_DEFAULTS, ErrorMapper, GenericErrorCode, load_advanced_config
from byosms.message_states import one_segment_state
from byosms.pipeline import (
    ACCEPTED,
    DELIVERED,
    ENROUTE,
    UNDELIVERABLE,
    DeliveryReceipt,
    InboundMessage,
    NumberCheck,
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
from byosms.schemas.vibes import VibesIntegrationConfig, decode_vibes_config

__all__ = ["MAX_XML", "SEND_PATH", "SPEC", "VibesIntegration", "XmlRefused", "parse_xml"]

SEND_PATH = "/MessageApi/mt/messages"
#: Vibes' callbacks and answers are small XML documents.
MAX_XML = 64 * 1024
#: submitterMessageId's limit at Vibes.
MAX_SUBMITTER_ID = 40

_G = GenericErrorCode
#: Markup declarations (DOCTYPE, ENTITY, ...); comments and CDATA are fine.
_DECLARATION = re.compile(rb"<!(?!--|\[CDATA\[)")
_SHORT_CODE = re.compile(r"^\d{3,8}$")


class XmlRefused(ValueError):
    """A body that is not a small, DTD-free XML document."""


def parse_xml(body: bytes) -> ET.Element:
    """The root of ``body``, refusing what could make a parser expand or
    fetch: any DTD or entity declaration, and anything over ``MAX_XML``."""
    if len(body) > MAX_XML:
        raise XmlRefused(f"XML body over {MAX_XML} bytes")
    if b"\x00" in body:
        # UTF-16/32 would hide a declaration from the check below.
        raise XmlRefused("XML not in UTF-8")
    if _DECLARATION.search(body):
        raise XmlRefused("XML with a DTD or entity declaration (<!DOCTYPE, <!ENTITY)")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise XmlRefused(f"not XML: {e}") from None
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _text(el: ET.Element | None, name: str) -> str:
    c = _child(el, name) if el is not None else None
    return (c.text or "").strip() if c is not None else ""



def _address(address: str) -> tuple[str, str]:
    """(address, type) of our source: a short code (digits) is "SC"; a long
    code is sent in E.164 with type "LC" (UNCONFIRMED: the first-party
    examples show short codes only)."""
    a = address.strip()
    if _SHORT_CODE.match(a):
        return a, "SC"
    return a, "LC"


def _e164(address: str) -> str:
    a = (address or "").strip()
    if a.isdigit() and len(a) == 10:  # NANP without the country code
        return "+1" + a
    if a.isdigit() and len(a) > 10:
        return "+" + a
    return a


# (isError, type) -> (rank, state, final, generic, cause)
_SUCCESS = {
    "system": (1, ACCEPTED, False, _G.ACCEPTED, "ACCEPTED"),
    # Carrier-level success is final: many US carriers send nothing later
    # (whether Handset receipts follow is UNCONFIRMED per carrier).
    "carrier": (8, DELIVERED, True, _G.SUCCESS, "DELIVERED_TO_CARRIER"),
    "handset": (9, DELIVERED, True, _G.SUCCESS, "DELIVERED"),
}


class VibesIntegration(HttpAdapter):
    """One Vibes Connect account as an integration."""

    provider_name = "vibes"
    capabilities = Capabilities(segments="provider", webhooks=("mo", "dlr"), inbound_kind="mo",
                                status_kind="dlr", number_check=True)

    def __init__(self, config: VibesIntegrationConfig, *, integration_id: str,
                 on_event: Callable[[OperationalEvent], Any] | None = None,
                 on_submit_result: Callable[[SubmitResult], Any] | None = None,
                 on_receipt: Callable[[DeliveryReceipt], Any] | None = None,
                 on_mo: Callable[[InboundMessage], Any] | None = None,
                 on_opt_out: Callable[[VendorOptOut], Any] | None = None,
                 runtime: ProviderRuntime | None = None, active: bool = True,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.errors = ErrorMapper(load_advanced_config(config.advanced_config,
                                                       defaults=VIBES_DEFAULTS))
        super().__init__(
            integration_id=integration_id, public_base_url=config.public_base_url,
            allowed_ips=config.allowed_ips,
            settings=ClientSettings.of(config, base_url=config.api_base),
            on_event=on_event, on_submit_result=on_submit_result, on_receipt=on_receipt,
            on_mo=on_mo, on_opt_out=on_opt_out, runtime=runtime, active=active,
            transport=transport, max_webhook_body=MAX_XML,
            auth=httpx.BasicAuth(config.username, config.password.reveal()),
            headers={"Accept": "text/xml, application/xml"},
        )

    # --- outbound -----------------------------------------------------------

    def request_body(self, message: OutboundMessage) -> bytes:
        """The ``<mtMessage>`` of one message (public for tests)."""
        if message.text is None:
            raise ValueError("Vibes takes the text of a message (it splits it itself)")
        if len(message.message_id) > MAX_SUBMITTER_ID:
            raise ValueError(f"message id {message.message_id!r} is longer than Vibes' "
                             f"{MAX_SUBMITTER_ID}-character submitterMessageId")
        source, source_type = _address(message.source)
        split = "true" if self.config.split_long_message else "false"
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<mtMessage submitterMessageId={quoteattr(message.message_id)} '
            f'splitLongMessage="{split}">'
            f'<destination address={quoteattr(message.destination)} type="MDN"/>'
            f'<source address={quoteattr(source)} type="{source_type}"/>'
            f'<text>{escape(message.text)}</text>'
            f'<receiptOption callbackUrl={quoteattr(self.callback_urls().status or "")}>'
            f'{self.config.receipt_option}</receiptOption>'
            '</mtMessage>'
        ).encode("utf-8")

    def classify(self, response: httpx.Response) -> Classification | None:
        # Vibes: any non-200 is a system error. 429 (UNCONFIRMED on this API)
        # and 5xx are retried by status; the body is free text or XML.
        if response.status_code == 200:
            return None
        return Classification(message=response.text[:200])

    async def send(self, message: OutboundMessage) -> SubmitResult:
        body = self.request_body(message)
        try:
            reply = await self.http.request("POST", SEND_PATH, content=body,
                                            headers={"Content-Type": "text/xml; charset=UTF-8"})
        except HttpTransportError as e:
            # Maybe sent anyway: retryable (a duplicate is preferred to a loss).
            return self.failed(message, attempts=e.attempts, http_status=None, vendor_code=None,
                               generic_code=_G.RETRYABLE_FAILURE, cause="HTTP_ERROR",
                               detail=e.detail)
        status = reply.status
        if not reply.ok:
            text = reply.response.text[:200]
            if reply.verdict in ("throttled", "retryable") or status >= 500:
                generic, cause = _G.RETRYABLE_FAILURE, "THROTTLED" if status == 429 else "HTTP_ERROR"
            elif status in (401, 403):
                generic, cause = _G.PERMANENT_FAILURE, "AUTHENTICATION_FAILED"
            else:
                generic, cause = _G.REJECTED, f"HTTP_{status}"
            return self.failed(message, attempts=reply.attempts, http_status=status,
                               vendor_code=None, generic_code=generic, cause=cause, detail=text)
        try:
            root = parse_xml(reply.response.content)
            vid = root.get("messageId") if _local(root.tag) == "mtMessageRsp" else None
        except XmlRefused:
            vid = None
        if status != 200 or not vid:
            # Accepted (2xx) but unreadable: the message may be at Vibes.
            return self.failed(message, attempts=reply.attempts, http_status=status,
                               vendor_code=None, generic_code=_G.UNKNOWN_FAILURE,
                               cause="UNREADABLE_RESPONSE", detail=reply.response.text[:200])
        return SubmitResult(
            message_id=message.message_id, segment_id=self.first_segment_id(message),
            segment_count=1, ok=True, vendor_message_id=vid, vendor_status="queued",
            http_status=status, attempts=reply.attempts)

    # --- import check (T3) --------------------------------------------------

    async def check_number(self, number: str) -> NumberCheck:
        """US and Canada numbers only; Vibes has no number lookup, so those
        are accepted unchecked."""
        expected = self.callback_urls().inbound
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
        except phonenumbers.NumberParseException:
            region = None
        if region not in ("US", "CA"):
            return NumberCheck(
                status="not_found", number=number, expected_url=expected,
                message=f"Vibes serves US and Canada numbers only: {number} is not a US or "
                        "Canada (+1) number")
        return NumberCheck(
            status="found", number=number, expected_url=expected,
            message="a US/Canada number: recorded unchecked (Vibes has no number lookup); "
                    f"point its inbound messages at {expected} in Vibes")

    # --- webhooks -----------------------------------------------------------

    def routes(self) -> dict[str, Route]:
        return {"dlr": Route(handler=self._receipt), "mo": Route(handler=self._inbound)}

    def authenticate(self, request: WebhookRequest) -> ET.Element:
        try:
            return parse_xml(request.body)
        except XmlRefused as e:
            raise WebhookRefused(str(e)) from None

    def subject(self, payload: ET.Element) -> str | None:
        return payload.get("messageId") or payload.get("submitterMessageId")

    async def _receipt(self, request: WebhookRequest, root: ET.Element) -> None:
        if _local(root.tag) != "mtMessageResponse":
            # Answered 200 all the same: Vibes asks that content be acknowledged.
            self._emit("protocol_error", "protocol_error",
                       f"delivery receipt is a <{_local(root.tag)}>, not <mtMessageResponse>")
            return
        multipart = _child(root, "multipart")
        vid = (multipart.get("originalMessageId") if multipart is not None else None) \
            or root.get("messageId")
        status = _child(root, "status")
        kind = _text(root, "type").lower()
        if not vid or status is None:
            self._emit("protocol_error", "protocol_error",
                       "delivery receipt without messageId or status")
            return
        is_error = (status.get("isError") or "").strip().lower() == "true"
        error_code = as_int(_text(status, "errorCode"))
        internal = as_int(_text(status, "internalErrorCode"))
        description = _text(status, "description")
        code: int | None = None
        if is_error:
            rank, state, final = 9, UNDELIVERABLE, True
            generic, cause = _G.UNDELIVERABLE, f"{kind.upper() or 'SYSTEM'}_ERROR"
            for candidate in (error_code, internal):
                if candidate is None:
                    continue
                mapped = self.errors.known(candidate)
                if mapped is not None:
                    code, generic, cause = candidate, mapped.generic_code, mapped.cause
                    break
            else:
                code = error_code if error_code is not None else internal
        else:
            rank, state, final, generic, cause = _SUCCESS.get(kind, _SUCCESS["system"])
        submitter = root.get("submitterMessageId")
        hint = submitter if submitter and submitter.startswith("msg_") else None
        if multipart is not None and (as_int(multipart.get("noOfParts")) or 1) > 1 and final \
                and not is_error and as_int(multipart.get("partNumber")) != as_int(
                    multipart.get("noOfParts")):
            # A delivered part before the last: not the message's outcome yet.
            rank, final, state, generic, cause = 7, False, ENROUTE, _G.EN_ROUTE, "PART_DELIVERED"

        def receipt(m: Match) -> DeliveryReceipt:
            return DeliveryReceipt(
                vendor_message_id=str(vid), state=state, state_name=description or cause,
                is_final=final, generic_code=generic, cause=cause, vendor_code=code,
                message_id=m.message_id or hint,
                segment_id=m.segment_id or (f"{hint}:1" if hint else None),
                segment_index=1 if (m.message_id or hint) else None,
                segment_count=m.segment_count,
                message_state=one_segment_state(state if final else None),
                done_date=root.get("receiptDate"), early=m.early)

        await self.deliver_receipt(str(vid), rank=rank, final=final, message_id=hint,
                                   build=receipt)

    async def _inbound(self, request: WebhookRequest, root: ET.Element) -> None:
        tag = _local(root.tag)
        source, destination = _child(root, "source"), _child(root, "destination")
        if tag == "moMessage":
            vid = root.get("messageId") or ""
            text = _text(root, "message")
            extras = {k: v for k in ("receiptDate", "attemptNumber") if (v := root.get(k))}
        elif tag == "deliver":  # the legacy v1 form
            msg = _child(root, "message")
            text = (msg.get("text") or msg.text or "") if msg is not None else ""
            vid = ""
            passthrough = _child(root, "passthrough")
            for p in passthrough if passthrough is not None else ():
                if p.get("key") == "moMessageId":
                    vid = (p.text or "").strip()
            transaction = _child(root, "transaction")
            if not vid and transaction is not None:
                vid = transaction.get("id") or ""
            extras = {"format": "deliver"}
        else:
            self._emit("protocol_error", "protocol_error",
                       f"inbound message is a <{tag}>, neither <moMessage> nor <deliver>")
            return
        if source is None or destination is None:
            self._emit("protocol_error", "protocol_error", f"<{tag}> without source or destination")
            return
        if source.get("carrier"):
            extras["carrier"] = str(source.get("carrier"))
        await self.deliver_inbound(InboundMessage(
            source=_e164(source.get("address") or ""),
            destination=_e164(destination.get("address") or ""),
            text=text, vendor_message_id=vid, parts=1, total=1, extras=extras))


SPEC = ProviderSpec(
    name="vibes",
    factory=VibesIntegration,
    config_type=VibesIntegrationConfig,
    decode=decode_vibes_config,  # its ConfigError names the field
    capabilities=VibesIntegration.capabilities,
    credential_fields=frozenset({"username", "password", "api_base"}),
    advanced_defaults=VIBES_DEFAULTS,
    setup=("Delivery receipts: nothing to set (each message names the status URL). Inbound: ask "
           "Vibes to post the short code's MO messages (XML) to the inbound URL. Vibes' "
           "callbacks carry no credentials: set allowed_ips to Vibes' published addresses or "
           "terminate its client certificate in front of the gateway. US and Canada numbers "
           "only; they are not checked at Vibes on import (it has no number lookup)."),
    description="Vibes Connect aggregation API (XML; US and Canada)",
)
