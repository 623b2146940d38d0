"""Segmentation: 3GPP TS 23.040 limits at every boundary, checked against an
independent Python model of the split, and joining the parts gives the text
back."""

import gsm0338  # noqa: F401  (registers the 'gsm03.38' codec)
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from byosms import _core as core

ESC = 0x1B
LATIN1 = core.Chain([(3, "ISO-8859-1")])

# (single-part limit, {concat: per-part limit}) in units (TS 23.040 9.2.3.24).
LIMITS = {
    "gsm7": (160, {"udh8": 153, "udh16": 152, "sar": 153}),
    "8bit": (140, {"udh8": 134, "udh16": 133, "sar": 134}),
    "ucs2": (70, {"udh8": 67, "udh16": 66, "sar": 67}),
}


def costs(text: str, encoding: str) -> list[int]:
    if encoding == "gsm7":
        return [len(c.encode("gsm03.38")) for c in text]
    if encoding == "ucs2":
        return [len(c.encode("utf-16-be")) // 2 for c in text]
    return [1] * len(text)


def model_split(text: str, encoding: str, concat: str) -> list[int]:
    """Units per part: greedy, a character never split."""
    cs = costs(text, encoding)
    single, multi = LIMITS[encoding]
    if sum(cs) <= single:
        return [sum(cs)]
    per = multi[concat]
    parts, cur = [], 0
    for c in cs:
        if cur + c > per:
            parts.append(cur)
            cur = 0
        cur += c
    parts.append(cur)
    return parts


def payload_units(seg, part: bytes) -> int:
    body = core.parse_udh(part).payload if seg.udhi else part
    return len(body) // 2 if seg.encoding == "ucs2" else len(body)


@pytest.mark.parametrize(
    "text,chain,concat,count",
    [
        ("a" * 160, None, "udh8", 1),
        ("a" * 161, None, "udh8", 2),
        ("a" * 306, None, "udh8", 2),
        ("a" * 307, None, "udh8", 3),
        ("a" * 459, None, "udh8", 3),
        ("a" * 460, None, "udh8", 4),
        ("a" * 304, None, "udh16", 2),
        ("a" * 305, None, "udh16", 3),
        ("a" * 306, None, "sar", 2),
        ("a" * 307, None, "sar", 3),
        ("€" * 80, None, "udh8", 1),
        ("€" * 80 + "a", None, "udh8", 2),
        ("a" * 159 + "€", None, "udh8", 2),
        ("é" * 140, LATIN1, "udh8", 1),
        ("é" * 141, LATIN1, "udh8", 2),
        ("é" * 268, LATIN1, "udh8", 2),
        ("é" * 269, LATIN1, "udh8", 3),
        ("é" * 266, LATIN1, "udh16", 2),
        ("é" * 267, LATIN1, "udh16", 3),
        ("☃" * 70, None, "udh8", 1),
        ("☃" * 71, None, "udh8", 2),
        ("☃" * 134, None, "udh8", 2),
        ("☃" * 135, None, "udh8", 3),
        ("☃" * 132, None, "udh16", 2),
        ("☃" * 133, None, "udh16", 3),
        ("😀" * 35, None, "udh8", 1),
        ("😀" * 35 + "a", None, "udh8", 2),
        ("😀" * 67, None, "udh8", 3),  # 33 pairs fit in 67 units, never 33.5
    ],
)
def test_boundaries(text, chain, concat, count):
    seg = core.segment(text, chain, concat=concat, reference=42)
    assert seg.count == count == len(seg.parts)
    sizes = [payload_units(seg, p) for p in seg.parts]
    assert sizes == model_split(text, seg.encoding, concat)
    assert seg.units == sum(costs(text, seg.encoding))
    assert (chain or core.Chain()).decode_parts(seg.parts, seg.dcs, udhi=seg.udhi) == text


def test_escape_at_boundary_moves_whole():
    text = "a" * 152 + "€" + "b" * 10
    seg = core.segment(text, reference=1)
    first, second = (core.parse_udh(p).payload for p in seg.parts)
    assert first == b"a" * 152  # the 153rd septet would be a lone ESC
    assert second[:2] == bytes([ESC, 0x65])
    assert seg.remaining == 153 - 12


def test_surrogate_pair_at_boundary_moves_whole():
    text = "☃" * 66 + "😀" + "z" * 5
    seg = core.segment(text)
    first, second = (core.parse_udh(p).payload for p in seg.parts)
    assert len(first) == 66 * 2
    assert second == "😀zzzzz".encode("utf-16-be")
    for p in seg.parts:
        assert "\ufffd" not in core.decode_text(core.parse_udh(p).payload, "utf-16be")


def test_udh_layout_and_flags():
    seg = core.segment("x" * 200, reference=0xAB)
    assert seg.udhi and seg.sar is None
    assert [p[:6] for p in seg.parts] == [bytes([5, 0, 3, 0xAB, 2, 1]), bytes([5, 0, 3, 0xAB, 2, 2])]
    seg = core.segment("x" * 400, concat="udh16", reference=0x1234)
    assert [p[:7] for p in seg.parts] == [bytes([6, 8, 4, 0x12, 0x34, 3, i]) for i in (1, 2, 3)]
    assert [core.parse_udh(p).reference_bits for p in seg.parts] == [16] * 3
    seg = core.segment("x" * 400, concat="sar", reference=0x1234)
    assert not seg.udhi
    assert seg.sar == [(0x1234, 3, 1), (0x1234, 3, 2), (0x1234, 3, 3)]
    assert b"".join(seg.parts) == b"x" * 400
    single = core.segment("short", concat="sar")
    assert single.sar is None and not single.udhi and single.parts == [b"short"]


def test_payload_is_one_part():
    text = "payload " * 500
    seg = core.segment(text, concat="payload")
    assert seg.count == 1 and not seg.udhi
    assert seg.parts[0] == core.encode_text(text, "gsm")
    seg = core.segment("😀" * 1000, concat="payload")
    assert seg.parts[0] == ("😀" * 1000).encode("utf-16-be")
    with pytest.raises(core.SmppError) as e:
        core.segment("a" * 65536, concat="payload")
    assert e.value.field == "message_payload"


def test_too_many_parts():
    assert core.segment("a" * (153 * 255)).count == 255
    with pytest.raises(core.SmppError) as e:
        core.segment("a" * (153 * 255 + 1))
    assert e.value.command_status == 0x01 and e.value.field == "short_message"
    with pytest.raises(core.SmppError):
        core.segment("😀" * 10_000)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"reference": 256}, "reference"),
        ({"reference": -1}, "reference"),
        ({"concat": "udh16", "reference": 65536}, "reference"),
        ({"concat": "carrier-pigeon"}, "concat"),
        ({"national_language": 14}, "national_language"),
        ({"national_language": 300}, "national_language"),
    ],
)
def test_option_errors(kwargs, field):
    with pytest.raises(core.SmppError) as e:
        core.segment("a" * 200, **kwargs)
    assert e.value.field == field


