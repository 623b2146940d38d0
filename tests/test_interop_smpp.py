"""Cross-checks against independent SMPP implementations: what we encode,
smpp34 and smpplib decode field by field; what they encode, we decode field
by field, TLVs included. Field values stay within what both libraries can
carry (ASCII addresses, their TLV tables)."""

from __future__ import annotations

import logging
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import byosms._core as c
from byosms._core import Tlv

smpp34 = pytest.importorskip("smpp34")
smpplib_smpp = pytest.importorskip("smpplib.smpp")

# smpplib logs a warning for every vendor TLV it skips.
logging.getLogger("smpplib").setLevel(logging.ERROR)

ASCII = st.characters(codec="ascii", min_codepoint=0x20, max_codepoint=0x7E)


def text(max_len: int, min_len: int = 0) -> st.SearchStrategy[str]:
    return st.text(ASCII, min_size=min_len, max_size=max_len)


INT = st.integers(0, 255)
TIME = st.one_of(st.just(""), st.text(string.digits, min_size=12, max_size=12).map(lambda s: s + "000+"),
                 st.just("000001000000000R"))

SM_FIELDS = st.fixed_dictionaries({
    "service_type": text(5),
    "source_addr_ton": INT,
    "source_addr_npi": INT,
    "source_addr": text(20),
    "dest_addr_ton": INT,
    "dest_addr_npi": INT,
    "destination_addr": text(20),
    "esm_class": INT,
    "protocol_id": INT,
    "priority_flag": INT,
    "schedule_delivery_time": TIME,
    "validity_period": TIME,
    "registered_delivery": INT,
    "replace_if_present_flag": INT,
    "data_coding": INT,
    "sm_default_msg_id": INT,
    "short_message": st.binary(max_size=254),
})

SEQ = st.integers(1, 0x7FFFFFFF)
COMMAND = st.sampled_from(["submit_sm", "deliver_sm"])


def assert_same_fields(ours: c.Pdu, theirs, fields: dict, as_bytes: bool = False) -> None:
    for name, value in fields.items():
        got = getattr(theirs, name)
        if name == "short_message":
            assert (got or b"") == value, name
        elif isinstance(value, str):
            want = value.encode("ascii") if as_bytes else value
            assert got == want, name
        else:
            assert got == value, name
        assert getattr(ours, name) == value, name


# --- smpp34 ---------------------------------------------------------------------

