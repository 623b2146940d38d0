"""The durable store (issue 5, item 1) on a real SQLite file."""

from __future__ import annotations

import os
import sqlite3
import threading

import msgspec
import pytest
import trio
import trio.testing

from byosms.schemas.records import (
    DEFAULT_KEYWORDS,
    Keywords,
    Message,
    NewEvent,
    Number,
    Receipt,
    Segment,
    SubmitError,
    SubmitOutcome,
)
from byosms.api.server import event_messages
from byosms.schemas import api
from byosms.secret import Secret
from byosms.store import (
    Conflict,
    InvalidRecord,
    NotFound,
    OptedOut,
    SchemaError,
    StoreClosed,
    open_sqlite_store,
)
from byosms.store import migrations
from byosms.store import sqlite as sqlite_module
from byosms.store.base import Store


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "byosms.db")


@pytest.fixture
async def store(db, key):
    async with open_sqlite_store(db, key=key) as s:
        yield s


async def integration(store, bu="bu1", state="active", **config):
    config = {"host": "smsc.example", "system_id": "me", "password": Secret("s3cr3t!"), **config}
    return await store.create_integration(bu, "smpp", "carrier", config, state=state)


def mt(integ, *, n=1, source="+15550001", dest="+15550002", ref=None, bu=None):
    msg = Message("", "mt", integ.id, bu or integ.business_unit, source, dest, "hello",
                  "gsm7", 0, n, client_ref=ref)
    segs = [Segment(0, "", i, f"part{i}".encode(), 0x40 if n > 1 else 0, 0) for i in range(n)]
    return msg, segs


def test_sqlite_store_satisfies_protocol():
    from byosms.store.sqlite import SqliteStore

    missing = [name for name in dir(Store) if not name.startswith("_")
               and not hasattr(SqliteStore, name)]
    assert missing == []


# --- integrations ---------------------------------------------------------------------


async def test_integration_crud_and_secrets_kept_apart(store):
    i = await integration(store, state="inactive")
    assert i.config == {"host": "smsc.example", "system_id": "me"}
    assert i.secret_fields == ("password",)
    assert i.state == "inactive"
    assert "s3cr3t" not in repr(i)
    assert await store.get_integration(i.id) == i
    assert await store.get_integration("nope") is None

    # config replaced; the password not given again is kept
    u = await store.update_integration(i.id, name="renamed", config={"host": "other"})
    assert (u.name, u.config, u.secret_fields) == ("renamed", {"host": "other"}, ("password",))
    assert (await store.reveal_secrets(i.id))["password"].reveal() == "s3cr3t!"
    u = await store.update_integration(i.id, config={"host": "other", "password": Secret("new"),
                                                     "token": Secret("t")})
    secrets = await store.reveal_secrets(i.id)
    assert {k: v.reveal() for k, v in secrets.items()} == {"password": "new", "token": "t"}
    assert "new" not in repr(secrets)

    a = await store.set_integration_state(i.id, "active")
    assert a.state == "active"
    other = await integration(store, bu="bu2")
    assert [x.id for x in await store.list_integrations("bu1")] == [i.id]
    assert {x.id for x in await store.list_integrations()} == {i.id, other.id}

    with pytest.raises(NotFound):
        await store.set_integration_state("nope", "active")
    with pytest.raises(NotFound):
        await store.update_integration("nope", name="x")
    with pytest.raises(Conflict):
        await store.create_integration("bu1", "smpp", "dup", {}, id=i.id)
    with pytest.raises(InvalidRecord, match="provider"):  # any registry name goes; not this
        await store.create_integration("bu1", "Carrier Pigeon!", "x", {})
    with pytest.raises(InvalidRecord):
        await store.create_integration("bu1", "smpp", "x", {}, state="deleted")
    with pytest.raises(InvalidRecord, match="state"):
        await store.set_integration_state(i.id, "paused")


async def test_nested_secret_is_refused_not_stored(store):
    with pytest.raises(InvalidRecord):
        await store.create_integration("bu", "smpp", "x", {"nested": {"pw": Secret("p")}})


