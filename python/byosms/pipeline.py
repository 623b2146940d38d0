"""The pipeline's vocabulary: what every provider and the gateway exchange.

One module, one definition of each type (ARCHITECTURE.md, "pipeline types"):
the SMPP engine, the HTTP providers, plug-ins and the gateway all build and
read these Structs, so the gateway never imports from a provider's package
and a new provider has nothing to translate.

Ids: a message id is the store's ``msg_...`` string; a segment id is a
string too (``SegmentId``): the gateway hands the store's integer segment
id as its decimal form, and standalone users of an engine may name segments
as they like (default ``"{message_id}:{n}"``).

State scale: receipts carry ``state`` as an SMPP 3.4 message_state (section
5.2.28) whatever the provider, so the S13 roll-up (``byosms.lifecycle``)
reads every provider alike; ``state_name`` keeps the provider's own word.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypeAlias

import msgspec

from byosms.advanced_config import GenericErrorCode
from byosms.schemas.events import OperationalEvent

__all__ = [
    "ACCEPTED",
    "DELETED",
    "DELIVERED",
    "ENROUTE",
    "EXPIRED",
    "FAILED_STATES",
    "REJECTED",
    "UNDELIVERABLE",
    "UNKNOWN",
    "CallbackUrls",
    "DeliveryReceipt",
    "InboundMessage",
    "MessageId",
    "MessageState",
    "NumberCheck",
    "OperationalEvent",
    "OutboundMessage",
    "OutboundSegment",
    "SegmentId",
    "SubmitResult",
    "SubmittedSegment",
    "VendorOptOut",
    "WebhookRequest",
    "WebhookResponse",
]

MessageId: TypeAlias = str
SegmentId: TypeAlias = str

#: What a message is, from its segments (S13).
MessageState = Literal["delivered", "failed", "en_route"]

# SMPP 3.4 section 5.2.28 message_state values (also _core.MESSAGE_STATES):
# the common scale of every provider's receipts.
ENROUTE = 1
DELIVERED = 2
EXPIRED = 3
DELETED = 4
UNDELIVERABLE = 5
ACCEPTED = 6
UNKNOWN = 7
REJECTED = 8

#: Final states that mean the segment will never be delivered (S13).
FAILED_STATES = frozenset({EXPIRED, DELETED, UNDELIVERABLE, REJECTED})


# --- outbound ----------------------------------------------------------------------


class OutboundSegment(msgspec.Struct, frozen=True):
    """A pre-built segment: the short_message bytes (UDH included when
    ``udhi``) and its data_coding. ``sar`` is (ref, total, seqnum) for SAR."""

    short_message: bytes
    data_coding: int = 0
    udhi: bool = False
    sar: tuple[int, int, int] | None = None
    payload: bool = False  # SMPP: carry in message_payload instead of short_message


class OutboundMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A mobile-terminated message to submit.

    ``source``: E.164 with '+', a short code (digits) or an alphanumeric
    sender (letters, up to 11 characters). ``destination``: E.164 with '+'.
    Providers that segment themselves read ``text``; the SMPP engine reads
    ``segments`` (built by the gateway) or segments ``text`` itself.
    ``segment_ids`` name the segments (default ``"{message_id}:{n}"``).
    """

    message_id: MessageId
    source: str
    destination: str
    text: str | None = None
    segments: list[OutboundSegment] | None = None
    segment_ids: list[SegmentId] | None = None


class SubmitResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one submit: of one segment (the gateway segments), or
    of the whole message (the provider segments: ``segment_count`` is then
    the provider's count, e.g. Twilio's ``num_segments``).

    ``vendor_code`` is the provider's own code for a refusal (SMPP
    command_status, Twilio's error code, ...), kept next to the generic one
    it maps to (S7)."""

    message_id: MessageId
    segment_id: SegmentId
    segment_index: int = 1  # 1-based
    segment_count: int = 1
    ok: bool
    vendor_message_id: str | None = None
    vendor_code: int | None = None
    #: The provider's status word in its answer (Twilio "queued"), if any.
    vendor_status: str | None = None
    http_status: int | None = None
    generic_code: GenericErrorCode = GenericErrorCode.ACCEPTED
    cause: str = "ACCEPTED"
    attempts: int = 1
    bind: int | None = None

    @property
    def command_status(self) -> int | None:
        """SMPP's name for ``vendor_code`` (the last submit_sm_resp's status)."""
        return self.vendor_code


class DeliveryReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery report, matched to its segment by the provider when it
    can (``segment_id`` None: the gateway matches by ``vendor_message_id``)."""

    vendor_message_id: str
    state: int  # SMPP message_state meaning the same, whatever the provider
    state_name: str  # the provider's own word (DELIVRD, "undelivered", ...)
    is_final: bool
    generic_code: GenericErrorCode
    cause: str
    vendor_code: int | None = None
    message_id: MessageId | None = None
    segment_id: SegmentId | None = None
    segment_index: int | None = None
    segment_count: int | None = None
    #: The provider's roll-up of the segments it has seen (None if unmatched).
    message_state: MessageState | None = None
    done_date: str | None = None  # as the provider sent it
    bind: int | None = None
    early: bool = False  # arrived before its submit response


class SubmittedSegment(msgspec.Struct, frozen=True, kw_only=True):
    """A segment a previous run submitted that still awaits its receipt:
    handed to a provider that correlates receipts itself before it starts
    (``Provider.register_submitted``)."""

    message_id: MessageId
    segment_id: SegmentId
    segment_index: int  # 1-based
    segment_count: int
    vendor_message_id: str


# --- inbound -----------------------------------------------------------------------


class InboundMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A mobile-originated message, whole and decoded. ``source`` is the
    subscriber, ``destination`` our number. ``data_coding`` is known for
    SMPP (None where the provider decoded the text)."""

    source: str
    destination: str
    text: str
    data_coding: int | None = None
    parts: int = 1  # parts received
    total: int = 1  # parts announced
    incomplete: bool = False
    missing: tuple[int, ...] = ()
    source_ton: int = 0
    source_npi: int = 0
    bind: int | None = None
    vendor_message_id: str = ""
    #: Provider fields worth keeping that have no common meaning
    #: (Twilio: NumMedia, MessagingServiceSid, the idempotency token).
    extras: Mapping[str, str] = {}


class VendorOptOut(msgspec.Struct, frozen=True, kw_only=True):
    """The provider refused a message because the recipient opted out at the
    provider (Twilio 21610): the gateway records the opt-out (S15) so it
    stops sending too."""

    integration: str
    sender: str
    recipient: str
    vendor_code: int | None = None
    message_id: MessageId | None = None


# --- the provider's side of the admin API ------------------------------------------


class NumberCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of ``check_number`` at import (T3, N5).

    ``found``: the number is in the account and routes to us.
    ``not_found``: the provider account does not have it (N5 "number not
    found at the vendor").
    ``webhook_mismatch``: it exists, but its inbound webhook is not
    ``expected_url``; ``message`` tells the operator what to set.
    """

    status: Literal["found", "not_found", "webhook_mismatch"]
    number: str
    expected_url: str | None = None
    actual_url: str | None = None
    message: str = ""
    vendor_number_id: str | None = None


class CallbackUrls(msgspec.Struct, frozen=True, kw_only=True):
    """Where the provider must send inbound messages and delivery reports
    (D3), shown when the integration is created. None: not used.
    ``setup`` says what to do at the provider to point it here."""

    inbound: str | None = None
    status: str | None = None
    setup: str | None = None


class WebhookRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One HTTP request to ``/vendors/v1/{provider}/{integration}/{kind}``,
    as the web layer hands it to the adapter. ``url`` is the URL as the
    provider called it: the integration's public base URL + path + query
    (not the Host header, which a proxy may have rewritten)."""

    kind: str
    method: str
    url: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    content_type: str = ""
    #: The peer's address as the web server saw it (for IP allow-lists;
    #: behind a proxy, the proxy's).
    remote_addr: str | None = None


class WebhookResponse(msgspec.Struct, frozen=True, kw_only=True):
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
