"""The websocket API server (docs/websocket-api.md; schema in schemas/api.py).

The server accepts TCP connections itself (trio.serve_listeners) and speaks
the websocket protocol through trio-websocket's connection object, so that
what a connection may hold is decided here, per phase:

  before authentication  at most `max_unauthenticated` such connections (a
          new one evicts the oldest), each with `auth_timeout` seconds from
          its TCP accept to a verified key (handshake and `auth` frame
          included) and `preauth_close_timeout` for its close handshake;
  after authentication   at most `max_connections` in all,
          `max_connections_per_unit` per business unit and
          `max_connections_per_key` per API key (over a cap: an `error`
          `too_many_connections`, close 1013).

One `_Connection` per authenticated websocket; each owns a nursery with:

  reader  receives frames, decodes each ONCE with `client_decoder`, answers
          pings and acks inline and hands sends/previews to frame tasks;
          it takes a frame's bytes from the connection's in-flight budget
          (`inflight_bytes`, `inflight_frames`) BEFORE decoding it, so a
          client's decoded frames are bounded and a spent budget stops the
          reading (TCP backpressure);
  frame   one per request frame; replies leave in frame order;
  events  pages the store (`events_after` for the connection's business unit)
          and pushes batches of at most `event_batch` messages, sleeping on
          the unit's signal of the EventNotifier between appends;
  acker   writes the highest acked cursor, coalescing acks (one store write
          per burst, not per frame); a failed write is answered with an
          `unavailable` error and retried with the next ack;
  writer  the only task that writes to the socket; it drains a queue bounded
          in frames (`send_queue`) and bytes (`send_queue_bytes`);
  watchdog closes the connection (1008, "not reading") when one frame has
          waited `write_timeout` seconds to be taken by the client.

Backpressure: a client that stops reading fills its socket, then its writer
blocks, then its queue: its events task stops paging the store (the events
stay there; this client just lags), its frame tasks stop, its in-flight
budget stays spent and its reader stops reading. Nothing is shared between
connections except the store and the notifier, so a slow client never stalls
the pipeline or another client; after `write_timeout` it is closed.

At-least-once: events are pushed from the last acked cursor (or the
`resume_from` the client gives); acks move the consumer's cursor (consumer =
API key id) forward, never beyond what this connection was sent; what wasn't
acked comes again after a reconnect. The highest ack of each key is also kept
in memory, so a reconnect resumes from it even before the store wrote it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import CloseConnection

from byosms.gateway.accept import MessageAcceptor
from byosms.gateway.notify import EventNotifier, NotifyingStore
from byosms.schemas import api
from byosms.schemas.records import ApiKey, Event

log = logging.getLogger("byosms.api")

_encode = api.encoder.encode
_decode = api.client_decoder.decode
_generic_decode = msgspec.json.Decoder().decode
_raw_items = msgspec.json.Decoder(list[msgspec.Raw]).decode
_UNKNOWN_TYPE = re.compile(r"^Invalid value (.*) - at `\$(?:\[(\d+)\])?\.type`$")
_INDEX = re.compile(r"at `\$\[(\d+)\]")
#: Websocket close codes (RFC 6455 7.4.1): normal, going away, invalid
#: payload data (e.g. a text frame that isn't UTF-8), policy violation,
#: server error, try again later (a connection cap).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013
#: A frame the server refuses is read again loosely (to echo the request's
#: id) only up to this size: the loose reading of a large frame of tiny
#: items would cost many times its size in memory.
_LOOSE_READ_MAX = 1 << 20
#: The literal every status message made by the Rust core starts with (a
#: string value can't hold it: its quotes would be escaped).
_STATUS_HEAD = '{"type":"status","cursor":'


def _malloc_trim() -> Any:
    """glibc's malloc_trim, or None elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


#: A connection that held more than this (frames in flight and queued) asks
#: for freed memory to go back to the OS when it closes (glibc keeps freed
#: heap otherwise: 4 non-reading clients left ~300 MB of RSS behind).
_TRIM_AFTER_BYTES = 1 << 20
#: Seconds between trims (closes in a burst share one).
_TRIM_INTERVAL = 1.0


class ApiLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The websocket API's limits (the `[websocket]` section of the config
    file sets them; docs/websocket-api.md "Limits")."""

    #: docs/websocket-api.md "Limits": frames above this get `frame_too_large`
    #: and are dropped; the connection stays open.
    max_frame_bytes: int = api.MAX_FRAME_BYTES
    #: Frames above this are not even buffered: the connection is closed with
    #: 1009 (message too big). Twice the soft limit.
    hard_frame_bytes: int = 2 * api.MAX_FRAME_BYTES
    max_batch: int = api.MAX_BATCH
    #: Seconds from a connection's TCP accept to a verified API key (the
    #: handshake and, without an Authorization header, the `auth` frame).
    auth_timeout: float = 5.0
    #: Connections not yet authenticated, at once; a new one over the cap
    #: evicts the oldest.
    max_unauthenticated: int = 64
    #: Seconds for the close handshake of a connection that never
    #: authenticated (then the TCP connection is dropped).
    preauth_close_timeout: float = 1.0
    #: Authenticated connections: in all, per business unit, per API key.
    max_connections: int = 1_000
    max_connections_per_unit: int = 200
    max_connections_per_key: int = 50
    #: Seconds for the close handshake of an authenticated connection (its
    #: current frame finishing included).
    close_timeout: float = 5.0
    #: Outgoing frames queued per connection before its producers wait, and
    #: their bytes (one frame larger than this still goes, alone).
    send_queue: int = 32
    send_queue_bytes: int = 4 * 1024 * 1024
    #: A frame the client hasn't taken in this many seconds (it reads
    #: nothing) closes the connection with 1008.
    write_timeout: float = 60.0
    #: Request frames of one connection processed at once, and their bytes
    #: (a frame larger than this is still processed, alone).
    inflight_frames: int = 16
    inflight_bytes: int = 4 * 1024 * 1024
    #: Token bucket per connection: sends per second, and burst (>= max_batch,
    #: so one full batch frame fits).
    send_rate: float = 20_000.0
    send_burst: int = 4_000
    #: API messages per pushed event frame (docs: "up to 500 per frame").
    event_batch: int = 500
    #: Fallback poll for events nobody poked the notifier about (seconds).
    poll_interval: float = 1.0


class _Budget:
    """A count of held units (bytes) with a cap: `take` waits while the cap
    would be exceeded, except that one item larger than the cap may be held
    alone (so a big frame is not refused, just never held with another)."""

    __slots__ = ("cap", "used", "_freed")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0
        self._freed: trio.Event | None = None

    async def take(self, n: int) -> None:
        while self.used and self.used + n > self.cap:
            if self._freed is None:
                self._freed = trio.Event()
            await self._freed.wait()
        self.used += n

    def give(self, n: int) -> None:
        self.used -= n
        if self._freed is not None:
            self._freed.set()
            self._freed = None


class _WebSocket(WebSocketConnection):
    """trio-websocket's connection, closing with a close frame where wsproto
    refuses what the peer sent (RFC 6455 8.1: a text frame that isn't UTF-8
    is failed with 1007; other framing errors with 1002). trio-websocket
    dropped the TCP connection without one."""

    async def _handle_close_connection_event(self, event: CloseConnection) -> None:
        if self._wsproto.state == ConnectionState.OPEN:
            # Not the peer's close (it would be REMOTE_CLOSING): wsproto's
            # parser failed the connection. Tell the peer why, briefly.
            with trio.move_on_after(1.0):
                try:
                    await self._send(CloseConnection(code=event.code,
                                                     reason=(event.reason or "")[:120]))
                except ConnectionClosed:
                    pass
        await super()._handle_close_connection_event(event)


class _TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = trio.current_time()

    def take(self, n: int = 1) -> int:
        """Up to `n` tokens; how many were granted (the rest are refused)."""
        now = trio.current_time()
        tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        granted = min(n, int(tokens))
        self.tokens = tokens - granted
        return granted


# --- store events -> API events ---------------------------------------------------

_SEGMENT_STATE = {"queued": "queued", "in_flight": "queued", "submitted": "en_route",
                  "delivered": "delivered", "failed": "failed"}
#: S7 generic code and cause of a state when the receipt/submit gave none.
_STATE_DEFAULTS = {
    "queued": (5, "DEFERRED"),
    "en_route": (6, "EN_ROUTE"),
    "delivered": (0, "DELIVERED"),
    "failed": (1, "UNKNOWN_FAILURE"),
}


_second_cache: list[Any] = [None, ""]
_last_at: list[Any] = [None, ""]


def _rfc3339(t: float) -> str:
    # The events of one store transaction share its time: format it once.
    if _last_at[0] == t:
        return _last_at[1]  # type: ignore[no-any-return]
    whole = int(t)
    # Events come in bursts within one second: format that second once.
    if _second_cache[0] != whole:
        _second_cache[0] = whole
        _second_cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    at = f"{_second_cache[1]}.{int((t - whole) * 1000):03d}Z"
    _last_at[0], _last_at[1] = t, at
    return at


def _status(ev: Event, p: dict[str, Any], state: str, segment: int | None,
            segments: int | None) -> api.Status:
    code, cause = p.get("generic_code"), p.get("generic_cause")
    if code is None or cause is None:
        dcode, dcause = _STATE_DEFAULTS.get(state, (9, "UNKNOWN"))
        code = dcode if code is None else code
        cause = dcause if cause is None else cause
    vendor = p.get("vendor_code")
    return api.Status(
        cursor=ev.cursor, message_id=p["message_id"], state=state, generic_code=int(code),
        generic_cause=str(cause), segment=segment, segments=segments,
        vendor_code=None if vendor is None else str(vendor), client_ref=p.get("client_ref"),
        at=_rfc3339(ev.created),
    )


def event_messages(ev: Event) -> list[api.Status | api.Inbound | api.Keyword | api.Operational]:
    """The API messages of one stored event (all carrying its cursor).

    A `status` event is one segment's change; when it also moved the message's
    rolled-up state (S13) a message-level `status` (no `segment`) follows with
    the same cursor. Unknown event types give []."""
    p = ev.payload
    if ev.type == "status":
        seg_state = _SEGMENT_STATE.get(p.get("segment_state", ""), "unknown")
        index = p.get("segment_index")
        seg_msg = _status(ev, p, seg_state, None if index is None else index + 1,
                          p.get("segment_count"))
        if not p.get("message_state_changed"):
            return [seg_msg]
        mstate = p.get("message_state", "unknown")
        if mstate in _STATE_DEFAULTS and mstate not in ("delivered", "failed"):
            # A non-final roll-up carries no final code of its own.
            code, cause = _STATE_DEFAULTS[mstate]
            msg = msgspec.structs.replace(seg_msg, state=mstate, generic_code=code,
                                          generic_cause=cause, segment=None, segments=None)
        elif mstate == seg_state:
            # The usual final case: the message took this segment's code.
            msg = msgspec.structs.replace(seg_msg, segment=None, segments=None)
        else:
            msg = _status(ev, p, mstate, None, None)
        return [seg_msg, msg]
    if ev.type == "inbound":
        return [api.Inbound(
            cursor=ev.cursor, message_id=p["message_id"],
            from_=p.get("from", p.get("source", "")), to=p.get("to", p.get("destination", "")),
            text=p.get("text", ""), integration=p.get("integration", ""),
            segments=p.get("segments", 1), keyword=p.get("keyword"), at=_rfc3339(ev.created),
        )]
    if ev.type == "keyword":
        return [api.Keyword(
            cursor=ev.cursor, keyword=p["keyword"], matched=p.get("matched"),
            from_=p.get("from", ""), to=p.get("to", ""), integration=p.get("integration", ""),
            opted_out=p.get("opted_out"), reply_message_id=p.get("reply_message_id"),
            message_id=p.get("message_id"), at=_rfc3339(ev.created),
        )]
    if ev.type == "operational":
        return [api.Operational(
            cursor=ev.cursor, kind=p.get("kind", "unknown"), integration=p.get("integration", ""),
            bind=p.get("bind"), cause=p.get("cause"), command_status=p.get("command_status"),
            detail=p.get("detail") or "", at=_rfc3339(ev.created),
        )]
    return []




# --- the server -------------------------------------------------------------------


class ApiServer:
    """Serves the websocket API for `store`.

    Pass the same `NotifyingStore` (or its notifier) the pipeline writes
    through, so appended events wake connections at once; without one,
    connections find new events by polling every `limits.poll_interval`."""

    def __init__(self, store: Any, *, acceptor: MessageAcceptor | None = None,
                 notifier: EventNotifier | None = None,
                 limits: ApiLimits | None = None) -> None:
        self.store = store
        if notifier is None:
            notifier = store.notifier if isinstance(store, NotifyingStore) else EventNotifier()
        self.notifier = notifier
        self.acceptor = acceptor if acceptor is not None else MessageAcceptor(store)
        self.limits = limits if limits is not None else ApiLimits()
        self.connections: set[_Connection] = set()
        self.port: int | None = None
        #: Deadline scopes of the connections not yet authenticated, oldest first.
        self._unauthenticated: dict[trio.CancelScope, None] = {}
        self._evicted: set[trio.CancelScope] = set()
        self._per_key: dict[str, int] = {}
        self._per_unit: dict[str, int] = {}
        #: The highest ack taken per API key in this process (written or not).
        self._acks: dict[str, int] = {}
        self._trim = _malloc_trim()
        self._trim_wanted = trio.Event()
        #: Counters (tests, metrics).
        self.evicted_unauthenticated = 0
        self.refused_over_cap = 0

    @property
    def unauthenticated(self) -> int:
        return len(self._unauthenticated)

    async def serve(self, host: str = "127.0.0.1", port: int = 0, *, ssl_context: Any = None,
                    task_status: trio.TaskStatus[ApiServer] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; `nursery.start(server.serve, ...)` returns once
        listening (then `server.port` is the bound port)."""
        listeners: list[Any] = list(await trio.open_tcp_listeners(port, host=host))
        sock = listeners[0].socket
        if ssl_context is not None:
            listeners = [trio.SSLListener(ln, ssl_context, https_compatible=True)
                         for ln in listeners]
        self.port = sock.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._handle_stream, listeners)
            if self._trim is not None:
                nursery.start_soon(self._trimmer)
            task_status.started(self)

    async def _trimmer(self) -> None:
        """Gives the heap freed by closed big connections back to the OS."""
        while True:
            await self._trim_wanted.wait()
            self._trim_wanted = trio.Event()
            await trio.to_thread.run_sync(self._trim, 0)
            await trio.sleep(_TRIM_INTERVAL)

    # --- one TCP connection -----------------------------------------------------------

    async def _handle_stream(self, stream: trio.abc.Stream) -> None:
        # Nothing a client does may escape: the handler nursery is shared by
        # every connection, and an exception here would cancel all of them.
        limits = self.limits
        try:
            async with trio.open_nursery() as nursery:
                ws = _WebSocket(stream, WSConnection(ConnectionType.SERVER),
                                max_message_size=limits.hard_frame_bytes)
                nursery.start_soon(ws._reader_task)
                try:
                    session = await self._authenticate(ws)
                    if session is not None:
                        await self._run(ws, *session)
                finally:
                    nursery.cancel_scope.cancel()
        except ConnectionClosed:
            pass
        except Exception:  # noqa: BLE001 - logged, connection dropped, others unaffected
            log.exception("websocket connection failed")
        finally:
            await trio.aclose_forcefully(stream)

    async def _authenticate(self, ws: _WebSocket) -> tuple[ApiKey, int] | None:
        """The key and the resume point of a connection, or None when it was
        refused (and answered) or dropped."""
        limits = self.limits
        unauth = self._unauthenticated
        with trio.move_on_after(limits.auth_timeout) as deadline:
            while len(unauth) >= limits.max_unauthenticated:
                oldest = next(iter(unauth))
                del unauth[oldest]
                self._evicted.add(oldest)
                self.evicted_unauthenticated += 1
                oldest.cancel()
            unauth[deadline] = None
            try:
                return await self._handshake(ws)
            finally:
                unauth.pop(deadline, None)
        if deadline in self._evicted:
            self._evicted.discard(deadline)
            return None  # dropped: a newer connection needed its place
        if ws._wsproto.state != ConnectionState.OPEN:
            return None  # no handshake within the deadline: just drop it
        await self._refuse(ws, f"no `auth` message within {limits.auth_timeout:g} s")
        return None

    async def _handshake(self, ws: _WebSocket) -> tuple[ApiKey, int] | None:
        request: WebSocketRequest = await ws._get_request()
        token = None
        for name, value in request.headers:
            if name.lower() == b"authorization":
                scheme, _, rest = value.decode("latin-1").partition(" ")
                token = rest.strip() if scheme.lower() == "bearer" else ""
        try:
            resume_from = _query_cursor(request.path)
        except ValueError as e:
            log.info("websocket handshake refused: %s", e)
            await request.reject(400, body=f"{e}\n".encode())
            return None
        key: ApiKey | None = None
        if token:
            key = await self.store.verify_api_key(token)
        await request.accept()
        if token is not None and key is None:
            await self._refuse(ws, "invalid API key in the Authorization header")
            return None
        if key is None:
            data = await ws.get_message()
            try:
                first = _decode(data)
            except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as e:
                await self._refuse(ws, f"the first frame must be an `auth` message ({e})")
                return None
            if not isinstance(first, api.Auth):
                await self._refuse(ws, "authenticate first: send an `auth` message or an "
                                       "`Authorization: Bearer` header")
                return None
            key = await self.store.verify_api_key(first.api_key)
            if key is None:
                await self._refuse(ws, "invalid API key")
                return None
            if first.resume_from is not None:
                resume_from = first.resume_from
        if resume_from is None:
            resume_from = max(await self.store.last_ack(key.id), self._acks.get(key.id, 0))
        return key, resume_from

    async def _refuse(self, ws: WebSocketConnection, reason: str) -> None:
        with trio.move_on_after(self.limits.preauth_close_timeout):
            await _close_with(ws, api.Error(code="unauthenticated", reason=reason),
                              CLOSE_POLICY, "unauthenticated")

    def _over_cap(self, key: ApiKey) -> str | None:
        limits = self.limits
        if len(self.connections) >= limits.max_connections:
            return f"the gateway serves {limits.max_connections} connections at most"
        if self._per_unit.get(key.business_unit, 0) >= limits.max_connections_per_unit:
            return (f"business unit {key.business_unit} has "
                    f"{limits.max_connections_per_unit} connections open (the limit)")
        if self._per_key.get(key.id, 0) >= limits.max_connections_per_key:
            return f"this API key has {limits.max_connections_per_key} connections open (the limit)"
        return None

    async def _run(self, ws: _WebSocket, key: ApiKey, resume_from: int) -> None:
        over = self._over_cap(key)
        if over is not None:
            self.refused_over_cap += 1
            log.info("connection of key %s refused: %s", key.id, over)
            with trio.move_on_after(self.limits.preauth_close_timeout):
                await _close_with(ws, api.Error(code="too_many_connections", reason=over),
                                  CLOSE_TRY_AGAIN, "too many connections")
            return
        conn = _Connection(self, ws, key, resume_from)
        unit, kid = key.business_unit, key.id
        self.connections.add(conn)
        self._per_unit[unit] = self._per_unit.get(unit, 0) + 1
        self._per_key[kid] = self._per_key.get(kid, 0) + 1
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)
            if conn.peak_bytes > _TRIM_AFTER_BYTES:
                self._trim_wanted.set()
            for counts, k in ((self._per_unit, unit), (self._per_key, kid)):
                left = counts[k] - 1
                if left:
                    counts[k] = left
                else:
                    del counts[k]


