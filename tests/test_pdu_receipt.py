"""Pdu.receipt(): the receipt of a decoded deliver_sm / data_sm in one call,
agreeing with parse_receipt fed the same short_message and TLVs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byosms import _core
from byosms._core import Pdu, Receipt, SmppError, Tlv, decode, parse_receipt

ESME_RX_P_APPN = 0x65
ESME_RINVPARLEN = 0xC2
ESME_RINVOPTPARAMVAL = 0xC4

RECEIPT = (b"id:1A2B3C4D5E sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 "
           b"stat:DELIVRD err:000 text:Your verification")


def dlr(esm_class=0x04, short_message=RECEIPT, tlvs=(), command="deliver_sm") -> Pdu:
    return decode(Pdu(command, 9, source_addr="447700900123", destination_addr="12025550100",
                      esm_class=esm_class, short_message=short_message, tlvs=list(tlvs)).encode())


def oracle(p: Pdu) -> Receipt:
    """parse_receipt with the PDU's fields, as Python code had to do it before."""
    def val(tag):
        t = p.tlv(tag)
        return None if t is None else t.value

    text = b"" if p.command_name == "data_sm" else p.short_message
    if not text:
        text = val(_core.TLV_MESSAGE_PAYLOAD) or b""
    return parse_receipt(text, receipted_message_id=val(_core.TLV_RECEIPTED_MESSAGE_ID),
                         message_state=val(_core.TLV_MESSAGE_STATE),
                         network_error_code=val(_core.TLV_NETWORK_ERROR_CODE))


def test_text_receipt():
    r = dlr().receipt()
    assert isinstance(r, Receipt)
    assert r.message_id == "1A2B3C4D5E"
    assert r.stat == "DELIVRD" and r.state_name == "DELIVERED" and r.is_success
    assert r.submit_date == "2611251200" and r.done_date == "2611251201"
    assert r.sub == 1 and r.dlvrd == 1 and r.error_code == 0
    assert r.text == b"Your verification"
    assert r == parse_receipt(RECEIPT)


def test_tlvs_win_over_text():
    p = dlr(tlvs=[Tlv(_core.TLV_RECEIPTED_MESSAGE_ID, b"ABCDEF0123\x00"),
                  Tlv(_core.TLV_MESSAGE_STATE, b"\x05"),
                  Tlv(_core.TLV_NETWORK_ERROR_CODE, b"\x03\x00\x0b")])
    r = p.receipt()
    assert r.message_id == "ABCDEF0123"
    assert r.state == 5 and r.state_name == "UNDELIVERABLE"
    assert r.error_code == 11 and r.network_type == 3
    assert r.stat == "DELIVRD"  # the text's own field, as sent
    assert r == oracle(p)


def test_tlv_only_receipt_with_free_text():
    # receipted_message_id alone marks a receipt even without esm_class 0x04.
    p = dlr(esm_class=0, short_message=b"hello",
            tlvs=[Tlv(_core.TLV_RECEIPTED_MESSAGE_ID, b"77\x00"), Tlv(_core.TLV_MESSAGE_STATE, b"\x02")])
    r = p.receipt()
    assert r.message_id == "77" and r.state_name == "DELIVERED" and r.stat is None


def test_not_a_receipt_is_none():
    assert dlr(esm_class=0).receipt() is None
    assert dlr(esm_class=0x40).receipt() is None  # UDHI, not a receipt type
    assert dlr(esm_class=0x08).receipt() is None  # SME delivery ack is another type
    sub = decode(_core.encode_submit_sm(1, "a", "b", RECEIPT, esm_class=0x04))
    assert sub.receipt() is None  # a submit_sm is never a receipt
    assert decode(_core.encode_enquire_link(3)).receipt() is None
    assert decode(_core.encode_submit_sm_resp(3, "id")).receipt() is None


def test_esm_class_type_bits_only():
    # Other bits (GSM features 0xC0, messaging mode 0x03) do not matter.
    assert dlr(esm_class=0x04 | 0x40 | 0x03).receipt() == parse_receipt(RECEIPT)


