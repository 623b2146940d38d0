"""The websocket API over a real loopback socket, against a real SQLite file.

Covers docs/websocket-api.md: authentication (header, first frame, bad key,
none), sends accepted only after commit, idempotency, typed refusals, batches
answered in one frame in order, preview, pushed events with cursors, ack and
resume (at-least-once), backpressure (a client that never reads doesn't stall
another), bad input, ping, rate limit.
"""

from __future__ import annotations

import os
import sqlite3

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trio_websocket import ConnectionClosed, open_websocket_url

from byosms import _core
from byosms.api import ApiLimits, open_api_server
from byosms.client import ApiError, Rejected, connect
from byosms.gateway.notify import NotifyingStore
from byosms.schemas import api
from byosms.schemas.records import NewEvent, Number, Receipt
from byosms.secret import Secret
from byosms.store import open_sqlite_store
from deadlines import WAIT

SENDER = "+14155550100"
OTHER_BU_SENDER = "+14155550200"
TO = "+447700900123"


class Env:
    def __init__(self, store, db, integ, other_integ, token, key, other_token):
        self.store = store
        self.db = db
        self.integ = integ
        self.other_integ = other_integ
        self.token = token
        self.key = key
        self.other_token = other_token


@pytest.fixture
async def env(tmp_path):
    db = str(tmp_path / "gateway.db")
    async with open_sqlite_store(db, key=os.urandom(32)) as raw:
        store = NotifyingStore(raw)
        cfg = {"host": "smsc.example", "system_id": "me", "password": Secret("pw")}
        integ = await store.create_integration("acme", "smpp", "carrier-a", cfg, state="active")
        other = await store.create_integration("globex", "smpp", "carrier-b", cfg,
                                               state="active")
        await store.add_number(Number(SENDER, "local", integ.id, "acme"))
        await store.add_number(Number(OTHER_BU_SENDER, "local", other.id, "globex"))
        key, token = await store.create_api_key("acme", "tests")
        _, other_token = await store.create_api_key("globex", "tests")
        yield Env(store, db, integ, other, token, key, other_token)


def limits(**kw):
    return ApiLimits(**{"auth_timeout": 5.0, **kw})


@pytest.fixture
async def server(env):
    async with open_api_server(env.store, limits=limits()) as srv:
        yield srv


def url(srv) -> str:
    return f"ws://127.0.0.1:{srv.port}/"


def count(db: str, sql: str, *args) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


async def wait_until(pred, *, step=0.01, timeout=WAIT):
    """Poll a condition, failing after `timeout` seconds (no timed assert)."""
    with trio.fail_after(timeout):
        while not await pred():
            await trio.sleep(step)


async def recv(ws):
    with trio.fail_after(WAIT):
        return api.server_decoder.decode(await ws.get_message())


async def closed_by_server(ws) -> ConnectionClosed:
    """The ConnectionClosed that ends `ws`'s next read (within WAIT seconds)."""
    with trio.fail_after(WAIT), pytest.raises(ConnectionClosed) as closed:
        await ws.get_message()
    return closed.value


def enc(msg) -> str:
    return api.encoder.encode(msg).decode()


# --- authentication ------------------------------------------------------------


async def test_auth_by_header(env, server):
    async with connect(url(server), env.token) as c:
        assert c.ready == api.Ready(business_unit="acme", resume_from=0)
        assert (await c.ping()).id is not None


async def test_auth_by_first_frame_with_resume_from(env, server):
    async with connect(url(server), env.token, header_auth=False, resume_from=7) as c:
        assert c.ready == api.Ready(business_unit="acme", resume_from=7)
        await c.ping()
    async with connect(url(server), env.token, resume_from=3) as c:  # header + ?resume_from
        assert c.ready.resume_from == 3


@pytest.mark.parametrize("header_auth", [True, False])
async def test_bad_key_is_refused(env, server, header_auth):
    with pytest.raises(ApiError) as e:
        async with connect(url(server), "byo_not-a-real-key", header_auth=header_auth):
            pass
    assert e.value.code == "unauthenticated"


async def test_revoked_key_is_refused(env, server):
    await env.store.revoke_api_key(env.key.id)
    with pytest.raises(ApiError):
        async with connect(url(server), env.token):
            pass