def test_udh16_and_sar_take_16_bit_references():
    assert core.segment("a" * 200, concat="udh16", reference=65535).count == 2
    assert core.segment("a" * 200, concat="sar", reference=65535).sar[0] == (65535, 2, 1)


MIXED = (
    "abcXYZ 0189 @£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!?¡¿ÄÖÑÜ§äöñüà"
    "^{}\\[~]|€\n\f"
    "`çÿ¤ЖжЯяשל"
    "☃中😀🎉"
)


CHARS = st.sampled_from(MIXED) | st.characters(codec="utf-8")
# Repetition makes multi-part texts common (plain text strategies stay short).
LONG_TEXT = st.builds(
    lambda head, body, k: head + body * k,
    st.text(alphabet=CHARS, max_size=200),
    st.text(alphabet=CHARS, max_size=60),
    st.integers(0, 25),
)


@settings(max_examples=300, deadline=None)
@given(
    LONG_TEXT,
    st.sampled_from(["udh8", "udh16", "sar"]),
    st.integers(0, 255),
    st.booleans(),
)
def test_split_matches_model_and_round_trips(text, concat, reference, packed):
    if packed:
        # A CR exactly filling a packed part is indistinguishable from the
        # CR padding of TS 23.038 6.1.2.3.1; leave CR out of packed texts.
        assume("\r" not in text)
    try:
        seg = core.segment(text, concat=concat, reference=reference, packed=packed)
    except core.SmppError as e:
        assert e.command_status == 0x01  # only too many parts
        assert len(model_split(text, "ucs2", concat)) > 255
        return
    expected = model_split(text, seg.encoding, concat)
    assert seg.count == len(expected)
    assert seg.units == sum(expected)
    single, multi = LIMITS[seg.encoding]
    cap = single if seg.count == 1 else multi[concat]
    assert seg.remaining == cap - expected[-1]
    if not packed or seg.encoding != "gsm7":
        assert [payload_units(seg, p) for p in seg.parts] == expected
    for i, part in enumerate(seg.parts):
        if seg.encoding != "gsm7" or packed:
            assert len(part) <= 140
        if seg.udhi:
            assert core.parse_udh(part).concat == (reference, seg.count, i + 1)
    assert seg.udhi == (seg.count > 1 and concat != "sar")
    assert (seg.sar is not None) == (seg.count > 1 and concat == "sar")
    decoded = core.Chain().decode_parts(seg.parts, seg.dcs, udhi=seg.udhi, packed=packed)
    assert decoded == text
    dcs, charset = core.Chain().select(text)
    assert (seg.dcs, seg.charset) == (dcs, charset)


def test_packed_parts_fill_140_octets():
    seg = core.segment("a" * 306, packed=True, reference=9)
    assert [len(p) for p in seg.parts] == [140, 140]
    udh = core.parse_udh(seg.parts[0])
    assert udh.fill_bits == 1
    assert core.gsm_unpack(udh.payload, 153, udh.fill_bits) == b"a" * 153
    single = core.segment("a" * 160, packed=True)
    assert single.parts == [core.gsm_pack(b"a" * 160)]
    # 7 septets leave 7 spare bits: CR padding, not '@' (TS 23.038 6.1.2.3.1).
    seven = core.segment("abcdefg", packed=True).parts[0]
    assert seven[-1] >> 1 == 0x0D
    assert core.Chain().decode(seven, 0, packed=True) == "abcdefg"


