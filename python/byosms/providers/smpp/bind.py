"""One SMPP bind on trio, driven by the sans-I/O ``SmppSession``.

    bind = SmppBind(config, integration="acme", on_event=events.append)
    async with trio.open_nursery() as nursery:
        await nursery.start(bind.run)          # returns once bound
        resp = await bind.submit_sm("12345", "4915112345678", b"hello")
        ...
        nursery.cancel_scope.cancel()           # shutdown: unbind, close

``run()`` connects (TLS unless ``config.transport == "tcp"``), binds within
``bind_timeout`` and serves until the connection ends. Before the bind
completes it raises ``BindError`` (with a ``cause``); afterwards it raises
``BindLost`` when the connection is lost or the peer stops answering
enquire_link, and returns normally when the SMSC unbinds. Cancellation is
shutdown: an unbind is sent and its answer awaited briefly.

Inside, one reader task (every read decoded by one ``Framer`` call through
the session), one writer task (every PDU ready at the same time leaves in one
``send_all``), one enquire_link task and, if ``on_request`` is given, one task
that hands deliver_sm/data_sm to it and answers only after it returned. All
live in the nursery of ``run()``: the bind owns its tasks.

Every state change is reported to ``on_event`` as an ``OperationalEvent``
(PRODUCT.md S17): bind_up, bind_down (cause unbind / shutdown /
connection_lost / timeout / protocol_error), bind_failed (auth_failed,
bind_refused, tls_failure, connection_refused, dns_failure, timeout,
connection_lost, protocol_error), enquire_link_timeout, window_full,
protocol_error.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from byosms import _core
from byosms._core import Pdu
from byosms.providers.smpp.session import (
    ALERT_NOTIFICATION,
    BindFailed,
    Bound,
    LateResponse,
    OutbindReceived,
    PeerRequest,
    ProtocolError,
    Response,
    SmppSession,
    State,
    Unbound,
)
from byosms.schemas.events import Cause, EventKind, OperationalEvent
from byosms.schemas.smpp import SmppIntegrationConfig

#: Bytes per socket read: one read may carry hundreds of PDUs, decoded in one call.
READ_SIZE = 256 * 1024
#: How long shutdown waits for the SMSC's unbind_resp (SMPP 3.4 section 4.2
#: sets no limit; a bind being stopped should not hang on a silent peer).
DEFAULT_UNBIND_TIMEOUT = 2.0
#: TCP connect + TLS handshake limit.
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Incoming deliver_sm/data_sm queued for on_request before reading stops
#: (backpressure on the SMSC instead of unbounded memory).
INCOMING_QUEUE = 256
#: Longest a ``Later`` answer is awaited (the supervisor's hold is 5 s plus
#: the owner's commit); then ESME_RX_T_APPN, and the SMSC redelivers.
ANSWER_LATER_LIMIT = 60.0
#: A hostile or broken SMSC must not write one operational event per bad
#: PDU: per bind, at most one protocol_error event per this many seconds;
#: the rest are counted (``protocol_errors``) and the next event (or the
#: bind's end) says how many were left out.
PROTOCOL_ERROR_INTERVAL = 10.0

_AUTH_STATUSES = frozenset({_core.ESME_RINVPASWD, _core.ESME_RINVSYSID})
#: SMPP 3.4 section 5.2.12: esm_class bits 2-5 = 0001 is an SMSC delivery receipt.
_ESM_TYPE_MASK = 0x3C
_ESM_DELIVERY_RECEIPT = 0x04
_TLV_RECEIPTED_MESSAGE_ID = _core.TLV_RECEIPTED_MESSAGE_ID


def _is_receipt(pdu: Pdu) -> bool:
    """The supervisor's rule (esm_class, or a receipted_message_id TLV)."""
    if pdu.command_id == ALERT_NOTIFICATION:
        return False
    try:
        if pdu.esm_class & _ESM_TYPE_MASK == _ESM_DELIVERY_RECEIPT:
            return True
    except AttributeError:
        pass
    return pdu.tlv(_TLV_RECEIPTED_MESSAGE_ID) is not None


class BindError(Exception):
    """The bind could not be established (or, as ``BindLost``, was lost)."""

    def __init__(self, cause: Cause, detail: str = "", command_status: int | None = None) -> None:
        super().__init__(f"{cause}: {detail}" if detail else cause)
        self.cause = cause
        self.detail = detail
        self.command_status = command_status