async def test_unauthenticated_frame_gets_error_and_close(env, server):
    async with open_websocket_url(url(server)) as ws:
        await ws.send_message(enc(api.Ping(id="k-1")))
        err = await recv(ws)
        assert isinstance(err, api.Error) and err.code == "unauthenticated"
        assert (await closed_by_server(ws)).reason.code == 1008


async def test_auth_timeout_closes(env):
    async with open_api_server(env.store, limits=limits(auth_timeout=0.05)) as srv:
        async with open_websocket_url(url(srv)) as ws:
            err = await recv(ws)  # sent nothing
            assert err.code == "unauthenticated" and "auth" in err.reason
            await closed_by_server(ws)


# --- sending -------------------------------------------------------------------


async def test_send_is_accepted_after_commit(env, server):
    async with connect(url(server), env.token) as c:
        acc = await c.send(TO, "Your code is 123456", from_=SENDER, client_ref="order-77")
        # The answer came: the message and its segment are already in the file.
        msg = await env.store.get_message(acc.message_id)
        assert msg is not None and msg.state == "queued" and msg.client_ref == "order-77"
        assert (msg.source, msg.destination, msg.business_unit) == (SENDER, TO, "acme")
        assert count(env.db, "SELECT count(*) FROM segments WHERE message_id = ?",
                     acc.message_id) == 1
        assert (acc.segments, acc.encoding, acc.data_coding) == (1, "gsm7", 0)

        long = await c.send(TO, "x" * 400, from_=SENDER)
        segs = await env.store.get_segments(long.message_id)
        assert long.segments == len(segs) == 3
        assert all(s.esm_class & 0x40 for s in segs)  # UDH concatenation (udh8 default)
        refs = {_core.parse_udh(s.short_message).concat[0] for s in segs}
        assert len(refs) == 1  # one reference per message

        ucs = await c.send(TO, "Grüße 👋", integration="carrier-a")
        assert (ucs.encoding, ucs.data_coding) == ("ucs2", 8)
        assert (await env.store.get_message(ucs.message_id)).source == SENDER


async def test_idempotent_send(env, server):
    async with connect(url(server), env.token) as c:
        first = await c.send(TO, "once", from_=SENDER, idempotency_key="order-77-otp")
        again = await c.send(TO, "once", from_=SENDER, idempotency_key="order-77-otp")
    assert not first.duplicate and again.duplicate
    assert again.message_id == first.message_id
    assert count(env.db, "SELECT count(*) FROM messages WHERE idempotency_key = ?",
                 "order-77-otp") == 1


async def test_opted_out_recipient_is_rejected(env, server):
    await env.store.set_opt_out(SENDER, TO, True)
    async with connect(url(server), env.token) as c:
        with pytest.raises(Rejected) as e:
            await c.send(TO, "promo", from_=SENDER)
        assert e.value.code == "opted_out"
        # another recipient is fine
        await c.send("+447700900124", "promo", from_=SENDER)
    assert count(env.db, "SELECT count(*) FROM messages WHERE destination = ?", TO) == 0


@pytest.mark.parametrize("to", ["447700900123", "+44", "+4477009001234567890", "+1 415 555",
                                "+0123456789", "+44 7700 900123"])
async def test_invalid_recipient(env, server, to):
    async with connect(url(server), env.token) as c:
        with pytest.raises(Rejected) as e:
            await c.send(to, "hi", from_=SENDER)
    assert e.value.code == "invalid_recipient"


async def test_senders_are_checked(env, server):
    async with connect(url(server), env.token) as c:
        answers = await c.send_many([
            {"to": TO, "text": "a", "from_": OTHER_BU_SENDER},  # another unit's number
            {"to": TO, "text": "b", "from_": "+14155559999"},  # in no inventory
            {"to": TO, "text": "c", "integration": env.other_integ.id},  # another unit's
            {"to": TO, "text": "d", "integration": "nope"},
            {"to": TO, "text": "e"},  # neither from nor integration
            {"to": TO, "text": "f", "from_": SENDER, "integration": "carrier-b"},
            {"to": TO, "text": ""},
        ])
    codes = [a.code for a in answers]
    # Another unit's number / integration answers exactly like a missing one.
    assert codes == ["unknown_sender", "unknown_sender", "unknown_sender", "unknown_sender",
                     "invalid_request", "invalid_request", "invalid_request"]
    assert count(env.db, "SELECT count(*) FROM messages") == 0


