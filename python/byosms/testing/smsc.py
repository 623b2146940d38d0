"""An SMSC simulator: an SMPP 3.4 server on trio, for tests, benches and demos.

    async with SmscSimulator(system_id="test", password="secret") as sim:
        ...connect to ("127.0.0.1", sim.port)...

or ``port = (await nursery.start(sim.serve)).port``.

It accepts binds with configured credentials, answers submit_sm / data_sm with
message ids, sends a delivery receipt per segment after a delay with
configurable final states, sends MO messages on request, injects faults on
demand (``sim.faults``) and counts what it saw (``sim.stats``).

Benches must never measure the simulator instead of the engine, so the hot
path is shaped for throughput: one ``Framer.feed`` per socket read; the
responses of one read leave in one write; receipts wait in one heap drained by
a single timer task that writes each connection's receipts of a tick in one
write; no per-message task; per-message statistics are counted per batch.
Each connection has one writer task, so everything bound for one socket
(responses, receipts, MO, enquire_link) coalesces into as few ``send_all`` as
the peer's reading allows.
"""

from __future__ import annotations

import heapq
import itertools
import random
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import trio

from byosms import _core
from byosms._core import Framer, Pdu, PduError, Tlv

# Command ids (SMPP 3.4 section 5.1.2.1), bound once for the hot path.
RESPONSE_BIT = 0x80000000
GENERIC_NACK = _core.CMD_GENERIC_NACK
BIND_RECEIVER = _core.CMD_BIND_RECEIVER
BIND_TRANSMITTER = _core.CMD_BIND_TRANSMITTER
BIND_TRANSCEIVER = _core.CMD_BIND_TRANSCEIVER
SUBMIT_SM = _core.CMD_SUBMIT_SM
DELIVER_SM = _core.CMD_DELIVER_SM
DELIVER_SM_RESP = DELIVER_SM | RESPONSE_BIT
DATA_SM = _core.CMD_DATA_SM
DATA_SM_RESP = DATA_SM | RESPONSE_BIT
UNBIND = _core.CMD_UNBIND
UNBIND_RESP = UNBIND | RESPONSE_BIT
ENQUIRE_LINK = _core.CMD_ENQUIRE_LINK
ENQUIRE_LINK_RESP = ENQUIRE_LINK | RESPONSE_BIT

ESME_ROK = _core.ESME_ROK
ESME_RINVBNDSTS = _core.ESME_RINVBNDSTS
ESME_RALYBND = _core.ESME_RALYBND
ESME_RBINDFAIL = _core.ESME_RBINDFAIL
ESME_RINVPASWD = _core.ESME_RINVPASWD
ESME_RINVSYSID = _core.ESME_RINVSYSID
ESME_RINVCMDID = _core.ESME_RINVCMDID
ESME_RTHROTTLED = _core.ESME_RTHROTTLED
ESME_RMSGQFUL = _core.ESME_RMSGQFUL
ESME_RSYSERR = _core.ESME_RSYSERR

TLV_RECEIPTED_MESSAGE_ID = _core.TLV_RECEIPTED_MESSAGE_ID
TLV_MESSAGE_STATE = _core.TLV_MESSAGE_STATE
TLV_NETWORK_ERROR_CODE = _core.TLV_NETWORK_ERROR_CODE
TLV_SC_INTERFACE_VERSION = _core.TLV_SC_INTERFACE_VERSION
TLV_SAR_MSG_REF_NUM = _core.TLV_SAR_MSG_REF_NUM
TLV_SAR_TOTAL_SEGMENTS = _core.TLV_SAR_TOTAL_SEGMENTS
TLV_SAR_SEGMENT_SEQNUM = _core.TLV_SAR_SEGMENT_SEQNUM
TLV_MESSAGE_PAYLOAD = _core.TLV_MESSAGE_PAYLOAD

#: SMPP 3.4 section 5.2.12: esm_class bits 2-5 = 0001 marks a delivery receipt.
ESM_CLASS_RECEIPT = 0x04
#: 3GPP TS 23.040 9.2.3.23 / SMPP 3.4 5.2.12: UDH indicator.
ESM_CLASS_UDHI = 0x40
#: SMPP 3.4 section 3.2: sequence numbers 1..0x7FFFFFFF.
SEQUENCE_MAX = 0x7FFFFFFF
#: SMPP 3.4 appendix B: the receipt's text: field carries the first 20 characters.
RECEIPT_TEXT_LEN = 20
#: SMPP 3.4 section 5.2.28 message_state values, keyed by the receipt stat: word.
MESSAGE_STATE = {
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}
#: SMPP 3.4 section 5.3.2.31: network type 3 = GSM in network_error_code.
NETWORK_TYPE_GSM = 3
#: Bytes per socket read: large reads mean fewer Framer crossings per PDU.
READ_SIZE = 256 * 1024
#: Writes waiting for a slow reader before the connection's reader stops reading
#: (backpressure instead of unbounded memory).
MAX_PENDING_WRITES = 512
#: Receipts kept for a system_id that has no receiver bind right now.
MAX_PARKED_RECEIPTS = 100_000
#: Garbage sent by the garbage fault: a command_length of 5 (< 16) cannot frame.
DEFAULT_GARBAGE = b"\x00\x00\x00\x05garbage\xff\xfe"

