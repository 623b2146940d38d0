"""Delivery receipts: parse_receipt / parse_receipts / format_receipt /
receipt_id_keys against the SMPP 3.4 appendix B format and real vendor
variants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byosms import _core
from byosms._core import (
    MESSAGE_STATES,
    Receipt,
    SmppError,
    format_receipt,
    parse_receipt,
    parse_receipts,
    receipt_id_keys,
)

ESME_RX_P_APPN = 0x65
ESME_RINVPARLEN = 0xC2
ESME_RINVOPTPARAMVAL = 0xC4

ENROUTE, DELIVERED, EXPIRED, DELETED, UNDELIVERABLE, ACCEPTED, UNKNOWN, REJECTED = range(1, 9)


def test_message_states_table():
    assert {k: v for k, v in MESSAGE_STATES.items() if 1 <= v <= 8} == {
        "ENROUTE": 1,
        "DELIVERED": 2,
        "EXPIRED": 3,
        "DELETED": 4,
        "UNDELIVERABLE": 5,
        "ACCEPTED": 6,
        "UNKNOWN": 7,
        "REJECTED": 8,
    }
    # SMPP 5.0 additions some SMSCs already send.
    assert MESSAGE_STATES["SCHEDULED"] == 0 and MESSAGE_STATES["SKIPPED"] == 9


# --- the standard format and vendor variants ---------------------------------


def test_appendix_b_standard():
    r = parse_receipt(
        b"id:0123456789 sub:001 dlvrd:001 submit date:0610191018 done date:0610191018 "
        b"stat:DELIVRD err:000 text:Hello world"
    )
    assert isinstance(r, Receipt)
    assert r.message_id == "0123456789"
    assert r.state == DELIVERED and r.state_name == "DELIVERED"
    assert r.stat == "DELIVRD"
    assert r.is_final and r.is_success
    assert (r.sub, r.dlvrd) == (1, 1)
    assert (r.submit_date, r.done_date) == ("0610191018", "0610191018")
    assert r.err == "000" and r.error_code == 0
    assert r.network_type is None
    assert r.text == b"Hello world"
    assert r.extra == []


def test_kannel_style_uppercase_text_key():
    # Kannel-like SMSCs: capital "Text:", undelivered, numeric err.
    r = parse_receipt(
        b"id:1234567890 sub:001 dlvrd:000 submit date:1512141030 done date:1512141031 "
        b"stat:UNDELIV err:034 Text:Your code is 1234"
    )
    assert r.state == UNDELIVERABLE and r.stat == "UNDELIV"
    assert r.is_final and not r.is_success
    assert r.dlvrd == 0
    assert r.err == "034" and r.error_code == 34
    assert r.text == b"Your code is 1234"


def test_jasmin_style_uuid_id():
    r = parse_receipt(
        b"id:b2b0d9b2-8b2a-4c1f-8c8a-62a0d0b3c6e1 sub:001 dlvrd:001 submit date:1712051622 "
        b"done date:1712051622 stat:DELIVRD err:000 text:"
    )
    assert r.message_id == "b2b0d9b2-8b2a-4c1f-8c8a-62a0d0b3c6e1"
    assert r.text == b""
    # The same UUID upper-cased (as some SMSCs echo it) shares a key.
    assert set(r.id_keys()) & set(receipt_id_keys("B2B0D9B2-8B2A-4C1F-8C8A-62A0D0B3C6E1"))


def test_all_caps_keys_and_twelve_digit_dates():
    r = parse_receipt(
        b"ID:5A3F0E12 SUB:001 DLVRD:001 SUBMIT DATE:171205162233 DONE DATE:171205162301 "
        b"STAT:EXPIRED ERR:000 TEXT:abc"
    )
    assert r.message_id == "5A3F0E12"
    assert r.submit_date == "171205162233" and r.done_date == "171205162301"
    assert r.state == EXPIRED and r.is_final


@pytest.mark.parametrize(
    "sm",
    [
        b"id:77 Submit Date:2401311200 Done Date:2401311201 stat:DELIVRD",
        b"id:77 submit_date:2401311200 done_date:2401311201 stat:DELIVRD",
        b"id:77 SUBMIT-DATE:2401311200 DONE-DATE:2401311201 stat:DELIVRD",
        b"id:77  submit   date:2401311200\tdone date : 2401311201   stat: DELIVRD  ",
    ],
)
def test_key_spellings(sm):
    r = parse_receipt(sm)
    assert (r.message_id, r.submit_date, r.done_date, r.state) == ("77", "2401311200", "2401311201", DELIVERED)
    assert r.extra == []


def test_text_last_with_colons_and_field_lookalikes():
    r = parse_receipt(b"id:9 stat:DELIVRD err:000 text:Meet at 12:30 id:1 stat:REJECTD err:999")
    assert r.message_id == "9" and r.state == DELIVERED and r.err == "000"
    assert r.text == b"Meet at 12:30 id:1 stat:REJECTD err:999"


def test_text_is_raw_bytes():
    # GSM unpacked text can contain 0x00 ('@') and non-UTF-8 octets.
    r = parse_receipt(b"id:9 stat:DELIVRD text:\x00\xff\x1b\x14 x")
    assert r.text == b"\x00\xff\x1b\x14 x"


def test_missing_fields():
    r = parse_receipt(b"id:123 submit date:2401311200 done date:2401311201 stat:UNDELIV err:001")
    assert (r.sub, r.dlvrd, r.text) == (None, None, None)
    assert r.error_code == 1
    r = parse_receipt(b"id:123")
    assert r.state == UNKNOWN and r.stat is None and not r.is_final


def test_extra_fields_kept_in_order():
    r = parse_receipt(
        b"id:42 sub:001 dlvrd:001 submit date:2401311200 done date:2401311201 stat:DELIVRD err:000 "
        b"mcc:234 mnc:15 imsi:234150000000000 price:0.0040 text:hi"
    )
    assert r.extra == [("mcc", "234"), ("mnc", "15"), ("imsi", "234150000000000"), ("price", "0.0040")]
    assert r.state == DELIVERED and r.text == b"hi"


def test_repeated_key_first_wins_repeat_kept():
    r = parse_receipt(b"id:1 stat:DELIVRD stat:UNDELIV")
    assert r.stat == "DELIVRD"
    assert r.extra == [("stat", "UNDELIV")]


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("ENROUTE", ENROUTE),
        ("DELIVRD", DELIVERED),
        ("EXPIRED", EXPIRED),
        ("DELETED", DELETED),
        ("UNDELIV", UNDELIVERABLE),
        ("ACCEPTD", ACCEPTED),
        ("UNKNOWN", UNKNOWN),
        ("REJECTD", REJECTED),
        ("DELIVERED", DELIVERED),
        ("UNDELIVERABLE", UNDELIVERABLE),
        ("REJECTED", REJECTED),
        ("ACCEPTED", ACCEPTED),
        ("delivrd", DELIVERED),
        ("FAILED", UNDELIVERABLE),
        ("EN_ROUTE", ENROUTE),
    ],
)
def test_stat_values(stat, state):
    r = parse_receipt(f"id:1 stat:{stat} err:0".encode())
    assert r.state == state
    assert r.stat == stat


def test_final_and_success_flags():
    finals = {s for s in range(1, 9) if parse_receipt(b"id:1", message_state=s).is_final}
    assert finals == {DELIVERED, EXPIRED, DELETED, UNDELIVERABLE, ACCEPTED, REJECTED}
    successes = {s for s in range(1, 9) if parse_receipt(b"id:1", message_state=s).is_success}
    assert successes == {DELIVERED}


def test_unknown_stat_keeps_text_value():
    r = parse_receipt(b"id:1 stat:BLOCKED")
    assert r.stat == "BLOCKED" and r.state == UNKNOWN


@pytest.mark.parametrize(
    ("err", "code"),
    [("000", 0), ("001", 1), ("058", 58), ("0B4", 0xB4), ("00B", 11), ("0x1F", 31), ("G01", None)],
)
def test_err_numeric_and_alphanumeric(err, code):
    r = parse_receipt(f"id:1 stat:UNDELIV err:{err}".encode())
    assert r.err == err
    assert r.error_code == code


# --- TLVs --------------------------------------------------------------------


def test_tlvs_win_over_text():
    r = parse_receipt(
        b"id:123 stat:DELIVRD err:000 text:x",
        receipted_message_id=b"7B\x00",
        message_state=UNDELIVERABLE,
        network_error_code=b"\x03\x00\x22",
    )
    assert r.message_id == "7B"
    assert r.state == UNDELIVERABLE and not r.is_success
    assert r.stat == "DELIVRD"  # text value kept as sent
    assert r.network_type == 3 and r.error_code == 0x22
    assert r.err == "000"


def test_text_id_used_when_tlv_absent_or_empty():
    assert parse_receipt(b"id:55 stat:DELIVRD").message_id == "55"
    assert parse_receipt(b"id:55 stat:DELIVRD", receipted_message_id=b"\x00").message_id == "55"
    assert parse_receipt(b"id:55 stat:DELIVRD", receipted_message_id="").message_id == "55"


def test_tlv_only_receipt():
    r = parse_receipt(b"", receipted_message_id="abc", message_state=b"\x02")
    assert (r.message_id, r.state, r.stat, r.text) == ("abc", DELIVERED, None, None)
    # A free-text short_message next to the TLVs is not an error either.
    r = parse_receipt(b"Your message was delivered", receipted_message_id=b"abc\x00", message_state=8)
    assert r.state == REJECTED


def test_message_state_tlv_out_of_range_is_ignored():
    r = parse_receipt(b"id:1 stat:DELIVRD", message_state=200)
    assert r.state == DELIVERED


@pytest.mark.parametrize(
    ("kwargs", "field", "status"),
    [
        ({"network_error_code": b"\x03\x00"}, "network_error_code", ESME_RINVPARLEN),
        ({"network_error_code": b"\x03\x00\x00\x00"}, "network_error_code", ESME_RINVPARLEN),
        ({"message_state": b"\x02\x00"}, "message_state", ESME_RINVPARLEN),
        ({"message_state": 256}, "message_state", ESME_RINVOPTPARAMVAL),
        ({"message_state": -1}, "message_state", ESME_RINVOPTPARAMVAL),
        ({"message_state": 2**70}, "message_state", ESME_RINVOPTPARAMVAL),
    ],
)
def test_bad_tlvs(kwargs, field, status):
    with pytest.raises(SmppError) as ei:
        parse_receipt(b"id:1 stat:DELIVRD", **kwargs)
    assert ei.value.field == field
    assert ei.value.command_status == status


def test_wrong_argument_types_are_type_errors():
    with pytest.raises(TypeError):
        parse_receipt(b"id:1", receipted_message_id=5)
    with pytest.raises(TypeError):
        parse_receipt(b"id:1", network_error_code="\x03\x00\x01")
    with pytest.raises(TypeError):
        parse_receipt("id:1")


@pytest.mark.parametrize(
    "sm",
    [b"", b"Hello there", b"\x00\x01\x02\x03", b"stat:DELIVRD err:000", b"id: ", b"id:\x00", b"::::", b"12:30 id"],
)
def test_not_a_receipt(sm):
    with pytest.raises(SmppError) as ei:
        parse_receipt(sm)
    assert ei.value.field == "short_message"
    assert ei.value.command_status == ESME_RX_P_APPN
    assert isinstance(ei.value, ValueError)


# --- batch -------------------------------------------------------------------


def test_parse_receipts_batch():
    out = parse_receipts(
        [
            b"id:1 stat:DELIVRD",
            b"garbage",
            (b"", b"xyz\x00", 5, b"\x03\x00\x01"),
            (b"id:2 stat:EXPIRED", None, None, None),
        ]
    )
    assert isinstance(out[0], Receipt) and out[0].message_id == "1"
    assert isinstance(out[1], SmppError) and out[1].field == "short_message"
    assert out[2].message_id == "xyz" and out[2].state == UNDELIVERABLE and out[2].error_code == 1
    assert out[3].state == EXPIRED
    with pytest.raises(TypeError):
        parse_receipts([(b"id:1",)])
    with pytest.raises(TypeError):
        parse_receipts(["id:1"])


def test_receipt_equality_and_repr():
    a = parse_receipt(b"id:1 stat:DELIVRD err:000")
    b = parse_receipt(b"id:1  stat:DELIVRD  err:000")
    assert a == b
    assert a != parse_receipt(b"id:2 stat:DELIVRD err:000")
    assert repr(a) == "Receipt(message_id='1', state=2 DELIVERED, stat='DELIVRD', err='000', error_code=0, is_final=True)"
    assert "'\\x1c'" in repr(parse_receipt(b"", receipted_message_id=b"\x1c"))
    with pytest.raises(AttributeError):
        a.message_id = "x"  # frozen


# --- id correlation ----------------------------------------------------------


def test_id_keys_examples():
    assert receipt_id_keys("123456") == ["123456", "#123456", "#1e240"]
    assert receipt_id_keys("1E240") == ["1E240", "#1e240"]
    assert receipt_id_keys("0001e240") == ["0001e240", "#1e240"]
    assert receipt_id_keys("SMa1b2c3d4e5f6") == ["SMa1b2c3d4e5f6"]
    assert receipt_id_keys("  ") == []
    # Exact key first, so the engine can prefer it.
    assert receipt_id_keys(" 42 ")[0] == "42"


@given(st.integers(min_value=0, max_value=10**64 - 1), st.integers(0, 4), st.booleans())
def test_id_keys_decimal_and_hex_forms_intersect(n, zeros, upper):
    dec = str(n)
    hx = "0" * zeros + (format(n, "X") if upper else format(n, "x"))
    assert set(receipt_id_keys(dec)) & set(receipt_id_keys(hx))
    assert set(receipt_id_keys("0" * zeros + dec)) & set(receipt_id_keys(hx))


@given(st.integers(min_value=0, max_value=2**128 - 1), st.integers(min_value=0, max_value=2**128 - 1))
def test_id_keys_numeric_keys_are_values(a, b):
    # The "#" keys encode the value: different numbers read the same way
    # never share them.
    if a != b:
        ka = {k for k in receipt_id_keys(format(a, "x")) if k.startswith("#")}
        kb = {k for k in receipt_id_keys(format(b, "X")) if k.startswith("#")}
        assert not ka & kb


# --- format_receipt ----------------------------------------------------------


def test_format_receipt_standard_layout():
    assert format_receipt("1E240", "DELIVRD", submit_date="2401311200", done_date="2401311201", text=b"Hi") == (
        b"id:1E240 sub:001 dlvrd:001 submit date:2401311200 done date:2401311201 stat:DELIVRD err:000 text:Hi"
    )
    assert b"stat:UNDELIV" in format_receipt("1", UNDELIVERABLE)
    assert b"stat:REJECTD" in format_receipt("1", REJECTED)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"message_id": ""}, "message_id"),
        ({"message_id": "a b"}, "message_id"),
        ({"stat": ""}, "stat"),
        ({"err": "0 0"}, "err"),
        ({"submit_date": ""}, "submit_date"),
        ({"done_date": "24\n01"}, "done_date"),
        ({"stat": 42}, "stat"),
    ],
)
def test_format_receipt_rejects_unparseable_fields(kwargs, field):
    args = {"message_id": "1", "stat": "DELIVRD"} | kwargs
    with pytest.raises(SmppError) as ei:
        format_receipt(**args)
    assert ei.value.field == field


token = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=" \t\n\r\x0b\x0c\x00"),
    min_size=1,
    max_size=40,
)
date = st.from_regex(r"\A[0-9]{10}([0-9]{2})?\Z")
stat_values = st.sampled_from(
    ["ENROUTE", "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD", "DELIVERED"]
)


@settings(max_examples=300)
@given(
    message_id=token,
    stat=st.one_of(stat_values, token),
    err=token,
    submit_date=date,
    done_date=date,
    sub=st.integers(0, 2**32 - 1),
    dlvrd=st.integers(0, 2**32 - 1),
    text=st.binary(max_size=200),
)
def test_format_parse_round_trip(message_id, stat, err, submit_date, done_date, sub, dlvrd, text):
    raw = format_receipt(message_id, stat, err, submit_date, done_date, sub, dlvrd, text)
    r = parse_receipt(raw)
    assert r.message_id == message_id
    assert r.stat == stat
    assert r.err == err
    assert (r.submit_date, r.done_date) == (submit_date, done_date)
    assert (r.sub, r.dlvrd) == (sub, dlvrd)
    assert r.text == text
    assert r.extra == []


@settings(max_examples=300)
@given(stat=st.integers(1, 8), message_id=token)
def test_format_by_state_number_round_trips_state(stat, message_id):
    assert parse_receipt(format_receipt(message_id, stat)).state == stat


# --- robustness --------------------------------------------------------------

receiptish = st.lists(
    st.sampled_from(
        [b"id:", b"ID", b"sub:", b"dlvrd:", b"submit", b"date:", b"done", b"stat:", b"err:", b"text:", b" ", b"\t",
         b":", b"\x00", b"DELIVRD", b"0x1F", b"12", b"\xff", b"-", b"_"]
    )
    | st.binary(max_size=4),
    max_size=40,
).map(b"".join)


@settings(max_examples=500)
@given(
    sm=st.one_of(st.binary(max_size=300), receiptish),
    rid=st.one_of(st.none(), st.binary(max_size=70), st.text(max_size=70)),
    state=st.one_of(st.none(), st.integers(-300, 300), st.binary(max_size=3)),
    nec=st.one_of(st.none(), st.binary(max_size=5)),
)
def test_parse_raises_only_smpp_error(sm, rid, state, nec):
    try:
        r = parse_receipt(sm, receipted_message_id=rid, message_state=state, network_error_code=nec)
    except SmppError as e:
        assert e.field in {"short_message", "message_state", "network_error_code"}
        return
    # Whatever parsed must be usable without further errors.
    assert r.message_id
    assert r.state in MESSAGE_STATES.values()
    repr(r), r.extra, r.text, r.id_keys()


def test_module_exports():
    for name in ("parse_receipt", "parse_receipts", "receipt_id_keys", "format_receipt", "Receipt", "MESSAGE_STATES"):
        assert hasattr(_core, name)


# --- layout tolerance: spelling, spacing and order do not change the result --

KEY_SPELLINGS = {
    "id": ["id", "ID", "Id"],
    "sub": ["sub", "SUB", "Sub"],
    "dlvrd": ["dlvrd", "DLVRD", "Dlvrd"],
    "submit date": ["submit date", "Submit Date", "SUBMIT DATE", "submit_date", "submit-date", "submitdate", "submit  date"],
    "done date": ["done date", "Done Date", "DONE DATE", "done_date", "done-date", "donedate"],
    "stat": ["stat", "STAT", "Stat", "status"],
    "err": ["err", "ERR", "Err", "error"],
}
plain_value = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9\-]{0,15}\Z")


@settings(max_examples=300)
@given(
    data=st.data(),
    message_id=plain_value,
    stat=stat_values,
    err=st.from_regex(r"\A[0-9A-F]{1,3}\Z"),
    dates=st.tuples(date, date),
    counts=st.tuples(st.integers(0, 999), st.integers(0, 999)),
    text=st.binary(max_size=30),
)
def test_layout_variants_parse_the_same(data, message_id, stat, err, dates, counts, text):
    values = {
        "id": message_id,
        "sub": f"{counts[0]:03}",
        "dlvrd": f"{counts[1]:03}",
        "submit date": dates[0],
        "done date": dates[1],
        "stat": stat,
        "err": err,
    }
    order = data.draw(st.permutations(list(values)))
    present = [k for k in order if k == "id" or data.draw(st.booleans())]
    parts = []
    for key in present:
        spelling = data.draw(st.sampled_from(KEY_SPELLINGS[key]))
        after_colon = data.draw(st.sampled_from(["", " ", "  "]))
        before_colon = data.draw(st.sampled_from(["", "", " "]))
        parts.append(f"{spelling}{before_colon}:{after_colon}{values[key]}".encode())
    sep = data.draw(st.lists(st.sampled_from([b" ", b"  ", b"\t", b" \x00"]), min_size=len(parts), max_size=len(parts)))
    lead = data.draw(st.sampled_from([b"", b" ", b"\t "]))
    raw = lead + b"".join(s_ + p for s_, p in zip([b""] + sep[1:], parts)) + sep[0] + data.draw(st.sampled_from([b"text:", b"Text:", b"TEXT:"])) + text

    r = parse_receipt(raw)
    assert r.message_id == message_id
    assert r.stat == (stat if "stat" in present else None)
    assert r.err == (err if "err" in present else None)
    assert r.sub == (counts[0] if "sub" in present else None)
    assert r.dlvrd == (counts[1] if "dlvrd" in present else None)
    assert r.submit_date == (dates[0] if "submit date" in present else None)
    assert r.done_date == (dates[1] if "done date" in present else None)
    assert r.text == text
    assert r.extra == []
