"""S7 advanced configuration: defaults, merging, schema errors with paths,
and the vendor-code -> generic-code mapper."""

from __future__ import annotations

import importlib.resources
import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from byosms.advanced_config import (
    KNOWN_CHARSETS,
    AdvancedConfig,
    AdvancedConfigError,
    CharsetEntry,
    CodeMapping,
    ErrorMapper,
    GenericErrorCode,
    MappedError,
    canonical_charset,
    default_advanced_config,
    load_advanced_config,
    parse_vendor_code,
)


def seed_bytes() -> bytes:
    return importlib.resources.files("byosms").joinpath("data", "default-advanced-config.json").read_bytes()


SEED = json.loads(seed_bytes())
# The seed file ships 48 vendor codes (SMPP command_status values 0x00-0xFF).
SEED_CODES = 48


def entry(code: int = 3, cause: str = "X", **extra) -> dict:
    return {"genericErrorCode": code, "genericErrorCause": cause, **extra}


# --- schema and defaults -----------------------------------------------------


def test_generic_error_codes():
    assert [(c.name, c.value) for c in GenericErrorCode] == [
        ("SUCCESS", 0),
        ("UNKNOWN_FAILURE", 1),
        ("RETRYABLE_FAILURE", 2),
        ("PERMANENT_FAILURE", 3),
        ("EXPIRED", 4),
        ("DEFERRED", 5),
        ("EN_ROUTE", 6),
        ("REJECTED", 7),
        ("ACCEPTED", 8),
        ("UNKNOWN", 9),
        ("UNDELIVERABLE", 10),
    ]


def test_msgspec_decodes_seed_file():
    cfg = msgspec.json.decode(seed_bytes(), type=AdvancedConfig)
    assert len(cfg.protocolSpecificCodeMapping) == SEED_CODES
    assert isinstance(cfg.protocolSpecificCodeMapping["88"], CodeMapping)
    assert cfg.charsets[0] == CharsetEntry(dcs=0, charset="gsm_0338")


def test_msgspec_schema_constraints():
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"genericErrorCode": 11, "genericErrorCause": "X"}', type=CodeMapping)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"dcs": 256, "charset": "gsm"}', type=CharsetEntry)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"protocolSpecificCodeMapping": {}, "charsets": [], "x": 1}', type=AdvancedConfig)


def test_defaults_load_every_code():
    cfg = default_advanced_config()
    assert len(cfg.protocolSpecificCodeMapping) == SEED_CODES == len(SEED["protocolSpecificCodeMapping"])
    for key, raw in SEED["protocolSpecificCodeMapping"].items():
        m = cfg.protocolSpecificCodeMapping[key]
        assert (m.genericErrorCode, m.genericErrorCause, m.description) == (
            raw["genericErrorCode"],
            raw["genericErrorCause"],
            raw.get("description"),
        )
    assert cfg.charset_chain() == [(c["dcs"], c["charset"]) for c in SEED["charsets"]]
    assert default_advanced_config() is cfg  # cached
    assert load_advanced_config(None) is cfg
    assert load_advanced_config({}) == cfg
    assert load_advanced_config("{}") == cfg
    assert load_advanced_config(b"  {}  ") == cfg


def test_config_encodes_back_to_seed_schema():
    cfg = default_advanced_config()
    again = msgspec.json.decode(msgspec.json.encode(cfg), type=AdvancedConfig)
    assert again == cfg
    assert json.loads(msgspec.json.encode(cfg)) == SEED


# --- merging -----------------------------------------------------------------


def test_custom_mapping_overrides_named_codes_and_keeps_others():
    cfg = load_advanced_config(
        json.dumps(
            {
                "protocolSpecificCodeMapping": {
                    "88": entry(5, "THROTTLED_TRY_LATER"),
                    "1024": entry(3, "VENDOR_BLACKLISTED", description="number on vendor blacklist"),
                }
            }
        )
    )
    m = cfg.protocolSpecificCodeMapping
    assert len(m) == SEED_CODES + 1
    assert m["88"] == CodeMapping(5, "THROTTLED_TRY_LATER", None)  # replaced as a whole
    assert m["1024"].description == "number on vendor blacklist"
    for key in SEED["protocolSpecificCodeMapping"]:
        if key != "88":
            assert m[key] == default_advanced_config().protocolSpecificCodeMapping[key]
    assert cfg.charsets == default_advanced_config().charsets  # not named: kept


