"""SMPP 3.4 PDU codec: round trips of every command, field limits, vendor
tolerance, hostile input, the fast encoders and the module constants."""

from __future__ import annotations

import struct

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import byosms._core as c
from byosms._core import Pdu, SmppError, Tlv
from pdu_strategies import LAYOUTS, TLVS, cstr, pdu_kwargs, pdus

# command_id values from spec 5.1.2.1, written out independently.
SPEC_COMMAND_IDS = {
    "generic_nack": 0x80000000,
    "bind_receiver": 0x00000001,
    "bind_receiver_resp": 0x80000001,
    "bind_transmitter": 0x00000002,
    "bind_transmitter_resp": 0x80000002,
    "query_sm": 0x00000003,
    "query_sm_resp": 0x80000003,
    "submit_sm": 0x00000004,
    "submit_sm_resp": 0x80000004,
    "deliver_sm": 0x00000005,
    "deliver_sm_resp": 0x80000005,
    "unbind": 0x00000006,
    "unbind_resp": 0x80000006,
    "replace_sm": 0x00000007,
    "replace_sm_resp": 0x80000007,
    "cancel_sm": 0x00000008,
    "cancel_sm_resp": 0x80000008,
    "bind_transceiver": 0x00000009,
    "bind_transceiver_resp": 0x80000009,
    "outbind": 0x0000000B,
    "enquire_link": 0x00000015,
    "enquire_link_resp": 0x80000015,
    "submit_multi": 0x00000021,
    "submit_multi_resp": 0x80000021,
    "alert_notification": 0x00000102,
    "data_sm": 0x00000103,
    "data_sm_resp": 0x80000103,
}


def header(command_id: int, body: bytes, status: int = 0, seq: int = 7) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


def cs(s: str) -> bytes:
    return s.encode("latin-1") + b"\0"


# --- constants --------------------------------------------------------------


def test_command_constants_match_the_spec():
    assert set(LAYOUTS) == set(SPEC_COMMAND_IDS)
    for name, cid in SPEC_COMMAND_IDS.items():
        assert getattr(c, "CMD_" + name.upper()) == cid
        assert c.command_name(cid) == name
    assert c.command_name(0x1234) is None


def test_status_and_tlv_constants():
    assert c.ESME_ROK == 0 and c.ESME_RINVCMDLEN == 2 and c.ESME_RTHROTTLED == 0x58
    assert c.ESME_RINVOPTPARSTREAM == 0xC0 and c.ESME_RINVPARLEN == 0xC2
    assert c.status_name(0x58) == "ESME_RTHROTTLED"
    assert c.status_name(0x400) is None
    assert "Throttling" in c.status_description(0x58)
    assert c.TLV_MESSAGE_PAYLOAD == 0x0424
    assert c.TLV_RECEIPTED_MESSAGE_ID == 0x001E
    assert c.TLV_SAR_MSG_REF_NUM == 0x020C
    assert c.TLV_ITS_SESSION_INFO == 0x1383
    assert c.TLV_DEST_ADDR_SUBUNIT == 0x0005
    assert c.tlv_name(0x0427) == "message_state"
    assert c.tlv_name(0x1400) is None
    tlv_names = [n for n in dir(c) if n.startswith("TLV_")]
    assert len(tlv_names) == 44


# --- Tlv ----------------------------------------------------------------------


def test_tlv_basics():
    t = Tlv(c.TLV_RECEIPTED_MESSAGE_ID, b"abc\0")
    assert (t.tag, t.value, t.name) == (0x1E, b"abc\0", "receipted_message_id")
    assert t.as_str() == "abc"
    assert t.as_int() is None
    assert Tlv(0x1E, b"abc").as_str() == "abc"  # vendors leave the NUL off
    assert Tlv(c.TLV_SAR_MSG_REF_NUM, b"\x01\x02").as_int() == 0x0102
    assert Tlv(0x1400, b"\x00\x00\x00\x05").as_int() == 5
    assert Tlv(0x1400, b"x").name is None
    assert Tlv(1, b"a") == Tlv(1, bytearray(b"a"))
    assert Tlv(1, b"a") != Tlv(1, b"b")
    assert len({Tlv(1, b"a"), Tlv(1, b"a"), Tlv(2, b"a")}) == 2
    with pytest.raises(OverflowError):
        Tlv(0x10000, b"")
    with pytest.raises(TypeError):
        Tlv(1, "text")


