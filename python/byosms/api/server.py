"""The websocket API server (docs/websocket-api.md; schema in schemas/api.py).

One `_Connection` per websocket, owned by the server's handler nursery; each
connection owns a nursery with its tasks:

  reader  receives frames, decodes each ONCE with `client_decoder`, answers
          pings and acks inline and hands sends/previews to frame tasks;
  frame   one per request frame (at most `inflight_frames` at once, so a
          client pipelining single-message frames gets them committed in the
          same store transaction); replies leave in frame order;
  events  pages the store (`events_after` for the connection's business unit)
          and pushes batches, sleeping on the EventNotifier between appends;
  acker   writes the highest acked cursor, coalescing acks (one store write
          per burst, not per frame);
  writer  the only task that writes to the socket; it drains a BOUNDED queue.

Backpressure: a client that stops reading fills its socket, then its writer
blocks, then its queue: its events task stops paging the store (the events
stay there; this client just lags) and its frame tasks stop, which stops its
reader. Nothing is shared between connections except the store and the
notifier, so a slow client never stalls the pipeline or another client.

At-least-once: events are pushed from the last acked cursor (or the
`resume_from` the client gives); acks move the consumer's cursor (consumer =
API key id) forward; what wasn't acked comes again after a reconnect.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, \
    serve_websocket

from byosms.gateway.accept import MessageAcceptor
from byosms.gateway.notify import EventNotifier, NotifyingStore
from byosms.schemas import api
from byosms.schemas.records import ApiKey, Event

log = logging.getLogger("byosms.api")

_encode = api.encoder.encode
_decode = api.client_decoder.decode
_generic_decode = msgspec.json.Decoder().decode
_UNKNOWN_TYPE = re.compile(r"^Invalid value (.*) - at `\$(?:\[(\d+)\])?\.type`$")
_INDEX = re.compile(r"at `\$\[(\d+)\]")
#: Websocket close codes (RFC 6455 7.4.1): policy violation, server error.
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011


@dataclass(frozen=True)
class ApiLimits:
    #: docs/websocket-api.md "Limits": frames above this get `frame_too_large`
    #: and are dropped; the connection stays open.
    max_frame_bytes: int = api.MAX_FRAME_BYTES
    #: Frames above this are not even buffered: trio-websocket closes the
    #: connection with 1009 (message too big). Twice the soft limit.
    hard_frame_bytes: int = 2 * api.MAX_FRAME_BYTES
    max_batch: int = api.MAX_BATCH
    #: Seconds a connection without an Authorization header has to send `auth`.
    auth_timeout: float = 10.0
    #: Outgoing frames queued per connection before its producers wait.
    send_queue: int = 32
    #: Request frames of one connection processed at once.
    inflight_frames: int = 16
    #: Token bucket per connection: sends per second, and burst (>= max_batch,
    #: so one full batch frame fits).
    send_rate: float = 20_000.0
    send_burst: int = 4_000
    #: Events per pushed frame (one store read each).
    event_batch: int = 500
    #: Fallback poll for events nobody poked the notifier about (seconds).
    poll_interval: float = 1.0


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

    async def serve(self, host: str = "127.0.0.1", port: int = 0, *, ssl_context: Any = None,
                    task_status: trio.TaskStatus[ApiServer] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; `nursery.start(server.serve, ...)` returns once
        listening (then `server.port` is the bound port)."""
        async with trio.open_nursery() as handlers:
            ws_server = await handlers.start(
                lambda task_status: serve_websocket(
                    self._handle, host, port, ssl_context, handler_nursery=handlers,
                    max_message_size=self.limits.hard_frame_bytes, task_status=task_status,
                )
            )
            self.port = ws_server.port
            task_status.started(self)

    # --- one connection -----------------------------------------------------------

    async def _handle(self, request: WebSocketRequest) -> None:
        # Nothing a client does may escape: the handler nursery is shared by
        # every connection, and an exception here would cancel all of them.
        try:
            await self._session(request)
        except ConnectionClosed:
            pass
        except Exception:  # noqa: BLE001 - logged, connection dropped, others unaffected
            log.exception("websocket connection failed")

    async def _session(self, request: WebSocketRequest) -> None:
        token = None
        for name, value in request.headers:
            if name.lower() == b"authorization":
                scheme, _, rest = value.decode("latin-1").partition(" ")
                token = rest.strip() if scheme.lower() == "bearer" else ""
        resume_from = _query_cursor(request.path)
        key: ApiKey | None = None
        if token:
            key = await self.store.verify_api_key(token)
        ws = await request.accept()
        if token is not None and key is None:
            await _refuse(ws, "invalid API key in the Authorization header")
            return
        if key is None:
            with trio.move_on_after(self.limits.auth_timeout):
                data = await ws.get_message()
                try:
                    first = _decode(data)
                except (msgspec.ValidationError, msgspec.DecodeError) as e:
                    await _refuse(ws, f"the first frame must be an `auth` message ({e})")
                    return
                if not isinstance(first, api.Auth):
                    await _refuse(ws, "authenticate first: send an `auth` message or an "
                                      "`Authorization: Bearer` header")
                    return
                key = await self.store.verify_api_key(first.api_key)
                if key is None:
                    await _refuse(ws, "invalid API key")
                    return
                if first.resume_from is not None:
                    resume_from = first.resume_from
            if key is None:
                await _refuse(ws, f"no `auth` message within {self.limits.auth_timeout:g} s")
                return
        if resume_from is None:
            resume_from = await self.store.last_ack(key.id)
        conn = _Connection(self, ws, key, resume_from)
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)