def test_hex_key_overrides_same_decimal_default():
    cfg = load_advanced_config({"protocolSpecificCodeMapping": {"0x58": entry(7, "REJECTED_BY_VENDOR")}})
    assert len(cfg.protocolSpecificCodeMapping) == SEED_CODES
    assert "0x58" not in cfg.protocolSpecificCodeMapping
    assert cfg.protocolSpecificCodeMapping["88"].genericErrorCause == "REJECTED_BY_VENDOR"
    assert "058" not in load_advanced_config({"protocolSpecificCodeMapping": {"058": entry()}}).protocolSpecificCodeMapping
    assert "58" in load_advanced_config({"protocolSpecificCodeMapping": {"058": entry()}}).protocolSpecificCodeMapping


def test_custom_charsets_replace_the_list_with_canonical_names():
    cfg = load_advanced_config({"charsets": [{"dcs": 0, "charset": "GSM7"}, {"dcs": 8, "charset": "UCS2"}]})
    assert cfg.charset_chain() == [(0, "gsm_0338"), (8, "utf-16be")]
    assert len(cfg.protocolSpecificCodeMapping) == SEED_CODES  # not named: kept


def test_loading_does_not_mutate_defaults():
    before = msgspec.json.encode(default_advanced_config())
    load_advanced_config({"protocolSpecificCodeMapping": {"0": entry(1, "NOPE")}, "charsets": [{"dcs": 1, "charset": "ascii"}]})
    assert msgspec.json.encode(default_advanced_config()) == before


# --- schema errors name their path -------------------------------------------

PSCM = "$.protocolSpecificCodeMapping"


@pytest.mark.parametrize(
    ("custom", "path", "fragment"),
    [
        ("{", "$", "invalid JSON"),
        (b"\xff\xfe{", "$", "invalid JSON"),
        ("[]", "$", "expected object, got array"),
        ("42", "$", "expected object, got int"),
        ('{"charset": []}', "$.charset", "unknown field"),
        ('{"charsets": [], "charsets": []}', '$["charsets"]', "duplicate key"),
        ({"protocolSpecificCodeMapping": []}, PSCM, "expected object, got array"),
        ({"protocolSpecificCodeMapping": {"88": entry("x")}}, f'{PSCM}["88"].genericErrorCode', 'expected int in 0..10, got "x"'),
        ({"protocolSpecificCodeMapping": {"88": entry(11)}}, f'{PSCM}["88"].genericErrorCode', "expected int in 0..10, got 11"),
        ({"protocolSpecificCodeMapping": {"88": entry(True)}}, f'{PSCM}["88"].genericErrorCode', "got true"),
        ({"protocolSpecificCodeMapping": {"88": entry(1.5)}}, f'{PSCM}["88"].genericErrorCode', "got 1.5"),
        ({"protocolSpecificCodeMapping": {"88": {"genericErrorCode": 1}}}, f'{PSCM}["88"].genericErrorCause', "required field missing"),
        ({"protocolSpecificCodeMapping": {"88": entry(cause="")}}, f'{PSCM}["88"].genericErrorCause', "expected non-empty string"),
        ({"protocolSpecificCodeMapping": {"88": entry(description=5)}}, f'{PSCM}["88"].description', "expected string or null, got 5"),
        ({"protocolSpecificCodeMapping": {"88": entry(descripton="typo")}}, f'{PSCM}["88"].descripton', "unknown field"),
        ({"protocolSpecificCodeMapping": {"88": "THROTTLED"}}, f'{PSCM}["88"]', "expected object, got string"),
        ({"protocolSpecificCodeMapping": {"1A": entry()}}, f'{PSCM}["1A"]', "decimal or 0x-hex"),
        ({"protocolSpecificCodeMapping": {"-1": entry()}}, f'{PSCM}["-1"]', "decimal or 0x-hex"),
        ({"protocolSpecificCodeMapping": {" 88": entry()}}, f'{PSCM}[" 88"]', "decimal or 0x-hex"),
        ({"protocolSpecificCodeMapping": {"0x": entry()}}, f'{PSCM}["0x"]', "decimal or 0x-hex"),
        ({"protocolSpecificCodeMapping": {"0x100000000": entry()}}, f'{PSCM}["0x100000000"]', "at most 0xFFFFFFFF"),
        ({"protocolSpecificCodeMapping": {"88": entry(), "0x58": entry()}}, f'{PSCM}["0x58"]', 'duplicate vendor code 88 (also "88")'),
        ('{"protocolSpecificCodeMapping": {"88": {}, "88": {}}}', f'{PSCM}["88"]', "duplicate key"),
        ({"protocolSpecificCodeMapping": {88: entry()}}, PSCM, "keys must be strings"),
        ({"charsets": {}}, "$.charsets", "expected array, got object"),
        ({"charsets": []}, "$.charsets", "at least one"),
        ({"charsets": [{"dcs": 0}]}, "$.charsets[0].charset", "required field missing"),
        ({"charsets": [{"dcs": 0, "charset": "gsm"}, {"dcs": 256, "charset": "gsm"}]}, "$.charsets[1].dcs", "expected int in 0..255, got 256"),
        ({"charsets": [{"dcs": -1, "charset": "gsm"}]}, "$.charsets[0].dcs", "expected int in 0..255"),
        ({"charsets": [{"dcs": 0, "charset": "klingon"}]}, "$.charsets[0].charset", 'unknown charset "klingon"'),
        ({"charsets": [{"dcs": 0, "charset": "gsm"}, {"dcs": 0, "charset": "ucs2"}]}, "$.charsets[1].dcs", "duplicate dcs 0 (also at $.charsets[0])"),
        ({"charsets": ["gsm"]}, "$.charsets[0]", "expected object, got string"),
    ],
)
def test_schema_errors_name_their_path(custom, path, fragment):
    with pytest.raises(AdvancedConfigError) as ei:
        load_advanced_config(custom)
    err = ei.value
    assert isinstance(err, ValueError)
    assert err.path == path
    assert str(err).startswith(f"{path}: ")
    assert fragment in str(err)


