"""The store's set-based batch ops (store/sqlite_sets.py) against its per-item
ops: the same random batches of accepts, claims, submit results and receipts
go to two stores, one taking the set-based path and one forced item by item;
every answer, every row and each message's event sequence must be the same.
And the regular traffic of a gateway must never fall back to the careful
re-run (that would silently cost the speed the set path exists for)."""

from __future__ import annotations

import os
import sqlite3
import tempfile

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from byosms.schemas.records import (
    Accepted,
    Message,
    Receipt,
    ReceiptResult,
    Segment,
    SubmitError,
    SubmitOutcome,
)
from byosms.store import open_sqlite_store
from byosms.store.base import RECORDED

OPTED_OUT = "+3"

accept_item = st.tuples(
    st.integers(1, 3),                                # segments
    st.sampled_from(["+2", OPTED_OUT]),               # destination
    st.sampled_from(["i1", "i1", "i1", "gone", "nope"]),  # integration
    st.sampled_from([None, None, "k1", "k2"]),        # idempotency key
    st.sampled_from(["hi", "hi", "a\x00b", "Grüße €", "😀 x" * 40]),  # text
    # The fields the set path's inserts take as parameters, shared by a group
    # of rows: sender, encoding and dcs, and how segments are concatenated.
    st.sampled_from(["+1", "+1", "ACME"]),            # source
    st.sampled_from([("gsm7", 0), ("ucs2", 8)]),      # encoding, dcs
    st.sampled_from(["plain", "udh", "sar"]),         # segments' esm_class / SAR fields
    st.sampled_from(["bu", "bu", "bu2"]),             # business unit (events per unit)
)
submit_item = st.tuples(st.integers(0, 50), st.sampled_from(
    ["ok", "ok", "ok", "transient", "permanent", "no_vendor_id"]), st.booleans())
receipt_item = st.tuples(st.integers(0, 50), st.sampled_from(
    ["delivered", "delivered", "failed", "submitted"]),
    st.sampled_from(["id", "vendor", "vendor_hex", "unknown"]), st.booleans())
action = st.one_of(
    st.tuples(st.just("accept"), st.lists(accept_item, min_size=1, max_size=6)),
    # Everything queued: a limit would cut the queue at a place that differs
    # (items the set path hands to the per-item op are inserted after the rest
    # of their batch, so their segment ids, the queue order, come later).
    st.tuples(st.just("claim"), st.just(1000)),
    st.tuples(st.just("submit"), st.lists(submit_item, min_size=1, max_size=6)),
    st.tuples(st.just("receipt"), st.lists(receipt_item, min_size=1, max_size=6)),
)


def norm(r):
    if isinstance(r, BaseException):
        return type(r).__name__
    if isinstance(r, Accepted):
        return ("accepted", r.message.id, r.duplicate, r.message.state)
    if isinstance(r, Segment):
        return ("segment", r.message_id, r.index, r.state, r.attempts, r.vendor_message_id,
                r.generic_code, r.generic_cause, r.vendor_code, r.short_message)
    if isinstance(r, ReceiptResult):
        return ("receipt", None if r.segment is None else norm(r.segment), r.message_state,
                r.event_cursor is None)
    raise AssertionError(r)