@given(st.integers(0, 0xFFFF), st.binary(max_size=50))
def test_tlv_repr_evaluates_back(tag, value):
    t = Tlv(tag, value)
    assert eval(repr(t), {"Tlv": Tlv}) == t


# --- round trips --------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(LAYOUTS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip_every_command(command, data):
    kw = data.draw(pdu_kwargs(command))
    seq = data.draw(st.integers(0, 2**32 - 1))
    status = data.draw(st.integers(0, 2**32 - 1))
    p = Pdu(command, seq, status, **kw)
    assert (p.command_name, p.command_id) == (command, SPEC_COMMAND_IDS[command])
    assert (p.sequence_number, p.command_status) == (seq, status)
    assert p.is_response == command.endswith(("_resp", "generic_nack"))
    # Every given value reads back as given.
    for name, value in kw.items():
        assert getattr(p, name) == value, name
    fields, takes_tlvs = LAYOUTS[command]
    assert p.field_names == tuple(fields) + (("tlvs",) if takes_tlvs else ())

    raw = p.encode()
    assert struct.unpack(">I", raw[:4])[0] == len(raw)
    assert struct.unpack(">III", raw[4:16]) == (SPEC_COMMAND_IDS[command], status, seq)
    back = c.decode(raw)
    assert back == p
    assert hash(back) == hash(p)
    assert back.encode() == raw
    assert Pdu(**p.to_dict()) == p
    assert eval(repr(p), {"Pdu": Pdu, "Tlv": Tlv}) == p


@settings(max_examples=200, deadline=None)
@given(pdus(), st.lists(st.builds(Tlv, st.integers(0x1400, 0x3FFF), st.binary(max_size=8)), max_size=3))
def test_vendor_tlvs_pass_through_in_order(p, extra):
    assume("tlvs" in p.field_names)
    q = p.replace(tlvs=p.tlvs + extra)
    back = c.decode(q.encode())
    assert back.tlvs == p.tlvs + extra
    assert [t.tag for t in back.tlvs] == [t.tag for t in p.tlvs + extra]


def test_wire_layout_of_a_submit_sm():
    p = Pdu("submit_sm", 2, source_addr="A", destination_addr="12", registered_delivery=1,
            short_message=b"hi", tlvs=[Tlv(c.TLV_SAR_MSG_REF_NUM, b"\x00\x2a")])
    body = (cs("") + b"\0\0" + cs("A") + b"\0\0" + cs("12") + b"\0\0\0" + cs("") + cs("")
            + b"\x01\0\0\0" + b"\x02hi" + b"\x02\x0c\x00\x02\x00\x2a")
    assert p.encode() == header(4, body, seq=2)


def test_field_access_rules():
    p = Pdu("enquire_link", 1)
    with pytest.raises(AttributeError, match="source_addr"):
        p.source_addr
    assert p.tlvs == [] and p.tlv(0x1E) is None
    assert p.field_names == ()
    with pytest.raises(TypeError, match="source_addr"):
        Pdu("enquire_link", source_addr="x")
    with pytest.raises(TypeError, match="tlvs"):
        Pdu("query_sm", tlvs=[])
    with pytest.raises(TypeError):
        Pdu("submit_sm", data_coding="8")
    with pytest.raises(TypeError):
        Pdu("submit_sm", short_message="text")
    with pytest.raises(TypeError):
        Pdu("submit_sm", tlvs=[b"raw"])
    with pytest.raises(TypeError):
        Pdu(3.5)
    d = Pdu("deliver_sm", 1, tlvs=[Tlv(0x1E, b"id\0"), Tlv(0x1E, b"second\0")])
    assert d.tlv(0x1E) == Tlv(0x1E, b"id\0")
    # Commands accepted by number too; bytes accepted for C-Octet strings.
    assert Pdu(4, source_addr=b"\xe9") == Pdu("submit_sm", source_addr="\xe9")