class BindLost(BindError):
    """A bound session ended without an orderly unbind."""


class ResponseTimeout(TimeoutError):
    """No response to a request within the response timeout."""


class NotSent(BindLost):
    """The bind was lost before the request was written: the SMSC cannot
    have it, so a retry costs no duplicate."""


class PduRejected(Exception):
    """The SMSC answered our request with something we could not decode."""

    def __init__(self, error: ProtocolError) -> None:
        super().__init__(error.message)
        self.error = error
        self.command_status = error.command_status


class EventAggregate:
    """At most one event per ``interval``; counts what it holds back."""

    __slots__ = ("interval", "next_at", "held", "total")

    def __init__(self, interval: float = PROTOCOL_ERROR_INTERVAL) -> None:
        self.interval = interval
        self.next_at = float("-inf")
        self.held = 0  # left out since the last event
        self.total = 0

    def admit(self, now: float) -> int | None:
        """None: count this one silently. Else emit it, with this many
        left out before it."""
        self.total += 1
        if now < self.next_at:
            self.held += 1
            return None
        self.next_at = now + self.interval
        held, self.held = self.held, 0
        return held

    def suffix(self, held: int) -> str:
        return f" (and {held} more in the last {self.interval:g}s)" if held else ""


class Later:
    """What a request handler returns when its answer must wait (a receipt
    held for its submit_sm_resp): the bind goes on with the next requests
    and answers this one when ``set(status)`` is called — or, if nothing
    comes within ``ANSWER_LATER_LIMIT``, with ESME_RX_T_APPN (the SMSC
    redelivers)."""

    __slots__ = ("event", "status")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.status = 0

    def set(self, status: int | None) -> None:
        if not self.event.is_set():
            self.status = status or 0
            self.event.set()


class _Waiter:
    __slots__ = ("event", "result", "error")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.result: Response | None = None
        self.error: BaseException | None = None


class _Batch:
    """One trio.Event for a whole submit_many: responses fill ``results`` in
    the reader's pass, and the last one wakes the submitter."""

    __slots__ = ("event", "results", "pending")

    def __init__(self, n: int) -> None:
        self.event = trio.Event()
        self.results: list[Any] = [None] * n
        self.pending = 0


def client_ssl_context(config: SmppIntegrationConfig) -> ssl.SSLContext:
    """Certificates verified against the system store, or the CA of
    ``ca_pem`` (content, from the admin API) or ``ca_file`` (a path, from
    the operator's config file); the client certificate (mTLS) when
    configured, likewise as content or paths.

    ssl loads a certificate chain only from a file: PEM content is written
    to a private temporary file (mode 0600, in memory where /dev/shm
    exists), loaded, and removed at once."""
    if config.ca_pem is not None:
        ctx = ssl.create_default_context(cadata=config.ca_pem)
    else:
        ctx = ssl.create_default_context(cafile=config.ca_file)
    if config.client_cert_pem is not None and config.client_key_pem is not None:
        _load_cert_chain_pem(ctx, config.client_cert_pem, config.client_key_pem.reveal())
    elif config.client_cert_file:
        ctx.load_cert_chain(config.client_cert_file, config.client_key_file)
    return ctx


def _load_cert_chain_pem(ctx: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    import os
    import tempfile

    shm = "/dev/shm"
    folder = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    fd, path = tempfile.mkstemp(prefix="byosms-", suffix=".pem", dir=folder)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key_pem.strip() + "\n" + cert_pem.strip() + "\n")
        ctx.load_cert_chain(path)
    finally:
        os.unlink(path)


def _connect_cause(exc: BaseException) -> Cause:
    """Map a connect failure to an S17 cause; trio reports "all attempts
    failed" as an OSError whose __cause__ groups the per-address errors."""
    seen: list[BaseException] = [exc]
    while seen:
        e = seen.pop()
        if isinstance(e, socket.gaierror):
            return "dns_failure"
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return "connection_refused"
        if isinstance(e, BaseExceptionGroup):
            seen.extend(e.exceptions)
        if e.__cause__ is not None:
            seen.append(e.__cause__)
    return "connection_refused" if isinstance(exc, ConnectionError) else "other"