def test_preview():
    p = core.preview("Hello ☃ world")
    assert (p.encoding, p.dcs, p.charset, p.segments, p.units, p.remaining) == ("ucs2", 8, "utf-16be", 1, 13, 57)
    assert p.forced_by == ["☃"]
    p = core.preview("a" * 161)
    assert (p.encoding, p.segments, p.units, p.remaining, p.forced_by) == ("gsm7", 2, 161, 145, [])
    p = core.preview("Ağaç ağaç")
    assert p.encoding == "ucs2" and p.forced_by == ["ğ", "ç"]
    p = core.preview("Ağaç ağaç", national_language=1)
    assert p.encoding == "gsm7" and p.forced_by == [] and p.national_locking == 1
    p = core.preview("x" * 1000, concat="payload")
    assert p.segments == 7
    assert core.preview("naïve`").forced_by == ["ï", "`"]
    assert core.preview("").segments == 1 and core.preview("").remaining == 160


TURKISH = "Ağaçların gölgesinde şarkı söyleyen kuşlar, İstanbul'un ışıklı sokaklarında uçuştu."
SPANISH = "¿Dónde está la estación? Mañana a las ocho, señora Núñez. Ésta es más rápida."
PORTUGUESE = "Não há nada como a canção do mar; amanhã às três horas, na praça São João."


GSM_UCS2 = core.Chain([(0, "gsm_0338"), (8, "utf-16be")])


@pytest.mark.parametrize("lang,text", [(1, TURKISH), (2, SPANISH), (3, PORTUGUESE)])
def test_national_text_stays_7_bit(lang, text):
    without = core.segment(text, GSM_UCS2)
    assert without.encoding == "ucs2"
    assert core.preview(text, GSM_UCS2).forced_by
    # The seed's chain has Latin-1 before UCS-2: Spanish and Portuguese fit it.
    assert core.segment(text).encoding == ("ucs2" if lang == 1 else "8bit")
    seg = core.segment(text, GSM_UCS2, national_language=lang)
    assert seg == seg  # frozen object, comparable by identity
    assert core.segment(text, national_language=lang).parts == seg.parts
    assert seg.encoding == "gsm7" and seg.dcs == 0
    assert seg.udhi
    udh = core.parse_udh(seg.parts[0])
    assert lang in (udh.national_single, udh.national_locking)
    assert (udh.national_single, udh.national_locking) == (seg.national_single, seg.national_locking)
    assert core.Chain().decode_parts(seg.parts, 0, udhi=True) == text
    packed = core.segment(text * 3, national_language=lang, packed=True)
    assert core.Chain().decode_parts(packed.parts, 0, udhi=True, packed=True) == text * 3


def test_national_ies_shrink_the_parts():
    # Spanish has only a single shift table: one 3-octet IE (TS 23.040 9.2.3.24.15).
    one = "á" + "a" * 153  # 155 septets: the single-part limit with a 4-octet UDH
    seg = core.segment(one, national_language=2)
    assert seg.count == 1 and seg.remaining == 0
    assert seg.parts[0][:4] == bytes([3, 0x24, 1, 2])
    seg = core.segment(one + "a", national_language=2, reference=5)
    assert seg.count == 2
    assert seg.parts[0][:9] == bytes([8, 0, 3, 5, 2, 1, 0x24, 1, 2])
    assert len(core.parse_udh(seg.parts[0]).payload) == 149
    # Both tables: two IEs, 146 septets per part with an 8-bit reference.
    text = "ı" * 150 + "ç" * 150 + "Ğ"
    seg = core.segment(text, national_language=1)
    assert (seg.national_single, seg.national_locking) in {(None, 1), (1, 1)}
    assert core.Chain().decode_parts(seg.parts, 0, udhi=True) == text


def test_plain_text_with_national_option_has_no_udh():
    seg = core.segment("hello", national_language=3)
    assert not seg.udhi and seg.parts == [b"hello"]


def test_segment_many_matches_segment():
    texts = ["hi", "a" * 300, "😀" * 40, "Ağaç"]
    many = core.segment_many(texts, references=[1, 2, 3, 4], national_language=1)
    for i, (text, seg) in enumerate(zip(texts, many)):
        one = core.segment(text, reference=i + 1, national_language=1)
        assert (seg.parts, seg.dcs, seg.udhi) == (one.parts, one.dcs, one.udhi)
    with pytest.raises(ValueError):
        core.segment_many(texts, references=[1])


def test_custom_chain():
    chain = core.Chain([(3, "latin1"), (8, "ucs2")])
    seg = core.segment("hello", chain)
    assert (seg.dcs, seg.charset, seg.encoding) == (3, "ISO-8859-1", "8bit")
    assert core.segment("€", chain).dcs == 8
    assert core.preview("€", chain).forced_by == ["€"]
