"""Pure parts of the SMPP engine: S13 roll-up, S2/S3 addresses, receipt
correlation bookkeeping, MO assembly without sockets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from byosms import _core
from byosms._core import Chain, Pdu, Tlv
from byosms.providers.smpp.correlation import MessageTrack, ReceiptCorrelator, TrackedSegment
from byosms.providers.smpp.inbound import MoAssembler
from byosms.providers.smpp.messages import (
    DELIVERED,
    ENROUTE,
    EXPIRED,
    FAILED_STATES,
    REJECTED,
    UNDELIVERABLE,
    AddressError,
    inbound_address,
    outbound_destination,
    outbound_source,
    roll_up,
)

STATES = st.one_of(st.none(), st.integers(0, 9))


# --- roll-up (S13) -------------------------------------------------------------


def test_roll_up_examples() -> None:
    assert roll_up([DELIVERED, DELIVERED, DELIVERED]) == "delivered"
    assert roll_up([DELIVERED, None, DELIVERED]) == "en_route"
    assert roll_up([DELIVERED, ENROUTE]) == "en_route"
    assert roll_up([DELIVERED, UNDELIVERABLE, None]) == "failed"
    assert roll_up([EXPIRED]) == "failed"
    assert roll_up([REJECTED, DELIVERED]) == "failed"
    assert roll_up([]) == "en_route"


@given(st.lists(STATES, min_size=1, max_size=10))
def test_roll_up_properties(states: list[int | None]) -> None:
    state = roll_up(states)
    assert (state == "delivered") == all(s == DELIVERED for s in states)
    assert (state == "failed") == any(s in FAILED_STATES for s in states)
    # Order of the segments never matters.
    assert roll_up(list(reversed(states))) == state


# --- addresses (S2, S3) ------------------------------------------------------------


@given(st.lists(st.one_of(st.none(), st.integers(0, 9)), min_size=1, max_size=4))
def test_track_state_is_roll_up(states: list[int | None]) -> None:
    # MessageTrack takes a shortcut for one segment; it must say what roll_up says.
    track = MessageTrack(len(states))
    track.states[:] = states
    assert track.state() == roll_up(states)


def test_outbound_source_rules() -> None:
    assert outbound_source("+4915112345678", plus_prefix=False, ton=1, npi=1) == ("4915112345678", 1, 1)
    assert outbound_source("+4915112345678", plus_prefix=True, ton=1, npi=1) == ("+4915112345678", 1, 1)
    # Alphanumeric: TON 5 / NPI 0 whatever the configuration says.
    assert outbound_source("ACME", plus_prefix=False, ton=1, npi=1) == ("ACME", 5, 0)
    assert outbound_source("Acme Shop", plus_prefix=True, ton=0, npi=0) == ("Acme Shop", 5, 0)
    # Short codes: as is, configured TON/NPI.
    assert outbound_source("12345", plus_prefix=False, ton=3, npi=0) == ("12345", 3, 0)
    for bad in ("", "ThisIsTooLongSender", "+12ab", "Ümlaut", "+" + "1" * 16):
        with pytest.raises(AddressError):
            outbound_source(bad, plus_prefix=False, ton=0, npi=0)


def test_outbound_destination_rules() -> None:
    assert outbound_destination("+33612345678", ton=1, npi=1) == ("33612345678", 1, 1)
    for bad in ("33612345678", "+0123", "+1", "ACME", "+" + "1" * 16):
        with pytest.raises(AddressError):
            outbound_destination(bad, ton=1, npi=1)


@pytest.mark.parametrize(
    ("addr", "ton", "plus", "region", "expected"),
    [
        ("4915112345678", 1, False, None, "+4915112345678"),  # TON 1 international
        ("004915112345678", 1, False, None, "+4915112345678"),
        ("+4915112345678", 0, True, None, "+4915112345678"),  # vendor prefixes
        ("4915112345678", 0, False, None, "+4915112345678"),  # vendor never prefixes
        ("4915112345678", 0, True, None, "4915112345678"),  # should have had '+': leave it
        ("004915112345678", 0, True, None, "+4915112345678"),
        ("ACME", 5, False, None, "ACME"),  # alphanumeric kept
        ("Shop24", 0, False, None, "Shop24"),
        ("12345", 0, False, None, "12345"),  # short code
        ("015112345678", 2, False, "DE", "+4915112345678"),  # national, read with region
        ("015112345678", 2, False, None, "015112345678"),  # no region: as sent
        ("0612345678", 0, False, "FR", "+33612345678"),
    ],
)
def test_inbound_address(addr: str, ton: int, plus: bool, region: str | None, expected: str) -> None:
    assert inbound_address(addr, ton, 1, plus_prefix=plus, default_region=region) == expected


@given(st.from_regex(r"[1-9][0-9]{6,14}", fullmatch=True))
def test_international_round_trip(digits: str) -> None:
    e164 = "+" + digits
    sent, _, _ = outbound_destination(e164, ton=1, npi=1)
    assert inbound_address(sent, 1, 1, plus_prefix=False) == e164
    src, _, _ = outbound_source(e164, plus_prefix=True, ton=1, npi=1)
    assert inbound_address(src, 0, 1, plus_prefix=True) == e164


# --- correlation -----------------------------------------------------------------


def seg(mid: str, n: int = 1, count: int = 1, track: MessageTrack | None = None) -> TrackedSegment:
    return TrackedSegment(mid, f"{mid}:{n}", n, count, track or MessageTrack(count))


def test_exact_then_hex_decimal() -> None:
    c = ReceiptCorrelator()
    a = seg("a")
    c.register(a, "1e240")  # hex in submit_sm_resp
    assert c.lookup("1e240") is a
    assert c.lookup("123456") is a  # decimal in the receipt
    b = seg("b")
    c.register(b, "123456")  # an exact id wins over the '#' key of another
    assert c.lookup("123456") is b
    c.forget(b)
    assert c.lookup("123456") is a
    c.forget(a)
    assert c.lookup("1e240") is None and len(c) == 0


def test_early_receipt_matched_on_register() -> None:
    c = ReceiptCorrelator()
    got: list[TrackedSegment] = []
    held = c.hold("255", got.append)  # decimal receipt first
    assert held is not None and c.held == 1
    s = seg("m")
    early = c.register(s, "ff")  # hex response later
    assert early is held and got == [s] and held.segment is s
    assert c.held == 0


def test_bounds() -> None:
    c = ReceiptCorrelator(max_tracked=2, max_early=1)
    segs = [seg(str(i)) for i in range(3)]
    for i, s in enumerate(segs):
        c.register(s, f"id{i}")
    assert len(c) == 2 and c.evicted == 1 and c.lookup("id0") is None
    assert c.hold("x1", lambda s: None) is not None
    assert c.hold("x2", lambda s: None) is None


def test_track_rolls_up() -> None:
    track = MessageTrack(3)
    s = [seg("m", n, 3, track) for n in (1, 2, 3)]
    assert s[0].set_state(DELIVERED) == "en_route"
    assert s[2].set_state(DELIVERED) == "en_route"
    assert s[1].set_state(DELIVERED) == "delivered"
    assert s[1].fail_submit() == "failed"


# --- MO assembly ---------------------------------------------------------------------


def deliver(sm: bytes, dcs: int = 0, esm: int = 0, tlvs: list[Tlv] | None = None, src: str = "4915112345678") -> Pdu:
    kw = {"tlvs": tlvs} if tlvs else {}
    return Pdu(
        "deliver_sm", 1, source_addr=src, source_addr_ton=1, source_addr_npi=1,
        destination_addr="12345", esm_class=esm, data_coding=dcs, short_message=sm, **kw,
    )


@pytest.mark.parametrize("concat", ["udh8", "udh16", "sar"])
def test_mo_reassembly_out_of_order(concat: str) -> None:
    text = "Grüße aus Köln — " * 12  # needs UCS-2 (the dash)
    seg_ = _core.segment(text, Chain(), concat=concat, reference=300 if concat != "udh8" else 30)
    assert seg_.count > 2
    a = MoAssembler(Chain())
    pdus = []
    for i, p in enumerate(seg_.parts):
        tlvs = None
        if seg_.sar:
            ref, total, n = seg_.sar[i]
            tlvs = [Tlv(_core.TLV_SAR_MSG_REF_NUM, ref.to_bytes(2, "big")),
                    Tlv(_core.TLV_SAR_TOTAL_SEGMENTS, bytes([total])),
                    Tlv(_core.TLV_SAR_SEGMENT_SEQNUM, bytes([n]))]
        pdus.append(deliver(p, seg_.dcs, 0x40 if seg_.udhi else 0, tlvs))
    out = [a.add(p, 0) for p in reversed(pdus)]
    assert out[:-1] == [None] * (len(pdus) - 1)
    msg = out[-1]
    assert msg is not None and msg.text == text and not msg.incomplete
    assert msg.source == "+4915112345678" and msg.destination == "12345"
    assert msg.parts == msg.total == seg_.count
    assert a.pending == 0


def test_mo_missing_part_expires_incomplete() -> None:
    text = "abcdefghij" * 40
    seg_ = _core.segment(text, Chain(), concat="udh8", reference=9)
    a = MoAssembler(Chain(), timeout=10)
    assert a.add(deliver(seg_.parts[0], seg_.dcs, 0x40), 1000) is None
    assert a.add(deliver(seg_.parts[2], seg_.dcs, 0x40), 2000) is None
    assert a.expire(10_999) == []
    (msg,) = a.expire(11_000)
    assert msg.incomplete and msg.missing == (2,) and msg.parts == 2 and msg.total == 3
    # What arrived, in order: part 1's 153 characters then part 3's.
    assert msg.text == text[:153] + text[306:]
    assert a.pending == 0


def test_mo_single_chain_wins() -> None:
    # DCS 3 is Latin-1 in the default chain.
    a = MoAssembler(Chain())
    msg = a.add(deliver("café".encode("latin-1"), dcs=3), 0)
    assert msg is not None and msg.text == "café"
    # A custom chain reads DCS 0 as Latin-1 instead of GSM 03.38.
    b = MoAssembler(Chain([(0, "ISO-8859-1"), (8, "ucs2")]))
    msg = b.add(deliver("é".encode("latin-1")), 0)
    assert msg is not None and msg.text == "é"
