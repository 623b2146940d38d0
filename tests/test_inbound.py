"""The MO handler (issue 6 item 2/3): routing to the number's business unit,
keywords, opt-out recording, auto-reply through the accept path, events."""

from __future__ import annotations

import os

import msgspec
import pytest

from byosms.gateway.inbound import InboundHandler
from byosms.pipeline import InboundMessage
from byosms.gateway.keywords import OutboundRequest, accept_outbound
from byosms.gateway.numbers import ImportRequest, NumberInventory
from byosms.schemas import api
from byosms.schemas.records import DEFAULT_OPT_OUT_REPLY, Keywords, new_id
from byosms.secret import Secret
from byosms.store import OptedOut, open_sqlite_store

SUB = "+14155559999"


@pytest.fixture
def key():
    return os.urandom(32)


class CountingStore:
    """Counts store calls made through it (the handler's write budget)."""

    def __init__(self, store):
        self._s = store
        self.calls: list[str] = []

    def __getattr__(self, name):
        attr = getattr(self._s, name)
        if not callable(attr):
            return attr

        async def wrapped(*a, **kw):
            self.calls.append(name)
            return await attr(*a, **kw)

        return wrapped


async def world(s):
    """Two business units, each with an SMPP integration and a number; bu1 also
    has a short code."""
    inv = NumberInventory(s)
    i1 = await s.create_integration("bu1", "smpp", "c1", {"password": Secret("a")},
                                    state="active")
    i2 = await s.create_integration("bu2", "smpp", "c2", {"password": Secret("b")},
                                    state="active")
    await inv.import_number("bu1", ImportRequest(integration=i1.id, sender_id="+14155550100",
                                                 type="local", display_name="Sales"))
    await inv.import_number("bu2", ImportRequest(integration=i2.id, sender_id="+14155550101",
                                                 type="mobile"))
    await inv.import_number("bu1", ImportRequest(
        integration=i1.id, sender_id="12345", type="short_code", country="US",
        keywords=Keywords(help=("AIDE",), help_reply="aide", opt_out=("ARRET",),
                          opt_out_reply="arrete", opt_in=("REPRENDRE",),
                          opt_in_reply="repris")))
    return i1, i2


def mo(integ, to, text, source=SUB, **kw):
    """(integration id, the MO) as InboundHandler.handle takes them."""
    return integ.id, InboundMessage(source=source, destination=to, text=text, **kw)


async def test_plain_mo_routed_to_the_numbers_unit_only(tmp_path, key):
    async with open_sqlite_store(tmp_path / "i.db", key=key) as s:
        i1, i2 = await world(s)
        h = InboundHandler(s)
        r = await h.handle(*mo(i1, "14155550100", "hello there", source="14155559999",
                              parts=2, total=2))
        assert r.routed and r.business_unit == "bu1" and r.keyword is None and r.reply is None
        ev = await s.events_after("bu1", 0, 10)
        assert [e.type for e in ev] == ["inbound"] and ev[0].cursor == r.event_cursor
        p = ev[0].payload
        assert (p["from"], p["to"], p["text"], p["segments"], p["keyword"], p["message_id"]) == (
            SUB, "+14155550100", "hello there", 2, None, r.message_id)
        # The payload is what the websocket Inbound message carries.
        msgspec.convert({**p, "cursor": ev[0].cursor, "at": "2024-01-01T00:00:00Z"}, api.Inbound)
        stored = await s.get_message(r.message_id)
        assert (stored.direction, stored.state, stored.business_unit) == ("mo", "received", "bu1")
        assert await s.events_after("bu2", 0, 10) == []
        r2 = await h.handle(*mo(i2, "+14155550101", "hi"))
        assert r2.business_unit == "bu2"
        assert [e.payload["to"] for e in await s.events_after("bu2", 0, 10)] == ["+14155550101"]
        assert len(await s.events_after("bu1", 0, 10)) == 1


async def test_stop_recorded_reply_queued_events_for_owner(tmp_path, key):
    async with open_sqlite_store(tmp_path / "i.db", key=key) as s:
        i1, _ = await world(s)
        counting = CountingStore(s)
        h = InboundHandler(counting)
        r = await h.handle(*mo(i1, "+14155550100", "Stop all!"))
        # One read, then the writes issued together (one per store operation).
        assert counting.calls[0] == "get_number"
        assert sorted(counting.calls[1:]) == sorted(
            ["record_inbound", "set_opt_out", "append_events", "accept_message"])
        assert r.keyword == "opt_out" and r.reply_error is None
        assert await s.is_opted_out("+14155550100", SUB)
        reply = await s.get_message(r.reply.id)
        assert (reply.text, reply.destination, reply.state) == (DEFAULT_OPT_OUT_REPLY, SUB,
                                                                "queued")
        ev = await s.events_after("bu1", 0, 10)
        assert sorted(e.type for e in ev) == ["inbound", "keyword"]
        by_type = {e.type: e.payload for e in ev}
        assert by_type["inbound"]["keyword"] == "opt_out"
        assert by_type["keyword"]["message_id"] == r.message_id
        assert by_type["keyword"]["reply_message_id"] == r.reply.id
        assert await s.events_after("bu2", 0, 10) == []
        # Later sends from that number to the subscriber are refused.
        with pytest.raises(OptedOut):
            await accept_outbound(s, OutboundRequest(
                id=new_id("msg_"), integration=i1.id, business_unit="bu1",
                source="+14155550100", destination=SUB, text="sale!"))
        # START restores.
        r = await h.handle(*mo(i1, "+14155550100", "START"))
        assert r.keyword == "opt_in" and not await s.is_opted_out("+14155550100", SUB)


