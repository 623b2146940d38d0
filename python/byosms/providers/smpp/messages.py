"""What the SMPP engine exchanges with its owner (the gateway pipeline), the
S13 roll-up of segment states, and the S2/S3 address rules.

Everything here is pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import msgspec

from byosms import _core
from byosms.advanced_config import GenericErrorCode

# SMPP 3.4 section 5.2.28 message_state values (also _core.MESSAGE_STATES).
ENROUTE = 1
DELIVERED = 2
EXPIRED = 3
DELETED = 4
UNDELIVERABLE = 5
ACCEPTED = 6
UNKNOWN = 7
REJECTED = 8

#: Final states that mean the segment will never be delivered (S13 roll-up).
FAILED_STATES = frozenset({EXPIRED, DELETED, UNDELIVERABLE, REJECTED})

MessageState = Literal["delivered", "failed", "en_route"]


def roll_up(segment_states: Iterable[int | None]) -> MessageState:
    """The message state from its segments' states (S13).

    Each item is the SMPP message_state of one segment's latest receipt, or
    None while no receipt came. A segment whose submit_sm failed permanently
    counts as REJECTED. The message is delivered only when every segment is;
    failed as soon as one segment failed for good (the recipient can't read
    a message with a hole in it); en route otherwise.
    """
    states = list(segment_states)
    if not states:
        return "en_route"
    if any(s in FAILED_STATES for s in states):
        return "failed"
    if all(s == DELIVERED for s in states):
        return "delivered"
    return "en_route"


# --- messages ------------------------------------------------------------------


class OutboundSegment(msgspec.Struct, frozen=True):
    """A pre-built segment: the short_message bytes (UDH included when
    ``udhi``) and its data_coding. ``sar`` is (ref, total, seqnum) for SAR."""

    short_message: bytes
    data_coding: int = 0
    udhi: bool = False
    sar: tuple[int, int, int] | None = None
    payload: bool = False  # carry in message_payload instead of short_message


class OutboundMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A mobile-terminated message to submit.

    ``source``: E.164 with '+', a short code (digits) or an alphanumeric
    sender (letters, up to 11 characters). ``destination``: E.164 with '+'.
    Either ``text`` (segmented by the core with the integration's charset
    chain and concatenation method) or ``segments``. ``segment_ids`` name the
    segments (default ``"{message_id}:{n}"``, n from 1).
    """

    message_id: str
    source: str
    destination: str
    text: str | None = None
    segments: list[OutboundSegment] | None = None
    segment_ids: list[str] | None = None


class SubmitResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one segment's submit_sm (handed to on_submit_result)."""

    message_id: str
    segment_id: str
    segment_index: int  # 1-based
    segment_count: int
    ok: bool
    vendor_message_id: str | None = None
    command_status: int | None = None  # of the last submit_sm_resp, if any
    generic_code: GenericErrorCode = GenericErrorCode.ACCEPTED
    cause: str = "ACCEPTED"
    attempts: int = 1
    bind: int | None = None


class DeliveryReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery receipt matched (or not: ``segment_id`` None) to a segment."""

    vendor_message_id: str
    state: int  # SMPP message_state
    state_name: str
    is_final: bool
    generic_code: GenericErrorCode
    cause: str
    vendor_code: int | None = None
    message_id: str | None = None
    segment_id: str | None = None
    segment_index: int | None = None
    segment_count: int | None = None
    #: roll_up() of the segments seen so far by this engine (None if unmatched).
    message_state: MessageState | None = None
    bind: int | None = None
    early: bool = False  # arrived before its submit_sm_resp


class InboundMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A mobile-originated message, reassembled and decoded."""

    source: str  # E.164 with '+' where it could be read as a number
    destination: str
    text: str
    data_coding: int
    parts: int = 1  # parts received
    total: int = 1  # parts announced
    incomplete: bool = False
    missing: tuple[int, ...] = ()
    source_ton: int = 0
    source_npi: int = 0
    bind: int | None = None


# --- addresses (S2, S3) -----------------------------------------------------------

