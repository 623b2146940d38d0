"""UDH parsing and reassembly of inbound concatenated messages (UDH and SAR):
out of order, duplicates, missing parts with expiry, eviction."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byosms import _core as core


def test_parse_udh_known_elements():
    sm = bytes([0x0B, 0x00, 0x03, 0x2A, 0x03, 0x02, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0]) + b"body"
    udh = core.parse_udh(sm)
    assert udh.concat == (0x2A, 3, 2)
    assert udh.reference_bits == 8
    assert udh.ports == (2948, 9200)
    assert udh.header_length == 12
    assert udh.payload == b"body"
    assert udh.elements == [(0x00, bytes([0x2A, 3, 2])), (0x05, bytes([0x0B, 0x84, 0x23, 0xF0]))]
    udh = core.parse_udh(bytes([0x0C, 0x08, 0x04, 0xBE, 0xEF, 0x02, 0x01, 0x24, 0x01, 0x01, 0x25, 0x01, 0x03]))
    assert udh.concat == (0xBEEF, 2, 1)
    assert udh.reference_bits == 16
    assert (udh.national_single, udh.national_locking) == (1, 3)
    assert udh.payload == b""
    udh = core.parse_udh(bytes([0x04, 0x04, 0x02, 0x10, 0x20, 0x41]))
    assert udh.ports == (0x10, 0x20)


def test_parse_udh_keeps_unknown_elements():
    udh = core.parse_udh(bytes([0x07, 0x70, 0x00, 0x0A, 0x03, 0x00, 0x01, 0x02, 0x99]))
    assert udh.elements == [(0x70, b""), (0x0A, bytes([0, 1, 2]))]
    assert udh.concat is None and udh.ports is None
    assert udh.payload == b"\x99"


@pytest.mark.parametrize(
    "sm",
    [
        b"",
        bytes([5, 0, 3, 1]),          # UDHL past the end
        bytes([3, 0, 3, 1]),          # IE data past the UDH
        bytes([1, 0]),                # truncated IE header
        bytes([4, 0, 2, 1, 1]),       # concat 8 with length 2
        bytes([5, 8, 3, 1, 1, 1]),    # concat 16 with length 3
        bytes([3, 0x24, 2, 1, 1]),    # national IE with length 2, past the UDH
        bytes([4, 0x25, 2, 1, 1]),    # national IE with length 2
        bytes([3, 0x04, 1, 1]),       # 8-bit ports with length 1
    ],
)
def test_malformed_udh_is_an_error(sm):
    with pytest.raises(core.SmppError) as e:
        core.parse_udh(sm)
    assert e.value.field == "short_message"


@given(st.binary(max_size=64))
def test_parse_udh_never_panics(sm):
    try:
        udh = core.parse_udh(sm)
    except core.SmppError:
        return
    assert udh.header_length == sm[0] + 1
    assert udh.payload == sm[udh.header_length:]


def split_message(text, concat="udh8", reference=7, **kw):
    return core.segment(text, concat=concat, reference=reference, **kw)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(["udh8", "udh16"]), st.integers(0, 255))
def test_any_order_reassembles(data, concat, reference):
    text = data.draw(st.sampled_from(["Hello world! " * 40, "Привет ☃ 😀 " * 30, "€[]" * 150]))
    seg = split_message(text, concat, reference)
    assert seg.count > 1
    order = data.draw(st.permutations(range(seg.count)))
    r = core.Reassembler()
    results = [r.add_short_message("+15550001", "12345", seg.parts[i], i) for i in order]
    assert [s for s, _ in results[:-1]] == ["pending"] * (seg.count - 1)
    status, parts = results[-1]
    assert status == "complete"
    assert parts == seg.parts
    assert core.Chain().decode_parts(parts, seg.dcs, udhi=True) == text
    assert r.pending == 0


def test_duplicates():
    seg = split_message("x" * 400)
    r = core.Reassembler()
    assert r.add_short_message("a", "b", seg.parts[0], 0) == ("pending", None)
    assert r.add_short_message("a", "b", seg.parts[0], 1) == ("duplicate", None)
    assert r.add_short_message("a", "b", seg.parts[2], 2) == ("pending", None)
    status, parts = r.add_short_message("a", "b", seg.parts[1], 3)
    assert status == "complete" and parts == seg.parts
    # A part the SMSC repeats after completion is a duplicate, not a new group.
    assert r.add_short_message("a", "b", seg.parts[1], 4) == ("duplicate", None)
    assert r.pending == 0
    # Once the completed message is older than the timeout, the key is free again.
    assert r.expire(10_000, 5_000) == []
    assert r.add_short_message("a", "b", seg.parts[1], 10_001) == ("pending", None)


def test_keys_separate_sources_destinations_and_references():
    r = core.Reassembler()
    assert r.add("a", "b", 1, 2, 1, b"a1", 0)[0] == "pending"
    assert r.add("c", "b", 1, 2, 1, b"c1", 0)[0] == "pending"
    assert r.add("a", "d", 1, 2, 1, b"d1", 0)[0] == "pending"
    assert r.add("a", "b", 2, 2, 1, b"r1", 0)[0] == "pending"
    assert r.add("a", "b", 1, 3, 1, b"t1", 0)[0] == "pending"
    assert r.pending == 5
    assert r.add("a", "b", 1, 2, 2, b"a2", 1) == ("complete", [b"a1", b"a2"])
    assert r.pending == 4


@pytest.mark.parametrize(
    "reference,total,seq",
    [(1, 3, 0), (1, 3, 4), (1, 0, 1), (1, 0, 0), (70000, 2, 1), (1, 256, 1), (1, 2, -1)],
)
def test_invalid_parts(reference, total, seq):
    r = core.Reassembler()
    assert r.add("a", "b", reference, total, seq, b"x", 0) == ("invalid", None)
    assert r.pending == 0


def test_single_part_is_complete():
    r = core.Reassembler()
    assert r.add("a", "b", 9, 1, 1, b"only", 0) == ("complete", [b"only"])
    sm = bytes([3, 0x24, 1, 1]) + b"hi"  # a UDH without concatenation
    assert r.add_short_message("a", "b", sm, 0) == ("complete", [sm])
    with pytest.raises(core.SmppError):
        r.add_short_message("a", "b", bytes([9, 0]), 0)


def test_missing_parts_expire():
    r = core.Reassembler()
    r.add("+1555", "777", 0x1234, 4, 1, b"p1", 1_000)
    r.add("+1555", "777", 0x1234, 4, 3, b"p3", 2_000)
    r.add("+1666", "777", 5, 2, 2, b"q2", 5_000)
    assert r.expire(30_999, 30_000) == []
    expired = r.expire(31_000, 30_000)
    assert len(expired) == 1
    e = expired[0]
    assert (e.source, e.destination, e.reference, e.total) == ("+1555", "777", 0x1234, 4)
    assert (e.missing, e.received, e.reason, e.first_ms) == ([2, 4], [1, 3], "timeout", 1_000)
    assert e.parts == [b"p1", None, b"p3", None]
    assert r.pending == 1
    assert [x.missing for x in r.expire(35_000, 30_000)] == [[1]]
    assert r.pending == 0
    # A late part starts a new group rather than resurrecting the old one.
    assert r.add("+1555", "777", 0x1234, 4, 2, b"p2", 40_000) == ("pending", None)


def test_sar_parts_reassemble():
    seg = core.segment("SAR " * 100, concat="sar", reference=0xBEEF)
    assert not seg.udhi
    r = core.Reassembler()
    out = None
    for (ref, total, seq), part in reversed(list(zip(seg.sar, seg.parts))):
        out = r.add("src", "dst", ref, total, seq, part, 0)
    assert out[0] == "complete"
    assert core.Chain().decode_parts(out[1], seg.dcs) == "SAR " * 100


def test_eviction_reports_oldest():
    r = core.Reassembler(max_pending=2)
    assert r.max_pending == 2
    r.add("a", "b", 1, 2, 1, b"1", 10)
    r.add("a", "b", 2, 2, 1, b"2", 20)
    r.add("a", "b", 3, 2, 1, b"3", 30)
    r.add("a", "b", 4, 2, 1, b"4", 40)
    assert r.pending == 2
    evicted = r.expire(41, 1_000_000)
    assert [(e.reference, e.reason, e.missing) for e in evicted] == [(1, "evicted", [2]), (2, "evicted", [2])]
    assert r.expire(42, 1_000_000) == []
    # The survivors still complete.
    assert r.add("a", "b", 4, 2, 2, b"4b", 50) == ("complete", [b"4", b"4b"])
    with pytest.raises(ValueError):
        core.Reassembler(max_pending=0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4), st.integers(0, 4)), max_size=60))
def test_random_streams_keep_invariants(ops):
    r = core.Reassembler(max_pending=3)
    for t, (ref, total, seq) in enumerate(ops):
        status, parts = r.add("s", "d", ref, total, seq, bytes([ref, seq]), t)
        if total == 0 or seq == 0 or seq > total:
            assert status == "invalid"
            continue
        assert status in {"complete", "pending", "duplicate"}
        if status == "complete":
            assert parts == [bytes([ref, i]) for i in range(1, total + 1)]
        assert r.pending <= 3
    for e in r.expire(10**9, 1):
        assert sorted(e.missing + e.received) == list(range(1, e.total + 1))
    assert r.pending == 0