def dump(db: str) -> tuple:
    c = sqlite3.connect(db)
    try:
        msgs = c.execute("SELECT id, state, generic_code, generic_cause, text, client_ref, "
                         "idempotency_key, segment_count, integration_id, business_unit, "
                         "source, destination, encoding, dcs, direction FROM messages "
                         "ORDER BY id").fetchall()
        segs = c.execute(
            "SELECT message_id, idx, short_message, state, attempts, vendor_message_id, "
            "generic_code, generic_cause, vendor_code, esm_class, dcs, sar_ref, sar_total, "
            "sar_seq, integration_id FROM segments ORDER BY message_id, idx").fetchall()
        per_msg: dict[str, list] = {}
        for type_, payload in c.execute("SELECT type, payload FROM events ORDER BY cursor"):
            p = payload if isinstance(payload, str) else payload.decode()
            per_msg.setdefault(p.split('"message_id":"')[1].split('"')[0], []).append(
                (type_, p))
        return msgs, segs, per_msg
    finally:
        c.close()


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(action, max_size=14))
def test_set_ops_match_per_item_ops(actions):
    async def run(tmp: str) -> None:
        paths = [os.path.join(tmp, "set.db"), os.path.join(tmp, "item.db"),
                 os.path.join(tmp, "quiet.db")]
        async with open_sqlite_store(paths[0], key=os.urandom(32)) as a, \
                open_sqlite_store(paths[1], key=os.urandom(32)) as b, \
                open_sqlite_store(paths[2], key=os.urandom(32)) as c:
            # a: the set path; b: the per-item path; c: the set path answering
            # only errors (details=False, the Rust planner).
            stores = (a, b, c)
            for s in stores:
                await s.create_integration("bu", "smpp", "x", {}, state="active", id="i1")
                await s.create_integration("bu", "smpp", "y", {}, state="active", id="gone")
                await s.set_integration_state("gone", "deleted")
                await s.set_opt_out("+1", OPTED_OUT, True)
            n_msg = 0
            known: list[tuple[str, int]] = []  # (message id, index) of every segment

            async def both(call):
                b._careful = True  # the per-item path (what a careful re-run takes)
                ra, rb = await call(a), await call(b)
                b._careful = False
                rc = await call(c)
                assert sorted(map(repr, map(norm, rc))) == sorted(map(repr, map(norm, ra)))
                return ra, rb

            for kind, arg in actions:
                if kind == "accept":
                    items = []
                    for segs, dest, integ, key, text, source, (enc, dcs), concat, bu in arg:
                        n_msg += 1
                        mid = f"m{n_msg:03d}"
                        sar = concat == "sar" and segs > 1
                        items.append((Message(mid, "mt", integ, bu, source, dest, text, enc,
                                              dcs, segs, client_ref=f"r{n_msg}"),
                                      [Segment(0, "", k, f"{mid}/{k}".encode() + b"\x00\xff" * k,
                                               0x40 if concat == "udh" and segs > 1 else 0, dcs,
                                               n_msg if sar else None, segs if sar else None,
                                               k + 1 if sar else None)
                                       for k in range(segs)], key))
                    ra, rb = await both(lambda s: s.accept_messages(items))
                    for r in ra:
                        if isinstance(r, Accepted) and not r.duplicate:
                            known.extend((r.message.id, k)
                                         for k in range(r.message.segment_count))
                elif kind == "claim":
                    ra, rb = await both(lambda s: s.claim_segments("i1", arg))
                    assert sorted(map(norm, ra)) == sorted(map(norm, rb))
                    continue
                elif kind in ("submit", "receipt"):
                    if not known:
                        continue
                    ids = []
                    for s in stores:
                        rows = {(sg.message_id, sg.index): sg.id
                                for m in {mid for mid, _ in known}
                                for sg in await s.get_segments(m)}
                        ids.append(rows)
                    batch = [[], [], []]
                    for item in arg:
                        mid, idx = known[item[0] % len(known)]
                        copies = 2 if item[-1] else 1
                        for j in range(3):
                            sid = ids[j][(mid, idx)]
                            vid = f"v-{mid}-{idx}"
                            if kind == "submit":
                                what = item[1]
                                o = SubmitOutcome(
                                    segment_id=sid,
                                    vendor_message_id=None if what != "ok" else vid,
                                    error=None if what in ("ok", "no_vendor_id") else
                                    SubmitError(permanent=what == "permanent", generic_code=4,
                                                generic_cause="X", vendor_code=8))
                            else:
                                state, how = item[1], item[2]
                                keys = {"id": (), "vendor": (vid,), "vendor_hex": ("zz", vid),
                                        "unknown": ("nope",)}[how]
                                o = Receipt(integration="i1", vendor_ids=keys,
                                            segment_id=sid if how == "id" else None,
                                            state=state, generic_code=0 if state != "failed"
                                            else 10, generic_cause="C", vendor_code=7)
                            batch[j].extend([o] * copies)
                    fn = "record_submits" if kind == "submit" else "record_receipts"
                    b._careful = True
                    rb = await getattr(b, fn)(batch[1])
                    b._careful = False
                    ra = await getattr(a, fn)(batch[0])
                    quiet = await getattr(c, fn)(batch[2], details=False)
                    for x, y, z in zip(quiet, ra, rb):
                        if x is RECORDED:  # written by the batch path, as a's
                            assert not isinstance(y, BaseException)
                            assert not isinstance(y, ReceiptResult) or y.segment is not None
                        else:  # the per-item op's answer
                            assert norm(x) == norm(z), (kind, arg)
                ra, rb = [norm(r) for r in ra], [norm(r) for r in rb]
                assert ra == rb, (kind, arg)
            assert a.careful_batches == 0 or any(k in ("submit", "receipt", "accept")
                                                 for k, _ in actions)
            # The quiet path took what the set path took, no re-run more.
            assert c.careful_batches == a.careful_batches
        assert dump(paths[0]) == dump(paths[1]) == dump(paths[2])

    with tempfile.TemporaryDirectory() as tmp:
        trio.run(run, tmp)