def test_replace():
    p = Pdu("submit_sm", 1, source_addr="a", short_message=b"x")
    q = p.replace(sequence_number=9, command_status=3, source_addr="b")
    assert (q.sequence_number, q.command_status, q.source_addr, q.short_message) == (9, 3, "b", b"x")
    assert p.source_addr == "a"  # immutable
    with pytest.raises(SmppError):
        p.replace(source_addr="x" * 21)
    with pytest.raises(TypeError):
        p.replace(password="x")


def test_submit_multi_destinations():
    p = Pdu("submit_multi", 1, dest_addresses=[(1, 1, "447700900001"), "friends"])
    raw = p.encode()
    # number_of_dests, then dest_flag 1 (SME) and dest_flag 2 (list).
    assert b"\x02\x01\x01\x01447700900001\x00\x02friends\x00" in raw
    assert c.decode(raw).dest_addresses == [(1, 1, "447700900001"), "friends"]
    r = Pdu("submit_multi_resp", 2, message_id="m", unsuccess_smes=[(1, 1, "4477", 0x0B)])
    assert r.encode()[16:] == cs("m") + b"\x01\x01\x01" + cs("4477") + b"\x00\x00\x00\x0b"
    assert c.decode(r.encode()).unsuccess_smes == [(1, 1, "4477", 0x0B)]
    with pytest.raises(TypeError):
        Pdu("submit_multi", dest_addresses=[(1, 1)])


# --- limits -------------------------------------------------------------------

LIMITS = [
    # (command, field, bad value, good value, status)
    ("bind_transmitter", "system_id", "s" * 16, "s" * 15, c.ESME_RINVSYSID),
    ("bind_receiver", "password", "p" * 9, "p" * 8, c.ESME_RINVPASWD),
    ("bind_transceiver", "system_type", "t" * 13, "t" * 12, c.ESME_RINVSYSTYP),
    ("bind_transceiver", "address_range", "r" * 41, "r" * 40, c.ESME_RINVPARLEN),
    ("bind_transceiver_resp", "system_id", "s" * 16, "s" * 15, c.ESME_RINVSYSID),
    ("outbind", "password", "p" * 9, "p" * 8, c.ESME_RINVPASWD),
    ("submit_sm", "service_type", "CMTXYZ", "CMTXY", c.ESME_RINVSERTYP),
    ("submit_sm", "source_addr", "1" * 21, "1" * 20, c.ESME_RINVSRCADR),
    ("submit_sm", "destination_addr", "1" * 21, "1" * 20, c.ESME_RINVDSTADR),
    ("submit_sm", "schedule_delivery_time", "2401011200000", "240101120000000+", c.ESME_RINVSCHED),
    ("submit_sm", "validity_period", "0" * 17, "000001000000000R", c.ESME_RINVEXPIRY),
    ("submit_sm", "short_message", b"x" * 255, b"x" * 254, c.ESME_RINVMSGLEN),
    ("submit_sm", "source_addr_ton", 256, 255, c.ESME_RINVSRCTON),
    ("submit_sm", "source_addr_npi", -1, 0, c.ESME_RINVSRCNPI),
    ("submit_sm", "dest_addr_ton", 300, 6, c.ESME_RINVDSTTON),
    ("submit_sm", "dest_addr_npi", 300, 18, c.ESME_RINVDSTNPI),
    ("submit_sm", "priority_flag", 256, 3, c.ESME_RINVPRTFLG),
    ("submit_sm", "registered_delivery", 256, 1, c.ESME_RINVREGDLVFLG),
    ("submit_sm", "esm_class", 256, 0x40, c.ESME_RINVESMCLASS),
    ("submit_sm", "replace_if_present_flag", 256, 1, c.ESME_RINVREPFLAG),
    ("submit_sm", "sm_default_msg_id", 256, 1, c.ESME_RINVDFTMSGID),
    ("deliver_sm", "source_addr", "\u20ac", "\xe9", c.ESME_RINVSRCADR),
    ("deliver_sm", "destination_addr", "a\0b", "ab", c.ESME_RINVDSTADR),
    ("submit_sm_resp", "message_id", "m" * 65, "m" * 64, c.ESME_RINVMSGID),
    ("data_sm_resp", "message_id", "m" * 65, "m" * 64, c.ESME_RINVMSGID),
    ("data_sm", "source_addr", "1" * 65, "1" * 64, c.ESME_RINVSRCADR),
    ("data_sm", "destination_addr", "1" * 65, "1" * 64, c.ESME_RINVDSTADR),
    ("query_sm", "message_id", "m" * 65, "m" * 64, c.ESME_RINVMSGID),
    ("query_sm_resp", "final_date", "24", "240101120000000+", c.ESME_RINVPARLEN),
    ("cancel_sm", "service_type", "x" * 6, "x" * 5, c.ESME_RINVSERTYP),
    ("replace_sm", "short_message", b"x" * 255, b"", c.ESME_RINVMSGLEN),
    ("alert_notification", "esme_addr", "e" * 65, "e" * 64, c.ESME_RINVDSTADR),
    ("alert_notification", "source_addr", "e" * 65, "e" * 64, c.ESME_RINVSRCADR),
    ("submit_multi", "dest_addresses", [], ["dl"], c.ESME_RINVNUMDESTS),
    ("submit_multi", "dest_addresses", ["dl"] * 255, ["dl"] * 254, c.ESME_RINVNUMDESTS),
    ("submit_multi", "dest_addresses", ["d" * 21], ["d" * 20], c.ESME_RINVDLNAME),
    ("submit_multi", "dest_addresses", [(1, 1, "1" * 21)], [(1, 1, "1" * 20)], c.ESME_RINVDSTADR),
    ("submit_multi_resp", "unsuccess_smes", [(1, 1, "1" * 21, 0)], [(1, 1, "1" * 20, 0)], c.ESME_RINVDSTADR),
]