async def test_delete_integration_removes_numbers_and_fails_its_queue(store):
    i = await integration(store)
    await store.add_number(Number("+15550001", "mobile", i.id, "bu1"))
    msg, segs = mt(i)
    acc = await store.accept_message(msg, segs)
    d = await store.set_integration_state(i.id, "deleted")
    assert d.state == "deleted" and d.secret_fields == ()
    assert await store.reveal_secrets(i.id) == {}
    assert await store.list_numbers(integration=i.id) == []
    assert await store.list_integrations("bu1") == []
    assert [x.id for x in await store.list_integrations("bu1", include_deleted=True)] == [i.id]
    m = await store.get_message(acc.message.id)
    assert m.state == "failed" and m.generic_cause == "integration_deleted"
    with pytest.raises(Conflict):
        await store.set_integration_state(i.id, "active")
    with pytest.raises(NotFound):
        await store.accept_message(*mt(i))


# --- numbers --------------------------------------------------------------------------


async def test_numbers_crud(store):
    i = await integration(store)
    n = await store.add_number(Number("+15550001", "mobile", i.id, "bu1", "Support"))
    assert n.enabled and n.keywords is None
    assert n.effective_keywords() == DEFAULT_KEYWORDS
    assert "STOP" in n.effective_keywords().opt_out
    kw = Keywords(help=("AIDE",), help_reply="h", opt_out=("ARRET",), opt_out_reply="o",
                  opt_in=("OUI",), opt_in_reply="i")
    sc = await store.add_number(Number("12345", "short_code", i.id, "bu1", keywords=kw))
    assert (await store.get_number("12345")).keywords == kw
    assert [x.number for x in await store.list_numbers(business_unit="bu1")] == [
        "+15550001", "12345"]
    assert [x.number for x in await store.list_numbers(integration=i.id)] == [
        "+15550001", "12345"]
    assert await store.list_numbers(business_unit="other") == []

    with pytest.raises(InvalidRecord, match="N4"):
        await store.add_number(Number("54321", "short_code", i.id, "bu1"))
    with pytest.raises(Conflict):
        await store.add_number(Number("+15550001", "mobile", i.id, "bu1"))
    with pytest.raises(NotFound):
        await store.add_number(Number("+15550009", "mobile", "nope", "bu1"))

    u = await store.update_number(msgspec.structs.replace(n, enabled=False, display_name="x"))
    got = await store.get_number("+15550001")
    assert got == u and not got.enabled and got.created == n.created
    with pytest.raises(NotFound):
        await store.update_number(Number("+1999", "mobile", i.id, "bu1"))
    with pytest.raises(NotFound):
        await store.update_number(msgspec.structs.replace(n, integration="nope"))
    assert await store.remove_number(sc.number) is True
    assert await store.remove_number(sc.number) is False
    assert await store.get_number(sc.number) is None


# --- the MT life cycle ----------------------------------------------------------------


async def test_accept_claim_submit_receipt_one_segment(store):
    i = await integration(store)
    msg, segs = mt(i, ref="client-1")
    acc = await store.accept_message(msg, segs, "idem-1")
    assert not acc.duplicate and acc.message.state == "queued"
    assert acc.message.idempotency_key == "idem-1"
    stored = await store.get_message(acc.message.id)
    assert stored == acc.message

    [seg] = await store.claim_segments(i.id, 10)
    assert (seg.state, seg.attempts, seg.source, seg.destination) == (
        "in_flight", 1, "+15550001", "+15550002")
    assert seg.short_message == b"part0"
    assert await store.claim_segments(i.id, 10) == []

    sub = await store.record_submit(seg.id, "vend-1")
    assert sub.state == "submitted" and sub.vendor_message_id == "vend-1"
    assert (await store.get_message(acc.message.id)).state == "en_route"
    with pytest.raises(Conflict):  # not in flight any more
        await store.record_submit(seg.id, "vend-2")

    assert (await store.find_segment_by_vendor_id(i.id, ["vend-1"])).id == seg.id
    assert await store.find_segment_by_vendor_id("other", ["vend-1"]) is None

    r = await store.record_receipt(Receipt(integration=i.id, vendor_ids=("vend-1",),
                                           state="delivered", generic_code=0,
                                           generic_cause="DELIVERED", vendor_code=0))
    assert r.segment.id == seg.id and r.message_state == "delivered"
    m = await store.get_message(acc.message.id)
    assert (m.state, m.generic_code, m.generic_cause) == ("delivered", 0, "DELIVERED")

    events = await store.events_after("bu1", 0, 100)
    assert [e.type for e in events] == ["status", "status"]
    assert [e.payload["message_state"] for e in events] == ["en_route", "delivered"]
    assert events[1].cursor == r.event_cursor
    assert events[1].payload["client_ref"] == "client-1"
    assert events[1].payload["message_id"] == acc.message.id

    # the SMSC repeats the receipt: recorded once, no second event
    again = await store.record_receipt(Receipt(integration=i.id, vendor_ids=("vend-1",),
                                               state="delivered"))
    assert again.segment.id == seg.id and again.event_cursor is None
    assert len(await store.events_after("bu1", 0, 100)) == 2