def test_batches_across_business_units_and_outcomes_name_their_own_events():
    """One batch of submit results and one of receipts over two business units
    and mixed outcomes (the set path writes one statement per unit and per
    outcome): every result's cursor is its own message's event, stored under
    its unit, and each unit reads its events in the batch's order."""
    async def run(db: str) -> None:
        async with open_sqlite_store(db, key=os.urandom(32)) as s:
            for bu in ("bu1", "bu2"):
                await s.create_integration(bu, "smpp", "x", {}, state="active", id=f"i-{bu}")
            items = [(Message("", "mt", f"i-bu{1 + k % 2}", f"bu{1 + k % 2}", "+1", f"+2{k}",
                              f"hi {k}", "gsm7", 0, 1), [Segment(0, "", 0, b"hi")], None)
                     for k in range(12)]
            accepted = await s.accept_messages(items)
            ids = [r.message.id for r in accepted]
            segs = {}
            for bu in ("bu1", "bu2"):
                segs.update({g.message_id: g for g in await s.claim_segments(f"i-{bu}", 100)})
            before = {bu: s_ for bu, s_ in [("bu1", 0), ("bu2", 0)]}
            for bu in before:
                before[bu] = max([e.cursor for e in await s.events_after(bu, 0, 1000)], default=0)
            submitted = await s.record_submits(
                [SubmitOutcome(segment_id=segs[m].id, vendor_message_id=f"v{k}")
                 for k, m in enumerate(ids)])
            assert all(isinstance(r, Segment) and r.state == "submitted" for r in submitted)
            outcomes = ["delivered", "failed", "delivered", "submitted"]
            receipts = [Receipt(integration=f"i-bu{1 + k % 2}", vendor_ids=(f"v{k}",),
                                segment_id=segs[m].id, state=outcomes[k % 4],
                                generic_code=10 if outcomes[k % 4] == "failed" else 0,
                                generic_cause="X" if outcomes[k % 4] == "failed" else "OK",
                                vendor_code=k % 3)
                        for k, m in enumerate(ids)]
            results = await s.record_receipts(receipts)
            assert s.careful_batches == 0
            for k, (m, r) in enumerate(zip(ids, results)):
                assert isinstance(r, ReceiptResult) and r.segment.message_id == m
                events = {e.cursor: e for e in await s.events_after(f"bu{1 + k % 2}", 0, 1000)}
                assert events[r.event_cursor].payload["message_id"] == m
                assert events[r.event_cursor].payload["segment_state"] == outcomes[k % 4]
                stored = await s.get_message(m)
                assert (stored.state, stored.generic_code) == (
                    {"delivered": "delivered", "failed": "failed", "submitted": "en_route"}
                    [outcomes[k % 4]], 10 if outcomes[k % 4] == "failed" else (
                        0 if outcomes[k % 4] == "delivered" else None))
            for bu in ("bu1", "bu2"):
                mine = [m for k, m in enumerate(ids) if f"bu{1 + k % 2}" == bu]
                events = [e for e in await s.events_after(bu, before[bu], 1000)]
                # Submitted events first (one batch), then the receipts', each in batch order.
                assert [e.payload["message_id"] for e in events] == mine + mine
                assert all(e.business_unit == bu for e in events)

    with tempfile.TemporaryDirectory() as tmp:
        trio.run(run, os.path.join(tmp, "s.db"))