def _only_cancelled(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(trio.Cancelled)[1] is None
    return isinstance(exc, trio.Cancelled)


_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


def tune_socket(stream: trio.abc.Stream) -> Any:
    """TCP_NODELAY on the socket under ``stream`` (under any TLS layers):
    a PDU leaves at once, never waiting to fill a segment. Returns the
    socket when TCP_QUICKACK exists (Linux), else None: the reader sets it
    after each read, so our ACKs are not delayed — a peer that writes a PDU
    in pieces, or two PDUs in a row, with Nagle on (smpp34, many SMSCs)
    otherwise waits up to 40 ms for our delayed ACK before the rest."""
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


def _local_address(stream: trio.abc.Stream) -> str | None:
    """The socket's local "host:port" ("[v6]:port") under any TLS layers."""
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    sock = getattr(stream, "socket", None)
    if sock is None:
        return None
    try:
        host, port = sock.getsockname()[:2]
    except OSError:
        return None
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class SmppBind:
    """One bind of an integration. Not reusable: make a new one per connection."""

    def __init__(
        self,
        config: SmppIntegrationConfig,
        *,
        integration: str = "",
        index: int = 0,
        on_event: Callable[[OperationalEvent], Any] | None = None,
        on_request: Callable[[Pdu], Awaitable[int | None]] | None = None,
        on_receipts: Callable[[list[Pdu]], Awaitable[list[int]]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        bind_timeout: float | None = None,
        unbind_timeout: float = DEFAULT_UNBIND_TIMEOUT,
    ) -> None:
        self.config = config
        self.integration = integration
        self.index = index
        self._on_event = on_event
        self._on_request = on_request
        #: Several receipts queued together, handled in one call (statuses in
        #: order); without it, on_request runs for each concurrently.
        self._on_receipts = on_receipts
        self._ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.bind_timeout = bind_timeout if bind_timeout is not None else config.response_timeout
        self.unbind_timeout = unbind_timeout
        self.response_timeout = config.response_timeout
        self.session = SmppSession(window=config.window)
        self.smsc_system_id: str | None = None
        self._stream: trio.abc.Stream | None = None
        #: S16: "host:port" this bind connects from (its socket's local
        #: address), while connected; what a carrier whitelists.
        self.local_address: str | None = None
        self._out: list[bytes] = []
        #: Rate-limit grants' time cells of what is in _out: stamped with the
        #: time the writer hands it to the kernel (the S4 window counts from
        #: the wire, not from the grant).
        self._stamps: list[list[float]] = []
        self._sending = False
        self._wake = trio.Event()
        #: sequence_number -> _Waiter (one request) or (_Batch, index) (submit_many).
        self._waiters: dict[int, Any] = {}
        self._slots = trio.Semaphore(config.window)
        self._window_full_reported = False
        self._backlog: list[Any] = []
        self._last_rx = 0.0
        self._received_any = False
        self._lost: BindLost | None = None
        self._incoming_send, self._incoming_recv = trio.open_memory_channel[Pdu](INCOMING_QUEUE)
        self.late_responses = 0
        self._tasks: trio.Nursery | None = None
        self._protocol_errors = EventAggregate()

    # --- events --------------------------------------------------------------

    def _emit(
        self,
        kind: EventKind,
        cause: Cause | None = None,
        command_status: int | None = None,
        detail: str = "",
    ) -> None:
        if self._on_event is None:
            return
        self._on_event(
            OperationalEvent(
                kind=kind,
                integration=self.integration,
                bind=self.index,
                cause=cause,
                command_status=command_status,
                command_status_name=(
                    _core.status_name(command_status) if command_status is not None else None
                ),
                detail=detail,
            )
        )

    @property
    def protocol_errors(self) -> int:
        """Bad PDUs from the SMSC on this bind (events are aggregated)."""
        return self._protocol_errors.total

    def _protocol_error(self, status: int | None, message: str) -> None:
        agg = self._protocol_errors
        held = agg.admit(trio.current_time())
        if held is not None:
            self._emit("protocol_error", "protocol_error", status, message + agg.suffix(held))

    @property
    def state(self) -> State:
        return self.session.state

    @property
    def is_bound(self) -> bool:
        return self.session.is_bound and self._lost is None

    # --- lifecycle -----------------------------------------------------------

    async def run(
        self,
        *,
        stream: trio.abc.Stream | None = None,
        wait_outbind: bool = False,
        task_status: Any = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Connect, bind, serve. ``stream``: use this connected stream instead
        of connecting (e.g. one accepted from the SMSC); ``wait_outbind``:
        wait for the SMSC's outbind before binding (SMPP 3.4 section 2.2.1)."""
        try:
            if stream is None:
                stream = await self._connect()
            self._stream = stream
            tune_socket(stream)
            self.local_address = _local_address(stream)
            await self._handshake(stream, wait_outbind)
        except BindError as e:
            self._emit("bind_failed", e.cause, e.command_status, e.detail)
            if stream is not None:
                await trio.aclose_forcefully(stream)
            raise
        except BaseException:
            if stream is not None:
                await trio.aclose_forcefully(stream)
            raise
        self._emit(
            "bind_up",
            detail=f"bound {self.session.bind_type} to {self.smsc_system_id or '?'}",
        )
        task_status.started(self)
        cause: Cause = "shutdown"
        try:
            async with trio.open_nursery() as nursery:
                self._tasks = nursery
                nursery.start_soon(self._writer, stream)
                nursery.start_soon(self._enquirer)
                if self._on_request is not None:
                    nursery.start_soon(self._dispatcher)
                await self._reader(stream)
                cause = "unbind"
                # The peer unbound: let the writer deliver our unbind_resp.
                with trio.move_on_after(self.unbind_timeout):
                    await self._drain()
                nursery.cancel_scope.cancel()
        except BaseException as exc:
            if self._lost is not None:
                cause = self._lost.cause
                # Unwrap the nursery's group when the loss is all there is to say.
                if isinstance(exc, BaseExceptionGroup):
                    _, rest = exc.split((BindLost, trio.Cancelled))
                    if rest is None:
                        raise self._lost from None
            elif not _only_cancelled(exc):
                cause = "other"
            raise
        finally:
            if self.session.is_bound and self._lost is None:
                with trio.CancelScope(shield=True):
                    await self._unbind_now(stream)
            self._fail_waiters(self._lost or BindLost("shutdown", "bind stopped"))
            agg = self._protocol_errors
            if agg.held:
                self._emit("protocol_error", "protocol_error",
                           detail=f"{agg.held} more protocol errors in the bind's last {agg.interval:g}s")
                agg.held = 0
            self._emit("bind_down", cause, detail=self._lost.detail if self._lost else "")
            await trio.aclose_forcefully(stream)

    async def _connect(self) -> trio.abc.Stream:
        cfg = self.config
        tls = cfg.transport == "tls"
        stage = "connect"
        tcp = None
        try:
            with trio.fail_after(self.connect_timeout):
                tcp = await trio.open_tcp_stream(cfg.host, cfg.port)
                if not tls:
                    return tcp
                stage = "tls"
                ctx = self._ssl_context or client_ssl_context(cfg)
                stream = trio.SSLStream(
                    tcp, ctx, server_hostname=cfg.server_hostname or cfg.host
                )
                await stream.do_handshake()
                return stream
        except trio.TooSlowError:
            if tcp is not None:
                await trio.aclose_forcefully(tcp)
            if stage == "tls":
                raise BindError(
                    "tls_failure",
                    f"TLS handshake with {cfg.host}:{cfg.port} timed out "
                    "(is the SMSC speaking TLS on this port?)",
                ) from None
            raise BindError("timeout", f"connecting to {cfg.host}:{cfg.port} timed out") from None
        except (ssl.SSLError, trio.BrokenResourceError) as e:
            if tcp is not None:
                await trio.aclose_forcefully(tcp)
            inner = e.__cause__ if isinstance(e, trio.BrokenResourceError) else e
            cause: Cause = (
                "tls_failure" if stage == "tls" or isinstance(inner, ssl.SSLError) else "connection_lost"
            )
            raise BindError(cause, f"{cfg.host}:{cfg.port}: {inner or e}") from e
        except OSError as e:
            if tcp is not None:
                await trio.aclose_forcefully(tcp)
            if stage == "tls":  # e.g. an unreadable ca_file / client certificate
                raise BindError("tls_failure", str(e)) from e
            raise BindError(_connect_cause(e), f"{cfg.host}:{cfg.port}: {e}") from e

    async def _handshake(self, stream: trio.abc.Stream, wait_outbind: bool) -> None:
        cfg = self.config
        session = self.session
        bind_type = cfg.bind_type
        try:
            with trio.fail_after(self.bind_timeout):
                if wait_outbind:
                    await self._read_until(stream, OutbindReceived)
                    # SMPP 3.4 2.2.1: an outbound ESME answers outbind with bind_receiver.
                    if bind_type == "transmitter":
                        bind_type = "receiver"
                data = session.bind(
                    bind_type,
                    cfg.system_id,
                    cfg.password,
                    system_type=cfg.system_type,
                    now=trio.current_time(),
                )
                await stream.send_all(data)
                bound = await self._read_until(stream, Bound)
        except trio.TooSlowError:
            raise BindError(
                "timeout",
                f"no {'outbind/' if wait_outbind else ''}bind_resp within {self.bind_timeout}s",
            ) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as e:
            # With TLS 1.3 the server checks our client certificate after our
            # handshake returned: its refusal surfaces on the first read, as a
            # TLS alert or, if the reset overtakes the alert, as a bare reset
            # before any PDU arrived.
            if isinstance(e.__cause__, ssl.SSLError) or isinstance(e, ssl.SSLError) or (
                isinstance(stream, trio.SSLStream) and not self._received_any
            ):
                raise BindError(
                    "tls_failure",
                    f"TLS connection failed during bind (client certificate refused?): "
                    f"{e.__cause__ or e}",
                ) from e
            raise BindError("connection_lost", f"during bind: {e}") from e
        self.smsc_system_id = bound.system_id
        self._last_rx = trio.current_time()

    async def _read_until(self, stream: trio.abc.Stream, wanted: type) -> Any:
        """Read during the handshake; events after the wanted one are kept for
        the reader (an SMSC may send deliver_sm right behind bind_resp)."""
        session = self.session
        while True:
            data = await stream.receive_some(READ_SIZE)
            if not data:
                raise BindError("connection_lost", "the SMSC closed the connection during bind")
            self._received_any = True
            events = session.receive_data(data)
            out = session.data_to_send()
            if out:
                await stream.send_all(out)
            for i, ev in enumerate(events):
                if isinstance(ev, wanted):
                    self._backlog.extend(events[i + 1 :])
                    return ev
                if isinstance(ev, BindFailed):
                    status = ev.command_status
                    name = _core.status_name(status) or hex(status)
                    cause: Cause = "auth_failed" if status in _AUTH_STATUSES else "bind_refused"
                    raise BindError(cause, f"bind refused with {name}", status)
                if isinstance(ev, ProtocolError) and ev.fatal:
                    raise BindError("protocol_error", ev.message, ev.command_status)

    # --- tasks ---------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self._out.append(data)
        self._wake.set()

    async def _writer(self, stream: trio.abc.Stream) -> None:
        try:
            while True:
                while not self._out:
                    self._wake = trio.Event()
                    await self._wake.wait()
                data = b"".join(self._out)
                self._out.clear()
                if self._stamps:
                    now = trio.current_time()
                    for cell in self._stamps:
                        cell[0] = now
                    self._stamps.clear()
                self._sending = True
                await stream.send_all(data)
                self._sending = False
        except (trio.BrokenResourceError, trio.ClosedResourceError) as e:
            raise self._lose("connection_lost", f"write failed: {e}") from e

    async def _drain(self) -> None:
        while self._out or self._sending:
            await trio.sleep(0)

    async def _reader(self, stream: trio.abc.Stream) -> None:
        """Returns when the peer unbinds; raises BindLost otherwise."""
        if self._backlog:
            backlog, self._backlog = self._backlog, []
            if await self._dispatch(backlog):
                return
        receive_some = stream.receive_some
        receive_data = self.session.receive_data
        quick = tune_socket(stream)
        setsockopt = quick.setsockopt if quick is not None else None
        while True:
            try:
                data = await receive_some(READ_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as e:
                raise self._lose("connection_lost", f"read failed: {e}") from e
            if not data:
                raise self._lose("connection_lost", "the SMSC closed the connection")
            if setsockopt is not None:
                try:  # the kernel clears it again: once per read
                    setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                except OSError:
                    setsockopt = None
            self._last_rx = trio.current_time()
            if await self._dispatch(receive_data(data)):
                return

    async def _dispatch(self, events: list[Any]) -> bool:
        """Act on the session's events; True once the peer has unbound."""
        session = self.session
        unbound = False
        for ev in events:
            t = type(ev)
            if t is Response:
                w = self._waiters.pop(ev.request.sequence_number, None)
                if w is not None:
                    if type(w) is tuple:
                        self._resolve(w, ev)
                    else:
                        w.result = ev
                        w.event.set()
            elif t is PeerRequest:
                if self._on_request is None:
                    if ev.pdu.command_id != ALERT_NOTIFICATION:
                        self._write(session.respond(ev.pdu))
                else:
                    # send() would yield once per PDU; the read already did.
                    try:
                        self._incoming_send.send_nowait(ev.pdu)
                    except trio.WouldBlock:
                        await self._incoming_send.send(ev.pdu)
            elif t is LateResponse:
                self.late_responses += 1
            elif t is Unbound:
                unbound = True
            elif t is ProtocolError:
                if ev.fatal:  # the bind closes: always said
                    self._emit("protocol_error", "protocol_error", ev.command_status or None, ev.message)
                else:
                    self._protocol_error(ev.command_status or None, ev.message)
                if ev.request is not None:
                    w = self._waiters.pop(ev.request.sequence_number, None)
                    if w is not None:
                        if type(w) is tuple:
                            self._resolve(w, PduRejected(ev))
                        else:
                            w.error = PduRejected(ev)
                            w.event.set()
                if ev.fatal:
                    # docs/design.md "Framing errors": answer generic_nack,
                    # then close. The writer must deliver it before the
                    # loss cancels it (bounded: the peer may not read).
                    out = session.data_to_send()
                    if out:
                        self._write(out)
                    with trio.move_on_after(self.unbind_timeout):
                        await self._drain()
                    raise self._lose("protocol_error", ev.message)
        out = session.data_to_send()
        if out:
            self._write(out)
        return unbound

    async def _enquirer(self) -> None:
        interval = self.config.enquire_link_interval
        timeout = self.config.enquire_link_timeout
        while True:
            await trio.sleep_until(self._last_rx + interval)
            if trio.current_time() < self._last_rx + interval:
                continue  # something arrived meanwhile: the link is alive
            try:
                data = self.session.enquire_link(now=trio.current_time())
            except Exception:
                return  # no longer bound (unbinding); nothing to probe
            w = _Waiter()
            seq = self.session.last_sequence_number
            self._waiters[seq] = w
            self._write(data)
            with trio.move_on_after(timeout):
                await w.event.wait()
            if not w.event.is_set():
                self._waiters.pop(seq, None)
                self.session.abandon(seq)
                self._emit(
                    "enquire_link_timeout", "timeout", detail=f"no enquire_link_resp within {timeout}s"
                )
                raise self._lose("timeout", f"no enquire_link_resp within {timeout}s")

    async def _dispatcher(self) -> None:
        """Hand incoming requests to on_request. A handler that returns a
        ``Later`` (a receipt held for its submit_sm_resp) is answered when
        that is set, while the requests behind it go on. Delivery receipts queued
        together are handled concurrently: their handlers wait for a durable
        commit, and one at a time would cost one commit per receipt. Anything
        else (MO, alerts) is handled alone and in order — a STOP then a START
        from one subscriber must not swap — and a receipt never overtakes a
        request queued before it."""
        recv = self._incoming_recv
        async for pdu in recv:
            if not _is_receipt(pdu):
                if not await self._handle_request(pdu):
                    return
                continue
            receipts = [pdu]
            held: Pdu | None = None
            while len(receipts) < INCOMING_QUEUE:
                try:
                    nxt = recv.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
                if not _is_receipt(nxt):
                    held = nxt
                    break
                receipts.append(nxt)
            if len(receipts) == 1:
                ok = await self._handle_request(pdu)
            elif self._on_receipts is not None:
                ok = await self._handle_receipts(receipts)
            else:
                results: list[bool] = []

                async def one(p: Pdu) -> None:
                    results.append(await self._handle_request(p))

                async with trio.open_nursery() as nursery:
                    for p in receipts:
                        nursery.start_soon(one, p)
                ok = all(results)
            if not ok or (held is not None and not await self._handle_request(held)):
                return

    async def _handle_request(self, pdu: Pdu) -> bool:
        """Run on_request and answer; False once the session cannot answer."""
        assert self._on_request is not None
        try:
            status = await self._on_request(pdu)
        except Exception as e:  # the handler's bug must not kill the bind
            # Temporary app error: the SMSC keeps the message and retries.
            status = _core.ESME_RX_T_APPN
            self._emit("protocol_error", "other", status, f"on_request failed: {e!r}")
        if pdu.command_id == ALERT_NOTIFICATION:
            return True
        if type(status) is Later:
            self._answer_later(pdu, status)
            return True
        try:
            self._write(self.session.respond(pdu, status or 0))
        except Exception:
            return False  # session closed meanwhile: the SMSC will redeliver
        return True

    def _answer_later(self, pdu: Pdu, later: Later) -> None:
        """Answer ``pdu`` once ``later`` is set, without holding up the
        requests behind it."""
        assert self._tasks is not None
        self._tasks.start_soon(self._await_answer, pdu, later)

    async def _await_answer(self, pdu: Pdu, later: Later) -> None:
        with trio.move_on_after(ANSWER_LATER_LIMIT):
            await later.event.wait()
        status = later.status if later.event.is_set() else _core.ESME_RX_T_APPN
        try:
            self._write(self.session.respond(pdu, status))
        except Exception:
            pass  # session closed meanwhile: the SMSC will redeliver

    async def _handle_receipts(self, pdus: list[Pdu]) -> bool:
        """Run on_receipts and answer them all in one write."""
        assert self._on_receipts is not None
        try:
            statuses = await self._on_receipts(pdus)
        except Exception as e:  # the handler's bug must not kill the bind
            statuses = [_core.ESME_RX_T_APPN] * len(pdus)
            self._emit("protocol_error", "other", _core.ESME_RX_T_APPN, f"on_receipts failed: {e!r}")
        respond = self.session.respond
        now: list[bytes] = []
        try:
            for p, st in zip(pdus, statuses):
                if type(st) is Later:
                    self._answer_later(p, st)
                else:
                    now.append(respond(p, st or 0))
            if now:
                self._write(b"".join(now))
        except Exception:
            return False  # session closed meanwhile: the SMSC will redeliver
        return True

    def _lose(self, cause: Cause, detail: str) -> BindLost:
        if self._lost is None:
            self._lost = BindLost(cause, detail)
            self._fail_waiters(self._lost)
        return self._lost

    def _resolve(self, w: tuple[_Batch, int], result: Any) -> None:
        """One answer of a submit_many: its window slot is free at once."""
        batch, i = w
        batch.results[i] = result
        batch.pending -= 1
        self._slots.release()
        if batch.pending == 0:
            batch.event.set()

    def _fail_waiters(self, error: BaseException) -> None:
        waiters, self._waiters = self._waiters, {}
        for w in waiters.values():
            if type(w) is tuple:
                self._resolve(w, error)
            elif not w.event.is_set():
                w.error = error
                w.event.set()

    async def _unbind_now(self, stream: trio.abc.Stream) -> None:
        """Orderly unbind on shutdown: the tasks are gone, so read here."""
        session = self.session
        with trio.move_on_after(self.unbind_timeout):
            try:
                pending = b"".join(self._out)
                self._out.clear()
                await stream.send_all(pending + session.unbind(now=trio.current_time()))
                while session.state is State.UNBINDING:
                    data = await stream.receive_some(READ_SIZE)
                    if not data:
                        break
                    session.receive_data(data)
                    out = session.data_to_send()
                    if out:
                        await stream.send_all(out)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass

    # --- requests --------------------------------------------------------------

    async def _request(
        self,
        encode: Callable[[], bytes],
        timeout: float | None,
        gate: Callable[[], Awaitable[Any]] | None = None,
    ) -> Response:
        if self._lost is not None:
            raise NotSent(self._lost.cause, self._lost.detail)
        if self._slots.value == 0 and not self._window_full_reported:
            self._window_full_reported = True
            self._emit("window_full", detail=f"all {self.session.window} slots in use")
        async with self._slots:
            stamp = None
            if gate is not None and self._lost is None:
                # The rate-limit grant is taken only now that this bind is
                # bound and has a free slot, and the request is written with
                # no checkpoint after it: a grant never waits to go out.
                stamp = await gate()
            if self._lost is not None:
                raise NotSent(self._lost.cause, self._lost.detail)
            data = encode()
            if stamp is not None:
                self._stamps.append(stamp)
            seq = self.session.last_sequence_number
            w = _Waiter()
            self._waiters[seq] = w
            self._write(data)
            try:
                with trio.move_on_after(timeout if timeout is not None else self.response_timeout):
                    await w.event.wait()
            finally:
                if not w.event.is_set():
                    # Timed out or cancelled: free the slot; a late answer is dropped.
                    self._waiters.pop(seq, None)
                    self.session.abandon(seq)
        # A slot is free again: the next time the window fills is news.
        self._window_full_reported = False
        if w.error is not None:
            raise w.error
        if w.result is None:
            raise ResponseTimeout(f"no response to sequence_number {seq}")
        return w.result

    async def submit_sm(
        self,
        source_addr: str,
        destination_addr: str,
        short_message: bytes,
        *,
        context: Any = None,
        timeout: float | None = None,
        gate: Callable[[], Awaitable[Any]] | None = None,
        **fields: Any,
    ) -> Response:
        """Submit one segment; waits for a window slot, then ``gate()`` (the
        rate limiter: it may return a time cell to stamp at the write), then
        for the response (``Response``; its ``command_status`` may be
        non-zero). Raises ``ResponseTimeout``, ``BindLost`` (``NotSent`` when
        nothing was written) or ``PduRejected``."""
        session = self.session
        return await self._request(
            lambda: session.submit_sm(
                source_addr,
                destination_addr,
                short_message,
                context=context,
                now=trio.current_time(),
                **fields,
            ),
            timeout,
            gate,
        )

    async def send(self, pdu: Pdu, *, context: Any = None, timeout: float | None = None) -> Response:
        """Send any other request (data_sm, query_sm...) and wait for its response."""
        session = self.session
        return await self._request(
            lambda: session.send(pdu, context=context, now=trio.current_time()), timeout
        )

    async def submit_many(
        self,
        segments: list[tuple[str, str, bytes, dict[str, Any]]],
        *,
        timeout: float | None = None,
    ) -> list[Response | BaseException]:
        """Submit ``(source_addr, destination_addr, short_message, fields)``
        segments: encoded and written together (one send_all for all that fit
        the window), answered in the reader's pass without a task or an event
        per segment. Waits for window slots like ``submit_sm``; returns one
        ``Response`` or exception (``ResponseTimeout``, ``BindLost``,
        ``PduRejected``, ``SmppError`` for a field the codec refuses) per
        segment, in order. The timeout runs from the last segment's write."""
        n = len(segments)
        batch = _Batch(n)
        if n == 0:
            return []
        session = self.session
        waiters = self._waiters
        slots = self._slots
        limit = timeout if timeout is not None else self.response_timeout
        mine: list[int] = []  # sequence numbers registered for this batch
        i = 0
        try:
            while i < n:
                if self._lost is not None:
                    not_sent = NotSent(self._lost.cause, self._lost.detail)
                    for k in range(i, n):
                        batch.results[k] = not_sent
                    break
                if slots.value == 0:
                    if not self._window_full_reported:
                        self._window_full_reported = True
                        self._emit("window_full", detail=f"all {session.window} slots in use")
                    await slots.acquire()
                    if self._lost is not None:
                        slots.release()
                        continue
                else:
                    slots.acquire_nowait()
                # Everything the window allows now leaves in one write.
                out: list[bytes] = []
                now = trio.current_time()
                while True:
                    src, dst, sm, fields = segments[i]
                    try:
                        out.append(session.submit_sm(src, dst, sm, now=now, **fields))
                    except Exception as e:  # SmppError / LocalProtocolError: this one only
                        batch.results[i] = e
                        slots.release()
                    else:
                        seq = session.last_sequence_number
                        waiters[seq] = (batch, i)
                        mine.append(seq)
                        batch.pending += 1
                    i += 1
                    if i >= n or slots.value == 0:
                        break
                    slots.acquire_nowait()
                if out:
                    self._write(b"".join(out) if len(out) > 1 else out[0])
            if batch.pending:
                # A fresh event: the old one may have fired while the window
                # was full and later segments were still to be written.
                batch.event = trio.Event()
                with trio.move_on_after(limit):
                    await batch.event.wait()
        finally:
            if batch.pending:
                # Timed out or cancelled: free the slots; late answers are dropped.
                for seq in mine:
                    w = waiters.get(seq)
                    if w is not None and w[0] is batch:
                        del waiters[seq]
                        session.abandon(seq)
                        self._resolve(w, ResponseTimeout(f"no response to sequence_number {seq}"))
        self._window_full_reported = False
        return batch.results