def test_brief_example_message_exactly():
    with pytest.raises(AdvancedConfigError) as ei:
        load_advanced_config('{"protocolSpecificCodeMapping": {"88": {"genericErrorCode": "x", "genericErrorCause": "T"}}}')
    assert str(ei.value) == '$.protocolSpecificCodeMapping["88"].genericErrorCode: expected int in 0..10, got "x"'


# --- charsets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "canon"),
    [
        ("gsm_0338", "gsm_0338"),
        ("GSM", "gsm_0338"),
        ("gsm7", "gsm_0338"),
        ("gsm0338", "gsm_0338"),
        ("ascii", "ASCII"),
        ("IA5", "ASCII"),
        ("US-ASCII", "ASCII"),
        ("latin1", "ISO-8859-1"),
        ("iso-8859-1", "ISO-8859-1"),
        ("jis0201", "JIS0201"),
        ("ISO-8859-5", "ISO-8859-5"),
        ("iso-8859-8", "ISO-8859-8"),
        ("UTF-16BE", "utf-16be"),
        ("ucs2", "utf-16be"),
        ("UCS-2", "utf-16be"),
        ("utf16be", "utf-16be"),
    ],
)
def test_charset_aliases(alias, canon):
    assert canonical_charset(alias) == canon
    assert load_advanced_config({"charsets": [{"dcs": 0, "charset": alias}]}).charsets[0].charset == canon


def test_known_charsets_cover_seed_names():
    for c in SEED["charsets"]:
        assert c["charset"] in KNOWN_CHARSETS
    assert canonical_charset("utf-8") is None


# --- error mapper ------------------------------------------------------------


def test_mapper_maps_seed_codes():
    mapper = ErrorMapper()
    assert len(mapper) == SEED_CODES
    hit = mapper.map(88)
    assert isinstance(hit, MappedError)
    assert hit.generic_code is GenericErrorCode.RETRYABLE_FAILURE
    assert hit.cause == SEED["protocolSpecificCodeMapping"]["88"]["genericErrorCause"]
    assert hit.description == SEED["protocolSpecificCodeMapping"]["88"]["description"]
    assert hit.vendor_code == 88
    assert mapper.map(0).generic_code is GenericErrorCode.SUCCESS
    for key, raw in SEED["protocolSpecificCodeMapping"].items():
        m = mapper.map(int(key))
        assert (m.generic_code, m.cause) == (raw["genericErrorCode"], raw["genericErrorCause"])


