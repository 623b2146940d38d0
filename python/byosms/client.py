"""`byosms.client`: a trio client for the websocket API (docs/client.md).

    async with connect("ws://127.0.0.1:8080/", api_key) as c:
        acc = await c.send("+447700900123", "Hello", from_="+14155550100")
        results = await c.send_many([{"to": "+447700900001", "text": "Hi", "from_": "+1..."}])
        async for ev in c.events():
            ...
            await c.ack(ev.cursor)

Requests are matched to answers by id, so many tasks may share one client.
Events arrive on a bounded buffer: if nobody consumes them, the client stops
reading the socket once it is full (the gateway then stops pushing to this
connection; nothing is lost, events wait in the gateway's store) — and
answers to sends queue behind them. Consume events or don't connect twice.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import msgspec
import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, \
    open_websocket_url

from byosms.schemas import api

log = logging.getLogger("byosms.client")

Event = api.Status | api.Inbound | api.Keyword | api.Operational
_decode = api.server_decoder.decode
_encode = api.encoder.encode
#: Events buffered in the client before it stops reading the socket.
EVENT_BUFFER = 10_000
#: With auto_ack, ack at least every this many events (and whenever the
#: buffer runs dry), so one ack frame covers a whole burst.
AUTO_ACK_EVERY = 256


class ClientError(Exception):
    pass


class Rejected(ClientError):
    """The gateway refused a request: `code` is one of schemas.api.RejectCode."""

    def __init__(self, answer: api.Rejected) -> None:
        super().__init__(f"{answer.code}: {answer.reason}")
        self.answer = answer
        self.code = answer.code
        self.reason = answer.reason
        self.id = answer.id


class ApiError(ClientError):
    """The gateway could not understand a frame, or refused the connection."""

    def __init__(self, answer: api.Error) -> None:
        super().__init__(f"{answer.code}: {answer.reason}")
        self.answer = answer
        self.code = answer.code
        self.reason = answer.reason


class ConnectionLost(ClientError):
    """The connection closed before the answer came (the request may or may
    not have been accepted: resend with the same idempotency key)."""


_EVENT_TYPES = (api.Status, api.Inbound, api.Keyword, api.Operational)


class _Waiter:
    """The answers to one request frame (one per id in it, in order)."""

    __slots__ = ("event", "results", "left", "index", "lost")

    def __init__(self, ids: list[str]) -> None:
        self.event = trio.Event()
        self.results: list[Any] = [None] * len(ids)
        self.left = len(ids)
        self.index = {rid: k for k, rid in enumerate(ids)}
        self.lost: ConnectionLost | None = None

    def put(self, rid: str, answer: Any) -> None:
        k = self.index[rid]
        if self.results[k] is None:
            self.left -= 1
        self.results[k] = answer
        if self.left == 0:
            self.event.set()


class Client:
    """Use `connect()`."""

    def __init__(self, ws: WebSocketConnection, ready: api.Ready, *, auto_ack: bool,
                 event_buffer: int) -> None:
        self._ws = ws
        self.ready = ready
        self.business_unit = ready.business_unit
        self.resume_from = ready.resume_from
        self.auto_ack = auto_ack
        self._ids = itertools.count(1)
        self._pending: dict[str, _Waiter] = {}
        # A frame's events travel as one list (a channel operation per event
        # was a fifth of a busy client's time); `_buffered` counts the events
        # themselves, for the backpressure at `event_buffer`.
        self._ev_send, self._ev_recv = trio.open_memory_channel[list[Event]](math.inf)
        self._event_buffer = event_buffer
        self._buffered = 0
        self._room = trio.Event()
        self._reader_waits = False
        self._closed: BaseException | None = None
        self._acked = 0
        #: Errors the gateway sent without a request id (e.g. bad_json).
        self.errors: list[api.Error] = []

    # --- requests -----------------------------------------------------------------

    def _new_id(self) -> str:
        return f"c{next(self._ids)}"

    async def _request(self, frame: Any, ids: list[str]) -> list[Any]:
        if self._closed is not None:
            raise ConnectionLost("the connection is closed") from self._closed
        waiter = _Waiter(ids)
        for i in ids:
            self._pending[i] = waiter
        try:
            await self._ws.send_message(_encode(frame).decode())
            await waiter.event.wait()
        except ConnectionClosed as e:
            raise ConnectionLost("the connection closed") from e
        finally:
            for i in ids:
                self._pending.pop(i, None)
        if waiter.lost is not None:
            raise waiter.lost
        return waiter.results

    async def send(self, to: str, text: str, *, from_: str | None = None,
                   integration: str | None = None, idempotency_key: str | None = None,
                   client_ref: str | None = None) -> api.Accepted:
        """Send one message; returns once it is committed. Raises `Rejected`."""
        rid = self._new_id()
        msg = api.Send(id=rid, to=to, text=text, from_=from_, integration=integration,
                       idempotency_key=idempotency_key, client_ref=client_ref)
        (answer,) = await self._request(msg, [rid])
        return _check(answer, api.Accepted)

    async def send_many(self, items: Iterable[Mapping[str, Any] | api.Send]
                        ) -> list[api.Accepted | api.Rejected]:
        """Many sends, one frame per `api.MAX_BATCH`; one answer per item, in
        order (Accepted or Rejected — nothing raises for a single refusal).
        Items are `api.Send` or mappings of `send()`'s keyword arguments plus
        `to` and `text`; their `id` is replaced by the client's own."""
        sends = []
        for it in items:
            if isinstance(it, api.Send):
                s = msgspec.structs.replace(it, id=self._new_id())
            else:
                s = api.Send(id=self._new_id(), **it)
            sends.append(s)
        out: list[Any] = []
        for start in range(0, len(sends), api.MAX_BATCH):
            chunk = sends[start:start + api.MAX_BATCH]
            answers = await self._request(chunk, [s.id for s in chunk])
            for a in answers:
                if isinstance(a, api.Error):
                    raise ApiError(a)
            out.extend(answers)
        return out

    async def preview(self, text: str, *, from_: str | None = None,
                      integration: str | None = None) -> api.PreviewResult:
        rid = self._new_id()
        (answer,) = await self._request(
            api.Preview(id=rid, text=text, from_=from_, integration=integration), [rid])
        return _check(answer, api.PreviewResult)

    async def ping(self) -> api.Pong:
        rid = self._new_id()
        (answer,) = await self._request(api.Ping(id=rid), [rid])
        return _check(answer, api.Pong)

    async def ack(self, cursor: int) -> None:
        """Every event up to `cursor` is processed: after a reconnect, delivery
        resumes after it."""
        if cursor <= self._acked:
            return
        self._acked = cursor
        try:
            await self._ws.send_message(_encode(api.Ack(cursor=cursor)).decode())
        except ConnectionClosed as e:
            raise ConnectionLost("the connection closed") from e

    async def send_raw(self, data: str | bytes) -> None:
        """Send a frame as is (for tests of the gateway's error handling)."""
        await self._ws.send_message(data)

    # --- events -------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """Events in cursor order, until the connection closes. With
        `auto_ack`, an event counts as processed when the loop asks for the
        next one; acks go out in bursts (see AUTO_ACK_EVERY)."""
        last: int | None = None
        unacked = 0
        quiet = 0
        recv = self._ev_recv
        batch: list[Event] = []
        pos = 0
        while True:
            if last is not None and self.auto_ack:
                unacked += 1
            # Buffered events are taken without a checkpoint each (one per
            # event was a third of a busy client's time); the ack, or a
            # checkpoint, every AUTO_ACK_EVERY keeps the loop cancellable.
            ev: Event | None = None
            if pos < len(batch):
                ev = batch[pos]
                pos += 1
            else:
                try:
                    batch, pos = recv.receive_nowait(), 1
                    ev = batch[0]
                except trio.WouldBlock:
                    pass
                except trio.EndOfChannel:
                    return
            if unacked and (ev is None or unacked >= AUTO_ACK_EVERY):
                try:
                    await self.ack(last)  # type: ignore[arg-type]
                except ConnectionLost:
                    return
                unacked = 0
            elif ev is not None:
                quiet += 1
                if quiet >= AUTO_ACK_EVERY:
                    quiet = 0
                    await trio.lowlevel.checkpoint()
            if ev is None:
                try:
                    batch, pos = await recv.receive(), 1
                except trio.EndOfChannel:
                    return
                ev = batch[0]
            self._buffered -= 1
            if self._reader_waits and self._buffered < self._event_buffer:
                self._reader_waits = False
                self._room.set()
            last = ev.cursor
            yield ev

    # --- reading ------------------------------------------------------------------

    async def _reader(self) -> None:
        try:
            while True:
                data = await self._ws.get_message()
                try:
                    decoded = _decode(data)
                except (msgspec.ValidationError, msgspec.DecodeError) as e:
                    log.warning("unreadable frame from the gateway: %s", e)
                    continue
                events: list[Event] = []
                for m in decoded if isinstance(decoded, list) else (decoded,):
                    if isinstance(m, _EVENT_TYPES):
                        events.append(m)
                        continue
                    rid = getattr(m, "id", None)
                    w = self._pending.get(rid) if rid is not None else None
                    if w is not None:
                        w.put(rid, m)
                    elif isinstance(m, api.Error):
                        self.errors.append(m)
                if events:
                    self._ev_send.send_nowait(events)
                    self._buffered += len(events)
                    while self._buffered >= self._event_buffer:
                        # The buffer is full: backpressure (the gateway keeps
                        # what follows in its store).
                        self._room = trio.Event()
                        self._reader_waits = True
                        await self._room.wait()
        except ConnectionClosed as e:
            self._closed = e
        finally:
            self._ev_send.close()
            lost = ConnectionLost("the connection closed before the answer came")
            for w in set(self._pending.values()):
                if not w.event.is_set():
                    w.lost = lost
                    w.event.set()


def _check(answer: Any, expected: type) -> Any:
    if isinstance(answer, expected):
        return answer
    if isinstance(answer, api.Rejected):
        raise Rejected(answer)
    if isinstance(answer, api.Error):
        raise ApiError(answer)
    raise ClientError(f"unexpected answer {answer!r}")


def _with_query(url: str, **params: Any) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


@asynccontextmanager
async def connect(url: str, api_key: str, *, resume_from: int | None = None,
                  auto_ack: bool = False, header_auth: bool = True,
                  event_buffer: int = EVENT_BUFFER) -> AsyncIterator[Client]:
    """Connect and authenticate (Authorization header, or an `auth` frame
    with `header_auth=False`). Events resume after the key's last ack, or
    after `resume_from`. Raises ApiError if the gateway refuses the key."""
    headers = [(b"authorization", b"Bearer " + api_key.encode())] if header_auth else []
    if header_auth and resume_from is not None:
        url = _with_query(url, resume_from=resume_from)
    async with open_websocket_url(url, extra_headers=headers,
                                  max_message_size=2 * api.MAX_FRAME_BYTES) as ws:
        if not header_auth:
            await ws.send_message(
                _encode(api.Auth(api_key=api_key, resume_from=resume_from)).decode())
        try:
            first = _decode(await ws.get_message())
        except ConnectionClosed as e:
            raise ConnectionLost("the gateway closed the connection") from e
        if isinstance(first, api.Error):
            raise ApiError(first)
        if not isinstance(first, api.Ready):
            raise ClientError(f"expected `ready`, got {first!r}")
        client = Client(ws, first, auto_ack=auto_ack, event_buffer=event_buffer)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client._reader)
                try:
                    yield client
                finally:
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The reader only ends quietly: a lone exception is the caller's own,
            # give it back unwrapped.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise


async def consume_events(url: str, api_key: str, handler: Callable[[Event], Awaitable[None]],
                         *, reconnect_delay: float = 0.5, max_delay: float = 30.0) -> None:
    """Run `handler` on every event, forever, reconnecting after failures.

    An event is acked once `handler` returned for it (in bursts), so after a
    crash or a reconnect delivery resumes after the last handled event;
    events handled but not yet acked come again (at-least-once). Runs until
    cancelled; a refused key raises ApiError."""
    delay = reconnect_delay
    while True:
        try:
            async with connect(url, api_key, auto_ack=True) as c:
                delay = reconnect_delay
                async for ev in c.events():
                    await handler(ev)
        except ApiError as e:
            if e.code == "unauthenticated":
                raise
            log.warning("gateway error, reconnecting: %s", e)
        except (OSError, HandshakeError, ConnectionClosed, ConnectionLost) as e:
            log.info("connection lost (%s); reconnecting in %.1f s", e, delay)
        await trio.sleep(delay)
        delay = min(max_delay, delay * 2)


__all__ = [
    "ApiError",
    "Client",
    "ClientError",
    "ConnectionLost",
    "Event",
    "Rejected",
    "connect",
    "consume_events",
]