def _query_cursor(path: str) -> int | None:
    """`resume_from` of the handshake's URL; ValueError (one line) when the
    query can't be read or the value isn't a cursor."""
    try:
        query = parse_qs(urlsplit(path).query, strict_parsing=False, max_num_fields=32)
    except ValueError as e:
        raise ValueError(f"unreadable query string: {e}") from None
    values = query.get("resume_from")
    if not values:
        return None
    value = values[-1]
    if not (value.isascii() and value.isdigit()) or len(value) > 19 \
            or int(value) > api.MAX_CURSOR:
        raise ValueError(f"resume_from must be a cursor (0 to {api.MAX_CURSOR}), "
                         f"not {value[:40]!r}")
    return int(value)


async def _close_with(ws: WebSocketConnection, msg: Any, code: int, reason: str) -> None:
    try:
        await ws.send_message(_encode(msg).decode())
        await ws.aclose(code, reason)
    except ConnectionClosed:
        pass


def _frame_text(msg: Any) -> str:
    return _encode(msg).decode()


def _split_frame(frame: str, limit: int) -> list[str]:
    """A frame (JSON array) of more than `limit` messages as frames of at most
    `limit`, never separating the messages of one cursor (a segment status
    and its message roll-up), so an ack after any frame covers whole events."""
    items = _raw_items(frame)
    out: list[str] = []
    start = 0
    while start < len(items):
        end = min(start + limit, len(items))
        if end < len(items):
            # Move the cut back while it would split one cursor's messages.
            while end - 1 > start and _cursor_of(items[end - 1]) == _cursor_of(items[end]):
                end -= 1
        out.append("[" + ",".join(bytes(r).decode() for r in items[start:end]) + "]")
        start = end
    return out