def _query_cursor(path: str) -> int | None:
    values = parse_qs(urlsplit(path).query).get("resume_from")
    if values and values[-1].isdigit():
        return int(values[-1])
    return None


async def _refuse(ws: WebSocketConnection, reason: str) -> None:
    try:
        await ws.send_message(_encode(api.Error(code="unauthenticated", reason=reason)).decode())
        await ws.aclose(CLOSE_POLICY, "unauthenticated")
    except ConnectionClosed:
        pass


def _frame_text(msg: Any) -> str:
    return _encode(msg).decode()


class _Connection:
    def __init__(self, server: ApiServer, ws: WebSocketConnection, key: ApiKey,
                 resume_from: int) -> None:
        self.server = server
        self.ws = ws
        self.key = key
        self.business_unit = key.business_unit
        self.limits = server.limits
        #: Highest cursor pushed to this client (lags behind for a slow client).
        self.pushed = resume_from
        self.resume_from = resume_from
        self._out_send, self._out_recv = trio.open_memory_channel[str](self.limits.send_queue)
        self._inflight = trio.Semaphore(self.limits.inflight_frames)
        self._last_done = trio.Event()
        self._last_done.set()
        self._bucket = _TokenBucket(self.limits.send_rate, self.limits.send_burst)
        self._ack_wanted = 0
        self._acked = 0
        self._ack_wake = trio.Event()

    @property
    def queued_frames(self) -> int:
        return self._out_send.statistics().current_buffer_used

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._writer, nursery.cancel_scope)
                await self._out_send.send(_frame_text(api.Ready(
                    business_unit=self.business_unit, resume_from=self.resume_from)))
                nursery.start_soon(self._events)
                nursery.start_soon(self._acker)
                await self._reader(nursery)
                nursery.cancel_scope.cancel()
        finally:
            await self._flush_ack()

    async def _writer(self, scope: trio.CancelScope) -> None:
        try:
            async for text in self._out_recv:
                await self.ws.send_message(text)
        except ConnectionClosed:
            scope.cancel()

    async def _reply(self, msg: Any) -> None:
        await self._out_send.send(_frame_text(msg))

    async def _error(self, code: str, reason: str, id: str | None = None) -> None:
        await self._reply(api.Error(code=code, reason=reason, id=id))  # type: ignore[arg-type]

    # --- reading ------------------------------------------------------------------

    async def _reader(self, nursery: trio.Nursery) -> None:
        limits = self.limits
        while True:
            try:
                data = await self.ws.get_message()
            except ConnectionClosed:
                return
            size = len(data)
            if isinstance(data, str) and size * 4 > limits.max_frame_bytes:
                size = len(data.encode("utf-8", "surrogatepass"))
            if size > limits.max_frame_bytes:
                await self._error("frame_too_large",
                                  f"frame of {size} bytes; the limit is {limits.max_frame_bytes}")
                continue
            try:
                decoded = _decode(data)
            except msgspec.ValidationError as e:  # a DecodeError subclass: test it first
                await self._invalid(data, str(e))
                continue
            except msgspec.DecodeError as e:
                await self._error("bad_json", f"not JSON: {e}")
                continue
            if isinstance(decoded, list):
                if not decoded:
                    await self._error("invalid_message", "empty batch")
                    continue
                if len(decoded) > limits.max_batch:
                    await self._error("batch_too_large",
                                      f"{len(decoded)} messages in one frame; the limit is "
                                      f"{limits.max_batch}")
                    continue
                msgs = decoded
            else:
                msgs = [decoded]
            await self._dispatch(nursery, msgs, isinstance(decoded, list))

    async def _invalid(self, data: str | bytes, problem: str) -> None:
        m = _UNKNOWN_TYPE.match(problem)
        # Error path only: read the frame again, loosely, to echo the request id.
        try:
            loose = _generic_decode(data)
        except msgspec.DecodeError:
            loose = None
        idx = _INDEX.search(problem)
        item = loose
        if isinstance(loose, list) and idx is not None and int(idx.group(1)) < len(loose):
            item = loose[int(idx.group(1))]
        rid = item.get("id") if isinstance(item, dict) else None
        rid = rid if isinstance(rid, str) and 0 < len(rid) <= 128 else None
        where = "" if not isinstance(loose, list) else " (nothing in this batch was processed)"
        if m is not None:
            await self._error("unknown_type", f"unknown message type {m.group(1)}{where}", rid)
        else:
            await self._error("invalid_message", f"{problem}{where}", rid)

    async def _dispatch(self, nursery: trio.Nursery, msgs: list[Any], batch: bool) -> None:
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
                if m.cursor > self._ack_wanted:
                    self._ack_wanted = m.cursor
                    self._ack_wake.set()
            elif isinstance(m, api.Ping):
                answers.append(api.Pong(id=m.id))
            elif isinstance(m, api.Preview):
                previews.append((len(answers), m))
                answers.append(None)
            elif isinstance(m, api.Auth):
                answers.append(api.Error(code="invalid_message", reason="already authenticated"))
        if not answers:
            return
        await self._inflight.acquire()
        prev, done = self._last_done, trio.Event()
        self._last_done = done
        nursery.start_soon(self._frame, answers, sends, previews, batch, prev, done)

    async def _frame(self, answers: list[Any], sends: list[tuple[int, api.Send]],
                     previews: list[tuple[int, api.Preview]], batch: bool,
                     prev: trio.Event, done: trio.Event) -> None:
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
            log.exception("request frame failed")
            await prev.wait()
            await self._error("internal", f"internal error: {type(e).__name__}")
        finally:
            done.set()
            self._inflight.release()

    # --- events -------------------------------------------------------------------

    async def _events(self) -> None:
        store = self.server.store
        notifier = self.server.notifier
        limits = self.limits
        cursor = self.pushed
        # A store that can make the frame text of a page of status events
        # (SQLite, through the Rust core) spares the event loop the decoding,
        # the API Structs and the encoding of every event.
        framed = getattr(store, "status_frame_after", None)
        while True:
            seen = notifier.generation
            if framed is not None:
                events = await framed(self.business_unit, cursor, limits.event_batch)
                if isinstance(events, tuple):
                    frame, cursor = events
                    await self._out_send.send(frame)  # blocks when full: backpressure
                    self.pushed = cursor
                    continue
            else:
                events = await store.events_after(self.business_unit, cursor, limits.event_batch)
            if events:
                msgs: list[Any] = []
                for ev in events:
                    try:
                        msgs.extend(event_messages(ev))
                    except Exception:  # noqa: BLE001 - one bad record must not stop the stream
                        log.exception("cannot present event %d", ev.cursor)
                cursor = events[-1].cursor
                if msgs:
                    # Blocks while this client's queue is full: backpressure.
                    await self._reply(msgs)
                self.pushed = cursor
                continue
            with trio.move_on_after(limits.poll_interval):
                await notifier.wait(seen)

    async def _acker(self) -> None:
        while True:
            await self._ack_wake.wait()
            self._ack_wake = trio.Event()
            await self._write_ack()

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