@pytest.mark.parametrize("command,field,bad,good,status", LIMITS)
def test_limits_on_construction(command, field, bad, good, status):
    base = {"dest_addresses": ["dl"]} if command == "submit_multi" else {}
    ok = Pdu(command, **{**base, field: good})
    assert c.decode(ok.encode()) == ok
    with pytest.raises(SmppError) as e:
        Pdu(command, **{**base, field: bad})
    assert e.value.command_status == status
    assert isinstance(e.value, ValueError)
    want_field = {"dest_addresses": None, "unsuccess_smes": None}.get(field, field)
    if want_field:
        assert e.value.field == want_field
    assert c.status_name(status) in str(e.value)


def test_payload_and_short_message_are_exclusive():
    payload = Tlv(c.TLV_MESSAGE_PAYLOAD, b"x" * 1000)
    ok = Pdu("submit_sm", tlvs=[payload])
    assert c.decode(ok.encode()).tlv(c.TLV_MESSAGE_PAYLOAD).value == b"x" * 1000
    for cmd in ("submit_sm", "deliver_sm", "submit_multi"):
        extra = {"dest_addresses": ["dl"]} if cmd == "submit_multi" else {}
        with pytest.raises(SmppError) as e:
            Pdu(cmd, short_message=b"x", tlvs=[payload], **extra)
        assert (e.value.command_status, e.value.field) == (c.ESME_RINVMSGLEN, "short_message")
    # On the wire too.
    wire = bytearray(Pdu("submit_sm", 1, short_message=b"x").encode())
    wire += b"\x04\x24\x00\x01y"
    wire[:4] = struct.pack(">I", len(wire))
    with pytest.raises(SmppError) as e:
        c.decode(bytes(wire))
    assert e.value.command_status == c.ESME_RINVMSGLEN


