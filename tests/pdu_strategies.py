"""Hypothesis strategies for SMPP 3.4 PDUs, shared by the codec tests.

The layouts below are written out from the spec tables (SMPP 3.4 section 4)
on purpose, independently of the Rust tables, so the tests check the codec's
field order and limits against the spec rather than against itself.
"""

from __future__ import annotations

from hypothesis import strategies as st

import byosms._core as c

# Octet 0 ends a C-Octet string; everything else is fair game for a peer.
LATIN1_NO_NUL = st.characters(min_codepoint=1, max_codepoint=255)


def cstr(max_with_nul: int) -> st.SearchStrategy[str]:
    """A C-Octet string field value whose spec maximum (NUL included) is given."""
    return st.text(LATIN1_NO_NUL, max_size=max_with_nul - 1)


INT = st.integers(0, 255)
# schedule_delivery_time / validity_period / final_date: NULL or 16 characters.
TIME = st.one_of(st.just(""), st.text(LATIN1_NO_NUL, min_size=16, max_size=16))
SHORT_MESSAGE = st.binary(max_size=254)
SME_DEST = st.tuples(INT, INT, cstr(21))
DEST = st.one_of(SME_DEST, cstr(21))
UNSUCCESS = st.tuples(INT, INT, cstr(21), st.integers(0, 2**32 - 1))

_SM = {
    "service_type": cstr(6),
    "source_addr_ton": INT,
    "source_addr_npi": INT,
    "source_addr": cstr(21),
    "dest_addr_ton": INT,
    "dest_addr_npi": INT,
    "destination_addr": cstr(21),
    "esm_class": INT,
    "protocol_id": INT,
    "priority_flag": INT,
    "schedule_delivery_time": TIME,
    "validity_period": TIME,
    "registered_delivery": INT,
    "replace_if_present_flag": INT,
    "data_coding": INT,
    "sm_default_msg_id": INT,
    "short_message": SHORT_MESSAGE,
}
_BIND = {
    "system_id": cstr(16),
    "password": cstr(9),
    "system_type": cstr(13),
    "interface_version": INT,
    "addr_ton": INT,
    "addr_npi": INT,
    "address_range": cstr(41),
}

# command -> (mandatory fields in wire order with their strategies, takes TLVs)
LAYOUTS: dict[str, tuple[dict[str, st.SearchStrategy], bool]] = {
    "generic_nack": ({}, False),
    "bind_receiver": (_BIND, False),
    "bind_transmitter": (_BIND, False),
    "bind_transceiver": (_BIND, False),
    "bind_receiver_resp": ({"system_id": cstr(16)}, True),
    "bind_transmitter_resp": ({"system_id": cstr(16)}, True),
    "bind_transceiver_resp": ({"system_id": cstr(16)}, True),
    "outbind": ({"system_id": cstr(16), "password": cstr(9)}, False),
    "unbind": ({}, False),
    "unbind_resp": ({}, False),
    "enquire_link": ({}, False),
    "enquire_link_resp": ({}, False),
    "submit_sm": (_SM, True),
    "deliver_sm": (_SM, True),
    "submit_sm_resp": ({"message_id": cstr(65)}, True),
    "deliver_sm_resp": ({"message_id": cstr(65)}, True),
    "data_sm_resp": ({"message_id": cstr(65)}, True),
    "submit_multi": (
        {
            "service_type": cstr(6),
            "source_addr_ton": INT,
            "source_addr_npi": INT,
            "source_addr": cstr(21),
            "dest_addresses": st.lists(DEST, min_size=1, max_size=8),
            **{k: v for k, v in _SM.items() if k not in {
                "service_type", "source_addr_ton", "source_addr_npi", "source_addr",
                "dest_addr_ton", "dest_addr_npi", "destination_addr"}},
        },
        True,
    ),
    "submit_multi_resp": (
        {"message_id": cstr(65), "unsuccess_smes": st.lists(UNSUCCESS, max_size=5)},
        False,
    ),
    "data_sm": (
        {
            "service_type": cstr(6),
            "source_addr_ton": INT,
            "source_addr_npi": INT,
            "source_addr": cstr(65),
            "dest_addr_ton": INT,
            "dest_addr_npi": INT,
            "destination_addr": cstr(65),
            "esm_class": INT,
            "registered_delivery": INT,
            "data_coding": INT,
        },
        True,
    ),
    "query_sm": (
        {"message_id": cstr(65), "source_addr_ton": INT, "source_addr_npi": INT, "source_addr": cstr(21)},
        False,
    ),
    "query_sm_resp": (
        {"message_id": cstr(65), "final_date": TIME, "message_state": INT, "error_code": INT},
        False,
    ),
    "cancel_sm": (
        {
            "service_type": cstr(6),
            "message_id": cstr(65),
            "source_addr_ton": INT,
            "source_addr_npi": INT,
            "source_addr": cstr(21),
            "dest_addr_ton": INT,
            "dest_addr_npi": INT,
            "destination_addr": cstr(21),
        },
        False,
    ),
    "cancel_sm_resp": ({}, False),
    "replace_sm": (
        {
            "message_id": cstr(65),
            "source_addr_ton": INT,
            "source_addr_npi": INT,
            "source_addr": cstr(21),
            "schedule_delivery_time": TIME,
            "validity_period": TIME,
            "registered_delivery": INT,
            "sm_default_msg_id": INT,
            "short_message": SHORT_MESSAGE,
        },
        False,
    ),
    "replace_sm_resp": ({}, False),
    "alert_notification": (
        {
            "source_addr_ton": INT,
            "source_addr_npi": INT,
            "source_addr": cstr(65),
            "esme_addr_ton": INT,
            "esme_addr_npi": INT,
            "esme_addr": cstr(65),
        },
        True,
    ),
}

