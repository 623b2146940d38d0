"""The websocket API's resource limits and hostile-client defences (issue 15:
defects 2, 3, 8, 10, 13 and their docs in docs/websocket-api.md "Limits").

Every test runs real websocket (or raw TCP) connections on loopback against
the real ApiServer and a real SQLite file; every wait has a deadline.
"""

from __future__ import annotations

import logging
import os
import struct

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, HandshakeError, \
    open_websocket_url
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from byosms.api import ApiLimits, open_api_server
from byosms.client import ApiError, connect
from byosms.gateway.notify import EventNotifier, NotifyingStore
from byosms.schemas import api
from byosms.schemas.records import NewEvent, Number
from byosms.secret import Secret
from byosms.store import open_sqlite_store
from byosms.store.base import StoreError

SENDER = "+14155550100"
OTHER_SENDER = "+14155550200"
TO = "+447700900123"
DEADLINE = 30


@pytest.fixture
async def env(tmp_path):
    db = str(tmp_path / "gateway.db")
    async with open_sqlite_store(db, key=os.urandom(32), synchronous="NORMAL") as raw:
        store = NotifyingStore(raw)
        cfg = {"host": "smsc.example", "system_id": "me", "password": Secret("pw")}
        a = await store.create_integration("acme", "smpp", "carrier-a", cfg, state="active")
        b = await store.create_integration("globex", "smpp", "carrier-b", cfg, state="active")
        await store.add_number(Number(SENDER, "local", a.id, "acme"))
        await store.add_number(Number(OTHER_SENDER, "local", b.id, "globex"))
        key, token = await store.create_api_key("acme", "tests")
        _, other = await store.create_api_key("globex", "tests")
        yield dict(store=store, raw=raw, integ=a, token=token, key=key, other_token=other)


def url(srv, query: str = "") -> str:
    return f"ws://127.0.0.1:{srv.port}/{query}"


