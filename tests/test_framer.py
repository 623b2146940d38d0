"""Stream framer: any split of the byte stream gives the same PDUs; garbage
gives a fatal PduError (then SmppError) and never a crash; a PDU whose body
does not decode gives a non-fatal PduError and the stream goes on."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import byosms._core as c
from byosms._core import Framer, Pdu, PduError, SmppError
from pdu_strategies import pdus


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(x, len(data)) for x in cuts})
    out, prev = [], 0
    for p in points + [len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


def feed_all(framer: Framer, chunks) -> list:
    items = []
    for ch in chunks:
        items.extend(framer.feed(ch))
    return items


@settings(max_examples=150, deadline=None)
@given(st.lists(pdus(), min_size=1, max_size=12), st.lists(st.integers(0, 5000), max_size=20))
def test_random_splits_give_the_same_pdus(ps, cuts):
    stream = b"".join(p.encode() for p in ps)
    f = Framer()
    assert feed_all(f, split(stream, cuts)) == ps
    assert f.buffered == b""
    assert not f.failed


@settings(max_examples=30, deadline=None)
@given(st.lists(pdus(), min_size=1, max_size=5))
def test_one_byte_at_a_time(ps):
    stream = b"".join(p.encode() for p in ps)
    f = Framer()
    got = []
    for i in range(len(stream)):
        got.extend(f.feed(stream[i:i + 1]))
        # Nothing comes out before its last octet arrived.
        assert len(f.buffered) < len(stream)
    assert got == ps


def test_many_pdus_in_one_read_and_buffering():
    ps = [Pdu("enquire_link", i) for i in range(1000)]
    stream = b"".join(p.encode() for p in ps)
    f = Framer()
    assert f.feed(stream + b"\x00\x00") == ps
    assert f.buffered == b"\x00\x00"
    assert f.feed(b"") == []
    assert f.feed(c.encode_enquire_link(5)[2:]) == [Pdu("enquire_link", 5)]
    assert f.buffered == b""


def test_feed_and_decode_take_any_buffer():
    raw = c.encode_submit_sm(1, "a", "b", b"hello")
    want = c.decode(raw)
    for kind in (bytearray, memoryview, lambda b: memoryview(bytearray(b))):
        assert Framer().feed(kind(raw)) == [want]
        assert c.decode(kind(raw)) == want
    with pytest.raises(TypeError):
        Framer().feed("text")
    with pytest.raises(TypeError):
        c.decode(12)


def test_partial_pdu_waits():
    raw = c.encode_submit_sm(1, "a", "b", b"hello")
    f = Framer()
    assert f.feed(raw[:-1]) == []
    assert f.buffered == raw[:-1]
    assert f.feed(raw[-1:]) == [c.decode(raw)]


@pytest.mark.parametrize("length", [0, 1, 15])
def test_short_command_length_is_fatal(length):
    good = c.encode_enquire_link(1)
    bad = struct.pack(">IIII", length, 4, 0, 77)
    f = Framer()
    items = f.feed(good + bad)
    assert items[0] == Pdu("enquire_link", 1)
    err = items[1]
    assert isinstance(err, PduError)
    assert err.fatal
    assert (err.command_status, err.field) == (c.ESME_RINVCMDLEN, "command_length")
    assert (err.command_id, err.sequence_number, err.command_name) == (4, 77, "submit_sm")
    assert len(items) == 2
    assert f.failed
    with pytest.raises(SmppError) as e:
        f.feed(good)
    assert e.value.command_status == c.ESME_RINVCMDLEN
    assert "PduError" in repr(err) and "ESME_RINVCMDLEN" in repr(err)


def test_command_length_over_the_maximum():
    assert Framer().max_command_length == c.DEFAULT_MAX_COMMAND_LENGTH == 65536
    big = Pdu("data_sm", 1, tlvs=[c.Tlv(c.TLV_MESSAGE_PAYLOAD, b"x" * 2000)]).encode()
    assert Framer(4096).feed(big) == [c.decode(big)]
    f = Framer(1024)
    # Known as soon as the four length octets are in: no waiting for the body.
    (err,) = f.feed(big[:6])
    assert err.fatal and err.command_status == c.ESME_RINVCMDLEN
    assert err.sequence_number is None and err.command_id is None
    with pytest.raises(SmppError):
        f.feed(b"")


def test_bad_bodies_are_not_fatal():
    # Unknown command id, a too-long source_addr, a truncated TLV, then a good PDU.
    unknown = struct.pack(">IIII", 16, 0x77, 0, 5)
    body = b"\0\1\1" + b"9" * 30 + b"\0"
    long_src = struct.pack(">IIII", 16 + len(body), 4, 0, 6) + body
    good = Pdu("deliver_sm", 8, short_message=b"x").encode()
    trunc = bytearray(good + b"\x14\x00\x00")
    trunc[:4] = struct.pack(">I", len(trunc))
    trunc[12:16] = struct.pack(">I", 7)
    stream = unknown + long_src + bytes(trunc) + good
    for chunks in ([stream], [stream[i:i + 1] for i in range(len(stream))]):
        f = Framer()
        items = feed_all(f, chunks)
        assert [type(i) for i in items] == [PduError, PduError, PduError, Pdu]
        a, b, t, p = items
        assert (a.fatal, a.command_id, a.sequence_number, a.command_status) == (False, 0x77, 5, c.ESME_RINVCMDID)
        assert a.command_name is None
        assert (b.fatal, b.command_name, b.sequence_number, b.command_status, b.field) == (
            False, "submit_sm", 6, c.ESME_RINVSRCADR, "source_addr")
        assert (t.fatal, t.sequence_number, t.command_status) == (False, 7, c.ESME_RINVOPTPARSTREAM)
        assert p.sequence_number == 8
        assert not f.failed


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=10), st.integers(16, 70000))
def test_garbage_never_crashes(data, cuts, max_len):
    f = Framer(max_len)
    seen_fatal = False
    for ch in split(data, cuts):
        try:
            items = f.feed(ch)
        except SmppError as e:
            assert seen_fatal and e.command_status == c.ESME_RINVCMDLEN
            continue
        assert not seen_fatal
        for i, item in enumerate(items):
            assert isinstance(item, (Pdu, PduError))
            if isinstance(item, PduError) and item.fatal:
                assert i == len(items) - 1
                seen_fatal = True
            if isinstance(item, Pdu):
                assert c.decode(item.encode()) == item
    assert f.failed == seen_fatal


@settings(max_examples=150, deadline=None)
@given(st.lists(pdus(), min_size=1, max_size=6), st.data())
def test_corrupted_streams_keep_order_and_never_crash(ps, data):
    stream = bytearray(b"".join(p.encode() for p in ps))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(stream) - 1))
        stream[i] = data.draw(st.integers(0, 255))
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    ref = Framer(70000).feed(bytes(stream))
    pieces = Framer(70000)
    got = []
    for ch in split(bytes(stream), cuts):
        try:
            got.extend(pieces.feed(ch))
        except SmppError:
            assert pieces.failed
            break
    # The same frames whatever the split (fatal errors may see less of the header).
    def key(x):
        if isinstance(x, Pdu):
            return x
        return ("err", x.fatal, x.command_status, x.field) if x.fatal else (
            "err", x.command_id, x.sequence_number, x.command_status, x.field)
    assert [key(x) for x in got] == [key(x) for x in ref]
