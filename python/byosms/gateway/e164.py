"""Is a recipient an E.164 number that is possible for its country?

The reference is phonenumbers: `parse`, `is_possible_number`, and formatting
back to E.164 must give the input (so no national prefix, no stray digits).
`parse` costs ~13 us, most of the accept path's work for a new recipient;
for a '+digits' string it does little that matters here: find the country
code, strip a national prefix if one is there, check the length. Whenever
parse could not strip anything — no national prefix, no leading zero, a
length parse takes as it is — `is_possible_number` looks at the national
number's length only and E.164 formatting gives the input back, so the
answer is a set lookup (~1 us in all): the lengths phonenumbers calls possible
for the country code, asked of phonenumbers once per code. Everything else
goes to the reference. tests/test_e164.py holds the two to the same answers
on random numbers of every country code.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat

_COUNTRY_CODES = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
_E164 = PhoneNumberFormat.E164
#: Per country code: a pattern for what parse might take as a national
#: prefix (None: the country has none).
_prefixes: dict[int, re.Pattern[str] | None] = {}
#: Per country code: the national number lengths phonenumbers calls possible
#: (for a national number without leading zero).
_lengths: dict[int, frozenset[int]] = {}


def possible_e164_reference(to: str) -> bool:
    """phonenumbers' own answer (slow)."""
    try:
        parsed = phonenumbers.parse(to, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(parsed) and \
        phonenumbers.format_number(parsed, _E164) == to


def _prefix(cc: int) -> re.Pattern[str] | None:
    try:
        return _prefixes[cc]
    except KeyError:
        pass
    md = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        cc, phonenumbers.region_code_for_country_code(cc))
    patterns = []
    if md is not None:
        if md.national_prefix_for_parsing:
            patterns.append(md.national_prefix_for_parsing)
        if md.national_prefix:
            patterns.append(re.escape(md.national_prefix))
    pattern = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
    _prefixes[cc] = pattern
    return pattern


def _possible_lengths(cc: int) -> frozenset[int]:
    try:
        return _lengths[cc]
    except KeyError:
        pass
    lengths = frozenset(
        n for n in range(2, 16)
        if phonenumbers.is_possible_number(
            PhoneNumber(country_code=cc, national_number=int("1" * n)))
    )
    _lengths[cc] = lengths
    return lengths


def possible_e164(to: str) -> bool:
    """'+', country code and national number, possible for that country."""
    digits = to[1:]
    if not to.startswith("+") or not digits.isdigit() or not digits.isascii():
        return False
    if digits[:1] == "0":  # no country code starts with 0
        return possible_e164_reference(to)
    for n in (1, 2, 3):
        if int(digits[:n]) in _COUNTRY_CODES:
            break
    else:
        return possible_e164_reference(to)
    cc = int(digits[:n])
    national = digits[n:]
    prefix = _prefix(cc)
    if len(national) < 2 or len(national) > 15 or national[0] == "0" or (
            prefix is not None and prefix.match(national)):
        return possible_e164_reference(to)
    return len(national) in _possible_lengths(cc)
