"""Charsets: GSM 03.38 against the gsm0338 package, the 8-bit charsets
against Python's codecs, packing against a bit-arithmetic model, and the
charset chain (S8) selection and DCS decoding."""

import codecs
import unicodedata

import gsm0338  # noqa: F401  (registers the 'gsm03.38' codec)
import pytest
from gsm0338.charset import (
    BASIC_CHARACTER_SET,
    BASIC_CHARACTER_SET_EXTENSION,
    SINGLE_SHIFT_CHARACTER_SET_SPANISH,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from byosms import _core as core

GSM_BASIC = "".join(unicodedata.lookup(n) for k, n in BASIC_CHARACTER_SET.items() if k != 0x1B)
GSM_EXT = "".join(unicodedata.lookup(n) for n in BASIC_CHARACTER_SET_EXTENSION.values())
GSM_CHARS = GSM_BASIC + GSM_EXT
SPANISH_EXTRA = "".join(
    unicodedata.lookup(n) for n in SINGLE_SHIFT_CHARACTER_SET_SPANISH.values()
    if unicodedata.lookup(n) not in GSM_CHARS
)


def repertoire(codec: str) -> str:
    out = []
    for b in range(256):
        try:
            out.append(bytes([b]).decode(codec))
        except UnicodeDecodeError:
            pass
    return "".join(out)


JIS0201_CHARS = (
    "".join(chr(c) for c in range(0x80) if c not in (0x5C, 0x7E))
    + "\u00a5\u203e"
    + "".join(chr(c) for c in range(0xFF61, 0xFFA0))
)

REPERTOIRES = {
    "gsm_0338": GSM_CHARS,
    "ASCII": "".join(chr(c) for c in range(128)),
    "ISO-8859-1": "".join(chr(c) for c in range(256)),
    "JIS0201": JIS0201_CHARS,
    "ISO-8859-5": repertoire("iso8859_5"),
    "ISO-8859-8": repertoire("iso8859_8"),
}
PY_CODECS = {"ASCII": "ascii", "ISO-8859-1": "latin-1", "ISO-8859-5": "iso8859_5", "ISO-8859-8": "iso8859_8"}


def test_repertoire_sizes():
    # 127 basic (ESC excluded) + 10 extension characters.
    assert len(set(GSM_CHARS)) == 137
    assert len(REPERTOIRES["ISO-8859-8"]) == 220


@given(st.text(alphabet=GSM_CHARS))
def test_gsm_matches_gsm0338(text):
    ours = core.encode_text(text, "gsm_0338")
    theirs = text.encode("gsm03.38")
    assert ours == theirs
    assert core.decode_text(theirs, "gsm_0338") == text
    assert core.can_encode(text, "gsm")


@given(st.text())
def test_gsm_can_encode_agrees_with_gsm0338(text):
    # Deliberate deviation: gsm0338 encodes U+001B as the bare escape septet,
    # which a receiver reads as "next septet is from the extension table" and
    # so corrupts the following character. 0x1B is not a character (TS 23.038
    # 6.2.1): we refuse it.
    if "\x1b" in text:
        assert not core.can_encode(text, "gsm7")
        return
    try:
        text.encode("gsm03.38")
        theirs = True
    except UnicodeEncodeError:
        theirs = False
    assert core.can_encode(text, "gsm7") == theirs
    if not theirs:
        with pytest.raises(core.SmppError) as e:
            core.encode_text(text, "gsm_0338")
        assert e.value.field == "short_message"


def test_gsm_decode_single_septets_match_gsm0338():
    for s in range(128):
        if s == 0x1B:
            continue
        assert core.decode_text(bytes([s]), "gsm_0338") == bytes([s]).decode("gsm03.38")
    for s in range(128):
        data = bytes([0x1B, s])
        try:
            theirs = data.decode("gsm03.38")
        except UnicodeDecodeError:
            theirs = None
        ours = core.decode_text(data, "gsm_0338")
        if theirs is not None:
            assert ours == theirs
        elif s == 0x1B:
            assert ours == " "  # ESC ESC: reserved, shown as a space (TS 23.038 6.2.1.1)
        else:
            # Unassigned extension position: the basic table's character.
            assert ours == bytes([s]).decode("gsm03.38")


def test_gsm_not_a_septet_is_an_error():
    with pytest.raises(core.SmppError) as e:
        core.decode_text(b"A\x80", "gsm_0338")
    assert e.value.command_status == 0x65
    assert "offset 1" in str(e.value)


@pytest.mark.parametrize("name", sorted(REPERTOIRES))
@settings(max_examples=60)
@given(data=st.data())
def test_round_trip_every_charset(name, data):
    text = data.draw(st.text(alphabet=REPERTOIRES[name]))
    encoded = core.encode_text(text, name)
    assert core.decode_text(encoded, name) == text
    assert core.can_encode(text, name)
    if name in PY_CODECS:
        assert encoded == text.encode(PY_CODECS[name])


@given(st.text())
def test_utf16be_round_trip_and_oracle(text):
    encoded = core.encode_text(text, "utf-16be")
    assert encoded == text.encode("utf-16-be")
    assert core.decode_text(encoded, "ucs2") == text


@pytest.mark.parametrize("name", ["ISO-8859-5", "ISO-8859-8", "ISO-8859-1", "ASCII"])
def test_every_byte_decodes_like_python(name):
    for b in range(256):
        try:
            theirs = bytes([b]).decode(PY_CODECS[name])
        except UnicodeDecodeError:
            with pytest.raises(core.SmppError):
                core.decode_text(bytes([b]), name)
            continue
        assert core.decode_text(bytes([b]), name) == theirs


def test_jis0201_specifics():
    assert core.encode_text("¥‾", "JIS0201") == b"\x5c\x7e"
    assert core.decode_text(b"\xb1\xdf", "JIS0201") == "\uff71\uff9f"
    assert not core.can_encode("\\", "JIS0201")
    assert not core.can_encode("~", "JIS0201")
    with pytest.raises(core.SmppError):
        core.decode_text(b"\x80", "JIS0201")


def test_lone_surrogate_becomes_replacement():
    assert core.decode_text(b"\xd8\x3d\x00A", "utf-16be") == "\ufffdA"
    assert core.decode_text(b"\xde\x00", "utf-16be") == "\ufffd"
    with pytest.raises(core.SmppError):
        core.decode_text(b"\x00A\x00", "utf-16be")


def test_names_aliases_and_unknown():
    assert core.charset_names() == [
        "gsm_0338", "ASCII", "ISO-8859-1", "JIS0201", "ISO-8859-5", "ISO-8859-8", "utf-16be",
    ]
    for alias in ["GSM", "gsm7", "Gsm0338", "ia5", "US-ASCII", "LATIN1", "ucs2", "UCS-2", "utf16be"]:
        assert core.can_encode("a", alias)
    with pytest.raises(core.SmppError) as e:
        core.encode_text("a", "ebcdic")
    assert e.value.field == "charset"
    assert "ebcdic" in str(e.value) and "utf-16be" in str(e.value)


def pack_model(septets: bytes, fill: int) -> bytes:
    """TS 23.038 6.1.2.1.1 packing as one big little-endian integer."""
    value = 0
    for i, s in enumerate(septets):
        value |= s << (fill + 7 * i)
    nbits = fill + 7 * len(septets)
    return value.to_bytes((nbits + 7) // 8, "little")


@given(st.binary().map(lambda b: bytes(x & 0x7F for x in b)), st.integers(0, 6))
def test_pack_matches_model_and_round_trips(septets, fill):
    packed = core.gsm_pack(septets, fill)
    assert packed == pack_model(septets, fill)
    assert core.gsm_unpack(packed, len(septets), fill) == septets


@given(st.text(alphabet=GSM_CHARS), st.integers(0, 6))
def test_packed_text_round_trip(text, fill):
    septets = core.encode_text(text, "gsm_0338")
    packed = core.gsm_pack(septets, fill)
    assert core.decode_text(core.gsm_unpack(packed, len(septets), fill), "gsm_0338") == text


def test_pack_known_vector_and_errors():
    assert core.gsm_pack(core.encode_text("hellohello", "gsm")) == bytes.fromhex("E8329BFD4697D9EC37")
    with pytest.raises(core.SmppError):
        core.gsm_pack(b"\x80")
    with pytest.raises(core.SmppError):
        core.gsm_unpack(b"\x00", 5)
    with pytest.raises(core.SmppError):
        core.gsm_pack(b"a", 7)
    assert core.gsm_unpack(bytes.fromhex("E8329BFD4697D9EC37")) == core.encode_text("hellohello", "gsm")


# --- the chain --------------------------------------------------------------

DEFAULT_ENTRIES = [(0, "gsm_0338"), (1, "ASCII"), (2, "gsm_0338"), (3, "ISO-8859-1"),
                   (5, "JIS0201"), (6, "ISO-8859-5"), (7, "ISO-8859-8"), (8, "utf-16be")]


def test_default_chain_is_the_seed_config():
    import json
    from pathlib import Path

    import byosms

    cfg = json.loads((Path(byosms.__file__).parent / "data" / "default-advanced-config.json").read_text())
    assert [(e["dcs"], e["charset"]) for e in cfg["charsets"]] == DEFAULT_ENTRIES
    assert core.Chain().entries == DEFAULT_ENTRIES
    assert core.Chain(None) == core.Chain(DEFAULT_ENTRIES)
    assert len(core.Chain()) == 8


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Hello [world] €", (0, "gsm_0338")),
        ("back`tick", (1, "ASCII")),
        ("Ça va? naïve", (3, "ISO-8859-1")),
        ("ｺﾝﾆﾁﾊ ¥100", (5, "JIS0201")),
        ("Привет, мир", (6, "ISO-8859-5")),
        ("שלום עולם", (7, "ISO-8859-8")),
        ("Hi 😀", (8, "utf-16be")),
        ("Ağaç", (8, "utf-16be")),
    ],
)
def test_select(text, expected):
    assert core.Chain().select(text) == expected