SMPP34_TLVS = st.lists(
    st.one_of(
        st.builds(Tlv, st.integers(0x1400, 0x3FFF), st.binary(max_size=30)),
        st.builds(Tlv, st.just(c.TLV_SAR_MSG_REF_NUM), st.binary(min_size=2, max_size=2)),
        st.builds(Tlv, st.just(c.TLV_SAR_TOTAL_SEGMENTS), st.binary(min_size=1, max_size=1)),
        st.builds(Tlv, st.just(c.TLV_SAR_SEGMENT_SEQNUM), st.binary(min_size=1, max_size=1)),
        st.builds(Tlv, st.just(c.TLV_RECEIPTED_MESSAGE_ID), text(64, 1).map(lambda s: s.encode() + b"\0")),
        st.builds(Tlv, st.just(c.TLV_MESSAGE_STATE), st.binary(min_size=1, max_size=1)),
        st.builds(Tlv, st.just(c.TLV_NETWORK_ERROR_CODE), st.binary(min_size=3, max_size=3)),
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(COMMAND, SEQ, SM_FIELDS, SMPP34_TLVS)
def test_smpp34_decodes_ours(command, seq, fields, tlvs):
    ours = c.Pdu(command, seq, **fields, tlvs=tlvs)
    raw = ours.encode()
    if command == "submit_sm":
        fast = c.encode_submit_sm(seq, fields["source_addr"], fields["destination_addr"], fields["short_message"],
                                  **{k: v for k, v in fields.items()
                                     if k not in {"source_addr", "destination_addr", "short_message",
                                                  "replace_if_present_flag", "sm_default_msg_id"}},
                                  tlvs=tlvs)
        if fields["replace_if_present_flag"] == 0 and fields["sm_default_msg_id"] == 0:
            assert fast == raw
    theirs = smpp34.decode(raw)
    assert type(theirs).__name__ == ("SubmitSm" if command == "submit_sm" else "DeliverSm")
    assert theirs.command_id == ours.command_id
    assert theirs.sequence_number == seq
    assert theirs.sm_length == len(fields["short_message"])
    assert_same_fields(ours, theirs, fields)
    assert [(t.tag, t.value) for t in theirs.tlvs] == [(t.tag, t.value) for t in tlvs]


@settings(max_examples=300, deadline=None)
@given(COMMAND, SEQ, SM_FIELDS, SMPP34_TLVS)
def test_we_decode_smpp34(command, seq, fields, tlvs):
    cls = smpp34.SubmitSm if command == "submit_sm" else smpp34.DeliverSm
    kw = dict(fields)
    src, dst, sm = kw.pop("source_addr"), kw.pop("destination_addr"), kw.pop("short_message")
    theirs = cls(src, dst, sm, **kw, tlvs=[smpp34.Tlv(t.tag, t.value) for t in tlvs], sequence_number=seq)
    raw = theirs.encode()
    ours = c.decode(raw)
    assert (ours.command_name, ours.sequence_number, ours.command_status) == (command, seq, 0)
    assert_same_fields(ours, theirs, fields)
    assert ours.tlvs == tlvs
    assert ours.encode() == raw


def test_smpp34_receipt_example():
    rcpt = b"id:0123456789 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:"
    raw = c.encode_deliver_sm(42, "447700900123", "byosms", rcpt, esm_class=0x04,
                              tlvs=[Tlv(c.TLV_RECEIPTED_MESSAGE_ID, b"0123456789\0"),
                                    Tlv(c.TLV_MESSAGE_STATE, b"\x02")])
    d = smpp34.decode(raw)
    assert (d.esm_class, d.short_message, d.source_addr) == (4, rcpt, "447700900123")
    assert [t.as_int() for t in d.tlvs][1] == 2


# --- smpplib --------------------------------------------------------------------

# (name, size) of integer TLVs smpplib knows for each command, sizes per spec.
SMPPLIB_INT_TLVS = {
    "submit_sm": [
        ("user_message_reference", 2), ("source_port", 2), ("destination_port", 2), ("dest_addr_subunit", 1),
        ("sar_msg_ref_num", 2), ("sar_total_segments", 1), ("sar_segment_seqnum", 1),
        ("more_messages_to_send", 1), ("payload_type", 1), ("privacy_indicator", 1),
        ("callback_num_pres_ind", 1), ("user_response_code", 1), ("display_time", 1), ("sms_signal", 2),
        ("ms_validity", 1), ("ms_msg_wait_facilities", 1), ("number_of_messages", 1),
        ("language_indicator", 1), ("its_reply_type", 1), ("its_session_info", 2), ("ussd_service_op", 1),
    ],
    "deliver_sm": [
        ("user_message_reference", 2), ("source_port", 2), ("destination_port", 2), ("sar_msg_ref_num", 2),
        ("sar_total_segments", 1), ("sar_segment_seqnum", 1), ("user_response_code", 1),
        ("privacy_indicator", 1), ("payload_type", 1), ("language_indicator", 1), ("its_session_info", 2),
        ("message_state", 1), ("source_network_type", 1), ("dest_network_type", 1),
        ("more_messages_to_send", 1),
    ],
}


@st.composite
def smpplib_tlvs(draw, command: str) -> dict:
    """Named optional parameters as smpplib takes them (distinct names)."""
    chosen = draw(st.lists(st.sampled_from(SMPPLIB_INT_TLVS[command]), unique=True, max_size=6))
    out = {name: draw(st.integers(0, 256**size - 1)) for name, size in chosen}
    if command == "deliver_sm":
        if draw(st.booleans()):
            out["receipted_message_id"] = draw(text(64, 1))
        if draw(st.booleans()):
            out["network_error_code"] = draw(st.binary(min_size=3, max_size=3))
    return out


def smpplib_tlv(name: str, value) -> Tlv:
    tag = getattr(c, "TLV_" + name.upper())
    if isinstance(value, str):
        return Tlv(tag, value.encode() + b"\0")
    if isinstance(value, bytes):
        return Tlv(tag, value)
    size = dict(SMPPLIB_INT_TLVS["submit_sm"] + SMPPLIB_INT_TLVS["deliver_sm"])[name]
    return Tlv(tag, value.to_bytes(size, "big"))


def assert_tlv_matches(ours: c.Pdu, name: str, value) -> None:
    t = ours.tlv(getattr(c, "TLV_" + name.upper()))
    assert t is not None and t.name == name
    if isinstance(value, str):
        assert t.as_str() == value
    elif isinstance(value, bytes):
        assert t.value == value
    else:
        assert t.as_int() == value


@settings(max_examples=300, deadline=None)
@given(st.data(), COMMAND, SEQ, SM_FIELDS)
def test_smpplib_decodes_ours(data, command, seq, fields):
    named = data.draw(smpplib_tlvs(command))
    vendor = data.draw(st.lists(st.builds(Tlv, st.integers(0x1400, 0x3FFF), st.binary(max_size=10)), max_size=2))
    tlvs = [smpplib_tlv(k, v) for k, v in named.items()] + vendor
    ours = c.Pdu(command, seq, **fields, tlvs=data.draw(st.permutations(tlvs)))
    theirs = smpplib_smpp.parse_pdu(ours.encode(), sequence=0, allow_unknown_opt_params=True)
    assert theirs.command == command
    assert theirs.sequence == seq
    assert theirs.status == 0
    assert_same_fields(ours, theirs, fields, as_bytes=True)
    for name, value in named.items():
        got = getattr(theirs, name)
        assert got == (value.encode() if isinstance(value, str) else value), name


@settings(max_examples=300, deadline=None)
@given(st.data(), COMMAND, SEQ, SM_FIELDS)
def test_we_decode_smpplib(data, command, seq, fields):
    named = data.draw(smpplib_tlvs(command))
    theirs = smpplib_smpp.make_pdu(command, sequence=seq, **fields, **named)
    theirs.sequence = seq  # smpplib keeps its client's counter otherwise
    raw = theirs.generate()
    ours = c.decode(raw)
    assert (ours.command_name, ours.sequence_number, ours.command_status) == (command, seq, 0)
    for name, value in fields.items():
        assert getattr(ours, name) == value, name
    assert len(ours.tlvs) == len(named)
    for name, value in named.items():
        assert_tlv_matches(ours, name, value)
    assert ours.encode() == raw


def test_smpplib_responses_and_enquire_link():
    # Our responses as smpplib reads them.
    r = smpplib_smpp.parse_pdu(c.encode_submit_sm_resp(5, "msg-123"), sequence=0)
    assert (r.command, r.sequence, r.message_id) == ("submit_sm_resp", 5, b"msg-123")
    r = smpplib_smpp.parse_pdu(c.encode_enquire_link(6), sequence=0)
    assert (r.command, r.sequence) == ("enquire_link", 6)
    r = smpplib_smpp.parse_pdu(c.encode_generic_nack(7, c.ESME_RINVCMDLEN), sequence=0)
    assert (r.command, r.sequence, r.status) == ("generic_nack", 7, c.ESME_RINVCMDLEN)
    # Theirs as we read them.
    p = smpplib_smpp.make_pdu("bind_transceiver", sequence=1, system_id="sys", password="pw",
                              system_type="", interface_version=0x34, addr_ton=0, addr_npi=0,
                              address_range="")
    p.sequence = 1
    ours = c.decode(p.generate())
    assert (ours.command_name, ours.system_id, ours.password, ours.interface_version) == (
        "bind_transceiver", "sys", "pw", 0x34)
    resp = smpplib_smpp.make_pdu("deliver_sm_resp", sequence=3)
    resp.sequence = 3
    resp.message_id = ""
    ours = c.decode(resp.generate())
    assert (ours.command_name, ours.sequence_number, ours.message_id) == ("deliver_sm_resp", 3, "")