@pytest.mark.parametrize("details", [True, False])
def test_regular_gateway_batches_take_the_set_path(details):
    """Batches as the gateway makes them (one-segment messages, receipts the
    engine correlated by segment id, by vendor id) commit on the first pass,
    and with details=False (as the gateway asks) every one is RECORDED."""
    async def run(db: str) -> None:
        async with open_sqlite_store(db, key=os.urandom(32)) as s:
            await s.create_integration("bu", "smpp", "x", {}, state="active", id="i1")
            items = [(Message("", "mt", "i1", "bu", "+1", f"+2{k}", "hi", "gsm7", 0, 1),
                      [Segment(0, "", 0, b"hi")], f"key{k}") for k in range(200)]
            accepted = await s.accept_messages(items)
            assert all(isinstance(r, Accepted) and not r.duplicate for r in accepted)
            again = await s.accept_messages(items[:5])  # idempotent replays
            assert [r.duplicate for r in again] == [True] * 5
            claimed = await s.claim_segments("i1", 500)
            assert len(claimed) == 200
            subs = await s.record_submits([SubmitOutcome(segment_id=c.id,
                                                         vendor_message_id=f"V{c.id}")
                                           for c in claimed], details=details)
            rec = await s.record_receipts(
                [Receipt(integration="i1", segment_id=c.id, state="delivered")
                 for c in claimed[:100]]
                + [Receipt(integration="i1", vendor_ids=(f"V{c.id}",), state="failed",
                           generic_code=10, generic_cause="UNDELIVERABLE")
                   for c in claimed[100:]], details=details)
            assert s.careful_batches == 0
            if details:
                assert {x.state for x in subs} == {"submitted"}
                assert [r.message_state for r in rec] == ["delivered"] * 100 + ["failed"] * 100
                assert len({r.event_cursor for r in rec}) == 200
            else:
                assert subs == [RECORDED] * 200 and rec == [RECORDED] * 200
                assert len(await s.events_after("bu", 0, 1000)) == 400
            msg = await s.get_message(claimed[150].message_id)
            assert (msg.state, msg.generic_code, msg.generic_cause) == \
                ("failed", 10, "UNDELIVERABLE")

    with tempfile.TemporaryDirectory() as tmp:
        trio.run(run, os.path.join(tmp, "s.db"))