@pytest.mark.parametrize("spelling", [88, "88", "0x58", "0X58", " 88 ", "088", "0x0058"])
def test_mapper_accepts_int_decimal_and_hex_strings(spelling):
    assert ErrorMapper().map(spelling) == ErrorMapper().map(88)


def test_mapper_leading_zero_string_is_decimal():
    mapper = ErrorMapper(load_advanced_config({"protocolSpecificCodeMapping": {"58": entry(4, "FIFTY_EIGHT")}}))
    assert mapper.map("058").cause == "FIFTY_EIGHT"
    assert mapper.map("0x58").cause == mapper.map(88).cause != "FIFTY_EIGHT"


def test_mapper_dlr_err_hex_digits():
    mapper = ErrorMapper(load_advanced_config({"protocolSpecificCodeMapping": {"0xB4": entry(3, "ABSENT")}}))
    assert mapper.map("0B4").cause == "ABSENT"


@pytest.mark.parametrize("code", [9999, -1, "", "nope", "0x", "1.5", 2**40, None, True])
def test_mapper_unmapped(code):
    m = ErrorMapper().map(code)
    assert m.generic_code is GenericErrorCode.UNKNOWN_FAILURE
    assert m.cause == "UNMAPPED_VENDOR_CODE"
    assert m.description is None
    assert m.vendor_code == (9999 if code == 9999 else None)


def test_mapper_is_retryable():
    mapper = ErrorMapper(
        load_advanced_config({"protocolSpecificCodeMapping": {"1000": entry(5, "DEFERRED"), "1001": entry(4, "EXPIRED")}})
    )
    assert mapper.is_retryable(88)  # seed: RETRYABLE_FAILURE
    assert mapper.is_retryable("1000")  # DEFERRED
    assert not mapper.is_retryable(1001)
    assert not mapper.is_retryable(0)
    assert not mapper.is_retryable(123456)  # unmapped is not retryable
    retryable = {k for k, v in SEED["protocolSpecificCodeMapping"].items() if v["genericErrorCode"] in (2, 5)}
    assert {k for k in SEED["protocolSpecificCodeMapping"] if ErrorMapper().is_retryable(k)} == retryable


def test_mapper_contains():
    mapper = ErrorMapper()
    assert 88 in mapper and "0x58" in mapper and 9999 not in mapper


@given(st.integers(min_value=0, max_value=0xFFFF_FFFF))
def test_vendor_code_spellings_agree(n):
    assert parse_vendor_code(n) == parse_vendor_code(str(n)) == parse_vendor_code(hex(n)) == n
    assert parse_vendor_code("0" + str(n)) == n  # leading zero: still decimal
    mapper = ErrorMapper()
    assert mapper.map(n) == mapper.map(str(n)) == mapper.map(hex(n))


@given(st.dictionaries(st.integers(0, 0xFFFF_FFFF), st.tuples(st.integers(0, 10), st.text(min_size=1, max_size=10)), max_size=20))
def test_merge_property(custom):
    doc = {"protocolSpecificCodeMapping": {hex(k): entry(g, c) for k, (g, c) in custom.items()}}
    cfg = load_advanced_config(doc)
    mapper = ErrorMapper(cfg)
    for k, (g, c) in custom.items():
        assert (mapper.map(k).generic_code, mapper.map(k).cause) == (g, c)
    for key, raw in SEED["protocolSpecificCodeMapping"].items():
        if int(key) not in custom:
            assert mapper.map(int(key)).cause == raw["genericErrorCause"]
    assert len(cfg.protocolSpecificCodeMapping) == len(set(custom) | {int(k) for k in SEED["protocolSpecificCodeMapping"]})


def test_known_is_the_mapping_or_none():
    from byosms.advanced_config import TWILIO_DEFAULTS, ErrorMapper, load_advanced_config

    m = ErrorMapper(load_advanced_config(None, defaults=TWILIO_DEFAULTS))
    assert m.known(21610) == m.map(21610) and m.known("21610") == m.map(21610)
    assert m.known(99999) is None and m.known(None) is None and m.known("nonsense") is None
    assert m.map(99999).cause == "UNMAPPED_VENDOR_CODE"