FinalState = str | tuple[str, str]

_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


def _tcp_socket(stream: trio.abc.Stream) -> Any:
    """TCP_NODELAY on the socket under ``stream``: every write leaves at
    once. Returns the socket if TCP_QUICKACK exists (set after each read:
    ESMEs that write with Nagle on, like smpp34's client, otherwise wait
    ~40 ms for our delayed ACK), else None."""
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    sock = getattr(stream, "socket", None)
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if _QUICKACK is not None:
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            return sock
    except OSError:
        pass
    return None


def _default_err(stat: str) -> str:
    return "000" if stat in ("DELIVRD", "ACCEPTD", "ENROUTE") else "001"


def _final_state_picker(
    spec: None | str | Mapping[FinalState, float] | Callable[[Pdu], FinalState],
    rng: random.Random,
) -> tuple[tuple[str, str] | None, Callable[[Pdu], tuple[str, str]] | None]:
    """Returns (constant, picker): exactly one is set. The constant saves a
    call per receipt in the common all-delivered case."""

    def norm(v: FinalState) -> tuple[str, str]:
        stat, err = (v, None) if isinstance(v, str) else v
        stat = stat.upper()
        if stat not in MESSAGE_STATE:
            raise ValueError(f"unknown receipt stat {stat!r}; known: {', '.join(MESSAGE_STATE)}")
        return stat, err if err is not None else _default_err(stat)

    if spec is None:
        return ("DELIVRD", "000"), None
    if isinstance(spec, (str, tuple)):
        return norm(spec), None
    if isinstance(spec, Mapping):
        population = [norm(k) for k in spec]
        weights = list(itertools.accumulate(float(w) for w in spec.values()))
        if not weights or weights[-1] <= 0:
            raise ValueError("final_state weights must add up to more than 0")
        choices = rng.choices
        return None, lambda _pdu: choices(population, cum_weights=weights)[0]
    if callable(spec):
        return None, lambda pdu: norm(spec(pdu))
    raise TypeError("final_state: a stat, (stat, err), {stat: weight} or a callable")


class Faults:
    """Faults to inject, changeable at any time (``sim.faults.throttle_next = 5``).

    Counters (``*_next``) apply to that many upcoming submit_sm/data_sm and
    count down; rates are per-message probabilities. Precedence when several
    apply: drop, garbage, throttle, queue full, failure, receipt-before-resp.
    """

    _FIELDS = (
        "throttle_next", "throttle_rate", "queue_full_next", "queue_full_rate",
        "fail_next", "fail_rate", "garbage_next", "receipt_before_response_next",
        "drop_after",
    )

    def __init__(self) -> None:
        self._active = False
        self.throttle_next = 0  # answer ESME_RTHROTTLED
        self.throttle_rate = 0.0
        self.queue_full_next = 0  # answer ESME_RMSGQFUL
        self.queue_full_rate = 0.0
        self.fail_next = 0  # answer fail_status
        self.fail_rate = 0.0
        self.fail_status = ESME_RSYSERR
        self.garbage_next = 0  # answer with `garbage` bytes instead of a response
        self.garbage = DEFAULT_GARBAGE
        self.receipt_before_response_next = 0  # receipt first, resp `hold` seconds later
        self.hold = 0.05
        # Drop the connection at the Nth next submit (unanswered; earlier ones are answered).
        self.drop_after: int | None = None
        self.response_delay = 0.0  # every response leaves this much later
        self.pause_responses = False  # hold every response until sim.release_responses()
        self.ignore_binds = False  # never answer a bind (bind timeout)
        self.ignore_enquire_link = False  # never answer enquire_link (peer looks dead)
        self.reject_binds: int | None = None  # answer every bind with this status

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in Faults._FIELDS:
            object.__setattr__(
                self, "_active", any(getattr(self, f, 0) for f in Faults._FIELDS)
            )

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]


