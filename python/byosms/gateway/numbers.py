"""Number inventory: importing one number into an integration (PRODUCT.md
N1–N6, S14, D4, D5).

`validate_sender_id` and `validate_keywords` are pure; `NumberInventory` adds
the store, the per-number in-flight guard and the provider's vendor check.

Sender ID rules:
- local, mobile, toll_free: E.164 ("+" then the country code; spaces, dots,
  dashes and parentheses are tolerated and dropped), valid for `phonenumbers`.
  Where `phonenumbers` knows the number's type it must agree with the declared
  one (`_COMPATIBLE_TYPES`); where it does not (UNKNOWN) the declared type is
  taken on trust. With `country`, the number must belong to that country.
- short_code: 5–6 digits plus a country (ISO 3166 alpha-2); the number is
  stored as the bare digits, which is what an SMSC puts in destination_addr.
- alphanumeric (S14): 1–11 GSM-7 letters, digits and spaces, at least one
  letter. It cannot receive, so keywords never match it; it keeps the defaults.

Importing only records the number (N6): nothing is sent to the provider; the
vendor check (HTTP providers: is the number in the account, does its webhook
point at us) only reads.

Errors: each N5 case is its own `NumberImportError` subclass with a stable
`code` (`ERROR_CODES` maps code -> class); messages never name another
business unit or its integrations (D4).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Literal

import msgspec
import phonenumbers
from phonenumbers import PhoneNumberType

from byosms.gateway.keywords import display_keyword, normalize
from byosms.pipeline import NumberCheck
from byosms.schemas.records import Integration, Keywords, Number, NumberType
from byosms.store.base import Conflict, NotFound

#: N2: a short code is a 5–6 digit sender ID.
SHORT_CODE_DIGITS = (5, 6)
#: S14 / 3GPP TS 23.040 9.1.2.5: an alphanumeric originator is at most 11 GSM-7 characters.
ALPHANUMERIC_MAX = 11
#: Display names are labels in lists (D5), not documents.
DISPLAY_NAME_MAX = 100

LONG_CODE_TYPES: frozenset[str] = frozenset({"local", "mobile", "toll_free"})

# phonenumbers' types each declared long-code type may be. FIXED_LINE_OR_MOBILE
# is what it says for NANP numbers (it cannot tell), VOIP and PERSONAL_NUMBER
# ranges are what many SMS-capable "local" numbers are outside NANP.
_COMPATIBLE_TYPES: dict[str, frozenset[int]] = {
    "local": frozenset({
        PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP, PhoneNumberType.PERSONAL_NUMBER, PhoneNumberType.UAN,
    }),
    "mobile": frozenset({
        PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.PERSONAL_NUMBER,
    }),
    "toll_free": frozenset({PhoneNumberType.TOLL_FREE}),
}
_TYPE_NAMES = {v: k.lower() for k, v in vars(PhoneNumberType).items() if k.isupper()}
_E164_SEPARATORS = re.compile(r"[\s().\-]")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_SHORT_CODE = re.compile(r"[0-9]{%d,%d}" % SHORT_CODE_DIGITS)


# --- errors ------------------------------------------------------------------------


class NumberImportError(Exception):
    """A refused import. `code` is stable (API clients switch on it); the
    message is for people."""

    code: ClassVar[str] = "import_failed"

    def __init__(self, message: str, *, number: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.number = number

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "number": self.number}


class MissingSenderId(NumberImportError):
    code = "missing_sender_id"

    def __init__(self, message: str = "Please check the integration for BYO sender ID", *,
                 number: str | None = None) -> None:
        super().__init__(message, number=number)


class MissingComplianceKeywords(NumberImportError):
    """N4: a short code came without its help / opt-out / opt-in keywords or replies."""

    code = "missing_compliance_keywords"


class InvalidComplianceKeywords(NumberImportError):
    """Keywords that cannot work: one in two sets, or empty once normalised.
    (Not one of N5's cases, which only speak of missing ones.)"""

    code = "invalid_compliance_keywords"


class InvalidSenderIdType(NumberImportError):
    """The sender ID does not have the declared type's form: not E.164, not a
    5–6 digit short code, not an alphanumeric sender ID; or phonenumbers
    classifies the number as another type."""

    code = "invalid_sender_id_type"


class CountryMismatch(NumberImportError):
    code = "country_mismatch"


class ProvisioningInProgress(NumberImportError):
    code = "provisioning_in_progress"


class AlreadyProvisioned(NumberImportError):
    """The number is in another business unit's inventory."""

    code = "already_provisioned"


class AlreadyInInventory(AlreadyProvisioned):
    """The number is already in this business unit's inventory."""

    code = "already_in_inventory"


class NotFoundAtVendor(NumberImportError):
    """The provider does not have the number in the account (`reason`
    "not_found") or its inbound webhook does not point at the gateway
    ("webhook_wrong"; T3)."""

    code = "not_found_at_vendor"

    def __init__(self, message: str, *, number: str | None = None,
                 reason: Literal["not_found", "webhook_wrong"] = "not_found") -> None:
        super().__init__(message, number=number)
        self.reason = reason

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "reason": self.reason}


