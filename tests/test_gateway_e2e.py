"""The gateway end to end: a real websocket client, the Gateway, real SMPP over
TLS to the in-process simulator, a real SQLite file."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from byosms.client import Rejected, connect
from byosms.server import Gateway
from byosms.schemas import api
from byosms.schemas.config import load_config

SENDER = "+14155550100"
RECIPIENT = "+14155550123"

CONFIG = """\
[websocket]
port = 0
[web]
port = 0
[store]
path = "gw.db"
synchronous = "NORMAL"
[simulator]
enabled = true
receipt_delay = 0.01
[[integrations]]
id = "simulator"
provider = "smpp"
[integrations.smpp]
host = "simulator"
system_id = "byosms"
password = "secret"
binds = 2
[[numbers]]
number = "+14155550100"
integration = "simulator"
"""

#: Generous upper bound for a test waiting on the pipeline (not a timing assert).
WAIT = 30


@asynccontextmanager
async def running_gateway(tmp_path: Path, **kwargs):
    gw = Gateway(load_config(CONFIG), base_dir=tmp_path, **kwargs)
    async with trio.open_nursery() as nursery:
        await nursery.start(gw.run)
        try:
            yield gw
        finally:
            nursery.cancel_scope.cancel()


async def api_key(gw: Gateway) -> str:
    _, token = await gw.store.create_api_key("default", "test")
    return token


def url(gw: Gateway) -> str:
    return f"ws://127.0.0.1:{gw.ws_port}/"


async def collect_until(client, done, *, limit=WAIT):
    """Events until `done(events)` holds (fails after `limit` seconds)."""
    events = []
    with trio.fail_after(limit):
        async for ev in client.events():
            events.append(ev)
            if done(events):
                return events
    raise AssertionError(f"connection ended; got {events}")


def delivered(events, message_ids):
    final = {e.message_id for e in events
             if isinstance(e, api.Status) and e.segment is None and e.state == "delivered"}
    return set(message_ids) <= final


async def test_send_gsm_ucs2_long_delivered(tmp_path):
    async with running_gateway(tmp_path) as gw:
        token = await api_key(gw)
        async with connect(url(gw), token, auto_ack=True) as c:
            gsm = await c.send(RECIPIENT, "Hello from byosms", from_=SENDER)
            ucs = await c.send(RECIPIENT, "Привет 👋", from_=SENDER)
            long = await c.send(RECIPIENT, "x" * 400, from_=SENDER)
            assert (gsm.encoding, gsm.segments) == ("gsm7", 1)
            assert (ucs.encoding, ucs.segments) == ("ucs2", 1)
            assert (long.encoding, long.segments) == ("gsm7", 3)
            ids = [gsm.message_id, ucs.message_id, long.message_id]
            events = await collect_until(c, lambda evs: delivered(evs, ids))
        per_segment = [e for e in events if isinstance(e, api.Status)
                       and e.message_id == long.message_id and e.segment is not None
                       and e.state == "delivered"]
        assert sorted(e.segment for e in per_segment) == [1, 2, 3]
        # Everything reached the SMSC: 1 + 1 + 3 submit_sm.
        assert len(gw.simulator.received) == 5
        stored = await gw.store.get_message(long.message_id)
        assert stored.state == "delivered"
        assert {s.state for s in await gw.store.get_segments(long.message_id)} == {"delivered"}


async def test_inbound_and_opt_out(tmp_path):
    async with running_gateway(tmp_path) as gw:
        token = await api_key(gw)
        async with connect(url(gw), token, auto_ack=True) as c:
            with trio.fail_after(WAIT):
                await gw.provider("simulator").wait_bound()
            await gw.simulator.send_mo("14155550199", "14155550100", "Hi there")
            events = await collect_until(
                c, lambda evs: any(isinstance(e, api.Inbound) for e in evs))
            inbound = [e for e in events if isinstance(e, api.Inbound)][0]
            assert (inbound.from_, inbound.to, inbound.text) == ("+14155550199", SENDER,
                                                                 "Hi there")
            assert inbound.integration == "simulator"
            # Committed before the deliver_sm_resp: send_mo returned after it.
            before = len(gw.simulator.received)
            await gw.simulator.send_mo("14155550199", "14155550100", "STOP")
            events = await collect_until(
                c, lambda evs: any(isinstance(e, api.Keyword) for e in evs))
            kw = [e for e in events if isinstance(e, api.Keyword)][0]
            assert kw.keyword == "opt_out" and kw.opted_out is True
            with pytest.raises(Rejected) as e:
                await c.send("+14155550199", "more", from_=SENDER)
            assert e.value.code == "opted_out"
            # The STOP confirmation went out through the pipeline to the SMSC.
            with trio.fail_after(WAIT):
                while len(gw.simulator.received) == before:
                    await trio.sleep(0.01)
            assert gw.simulator.received[-1].destination_addr == "14155550199"


async def test_idempotent_send(tmp_path):
    async with running_gateway(tmp_path) as gw:
        token = await api_key(gw)
        async with connect(url(gw), token, auto_ack=True) as c:
            a = await c.send(RECIPIENT, "once", from_=SENDER, idempotency_key="k1")
            b = await c.send(RECIPIENT, "once", from_=SENDER, idempotency_key="k1")
            assert a.message_id == b.message_id and b.duplicate and not a.duplicate
            await collect_until(c, lambda evs: delivered(evs, [a.message_id]))
        assert len(gw.simulator.received) == 1


@pytest.mark.slow
async def test_restart_resumes_queued_and_in_flight(tmp_path):
    n = 60
    async with running_gateway(tmp_path) as gw:
        token = await api_key(gw)
        # Slow SMSC: most segments are still queued or in flight when we stop.
        gw.simulator.faults.response_delay = 0.5
        async with connect(url(gw), token) as c:
            answers = await c.send_many(
                [{"to": RECIPIENT, "text": f"m{i}", "from_": SENDER} for i in range(n)])
        ids = [a.message_id for a in answers]
        assert all(isinstance(a, api.Accepted) for a in answers)
        with trio.fail_after(WAIT):
            while not gw.simulator.received:
                await trio.sleep(0.01)
    # A second gateway on the same files (a new simulator: vendor ids differ,
    # so anything submitted before the stop and not recorded is sent again).
    async with running_gateway(tmp_path) as gw:
        async with connect(url(gw), token, auto_ack=True) as c:
            await collect_until(c, lambda evs: delivered(evs, ids), limit=60)
        for mid in ids:
            assert (await gw.store.get_message(mid)).state == "delivered"


async def test_operational_events_reach_the_app(tmp_path):
    async with running_gateway(tmp_path) as gw:
        token = await api_key(gw)
        with trio.fail_after(WAIT):
            await gw.provider("simulator").wait_bound(2)
        gw.simulator.drop_connections()
        async with connect(url(gw), token, auto_ack=True) as c:
            events = await collect_until(c, lambda evs: any(
                isinstance(e, api.Operational) and e.kind == "bind_down" for e in evs))
        kinds = [e.kind for e in events if isinstance(e, api.Operational)]
        assert "bind_up" in kinds and "bind_down" in kinds
        assert all(e.integration == "simulator" for e in events
                   if isinstance(e, api.Operational))


@pytest.mark.slow
async def test_lifecycle_stop_and_start_through_the_runtime(tmp_path):
    async with running_gateway(tmp_path) as gw:
        token = await api_key(gw)
        with trio.fail_after(WAIT):
            await gw.provider("simulator").wait_bound()
        # A slow SMSC: the message is in flight when the integration stops.
        gw.simulator.faults.response_delay = 0.5
        async with connect(url(gw), token) as c:
            early = await c.send(RECIPIENT, "in flight at stop", from_=SENDER)
        with trio.fail_after(WAIT):
            while not gw.simulator.received:
                await trio.sleep(0.01)
        await gw.stop("simulator")
        assert gw.provider("simulator") is None
        assert (await gw.store.get_segments(early.message_id))[0].state == "queued"
        gw.simulator.faults.response_delay = 0
        with trio.fail_after(WAIT):
            while gw.simulator.bound():
                await trio.sleep(0.01)
        # Accepted while stopped: stays queued, goes out after start.
        async with connect(url(gw), token, auto_ack=True) as c:
            a = await c.send(RECIPIENT, "after restart", from_=SENDER)
            assert (await gw.store.get_message(a.message_id)).state == "queued"
            await gw.start("simulator")
            await collect_until(c, lambda evs: delivered(evs, [a.message_id,
                                                               early.message_id]))


async def test_web_app_serves_healthz_and_admin(tmp_path):
    import httpx

    async with running_gateway(tmp_path) as gw:
        token = await api_key(gw)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.web_port}") as http:
            assert (await http.get("/healthz")).text == "ok"
            r = await http.get("/admin/v1/integrations",
                               headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            assert "simulator" in r.text and '"password":"********"' in r.text
            # Deactivate through the admin API: the Gateway (the runtime) stops it.
            r = await http.post("/admin/v1/integrations/simulator/deactivate",
                                headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            assert gw.provider("simulator") is None


async def test_rest_deactivate_holds_then_activate_delivers_and_delete_fails_queued(tmp_path):
    """Issue 6 end to end through the websocket and REST APIs: deactivate holds
    outbound in the queue (S12), re-activation delivers it with nothing lost, a
    credential change re-binds (S9), delete fails what is still queued."""
    import httpx

    async with running_gateway(tmp_path) as gw:
        token = await api_key(gw)
        auth = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.web_port}",
                                     headers=auth) as http:
            with trio.fail_after(WAIT):
                await gw.provider("simulator").wait_bound()
            r = await http.post("/admin/v1/integrations/simulator/deactivate")
            assert r.status_code == 200, r.text
            with trio.fail_after(WAIT):
                while gw.simulator.bound():
                    await trio.sleep(0.01)
            async with connect(url(gw), token, auto_ack=True) as c:
                held = [await c.send(RECIPIENT, f"held {i}", from_=SENDER) for i in range(5)]
                ids = [a.message_id for a in held]
                await trio.sleep(0.2)  # give a (wrong) sender every chance to submit
                assert gw.simulator.stats.submit_sm == 0
                assert {(await gw.store.get_message(i)).state for i in ids} == {"queued"}
                r = await http.post("/admin/v1/integrations/simulator/activate")
                assert r.status_code == 200, r.text
                await collect_until(c, lambda evs: delivered(evs, ids))
            assert gw.simulator.stats.submit_sm == 5

            # A credential change re-binds with the new credentials (S9): a wrong
            # password gives auth_failed, the right one binds again. Secrets
            # never come back in responses.
            r = await http.patch("/admin/v1/integrations/simulator",
                                 json={"config": {"password": "wrong-pw"}})
            assert r.status_code == 200, r.text
            assert "wrong-pw" not in r.text and r.json()["restarted"] is True

            async def auth_failed():
                evs = await gw.store.events_after("default", 0, 10_000)
                return any(e.type == "operational" and e.payload.get("cause") == "auth_failed"
                           for e in evs)
            with trio.fail_after(WAIT):
                while not await auth_failed():
                    await trio.sleep(0.02)
            binds_before = gw.simulator.stats.binds
            r = await http.patch("/admin/v1/integrations/simulator",
                                 json={"config": {"password": "secret"}})
            assert r.status_code == 200, r.text
            with trio.fail_after(WAIT):
                while gw.simulator.stats.binds <= binds_before:
                    await trio.sleep(0.01)

            # Delete: queued messages fail with a clear code; the number is gone.
            r = await http.post("/admin/v1/integrations/simulator/deactivate")
            assert r.status_code == 200, r.text
            async with connect(url(gw), token) as c:
                queued = await c.send(RECIPIENT, "never sent", from_=SENDER)
            r = await http.delete("/admin/v1/integrations/simulator")
            assert r.status_code in (200, 204), r.text
            msg = await gw.store.get_message(queued.message_id)
            assert msg.state == "failed" and msg.generic_cause == "integration_deleted"
            assert await gw.store.get_number(SENDER) is None
            async with connect(url(gw), token) as c:
                with pytest.raises(Rejected):
                    await c.send(RECIPIENT, "after delete", from_=SENDER)