@pytest.mark.parametrize("tag,value", [
    (c.TLV_SAR_MSG_REF_NUM, b"\x01"),
    (c.TLV_SAR_TOTAL_SEGMENTS, b"\x01\x02"),
    (c.TLV_QOS_TIME_TO_LIVE, b"\x01\x02"),
    (c.TLV_NETWORK_ERROR_CODE, b"\x01\x02"),
    (c.TLV_RECEIPTED_MESSAGE_ID, b""),
    (c.TLV_RECEIPTED_MESSAGE_ID, b"x" * 66),
    (c.TLV_ALERT_ON_MESSAGE_DELIVERY, b"\x01"),
    (c.TLV_CALLBACK_NUM, b"123"),
    (0x1400, b"x" * 65536),
])
def test_tlv_length_limits(tag, value):
    with pytest.raises(SmppError) as e:
        Pdu("data_sm", tlvs=[Tlv(tag, value)])
    assert e.value.command_status == c.ESME_RINVPARLEN
    assert e.value.field == (c.tlv_name(tag) or "tlvs")
    if len(value) < 0x10000:
        # The same TLV on the wire is refused the same way.
        good = Pdu("data_sm", 1).encode()
        wire = bytearray(good + struct.pack(">HH", tag, len(value)) + value)
        wire[:4] = struct.pack(">I", len(wire))
        with pytest.raises(SmppError) as e2:
            c.decode(bytes(wire))
        assert (e2.value.command_status, e2.value.field) == (c.ESME_RINVPARLEN, e.value.field)


def test_unknown_commands():
    for bad in ("submit", "SUBMIT_SM", 0x42, 0x80000004 | 0x100):
        with pytest.raises(SmppError) as e:
            Pdu(bad)
        assert e.value.command_status == c.ESME_RINVCMDID
    with pytest.raises(SmppError) as e:
        c.decode(header(0x42, b""))
    assert (e.value.command_status, e.value.field) == (c.ESME_RINVCMDID, "command_id")


# --- decoding hostile and sloppy input -------------------------------------------

SM_EMPTY_MANDATORY = cs("") + b"\0\0" + cs("") + b"\0\0" + cs("") + b"\0\0\0" + cs("") + cs("") + b"\0\0\0\0"


@pytest.mark.parametrize("data,status,field", [
    (b"", c.ESME_RINVCMDLEN, "command_length"),
    (b"\0\0\0\x10\0\0\0\x15\0\0\0\0\0\0\0", c.ESME_RINVCMDLEN, "command_length"),
    (struct.pack(">IIII", 17, 0x15, 0, 1), c.ESME_RINVCMDLEN, "command_length"),
    (header(0x15, b"\0"), c.ESME_RINVCMDLEN, "body"),
    (header(0x80000006, b"xx"), c.ESME_RINVCMDLEN, "body"),
    (header(4, cs("") + b"\1\1" + cs("1" * 21)), c.ESME_RINVSRCADR, "source_addr"),
    (header(4, cs("") + b"\1\1" + b"123"), c.ESME_RINVCMDLEN, "source_addr"),
    (header(4, cs("") + b"\1\1" + cs("1") + b"\1\1" + cs("2" * 21)), c.ESME_RINVDSTADR, "destination_addr"),
    (header(4, cs("CMTXYZ")), c.ESME_RINVSERTYP, "service_type"),
    (header(4, cs("") + b"\1\1" + cs("1") + b"\1\1" + cs("2") + b"\0\0\0" + cs("12345")),
     c.ESME_RINVSCHED, "schedule_delivery_time"),
    (header(4, SM_EMPTY_MANDATORY + b"\xff" + b"x" * 255), c.ESME_RINVMSGLEN, "short_message"),
    (header(4, SM_EMPTY_MANDATORY + b"\x05abc"), c.ESME_RINVMSGLEN, "short_message"),
    (header(4, SM_EMPTY_MANDATORY + b"\0" + b"\x14\x00\x00"), c.ESME_RINVOPTPARSTREAM, "tlvs"),
    (header(4, SM_EMPTY_MANDATORY + b"\0" + b"\x14\x00\x00\x05ab"), c.ESME_RINVOPTPARSTREAM, "tlvs"),
    (header(4, SM_EMPTY_MANDATORY + b"\0" + b"\x02\x0c\x00\x01\x01"), c.ESME_RINVPARLEN, "sar_msg_ref_num"),
    (header(2, cs("s" * 16) + cs("") + cs("") + b"\x34\0\0" + cs("")), c.ESME_RINVSYSID, "system_id"),
    (header(2, cs("sys") + cs("p" * 9) + cs("") + b"\x34\0\0" + cs("")), c.ESME_RINVPASWD, "password"),
    (header(2, cs("sys") + cs("pw") + cs("") + b"\x34\0\0" + cs("")+ b"\x02\x10\x00\x01\x34"),
     c.ESME_RINVCMDLEN, "body"),
    (header(0x21, cs("") + b"\0\0" + cs("") + b"\x00"), c.ESME_RINVNUMDESTS, "dest_addresses"),
    (header(0x21, cs("") + b"\0\0" + cs("") + b"\x01\x03"), c.ESME_RINVDESTFLAG, "dest_flag"),
    (header(0x21, cs("") + b"\0\0" + cs("") + b"\x01\x02" + cs("d" * 21)), c.ESME_RINVDLNAME, "dl_name"),
    (header(0x80000004, b""), c.ESME_RINVCMDLEN, "message_id"),
    (header(0x80000004, b"m" * 65), c.ESME_RINVMSGID, "message_id"),
    (header(3, b"abc"), c.ESME_RINVCMDLEN, "message_id"),
])
def test_decode_errors_name_field_and_status(data, status, field):
    with pytest.raises(SmppError) as e:
        c.decode(data)
    assert (e.value.command_status, e.value.field) == (status, field), str(e.value)