async def test_status_payloads_are_stored_without_their_none_fields(store, db):
    """None fields stay out of the stored JSON (StatusPayload); events_after
    gives every field back, and the API shows the same either way."""
    i = await integration(store)
    acc = await store.accept_message(*mt(i), None)
    (seg,) = await store.claim_segments(i.id, 10)
    await store.record_submit(seg.id, "vend-9")
    c = sqlite3.connect(db)
    try:
        raw = c.execute("SELECT payload FROM events").fetchone()[0]
    finally:
        c.close()
    stored = msgspec.json.decode(raw)
    assert stored["message_id"] == acc.message.id and stored["vendor_message_id"] == "vend-9"
    for k in ("client_ref", "generic_code", "generic_cause", "vendor_code"):
        assert k not in stored
    (ev,) = await store.events_after("bu1", 0, 10)
    assert {k: ev.payload[k] for k in ("client_ref", "generic_code", "generic_cause",
                                       "vendor_code", "vendor_message_id")} == {
        "client_ref": None, "generic_code": None, "generic_cause": None,
        "vendor_code": None, "vendor_message_id": "vend-9"}
    frame, last = await store.status_frame_after("bu1", 0, 10)
    assert last == ev.cursor
    assert msgspec.json.decode(frame) == [
        msgspec.json.decode(api.encoder.encode(x)) for x in event_messages(ev)]


async def test_multi_segment_rollup(store):
    i = await integration(store)
    acc = await store.accept_message(*mt(i, n=3))
    segs = await store.claim_segments(i.id, 10)
    assert [s.index for s in segs] == [0, 1, 2]
    await store.record_submits([SubmitOutcome(segment_id=s.id, vendor_message_id=f"v{s.index}")
                                for s in segs])
    states = []
    for k in range(3):
        r = await store.record_receipt(Receipt(integration=i.id, vendor_ids=(f"v{k}",),
                                               state="delivered", generic_code=0))
        states.append(r.message_state)
    assert states == ["en_route", "en_route", "delivered"]

    # one permanent failure fails the message, and it stays failed
    acc2 = await store.accept_message(*mt(i, n=2))
    s0, s1 = await store.claim_segments(i.id, 10)
    await store.record_submit(s0.id, "w0")
    await store.record_submit(s1.id, "w1")
    r = await store.record_receipt(Receipt(integration=i.id, vendor_ids=("w0",), state="failed",
                                           generic_code=5, generic_cause="UNDELIVERABLE",
                                           vendor_code=11))
    assert r.message_state == "failed"
    r = await store.record_receipt(Receipt(integration=i.id, segment_id=s1.id, state="delivered"))
    assert r.message_state == "failed"
    m = await store.get_message(acc2.message.id)
    assert (m.state, m.generic_code, m.generic_cause) == ("failed", 5, "UNDELIVERABLE")
    assert (await store.get_message(acc.message.id)).state == "delivered"
    assert [s.state for s in await store.get_segments(acc2.message.id)] == ["failed", "delivered"]


async def test_intermediate_receipt_keeps_message_en_route(store):
    i = await integration(store)
    acc = await store.accept_message(*mt(i))
    [s] = await store.claim_segments(i.id, 1)
    await store.record_submit(s.id, "x1")
    r = await store.record_receipt(Receipt(integration=i.id, vendor_ids=("x1",), state="submitted",
                                           vendor_code=0))
    assert r.message_state == "en_route"
    events = await store.events_after("bu1", 0, 10)
    assert [e.payload["message_state_changed"] for e in events] == [True, False]
    assert (await store.get_message(acc.message.id)).state == "en_route"


