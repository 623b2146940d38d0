"""The accept path's E.164 check (gateway/e164.py) gives phonenumbers' own
answer: random numbers over every country code, with leading zeros,
national prefixes, too short and too long national parts, unknown codes."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from byosms.gateway.e164 import possible_e164, possible_e164_reference

country_codes = st.one_of(st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
                          st.integers(0, 999))
national = st.text(alphabet="0123456789", max_size=18)


@settings(max_examples=3000)
@given(cc=country_codes, nsn=national)
def test_same_answer_as_phonenumbers(cc, nsn):
    to = f"+{cc}{nsn}"
    assert possible_e164(to) == possible_e164_reference(to)


@given(st.text(max_size=20))
def test_anything_else(to):
    assert possible_e164(to) == (to.startswith("+") and to[1:].isdigit() and to[1:].isascii()
                                 and possible_e164_reference(to))


def test_known_numbers():
    assert possible_e164("+14155550123") and possible_e164("+4915112345678")
    assert possible_e164("+447700900123") and possible_e164("+390612345678")  # Rome: 0 kept
    assert not possible_e164("+4903012345678")  # a trunk 0 after the country code
    assert not possible_e164("4915112345678") and not possible_e164("+49 151 12345678")
    assert not possible_e164("+1415") and not possible_e164("+٤٩١٥١١٢٣٤٥٦٧٨")