def test_late_submit_results_of_segments_failed_by_a_deletion():
    """Deleting the integration fails its claimed segments; their late submit
    results must not bring them back: the set path's guarded update notices,
    the batch re-runs item by item and each result is a Conflict."""
    async def run(db: str) -> None:
        async with open_sqlite_store(db, key=os.urandom(32)) as s:
            await s.create_integration("bu", "smpp", "x", {}, state="active", id="i1")
            await s.accept_messages([(Message("", "mt", "i1", "bu", "+1", f"+2{k}", "hi", "gsm7",
                                              0, 1), [Segment(0, "", 0, b"hi")], None)
                                     for k in range(3)])
            claimed = await s.claim_segments("i1", 10)
            await s.set_integration_state("i1", "deleted")
            res = await s.record_submits([SubmitOutcome(segment_id=c.id, vendor_message_id="V")
                                          for c in claimed])
            assert [type(r).__name__ for r in res] == ["Conflict"] * 3
            assert s.careful_batches == 1
            for c in claimed:
                (seg,) = await s.get_segments(c.message_id)
                assert (seg.state, seg.generic_cause) == ("failed", "integration_deleted")
                assert (await s.get_message(c.message_id)).state == "failed"

    with tempfile.TemporaryDirectory() as tmp:
        trio.run(run, os.path.join(tmp, "s.db"))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.binary(max_size=140), min_size=1, max_size=3), min_size=1,
                max_size=40))
def test_claimed_segments_carry_their_exact_bodies(messages):
    """Claims return bodies as one concatenated BLOB sliced by length: every
    segment must get its own bytes back — NULs, high bytes, empty ones."""

    async def main() -> None:
        with tempfile.TemporaryDirectory() as d:
            async with open_sqlite_store(os.path.join(d, "s.db"), key=os.urandom(32)) as s:
                await s.create_integration("bu", "smpp", "x", {}, state="active", id="i1")
                items = [
                    (Message("", "mt", "i1", "bu", "+1", f"+2{k}", "hi", "gsm7", 0, len(bodies)),
                     [Segment(0, "", n, b) for n, b in enumerate(bodies)], None)
                    for k, bodies in enumerate(messages)]
                accepted = await s.accept_messages(items)
                ids = {r.message.id: bodies for r, (_, _, _), bodies
                       in zip(accepted, items, messages)}
                claimed = await s.claim_segments("i1", 1000)
                assert len(claimed) == sum(len(b) for b in messages)
                assert [c.id for c in claimed] == sorted(c.id for c in claimed)
                for c in claimed:
                    assert c.short_message == ids[c.message_id][c.index]

    trio.run(main)


def test_large_and_odd_sized_accept_batches_store_every_row():
    # One accept batch of any size, up to thousands of messages, each with
    # one to three segments: every message, text and body stored as given.
    async def run(tmp: str) -> None:
        async with open_sqlite_store(os.path.join(tmp, "s.db"), key=os.urandom(32)) as s:
            await s.create_integration("bu", "smpp", "x", {}, state="active", id="i1")
            n_msg = 0
            for size in (1, 2, 3, 4, 5, 255, 1023, 1024, 1025, 2100):
                items = []
                for k in range(size):
                    n_msg += 1
                    segs = 1 + k % 3
                    items.append((Message("", "mt", "i1", "bu", "+1", "+2", f"text {n_msg}",
                                          "gsm7", 0, segs, client_ref=f"r{n_msg}"),
                                  [Segment(0, "", j, f"{n_msg}/{j}".encode() + b"\x00" * j)
                                   for j in range(segs)], None))
                results = await s.accept_messages(items)
                assert all(isinstance(r, Accepted) for r in results)
                for r, (m, segs, _) in zip(results, items):
                    stored = await s.get_message(r.message.id)
                    assert (stored.text, stored.client_ref, stored.segment_count) == \
                        (m.text, m.client_ref, m.segment_count)
                    assert [g.short_message for g in await s.get_segments(r.message.id)] == \
                        [g.short_message for g in segs]
            c = sqlite3.connect(os.path.join(tmp, "s.db"))
            try:
                assert c.execute("SELECT count(*) FROM messages").fetchone()[0] == n_msg
                total = sum(1 + k % 3 for size in (1, 2, 3, 4, 5, 255, 1023, 1024, 1025, 2100)
                            for k in range(size))
                assert c.execute("SELECT count(*) FROM segments").fetchone()[0] == total
            finally:
                c.close()

    with tempfile.TemporaryDirectory() as tmp:
        trio.run(run, tmp)