VENDOR_TLV = st.builds(c.Tlv, st.integers(0x1400, 0x3FFF), st.binary(max_size=40))
# Tags SMPP 3.4 does not define (SMPP 5.0 broadcast tags, unassigned ones)
# must pass through untouched as well.
UNKNOWN_TLV = st.builds(c.Tlv, st.sampled_from([0x0000, 0x0600, 0x0606, 0x1100, 0x4000, 0xFFFF]),
                        st.binary(max_size=10))
STANDARD_TLV = st.one_of(
    st.builds(c.Tlv, st.just(c.TLV_SAR_MSG_REF_NUM), st.binary(min_size=2, max_size=2)),
    st.builds(c.Tlv, st.just(c.TLV_SAR_TOTAL_SEGMENTS), st.binary(min_size=1, max_size=1)),
    st.builds(c.Tlv, st.just(c.TLV_SAR_SEGMENT_SEQNUM), st.binary(min_size=1, max_size=1)),
    st.builds(c.Tlv, st.just(c.TLV_QOS_TIME_TO_LIVE), st.binary(min_size=4, max_size=4)),
    st.builds(c.Tlv, st.just(c.TLV_NETWORK_ERROR_CODE), st.binary(min_size=3, max_size=3)),
    st.builds(c.Tlv, st.just(c.TLV_MESSAGE_STATE), st.binary(min_size=1, max_size=1)),
    st.builds(c.Tlv, st.just(c.TLV_RECEIPTED_MESSAGE_ID), st.binary(min_size=1, max_size=65)),
    st.builds(c.Tlv, st.just(c.TLV_ALERT_ON_MESSAGE_DELIVERY), st.just(b"")),
    st.builds(c.Tlv, st.just(c.TLV_CALLBACK_NUM), st.binary(min_size=4, max_size=19)),
)
TLVS = st.lists(st.one_of(VENDOR_TLV, UNKNOWN_TLV, STANDARD_TLV), max_size=6)
PAYLOAD_TLV = st.builds(c.Tlv, st.just(c.TLV_MESSAGE_PAYLOAD), st.binary(max_size=2000))


@st.composite
def pdu_kwargs(draw, command: str) -> dict:
    """Keyword arguments of a valid Pdu of this command."""
    fields, takes_tlvs = LAYOUTS[command]
    kw = {name: draw(s) for name, s in fields.items()}
    if takes_tlvs:
        tlvs = draw(TLVS)
        # message_payload only where short_message carries nothing.
        if not kw.get("short_message") and draw(st.booleans()):
            tlvs.insert(draw(st.integers(0, len(tlvs))), draw(PAYLOAD_TLV))
        kw["tlvs"] = tlvs
    return kw


@st.composite
def pdus(draw, commands=tuple(LAYOUTS)) -> c.Pdu:
    command = draw(st.sampled_from(commands))
    return c.Pdu(
        command,
        draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(0, 2**32 - 1)),
        **draw(pdu_kwargs(command)),
    )