class SystemStats:
    """Counters for one system_id."""

    __slots__ = (
        "binds", "bind_failures", "unbinds", "submit_sm", "data_sm", "rejected",
        "receipts_sent", "receipts_acked", "receipts_parked", "delivered", "undelivered",
        "mo_sent", "mo_acked", "enquire_link",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class Stats:
    """What the simulator saw. Totals are sums over ``by_system``."""

    def __init__(self) -> None:
        self.by_system: dict[str, SystemStats] = {}
        self.connections = 0
        self.bind_failures = 0  # including unknown system_ids
        self.protocol_errors = 0
        self.tls_failures = 0
        self.dropped = 0  # connections dropped by the drop fault
        self.receipts_dropped = 0  # parked receipts evicted (bounded parking)

    def system(self, system_id: str) -> SystemStats:
        st = self.by_system.get(system_id)
        if st is None:
            st = self.by_system[system_id] = SystemStats()
        return st

    def __getattr__(self, name: str) -> int:
        if name in SystemStats.__slots__:
            return sum(getattr(s, name) for s in self.by_system.values())
        raise AttributeError(name)

    def as_dict(self) -> dict[str, Any]:
        totals = {name: getattr(self, name) for name in SystemStats.__slots__}
        totals.update(
            connections=self.connections,
            bind_failures=self.bind_failures,
            protocol_errors=self.protocol_errors,
            tls_failures=self.tls_failures,
            dropped=self.dropped,
            receipts_dropped=self.receipts_dropped,
            by_system={k: v.as_dict() for k, v in self.by_system.items()},
        )
        return totals


class MoResult:
    """What send_mo sent: the concatenation reference, the parts in the order
    sent (1-based part numbers) and, when awaited, each part's deliver_sm_resp
    command_status (None if the connection went away first)."""

    def __init__(self, reference: int, parts: list[int], count: int) -> None:
        self.reference = reference
        self.parts = parts
        self.count = count
        self.statuses: dict[int, int | None] = {}

    def __repr__(self) -> str:
        return f"MoResult(reference={self.reference}, parts={self.parts}, statuses={self.statuses})"


class _MoWait:
    __slots__ = ("pending", "event", "result")

    def __init__(self, result: MoResult, pending: int) -> None:
        self.result = result
        self.pending = pending
        self.event = trio.Event()


class Connection:
    """One ESME connection to the simulator (read-only to tests)."""

    def __init__(self, sim: SmscSimulator, stream: trio.abc.Stream) -> None:
        self.sim = sim
        self.stream = stream
        self.framer = Framer()
        self.system_id: str | None = None
        self.bind_type: str | None = None  # "transmitter" | "receiver" | "transceiver"
        self.stats: SystemStats | None = None
        self.can_submit = False
        self.can_receive = False
        self.closed = False
        self._seq = 0
        self._out: list[bytes] = []
        self._wake = trio.Event()
        self._drained = trio.Event()
        self._sending = False
        self._scope: trio.CancelScope | None = None
        self._mo_waits: dict[int, tuple[_MoWait, int]] = {}
        #: Receipts written but not answered, by sequence number: parked again
        #: when the connection closes, as an SMSC redelivers an unanswered
        #: deliver_sm (SMPP 3.4 section 4.6.2).
        self._unacked: dict[int, tuple[Any, ...]] = {}

    def __repr__(self) -> str:
        return f"<Connection {self.system_id!r} {self.bind_type} closed={self.closed}>"

    def next_seq(self) -> int:
        seq = self._seq + 1 if self._seq < SEQUENCE_MAX else 1
        self._seq = seq
        return seq

    # --- writing ---------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not self.closed:
            self._out.append(data)
            self._wake.set()

    async def _writer(self) -> None:
        send_all = self.stream.send_all
        while True:
            while not self._out:
                self._drained.set()
                self._wake = trio.Event()
                await self._wake.wait()
            data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
            self._out = []
            self._sending = True
            await send_all(data)
            self._sending = False

    async def _flush(self) -> None:
        while self._out or self._sending:
            self._drained = trio.Event()
            await self._drained.wait()

    def drop(self) -> None:
        """Close abruptly (no unbind)."""
        self.closed = True
        if self._scope is not None:
            self._scope.cancel()

    # --- reading -----------------------------------------------------------

    async def _reader(self) -> None:
        receive_some = self.stream.receive_some
        feed = self.framer.feed
        sim = self.sim
        quick = _tcp_socket(self.stream)
        setsockopt = quick.setsockopt if quick is not None else None
        while True:
            data = await receive_some(READ_SIZE)
            if not data:
                return
            if setsockopt is not None:
                try:  # the kernel clears it again: once per read
                    setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                except OSError:
                    setsockopt = None
            items = feed(data)
            out: list[bytes] = []
            action = self._handle(items, out)
            if out:
                chunk = b"".join(out)
                if sim.faults.pause_responses:
                    sim._held.append((self, chunk))
                elif sim.faults.response_delay > 0:
                    sim._schedule_bytes(self, chunk, sim.faults.response_delay)
                else:
                    self.write(chunk)
            if action is not None:
                # What was answered before the close / drop point still goes out.
                with trio.move_on_after(1.0):
                    await self._flush()
                if action == "drop":
                    self.drop()
                return
            if len(self._out) > MAX_PENDING_WRITES:
                await self._flush()

    def _handle(self, items: list[Any], out: list[bytes]) -> str | None:
        """The hot loop: every PDU of one read. Returns "close" to close after
        flushing, "drop" to drop now, None to go on."""
        sim = self.sim
        faults = sim.faults
        n_submit = 0
        receipts = None
        for p in items:
            if type(p) is PduError:
                sim.stats.protocol_errors += 1
                if p.fatal:
                    out.append(_core.encode_generic_nack(p.sequence_number or 0, p.command_status))
                    return "close"
                if not (p.command_id or 0) & RESPONSE_BIT:  # never answer a response
                    out.append(_core.encode_generic_nack(p.sequence_number or 0, p.command_status))
                continue
            cid = p.command_id
            if cid == SUBMIT_SM:
                if sim.arrivals is not None:
                    sim.arrivals.append(trio.current_time())
                if not self.can_submit:
                    out.append(_core.encode_submit_sm_resp(p.sequence_number, "", ESME_RINVBNDSTS))
                    continue
                if faults._active:
                    verdict = sim._fault(self, p, out)
                    if verdict is not None:
                        if verdict == "drop":
                            self.stats.submit_sm += n_submit  # type: ignore[union-attr]
                            return "drop"
                        continue
                n_submit += 1
                mid = sim._next_id()
                out.append(_core.encode_submit_sm_resp(p.sequence_number, mid))
                if p.registered_delivery & 0x03:
                    if receipts is None:
                        receipts = []
                    receipts.append((mid, p))
                if sim._record is not None:
                    sim._record.append(p)
            elif cid == DELIVER_SM_RESP or cid == GENERIC_NACK:
                self._on_deliver_resp(p)
            elif cid == ENQUIRE_LINK:
                if self.stats is not None:
                    self.stats.enquire_link += 1
                if not faults.ignore_enquire_link:
                    out.append(_core.encode_enquire_link_resp(p.sequence_number))
            else:
                action = self._slow(p, out)
                if action is not None:
                    if n_submit:
                        self.stats.submit_sm += n_submit  # type: ignore[union-attr]
                    return action
        if n_submit:
            self.stats.submit_sm += n_submit  # type: ignore[union-attr]
        if receipts is not None:
            sim._schedule_receipts(self, receipts)
        return None

    def _on_deliver_resp(self, p: Pdu) -> None:
        w = self._mo_waits.pop(p.sequence_number, None)
        if w is None:
            entry = self._unacked.pop(p.sequence_number, None)
            if entry is not None and p.command_status != ESME_ROK:
                self.sim._park(self.system_id or "", entry)  # refused: try again later
            elif self.stats is not None and p.command_id == DELIVER_SM_RESP:
                self.stats.receipts_acked += 1
            return
        wait, part = w
        if self.stats is not None:
            self.stats.mo_acked += 1
        wait.result.statuses[part] = p.command_status
        wait.pending -= 1
        if wait.pending == 0:
            wait.event.set()

    def _slow(self, p: Pdu, out: list[bytes]) -> str | None:
        cid = p.command_id
        seq = p.sequence_number
        sim = self.sim
        if cid in (BIND_TRANSMITTER, BIND_RECEIVER, BIND_TRANSCEIVER):
            sim._bind(self, p, out)
        elif cid == DATA_SM:
            if not self.can_submit:
                out.append(Pdu(DATA_SM_RESP, seq, command_status=ESME_RINVBNDSTS).encode())
                return None
            if sim.faults._active:
                verdict = sim._fault(self, p, out)
                if verdict is not None:
                    return "drop" if verdict == "drop" else None
            self.stats.data_sm += 1  # type: ignore[union-attr]
            mid = sim._next_id()
            out.append(Pdu(DATA_SM_RESP, seq, message_id=mid).encode())
            if p.registered_delivery & 0x03:
                sim._schedule_receipts(self, [(mid, p)])
            if sim._record is not None:
                sim._record.append(p)
        elif cid == UNBIND:
            if self.stats is not None:
                self.stats.unbinds += 1
            out.append(Pdu(UNBIND_RESP, seq).encode())
            sim._unregister(self)
            return "close"
        elif cid == UNBIND_RESP:
            sim._unregister(self)
            return "close"
        elif cid == ENQUIRE_LINK_RESP or cid == DATA_SM_RESP:
            pass
        elif cid & RESPONSE_BIT:
            sim.stats.protocol_errors += 1
        else:
            # A valid SMPP 3.4 request this simulator does not implement
            # (submit_multi, query_sm, cancel_sm, replace_sm...).
            sim.stats.protocol_errors += 1
            out.append(_core.encode_generic_nack(seq, ESME_RINVCMDID))
        return None

    async def _enquirer(self, interval: float) -> None:
        while True:
            await trio.sleep(interval)
            self.write(_core.encode_enquire_link(self.next_seq()))


class SmscSimulator:
    """An SMPP 3.4 SMSC for tests and benches. See the module docstring.

    Parameters:
        system_id, password: the account accepted for binds; ``accounts`` adds
            more (system_id -> password).
        host, port: where to listen; port 0 picks a free one (see ``.port``).
        ssl_context: serve TLS with this server context (None: plain TCP).
        id_format: message ids as "hex" (lowercase) or "decimal".
        receipt_id_format: id format in receipts (default: id_format), to
            exercise hex/decimal id mismatches.
        first_id: the first message id's numeric value.
        receipt_delay: seconds from submit to receipt, or (low, high) for a
            uniform random delay.
        final_state: receipts' final state: a stat ("DELIVRD", "UNDELIV",
            "EXPIRED", "REJECTD"...), (stat, err), {stat or (stat, err): weight},
            or a callable(submit Pdu) -> stat or (stat, err). Without an err,
            success states get "000" and failures "001".
        receipt_route: "same" (the submitting bind if it can receive, else
            another), "other" (another receiving bind of the system_id when
            there is one), "any" (round robin over receiving binds).
        receipt_text: put the first 20 characters of GSM/ASCII messages in
            the receipt text.
        record: keep the last N submit_sm/data_sm PDUs in ``.received``.
        record_arrivals: keep the arrival time (trio clock, when the read that
            carried it is handled) of every submit_sm in ``.arrivals``,
            throttled and faulted ones included: what an S4 check counts.
        max_binds: binds allowed per system_id (ESME_RBINDFAIL beyond).
        enquire_link_interval: send enquire_link this often on each bind.
        seed: seed of the random generator (rates, weights, delays, MO order).
    """

    def __init__(
        self,
        *,
        system_id: str = "byosms",
        password: str = "secret",
        accounts: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        id_format: str = "hex",
        receipt_id_format: str | None = None,
        first_id: int = 0x10000000,
        receipt_delay: float | tuple[float, float] = 0.0,
        final_state: Any = None,
        receipt_route: str = "same",
        receipt_text: bool = True,
        record: int | None = None,
        record_arrivals: bool = False,
        max_binds: int | None = None,
        enquire_link_interval: float | None = None,
        smsc_system_id: str = "byosms-sim",
        seed: int | None = None,
    ) -> None:
        for name, fmt in (("id_format", id_format), ("receipt_id_format", receipt_id_format)):
            if fmt not in ("hex", "decimal", None):
                raise ValueError(f"{name} must be 'hex' or 'decimal', got {fmt!r}")
        if receipt_route not in ("same", "other", "any"):
            raise ValueError("receipt_route must be 'same', 'other' or 'any'")
        self.accounts: dict[str, str] = {system_id: password}
        if accounts:
            self.accounts.update(accounts)
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.id_format = id_format
        self.receipt_id_format = receipt_id_format or id_format
        self._id_fmt = "x" if id_format == "hex" else "d"
        self._id = first_id
        self.receipt_delay = receipt_delay
        self.rng = random.Random(seed)
        self._final_const, self._final_pick = _final_state_picker(final_state, self.rng)
        self.receipt_route = receipt_route
        self.receipt_text = receipt_text
        self.max_binds = max_binds
        self.enquire_link_interval = enquire_link_interval
        self.smsc_system_id = smsc_system_id
        self.faults = Faults()
        self.stats = Stats()
        self._record: deque[Pdu] | None = deque(maxlen=record) if record else None
        self.arrivals: list[float] | None = [] if record_arrivals else None
        self.connections: list[Connection] = []
        self._receivers: dict[str, list[Connection]] = {}
        self._rr = 0
        self._parked: dict[str, deque[tuple[Any, ...]]] = {}
        self._heap: list[tuple[Any, ...]] = []
        self._held: list[tuple[Connection, bytes]] = []
        self._counter = itertools.count()
        self._timer_wake = trio.Event()
        self._mo_ref = self.rng.randrange(256)
        self._nursery: trio.Nursery | None = None
        self._nursery_cm: Any = None
        self._date_cache = (0, "")

    # --- lifecycle ---------------------------------------------------------

    @property
    def received(self) -> list[Pdu]:
        """The recorded submit_sm / data_sm PDUs (``record=N``), oldest first."""
        return list(self._record) if self._record is not None else []

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until cancelled; ``task_status.started(self)``
        once listening (``.port`` is then the real port)."""
        listeners: list[Any] = await trio.open_tcp_listeners(self.port, host=self.host)
        self.port = listeners[0].socket.getsockname()[1]
        if self.ssl_context is not None:
            listeners = [
                trio.SSLListener(lst, self.ssl_context, https_compatible=False)
                for lst in listeners
            ]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._timer_loop)
            await nursery.start(
                trio.serve_listeners, self._handle_connection, listeners
            )
            task_status.started(self)

    async def __aenter__(self) -> SmscSimulator:
        self._nursery_cm = trio.open_nursery()
        nursery = await self._nursery_cm.__aenter__()
        try:
            await nursery.start(self.serve)
        except BaseException as e:
            nursery.cancel_scope.cancel()
            await self._nursery_cm.__aexit__(type(e), e, e.__traceback__)
            raise
        self._nursery = nursery
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()
        return await self._nursery_cm.__aexit__(*exc)

    async def _handle_connection(self, stream: trio.abc.Stream) -> None:
        conn = Connection(self, stream)
        self.stats.connections += 1
        self.connections.append(conn)
        try:
            async with trio.open_nursery() as nursery:
                conn._scope = nursery.cancel_scope
                nursery.start_soon(conn._writer)
                if self.enquire_link_interval:
                    nursery.start_soon(conn._enquirer, self.enquire_link_interval)
                await conn._reader()
                nursery.cancel_scope.cancel()
        except* trio.BrokenResourceError as eg:
            if any(isinstance(e.__cause__, ssl.SSLError) for e in eg.exceptions):
                self.stats.tls_failures += 1
        except* (trio.ClosedResourceError, OSError):
            pass
        finally:
            conn.closed = True
            self._unregister(conn)
            self.connections.remove(conn)
            for wait, part in conn._mo_waits.values():
                wait.result.statuses.setdefault(part, None)
                wait.pending -= 1
                if wait.pending <= 0:
                    wait.event.set()
            conn._mo_waits.clear()
            for entry in conn._unacked.values():
                self._park(conn.system_id or "", entry)
            conn._unacked.clear()
            await trio.aclose_forcefully(stream)

    # --- binds -------------------------------------------------------------

    def _bind(self, conn: Connection, p: Pdu, out: list[bytes]) -> None:
        cid = p.command_id
        seq = p.sequence_number
        if self.faults.ignore_binds:
            return
        system_id = p.system_id
        if conn.bind_type is not None:
            status = ESME_RALYBND
        elif self.faults.reject_binds is not None:
            status = self.faults.reject_binds
        elif system_id not in self.accounts:
            status = ESME_RINVSYSID
        elif self.accounts[system_id] != p.password:
            status = ESME_RINVPASWD
        elif self.max_binds is not None and sum(
            1 for c in self.connections if c.system_id == system_id and c.bind_type
        ) >= self.max_binds:
            status = ESME_RBINDFAIL
        else:
            status = ESME_ROK
        if status != ESME_ROK:
            self.stats.bind_failures += 1
            if system_id in self.accounts:
                self.stats.system(system_id).bind_failures += 1
            out.append(Pdu(cid | RESPONSE_BIT, seq, command_status=status).encode())
            return
        conn.system_id = system_id
        conn.stats = self.stats.system(system_id)
        conn.stats.binds += 1
        conn.bind_type = {
            BIND_TRANSMITTER: "transmitter",
            BIND_RECEIVER: "receiver",
            BIND_TRANSCEIVER: "transceiver",
        }[cid]
        conn.can_submit = cid != BIND_RECEIVER
        conn.can_receive = cid != BIND_TRANSMITTER
        out.append(
            Pdu(
                cid | RESPONSE_BIT,
                seq,
                system_id=self.smsc_system_id,
                tlvs=[Tlv(TLV_SC_INTERFACE_VERSION, b"\x34")],
            ).encode()
        )
        if conn.can_receive:
            self._receivers.setdefault(system_id, []).append(conn)
            parked = self._parked.pop(system_id, None)
            if parked:
                self._heap.extend(parked)
                heapq.heapify(self._heap)
                self._timer_wake.set()

    def _unregister(self, conn: Connection) -> None:
        conn.can_submit = conn.can_receive = False
        if conn.system_id is not None:
            recv = self._receivers.get(conn.system_id)
            if recv and conn in recv:
                recv.remove(conn)

    def bound(self, system_id: str | None = None) -> list[Connection]:
        """Bound connections (of one system_id)."""
        return [
            c
            for c in self.connections
            if c.bind_type and not c.closed and (system_id is None or c.system_id == system_id)
        ]

    def drop_connections(self, system_id: str | None = None) -> int:
        """Drop (close abruptly, no unbind) every connection, or those of one
        system_id. Returns how many."""
        n = 0
        for conn in list(self.connections):
            if system_id is None or conn.system_id == system_id:
                conn.drop()
                self._unregister(conn)
                n += 1
        self.stats.dropped += n
        return n

    def send_garbage(self, data: bytes | None = None, system_id: str | None = None) -> int:
        """Write ``data`` (default: bytes that cannot be framed) to every bound
        connection (of one system_id). Returns how many."""
        conns = self.bound(system_id)
        for conn in conns:
            conn.write(data if data is not None else self.faults.garbage)
        return len(conns)

    def release_responses(self) -> int:
        """Send the responses held by ``faults.pause_responses`` (and stop
        holding). Returns how many reads' worth were held."""
        self.faults.pause_responses = False
        held, self._held = self._held, []
        for conn, chunk in held:
            conn.write(chunk)
        return len(held)

    def unbind(self, system_id: str | None = None) -> int:
        """Send unbind to every bound connection (of one system_id); they
        close once the ESME answers. Returns how many."""
        conns = self.bound(system_id)
        for conn in conns:
            self._unregister(conn)
            conn.write(Pdu(UNBIND, conn.next_seq()).encode())
        return len(conns)

    # --- submit path -------------------------------------------------------

    def _next_id(self) -> str:
        n = self._id
        self._id = n + 1
        return format(n, self._id_fmt)

    def _fault(self, conn: Connection, p: Pdu, out: list[bytes]) -> str | None:
        """Apply faults to one submit_sm/data_sm. Returns "drop", "handled"
        (a response or garbage was produced) or None (proceed normally)."""
        f = self.faults
        rng = self.rng
        seq = p.sequence_number
        if f.drop_after is not None:
            f.drop_after -= 1
            if f.drop_after <= 0:
                f.drop_after = None
                self.stats.dropped += 1
                return "drop"
        if f.garbage_next:
            f.garbage_next -= 1
            out.append(f.garbage)
            return "handled"
        status = ESME_ROK
        if f.throttle_next:
            f.throttle_next -= 1
            status = ESME_RTHROTTLED
        elif f.throttle_rate and rng.random() < f.throttle_rate:
            status = ESME_RTHROTTLED
        elif f.queue_full_next:
            f.queue_full_next -= 1
            status = ESME_RMSGQFUL
        elif f.queue_full_rate and rng.random() < f.queue_full_rate:
            status = ESME_RMSGQFUL
        elif f.fail_next:
            f.fail_next -= 1
            status = f.fail_status
        elif f.fail_rate and rng.random() < f.fail_rate:
            status = f.fail_status
        if status != ESME_ROK:
            if conn.stats is not None:
                conn.stats.rejected += 1
            if p.command_id == SUBMIT_SM:
                out.append(_core.encode_submit_sm_resp(seq, "", status))
            else:
                out.append(Pdu(DATA_SM_RESP, seq, command_status=status).encode())
            return "handled"
        if f.receipt_before_response_next:
            f.receipt_before_response_next -= 1
            mid = self._next_id()
            if p.command_id == SUBMIT_SM:
                conn.stats.submit_sm += 1  # type: ignore[union-attr]
                resp = _core.encode_submit_sm_resp(seq, mid)
            else:
                conn.stats.data_sm += 1  # type: ignore[union-attr]
                resp = Pdu(DATA_SM_RESP, seq, message_id=mid).encode()
            # The receipt is due now; the response only after `hold`.
            self._push(trio.current_time(), conn, mid, p, self._date())
            self._schedule_bytes(conn, resp, f.hold)
            if self._record is not None:
                self._record.append(p)
            return "handled"
        return None

    def _date(self) -> str:
        # Receipt dates are wall-clock YYMMDDhhmm (SMPP 3.4 appendix B).
        now = int(time.time())
        cached_at, text = self._date_cache
        if now - cached_at >= 1:
            text = time.strftime("%y%m%d%H%M", time.localtime(now))
            self._date_cache = (now, text)
        return text

    def _delay(self) -> float:
        d = self.receipt_delay
        if isinstance(d, tuple):
            return self.rng.uniform(*d)
        return d

    def _push(self, due: float, conn: Connection, mid: str, p: Pdu, date: str) -> None:
        heapq.heappush(self._heap, (due, next(self._counter), conn, mid, p, date))
        self._timer_wake.set()

    def _schedule_receipts(self, conn: Connection, receipts: list[tuple[str, Pdu]]) -> None:
        now = trio.current_time()
        date = self._date()
        heap = self._heap
        counter = self._counter
        push = heapq.heappush
        if isinstance(self.receipt_delay, tuple):
            for mid, p in receipts:
                push(heap, (now + self._delay(), next(counter), conn, mid, p, date))
        else:
            due = now + self.receipt_delay
            for mid, p in receipts:
                push(heap, (due, next(counter), conn, mid, p, date))
        self._timer_wake.set()

    def _schedule_bytes(self, conn: Connection, data: bytes, delay: float) -> None:
        heapq.heappush(
            self._heap, (trio.current_time() + delay, next(self._counter), conn, None, data, None)
        )
        self._timer_wake.set()

    def _route(self, conn: Connection) -> Connection | None:
        route = self.receipt_route
        if route == "same" and conn.can_receive and not conn.closed:
            return conn
        receivers = self._receivers.get(conn.system_id or "")
        if not receivers:
            return None
        if route == "other":
            others = [c for c in receivers if c is not conn]
            if others:
                receivers = others
        self._rr += 1
        return receivers[self._rr % len(receivers)]

    async def _timer_loop(self) -> None:
        heap = self._heap
        while True:
            if not heap:
                self._timer_wake = trio.Event()
                await self._timer_wake.wait()
                continue
            due = heap[0][0]
            if due > trio.current_time():
                self._timer_wake = trio.Event()
                with trio.move_on_at(due):
                    await self._timer_wake.wait()
                continue
            self._flush_due()
            # Yield so readers can fill the heap: receipts then leave in batches.
            await trio.sleep(0)

    def _flush_due(self) -> None:
        heap = self._heap
        now = trio.current_time()
        pop = heapq.heappop
        batches: dict[Connection, list[bytes]] = {}
        done_date = self._date()
        while heap and heap[0][0] <= now:
            entry = pop(heap)
            conn = entry[2]
            mid = entry[3]
            if mid is None:  # delayed raw bytes (slow responses, held resp)
                if not conn.closed:
                    batches.setdefault(conn, []).append(entry[4])
                continue
            target = self._route(conn)
            if target is None:
                self._park(conn.system_id or "", entry)
                continue
            data = self._receipt(target, mid, entry[4], entry[5], done_date)
            if data is not None:
                target._unacked[target._seq] = entry
                batches.setdefault(target, []).append(data)
        for conn, chunks in batches.items():
            conn.write(b"".join(chunks))

    def _park(self, system_id: str, entry: tuple[Any, ...]) -> None:
        q = self._parked.get(system_id)
        if q is None:
            q = self._parked[system_id] = deque()
        if len(q) >= MAX_PARKED_RECEIPTS:
            q.popleft()
            self.stats.receipts_dropped += 1
        q.append(entry)
        self.stats.system(system_id).receipts_parked += 1

    def _receipt(
        self, target: Connection, mid: str, p: Pdu, submit_date: str, done_date: str
    ) -> bytes | None:
        stat, err = self._final_const or self._final_pick(p)  # type: ignore[misc]
        if p.registered_delivery & 0x03 == 2 and stat == "DELIVRD":
            return None  # registered_delivery 2: receipt on failure only
        st = target.stats
        if self.receipt_id_format != self.id_format:
            mid = format(int(mid, 16 if self.id_format == "hex" else 10),
                         "x" if self.receipt_id_format == "hex" else "d")
        text = b""
        if self.receipt_text and p.command_id == SUBMIT_SM and p.data_coding in (0, 1) \
                and not p.esm_class & ESM_CLASS_UDHI:
            text = p.short_message[:RECEIPT_TEXT_LEN]
        delivered = stat == "DELIVRD"
        body = _core.format_receipt(
            mid, stat, err, submit_date, done_date, 1, 1 if delivered else 0, text
        )
        tlvs = [
            Tlv(TLV_RECEIPTED_MESSAGE_ID, mid.encode() + b"\0"),
            Tlv(TLV_MESSAGE_STATE, bytes((MESSAGE_STATE[stat],))),
        ]
        if not delivered and err.isdigit() and int(err) <= 0xFFFF:
            tlvs.append(
                Tlv(TLV_NETWORK_ERROR_CODE, bytes((NETWORK_TYPE_GSM,)) + int(err).to_bytes(2, "big"))
            )
        data = _core.encode_deliver_sm(
            target.next_seq(),
            p.destination_addr,
            p.source_addr,
            body,
            esm_class=ESM_CLASS_RECEIPT,
            registered_delivery=0,
            source_addr_ton=p.dest_addr_ton,
            source_addr_npi=p.dest_addr_npi,
            dest_addr_ton=p.source_addr_ton,
            dest_addr_npi=p.source_addr_npi,
            tlvs=tlvs,
        )
        if st is not None:
            st.receipts_sent += 1
            if delivered:
                st.delivered += 1
            else:
                st.undelivered += 1
        return data

    # --- MO ------------------------------------------------------------------

    async def send_mo(
        self,
        source: str,
        destination: str,
        text: str,
        *,
        system_id: str | None = None,
        concat: str = "udh8",
        order: str | Sequence[int] | None = None,
        drop_parts: Iterable[int] = (),
        reference: int | None = None,
        chain: Any = None,
        source_ton: int = 1,
        source_npi: int = 1,
        wait: bool = True,
    ) -> MoResult:
        """Send a mobile-originated message to a receiving bind of
        ``system_id`` (default: the only account), segmented by the core
        (``concat`` = "udh8" | "udh16" | "sar" | "payload").

        ``order``: None (in order), "reverse", "shuffle", or a sequence of
        1-based part numbers. ``drop_parts``: 1-based part numbers never sent.
        With ``wait`` (default), returns once every sent part is answered.
        """
        if system_id is None:
            if len(self.accounts) != 1:
                raise ValueError("several accounts: say which system_id")
            system_id = next(iter(self.accounts))
        receivers = [c for c in self._receivers.get(system_id, ()) if not c.closed]
        if not receivers:
            raise RuntimeError(f"no receiving bind for system_id {system_id!r}")
        self._rr += 1
        conn = receivers[self._rr % len(receivers)]
        if reference is None:
            self._mo_ref = (self._mo_ref + 1) % (65536 if concat == "udh16" else 256)
            reference = self._mo_ref
        seg = _core.segment(text, chain, concat=concat, reference=reference)
        parts = list(range(1, seg.count + 1))
        if order == "reverse":
            parts.reverse()
        elif order == "shuffle":
            self.rng.shuffle(parts)
        elif order is not None:
            parts = list(order)
            if sorted(parts) != list(range(1, seg.count + 1)):
                raise ValueError(f"order must be a permutation of 1..{seg.count}")
        dropped = set(drop_parts)
        parts = [n for n in parts if n not in dropped]
        result = MoResult(reference, parts, seg.count)
        wait_obj = _MoWait(result, len(parts))
        chunks = []
        for n in parts:
            payload = seg.parts[n - 1]
            tlvs = None
            short_message = payload
            if concat == "sar" and seg.sar is not None:
                ref, total, seqnum = seg.sar[n - 1]
                tlvs = [
                    Tlv(TLV_SAR_MSG_REF_NUM, ref.to_bytes(2, "big")),
                    Tlv(TLV_SAR_TOTAL_SEGMENTS, bytes((total,))),
                    Tlv(TLV_SAR_SEGMENT_SEQNUM, bytes((seqnum,))),
                ]
            elif concat == "payload":
                tlvs = [Tlv(TLV_MESSAGE_PAYLOAD, payload)]
                short_message = b""
            seq = conn.next_seq()
            conn._mo_waits[seq] = (wait_obj, n)
            chunks.append(
                _core.encode_deliver_sm(
                    seq,
                    source,
                    destination,
                    short_message,
                    data_coding=seg.dcs,
                    esm_class=ESM_CLASS_UDHI if seg.udhi else 0,
                    registered_delivery=0,
                    source_addr_ton=source_ton,
                    source_addr_npi=source_npi,
                    tlvs=tlvs,
                )
            )
        if conn.stats is not None:
            conn.stats.mo_sent += len(parts)
        conn.write(b"".join(chunks))
        if wait and parts:
            await wait_obj.event.wait()
        return result


def make_server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A TLS server context for the simulator from PEM files."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


__all__ = [
    "Connection",
    "Faults",
    "MoResult",
    "SmscSimulator",
    "Stats",
    "SystemStats",
    "make_server_context",
]
