"""The sans-I/O ESME session: state table, window, sequence numbers, answers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byosms import _core
from byosms._core import Framer, Pdu
from byosms.providers.smpp.session import (
    SEQUENCE_MAX,
    BindFailed,
    Bound,
    LateResponse,
    LocalProtocolError,
    OutbindReceived,
    PeerRequest,
    ProtocolError,
    Response,
    SmppSession,
    State,
    Unbound,
    WindowFull,
)


def decode(data: bytes) -> Pdu:
    """Exactly one PDU, through a fresh framer."""
    [p] = Framer().feed(data)
    assert isinstance(p, Pdu), p
    return p


def pdus(data: bytes) -> list[Pdu]:
    """Split concatenated PDUs (independently of the session's framer)."""
    out = []
    while data:
        n = int.from_bytes(data[:4], "big")
        out.append(decode(data[:n]))
        data = data[n:]
    return out


def bound_session(bind_type: str = "transceiver", **kw) -> SmppSession:
    s = SmppSession(**kw)
    req = decode(s.bind(bind_type, "me", "pw"))
    resp = Pdu(req.command_id | 0x80000000, req.sequence_number, system_id="smsc")
    events = s.receive_data(resp.encode())
    assert isinstance(events[0], Bound)
    return s


def test_bind_request_and_bound_state():
    s = SmppSession()
    assert s.state is State.OPEN
    req = decode(s.bind("transceiver", "acct", "pw", system_type="VMA", addr_ton=1))
    assert req.command_name == "bind_transceiver"
    assert (req.system_id, req.password, req.system_type, req.interface_version) == (
        "acct", "pw", "VMA", 0x34
    )
    assert req.addr_ton == 1
    assert s.state is State.BINDING
    resp = Pdu(
        "bind_transceiver_resp",
        req.sequence_number,
        system_id="SMSC1",
        tlvs=[_core.Tlv(_core.TLV_SC_INTERFACE_VERSION, b"\x34")],
    )
    [ev] = s.receive_data(resp.encode())
    assert ev == Bound("transceiver", "SMSC1", 0x34)
    assert s.state is State.BOUND_TRX


@pytest.mark.parametrize(
    "bind_type,state",
    [("transmitter", State.BOUND_TX), ("receiver", State.BOUND_RX), ("transceiver", State.BOUND_TRX)],
)
def test_bind_types(bind_type, state):
    assert bound_session(bind_type).state is state


@pytest.mark.parametrize("status", [_core.ESME_RINVPASWD, _core.ESME_RINVSYSID, _core.ESME_RBINDFAIL])
def test_bind_refused_goes_back_to_open(status):
    s = SmppSession()
    req = decode(s.bind("transmitter", "acct", "bad"))
    [ev] = s.receive_data(
        Pdu("bind_transmitter_resp", req.sequence_number, command_status=status).encode()
    )
    assert ev == BindFailed(status)
    assert s.state is State.OPEN
    s.bind("transmitter", "acct", "good")  # may try again (SMPP 3.4 section 4.1)


def test_generic_nack_to_bind():
    s = SmppSession()
    req = decode(s.bind("receiver", "a", "b"))
    [ev] = s.receive_data(_core.encode_generic_nack(req.sequence_number, _core.ESME_RINVCMDID))
    assert ev == BindFailed(_core.ESME_RINVCMDID, generic_nack=True)


def test_bind_type_and_secret_password():
    from byosms.secret import Secret

    s = SmppSession()
    assert decode(s.bind("receiver", "a", Secret("hidden"))).password == "hidden"
    with pytest.raises(ValueError, match="bind_type"):
        SmppSession().bind("both", "a", "b")


@pytest.mark.parametrize(
    "state_of,action",
    [
        ("open", lambda s: s.submit_sm("1", "2", b"x")),
        ("open", lambda s: s.enquire_link()),
        ("open", lambda s: s.unbind()),
        ("binding", lambda s: s.submit_sm("1", "2", b"x")),
        ("binding", lambda s: s.bind("transceiver", "a", "b")),
        ("receiver", lambda s: s.submit_sm("1", "2", b"x")),
        ("receiver", lambda s: s.send(Pdu("query_sm", message_id="1", source_addr="1"))),
        ("transceiver", lambda s: s.bind("transceiver", "a", "b")),
        ("unbinding", lambda s: s.submit_sm("1", "2", b"x")),
        ("closed", lambda s: s.enquire_link()),
    ],
)
def test_illegal_local_requests(state_of, action):
    if state_of == "open":
        s = SmppSession()
    elif state_of == "binding":
        s = SmppSession()
        s.bind("transceiver", "a", "b")
    elif state_of == "unbinding":
        s = bound_session()
        s.unbind()
    elif state_of == "closed":
        s = bound_session()
        s.connection_lost()
    else:
        s = bound_session(state_of)
    before = s.state
    with pytest.raises(LocalProtocolError):
        action(s)
    assert s.state is before
    assert s.outstanding == [] or state_of in ("binding", "unbinding")


def test_submit_and_response_carry_context():
    s = bound_session()
    a = decode(s.submit_sm("111", "222", b"one", context="A"))
    b = decode(s.submit_sm("111", "333", b"two", context="B", data_coding=8))
    assert a.command_name == "submit_sm" and b.data_coding == 8
    assert s.in_flight == 2
    # Answers out of order still find their request.
    events = s.receive_data(
        _core.encode_submit_sm_resp(b.sequence_number, "id-b")
        + _core.encode_submit_sm_resp(a.sequence_number, "id-a")
    )
    assert [(e.context, e.pdu.message_id) for e in events] == [("B", "id-b"), ("A", "id-a")]
    assert all(isinstance(e, Response) and e.command_status == 0 for e in events)
    assert s.in_flight == 0


def test_generic_nack_answers_a_submit():
    s = bound_session()
    req = decode(s.submit_sm("1", "2", b"x", context=7))
    [ev] = s.receive_data(_core.encode_generic_nack(req.sequence_number, _core.ESME_RTHROTTLED))
    assert isinstance(ev, Response)
    assert ev.pdu.command_id == _core.CMD_GENERIC_NACK
    assert ev.command_status == _core.ESME_RTHROTTLED and ev.context == 7
    assert s.in_flight == 0


def test_window_full_and_freed():
    s = bound_session(window=3)
    seqs = [decode(s.submit_sm("1", "2", b"x")).sequence_number for _ in range(3)]
    assert s.window_full
    with pytest.raises(WindowFull):
        s.submit_sm("1", "2", b"x")
    # Liveness checks don't take a window slot.
    el = decode(s.enquire_link())
    assert el.command_name == "enquire_link"
    s.receive_data(_core.encode_submit_sm_resp(seqs[1], "x"))
    assert not s.window_full
    s.submit_sm("1", "2", b"x")
    assert s.window_full
    # A failed encode does not leak a slot.
    s.receive_data(_core.encode_submit_sm_resp(seqs[0], "x"))
    with pytest.raises(_core.SmppError):
        s.submit_sm("1" * 30, "2", b"x")
    assert s.in_flight == 2


def test_sequence_numbers_wrap():
    s = bound_session(initial_sequence=SEQUENCE_MAX - 3)
    # bind used MAX-2
    seqs = [decode(s.enquire_link()).sequence_number for _ in range(4)]
    assert seqs == [SEQUENCE_MAX - 1, SEQUENCE_MAX, 1, 2]


def test_sequence_wrap_skips_numbers_still_outstanding():
    s = bound_session(initial_sequence=0, window=5)
    first = decode(s.submit_sm("1", "2", b"x")).sequence_number  # 2 (bind took 1)
    assert first == 2
    s._seq = SEQUENCE_MAX  # as if two billion requests had gone by
    assert decode(s.submit_sm("1", "2", b"x")).sequence_number == 1
    assert decode(s.submit_sm("1", "2", b"x")).sequence_number == 3  # 2 is outstanding


@settings(max_examples=50, deadline=None)
@given(st.integers(0, SEQUENCE_MAX), st.integers(1, 300))
def test_sequence_numbers_always_valid_and_unique(start, n):
    s = bound_session(initial_sequence=start, window=1024)
    seen = set()
    for _ in range(n):
        seq = decode(s.submit_sm("1", "2", b"x")).sequence_number
        assert 1 <= seq <= SEQUENCE_MAX
        assert seq not in seen
        seen.add(seq)


def test_enquire_link_from_peer_is_answered():
    s = bound_session()
    assert s.receive_data(_core.encode_enquire_link(77)) == []
    [resp] = pdus(s.data_to_send())
    assert (resp.command_name, resp.sequence_number) == ("enquire_link_resp", 77)
    assert s.data_to_send() == b""


def test_unbind_from_peer():
    s = bound_session()
    req = decode(s.submit_sm("1", "2", b"x", context="lost"))
    [ev] = s.receive_data(Pdu("unbind", 9).encode())
    assert isinstance(ev, Unbound) and ev.initiator == "peer"
    assert [o.sequence_number for o in ev.unanswered] == [req.sequence_number]
    [resp] = pdus(s.data_to_send())
    assert (resp.command_name, resp.sequence_number) == ("unbind_resp", 9)
    assert s.state is State.CLOSED
    assert s.receive_data(_core.encode_enquire_link(1)) == []


def test_local_unbind():
    s = bound_session()
    req = decode(s.unbind())
    assert s.state is State.UNBINDING
    # A crossing enquire_link is still answered while unbinding.
    s.receive_data(_core.encode_enquire_link(5))
    assert pdus(s.data_to_send())[0].command_name == "enquire_link_resp"
    [ev] = s.receive_data(Pdu("unbind_resp", req.sequence_number).encode())
    assert ev == Unbound("local")
    assert s.state is State.CLOSED


def deliver(seq: int = 3, **kw) -> bytes:
    return _core.encode_deliver_sm(seq, "4915", "123", b"hi", **kw)


def test_deliver_sm_on_receiver_and_respond():
    s = bound_session("receiver")
    [ev] = s.receive_data(deliver(42))
    assert isinstance(ev, PeerRequest) and ev.pdu.short_message == b"hi"
    resp = decode(s.respond(ev.pdu))
    assert (resp.command_name, resp.sequence_number, resp.command_status) == (
        "deliver_sm_resp", 42, 0
    )
    nack = decode(s.respond(ev.pdu, _core.ESME_RX_T_APPN))
    assert nack.command_status == _core.ESME_RX_T_APPN
    data = Pdu("data_sm", 8, source_addr="1", destination_addr="2")
    [ev2] = s.receive_data(data.encode())
    resp2 = decode(s.respond(ev2.pdu, message_id="m1"))
    assert (resp2.command_name, resp2.message_id) == ("data_sm_resp", "m1")


@pytest.mark.parametrize(
    "bind_type,request_bytes,answer",
    [
        ("transmitter", deliver(11), "deliver_sm_resp"),
        ("transmitter", Pdu("data_sm", 11, source_addr="1", destination_addr="2").encode(), "data_sm_resp"),
        ("transmitter", Pdu("alert_notification", 11, source_addr="1", esme_addr="2").encode(), "generic_nack"),
        ("transceiver", Pdu("outbind", 11, system_id="s", password="p").encode(), "generic_nack"),
        ("transceiver", Pdu("submit_sm", 11, source_addr="1", destination_addr="2").encode(), "submit_sm_resp"),
        ("transceiver", Pdu("bind_transmitter", 11, system_id="s", password="p").encode(), "bind_transmitter_resp"),
    ],
)
def test_illegal_peer_request_is_answered_with_rinvbndsts(bind_type, request_bytes, answer):
    s = bound_session(bind_type)
    before = s.state
    [ev] = s.receive_data(request_bytes)
    assert isinstance(ev, ProtocolError) and not ev.fatal
    assert ev.command_status == _core.ESME_RINVBNDSTS
    [resp] = pdus(s.data_to_send())
    assert (resp.command_name, resp.sequence_number, resp.command_status) == (
        answer, 11, _core.ESME_RINVBNDSTS
    )
    assert s.state is before


def test_deliver_sm_before_bind_is_refused():
    s = SmppSession()
    s.bind("receiver", "a", "b")
    [ev] = s.receive_data(deliver(2))
    assert isinstance(ev, ProtocolError)
    assert pdus(s.data_to_send())[0].command_status == _core.ESME_RINVBNDSTS


def test_outbind_in_open_state():
    s = SmppSession()
    [ev] = s.receive_data(Pdu("outbind", 1, system_id="smsc", password="pw").encode())
    assert isinstance(ev, OutbindReceived)
    assert ev.system_id == "smsc" and ev.password.reveal() == "pw"
    assert "pw" not in repr(ev)
    assert decode(s.bind("receiver", "me", "x")).command_name == "bind_receiver"


def test_response_to_nothing_is_reported_not_answered():
    s = bound_session()
    [ev] = s.receive_data(_core.encode_submit_sm_resp(999, "x"))
    assert isinstance(ev, ProtocolError) and ev.sequence_number == 999
    assert s.data_to_send() == b""


def test_response_of_wrong_command_keeps_request_outstanding():
    s = bound_session()
    req = decode(s.submit_sm("1", "2", b"x"))
    [ev] = s.receive_data(_core.encode_deliver_sm_resp(req.sequence_number))
    assert isinstance(ev, ProtocolError)
    assert s.in_flight == 1


def test_expire_and_late_response():
    s = bound_session()
    a = decode(s.submit_sm("1", "2", b"x", now=10.0, context="a"))
    b = decode(s.submit_sm("1", "2", b"x", now=12.0, context="b"))
    assert s.expire(now=15.0, timeout=10.0) == []
    gone = s.expire(now=21.0, timeout=10.0)
    assert [o.context for o in gone] == ["a"]
    assert s.in_flight == 1
    [late] = s.receive_data(_core.encode_submit_sm_resp(a.sequence_number, "x"))
    assert isinstance(late, LateResponse)
    [ok] = s.receive_data(_core.encode_submit_sm_resp(b.sequence_number, "y"))
    assert isinstance(ok, Response) and ok.context == "b"


def test_garbage_is_fatal():
    s = bound_session()
    s.submit_sm("1", "2", b"x")
    [ev] = s.receive_data(b"\x00\x00\x00\x05junk")
    assert isinstance(ev, ProtocolError) and ev.fatal
    assert ev.command_status == _core.ESME_RINVCMDLEN
    [nack] = pdus(s.data_to_send())
    assert (nack.command_name, nack.command_status) == ("generic_nack", _core.ESME_RINVCMDLEN)
    assert s.state is State.CLOSED
    assert [o.command_id for o in s.connection_lost()] == [_core.CMD_SUBMIT_SM]


def test_unknown_command_gets_generic_nack_and_session_goes_on():
    s = bound_session()
    bogus = (16).to_bytes(4, "big") + (0x00000777).to_bytes(4, "big") + bytes(4) + (5).to_bytes(4, "big")
    [ev] = s.receive_data(bogus + _core.encode_enquire_link(6))
    assert isinstance(ev, ProtocolError) and not ev.fatal
    nack, el = pdus(s.data_to_send())
    assert (nack.command_name, nack.sequence_number, nack.command_status) == (
        "generic_nack", 5, _core.ESME_RINVCMDID
    )
    assert el.command_name == "enquire_link_resp"
    assert s.state is State.BOUND_TRX


def test_undecodable_response_frees_its_request():
    s = bound_session()
    req = decode(s.submit_sm("1", "2", b"x", context="seg"))
    # submit_sm_resp whose message_id is 70 octets without NUL: too long (max 65).
    body = b"A" * 70 + b"\0"
    bad = (16 + len(body)).to_bytes(4, "big") + (0x80000004).to_bytes(4, "big") + bytes(4) + \
        req.sequence_number.to_bytes(4, "big") + body
    [ev] = s.receive_data(bad)
    assert isinstance(ev, ProtocolError) and ev.request is not None
    assert ev.request.context == "seg"
    assert s.in_flight == 0
    assert s.data_to_send() == b""  # responses are never answered


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=30))
def test_events_do_not_depend_on_read_boundaries(cuts):
    """The same byte stream split anywhere yields the same events."""

    def run(chunks):
        s = bound_session("transceiver", window=64)
        seqs = [decode(s.submit_sm("1", "2", b"x", context=i)).sequence_number for i in range(8)]
        stream = b"".join(
            _core.encode_submit_sm_resp(q, f"id{q}") + deliver(100 + q) for q in reversed(seqs)
        ) + _core.encode_enquire_link(500)
        events = []
        pos = 0
        for c in chunks:
            events += s.receive_data(stream[pos : pos + c])
            pos += c
        events += s.receive_data(stream[pos:])
        return [
            (type(e).__name__, getattr(e, "context", None), e.pdu.sequence_number)
            for e in events
        ], s.data_to_send()

    assert run(cuts) == run([10**6])