async def test_submit_errors_transient_requeues_permanent_fails(store):
    i = await integration(store)
    acc = await store.accept_message(*mt(i))
    [s] = await store.claim_segments(i.id, 1)
    t = await store.record_submit(s.id, error=SubmitError(permanent=False, vendor_code=0x58))
    assert t.state == "queued" and t.vendor_code == 0x58
    assert await store.events_after("bu1", 0, 10) == []
    [s] = await store.claim_segments(i.id, 1)
    assert s.attempts == 2
    p = await store.record_submit(s.id, error=SubmitError(permanent=True, generic_code=3,
                                                          generic_cause="MESSAGE_DATA_INVALID",
                                                          vendor_code=0x0B))
    assert p.state == "failed"
    m = await store.get_message(acc.message.id)
    assert (m.state, m.generic_code) == ("failed", 3)
    [e] = await store.events_after("bu1", 0, 10)
    assert e.payload["vendor_code"] == 0x0B and e.payload["message_state"] == "failed"
    with pytest.raises(InvalidRecord):
        await store.record_submit(s.id)  # neither a vendor id nor an error


async def test_vendor_id_lookup_first_key_wins_and_unmatched(store):
    i = await integration(store)
    await store.accept_message(*mt(i, n=2))
    a, b = await store.claim_segments(i.id, 2)
    await store.record_submits([SubmitOutcome(segment_id=a.id, vendor_message_id="0A1B"),
                                SubmitOutcome(segment_id=b.id, vendor_message_id="2587")])
    assert (await store.find_segment_by_vendor_id(i.id, ["2587", "0A1B"])).id == b.id
    assert (await store.find_segment_by_vendor_id(i.id, ["zz", "0A1B"])).id == a.id
    assert await store.find_segment_by_vendor_id(i.id, ["zz"]) is None
    r = await store.record_receipt(Receipt(integration=i.id, vendor_ids=("nope", "0A1B"),
                                           state="delivered"))
    assert r.segment.id == a.id
    r = await store.record_receipt(Receipt(integration=i.id, vendor_ids=("nope",),
                                           state="delivered"))
    assert r.segment is None and r.event_cursor is None


async def test_inactive_integration_keeps_its_queue(store):
    i = await integration(store, state="inactive")
    acc = await store.accept_message(*mt(i))
    assert await store.claim_segments(i.id, 10) == []
    await store.set_integration_state(i.id, "active")
    [s] = await store.claim_segments(i.id, 10)
    assert s.message_id == acc.message.id


async def test_claim_is_fifo_per_integration(store):
    i = await integration(store)
    j = await integration(store)
    ids = [(await store.accept_message(*mt(x))).message.id for x in (i, j, i, i, j)]
    got = [s.message_id for s in await store.claim_segments(i.id, 2)]
    assert got == [ids[0], ids[2]]
    assert [s.message_id for s in await store.claim_segments(j.id, 5)] == [ids[1], ids[4]]
    assert [s.message_id for s in await store.claim_segments(i.id, 5)] == [ids[3]]


async def test_accept_validation(store):
    i = await integration(store)
    msg, segs = mt(i, n=2)
    with pytest.raises(InvalidRecord):
        await store.accept_message(msg, segs[:1])
    with pytest.raises(NotFound):
        await store.accept_message(msgspec.structs.replace(msg, integration="nope"), segs)


async def test_record_inbound(store):
    i = await integration(store)
    mo = Message("", "mo", i.id, "bu1", "+15550002", "+15550001", "STOP", "gsm7", 0, 1)
    ev = await store.record_inbound(mo, {"from": "+15550002", "to": "+15550001", "text": "STOP"})
    assert ev.type == "inbound" and ev.payload["text"] == "STOP"
    m = await store.get_message(ev.payload["message_id"])
    assert (m.direction, m.state, m.text) == ("mo", "received", "STOP")
    assert await store.events_after("bu1", 0, 10) == [ev]


# --- idempotency ----------------------------------------------------------------------


async def test_idempotency_under_concurrent_duplicates(store, db):
    i = await integration(store)
    results = []

    async def send():
        results.append(await store.accept_message(*mt(i), "same-key"))

    async with trio.open_nursery() as n:
        for _ in range(50):
            n.start_soon(send)
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.message.id for r in results}) == 1
    # the same key in another business unit is another message
    other = await store.accept_message(*mt(i, bu="bu2"), "same-key")
    assert not other.duplicate and other.message.id != results[0].message.id
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM messages").fetchone()[0] == 2
        assert c.execute("SELECT count(*) FROM segments").fetchone()[0] == 2


