"""The receipt timeout, store half (issue 14, item 5): `expire_receipts` on a
real SQLite file.

The store's clock (`now`, in the per-item ops and in the set-based batch ops)
is replaced by one the tests set, so "submitted at 1000, ENROUTE at 1800,
cut-off 1500" is exact rather than a race with the wall clock.
"""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest
import trio
import trio.testing

from byosms.advanced_config import GenericErrorCode
from byosms.gateway.notify import NotifyingStore
from byosms.schemas.records import Message, Receipt, Segment, SubmitError, SubmitOutcome
from byosms.secret import Secret
from byosms.store import Conflict, migrations, open_sqlite_store
from byosms.store import sqlite as sqlite_module
from byosms.store import sqlite_sets

#: Every test body runs under this deadline: a lost wake-up fails, not hangs.
DEADLINE = 20
CODE = int(GenericErrorCode.UNKNOWN)


def test_code_is_generic_unknown():
    assert CODE == 9 and GenericErrorCode(9).name == "UNKNOWN"
    assert sqlite_module.RECEIPT_TIMEOUT_CODE == 9
    assert sqlite_module.RECEIPT_TIMEOUT_CAUSE == "RECEIPT_TIMEOUT"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(sqlite_module, "now", c)
    monkeypatch.setattr(sqlite_sets, "now", c)
    return c


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "byosms.db")


@pytest.fixture
async def store(db, key, clock):
    async with open_sqlite_store(db, key=key) as s:
        yield s


async def integration(store, bu="bu1"):
    config = {"host": "smsc.example", "system_id": "me", "password": Secret("pw")}
    return await store.create_integration(bu, "smpp", "carrier", config, state="active")


async def send(store, integ, *, n=1, ref=None):
    """Accept a message of `n` segments; its id."""
    msg = Message("", "mt", integ.id, integ.business_unit, "+15550001", "+15550002", "hi",
                  "gsm7", 0, n, client_ref=ref)
    segs = [Segment(0, "", i, f"part{i}".encode(), 0x40 if n > 1 else 0, 0) for i in range(n)]
    return (await store.accept_message(msg, segs)).message.id


async def submitted(store, clock, integ, at, *, n=1, ref=None):
    """A message whose `n` segments were submitted at `at`: (message id, segments)."""
    mid = await send(store, integ, n=n, ref=ref)
    segs = await store.claim_segments(integ.id, n)
    assert [s.message_id for s in segs] == [mid] * n
    clock.t = at
    res = await store.record_submits(
        [SubmitOutcome(segment_id=s.id, vendor_message_id=f"v{s.id}") for s in segs])
    assert all(r.state == "submitted" for r in res)
    return mid, res


async def status_events(store, bu="bu1"):
    return [e for e in await store.events_after(bu, 0, 10_000) if e.type == "status"]