async def test_integration_states(env, server):
    async with connect(url(server), env.token) as c:
        await env.store.set_integration_state(env.integ.id, "inactive")
        server.acceptor.invalidate()
        acc = await c.send(TO, "queued while inactive", from_=SENDER)  # S12: queues
        assert (await env.store.get_message(acc.message_id)).state == "queued"
        await env.store.update_number(Number(SENDER, "local", env.integ.id, "acme",
                                             enabled=False))
        server.acceptor.invalidate()
        with pytest.raises(Rejected) as e:
            await c.send(TO, "x", from_=SENDER)
        assert e.value.code == "unknown_sender"
        await env.store.set_integration_state(env.integ.id, "deleted")
        server.acceptor.invalidate()
        with pytest.raises(Rejected) as e:
            await c.send(TO, "x", integration="carrier-a")
        assert e.value.code == "integration_deleted"


async def test_deleted_integration_refused_by_store_even_with_stale_cache(env, server):
    async with connect(url(server), env.token) as c:
        await c.send(TO, "warm the cache", from_=SENDER)
        await env.store.set_integration_state(env.integ.id, "deleted")
        with pytest.raises(Rejected) as e:  # cache still says active; the store says no
            await c.send(TO, "x", integration=env.integ.id)
        assert e.value.code == "integration_deleted"


async def test_batch_of_1000_answered_in_one_frame_in_order(env, server):
    bad = {10, 500, 999}
    frame = [
        api.Send(id=f"b-{i}", from_=SENDER, text=f"Hi {i}",
                 to="12345" if i in bad else f"+4477009{i:05d}")
        for i in range(1000)
    ]
    async with open_websocket_url(url(server), extra_headers=[
            (b"authorization", f"Bearer {env.token}".encode())],
            max_message_size=8 << 20) as ws:
        assert isinstance(await recv(ws), api.Ready)
        await ws.send_message(enc(frame))
        answer = await recv(ws)  # ONE frame
    assert isinstance(answer, list) and len(answer) == 1000
    assert [a.id for a in answer] == [s.id for s in frame]
    for i, a in enumerate(answer):
        if i in bad:
            assert isinstance(a, api.Rejected) and a.code == "invalid_recipient"
        else:
            assert isinstance(a, api.Accepted)
    assert count(env.db, "SELECT count(*) FROM messages") == 997
    ids = {a.message_id for a in answer if isinstance(a, api.Accepted)}
    assert len(ids) == 997


async def test_client_send_many_orders_answers(env, server):
    async with connect(url(server), env.token) as c:
        items = [{"to": f"+4477009{i:05d}", "text": f"m{i}", "from_": SENDER,
                  "client_ref": str(i)} for i in range(2500)]  # three frames
        answers = await c.send_many(items)
    assert len(answers) == 2500 and all(isinstance(a, api.Accepted) for a in answers)
    for i in (0, 1234, 2499):
        m = await env.store.get_message(answers[i].message_id)
        assert m.client_ref == str(i) and m.text == f"m{i}"


async def test_pipelined_single_frames_keep_order(env, server):
    async with open_websocket_url(url(server), extra_headers=[
            (b"authorization", f"Bearer {env.token}".encode())]) as ws:
        await recv(ws)
        for i in range(50):
            if i % 7 == 3:
                await ws.send_message(enc(api.Ping(id=f"p{i}")))
            else:
                await ws.send_message(enc(api.Send(id=f"p{i}", from_=SENDER, to=TO,
                                                   text=str(i))))
        got = [(await recv(ws)).id for _ in range(50)]
    assert got == [f"p{i}" for i in range(50)]


async def test_rate_limited(env):
    async with open_api_server(env.store, limits=limits(send_rate=1e-6, send_burst=3)) as srv:
        async with connect(url(srv), env.token) as c:
            answers = await c.send_many([{"to": TO, "text": str(i), "from_": SENDER}
                                         for i in range(5)])
    assert [type(a).__name__ for a in answers] == ["Accepted"] * 3 + ["Rejected"] * 2
    assert {a.code for a in answers[3:]} == {"rate_limited"}


async def test_preview(env, server):
    async with connect(url(server), env.token) as c:
        p = await c.preview("Grüße aus Köln 👋")
        assert p == api.PreviewResult(id=p.id, encoding="ucs2", data_coding=8, segments=1,
                                      units=17, remaining=53, forced_by=["👋"])
        g = await c.preview("x" * 161, from_=SENDER)
        assert (g.encoding, g.segments) == ("gsm7", 2)
        with pytest.raises(Rejected) as e:
            await c.preview("hi", from_=OTHER_BU_SENDER)
        assert e.value.code == "unknown_sender"
    assert count(env.db, "SELECT count(*) FROM messages") == 0