@given(st.text())
def test_select_picks_first_capable_entry(text):
    chain = core.Chain()
    dcs, name = chain.select(text)
    names = [n for _, n in DEFAULT_ENTRIES]
    idx = names.index(name)
    assert core.can_encode(text, name)
    assert not any(core.can_encode(text, n) for n in names[:idx])


def test_chain_errors():
    with pytest.raises(core.SmppError) as e:
        core.Chain([(0, "gsm"), (3, "latin-9")])
    assert e.value.field == "charset" and "latin-9" in str(e.value)
    with pytest.raises(core.SmppError):
        core.Chain([(256, "gsm")])
    with pytest.raises(core.SmppError):
        core.Chain([])
    with pytest.raises(core.SmppError) as e:
        core.Chain([(0, "gsm")]).select("😀")
    assert e.value.field == "short_message"


@pytest.mark.parametrize(
    "data,dcs,expected",
    [
        (b"Hi\x00", 0x00, "Hi@"),
        (b"Hi~", 0x01, "Hi~"),
        (b"caf\xe9", 0x03, "café"),
        (b"\xb1\x5c", 0x05, "\uff71¥"),
        (b"\xbf\xe0", 0x06, "Пр"),
        (b"\xf9\xec", 0x07, "של"),
        (b"\x00H\x04\x10", 0x08, "HА"),
        (b"Hi", 0x10, "Hi"),        # general group, class 0, GSM
        (b"\x00H", 0x18, "H"),      # general group, UCS-2
        (b"\x00H", 0x48, "H"),      # automatic deletion group, UCS-2
        (b"Hi", 0xC0, "Hi"),        # MWI discard, GSM
        (b"\x00H", 0xE0, "H"),      # MWI store, UCS-2
        (b"Hi", 0xF0, "Hi"),        # message class group, GSM
        (b"Hi", 0xF3, "Hi"),
    ],
)
def test_decode_by_dcs(data, dcs, expected):
    assert core.Chain().decode(data, dcs) == expected