async def test_only_overdue_submitted_segments_expire(store, clock):
    with trio.fail_after(DEADLINE):
        i = await integration(store)
        old, [old_seg] = await submitted(store, clock, i, 1000.0, ref="r-old")
        young, [young_seg] = await submitted(store, clock, i, 2000.0)
        delivered, [d_seg] = await submitted(store, clock, i, 900.0)
        await store.record_receipt(Receipt(integration=i.id, segment_id=d_seg.id,
                                           state="delivered", generic_code=0))
        rejected = await send(store, i)
        [r_seg] = await store.claim_segments(i.id, 1)
        await store.record_submit(r_seg.id, error=SubmitError(
            permanent=True, generic_code=7, generic_cause="REJECTED"))
        in_flight = await send(store, i)
        [f_seg] = await store.claim_segments(i.id, 1)
        queued = await send(store, i)
        before = await status_events(store)

        clock.t = 3000.0
        expired = await store.expire_receipts(i.id, submitted_before=1500.0)

        assert [s.id for s in expired] == [old_seg.id]
        (s,) = expired
        assert (s.state, s.generic_code, s.generic_cause, s.message_id) == (
            "failed", CODE, "RECEIPT_TIMEOUT", old)
        assert s.vendor_message_id == f"v{old_seg.id}" and s.updated == 3000.0
        m = await store.get_message(old)
        assert (m.state, m.generic_code, m.generic_cause) == ("failed", CODE, "RECEIPT_TIMEOUT")
        # Its status event, as a failed receipt's.
        new = (await status_events(store))[len(before):]
        assert [e.payload for e in new] == [{
            "message_id": old, "segment_index": 0, "segment_count": 1,
            "segment_state": "failed", "message_state": "failed",
            "message_state_changed": True, "client_ref": "r-old", "generic_code": CODE,
            "generic_cause": "RECEIPT_TIMEOUT", "vendor_code": None,
            "vendor_message_id": f"v{old_seg.id}"}]
        # Everything else as it was.
        states = {mid: (await store.get_message(mid)).state
                  for mid in (young, delivered, rejected, in_flight, queued)}
        assert states == {young: "en_route", delivered: "delivered", rejected: "failed",
                          in_flight: "queued", queued: "queued"}
        assert (await store.get_segments(in_flight))[0].state == "in_flight"
        assert (await store.get_segments(rejected))[0].generic_code == 7

        # A cut-off past every submit takes the young one, and still not the
        # queued, in-flight or final ones.
        expired = await store.expire_receipts(i.id, submitted_before=10_000.0)
        assert [s.id for s in expired] == [young_seg.id]
        assert [s.state for s in await store.get_segments(in_flight)] == ["in_flight"]
        assert [s.state for s in await store.get_segments(queued)] == ["queued"]
        assert (await store.get_segments(delivered))[0].state == "delivered"
        assert (await store.get_segments(rejected))[0].generic_cause == "REJECTED"


async def test_cutoff_is_strict(store, clock):
    with trio.fail_after(DEADLINE):
        i = await integration(store)
        _, [seg] = await submitted(store, clock, i, 1000.0)
        assert await store.expire_receipts(i.id, 1000.0) == []
        assert [s.id for s in await store.expire_receipts(i.id, 1000.001)] == [seg.id]


async def test_the_clock_is_the_submit_not_the_last_intermediate_receipt(store, clock):
    """An ENROUTE receipt moves `updated`; the timeout still counts from the submit."""
    with trio.fail_after(DEADLINE):
        i = await integration(store)
        one, [s1] = await submitted(store, clock, i, 1000.0)
        multi, parts = await submitted(store, clock, i, 1000.0, n=2)
        clock.t = 1800.0
        # Both receipt paths: set-based (one-segment) and per-item (multi-segment).
        res = await store.record_receipts([
            Receipt(integration=i.id, vendor_ids=(f"v{s1.id}",), state="submitted",
                    generic_code=6, generic_cause="ENROUTE", vendor_code=0),
            Receipt(integration=i.id, segment_id=parts[0].id, state="submitted",
                    generic_code=6, generic_cause="ENROUTE"),
        ])
        assert all(r.segment.state == "submitted" and r.segment.updated == 1800.0 for r in res)
        clock.t = 2000.0
        expired = await store.expire_receipts(i.id, 1500.0)
        assert sorted(s.id for s in expired) == sorted([s1.id, parts[0].id, parts[1].id])
        for s in expired:
            assert (s.state, s.generic_code, s.generic_cause) == (
                "failed", CODE, "RECEIPT_TIMEOUT")
        assert (await store.get_message(one)).state == "failed"
        assert (await store.get_message(multi)).state == "failed"