async def test_charset_chain_of_the_integration(env, server):
    cfg = {"host": "smsc.example", "system_id": "me", "password": Secret("pw"),
           "advanced_config": {"charsets": [{"dcs": 3, "charset": "ISO-8859-1"},
                                            {"dcs": 8, "charset": "utf-16be"}]}}
    latin = await env.store.create_integration("acme", "smpp", "latin", cfg, state="active")
    await env.store.add_number(Number("+14155550101", "local", latin.id, "acme"))
    server.acceptor.invalidate()
    async with connect(url(server), env.token) as c:
        acc = await c.send(TO, "Grüße", from_="+14155550101")
        assert (acc.encoding, acc.data_coding) == ("8bit", 3)
        seg = (await env.store.get_segments(acc.message_id))[0]
        assert seg.short_message == "Grüße".encode("latin-1") and seg.dcs == 3
        p = await c.preview("Grüße", integration="latin")
        assert p.data_coding == 3


# --- events --------------------------------------------------------------------


async def test_status_events_pushed_with_cursors(env, server):
    async with connect(url(server), env.token) as c:
        acc = await c.send(TO, "hello", from_=SENDER, client_ref="r1")
        (seg,) = await env.store.claim_segments(env.integ.id, 10)
        await env.store.record_submit(seg.id, "vendor-1")
        await env.store.record_receipt(Receipt(integration=env.integ.id,
                                               vendor_ids=("vendor-1",), state="delivered",
                                               generic_code=0, generic_cause="DELIVERED",
                                               vendor_code=0))
        got = []
        with trio.fail_after(WAIT):
            async for ev in c.events():
                got.append(ev)
                if len(got) == 4:
                    break
    assert all(isinstance(e, api.Status) for e in got)
    assert [(e.segment, e.state) for e in got] == [
        (1, "en_route"), (None, "en_route"), (1, "delivered"), (None, "delivered")]
    assert got[0].cursor == got[1].cursor < got[2].cursor == got[3].cursor
    assert all(e.message_id == acc.message_id and e.client_ref == "r1" for e in got)
    assert got[2].generic_code == 0 and got[2].vendor_code == "0" and got[0].generic_code == 6


async def test_inbound_and_operational_events(env, server):
    async with connect(url(server), env.token) as c:
        await env.store.append_events([
            NewEvent("acme", "inbound", {"message_id": "m1", "from": TO, "to": SENDER,
                                         "text": "STOP", "integration": "carrier-a",
                                         "keyword": "opt_out"}),
            NewEvent("globex", "operational", {"kind": "bind_up", "integration": "x"}),
            NewEvent("acme", "operational", {"kind": "bind_failed", "integration": "carrier-a",
                                             "bind": 2, "cause": "auth_failed",
                                             "command_status": 14}),
        ])
        evs = []
        with trio.fail_after(WAIT):
            async for ev in c.events():
                evs.append(ev)
                if len(evs) == 2:
                    break
    assert isinstance(evs[0], api.Inbound) and evs[0].keyword == "opt_out"
    assert evs[0].from_ == TO and evs[0].text == "STOP"
    assert isinstance(evs[1], api.Operational) and evs[1].cause == "auth_failed"
    assert evs[1].cursor == evs[0].cursor + 2  # the other unit's event is not shown


async def test_keyword_events_reach_the_owner(env, server):
    async with connect(url(server), env.token) as c:
        await env.store.append_events([
            NewEvent("globex", "keyword", {"keyword": "help", "from": TO, "to": "+1", "integration": "x"}),
            NewEvent("acme", "keyword", {"keyword": "opt_out", "matched": "STOP", "from": TO,
                                         "to": SENDER, "integration": "carrier-a",
                                         "opted_out": True, "reply_message_id": "msg_1"}),
        ])
        with trio.fail_after(WAIT):
            async for ev in c.events():
                break
    assert isinstance(ev, api.Keyword)
    assert (ev.keyword, ev.matched, ev.opted_out, ev.reply_message_id) == (
        "opt_out", "STOP", True, "msg_1")
    assert ev.from_ == TO and ev.to == SENDER