@pytest.mark.parametrize("dcs", [0x04, 0x09, 0x0A, 0x0E, 0x14, 0x24, 0x30, 0x80, 0xBF, 0xF4, 0xF7])
def test_undecodable_dcs_names_it(dcs):
    with pytest.raises(core.SmppError) as e:
        core.Chain().decode(b"\x01\x02", dcs)
    assert e.value.field == "data_coding"
    assert f"0x{dcs:02X}" in str(e.value)
    assert e.value.command_status == 0x65


def test_bad_bytes_name_the_dcs():
    with pytest.raises(core.SmppError) as e:
        core.Chain().decode(b"\x80", 0)
    assert "0x00" in str(e.value)
    with pytest.raises(core.SmppError) as e:
        core.Chain().decode(b"\x00", 8)
    assert "0x08" in str(e.value)
    with pytest.raises(core.SmppError):
        core.Chain().decode(b"", 300)


def test_chain_mapping_overrides_dcs_meaning():
    # The seed maps dcs 2 (octet binary in SMPP) to gsm_0338.
    assert core.Chain().decode(b"Hi", 2) == "Hi"
    latin = core.Chain([(0, "ISO-8859-1"), (8, "ucs2")])
    assert latin.decode(b"\xe9t\xe9", 0) == "été"
    assert core.Chain([(4, "latin1")]).decode(b"\xff", 4) == "ÿ"