async def test_one_overdue_segment_fails_a_multi_segment_message(store, clock):
    with trio.fail_after(DEADLINE):
        i = await integration(store)
        mid = await send(store, i, n=3, ref="multi")
        s0, s1, s2 = await store.claim_segments(i.id, 3)
        clock.t = 1000.0
        await store.record_submits([SubmitOutcome(segment_id=s.id, vendor_message_id=f"v{s.id}")
                                    for s in (s0, s1)])
        clock.t = 2000.0
        await store.record_submit(s2.id, f"v{s2.id}")
        await store.record_receipt(Receipt(integration=i.id, segment_id=s1.id,
                                           state="delivered", generic_code=0))
        before = await status_events(store)

        clock.t = 2500.0
        expired = await store.expire_receipts(i.id, 1500.0)

        assert [s.id for s in expired] == [s0.id]
        m = await store.get_message(mid)
        assert (m.state, m.generic_code, m.generic_cause) == ("failed", CODE, "RECEIPT_TIMEOUT")
        assert [s.state for s in await store.get_segments(mid)] == [
            "failed", "delivered", "submitted"]
        (ev,) = (await status_events(store))[len(before):]
        assert ev.payload["segment_index"] == 0 and ev.payload["segment_count"] == 3
        assert ev.payload["segment_state"] == "failed"
        assert ev.payload["message_state"] == "failed" and ev.payload["message_state_changed"]
        assert (ev.payload["generic_code"], ev.payload["generic_cause"]) == (
            CODE, "RECEIPT_TIMEOUT")
        assert ev.payload["client_ref"] == "multi"

        # The last segment expires later: its own event, the message stays failed.
        expired = await store.expire_receipts(i.id, 2100.0)
        assert [s.id for s in expired] == [s2.id]
        ev2 = (await status_events(store))[-1]
        assert ev2.payload["segment_index"] == 2
        assert ev2.payload["message_state"] == "failed"
        assert not ev2.payload["message_state_changed"]
        assert ev2.payload["generic_code"] == CODE


async def test_two_overdue_segments_of_one_message_in_one_call(store, clock):
    with trio.fail_after(DEADLINE):
        i = await integration(store)
        mid, (s0, s1) = await submitted(store, clock, i, 1000.0, n=2)
        before = await status_events(store)
        expired = await store.expire_receipts(i.id, 1500.0)
        assert [s.id for s in expired] == [s0.id, s1.id]
        new = (await status_events(store))[len(before):]
        assert [(e.payload["segment_index"], e.payload["message_state"],
                 e.payload["message_state_changed"]) for e in new] == [
            (0, "failed", True), (1, "failed", False)]
        assert (await store.get_message(mid)).state == "failed"


async def test_limit_and_oldest_submit_first(store, clock):
    with trio.fail_after(DEADLINE):
        i = await integration(store)
        for _ in range(5):
            await send(store, i)
        segs = await store.claim_segments(i.id, 5)
        # Submitted in the reverse of their id order: the oldest submit is the
        # highest id, so ordering by id would give the wrong answer.
        for k, s in enumerate(reversed(segs)):
            clock.t = 100.0 + k
            await store.record_submit(s.id, f"v{s.id}")
        # and two with the same submit time: the lower id first
        extra = [await send(store, i) for _ in range(2)]
        e0, e1 = await store.claim_segments(i.id, 2)
        assert [e0.message_id, e1.message_id] == extra
        clock.t = 104.5
        await store.record_submits([SubmitOutcome(segment_id=e1.id, vendor_message_id="e1"),
                                    SubmitOutcome(segment_id=e0.id, vendor_message_id="e0")])
        clock.t = 500.0
        oldest_first = [s.id for s in reversed(segs)] + [e0.id, e1.id]

        got = []
        for want in (3, 3, 1, 0):
            batch = await store.expire_receipts(i.id, 200.0, limit=3)
            assert len(batch) == want
            got += [s.id for s in batch]
        assert got == oldest_first
        assert await store.expire_receipts(i.id, 200.0, limit=0) == []