def test_malformed_receipt_raises():
    with pytest.raises(SmppError) as e:
        dlr(short_message=b"just some text").receipt()
    assert e.value.command_status == ESME_RX_P_APPN and e.value.field == "short_message"
    with pytest.raises(SmppError) as e:
        dlr(short_message=b"").receipt()
    assert e.value.command_status == ESME_RX_P_APPN


def test_bad_message_state_value_in_hand_built_pdu():
    # decode() refuses a 2-octet message_state, so build the Pdu by hand and
    # skip validation only where the codec allows: a vendor tag is fine, the
    # standard one is length-checked at construction.
    with pytest.raises(SmppError):
        Pdu("deliver_sm", 1, esm_class=4, short_message=RECEIPT,
            tlvs=[Tlv(_core.TLV_MESSAGE_STATE, b"\x01\x02")])


def test_data_sm_receipt_from_message_payload():
    p = decode(Pdu("data_sm", 4, source_addr="1", destination_addr="2", esm_class=0x04,
                   tlvs=[Tlv(_core.TLV_MESSAGE_PAYLOAD, RECEIPT),
                         Tlv(_core.TLV_MESSAGE_STATE, b"\x02")]).encode())
    r = p.receipt()
    assert r.message_id == "1A2B3C4D5E" and r.state == 2
    assert r == oracle(p)


def test_deliver_sm_receipt_in_message_payload():
    p = dlr(short_message=b"", tlvs=[Tlv(_core.TLV_MESSAGE_PAYLOAD, RECEIPT)])
    assert p.receipt() == parse_receipt(RECEIPT)


def test_framer_pdus_have_receipts():
    frames = _core.Framer().feed(dlr().encode() * 3)
    assert [f.receipt().message_id for f in frames] == ["1A2B3C4D5E"] * 3


ids = st.text(alphabet="0123456789abcdefABCDEF-", min_size=0, max_size=40)
texts = st.one_of(
    st.builds(
        lambda i, stat, err, extra: (f"id:{i} sub:001 dlvrd:001 submit date:2611251200 "
                                     f"done date:2611251201 stat:{stat} err:{err}{extra} text:x").encode(),
        ids, st.sampled_from(["DELIVRD", "UNDELIV", "EXPIRED", "enroute", "weird", "3"]),
        st.sampled_from(["000", "00B", "0x1F", "zz"]), st.sampled_from(["", " foo:bar"])),
    st.binary(max_size=120),
)


@settings(max_examples=300, deadline=None)
@given(
    text=texts,
    esm_class=st.sampled_from([0x00, 0x04, 0x44, 0x08, 0x07]),
    rid=st.one_of(st.none(), ids.map(lambda s: s.encode() + b"\x00")),
    state=st.one_of(st.none(), st.integers(0, 255)),
    nec=st.one_of(st.none(), st.binary(min_size=3, max_size=3)),
    in_payload=st.booleans(),
)
def test_agrees_with_parse_receipt(text, esm_class, rid, state, nec, in_payload):
    tlvs = []
    if rid is not None and len(rid) > 1:
        tlvs.append(Tlv(_core.TLV_RECEIPTED_MESSAGE_ID, rid))
    if state is not None:
        tlvs.append(Tlv(_core.TLV_MESSAGE_STATE, bytes([state])))
    if nec is not None:
        tlvs.append(Tlv(_core.TLV_NETWORK_ERROR_CODE, nec))
    if in_payload:
        tlvs.append(Tlv(_core.TLV_MESSAGE_PAYLOAD, text))
    p = dlr(esm_class=esm_class, short_message=b"" if in_payload else text, tlvs=tlvs)
    is_receipt = (esm_class & 0x3C) == 0x04 or p.tlv(_core.TLV_RECEIPTED_MESSAGE_ID) is not None
    try:
        want = oracle(p)
    except SmppError as e:
        want = e
    if not is_receipt:
        assert p.receipt() is None
    elif isinstance(want, SmppError):
        with pytest.raises(SmppError) as got:
            p.receipt()
        assert (got.value.command_status, got.value.field) == (want.command_status, want.field)
    else:
        assert p.receipt() == want
