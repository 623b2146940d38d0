"""The SMPP engine's S2/S3 address rules; the types it exchanges with its
owner are the pipeline's (``byosms.pipeline``), re-exported here.

Everything here is pure: no I/O, no clock.
"""

from __future__ import annotations

import re

from byosms import _core
from byosms.message_states import roll_up
from byosms.pipeline import (  # the pipeline's types, re-exported for the engine's users
    ACCEPTED,
    DELETED,
    DELIVERED,
    ENROUTE,
    EXPIRED,
    FAILED_STATES,
    REJECTED,
    UNDELIVERABLE,
    UNKNOWN,
    DeliveryReceipt,
    InboundMessage,
    MessageState,
    OutboundMessage,
    OutboundSegment,
    SubmitResult,
)

__all__ = [
    "ACCEPTED", "DELETED", "DELIVERED", "ENROUTE", "EXPIRED", "FAILED_STATES", "REJECTED",
    "UNDELIVERABLE", "UNKNOWN", "AddressError", "DeliveryReceipt", "InboundMessage",
    "MessageState", "OutboundMessage", "OutboundSegment", "STATE_NAMES", "SubmitResult",
    "inbound_address", "outbound_destination", "outbound_source", "roll_up",
]

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