class VendorUnavailable(NumberImportError):
    """The provider could not be asked whether it has the number (network,
    credentials, its own error): nothing was imported; try again."""

    code = "vendor_unavailable"


class IntegrationNotFound(NumberImportError):
    """No such integration in the caller's business unit (deleted, unknown, or
    another unit's: indistinguishable on purpose, D4)."""

    code = "integration_not_found"


ERROR_CODES: dict[str, type[NumberImportError]] = {
    c.code: c for c in (
        MissingSenderId, MissingComplianceKeywords, InvalidComplianceKeywords,
        InvalidSenderIdType, CountryMismatch, ProvisioningInProgress, AlreadyProvisioned,
        AlreadyInInventory, NotFoundAtVendor, IntegrationNotFound, VendorUnavailable,
    )
}


# --- pure validation -------------------------------------------------------------------


def _country(country: str | None, number: str | None) -> str | None:
    if country is None:
        return None
    c = country.strip().upper()
    if c not in phonenumbers.SUPPORTED_REGIONS:
        raise CountryMismatch(
            f"unknown country {country!r}: give an ISO 3166 alpha-2 code such as 'US'",
            number=number,
        )
    return c


def canonical_e164(sender_id: str) -> str | None:
    """`sender_id` as "+digits" with separators dropped, or None if it is not E.164."""
    s = _E164_SEPARATORS.sub("", sender_id)
    return s if _E164.fullmatch(s) else None


def validate_sender_id(sender_id: str | None, type: NumberType, country: str | None = None
                       ) -> str:
    """The canonical sender ID for `type`, or the N5 error explaining why not."""
    if sender_id is None or not sender_id.strip():
        raise MissingSenderId()
    raw = sender_id.strip()
    if type in LONG_CODE_TYPES:
        return _validate_long_code(raw, type, country)
    if type == "short_code":
        if not _SHORT_CODE.fullmatch(raw):
            raise InvalidSenderIdType(
                f"a short code is {SHORT_CODE_DIGITS[0]}–{SHORT_CODE_DIGITS[1]} digits "
                f"(no '+' or country code); got {raw!r}", number=raw)
        if country is None:
            raise CountryMismatch("a short code needs its country (ISO 3166 alpha-2)",
                                  number=raw)
        _country(country, raw)
        return raw
    if type == "alphanumeric":
        _validate_alphanumeric(raw)
        if country is not None:
            _country(country, raw)
        return raw
    raise InvalidSenderIdType(f"unknown number type {type!r}", number=raw)


def _validate_long_code(raw: str, type: str, country: str | None) -> str:
    e164 = canonical_e164(raw)
    if e164 is None:
        hint = " (that looks like a short code: import it as type short_code)" \
            if _SHORT_CODE.fullmatch(raw) else ""
        raise InvalidSenderIdType(
            f"a {type.replace('_', '-')} number must be in E.164 form, '+' and the country "
            f"code, e.g. +14155550100; got {raw!r}{hint}", number=raw)
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException as e:
        raise InvalidSenderIdType(f"{e164} is not a phone number: {e}", number=e164) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidSenderIdType(
            f"{e164} is not a valid number (no such range in its country's numbering plan)",
            number=e164)
    region = phonenumbers.region_code_for_number(parsed)
    want = _country(country, e164)
    if want is not None and not phonenumbers.is_valid_number_for_region(parsed, want):
        raise CountryMismatch(
            f"{e164} is a number of {region or 'a non-geographic range'}, not of {want}",
            number=e164)
    actual = phonenumbers.number_type(parsed)
    if actual != PhoneNumberType.UNKNOWN and actual not in _COMPATIBLE_TYPES[type]:
        raise InvalidSenderIdType(
            f"{e164} is a {_TYPE_NAMES.get(actual, 'different').replace('_', '-')} number "
            f"according to the numbering plan, not {type.replace('_', '-')}", number=e164)
    return e164