async def test_ack_and_reconnect_resume_after_last_ack(env, server):
    cursors = await env.store.append_events(
        [NewEvent("acme", "operational", {"kind": "bind_up", "integration": str(i)})
         for i in range(5)])
    async with connect(url(server), env.token) as c:
        seen = []
        with trio.fail_after(WAIT):
            async for ev in c.events():
                seen.append(ev.cursor)
                if len(seen) == 5:
                    break
        await c.ack(cursors[1])  # processed only the first two

        async def acked():
            return await env.store.last_ack(env.key.id) == cursors[1]
        await wait_until(acked)
    assert seen == cursors
    # Reconnect: resumes after the last ack, re-delivering the un-acked ones.
    async with connect(url(server), env.token, auto_ack=True) as c:
        assert c.ready.resume_from == cursors[1]
        again = []
        with trio.fail_after(WAIT):
            async for ev in c.events():
                again.append(ev.cursor)
                if len(again) == 3:
                    break
        await c.ping()
    assert again == cursors[2:]
    # An explicit resume_from overrides the stored ack.
    async with connect(url(server), env.token, resume_from=cursors[3]) as c:
        with trio.fail_after(WAIT):
            async for ev in c.events():
                assert ev.cursor == cursors[4]
                break


async def test_acks_only_move_forward(env, server):
    cursors = await env.store.append_events(
        [NewEvent("acme", "operational", {"kind": "bind_up", "integration": "a"})] * 3)
    async with open_websocket_url(url(server), extra_headers=[
            (b"authorization", f"Bearer {env.token}".encode())]) as ws:
        await recv(ws)
        await recv(ws)  # the events
        await ws.send_message(enc([api.Ack(cursor=cursors[2]), api.Ack(cursor=cursors[0])]))
        await ws.send_message(enc(api.Ping(id="k")))
        await recv(ws)

    async def acked():
        return await env.store.last_ack(env.key.id) == cursors[2]
    await wait_until(acked)


async def test_client_holds_at_most_its_buffer_and_loses_nothing(env):
    lim = limits(event_batch=50)
    async with open_api_server(env.store, limits=lim) as srv:
        cursors = await env.store.append_events(
            [NewEvent("acme", "operational", {"kind": "bind_up", "integration": str(i)})
             for i in range(1000)])
        async with connect(url(srv), env.token, event_buffer=120) as c:
            async def reader_stopped_or_overran():  # nobody consumes yet: the reader stops
                return c._reader_waits or c._buffered >= 120 + lim.event_batch
            await wait_until(reader_stopped_or_overran)
            # The buffer, plus at most the frame whose events filled it.
            assert 120 <= c._buffered < 120 + lim.event_batch
            seen = []
            with trio.fail_after(WAIT):
                async for ev in c.events():
                    seen.append(ev.cursor)
                    if len(seen) == len(cursors):
                        break
            assert seen == cursors
            assert isinstance(await c.send(TO, "after the backlog", from_=SENDER), api.Accepted)


async def test_slow_client_does_not_stall_fast_client(env):
    lim = limits(send_queue=2, event_batch=50)
    async with open_api_server(env.store, limits=lim) as srv:
        headers = [(b"authorization", f"Bearer {env.token}".encode())]
        # The slow client: trio-websocket buffers one message, then stops reading.
        async with open_websocket_url(url(srv), extra_headers=headers,
                                      message_queue_size=0):
            n = 20_000
            detail = "x" * 1000
            last = (await env.store.append_events(
                [NewEvent("acme", "operational", {"kind": "throttled", "integration": "a",
                                                  "detail": detail})
                 for _ in range(n)]))[-1]
            async with connect(url(srv), env.token) as fast:
                got = 0
                with trio.fail_after(WAIT):
                    async for ev in fast.events():
                        got += 1
                        if ev.cursor == last:
                            break
                assert got == n
                assert isinstance(await fast.send(TO, "still fast", from_=SENDER),
                                  api.Accepted)
                slow = [c for c in srv.connections if c.pushed < last]
                assert len(slow) == 1  # the slow one lags; its events wait in the store
                assert slow[0].queued_frames == lim.send_queue


# --- bad input -----------------------------------------------------------------