async def test_idempotent_duplicate_within_one_batch(store):
    i = await integration(store)
    results = await store.accept_messages([(*mt(i), "k"), (*mt(i), "k"), (*mt(i), None)])
    assert [r.duplicate for r in results] == [False, True, False]
    assert results[0].message.id == results[1].message.id


# --- the batched writer ---------------------------------------------------------------


async def test_one_failing_op_does_not_fail_its_batch(store):
    i = await integration(store)
    outcome = {}

    async def run(name, msg, segs):
        try:
            outcome[name] = await store.accept_message(msg, segs)
        except Exception as e:  # noqa: BLE001
            outcome[name] = e

    good = [mt(i, dest=f"+1555000{k}") for k in range(4)]
    bad_msg, bad_segs = mt(i, n=2)
    bad_msg = msgspec.structs.replace(bad_msg, id="msg_bad")
    # the same index twice: UNIQUE fails after the message row was inserted
    bad_segs = [bad_segs[0], bad_segs[0]]
    batches = store.batches
    # The writer thread is held inside an op of its own while the five queue
    # theirs, so it takes them as one batch when let go.
    entered, gate = threading.Event(), threading.Event()

    def hold(conn):
        entered.set()
        gate.wait(10)

    with trio.fail_after(20):
        async with trio.open_nursery() as n:
            n.start_soon(store._write, hold)
            await trio.to_thread.run_sync(entered.wait, 10)
            n.start_soon(run, "g0", *good[0])
            n.start_soon(run, "g1", *good[1])
            n.start_soon(run, "bad", bad_msg, bad_segs)
            n.start_soon(run, "missing", msgspec.structs.replace(good[2][0], integration="nope"),
                         good[2][1])
            n.start_soon(run, "g3", *good[3])
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
    assert store.batches == batches + 2  # the holding op's, then one for all five
    assert isinstance(outcome["bad"], Conflict)
    assert isinstance(outcome["missing"], NotFound)
    ok = [outcome[k] for k in ("g0", "g1", "g3")]
    for a in ok:
        assert not a.duplicate
        assert (await store.get_message(a.message.id)) == a.message
    # the bad message's row went with its savepoint
    assert await store.get_message("msg_bad") is None
    with sqlite3.connect(store.path) as c:
        assert {r[0] for r in c.execute("SELECT id FROM messages")} == {a.message.id for a in ok}
        assert c.execute("SELECT count(*) FROM segments").fetchone()[0] == 3


async def test_batch_ops_fail_per_item(store):
    i = await integration(store)
    await store.accept_message(*mt(i))
    [s] = await store.claim_segments(i.id, 1)
    res = await store.record_submits([
        SubmitOutcome(segment_id=s.id, vendor_message_id="v1"),
        SubmitOutcome(segment_id=999, vendor_message_id="v2"),
    ])
    assert res[0].state == "submitted"
    assert isinstance(res[1], Conflict)
    assert (await store.find_segment_by_vendor_id(i.id, ["v1"])).id == s.id


async def test_closed_store_refuses(db, key):
    async with open_sqlite_store(db, key=key) as s:
        pass
    with pytest.raises(StoreClosed):
        await s.accept_message(*mt(await _fake_integration()))
    with pytest.raises(StoreClosed):
        await s.get_message("x")


async def _fake_integration():
    from byosms.schemas.records import Integration

    return Integration("int_x", "bu", "smpp", "x", {})


async def test_memory_database_refused(key):
    with pytest.raises(ValueError, match="file"):
        async with open_sqlite_store(":memory:", key=key):
            pass


# --- restart --------------------------------------------------------------------------


async def test_restart_requeues_in_flight(db, key):
    async with open_sqlite_store(db, key=key) as s:
        i = await integration(s)
        ids = [(await s.accept_message(*mt(i))).message.id for _ in range(3)]
        claimed = await s.claim_segments(i.id, 2)
        await s.record_submit(claimed[0].id, "v0")
    async with open_sqlite_store(db, key=key) as s:
        assert s.recovered_in_flight == 1
        again = await s.claim_segments(i.id, 10)
        assert [x.message_id for x in again] == [ids[1], ids[2]]
        assert [x.attempts for x in again] == [2, 1]
        # the submitted one still gets its receipt matched after restart
        r = await s.record_receipt(Receipt(integration=i.id, vendor_ids=("v0",),
                                           state="delivered"))
        assert r.message_state == "delivered"