#: ITU-T E.164: at most 15 digits after the country code's '+'.
E164_MAX_DIGITS = 15
#: 3GPP TS 23.040 9.1.2.5: an alphanumeric originator is at most 11 GSM characters.
ALPHANUMERIC_MAX = 11
#: SMPP 3.4 section 5.2.5: type of number 5 = alphanumeric, NPI 0 = unknown.
TON_INTERNATIONAL = 1
TON_NATIONAL = 2
TON_ALPHANUMERIC = 5
NPI_UNKNOWN = 0

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_DIGITS = re.compile(r"[0-9]+")


class AddressError(ValueError):
    """An address the integration cannot send to or from."""


def outbound_source(
    source: str, *, plus_prefix: bool, ton: int, npi: int
) -> tuple[str, int, int]:
    """(source_addr, ton, npi) for a submit_sm.

    E.164 loses its '+' unless the vendor wants it (S2 outbound_plus_prefix)
    and takes the configured TON/NPI (S3). An alphanumeric sender gets TON 5 /
    NPI 0 whatever is configured: the SMSC would otherwise read letters as
    digits. A short code (digits without '+') is sent as is with the
    configured TON/NPI.
    """
    s = source.strip()
    if _E164.fullmatch(s):
        return (s if plus_prefix else s[1:]), ton, npi
    if _DIGITS.fullmatch(s):
        if len(s) > E164_MAX_DIGITS:
            raise AddressError(f"source {source!r}: more than {E164_MAX_DIGITS} digits")
        return s, ton, npi
    if not s or len(s) > ALPHANUMERIC_MAX or not s.isascii() or not s.replace(" ", "").isalnum():
        raise AddressError(
            f"source {source!r}: not E.164 ('+' and up to 15 digits), a short code, or an "
            f"alphanumeric sender of 1..{ALPHANUMERIC_MAX} ASCII letters/digits"
        )
    return s, TON_ALPHANUMERIC, NPI_UNKNOWN


def outbound_destination(destination: str, *, ton: int, npi: int) -> tuple[str, int, int]:
    """(destination_addr, ton, npi): E.164 required; always sent without '+'
    (S2's outbound_plus_prefix is about source addresses; SMSCs read the
    destination's digits with its TON/NPI, S3)."""
    d = destination.strip()
    if not _E164.fullmatch(d):
        raise AddressError(f"destination {destination!r} is not E.164 ('+' and up to 15 digits)")
    return d[1:], ton, npi


def inbound_address(
    addr: str, ton: int, npi: int, *, plus_prefix: bool, default_region: str | None = None
) -> str:
    """An address from a deliver_sm as applications see it (S2: E.164 with '+').

    - alphanumeric (TON 5) and anything with letters: kept as sent;
    - '+digits': kept (vendors with inbound_plus_prefix send this);
    - TON 1 international, or digits with '00' international prefix: '+digits';
    - TON 2 national: read with ``default_region`` by the phonenumbers
      library; kept as sent when there is no region or it does not parse;
    - other digit strings: short codes (at most 6 digits) are kept; longer
      ones are read as international without '+' when the vendor does not
      prefix (inbound_plus_prefix false, the S2 meaning of the flag), else
      kept as sent.
    """
    a = addr.strip()
    if ton == TON_ALPHANUMERIC or not a:
        return a
    if a.startswith("+"):
        rest = a[1:]
        return "+" + rest if _DIGITS.fullmatch(rest) else a
    if not _DIGITS.fullmatch(a):
        return a
    if ton == TON_INTERNATIONAL:
        return "+" + (a[2:] if a.startswith("00") else a)
    if a.startswith("00") and len(a) > 4:
        return "+" + a[2:]
    if ton == TON_NATIONAL:
        return _national(a, default_region)
    if len(a) <= 6:
        return a
    if default_region is not None and a.startswith("0"):
        return _national(a, default_region)
    if not plus_prefix and len(a) <= E164_MAX_DIGITS:
        return "+" + a
    return a


def _national(digits: str, region: str | None) -> str:
    if region is None:
        return digits
    import phonenumbers  # imported lazily: only national numbers need it

    try:
        n = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return digits
    if not phonenumbers.is_possible_number(n):
        return digits
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


STATE_NAMES = {v: k for k, v in _core.MESSAGE_STATES.items()}