def headers(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


async def recv(ws):
    return api.server_decoder.decode(await ws.get_message())


def enc(msg) -> str:
    return api.encoder.encode(msg).decode()


async def eventually(pred, step=0.01):
    while not pred():
        await trio.sleep(step)


def op_event(i: int, unit: str = "acme") -> NewEvent:
    return NewEvent(unit, "operational", {"kind": "bind_up", "integration": str(i)})


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class RawClient:
    """A websocket client on a bare TCP stream: it writes what it is told and
    reads only when asked (a client that never reads, a protocol violator)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)

    @classmethod
    async def open(cls, port: int, token: str | None = None) -> RawClient:
        c = cls(await trio.open_tcp_stream("127.0.0.1", port))
        extra = headers(token) if token else []
        await c.stream.send_all(c.ws.send(Request(host="localhost", target="/",
                                                  extra_headers=extra)))
        while True:
            ev = await c.next_event()
            if isinstance(ev, AcceptConnection):
                return c

    async def next_event(self):
        while True:
            for ev in self.ws.events():
                return ev
            data = await self.stream.receive_some(65536)
            if not data:
                return None
            self.ws.receive_data(data)

    def frame(self, text: str) -> bytes:
        return self.ws.send(TextMessage(data=text))


def masked_text_frame(payload: bytes) -> bytes:
    """A client text frame (FIN, masked) around arbitrary bytes."""
    mask = b"\x01\x02\x03\x04"
    n = len(payload)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) +
                            struct.pack("!H", n))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


# --- defect 8: unauthenticated connections ---------------------------------------


async def test_silent_connections_are_capped_and_dropped_within_the_deadline(env):
    lim = ApiLimits(max_unauthenticated=8, auth_timeout=1.0, preauth_close_timeout=0.5)
    with trio.fail_after(DEADLINE):
        async with open_api_server(env["store"], limits=lim) as srv:
            silent = [await trio.open_tcp_stream("127.0.0.1", srv.port) for _ in range(40)]
            await eventually(lambda: srv.evicted_unauthenticated >= 32)
            assert srv.unauthenticated <= lim.max_unauthenticated
            # An authenticated client still gets in at once (it evicts the oldest).
            t0 = trio.current_time()
            async with connect(url(srv), env["token"]) as c:
                assert (await c.ping()).id
                assert isinstance(await c.send(TO, "hi", from_=SENDER), api.Accepted)
            assert trio.current_time() - t0 < lim.auth_timeout
            # Every silent one is closed by the gateway within the deadline.
            with trio.fail_after(lim.auth_timeout + lim.preauth_close_timeout + 1.0):
                for s in silent:
                    assert await s.receive_some(100) == b""
            assert srv.unauthenticated == 0
            for s in silent:
                await s.aclose()


async def test_handshake_without_auth_and_never_reading_is_dropped_quickly(env):
    """A peer that completes the handshake, sends nothing and never answers
    the close handshake was held 10 s + 60 s; now auth_timeout + preauth
    close timeout."""
    lim = ApiLimits(auth_timeout=0.5, preauth_close_timeout=0.5)
    with trio.fail_after(DEADLINE):
        async with open_api_server(env["store"], limits=lim) as srv:
            c = await RawClient.open(srv.port)
            t0 = trio.current_time()
            with trio.fail_after(lim.auth_timeout + lim.preauth_close_timeout + 1.0):
                while await c.stream.receive_some(65536):
                    pass  # the error frame, the close frame, then EOF
            assert trio.current_time() - t0 >= lim.auth_timeout - 0.05
            await c.stream.aclose()


@pytest.mark.parametrize("query", ["?resume_from=%C2%B2", "?resume_from=-1",
                                   "?resume_from=99999999999999999999", "?resume_from=1e3"])
async def test_bad_query_is_a_clean_400_without_traceback(env, caplog, query):
    with trio.fail_after(DEADLINE):
        async with open_api_server(env["store"]) as srv:
            with caplog.at_level(logging.DEBUG, logger="byosms"):
                with pytest.raises((ConnectionRejected, HandshakeError)) as e:
                    async with open_websocket_url(url(srv, query),
                                                  extra_headers=headers(env["token"])):
                        pass
                if isinstance(e.value, ConnectionRejected):
                    assert e.value.status_code == 400
                async with connect(url(srv), env["token"]) as c:  # the server is fine
                    await c.ping()
    assert not [r for r in caplog.records if r.exc_info]
    assert len([r for r in caplog.records if r.name.startswith("byosms")]) <= 1


# --- connection caps ---------------------------------------------------------------


async def test_connection_caps_per_key_unit_and_overall(env):
    lim = ApiLimits(max_connections_per_key=2, max_connections_per_unit=3, max_connections=4)
    store = env["store"]
    _, token2 = await store.create_api_key("acme", "second")
    with trio.fail_after(DEADLINE):
        async with open_api_server(store, limits=lim) as srv:
            async with connect(url(srv), env["token"]), connect(url(srv), env["token"]):
                with pytest.raises(ApiError) as e:  # a third one of the key
                    async with connect(url(srv), env["token"]):
                        pass
                assert e.value.code == "too_many_connections" and "API key" in e.value.reason
                async with open_websocket_url(url(srv), extra_headers=headers(
                        env["token"])) as ws:
                    assert (await recv(ws)).code == "too_many_connections"
                    with pytest.raises(ConnectionClosed) as closed:
                        await ws.get_message()
                    assert closed.value.reason.code == 1013
                async with connect(url(srv), token2):  # the unit's third
                    with pytest.raises(ApiError) as e:
                        async with connect(url(srv), token2):
                            pass
                    assert "business unit" in e.value.reason
                    async with connect(url(srv), env["other_token"]):  # the 4th overall
                        with pytest.raises(ApiError) as e:
                            async with connect(url(srv), env["other_token"]):
                                pass
                        assert "at most" in e.value.reason
            # Closed connections give their places back.
            await eventually(lambda: not srv.connections)
            async with connect(url(srv), env["token"]) as c, connect(url(srv), env["token"]):
                await c.ping()
            assert srv.refused_over_cap == 4


# --- defect 2: clients that never read ---------------------------------------------


def _preview_frame(k: int) -> str:
    """A 4 MiB frame: 1,000 previews of ~4,000 characters (each answered)."""
    text = ("x" * 4000)
    return enc([api.Preview(id=f"{k}-{i:04d}-" + "i" * 100, text=text) for i in range(1000)])


@pytest.mark.slow
async def test_non_reading_clients_hold_bounded_memory_released_on_close(env):
    lim = ApiLimits(write_timeout=3600)
    n_clients = 4
    frame = _preview_frame(0)
    assert len(frame) <= api.MAX_FRAME_BYTES
    with trio.fail_after(120):
        async with open_api_server(env["store"], limits=lim) as srv:
            # Warm up (imports, caches, one big frame through): the baseline.
            async with connect(url(srv), env["token"]) as c:
                await c.send_raw(frame)
                await c.ping()
            base = rss_bytes()
            clients = [await RawClient.open(srv.port, env["token"]) for _ in range(n_clients)]
            data = clients[0].frame(frame)  # masked once; valid for every client

            async def flood(c: RawClient) -> None:
                with trio.move_on_after(8):  # blocks once the gateway stops reading
                    for _ in range(40):
                        await c.stream.send_all(data)

            async with trio.open_nursery() as n:
                for c in clients:
                    n.start_soon(flood, c)
                # Others are unaffected meanwhile.
                async with connect(url(srv), env["token"]) as other:
                    await trio.sleep(4)
                    assert isinstance(await other.send(TO, "still served", from_=SENDER),
                                      api.Accepted)
            peak = rss_bytes()
            conns = [c for c in srv.connections]
            assert len(conns) == n_clients
            for conn in conns:
                assert conn.inflight_bytes <= lim.inflight_bytes + api.MAX_FRAME_BYTES
                assert conn.queued_bytes <= lim.send_queue_bytes + 512 * 1024
            grown = peak - base
            # Was ~94 MB per connection (16 decoded frames + 32 replies held).
            assert grown < n_clients * 40 * 2**20, grown / 2**20
            for c in clients:
                await c.stream.aclose()
            await eventually(lambda: not srv.connections)
            # Freed memory goes back to the OS (within a second or so).
            with trio.move_on_after(5):
                while rss_bytes() - base > 40 * 2**20:
                    await trio.sleep(0.1)
            released = rss_bytes() - base
            assert released < 40 * 2**20, released / 2**20


async def test_a_client_that_stops_reading_is_closed_with_1008(env):
    lim = ApiLimits(write_timeout=0.5, close_timeout=5.0, event_batch=50, send_queue=2)
    detail = "x" * 1000
    with trio.fail_after(DEADLINE):
        async with open_api_server(env["store"], limits=lim) as srv:
            await env["store"].append_events(
                [NewEvent("acme", "operational", {"kind": "throttled", "integration": "a",
                                                  "detail": detail}) for _ in range(5000)])
            async with open_websocket_url(url(srv), extra_headers=headers(env["token"]),
                                          message_queue_size=0) as ws:
                async with connect(url(srv), env["token"]) as other:
                    await eventually(lambda: len(srv.connections) == 2)
                    await trio.sleep(lim.write_timeout * 2)  # not reading
                    assert isinstance(await other.send(TO, "fine", from_=SENDER),
                                      api.Accepted)
                # It reads again: what was being written, then a clear close.
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await ws.get_message()
                assert closed.value.reason.code == 1008
                assert "not reading" in closed.value.reason.reason


# --- defect 3: wake-ups per business unit ------------------------------------------


class CountingStore:
    """Counts event page reads per business unit."""

    def __init__(self, store) -> None:
        self._store = store
        self.reads: dict[str, int] = {}

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def status_frame_after(self, unit, cursor, limit):
        self.reads[unit] = self.reads.get(unit, 0) + 1
        return await self._store.status_frame_after(unit, cursor, limit)


async def test_traffic_of_one_unit_does_not_wake_another_units_connections(env):
    store = env["store"]
    counting = CountingStore(store)
    lim = ApiLimits(poll_interval=3600)
    with trio.fail_after(DEADLINE):
        async with open_api_server(counting, notifier=store.notifier, limits=lim) as srv:
            async with trio.open_nursery() as idle:
                ready = 0

                async def idle_b(task_status=trio.TASK_STATUS_IGNORED):
                    nonlocal ready
                    async with connect(url(srv), env["other_token"]) as c:
                        await c.ping()
                        ready += 1
                        await trio.sleep_forever()

                for _ in range(50):
                    idle.start_soon(idle_b)
                await eventually(lambda: ready == 50)
                async with connect(url(srv), env["token"]) as a:
                    await a.ping()
                    await trio.sleep(0.05)
                    b_reads = counting.reads.get("globex", 0)
                    a_reads = counting.reads.get("acme", 0)
                    got = 0
                    for i in range(20):
                        await store.append_events([op_event(i)])
                        async for _ in a.events():
                            got += 1
                            break
                    assert got == 20
                    await trio.sleep(0.05)
                    assert counting.reads.get("globex", 0) == b_reads  # never woken
                    assert counting.reads["acme"] >= a_reads + 20
                    assert store.notifier.wakeups.get("globex", 0) == 0
                idle.cancel_scope.cancel()


async def test_pipeline_writes_wake_only_their_unit(env):
    """Submits (segment ids only), receipts and inbound name their unit."""
    from byosms.gateway.accept import MessageAcceptor
    from byosms.schemas.records import Receipt, SubmitOutcome

    store, notifier = env["store"], env["store"].notifier
    acc = await MessageAcceptor(store).accept(
        "acme", [api.Send(id="1", to=TO, text="hi", from_=SENDER)])
    assert isinstance(acc[0], api.Accepted)
    before = dict(notifier.wakeups)
    seen_b = notifier.generation_of("globex")
    segs = await store.claim_segments(env["integ"].id, 10)
    await store.record_submits([SubmitOutcome(segment_id=segs[0].id, vendor_message_id="v1")],
                               details=False)
    await store.record_receipts([Receipt(integration=env["integ"].id, vendor_ids=("v1",),
                                         state="delivered")], details=False)
    await store.append_events([op_event(1)])
    assert notifier.wakeups["acme"] == before.get("acme", 0) + 3
    assert notifier.generation_of("globex") == seen_b
    assert notifier.wakeups.get("globex", 0) == 0


async def test_notifier_without_unit_wakes_everyone():
    n = EventNotifier()
    a, b = n.generation_of("a"), n.generation_of("b")
    n.poke()
    with trio.fail_after(1):
        await n.wait_unit("a", a)
        await n.wait_unit("b", b)


# --- defect 10: a client breaking its own session or key ---------------------------


async def test_hostile_frames_get_typed_errors_and_the_session_goes_on(env):
    with trio.fail_after(DEADLINE):
        async with open_api_server(env["store"]) as srv:
            async with open_websocket_url(url(srv), extra_headers=headers(env["token"])) as ws:
                await recv(ws)
                cases = [
                    ('{"type": "ack", "cursor": %d}' % 2**63, "invalid_message"),
                    ('{"type": "ack", "cursor": %d}' % 2**64, "invalid_message"),
                    ("[" * 1000 + "]" * 1000, "invalid_message"),
                    ('{"type": "send", "id": "x", "to": ' + "[" * 1000 + "]" * 1000 + "}",
                     "invalid_message"),
                    ('{"a": ' * 1000 + "1" + "}" * 1000, "bad_json"),  # too deep to read
                ]
                for frame, code in cases:
                    await ws.send_message(frame)
                    err = await recv(ws)
                    assert isinstance(err, api.Error) and err.code == code, (frame[:40], err)
                    await ws.send_message(enc(api.Ping(id="alive")))
                    assert await recv(ws) == api.Pong(id="alive")
            # A cursor out of range in `auth` is refused with a typed error too.
            async with open_websocket_url(url(srv)) as ws:
                await ws.send_message('{"type": "auth", "api_key": "k", "resume_from": %d}'
                                      % 2**64)
                err = await recv(ws)
                assert err.code == "unauthenticated" and "resume_from" in err.reason


async def test_an_ack_beyond_what_was_sent_does_not_silence_the_key(env):
    store = env["store"]
    with trio.fail_after(DEADLINE):
        async with open_api_server(store) as srv:
            async with connect(url(srv), env["token"]) as c:
                await c.ack(10**12)
                await c.ping()
                assert [e.code for e in c.errors] == ["invalid_message"]
            async with connect(url(srv), env["token"]) as c:
                assert c.ready.resume_from == 0
                (cursor,) = await store.append_events([op_event(1)])
                async for ev in c.events():
                    assert ev.cursor == cursor
                    break
    assert await store.last_ack(env["key"].id) == 0


class FullDiskAcks:
    """A store whose ack writes fail (ENOSPC) while `full` is set."""

    def __init__(self, store) -> None:
        self._store = store
        self.full = True

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def ack(self, consumer, cursor):
        if self.full:
            raise StoreError("database or disk is full")
        return await self._store.ack(consumer, cursor)


async def test_an_ack_on_a_full_disk_keeps_the_connection(env):
    store = FullDiskAcks(env["store"])
    cursors = await env["store"].append_events([op_event(i) for i in range(3)])
    with trio.fail_after(DEADLINE):
        async with open_api_server(store, notifier=env["store"].notifier) as srv:
            async with connect(url(srv), env["token"]) as c:
                async for ev in c.events():
                    if ev.cursor == cursors[-1]:
                        break
                await c.ack(cursors[0])
                await eventually(lambda: c.errors)
                assert c.errors[0].code == "unavailable"
                assert isinstance(await c.send(TO, "still here", from_=SENDER), api.Accepted)
                store.full = False
                await c.ack(cursors[1])

                async def acked():
                    return await env["store"].last_ack(env["key"].id) == cursors[1]
                while not await acked():
                    await trio.sleep(0.01)


# --- defect 13 ----------------------------------------------------------------------


class SlowAcks:
    """A store whose ack writes take long to commit (a busy writer)."""

    def __init__(self, store, delay: float) -> None:
        self._store = store
        self.delay = delay

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def ack(self, consumer, cursor):
        await trio.sleep(self.delay)
        return await self._store.ack(consumer, cursor)


async def test_a_fast_reconnect_resumes_from_the_latest_ack(env):
    store = SlowAcks(env["store"], 0.5)
    cursors = await env["store"].append_events([op_event(i) for i in range(5)])
    with trio.fail_after(DEADLINE):
        async with open_api_server(store, notifier=env["store"].notifier) as srv:
            async with connect(url(srv), env["token"]) as c:
                async for ev in c.events():
                    if ev.cursor == cursors[-1]:
                        break
                await c.ack(cursors[2])
                await c.ping()  # the ack frame was read
            async with connect(url(srv), env["token"]) as c:
                assert c.ready.resume_from == cursors[2]


async def test_event_frames_hold_at_most_500_messages(env):
    store = env["store"]
    # Each status event that moved its message becomes two API messages.
    payload = {"message_id": "m", "segment_state": "delivered", "segment_index": 0,
               "segment_count": 1, "message_state_changed": True,
               "message_state": "delivered"}
    cursors = await store.append_events([NewEvent("acme", "status", payload)] * 700 +
                                        [op_event(1)] + [NewEvent("acme", "status", payload)] * 300)
    with trio.fail_after(DEADLINE):
        async with open_api_server(store) as srv:
            async with open_websocket_url(url(srv), extra_headers=headers(env["token"])) as ws:
                await recv(ws)
                seen: list[int] = []
                while not seen or seen[-1] != cursors[-1]:
                    frame = await recv(ws)
                    assert isinstance(frame, list) and 0 < len(frame) <= 500
                    # A cursor's messages are never split across frames.
                    assert not seen or frame[0].cursor != seen[-1]
                    seen.extend(m.cursor for m in frame)
    assert sorted(set(seen)) == cursors


async def test_invalid_utf8_closes_with_1007(env):
    with trio.fail_after(DEADLINE):
        async with open_api_server(env["store"]) as srv:
            c = await RawClient.open(srv.port, env["token"])
            ev = await c.next_event()
            assert isinstance(ev, TextMessage)  # ready
            await c.stream.send_all(masked_text_frame(b'{"type": "ping", "id": "\xff\xfe"}'))
            while True:
                ev = await c.next_event()
                assert ev is not None, "the TCP connection closed without a close frame"
                if isinstance(ev, CloseConnection):
                    break
            assert ev.code == 1007
            await c.stream.aclose()
            async with connect(url(srv), env["token"]) as other:
                await other.ping()


# --- the [websocket] section, through the Gateway (`byosms serve`) -------------------

GATEWAY_CONFIG = """\
[websocket]
port = 0
max_connections_per_key = 1
max_unauthenticated = 4
auth_timeout = 0.5
preauth_close_timeout = 0.5
[web]
port = 0
[store]
path = "gw.db"
synchronous = "NORMAL"
"""


def test_websocket_section_defaults_and_bad_values():
    from byosms.schemas.config import ConfigError, load_config

    ws = load_config().websocket
    assert (ws.host, ws.port) == ("127.0.0.1", 8765)
    assert ApiLimits(**ws.limits()) == ApiLimits()  # the documented defaults, one source
    for bad in ("write_timeout = 0", "max_connections = 0", "bogus = 1"):
        with pytest.raises(ConfigError, match=r"websocket"):
            load_config(GATEWAY_CONFIG.replace("port = 0\n", f"port = 0\n{bad}\n", 1))


async def test_gateway_applies_the_websocket_limits(tmp_path):
    from byosms.schemas.config import load_config
    from byosms.server import Gateway

    gw = Gateway(load_config(GATEWAY_CONFIG), base_dir=tmp_path)
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(gw.run)
            _, token = await gw.store.create_api_key("default", "test")
            u = f"ws://127.0.0.1:{gw.ws_port}/"
            silent = [await trio.open_tcp_stream("127.0.0.1", gw.ws_port) for _ in range(10)]
            async with connect(u, token) as c:
                await c.ping()
                with pytest.raises(ApiError) as e:
                    async with connect(u, token):
                        pass
                assert e.value.code == "too_many_connections"
            assert gw.api.unauthenticated <= 4
            with trio.fail_after(0.5 + 0.5 + 1.0):
                for s in silent:
                    assert await s.receive_some(100) == b""
            for s in silent:
                await s.aclose()
            nursery.cancel_scope.cancel()