async def test_other_integrations_are_untouched(store, clock):
    with trio.fail_after(DEADLINE):
        a = await integration(store, "bu1")
        b = await integration(store, "bu2")
        ma, [sa] = await submitted(store, clock, a, 1000.0)
        mb, [sb] = await submitted(store, clock, b, 1000.0)
        b_events = await store.events_after("bu2", 0, 100)
        expired = await store.expire_receipts(a.id, 5000.0)
        assert [s.id for s in expired] == [sa.id]
        assert (await store.get_message(mb)).state == "en_route"
        assert (await store.get_segments(mb))[0].state == "submitted"
        assert await store.events_after("bu2", 0, 100) == b_events
        assert await store.expire_receipts("int_unknown", 5000.0) == []
        assert [s.id for s in await store.expire_receipts(b.id, 5000.0)] == [sb.id]


async def test_second_call_is_idempotent(store, clock):
    with trio.fail_after(DEADLINE):
        i = await integration(store)
        await submitted(store, clock, i, 1000.0)
        await submitted(store, clock, i, 1000.0, n=2)
        assert len(await store.expire_receipts(i.id, 1500.0)) == 3
        events = await store.events_after("bu1", 0, 1000)
        assert await store.expire_receipts(i.id, 1500.0) == []
        assert await store.expire_receipts(i.id, 1e12) == []
        assert await store.events_after("bu1", 0, 1000) == events


async def test_a_late_receipt_does_not_resurrect(store, clock):
    with trio.fail_after(DEADLINE):
        i = await integration(store)
        one, [s1] = await submitted(store, clock, i, 1000.0)
        multi, (p0, p1) = await submitted(store, clock, i, 1000.0, n=2)
        clock.t = 2000.0
        assert len(await store.expire_receipts(i.id, 1500.0)) == 3
        events = await store.events_after("bu1", 0, 1000)

        clock.t = 2100.0
        late = [
            # by vendor id, one at a time (per-item op)
            await store.record_receipt(Receipt(integration=i.id, vendor_ids=(f"v{s1.id}",),
                                               state="delivered", generic_code=0,
                                               generic_cause="DELIVRD")),
        ]
        # by segment id and by vendor id, batched (set-based path first)
        late += await store.record_receipts([
            Receipt(integration=i.id, segment_id=s1.id, state="delivered", generic_code=0),
            Receipt(integration=i.id, segment_id=p0.id, state="delivered", generic_code=0),
            Receipt(integration=i.id, vendor_ids=(f"v{p1.id}",), state="submitted",
                    generic_code=6, generic_cause="ENROUTE"),
        ])
        for r in late:
            assert r.segment is not None and r.segment.state == "failed"
            assert r.event_cursor is None and r.message_state == "failed"
        for mid in (one, multi):
            m = await store.get_message(mid)
            assert (m.state, m.generic_code, m.generic_cause) == (
                "failed", CODE, "RECEIPT_TIMEOUT")
            for s in await store.get_segments(mid):
                assert (s.state, s.generic_code, s.generic_cause, s.updated) == (
                    "failed", CODE, "RECEIPT_TIMEOUT", 2000.0)
        assert await store.events_after("bu1", 0, 1000) == events


async def test_expiry_is_durable_across_reopen(db, key, clock):
    with trio.fail_after(DEADLINE):
        async with open_sqlite_store(db, key=key) as store:
            i = await integration(store)
            mid, [seg] = await submitted(store, clock, i, 1000.0, ref="durable")
            young, [y] = await submitted(store, clock, i, 3000.0)
            clock.t = 4000.0
            [expired] = await store.expire_receipts(i.id, 2000.0)
            events = await store.events_after("bu1", 0, 100)
        async with open_sqlite_store(db, key=key) as store:
            assert await store.get_segments(mid) == [expired]
            m = await store.get_message(mid)
            assert (m.state, m.generic_code, m.generic_cause) == (
                "failed", CODE, "RECEIPT_TIMEOUT")
            assert await store.events_after("bu1", 0, 100) == events
            assert await store.expire_receipts(i.id, 2000.0) == []
            # The submit time survived too: the young one is still counted from it.
            assert [s.id for s in await store.expire_receipts(i.id, 3000.5)] == [y.id]
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT state, generic_code, generic_cause, submitted_at FROM segments "
                         "WHERE id = ?", (seg.id,)).fetchone() == (
            "failed", CODE, "RECEIPT_TIMEOUT", 1000.0)