class _CursorOnly(msgspec.Struct):
    cursor: int = -1


_cursor_only = msgspec.json.Decoder(_CursorOnly).decode


def _cursor_of(raw: msgspec.Raw) -> int:
    return _cursor_only(raw).cursor


class _Connection:
    def __init__(self, server: ApiServer, ws: WebSocketConnection, key: ApiKey,
                 resume_from: int) -> None:
        self.server = server
        self.ws = ws
        self.key = key
        self.business_unit = key.business_unit
        self.limits = limits = server.limits
        #: Highest cursor pushed to this client (lags behind for a slow client).
        self.pushed = resume_from
        self.resume_from = resume_from
        #: Acks are taken up to this: the key's ack when it connected, then
        #: the last cursor of each event frame queued for this client.
        self._ackable = min(resume_from, server._acks.get(key.id, 0))
        self._out_send, self._out_recv = trio.open_memory_channel[str](limits.send_queue)
        self._out_budget = _Budget(limits.send_queue_bytes)
        self._in_budget = _Budget(limits.inflight_bytes)
        self._inflight = trio.Semaphore(limits.inflight_frames)
        self._last_done = trio.Event()
        self._last_done.set()
        self._bucket = _TokenBucket(limits.send_rate, limits.send_burst)
        self._ack_wanted = 0
        self._acked = 0
        self._ack_wake = trio.Event()
        #: When the frame being written started (None: not writing).
        self._write_started: float | None = None
        self._writer_idle = trio.Event()
        self._writer_idle.set()
        self._stop_writing = False
        self._close_code, self._close_reason = CLOSE_NORMAL, ""
        self._work: trio.CancelScope | None = None
        #: The most bytes held at once (frames in flight plus queued replies).
        self.peak_bytes = 0

    @property
    def queued_frames(self) -> int:
        return self._out_send.statistics().current_buffer_used

    @property
    def queued_bytes(self) -> int:
        return self._out_budget.used

    @property
    def inflight_bytes(self) -> int:
        return self._in_budget.used

    async def run(self) -> None:
        stored = await self.server.store.last_ack(self.key.id)
        self._ackable = max(self._ackable, min(self.resume_from, stored))
        try:
            async with trio.open_nursery() as outer:
                outer.start_soon(self._writer)
                outer.start_soon(self._watchdog)
                with trio.CancelScope() as self._work:
                    async with trio.open_nursery() as nursery:
                        await self._queue(_frame_text(api.Ready(
                            business_unit=self.business_unit, resume_from=self.resume_from)))
                        nursery.start_soon(self._events)
                        nursery.start_soon(self._acker)
                        await self._reader(nursery)
                        nursery.cancel_scope.cancel()
                await self._close()
                outer.cancel_scope.cancel()
        finally:
            await self._flush_ack()

    async def _close(self) -> None:
        """The end of a connection the client didn't close: the frame being
        written finishes (it may be a slow reader), then the close frame."""
        self._stop_writing = True
        self._out_send.close()
        with trio.move_on_after(self.limits.close_timeout):
            await self._writer_idle.wait()
            await self.ws.aclose(self._close_code, self._close_reason or None)

    def _fail(self, code: int, reason: str) -> None:
        self._close_code, self._close_reason = code, reason
        if self._work is not None:
            self._work.cancel()

    async def _writer(self) -> None:
        recv, budget, ws = self._out_recv, self._out_budget, self.ws
        try:
            while not self._stop_writing:
                try:
                    text = await recv.receive()
                except (trio.EndOfChannel, trio.ClosedResourceError):
                    return
                if self._stop_writing:
                    return
                self._writer_idle = trio.Event()
                self._write_started = trio.current_time()
                try:
                    await ws.send_message(text)
                finally:
                    self._write_started = None
                    self._writer_idle.set()
                budget.give(len(text))
        except ConnectionClosed:
            if self._work is not None:
                self._work.cancel()

    async def _watchdog(self) -> None:
        timeout = self.limits.write_timeout
        while True:
            await trio.sleep(timeout / 4)
            started = self._write_started
            if started is not None and trio.current_time() - started >= timeout:
                log.info("closing a connection of key %s: it has read nothing for %g s",
                         self.key.id, timeout)
                self._fail(CLOSE_POLICY, f"not reading: a frame waited {timeout:g} s")
                return

    async def _queue(self, text: str) -> None:
        """Queue a frame for the writer; waits while the queue is full (in
        frames or bytes): backpressure."""
        budget = self._out_budget
        n = len(text)
        if budget.used and budget.used + n > budget.cap:
            await budget.take(n)
        else:
            budget.used += n
        try:
            await self._out_send.send(text)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            budget.give(n)  # closing: the frame is dropped with the connection

    async def _reply(self, msg: Any) -> None:
        await self._queue(_frame_text(msg))

    async def _error(self, code: str, reason: str, id: str | None = None) -> None:
        await self._reply(api.Error(code=code, reason=reason, id=id))  # type: ignore[arg-type]

    # --- reading ------------------------------------------------------------------

    async def _reader(self, nursery: trio.Nursery) -> None:
        limits = self.limits
        budget = self._in_budget
        while True:
            try:
                data = await self.ws.get_message()
            except ConnectionClosed:
                return
            size = len(data)
            if isinstance(data, str) and size * 4 > limits.max_frame_bytes:
                size = len(data.encode("utf-8", "surrogatepass"))
            if size > limits.max_frame_bytes:
                del data
                await self._error("frame_too_large",
                                  f"frame of {size} bytes; the limit is {limits.max_frame_bytes}")
                continue
            # The frame's bytes are held (raw, then decoded) until it is
            # answered: a spent budget stops the reading right here.
            if budget.used and budget.used + size > budget.cap:
                await budget.take(size)
            else:
                budget.used += size
            held = budget.used + self._out_budget.used
            if held > self.peak_bytes:
                self.peak_bytes = held
            try:
                decoded = _decode(data)
            except msgspec.ValidationError as e:  # a DecodeError subclass: test it first
                await self._invalid(data, str(e))
                budget.give(size)
                continue
            except msgspec.DecodeError as e:
                budget.give(size)
                await self._error("bad_json", f"not JSON: {e}")
                continue
            except RecursionError:
                budget.give(size)
                await self._error("bad_json", "JSON nested too deeply")
                continue
            del data
            if isinstance(decoded, list):
                if not decoded or len(decoded) > limits.max_batch:
                    budget.give(size)
                    if decoded:
                        await self._error("batch_too_large",
                                          f"{len(decoded)} messages in one frame; the limit "
                                          f"is {limits.max_batch}")
                    else:
                        await self._error("invalid_message", "empty batch")
                    continue
                msgs = decoded
            else:
                msgs = [decoded]
            await self._dispatch(nursery, msgs, isinstance(decoded, list), size)

    async def _invalid(self, data: str | bytes, problem: str) -> None:
        m = _UNKNOWN_TYPE.match(problem)
        # Error path only: read the frame again, loosely, to echo the request
        # id (not for large frames: a loose reading costs many times their size).
        loose: Any = None
        if len(data) <= _LOOSE_READ_MAX:
            try:
                loose = _generic_decode(data)
            except (msgspec.DecodeError, RecursionError):
                loose = None
        idx = _INDEX.search(problem)
        item = loose
        if isinstance(loose, list) and idx is not None and int(idx.group(1)) < len(loose):
            item = loose[int(idx.group(1))]
        rid = item.get("id") if isinstance(item, dict) else None
        rid = rid if isinstance(rid, str) and 0 < len(rid) <= 128 else None
        batch = isinstance(loose, list) or (loose is None and data[:1] in ("[", b"["))
        where = " (nothing in this batch was processed)" if batch else ""
        if m is not None:
            await self._error("unknown_type", f"unknown message type {m.group(1)}{where}", rid)
        else:
            await self._error("invalid_message", f"{problem}{where}", rid)

    async def _dispatch(self, nursery: trio.Nursery, msgs: list[Any], batch: bool,
                        size: int) -> None:
        # Acks are applied at once (they only move forward); everything else
        # is answered by a frame task, in frame order.
        answers: list[Any] = []
        sends: list[tuple[int, api.Send]] = []
        previews: list[tuple[int, api.Preview]] = []
        # The frame's sends in order, while the bucket lasts: one clock read.
        allowed = self._bucket.take(sum(1 for m in msgs if isinstance(m, api.Send)))
        for m in msgs:
            if isinstance(m, api.Send):
                allowed -= 1
                if allowed >= 0:
                    sends.append((len(answers), m))
                    answers.append(None)
                else:
                    answers.append(api.Rejected(
                        id=m.id, code="rate_limited",
                        reason=f"more than {self.limits.send_rate:g} sends/s on this connection"))
            elif isinstance(m, api.Ack):
                cursor = m.cursor
                if cursor > self._ackable:
                    answers.append(api.Error(
                        code="invalid_message",
                        reason=f"ack {cursor} is beyond the last event sent on this "
                               f"connection ({self._ackable}); acked up to that one"))
                    cursor = self._ackable
                if cursor > self._ack_wanted:
                    self._ack_wanted = cursor
                    acks = self.server._acks
                    if cursor > acks.get(self.key.id, 0):
                        acks[self.key.id] = cursor
                    self._ack_wake.set()
            elif isinstance(m, api.Ping):
                answers.append(api.Pong(id=m.id))
            elif isinstance(m, api.Preview):
                previews.append((len(answers), m))
                answers.append(None)
            elif isinstance(m, api.Auth):
                answers.append(api.Error(code="invalid_message", reason="already authenticated"))
        if not answers:
            self._in_budget.give(size)
            return
        await self._inflight.acquire()
        prev, done = self._last_done, trio.Event()
        self._last_done = done
        nursery.start_soon(self._frame, answers, sends, previews, batch, prev, done, size)

    async def _frame(self, answers: list[Any], sends: list[tuple[int, api.Send]],
                     previews: list[tuple[int, api.Preview]], batch: bool,
                     prev: trio.Event, done: trio.Event, size: int) -> None:
        try:
            acceptor = self.server.acceptor
            if sends:
                results = await acceptor.accept(self.business_unit, [s for _, s in sends])
                for (slot, _), r in zip(sends, results):
                    answers[slot] = r
            for slot, p in previews:
                answers[slot] = await acceptor.preview(self.business_unit, p)
            await prev.wait()
            await self._reply(answers if batch else answers[0])
        except Exception as e:  # noqa: BLE001 - the client hears, the connection goes on
            if isinstance(e, ConnectionClosed):
                raise
            log.exception("request frame failed")
            await prev.wait()
            await self._error("internal", f"internal error: {type(e).__name__}")
        finally:
            done.set()
            self._inflight.release()
            self._in_budget.give(size)

    # --- events -------------------------------------------------------------------

    async def _push(self, frame: str, count: int, last: int) -> None:
        """Queue one page of events (`count` API messages ending with cursor
        `last`), in frames of at most `event_batch` messages."""
        if last > self._ackable:
            self._ackable = last
        if count > self.limits.event_batch:
            for part in _split_frame(frame, self.limits.event_batch):
                await self._queue(part)  # blocks when full: backpressure
        else:
            await self._queue(frame)
        self.pushed = last

    async def _events(self) -> None:
        store = self.server.store
        notifier = self.server.notifier
        limits = self.limits
        unit = self.business_unit
        cursor = self.pushed
        batch = limits.event_batch
        # Stored events per page, adapted so a page's API messages (one or two
        # per event) stay within `event_batch`; a page that still overflows
        # is split.
        page = batch
        # A store that can make the frame text of a page of status events
        # (SQLite, through the Rust core) spares the event loop the decoding,
        # the API Structs and the encoding of every event.
        framed = getattr(store, "status_frame_after", None)
        while True:
            seen = notifier.generation_of(unit)
            if framed is not None:
                events = await framed(unit, cursor, page)
                if isinstance(events, tuple):
                    frame, last = events
                    count = frame.count(_STATUS_HEAD)
                    n_events = page  # a tuple page is full or the store's tail
                    await self._push(frame, count, last)
                    page = max(1, min(batch, n_events * batch // max(count, 1)))
                    cursor = last
                    continue
            else:
                events = await store.events_after(unit, cursor, page)
            if events:
                msgs: list[Any] = []
                for ev in events:
                    try:
                        msgs.extend(event_messages(ev))
                    except Exception:  # noqa: BLE001 - one bad record must not stop the stream
                        log.exception("cannot present event %d", ev.cursor)
                cursor = events[-1].cursor
                if msgs:
                    await self._push(_frame_text(msgs), len(msgs), cursor)
                    page = max(1, min(batch, len(events) * batch // len(msgs)))
                else:
                    self.pushed = cursor
                continue
            with trio.move_on_after(limits.poll_interval):
                await notifier.wait_unit(unit, seen)

    async def _acker(self) -> None:
        while True:
            await self._ack_wake.wait()
            self._ack_wake = trio.Event()
            try:
                await self._write_ack()
            except Exception as e:  # noqa: BLE001 - e.g. a full disk: tell, keep serving
                log.warning("could not record an ack of key %s: %s", self.key.id, e)
                await self._error("unavailable", f"the ack was not recorded ({e}); it is "
                                                 f"retried with the next ack")

    async def _write_ack(self) -> None:
        wanted = self._ack_wanted
        if wanted > self._acked:
            self._acked = await self.server.store.ack(self.key.id, wanted)

    async def _flush_ack(self) -> None:
        # An ack the acker had not written yet: write it before going, so a
        # clean disconnect doesn't redeliver what the client confirmed.
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            try:
                await self._write_ack()
            except Exception:  # noqa: BLE001 - at-least-once: the events just come again
                log.warning("could not record the last ack of %s", self.key.id)


@asynccontextmanager
async def open_api_server(store: Any, host: str = "127.0.0.1", port: int = 0, **kwargs: Any
                          ) -> AsyncIterator[ApiServer]:
    """Serve in the background for the duration of the block; yields the
    server (its `port` is bound). Keyword arguments go to `ApiServer`."""
    server = ApiServer(store, **kwargs)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, host, port)
        try:
            yield server
        finally:
            nursery.cancel_scope.cancel()


__all__ = ["ApiLimits", "ApiServer", "event_messages", "open_api_server"]