async def test_bad_input_gets_typed_errors_and_connection_survives(env, server):
    async with open_websocket_url(url(server), extra_headers=[
            (b"authorization", f"Bearer {env.token}".encode())],
            max_message_size=16 << 20) as ws, connect(url(server), env.token) as other:
        await recv(ws)
        cases = [
            ("{not json", "bad_json", None),
            ('{"type": "sned", "id": "s-1"}', "unknown_type", "s-1"),
            ('{"type": "send", "id": "m-1", "text": "hi"}', "invalid_message", "m-1"),
            ('{"type": "send", "id": "m-2", "to": 5, "text": "hi"}', "invalid_message", "m-2"),
            ('{"type": "send", "id": "m-3", "to": "+1", "text": "hi", "x": 1}',
             "invalid_message", "m-3"),
            ('[{"type": "ping"}, {"type": "send", "id": "m-4"}]', "invalid_message", "m-4"),
            ("[]", "invalid_message", None),
            ("42", "invalid_message", None),
            (enc([api.Ping()] * 1001), "batch_too_large", None),
            ('{"type": "ping", "id": "' + "x" * (api.MAX_FRAME_BYTES) + '"}',
             "frame_too_large", None),
            ('{"type": "send", "id": "t", "to": "+1", "text": "' + "a" * 20_001 + '"}',
             "invalid_message", "t"),
        ]
        for frame, code, rid in cases:
            await ws.send_message(frame)
            err = await recv(ws)
            assert isinstance(err, api.Error), (frame[:60], err)
            assert (err.code, err.id) == (code, rid), (frame[:60], err)
            await ws.send_message(enc(api.Ping(id="alive")))
            assert await recv(ws) == api.Pong(id="alive")
        # binary frames are read too
        await ws.send_message(enc(api.Ping(id="bin")).encode())
        assert await recv(ws) == api.Pong(id="bin")
        assert (await other.ping()).id
    assert count(env.db, "SELECT count(*) FROM messages") == 0


async def test_huge_frame_closes_only_that_connection(env, server):
    async with connect(url(server), env.token) as other:
        async with open_websocket_url(url(server), extra_headers=[
                (b"authorization", f"Bearer {env.token}".encode())]) as ws:
            await recv(ws)
            await ws.send_message("x" * (2 * api.MAX_FRAME_BYTES + 1))
            assert (await closed_by_server(ws)).reason.code == 1009
        assert isinstance(await other.send(TO, "still here", from_=SENDER), api.Accepted)


async def test_ping(env, server):
    async with connect(url(server), env.token) as c:
        await c.send_raw('{"type": "ping", "id": "k-1"}')
        await c.send_raw('{"type": "ping"}')
        assert await c.ping()


# --- property: what is stored is what preview promised -----------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(min_size=1, max_size=400), min_size=1, max_size=8))
def test_accepted_segments_match_preview(tmp_path_factory, texts):
    from byosms.gateway.accept import MessageAcceptor

    async def main():
        db = str(tmp_path_factory.mktemp("p") / "g.db")
        async with open_sqlite_store(db, key=os.urandom(32), synchronous="NORMAL") as store:
            cfg = {"host": "h", "system_id": "me", "password": Secret("pw")}
            integ = await store.create_integration("acme", "smpp", "c", cfg, state="active")
            await store.add_number(Number(SENDER, "local", integ.id, "acme"))
            acceptor = MessageAcceptor(store)
            sends = [api.Send(id=str(i), to=TO, text=t, from_=SENDER)
                     for i, t in enumerate(texts)]
            answers = await acceptor.accept("acme", sends)
            for t, a in zip(texts, answers):
                pv = _core.preview(t)
                assert isinstance(a, api.Accepted)
                assert (a.segments, a.encoding, a.data_coding) == (
                    pv.segments, pv.encoding, pv.dcs)
                segs = await store.get_segments(a.message_id)
                assert len(segs) == a.segments
                parts = [s.short_message for s in segs]
                udhi = any(s.esm_class & 0x40 for s in segs)
                assert _core.Chain().decode_parts(parts, a.data_coding, udhi=udhi) == t

    trio.run(main)


# --- wake-ups and the reconnecting consumer ---------------------------------------


async def test_notifier_wakes_connections_without_polling(env):
    async with open_api_server(env.store, limits=limits(poll_interval=3600)) as srv:
        async with connect(url(srv), env.token) as c:
            await c.ping()  # the events task is now asleep on the notifier
            (cursor,) = await env.store.append_events(
                [NewEvent("acme", "operational", {"kind": "bind_up", "integration": "a"})])
            with trio.fail_after(WAIT):
                async for ev in c.events():
                    assert ev.cursor == cursor
                    break