async def test_segments_submitted_before_the_migration_count_from_updated(db, key, clock):
    """A database of schema 2 (no submitted_at): its submitted segments take
    `updated` as their submit time, which is never earlier than the submit."""
    with trio.fail_after(DEADLINE):
        async with open_sqlite_store(db, key=key) as store:
            i = await integration(store)
            mid, [seg] = await submitted(store, clock, i, 1000.0)
            young, [y] = await submitted(store, clock, i, 3000.0)
        c = sqlite3.connect(db, isolation_level=None)
        try:
            c.execute("DROP INDEX segments_submitted")
            c.execute("ALTER TABLE segments DROP COLUMN submitted_at")
            c.execute("PRAGMA user_version = 2")
        finally:
            c.close()
        async with open_sqlite_store(db, key=key) as store:
            assert store.schema_version_found == 2
            assert [s.id for s in await store.expire_receipts(i.id, 2000.0)] == [seg.id]
            assert (await store.get_message(mid)).state == "failed"
            assert (await store.get_message(young)).state == "en_route"
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST
        assert c.execute("SELECT submitted_at FROM segments WHERE id = ?",
                         (y.id,)).fetchone() == (3000.0,)


async def test_the_sweep_uses_its_index(store, clock):
    with trio.fail_after(DEADLINE):
        i = await integration(store)
        await submitted(store, clock, i, 1000.0)
        plan = await store._read(lambda c: c.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM segments WHERE integration_id = ? "
            "AND state = 'submitted' AND submitted_at < ? ORDER BY submitted_at, id LIMIT ?",
            (i.id, 1.0, 10)).fetchall())
        detail = " ".join(r[-1] for r in plan)
        assert "segments_submitted" in detail and "TEMP B-TREE" not in detail


async def test_expiry_in_a_batch_rerun_carefully(store, clock):
    """An op of the same transaction raises: the writer re-runs the batch item
    by item (savepoints, per-item receipt ops); the expiry still happens once."""
    with trio.fail_after(DEADLINE):
        i = await integration(store)
        one, [s1] = await submitted(store, clock, i, 1000.0)
        multi, parts = await submitted(store, clock, i, 1000.0, n=2)
        before = await status_events(store)
        careful = store.careful_batches
        entered, gate = threading.Event(), threading.Event()
        out = {}

        def hold(conn):
            entered.set()
            gate.wait(DEADLINE)

        def boom(conn):
            raise sqlite3.IntegrityError("boom")

        async def run(name, fn, *args):
            try:
                out[name] = await fn(*args)
            except Exception as e:  # noqa: BLE001
                out[name] = e

        async with trio.open_nursery() as n:
            n.start_soon(store._write, hold)
            await trio.to_thread.run_sync(entered.wait, DEADLINE)
            n.start_soon(run, "expire", store.expire_receipts, i.id, 1500.0)
            await trio.testing.wait_all_tasks_blocked()
            n.start_soon(run, "boom", store._write, boom)
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
        assert store.careful_batches == careful + 1
        assert isinstance(out["boom"], Conflict)
        assert [s.id for s in out["expire"]] == [s1.id, parts[0].id, parts[1].id]
        assert len(await status_events(store)) == len(before) + 3
        assert (await store.get_message(one)).state == "failed"
        assert (await store.get_message(multi)).state == "failed"


async def test_notifying_store_pokes_readers(store, clock):
    with trio.fail_after(DEADLINE):
        i = await integration(store)
        await submitted(store, clock, i, 1000.0)
        wrapped = NotifyingStore(store)
        seen = wrapped.notifier.generation
        assert len(await wrapped.expire_receipts(i.id, 1500.0)) == 1
        assert wrapped.notifier.generation != seen