# --- migrations -----------------------------------------------------------------------


async def test_new_file_gets_latest_schema(db, key):
    async with open_sqlite_store(db, key=key) as s:
        assert s.schema_version_found == 0
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_older_file_is_migrated_and_keeps_its_data(db, key):
    c = sqlite3.connect(db, isolation_level=None)
    migrations.migrate(c, target=1)
    c.execute("INSERT INTO integrations VALUES ('int_old', 'bu', 'smpp', 'old', '{\"a\":1}', "
              "'active', 1.0, 1.0)")
    c.close()
    async with open_sqlite_store(db, key=key) as s:
        assert s.schema_version_found == 1
        old = await s.get_integration("int_old")
        assert old.config == {"a": 1} and old.state == "active"
        await s.set_opt_out("+1", "+2", True)  # a table of step 2
        assert await s.is_opted_out("+1", "+2")
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST


async def test_newer_file_is_refused(db, key):
    c = sqlite3.connect(db, isolation_level=None)
    migrations.migrate(c)
    c.execute(f"PRAGMA user_version = {migrations.LATEST + 1}")
    c.close()
    with pytest.raises(SchemaError, match="newer"):
        async with open_sqlite_store(db, key=key):
            pass


def test_failed_migration_step_leaves_version(tmp_path, monkeypatch):
    c = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    migrations.migrate(c, target=1)
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS[:1],
                                                   "CREATE TABLE ok (x);\nCREATE TABLE bad (;"))
    monkeypatch.setattr(migrations, "LATEST", 2)
    with pytest.raises(sqlite3.Error):
        migrations.migrate(c)
    assert migrations.schema_version(c) == 1
    assert c.execute("SELECT count(*) FROM sqlite_master WHERE name = 'ok'").fetchone()[0] == 0


# --- opt-outs -------------------------------------------------------------------------


async def test_opt_out_persists_and_blocks_sends(db, key):
    async with open_sqlite_store(db, key=key) as s:
        i = await integration(s)
        await s.set_opt_out("+15550001", "+15550002", True)
        await s.set_opt_out("+15550001", "+15550002", True)  # idempotent
        with pytest.raises(OptedOut):
            await s.accept_message(*mt(i))
        # the check is per sender
        await s.accept_message(*mt(i, source="+15550009"))
        # and can be skipped by a caller that checked already
        await s.accept_message(*mt(i), check_opt_out=False)
    async with open_sqlite_store(db, key=key) as s:
        assert await s.is_opted_out("+15550001", "+15550002")
        assert not await s.is_opted_out("+15550002", "+15550001")
        await s.set_opt_out("+15550001", "+15550002", False)
        assert not await s.is_opted_out("+15550001", "+15550002")
        await s.accept_message(*mt(i))


# --- events ---------------------------------------------------------------------------


async def test_events_cursor_monotonic_and_resume_after_ack(db, key):
    async with open_sqlite_store(db, key=key) as s:
        c1 = await s.append_events([NewEvent("a", "operational", {"n": k}) for k in range(3)])
        c2 = await s.append_events([NewEvent("b", "operational", {"n": 9}),
                                    NewEvent("a", "keyword", {"n": 3})])
        assert c1 + c2 == sorted(c1 + c2) and len(set(c1 + c2)) == 5
        evs = await s.events_after("a", 0, 100)
        assert [e.payload["n"] for e in evs] == [0, 1, 2, 3]
        assert [e.cursor for e in evs] == [*c1, c2[1]]
        assert [e.payload["n"] for e in await s.events_after("a", 0, 2)] == [0, 1]
        assert await s.last_ack("app") == 0
        assert await s.ack("app", evs[1].cursor) == evs[1].cursor
        assert await s.ack("app", evs[0].cursor) == evs[1].cursor  # never backwards
    async with open_sqlite_store(db, key=key) as s:
        resume = await s.last_ack("app")
        assert [e.payload["n"] for e in await s.events_after("a", resume, 100)] == [2, 3]
        [c3] = await s.append_events([NewEvent("a", "operational", {"n": 4})])
        assert c3 > max(c1 + c2)
        assert await s.append_events([]) == []