async def test_poll_finds_events_nobody_poked_for(env):
    async with open_api_server(env.store.inner, limits=limits(poll_interval=0.02)) as srv:
        async with connect(url(srv), env.token) as c:
            (cursor,) = await env.store.inner.append_events(
                [NewEvent("acme", "operational", {"kind": "bind_up", "integration": "a"})])
            with trio.fail_after(WAIT):
                async for ev in c.events():
                    assert ev.cursor == cursor
                    break


async def test_consume_events_handles_and_acks(env, server):
    from byosms.client import consume_events

    cursors = await env.store.append_events(
        [NewEvent("acme", "operational", {"kind": "bind_up", "integration": str(i)})
         for i in range(300)])
    seen = []
    done = trio.Event()

    async def handler(ev):
        seen.append(ev.cursor)
        if ev.cursor == cursors[-1]:
            done.set()

    async with trio.open_nursery() as n:
        n.start_soon(consume_events, url(server), env.token, handler)
        with trio.fail_after(WAIT):
            await done.wait()

        async def acked():  # everything but possibly the very last is acked
            return await env.store.last_ack(env.key.id) >= cursors[-2]
        await wait_until(acked)
        n.cancel_scope.cancel()
    assert seen == cursors


async def test_consume_events_refused_key_raises(env, server):
    from byosms.client import consume_events

    async def handler(ev):
        pass

    with pytest.raises(ApiError):
        await consume_events(url(server), "byo_wrong", handler)


async def test_closed_store_answers_unavailable(tmp_path):
    from byosms.gateway.accept import MessageAcceptor

    async with open_sqlite_store(str(tmp_path / "g.db"), key=os.urandom(32)) as store:
        pass  # closed on exit
    answers = await MessageAcceptor(store).accept(
        "acme", [api.Send(id="1", to=TO, text="x", from_=SENDER)])
    assert answers[0].code == "unavailable"


# --- access: every websocket operation with another business unit's key (D4) -------


async def test_access_every_operation_refused_across_business_units(env, server):
    # globex's key against acme's resources.
    async with connect(url(server), env.other_token) as c:
        # send from acme's number, and through acme's integration
        with pytest.raises(Rejected) as e:
            await c.send(TO, "hi", from_=SENDER)
        assert e.value.answer.code == "unknown_sender"
        with pytest.raises(Rejected) as e:
            await c.send(TO, "hi", integration=env.integ.id)
        assert e.value.answer.code == "unknown_sender"
        # batch: each foreign item refused on its own, the own one accepted
        answers = await c.send_many([
            dict(to=TO, text="a", from_=SENDER),
            dict(to=TO, text="b", from_=OTHER_BU_SENDER),
            dict(to=TO, text="c", integration=env.integ.id),
        ])
        assert [type(a).__name__ for a in answers] == ["Rejected", "Accepted", "Rejected"]
        # preview with acme's sender or integration (would reveal its charset config)
        for kw in (dict(from_=SENDER), dict(integration=env.integ.id)):
            with pytest.raises(Rejected) as e:
                await c.preview("hi", **kw)
            assert e.value.answer.code == "unknown_sender"
    # acme's traffic and events stay invisible to globex, even when it asks to
    # resume from the beginning; globex's acks never move acme's cursor.
    async with connect(url(server), env.token) as acme:
        acc = await acme.send(TO, "secret business", from_=SENDER, idempotency_key="k1")
    await env.store.append_events([
        NewEvent("acme", "inbound", {"message_id": "m1", "from": TO, "to": SENDER,
                                     "text": "acme only", "integration": env.integ.id}),
        NewEvent("acme", "keyword", {"keyword": "opt_out", "from": TO, "to": SENDER,
                                     "integration": env.integ.id, "opted_out": True}),
        NewEvent("globex", "operational", {"kind": "bind_up", "integration": "x"}),
    ])
    async with connect(url(server), env.other_token, resume_from=0) as c:
        with trio.fail_after(WAIT):
            async for ev in c.events():
                break
        assert isinstance(ev, api.Operational) and ev.integration == "x"
        await c.ack(10**6)
        # the same idempotency key in another unit is another message
        other = await c.send(TO, "mine", from_=OTHER_BU_SENDER, idempotency_key="k1")
        assert other.message_id != acc.message_id and not other.duplicate
    assert await env.store.last_ack(env.key.id) == 0