@given(st.binary(max_size=300), st.integers(0, 255), st.booleans(), st.booleans())
def test_decode_never_panics(data, dcs, udhi, packed):
    try:
        core.Chain().decode(data, dcs, udhi=udhi, packed=packed)
    except core.SmppError:
        pass


def test_spanish_single_shift_matches_gsm0338_table():
    # The gsm0338 package ships the Spanish single shift table (A.2.2).
    spanish = gsm0338.codec.Codec(single_shift_decode_map=SINGLE_SHIFT_CHARACTER_SET_SPANISH)
    text = "Canción: ¿Qué día? Él está aquí, ç. Último €"
    theirs, _ = spanish.encode(text)
    seg = core.segment(text, national_language=2)
    udh = core.parse_udh(seg.parts[0])
    assert udh.national_single == 2 and udh.national_locking is None
    assert udh.payload == theirs
    assert core.Chain().decode(seg.parts[0], seg.dcs, udhi=True) == text


def test_spanish_extra_chars_need_the_table():
    assert SPANISH_EXTRA
    for c in SPANISH_EXTRA:
        assert not core.can_encode(c, "gsm")
        assert core.preview(c, national_language=2).encoding == "gsm7"
        assert core.preview(c).encoding != "gsm7"


# TS 23.038 annex A.3 positions, spot-checked per locking shift table.
NATIONAL_LOCKING_POSITIONS = [
    (1, "ş", 0x1D), (1, "İ", 0x40), (1, "ç", 0x60), (1, "€", 0x04), (1, "ı", 0x07), (1, "Ğ", 0x0B),
    (3, "ê", 0x04), (3, "∞", 0x15), (3, "º", 0x24), (3, "`", 0x7D), (3, "ã", 0x7B), (3, "Í", 0x40),
    (3, "~", 0x60), (3, "|", 0x1A), (3, "^", 0x16), (3, "\\", 0x17),
]


@pytest.mark.parametrize("lang,char,septet", NATIONAL_LOCKING_POSITIONS)
def test_national_locking_positions(lang, char, septet):
    udh = bytes([3, 0x25, 1, lang])
    assert core.Chain().decode(udh + bytes([septet]), 0, udhi=True) == char
    if core.can_encode(char, "gsm"):
        return  # the default alphabet (no IE) is preferred for such text
    # Three of the same character: the locking shift beats three escapes.
    seg = core.segment(char * 3, national_language=lang)
    parsed = core.parse_udh(seg.parts[0])
    assert parsed.national_locking == lang
    assert parsed.payload == bytes([septet]) * 3
    assert core.Chain().decode(seg.parts[0], 0, udhi=True) == char * 3


@pytest.mark.parametrize(
    "lang,char,septet",
    [(1, "ğ", 0x67), (1, "Ş", 0x53), (1, "ı", 0x69), (3, "Ô", 0x0B), (3, "Ê", 0x1F), (3, "â", 0x7F),
     (3, "Σ", 0x18), (2, "Ú", 0x55), (2, "ç", 0x09)],
)
def test_national_single_positions(lang, char, septet):
    udh_bytes = bytes([3, 0x24, 1, lang])
    assert core.Chain().decode(udh_bytes + bytes([0x1B, septet]), 0, udhi=True) == char


def test_unknown_language_in_udh_falls_back_to_default():
    # TS 23.038: a receiver without the table uses the default alphabet.
    data = bytes([6, 0x24, 1, 14, 0x25, 1, 2]) + core.encode_text("Hi €", "gsm")
    assert core.Chain().decode(data, 0, udhi=True) == "Hi €"


@given(st.binary(max_size=64).filter(lambda b: len(b) % 2 == 0))
def test_utf16_decode_matches_python_replace(data):
    assert core.decode_text(data, "utf-16be") == data.decode("utf-16-be", errors="replace")


def test_public_names():
    for name in ["Chain", "Segmented", "Preview", "Udh", "Expired", "Reassembler", "charset_names", "encode_text",
                 "decode_text", "can_encode", "gsm_pack", "gsm_unpack", "segment", "segment_many", "preview",
                 "parse_udh", "NATIONAL_LANGUAGES"]:
        assert hasattr(core, name), name
    assert core.NATIONAL_LANGUAGES == list(range(1, 14))