def test_vendor_tolerance_on_decode():
    # Error responses without a body (spec 4.4.2 for submit_sm_resp; SMSCs do it elsewhere).
    for cmd in ("submit_sm_resp", "data_sm_resp", "bind_transmitter_resp", "submit_multi_resp",
                "query_sm_resp"):
        p = c.decode(header(SPEC_COMMAND_IDS[cmd], b"", status=c.ESME_RTHROTTLED))
        assert p.command_status == c.ESME_RTHROTTLED
        assert p == Pdu(cmd, 7, c.ESME_RTHROTTLED)
    # deliver_sm_resp: message_id is unused, ESMEs often send no body at all.
    assert c.decode(header(0x80000005, b"")).message_id == ""
    # The message_id / system_id ending a response without its NUL.
    assert c.decode(header(0x80000004, b"abc123")).message_id == "abc123"
    assert c.decode(header(0x80000103, b"abc")).message_id == "abc"
    assert c.decode(header(0x80000009, b"SMSC")).system_id == "SMSC"
    # TLVs after a submit_sm_resp message_id (SMPP 5.0 peers).
    r = c.decode(header(0x80000004, cs("id") + b"\x00\x1d\x00\x03ok\x00"))
    assert r.tlvs == [Tlv(0x1D, b"ok\0")]
    # receipted_message_id TLV without NUL is kept as sent.
    raw = header(5, SM_EMPTY_MANDATORY + b"\0" + b"\x00\x1e\x00\x03abc")
    d = c.decode(raw)
    assert d.tlv(c.TLV_RECEIPTED_MESSAGE_ID).as_str() == "abc"
    assert d.encode() == raw
    # Encoding follows spec 4.4.2: no body for an error submit_sm_resp.
    assert c.encode_submit_sm_resp(3, "", c.ESME_RTHROTTLED) == header(0x80000004, b"", c.ESME_RTHROTTLED, 3)
    assert Pdu("submit_sm_resp", 3, c.ESME_RTHROTTLED).encode() == header(0x80000004, b"", c.ESME_RTHROTTLED, 3)


def test_non_ascii_octets_survive():
    raw = header(5, cs("") + b"\1\1" + b"\xe9\xff\x80\0" + b"\1\1" + cs("1") + b"\0\0\0" + cs("") + cs("")
                 + b"\0\0\0\0\0")
    p = c.decode(raw)
    assert p.source_addr == "\xe9\xff\x80"
    assert p.encode() == raw


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_decode_random_bytes_only_raises_smpp_error(data):
    try:
        p = c.decode(data)
    except SmppError as e:
        assert c.status_name(e.command_status) and isinstance(e.field, str)
        return
    assert c.decode(p.encode()) == p


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(sorted(SPEC_COMMAND_IDS.values())), st.integers(0, 2**32 - 1), st.binary(max_size=200))
def test_decode_random_bodies_never_crash(command_id, status, body):
    try:
        p = c.decode(header(command_id, body, status))
    except SmppError as e:
        assert isinstance(e.field, str) and c.status_name(e.command_status)
        return
    # Whatever decodes re-encodes to something that decodes the same.
    assert c.decode(p.encode()) == p