async def test_concurrent_appends_get_distinct_increasing_cursors(store):
    got = []

    async def add(k):
        got.append((k, await store.append_events([NewEvent("a", "operational", {"k": k}),
                                                  NewEvent("a", "operational", {"k": k})])))

    async with trio.open_nursery() as n:
        for k in range(30):
            n.start_soon(add, k)
    cursors = [c for _, cs in got for c in cs]
    assert len(set(cursors)) == 60
    evs = await store.events_after("a", 0, 1000)
    assert [e.cursor for e in evs] == sorted(cursors)
    by_cursor = {e.cursor: e.payload["k"] for e in evs}
    for k, cs in got:
        assert [by_cursor[c] for c in cs] == [k, k]


# --- API keys -------------------------------------------------------------------------


async def test_api_keys_hashed_verified_revoked(store, db):
    key, token = await store.create_api_key("bu1", "crm")
    assert token.startswith("byo_") and len(token) > 40
    assert token not in repr(key)
    v = await store.verify_api_key(token)
    assert v is not None and v.id == key.id and v.business_unit == "bu1"
    assert await store.verify_api_key(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert await store.verify_api_key("") is None
    assert await store.verify_api_key("not-a-token") is None
    assert [k.id for k in await store.list_api_keys("bu1")] == [key.id]
    assert await store.revoke_api_key(key.id) is True
    assert await store.revoke_api_key(key.id) is False
    assert await store.verify_api_key(token) is None
    raw = _raw_bytes(db)
    assert token.encode() not in raw
    assert token[4:].encode() not in raw


def _raw_bytes(db: str) -> bytes:
    out = b""
    for suffix in ("", "-wal"):
        if os.path.exists(db + suffix):
            with open(db + suffix, "rb") as f:
                out += f.read()
    return out


# --- shutdown -------------------------------------------------------------------------


async def test_shutdown_mid_stream_leaves_nothing_half_written(db, key):
    acked: list[str] = []
    closed = 0

    async def sender(s, i):
        nonlocal closed
        while True:
            try:
                a = await s.accept_message(*mt(i, n=3))
            except StoreClosed:
                closed += 1
                return
            acked.append(a.message.id)

    # The senders live in a nursery that outlives the store: leaving the store's
    # block cancels its writer while they are still sending.
    with trio.fail_after(30):  # a write lost at the close hangs: fail instead
        async with trio.open_nursery() as outer:
            async with open_sqlite_store(db, key=key) as s:
                i = await integration(s)
                for _ in range(16):
                    outer.start_soon(sender, s, i)
                while len(acked) < 500:
                    await trio.sleep(0)
    assert closed == 16  # every sender heard, none hangs
    async with open_sqlite_store(db, key=key) as s:
        for mid in acked:
            assert len(await s.get_segments(mid)) == 3
    with sqlite3.connect(db) as c:
        assert c.execute(
            "SELECT count(*) FROM messages m WHERE "
            "(SELECT count(*) FROM segments s WHERE s.message_id = m.id) != 3"
        ).fetchone()[0] == 0


async def test_cancelled_caller_does_not_disturb_the_writer(store):
    i = await integration(store)
    with trio.move_on_after(0) as scope:  # cancelled before its op can run
        await store.accept_message(*mt(i), "k-cancel")
    assert scope.cancelled_caught
    # the store goes on serving, and the key still means one message
    a = await store.accept_message(*mt(i), "k-cancel")
    b = await store.accept_message(*mt(i), "k-cancel")
    assert a.message.id == b.message.id and b.duplicate


async def test_batch_calls_answer_item_by_item(store):
    i = await integration(store)
    await store.set_opt_out("+15550001", "+1555blocked", True)
    res = await store.accept_messages([
        (*mt(i, dest="+1555a"), "ka"),
        (*mt(i, dest="+1555blocked"), "kb"),
        (*mt(i, n=2)[:1], mt(i, n=2)[1][:1], "kc"),  # 2 announced, 1 given
        (*mt(i, dest="+1555d"), "ka"),  # same key as the first: its result
    ])
    assert not res[0].duplicate
    assert isinstance(res[1], OptedOut)
    assert isinstance(res[2], InvalidRecord)
    assert res[3].duplicate and res[3].message.id == res[0].message.id
    [seg] = await store.claim_segments(i.id, 10)
    await store.record_submit(seg.id, "v-a")
    rs = await store.record_receipts([
        Receipt(integration=i.id, vendor_ids=("v-a",), state="submitted"),
        Receipt(integration=i.id, vendor_ids=("unknown",), state="delivered"),
        Receipt(integration=i.id, vendor_ids=("v-a",), state="delivered", generic_code=0),
        Receipt(integration=i.id, vendor_ids=("v-a",), state="failed"),  # late, contradicting
    ])
    assert [r.segment and r.segment.state for r in rs] == [
        "submitted", None, "delivered", "delivered"]
    assert [r.message_state for r in rs] == ["en_route", None, "delivered", "delivered"]
    assert rs[3].event_cursor is None
    evs = await store.events_after("bu1", 0, 100)
    assert [e.payload["segment_state"] for e in evs] == ["submitted", "submitted", "delivered"]


async def test_writes_beyond_the_queue_bound_wait_then_run(store, monkeypatch):
    import byosms.store.sqlite as sqlite_mod

    monkeypatch.setattr(sqlite_mod, "QUEUE_BOUND", 4)
    i = await integration(store)
    done: list[str] = []

    async def send(k: int) -> None:
        a = await store.accept_message(*mt(i, dest=f"+1555000{k:04d}"), f"bound-{k}")
        done.append(a.message.id)

    with trio.fail_after(20):  # a lost wake-up hangs: fail instead
        async with trio.open_nursery() as nursery:
            for k in range(60):
                nursery.start_soon(send, k)
    assert len(set(done)) == 60
    assert store._queued == 0


async def test_writes_waiting_for_room_hear_the_close(db, key, monkeypatch):
    import byosms.store.sqlite as sqlite_mod

    monkeypatch.setattr(sqlite_mod, "QUEUE_BOUND", 2)
    outcomes: list[str] = []

    async def send(s, i, k: int) -> None:
        try:
            await s.accept_message(*mt(i, dest=f"+1555100{k:04d}"))
            outcomes.append("ok")
        except StoreClosed:
            outcomes.append("closed")

    with trio.fail_after(20):
        async with trio.open_nursery() as outer:
            async with open_sqlite_store(db, key=key) as s:
                i = await integration(s)
                for k in range(40):
                    outer.start_soon(send, s, i, k)
                await trio.sleep(0)
    assert len(outcomes) == 40  # every caller heard, none hangs
    assert "closed" in outcomes
    with sqlite3.connect(db) as c:  # what was answered "ok" is stored, nothing else
        assert c.execute("SELECT count(*) FROM messages").fetchone()[0] == outcomes.count("ok")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_a_dead_writer_thread_closes_the_store_instead_of_hanging(db, key):
    async with open_sqlite_store(db, key=key) as s:
        i = await integration(s)

        def boom(batch):
            raise SystemExit("simulated death of the writer thread")  # not an Exception

        s._run_batch = boom
        with trio.fail_after(10):
            with pytest.raises(StoreClosed):
                await s.accept_message(*mt(i))
            with pytest.raises(StoreClosed):
                await s.accept_message(*mt(i))
    # Let the thread finish dying here, so its exception is reported (and
    # ignored) in this test rather than in whichever test runs next.
    for t in threading.enumerate():
        if t.name == "byosms-store-writer":
            await trio.to_thread.run_sync(t.join, 5)


@pytest.mark.slow
async def test_checkpointer_keeps_the_wal_small_while_the_writer_never_checkpoints(db, key):
    # The writer's connection does not checkpoint (wal_autocheckpoint = 0):
    # without the store's checkpointer the WAL would hold every page written
    # until the store closed, and the database file would stay empty.
    payload = {"text": "x" * 1000}
    async with open_sqlite_store(db, key=key) as store:
        assert store._w.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        start = os.path.getsize(db)
        with trio.fail_after(30):
            for _ in range(8):  # ~8 x 2 MB, with time for the checkpointer
                await store.append_events([NewEvent("bu", "status", payload)] * 2000)
                await trio.sleep(sqlite_module.CHECKPOINT_EVERY * 2.5)
        wal = os.path.getsize(db + "-wal")
        assert os.path.getsize(db) > start + 8_000_000  # the pages reached the database
        assert wal < 8_000_000  # and the WAL started over instead of growing
        # Nothing lost: every event is there.
        assert len(await store.events_after("bu", 0, 20_000)) == 16_000
