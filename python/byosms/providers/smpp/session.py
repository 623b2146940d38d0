"""A sans-I/O SMPP 3.4 ESME session, in the style of h11.

The session knows the bind state, sequence numbers, the outstanding window and
which response answers which request. It does no I/O and reads no clock:

- ``receive_data(bytes) -> list[Event]`` decodes every complete PDU of a read
  in one call into the Rust framer and returns what happened;
- request methods (``bind()``, ``submit_sm()``, ``send()``, ``enquire_link()``,
  ``unbind()``) and ``respond()`` return the bytes to write;
- answers the session gives on its own (enquire_link_resp, unbind_resp,
  generic_nack, *_resp with ESME_RINVBNDSTS) are queued and handed out by
  ``data_to_send()``, so a caller writes them together with its own PDUs.

Time, where needed (response timeouts), is passed in as ``now``.

Legal PDUs per state are the tables below (SMPP 3.4 section 2.3, table 2-1).
A request the peer may not send in our state is answered with its ``*_resp``
carrying ESME_RINVBNDSTS ("incorrect bind status for given command", section
5.1.3), or with generic_nack when the command has no response
(outbind, alert_notification). A request whose body does not decode is
answered with generic_nack carrying the decode status: the header was fine but
there is no well-formed body to build a ``*_resp`` around. Calling a method
that is illegal in the current state raises ``LocalProtocolError``.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from byosms import _core
from byosms._core import Framer, Pdu, PduError, SmppError
from byosms.secret import Secret

#: SMPP 3.4 section 3.2: sequence_number runs 0x00000001..0x7FFFFFFF, then wraps.
SEQUENCE_MAX = 0x7FFFFFFF
#: Outstanding requests allowed at once (issue 4: default 10, configurable).
DEFAULT_WINDOW = 10
#: How many abandoned (timed-out) sequence numbers we remember, so that a late
#: response is recognised as late rather than reported as a protocol error.
LATE_RESPONSE_MEMORY = 4096
#: SMPP 3.4 section 5.2.4: interface_version 0x34 announces SMPP 3.4.
INTERFACE_VERSION = 0x34
#: Framer ceiling on command_length (see rust/src/framer.rs for why 64 KiB).
DEFAULT_MAX_COMMAND_LENGTH = 65536

RESPONSE_BIT = 0x80000000

# Command ids (SMPP 3.4 section 5.1.2.1). Bound to module globals once: the
# hot path compares them per PDU.
GENERIC_NACK = _core.CMD_GENERIC_NACK
BIND_RECEIVER = _core.CMD_BIND_RECEIVER
BIND_TRANSMITTER = _core.CMD_BIND_TRANSMITTER
BIND_TRANSCEIVER = _core.CMD_BIND_TRANSCEIVER
QUERY_SM = _core.CMD_QUERY_SM
SUBMIT_SM = _core.CMD_SUBMIT_SM
DELIVER_SM = _core.CMD_DELIVER_SM
UNBIND = _core.CMD_UNBIND
REPLACE_SM = _core.CMD_REPLACE_SM
CANCEL_SM = _core.CMD_CANCEL_SM
OUTBIND = _core.CMD_OUTBIND
ENQUIRE_LINK = _core.CMD_ENQUIRE_LINK
SUBMIT_MULTI = _core.CMD_SUBMIT_MULTI
ALERT_NOTIFICATION = _core.CMD_ALERT_NOTIFICATION
DATA_SM = _core.CMD_DATA_SM
SUBMIT_SM_RESP = SUBMIT_SM | RESPONSE_BIT
DELIVER_SM_RESP = DELIVER_SM | RESPONSE_BIT
DATA_SM_RESP = DATA_SM | RESPONSE_BIT
UNBIND_RESP = UNBIND | RESPONSE_BIT
ENQUIRE_LINK_RESP = ENQUIRE_LINK | RESPONSE_BIT

ESME_ROK = _core.ESME_ROK
ESME_RINVBNDSTS = _core.ESME_RINVBNDSTS
ESME_RINVCMDID = _core.ESME_RINVCMDID

_encode_submit_sm = _core.encode_submit_sm
_encode_generic_nack = _core.encode_generic_nack
_encode_enquire_link = _core.encode_enquire_link
_encode_enquire_link_resp = _core.encode_enquire_link_resp
_encode_deliver_sm_resp = _core.encode_deliver_sm_resp


class State(enum.Enum):
    OPEN = "open"  # connected, not bound
    BINDING = "binding"  # bind sent, waiting for bind_resp
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"  # unbind sent, waiting for unbind_resp
    CLOSED = "closed"  # unbound, or the stream is unusable


BOUND_STATES = frozenset({State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX})

#: bind_type -> (command id, state once bound)
BIND_TYPES: dict[str, tuple[int, State]] = {
    "transmitter": (BIND_TRANSMITTER, State.BOUND_TX),
    "receiver": (BIND_RECEIVER, State.BOUND_RX),
    "transceiver": (BIND_TRANSCEIVER, State.BOUND_TRX),
}
_BIND_TYPE_BY_COMMAND = {cid: name for name, (cid, _) in BIND_TYPES.items()}

# SMPP 3.4 table 2-1, from the ESME's side. enquire_link is tolerated before
# the bind completes (SMPP 5.0 allows it in OPEN; answering costs nothing and
# some SMSCs probe early).
_TX_REQUESTS = frozenset({SUBMIT_SM, SUBMIT_MULTI, DATA_SM, QUERY_SM, CANCEL_SM, REPLACE_SM})
_RX_FROM_PEER = frozenset({DELIVER_SM, DATA_SM, ALERT_NOTIFICATION})
_LINK = frozenset({ENQUIRE_LINK, UNBIND})

#: Requests the SMSC may send us, by our state.
PEER_REQUESTS: dict[State, frozenset[int]] = {
    State.OPEN: frozenset({OUTBIND, ENQUIRE_LINK}),
    State.BINDING: frozenset({ENQUIRE_LINK}),
    State.BOUND_TX: _LINK,
    State.BOUND_RX: _LINK | _RX_FROM_PEER,
    State.BOUND_TRX: _LINK | _RX_FROM_PEER,
    # Crossing unbinds are answered; enquire_link still proves liveness.
    State.UNBINDING: _LINK,
    State.CLOSED: frozenset(),
}

#: Requests we may send, by state.
LOCAL_REQUESTS: dict[State, frozenset[int]] = {
    State.OPEN: frozenset({BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER}),
    State.BINDING: frozenset(),
    State.BOUND_TX: _LINK | _TX_REQUESTS,
    State.BOUND_RX: _LINK,
    State.BOUND_TRX: _LINK | _TX_REQUESTS,
    State.UNBINDING: frozenset(),
    State.CLOSED: frozenset(),
}

#: States in which we may still answer a deliver_sm / data_sm received while
#: bound (the answer may come after we started unbinding).
_RESPOND_STATES = frozenset({State.BOUND_RX, State.BOUND_TRX, State.UNBINDING})

#: Requests that take a slot of the window. enquire_link and unbind don't:
#: liveness checks must get through when the window is full.
WINDOWED = _TX_REQUESTS

#: Requests without a response PDU (answered with generic_nack when illegal).
_NO_RESPONSE = frozenset({OUTBIND, ALERT_NOTIFICATION})


class LocalProtocolError(Exception):
    """We were asked to do something the protocol forbids in this state."""


class WindowFull(LocalProtocolError):
    """Every slot of the outstanding window is taken."""


# --- events ----------------------------------------------------------------


class Outstanding(msgspec.Struct, frozen=True):
    """A request we sent that has not been answered yet."""

    sequence_number: int
    command_id: int
    context: Any = None  # whatever the caller attached (e.g. a segment)
    sent_at: float = 0.0
    windowed: bool = False


class Bound(msgspec.Struct, frozen=True):
    bind_type: str
    system_id: str  # the SMSC's system_id from bind_resp
    interface_version: int | None = None  # sc_interface_version TLV, if sent


class BindFailed(msgspec.Struct, frozen=True):
    command_status: int
    generic_nack: bool = False  # answered with generic_nack instead of bind_resp


class Response(msgspec.Struct, frozen=True):
    """The peer answered one of our requests (possibly with generic_nack)."""

    request: Outstanding
    pdu: Pdu

    @property
    def command_status(self) -> int:
        return self.pdu.command_status

    @property
    def context(self) -> Any:
        return self.request.context


class PeerRequest(msgspec.Struct, frozen=True):
    """deliver_sm, data_sm or alert_notification from the SMSC. deliver_sm and
    data_sm must be answered with ``respond()``."""

    pdu: Pdu


class OutbindReceived(msgspec.Struct, frozen=True):
    """The SMSC asks us to bind (SMPP 3.4 section 4.1.7): answer with bind()."""

    system_id: str
    password: Secret


class Unbound(msgspec.Struct, frozen=True):
    initiator: str  # "local" (our unbind was answered) or "peer"
    unanswered: tuple[Outstanding, ...] = ()


class ProtocolError(msgspec.Struct, frozen=True):
    """The peer sent something invalid. If it was a request, an answer is
    queued in data_to_send(). ``request`` is set when an undecodable response
    answered one of our requests (which is then no longer outstanding)."""

    command_status: int
    message: str
    field: str | None = None
    command_id: int | None = None
    sequence_number: int | None = None
    fatal: bool = False  # framing lost: the connection must be closed
    request: Outstanding | None = None


class LateResponse(msgspec.Struct, frozen=True):
    """A response to a request we had already given up on (expired/abandoned)."""

    pdu: Pdu


Event = Bound | BindFailed | Response | PeerRequest | OutbindReceived | Unbound | ProtocolError | LateResponse


def _response_id(command_id: int) -> int:
    return command_id | RESPONSE_BIT


class SmppSession:
    """One ESME side of one SMPP connection. Not thread-safe; no I/O."""

    def __init__(
        self,
        *,
        window: int = DEFAULT_WINDOW,
        max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH,
        initial_sequence: int = 0,
    ) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        if not 0 <= initial_sequence <= SEQUENCE_MAX:
            raise ValueError(f"initial_sequence must be in 0..{SEQUENCE_MAX}")
        self.window = window
        self.state = State.OPEN
        self.bind_type: str | None = None
        self._framer = Framer(max_command_length)
        self._seq = initial_sequence
        # Insertion-ordered, so the oldest request is first (expiry scans stop early).
        self._outstanding: dict[int, Outstanding] = {}
        self._in_flight = 0
        self._abandoned: dict[int, None] = {}
        self._outbox: list[bytes] = []
        #: The sequence_number given to the last request sent.
        self.last_sequence_number = 0

    # --- introspection ---------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Windowed requests awaiting a response."""
        return self._in_flight

    @property
    def window_full(self) -> bool:
        return self._in_flight >= self.window

    @property
    def outstanding(self) -> list[Outstanding]:
        return list(self._outstanding.values())

    @property
    def is_bound(self) -> bool:
        return self.state in BOUND_STATES

    def can_send(self, command_id: int) -> bool:
        return command_id in LOCAL_REQUESTS[self.state]

    def data_to_send(self) -> bytes:
        """Answers the session queued on its own while receiving; empty if none."""
        if not self._outbox:
            return b""
        out = b"".join(self._outbox)
        self._outbox.clear()
        return out

    # --- sending -----------------------------------------------------------

    def _next_sequence(self) -> int:
        seq = self._seq
        while True:
            seq = seq + 1 if seq < SEQUENCE_MAX else 1
            if seq not in self._outstanding:
                break
        self._seq = seq
        return seq

    def _register(self, command_id: int, context: Any, now: float) -> int:
        if command_id not in LOCAL_REQUESTS[self.state]:
            raise LocalProtocolError(
                f"{_core.command_name(command_id)} may not be sent in state {self.state.value}"
            )
        windowed = command_id in WINDOWED
        if windowed and self._in_flight >= self.window:
            raise WindowFull(f"all {self.window} window slots are in use")
        seq = self._next_sequence()
        self._outstanding[seq] = Outstanding(seq, command_id, context, now, windowed)
        if windowed:
            self._in_flight += 1
        self.last_sequence_number = seq
        return seq

    def bind(
        self,
        bind_type: str,
        system_id: str,
        password: str | Secret,
        *,
        system_type: str = "",
        interface_version: int = INTERFACE_VERSION,
        addr_ton: int = 0,
        addr_npi: int = 0,
        address_range: str = "",
        now: float = 0.0,
    ) -> bytes:
        try:
            command_id, _ = BIND_TYPES[bind_type]
        except KeyError:
            raise ValueError(
                f"bind_type must be one of {', '.join(BIND_TYPES)}, got {bind_type!r}"
            ) from None
        if isinstance(password, Secret):
            password = password.reveal()
        pdu = Pdu(
            command_id,
            0,
            system_id=system_id,
            password=password,
            system_type=system_type,
            interface_version=interface_version,
            addr_ton=addr_ton,
            addr_npi=addr_npi,
            address_range=address_range,
        )
        # Encode before registering: a bad field must not leave a phantom request.
        seq = self._register(command_id, None, now)
        try:
            data = pdu.replace(sequence_number=seq).encode()
        except BaseException:
            self._forget(seq)
            raise
        self.state = State.BINDING
        self.bind_type = bind_type
        return data

    def submit_sm(
        self,
        source_addr: str,
        destination_addr: str,
        short_message: bytes,
        *,
        context: Any = None,
        now: float = 0.0,
        **fields: Any,
    ) -> bytes:
        """Encode a submit_sm in one call into the core (the hot path).
        ``fields`` are the keyword arguments of ``_core.encode_submit_sm``."""
        seq = self._register(SUBMIT_SM, context, now)
        try:
            return _encode_submit_sm(seq, source_addr, destination_addr, short_message, **fields)
        except BaseException:
            self._forget(seq)
            raise

    def send(self, pdu: Pdu, *, context: Any = None, now: float = 0.0) -> bytes:
        """Send any request PDU; its sequence_number is assigned here."""
        if pdu.is_response:
            raise LocalProtocolError("use respond() to answer the peer")
        if pdu.command_id in _BIND_TYPE_BY_COMMAND:
            raise LocalProtocolError("use bind() to bind")
        if pdu.command_id == UNBIND:
            return self.unbind(now=now)
        seq = self._register(pdu.command_id, context, now)
        try:
            return pdu.replace(sequence_number=seq).encode()
        except BaseException:
            self._forget(seq)
            raise

    def enquire_link(self, *, context: Any = None, now: float = 0.0) -> bytes:
        return _encode_enquire_link(self._register(ENQUIRE_LINK, context, now))

    def unbind(self, *, now: float = 0.0) -> bytes:
        seq = self._register(UNBIND, None, now)
        self.state = State.UNBINDING
        return Pdu(UNBIND, seq).encode()

    def respond(self, request: Pdu, command_status: int = ESME_ROK, **fields: Any) -> bytes:
        """Answer a deliver_sm or data_sm from the peer (``fields``: e.g.
        message_id for data_sm_resp)."""
        cid = request.command_id
        if self.state not in _RESPOND_STATES:
            raise LocalProtocolError(f"cannot answer in state {self.state.value}")
        if cid == DELIVER_SM and not fields:
            return _encode_deliver_sm_resp(request.sequence_number, command_status)
        if cid not in (DELIVER_SM, DATA_SM):
            raise LocalProtocolError(f"{request.command_name} is not answered with respond()")
        return Pdu(
            _response_id(cid), request.sequence_number, command_status=command_status, **fields
        ).encode()

    # --- time --------------------------------------------------------------

    def expire(self, now: float, timeout: float) -> list[Outstanding]:
        """Give up on requests sent at or before ``now - timeout``; their slots
        are freed and a late answer becomes a ``LateResponse``."""
        limit = now - timeout
        gone: list[Outstanding] = []
        for req in self._outstanding.values():
            if req.sent_at > limit:
                break
            gone.append(req)
        for req in gone:
            self.abandon(req.sequence_number)
        return gone

    def abandon(self, sequence_number: int) -> Outstanding | None:
        """Stop waiting for one request (e.g. its caller gave up)."""
        req = self._forget(sequence_number)
        if req is not None:
            self._abandoned[sequence_number] = None
            if len(self._abandoned) > LATE_RESPONSE_MEMORY:
                del self._abandoned[next(iter(self._abandoned))]
        return req

    def _forget(self, sequence_number: int) -> Outstanding | None:
        req = self._outstanding.pop(sequence_number, None)
        if req is not None and req.windowed:
            self._in_flight -= 1
        return req

    def connection_lost(self) -> list[Outstanding]:
        """The stream is gone: the session is CLOSED; returns what was unanswered."""
        self.state = State.CLOSED
        lost = list(self._outstanding.values())
        self._outstanding.clear()
        self._in_flight = 0
        return lost

    # --- receiving ---------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Decode everything complete in ``data`` (plus what was buffered)."""
        if self.state is State.CLOSED:
            return []
        try:
            items = self._framer.feed(data)
        except SmppError as e:
            # The framer failed on an earlier call: nothing more can be framed.
            self.state = State.CLOSED
            return [ProtocolError(e.command_status, str(e), e.field, fatal=True)]
        events: list[Event] = []
        for item in items:
            if self.state is State.CLOSED:
                break
            if type(item) is PduError:
                self._on_error(item, events)
            elif item.command_id & RESPONSE_BIT:
                self._on_response(item, events)
            else:
                self._on_request(item, events)
        return events

    def _on_response(self, pdu: Pdu, events: list[Event]) -> None:
        seq = pdu.sequence_number
        req = self._outstanding.get(seq)
        cid = pdu.command_id
        if req is None:
            if seq in self._abandoned:
                del self._abandoned[seq]
                events.append(LateResponse(pdu))
            else:
                # Never answer a response (SMPP 3.4 section 2.4: no resp to a resp).
                events.append(
                    ProtocolError(
                        ESME_ROK,
                        f"{pdu.command_name} with sequence_number {seq} answers no request",
                        command_id=cid,
                        sequence_number=seq,
                    )
                )
            return
        req_cid = req.command_id
        if cid != (req_cid | RESPONSE_BIT) and cid != GENERIC_NACK:
            events.append(
                ProtocolError(
                    ESME_ROK,
                    f"{pdu.command_name} with sequence_number {seq} cannot answer "
                    f"{_core.command_name(req_cid)}",
                    command_id=cid,
                    sequence_number=seq,
                )
            )
            return
        del self._outstanding[seq]
        if req.windowed:
            self._in_flight -= 1
        if req_cid in _BIND_TYPE_BY_COMMAND:
            self._on_bind_resp(pdu, events)
        elif req_cid == UNBIND:
            self._close_unbound("local", events)
        else:
            events.append(Response(req, pdu))

    def _on_bind_resp(self, pdu: Pdu, events: list[Event]) -> None:
        status = pdu.command_status
        if status != ESME_ROK or pdu.command_id == GENERIC_NACK:
            # SMPP 3.4 section 4.1: after a failed bind the ESME may try again.
            self.state = State.OPEN
            events.append(BindFailed(status, pdu.command_id == GENERIC_NACK))
            return
        _, self.state = BIND_TYPES[self.bind_type or "transceiver"]
        version_tlv = pdu.tlv(_core.TLV_SC_INTERFACE_VERSION)
        events.append(
            Bound(
                self.bind_type or "transceiver",
                pdu.system_id,
                version_tlv.as_int() if version_tlv is not None else None,
            )
        )

    def _close_unbound(self, initiator: str, events: list[Event]) -> None:
        unanswered = tuple(self._outstanding.values())
        self._outstanding.clear()
        self._in_flight = 0
        self.state = State.CLOSED
        events.append(Unbound(initiator, unanswered))

    def _on_request(self, pdu: Pdu, events: list[Event]) -> None:
        cid = pdu.command_id
        seq = pdu.sequence_number
        if cid not in PEER_REQUESTS[self.state]:
            if cid in _NO_RESPONSE:
                self._outbox.append(_encode_generic_nack(seq, ESME_RINVBNDSTS))
            else:
                self._outbox.append(
                    Pdu(_response_id(cid), seq, command_status=ESME_RINVBNDSTS).encode()
                )
            events.append(
                ProtocolError(
                    ESME_RINVBNDSTS,
                    f"{pdu.command_name} is not allowed in state {self.state.value}",
                    command_id=cid,
                    sequence_number=seq,
                )
            )
            return
        if cid == DELIVER_SM or cid == DATA_SM or cid == ALERT_NOTIFICATION:
            events.append(PeerRequest(pdu))
        elif cid == ENQUIRE_LINK:
            self._outbox.append(_encode_enquire_link_resp(seq))
        elif cid == UNBIND:
            self._outbox.append(Pdu(UNBIND_RESP, seq).encode())
            self._close_unbound("peer", events)
        elif cid == OUTBIND:
            events.append(OutbindReceived(pdu.system_id, Secret(pdu.password)))

    def _on_error(self, err: PduError, events: list[Event]) -> None:
        seq = err.sequence_number
        cid = err.command_id
        if err.fatal:
            # No resynchronisation marker in SMPP: answer, then the stream is dead.
            self._outbox.append(_encode_generic_nack(seq or 0, err.command_status))
            self.state = State.CLOSED
            events.append(
                ProtocolError(
                    err.command_status, err.message, err.field, cid, seq, fatal=True
                )
            )
            return
        request = None
        if cid is not None and cid & RESPONSE_BIT:
            # An undecodable answer still answers: free the request's slot.
            request = self._forget(seq) if seq is not None else None
        else:
            self._outbox.append(_encode_generic_nack(seq or 0, err.command_status))
        events.append(
            ProtocolError(
                err.command_status, err.message, err.field, cid, seq, request=request
            )
        )