@settings(max_examples=300, deadline=None)
@given(pdus(), st.data())
def test_mutated_pdus_never_crash(p, data):
    raw = bytearray(p.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw[:4] = struct.pack(">I", len(raw))
    try:
        q = c.decode(bytes(raw))
    except SmppError:
        return
    assert c.decode(q.encode()) == q


# --- fast encoders --------------------------------------------------------------

SM_ARGS = st.fixed_dictionaries({
    "data_coding": st.integers(0, 255),
    "esm_class": st.integers(0, 255),
    "registered_delivery": st.integers(0, 255),
    "source_addr_ton": st.integers(0, 255),
    "source_addr_npi": st.integers(0, 255),
    "dest_addr_ton": st.integers(0, 255),
    "dest_addr_npi": st.integers(0, 255),
    "service_type": cstr(6),
    "protocol_id": st.integers(0, 255),
    "priority_flag": st.integers(0, 255),
    "validity_period": st.one_of(st.just(""), st.just("000001000000000R")),
    "schedule_delivery_time": st.one_of(st.just(""), st.just("240101120000000+")),
    "tlvs": TLVS,
})


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["submit_sm", "deliver_sm"]), st.integers(0, 2**32 - 1), cstr(21), cstr(21),
       st.binary(max_size=254), SM_ARGS)
def test_fast_sm_encoders_match_pdu(command, seq, src, dst, sm, kw):
    fast = c.encode_submit_sm if command == "submit_sm" else c.encode_deliver_sm
    raw = fast(seq, src, dst, sm, **kw)
    assert raw == Pdu(command, seq, source_addr=src, destination_addr=dst, short_message=sm, **kw).encode()


def test_fast_encoder_defaults_and_errors():
    p = c.decode(c.encode_submit_sm(1, "byosms", "447700900123", b"hi"))
    assert (p.registered_delivery, p.dest_addr_ton, p.dest_addr_npi, p.source_addr_ton) == (1, 1, 1, 0)
    d = c.decode(c.encode_deliver_sm(2, "447700900123", "byosms", b"hi"))
    assert (d.command_name, d.source_addr_ton, d.source_addr_npi, d.registered_delivery) == ("deliver_sm", 1, 1, 0)
    with pytest.raises(SmppError) as e:
        c.encode_submit_sm(1, "x" * 21, "1", b"")
    assert e.value.field == "source_addr"
    with pytest.raises(SmppError) as e:
        c.encode_submit_sm(1, "a", "1", b"x" * 255)
    assert e.value.command_status == c.ESME_RINVMSGLEN
    with pytest.raises(OverflowError):
        c.encode_submit_sm(1, "a", "1", b"", data_coding=256)


def test_fast_header_and_resp_encoders():
    assert c.encode_enquire_link(5) == Pdu("enquire_link", 5).encode() == header(0x15, b"", 0, 5)
    assert c.encode_enquire_link_resp(5) == header(0x80000015, b"", 0, 5)
    assert c.encode_generic_nack(9, c.ESME_RINVCMDID) == header(0x80000000, b"", 3, 9)
    assert c.encode_submit_sm_resp(4, "abc") == header(0x80000004, b"abc\0", 0, 4)
    assert c.encode_deliver_sm_resp(4) == header(0x80000005, b"\0", 0, 4)
    assert c.encode_deliver_sm_resp(4, c.ESME_RX_T_APPN) == header(0x80000005, b"\0", 0x64, 4)
    with pytest.raises(SmppError):
        c.encode_submit_sm_resp(1, "m" * 65)


@settings(max_examples=50, deadline=None)
@given(st.lists(pdus(), max_size=10))
def test_encode_many(ps):
    assert c.encode_many(ps) == b"".join(p.encode() for p in ps)
    assert c.encode_many(iter(ps)) == c.encode_many(tuple(ps))
    with pytest.raises(TypeError):
        c.encode_many([b"raw"])