async def test_opt_out_survives_restart_and_blocks_sends(tmp_path, key):
    db = tmp_path / "i.db"
    async with open_sqlite_store(db, key=key) as s:
        i1, _ = await world(s)
        await InboundHandler(s).handle(*mo(i1, "+14155550100", "cancel"))
    async with open_sqlite_store(db, key=key) as s:
        assert await s.is_opted_out("+14155550100", SUB)
        with pytest.raises(OptedOut):
            await accept_outbound(s, OutboundRequest(
                id=new_id("msg_"), integration=i1.id, business_unit="bu1",
                source="+14155550100", destination=SUB, text="hello again"))


async def test_short_code_keywords_through_the_handler(tmp_path, key):
    async with open_sqlite_store(tmp_path / "i.db", key=key) as s:
        i1, _ = await world(s)
        h = InboundHandler(s)
        assert (await h.handle(*mo(i1, "12345", "STOP"))).keyword is None
        r = await h.handle(*mo(i1, "12345", "arret"))
        assert r.keyword == "opt_out" and (await s.get_message(r.reply.id)).text == "arrete"
        assert await s.is_opted_out("12345", SUB)
        assert not await s.is_opted_out("+14155550100", SUB)


async def test_unknown_number_and_other_integrations_number_not_routed(tmp_path, key):
    async with open_sqlite_store(tmp_path / "i.db", key=key) as s:
        i1, i2 = await world(s)
        h = InboundHandler(s)
        r = await h.handle(*mo(i1, "+14155550177", "STOP"))
        assert not r.routed and r.unrouted_reason == "unknown_number"
        # bu2's number arriving over bu1's integration is not routed to either unit's apps.
        r2 = await h.handle(*mo(i1, "+14155550101", "hello"))
        assert not r2.routed and r2.unrouted_reason == "unknown_number"
        ev = await s.events_after("bu1", 0, 10)
        assert [(e.type, e.payload["kind"]) for e in ev] == [
            ("operational", "inbound_unroutable")] * 2
        assert await s.events_after("bu2", 0, 10) == []
        assert not await s.is_opted_out("+14155550177", SUB)
        r3 = await h.handle("int_gone", InboundMessage(source=SUB, destination="+14155550177",
                                                       text="x"))
        assert r3.unrouted_reason == "unknown_integration" and r3.event_cursor is None


async def test_disabled_number_not_routed_but_opt_out_honoured(tmp_path, key):
    async with open_sqlite_store(tmp_path / "i.db", key=key) as s:
        i1, _ = await world(s)
        n = await s.get_number("+14155550100")
        await s.update_number(msgspec.structs.replace(n, enabled=False))
        h = InboundHandler(s)
        r = await h.handle(*mo(i1, "+14155550100", "hello"))
        assert not r.routed and r.unrouted_reason == "number_disabled"
        r = await h.handle(*mo(i1, "+14155550100", "STOP"))
        assert not r.routed and r.reply is None
        assert await s.is_opted_out("+14155550100", SUB)
        ev = await s.events_after("bu1", 0, 10)
        assert [e.type for e in ev] == ["operational", "operational"]
        assert "opt-out was recorded" in ev[1].payload["detail"]


async def test_failed_reply_does_not_fail_the_mo(tmp_path, key):
    async with open_sqlite_store(tmp_path / "i.db", key=key) as s:
        i1, _ = await world(s)

        async def broken(req):
            raise RuntimeError("pipeline closed")

        r = await InboundHandler(s, broken).handle(*mo(i1, "+14155550100", "help"))
        assert r.routed and r.keyword == "help" and "pipeline closed" in r.reply_error
        types = sorted(e.type for e in await s.events_after("bu1", 0, 10))
        assert types == ["inbound", "keyword", "operational"]


async def test_failure_to_record_the_mo_propagates(tmp_path, key):
    async with open_sqlite_store(tmp_path / "i.db", key=key) as s:
        i1, _ = await world(s)

        class Failing(CountingStore):
            async def record_inbound(self, *a):
                raise OSError("disk full")

        h = InboundHandler(Failing(s))
        with pytest.raises(OSError):
            await h.handle(*mo(i1, "+14155550100", "stop"))
        # The opt-out is still honoured: it is idempotent when the SMSC retries.
        assert await s.is_opted_out("+14155550100", SUB)