def _validate_alphanumeric(raw: str) -> None:
    from byosms import _core

    problem = None
    if len(raw) > ALPHANUMERIC_MAX:
        problem = f"is {len(raw)} characters; the limit is {ALPHANUMERIC_MAX}"
    elif not all(c.isalnum() or c == " " for c in raw) or not _core.can_encode(raw, "gsm"):
        problem = "may only hold GSM-7 letters, digits and spaces"
    elif not any(c.isalpha() for c in raw):
        problem = "needs at least one letter (all digits would read as a phone number)"
    if problem:
        raise InvalidSenderIdType(f"alphanumeric sender ID {raw!r} {problem}", number=raw)


def validate_keywords(type: NumberType, keywords: Keywords | None, *,
                      number: str | None = None) -> Keywords | None:
    """The keyword sets to store: None (the N3 defaults) for every type but
    short codes, whose sets (N4) are checked and normalised for display."""
    if type != "short_code":
        if keywords is not None:
            raise InvalidComplianceKeywords(
                "local, mobile, toll-free numbers and alphanumeric sender IDs use the default "
                "keywords and replies (N3); only short codes take their own", number=number)
        return None
    if keywords is None:
        raise MissingComplianceKeywords(
            "a short code needs its help, opt-out and opt-in keywords and reply messages",
            number=number)
    missing = [name for name in ("help", "opt_out", "opt_in")
               if not any(w.strip() for w in getattr(keywords, name))]
    missing += [name for name in ("help_reply", "opt_out_reply", "opt_in_reply")
                if not getattr(keywords, name).strip()]
    if missing:
        raise MissingComplianceKeywords(
            f"a short code needs its help, opt-out and opt-in keywords and reply messages; "
            f"missing: {', '.join(missing)}", number=number)
    seen: dict[str, str] = {}
    out: dict[str, tuple[str, ...]] = {}
    for name in ("help", "opt_out", "opt_in"):
        words: list[str] = []
        for w in getattr(keywords, name):
            n = normalize(w)
            if not n:
                raise InvalidComplianceKeywords(
                    f"{name} keyword {w!r} is empty once whitespace and trailing punctuation "
                    f"are dropped", number=number)
            if n in seen and seen[n] != name:
                raise InvalidComplianceKeywords(
                    f"keyword {display_keyword(w)!r} is in both the {seen[n]} and the {name} "
                    f"set", number=number)
            if n not in seen:
                seen[n] = name
                words.append(display_keyword(w))
        out[name] = tuple(words)
    return Keywords(
        help=out["help"], help_reply=keywords.help_reply.strip(),
        opt_out=out["opt_out"], opt_out_reply=keywords.opt_out_reply.strip(),
        opt_in=out["opt_in"], opt_in_reply=keywords.opt_in_reply.strip(),
    )


# --- import ----------------------------------------------------------------------------


class ImportRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One number to import (N1) into `integration`."""

    integration: str
    sender_id: str
    type: NumberType
    country: str | None = None
    display_name: str = ""
    keywords: Keywords | None = None


VendorCheckResult = Literal["found", "not_found", "webhook_wrong"]
#: A provider's read-only check that the number is usable at the vendor (N5, T3).
VendorCheck = Callable[[Integration, str, NumberType], Awaitable[VendorCheckResult]]
#: The runtime's check for any integration: the provider's NumberCheck, or
#: None when its provider has no number lookup.
IntegrationCheck = Callable[[Integration, str], Awaitable[NumberCheck | None]]


class NumberInventory:
    """Imports numbers into the store. One per process: the in-flight guard
    (N5 "provisioning already in progress") lives here."""

    def __init__(self, store: Any, *, vendor_checks: Mapping[str, VendorCheck] | None = None,
                 vendor_check: IntegrationCheck | None = None) -> None:
        """``vendor_check`` asks the integration's provider (the gateway's
        runtime); ``vendor_checks`` (per provider name) take precedence."""
        self._store = store
        self._vendor_checks: dict[str, VendorCheck] = dict(vendor_checks or {})
        self._vendor_check = vendor_check
        self._in_flight: set[str] = set()

    def set_vendor_check(self, provider: str, check: VendorCheck | None) -> None:
        """Register (or with None remove) the check for a provider; SMPP has none."""
        if check is None:
            self._vendor_checks.pop(provider, None)
        else:
            self._vendor_checks[provider] = check

    def in_progress(self, number: str) -> bool:
        return number in self._in_flight

    async def import_number(self, business_unit: str, request: ImportRequest) -> Number:
        """Validate and add one number for `business_unit` (the caller's unit:
        the integration must be one of its own). Raises a NumberImportError."""
        number = validate_sender_id(request.sender_id, request.type, request.country)
        keywords = validate_keywords(request.type, request.keywords, number=number)
        display_name = request.display_name.strip()
        if len(display_name) > DISPLAY_NAME_MAX:
            raise InvalidSenderIdType(
                f"display name is longer than {DISPLAY_NAME_MAX} characters", number=number)
        if number in self._in_flight:
            raise ProvisioningInProgress(
                f"an import of {number} is already in progress", number=number)
        self._in_flight.add(number)
        try:
            return await self._import(business_unit, request, number, keywords, display_name)
        finally:
            self._in_flight.discard(number)

    async def _import(self, business_unit: str, request: ImportRequest, number: str,
                      keywords: Keywords | None, display_name: str) -> Number:
        integ = await self._store.get_integration(request.integration)
        if integ is None or integ.state == "deleted" or integ.business_unit != business_unit:
            raise IntegrationNotFound(f"no integration {request.integration!r}", number=number)
        await self._check_not_provisioned(business_unit, number)
        check = self._vendor_checks.get(integ.provider)
        if check is None and self._vendor_check is not None:
            await self._ask_provider(integ, number)
        if check is not None:
            result = await check(integ, number, request.type)
            if result == "not_found":
                raise NotFoundAtVendor(
                    f"{number} is not in the {integ.provider} account of this integration",
                    number=number, reason="not_found")
            if result == "webhook_wrong":
                raise NotFoundAtVendor(
                    f"{number}'s inbound webhook at {integ.provider} does not point at this "
                    f"gateway's URL for the integration", number=number, reason="webhook_wrong")
            if result != "found":
                raise ValueError(f"vendor check returned {result!r}")
        record = Number(number, request.type, integ.id, integ.business_unit, display_name,
                        keywords)
        try:
            return await self._store.add_number(record)
        except Conflict:
            # Added by someone else between our check and our write (another
            # process): report it the way the check would have.
            await self._check_not_provisioned(business_unit, number)
            raise
        except NotFound:
            raise IntegrationNotFound(
                f"no integration {request.integration!r}", number=number) from None

    async def _ask_provider(self, integ: Integration, number: str) -> None:
        assert self._vendor_check is not None
        try:
            answer = await self._vendor_check(integ, number)
        except Exception as e:  # noqa: BLE001 - any failure to ask: nothing imported
            raise VendorUnavailable(
                f"could not check {number} at {integ.provider}: {e}", number=number) from None
        if answer is None or answer.status == "found":
            return
        if answer.status == "not_found":
            raise NotFoundAtVendor(answer.message or f"{number} is not in the {integ.provider} "
                                   f"account of this integration", number=number,
                                   reason="not_found")
        raise NotFoundAtVendor(answer.message or f"{number}'s inbound webhook at "
                               f"{integ.provider} does not point at {answer.expected_url}",
                               number=number, reason="webhook_wrong")

    async def _check_not_provisioned(self, business_unit: str, number: str) -> None:
        existing = await self._store.get_number(number)
        if existing is None:
            return
        if existing.business_unit != business_unit:
            raise AlreadyProvisioned(
                f"{number} is already provisioned in another organisation", number=number)
        raise AlreadyInInventory(
            f"{number} is already in the inventory (integration {existing.integration})",
            number=number)


def canonical_address(address: str) -> str:
    """An address from the wire in inventory form: "+" added to a bare
    international number (SMPP TON 1 addresses usually come without it);
    short codes (5–6 digits) and alphanumerics unchanged."""
    a = address.strip()
    if a.isdigit() and a.isascii() and len(a) > SHORT_CODE_DIGITS[1]:
        return "+" + a
    return a
