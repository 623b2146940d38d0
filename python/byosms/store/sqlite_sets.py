"""Set-based forms of the SQLite store's three hot batch ops.

The per-item ops in sqlite.py (`_accept_op`, `_submit_op`, `_receipt_op`) run
three to five statements per message, each a Python -> SQLite round trip; at
gateway rates that round-trip overhead, not SQLite, was most of the writer
thread's time. Here a batch reads what it needs in one statement (ids passed as
one JSON array through `json_each`) and writes each table with one statement
per set of values its rows share (rows as a JSON array, the shared values as
parameters). Submit results and receipts are checked, grouped and rolled up
by the Rust core (below). Results are the same records the per-item ops
return, or RECORDED where the caller asked for no details.

Only the regular case goes this way: one-segment messages (their roll-up needs
no count of sibling segments), a segment named once in the batch, the expected
prior state. Everything else — multi-segment messages, repeated receipts, an
idempotency key seen before, errors — is handed back to the per-item op, run
after the set part in the same transaction, so it sees the set part's writes.
These functions run only on the writer's optimistic pass: a per-item op that
raises aborts the pass and the batch re-runs carefully, item by item, without
this module (see `SqliteStore._run_batch`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from byosms.schemas.records import (
    Accepted,
    Message,
    Receipt,
    ReceiptResult,
    Segment,
    SubmitOutcome,
    now,
)
from byosms._core import plan_receipts, plan_submits
from byosms.store.base import RECORDED, NotFound, StoreError

if TYPE_CHECKING:
    from byosms.store.sqlite import SqliteStore

_json_encode = msgspec.json.Encoder().encode
_rows_decode = msgspec.json.Decoder(list[list[Any]]).decode
_positions_decode = msgspec.json.Decoder(list[int]).decode

# Each statement here is one sqlite3_step: rows go in as one JSON array
# (json_each) and come out as one (json_group_array). Python's sqlite3 releases
# and re-takes the GIL around every step, and in the gateway the writer thread
# spent as long waiting to get it back as it spent working; a per-row
# executemany or fetchall pays that once per row.

# A segment as one JSON array; in place of its short_message the body's
# length: the bodies come concatenated in a second column (see
# _rows_and_bodies). The first 16 fields of a Segment, in its order.
_SEG_JSON = (
    "json_array(s.id, s.message_id, s.idx, length(s.short_message), s.esm_class, s.dcs, "
    "s.sar_ref, s.sar_total, s.sar_seq, s.integration_id, s.state, s.attempts, "
    "s.vendor_message_id, s.generic_code, s.generic_cause, s.vendor_code)"
)
_BODIES = "CAST(group_concat(s.short_message, '') AS BLOB)"
# Segments as written, read back for a caller that wants the records.
_SQL_SEGMENTS_BY_ID = (
    f"SELECT json_group_array({_SEG_JSON}), {_BODIES} "
    "FROM segments s WHERE s.id IN (SELECT value FROM json_each(?))"
)
# A segment with the facts the checks and the roll-up need (no body): the row
# `_core.plan_submits` / `plan_receipts` read (rust/src/store_sets.rs).
_LEAN_JSON = (
    "json_array(s.id, s.message_id, s.idx, s.state, s.vendor_message_id, s.generic_code, "
    "s.generic_cause, s.vendor_code, m.business_unit, m.client_ref, m.segment_count, m.state)"
)
_SQL_LEAN_BY_ID = (
    f"SELECT json_group_array({_LEAN_JSON}) FROM segments s JOIN messages m "
    "ON m.id = s.message_id WHERE s.id IN (SELECT value FROM json_each(?))"
)
# [receipt position, segment...] per match: the segments_vendor_id index
# serves each (integration, vendor id) pair.
_SQL_LEAN_BY_VENDOR_ID = (
    f"SELECT json_group_array(json_array(j.key, {_LEAN_JSON})) FROM json_each(?) j "
    "JOIN segments s ON s.integration_id = j.value ->> 0 AND s.vendor_message_id = j.value ->> 1 "
    "JOIN messages m ON m.id = s.message_id"
)
_SQL_SUBMITTED = (
    "UPDATE segments SET state = 'submitted', vendor_message_id = j.v, updated = ?2, "
    "submitted_at = ?2 "
    "FROM (SELECT value ->> 0 AS id, value ->> 1 AS v FROM json_each(?1)) AS j "
    "WHERE segments.id = j.id AND segments.state = 'in_flight'"
)
# Receipts and roll-ups of a batch mostly carry the same state, code and cause
# (as accepted rows share their sender, see _SQL_INSERT_MESSAGES): those are
# parameters, one statement per distinct set, and the rows are bare ids.
_SQL_RECEIPTED = (
    "UPDATE segments SET state = ?3, generic_code = ?4, generic_cause = ?5, vendor_code = ?6, "
    "updated = ?2, submitted_at = coalesce(submitted_at, ?2) "
    "WHERE id IN (SELECT value FROM json_each(?1)) "
    "AND state NOT IN ('delivered', 'failed')"
)
_SQL_ROLLUP = (
    "UPDATE messages SET state = ?3, generic_code = ?4, generic_cause = ?5, updated = ?2 "
    "WHERE id IN (SELECT value FROM json_each(?1))"
)
# Payloads (JSON already) travel as one BLOB (?3) that each row slices
# (1-based offset, length): parsing and re-serialising them as part of the
# JSON array cost SQLite more than the insert itself. They stay BLOBs, as the
# per-item path writes them. One statement per business unit (?4).
_SQL_STATUS_EVENTS = (
    "INSERT INTO events (business_unit, type, payload, created) "
    "SELECT ?4, 'status', substr(?3, value ->> 0, value ->> 1), ?2 FROM json_each(?1)"
)


def _json(value: Any) -> bytes:
    out = _json_encode(value)
    if b"\\u0000" in out:
        # SQLite's JSON functions end a string at NUL: the per-item ops bind it.
        raise StoreError("a NUL character in a batch: re-run item by item")
    return out


def _rows_and_bodies(conn: sqlite3.Connection, sql: str, params: tuple) -> list[list[Any]]:
    """Rows of a segment query (a JSON array of rows, and the rows' bodies
    concatenated in the order the rows were aggregated), each segment's
    short_message sliced out of the bodies: hex() and fromhex() cost more than
    the rest of a row."""
    heads, bodies = conn.execute(sql, params).fetchone()
    rows = _rows_decode(heads)
    bodies = bodies or b""
    pos = 0
    for r in rows:
        n = r[3]
        r[3] = bodies[pos:pos + n]
        pos += n
    return rows


# --- claiming ------------------------------------------------------------------

# Bodies come out as one BLOB, concatenated in the order the rows are
# aggregated (both aggregates see the rows in the same order), sliced by the
# lengths in the JSON: hex() and fromhex() cost more than the rest of the row.
_SQL_CLAIMABLE = (
    "SELECT json_group_array(json_array(s.id, s.message_id, s.idx, length(s.short_message), "
    "s.esm_class, s.dcs, s.sar_ref, s.sar_total, s.sar_seq, s.integration_id, s.state, "
    "s.attempts, s.vendor_message_id, s.generic_code, s.generic_cause, s.vendor_code, "
    "m.source, m.destination)), CAST(group_concat(s.short_message, '') AS BLOB) "
    "FROM (SELECT * FROM segments WHERE integration_id = ?1 AND state = 'queued' "
    "AND (SELECT state FROM integrations WHERE id = ?1) = 'active' ORDER BY id LIMIT ?2) s "
    "JOIN messages m ON m.id = s.message_id"
)
_SQL_CLAIM = (
    "UPDATE segments SET state = 'in_flight', attempts = attempts + 1, updated = ?2 "
    "WHERE id IN (SELECT value FROM json_each(?1))"
)


def claim_segments(conn: sqlite3.Connection, integration: str, limit: int) -> list[Segment]:
    """Up to `limit` of the oldest queued segments of an active integration,
    marked in_flight (attempts + 1). An inactive integration's queue stays (S12)."""
    rows = _rows_and_bodies(conn, _SQL_CLAIMABLE, (integration, limit))
    if not rows:
        return []
    rows.sort(key=_first)  # json_group_array need not keep the subquery's order
    t = now()
    conn.execute(_SQL_CLAIM, (_json([r[0] for r in rows]), t))
    return [
        Segment(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                "in_flight", r[11] + 1, r[12], r[13], r[14], r[15], t, r[16], r[17])
        for r in rows
    ]


def _first(r: list[Any]) -> Any:
    return r[0]


# --- submit results and receipts --------------------------------------------------

# Both read their segments lean, then the Rust core checks them against the
# batch, groups the writes by the values they share and writes the status
# payloads (`_core.plan_submits` / `plan_receipts`, without the GIL; on the
# writer thread this was ~15 us of Python per message). Items it cannot take
# come back as `rest`, for the per-item op, run after the rest in order.
# `details=False` (the gateway, which reads only errors): what the plan wrote
# answers RECORDED; otherwise its records are read back.

_REFUSED = "a NUL character in a batch: re-run item by item"  # see _json


def _apply(store: SqliteStore, conn: sqlite3.Connection, roll: Any, t: float
           ) -> list[tuple[str, int]]:
    """Execute a plan's roll-up (message states, status events); the message
    state and event cursor of each segment written."""
    updates, units, finals, events = roll
    for state, code, cause, ids in updates:
        conn.execute(_SQL_ROLLUP, (ids, t, state, code, cause))
    first: list[int] = []
    for bu, slices, blob, n in units:
        # One writer inside one transaction: AUTOINCREMENT gave the rows
        # consecutive cursors ending at the last one inserted.
        last = conn.execute(_SQL_STATUS_EVENTS, (slices, t, blob, bu)).lastrowid
        first.append(last - n + 1)  # type: ignore[operator]
    forget = store._msg_info.pop
    for message_id in finals:
        forget(message_id, None)
    return [(state, first[unit] + k) for state, unit, k in events]


def _written(conn: sqlite3.Connection, taken: list[tuple[int, int]], t: float
             ) -> dict[int, Segment]:
    """The segments a plan wrote, as records (`updated` is the batch's time)."""
    rows = _rows_and_bodies(conn, _SQL_SEGMENTS_BY_ID, (_json([sid for _, sid in taken]),))
    return {r[0]: Segment(*r, t) for r in rows}


def record_submits(store: SqliteStore, conn: sqlite3.Connection,
                   outcomes: Sequence[SubmitOutcome], details: bool = True) -> list[Any]:
    heads = conn.execute(_SQL_LEAN_BY_ID, (_json([o.segment_id for o in outcomes]),)
                         ).fetchone()[0]
    plan = plan_submits(heads, _json_encode(
        [(o.segment_id, o.vendor_message_id if o.error is None else None) for o in outcomes]))
    if plan is None:
        raise StoreError(_REFUSED)
    writes, taken, roll, rest = plan
    t = now()
    results: list[Any] = [RECORDED] * len(outcomes)
    if taken:
        if conn.execute(_SQL_SUBMITTED, (writes, t)).rowcount != len(taken):
            raise StoreError("segments changed under the submit batch")  # re-run carefully
        _apply(store, conn, roll, t)
        if details:
            segs = _written(conn, taken, t)
            for i, sid in taken:
                results[i] = segs[sid]
    for i in rest:
        o = outcomes[i]
        results[i] = store._submit_op(conn, o.segment_id, o.vendor_message_id, o.error)
    return results


def record_receipts(store: SqliteStore, conn: sqlite3.Connection,
                    receipts: Sequence[Receipt], details: bool = True) -> list[Any]:
    # The engine usually knows the segment (it correlated the receipt in
    # memory); else by vendor id, the first (exact) key only: the per-item op
    # tries the others.
    ids = [r.segment_id for r in receipts if r.segment_id is not None]
    by_id = conn.execute(_SQL_LEAN_BY_ID, (_json(ids),)).fetchone()[0] if ids else "[]"
    by_vendor = "[]"
    if len(ids) < len(receipts):
        pairs = [(r.integration, r.vendor_ids[0]) if r.segment_id is None and r.vendor_ids
                 else ("", "") for r in receipts]
        by_vendor = conn.execute(_SQL_LEAN_BY_VENDOR_ID, (_json(pairs),)).fetchone()[0]
    plan = plan_receipts(by_id, by_vendor, _json_encode(
        [(r.segment_id, bool(r.vendor_ids), r.state, r.generic_code, r.generic_cause,
          r.vendor_code) for r in receipts]))
    if plan is None:
        raise StoreError(_REFUSED)
    writes, taken, roll, rest = plan
    t = now()
    results: list[Any] = [RECORDED] * len(receipts)
    if taken:
        if sum(conn.execute(_SQL_RECEIPTED, (ids, t, state, code, cause, vendor_code)).rowcount
               for state, code, cause, vendor_code, ids in writes) != len(taken):
            raise StoreError("segments changed under the receipt batch")  # re-run carefully
        answers = _apply(store, conn, roll, t)
        if details:
            segs = _written(conn, taken, t)
            for (i, sid), (state, cursor) in zip(taken, answers):
                results[i] = ReceiptResult(segs[sid], state, cursor)  # type: ignore[arg-type]
    for i in rest:
        results[i] = store._receipt_op(conn, receipts[i])
    return results


# --- accepting -------------------------------------------------------------------

# The three checks of an accept batch in one statement (each statement is a
# GIL hand-off for the writer thread): the integrations' states, the
# positions of opted-out (sender, recipient) pairs, the positions of
# idempotency keys already used. An empty array skips a check.
_SQL_ACCEPT_CHECKS = (
    "SELECT (SELECT json_group_array(json_array(id, state)) FROM integrations "
    "WHERE id IN (SELECT value FROM json_each(?1))), "
    "(SELECT json_group_array(j.key) FROM json_each(?2) j JOIN opt_outs o "
    "ON o.sender = j.value ->> 0 AND o.recipient = j.value ->> 1), "
    "(SELECT json_group_array(j.key) FROM json_each(?3) j JOIN messages m "
    "ON m.business_unit = j.value ->> 0 AND m.idempotency_key = j.value ->> 1)"
)
# Outbound, queued, no code yet: constants, not columns of the array. Each
# `value ->> k` costs SQLite a fresh look into the row's JSON (~0.3 us, more
# than a row's insert: 12 of them were 5 us a message), so the fields a batch's
# rows share (integration, business unit, sender, encoding, dcs, segment count:
# one set for a typical frame) are parameters, one statement per set, and only
# six fields a row come from the JSON. Texts travel as one UTF-8 BLOB (?3)
# sliced per row, like segment bodies.
_SQL_INSERT_MESSAGES = (
    "INSERT INTO messages (id, direction, integration_id, business_unit, source, destination, "
    "text, encoding, dcs, segment_count, state, generic_code, generic_cause, client_ref, "
    "idempotency_key, created, updated) "
    "SELECT value ->> 0, 'mt', ?4, ?5, ?6, value ->> 1, "
    "CAST(substr(?3, value ->> 2, value ->> 3) AS TEXT), ?7, ?8, ?9, 'queued', NULL, NULL, "
    "value ->> 4, value ->> 5, ?2, ?2 FROM json_each(?1)"
)
# Segment bodies travel as one BLOB (?2); each row names its slice
# (1-based offset, length), as JSON carries no bytes. Segments without SAR
# fields (all but SAR-concatenated ones) share integration, esm_class and dcs
# with their batch neighbours: parameters again, four fields a row.
_SQL_INSERT_SEGMENTS = (
    "INSERT INTO segments (message_id, idx, short_message, esm_class, dcs, sar_ref, sar_total, "
    "sar_seq, integration_id, state, attempts, updated) "
    "SELECT value ->> 0, value ->> 1, substr(?2, value ->> 2, value ->> 3), ?4, ?5, NULL, NULL, "
    "NULL, ?6, 'queued', 0, ?3 FROM json_each(?1)"
)
_SQL_INSERT_SAR_SEGMENTS = (
    "INSERT INTO segments (message_id, idx, short_message, esm_class, dcs, sar_ref, sar_total, "
    "sar_seq, integration_id, state, attempts, updated) "
    "SELECT value ->> 0, value ->> 1, substr(?2, value ->> 2, value ->> 3), value ->> 4, "
    "value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9, 'queued', 0, ?3 "
    "FROM json_each(?1)"
)
_ACCEPT_STATES_ALLOWED = frozenset({"active", "inactive"})


def accept_messages(store: SqliteStore, conn: sqlite3.Connection, prepared: Sequence[Any],
                    check_opt_out: bool) -> list[Any]:
    """`prepared`: `SqliteStore._prepare_accept` results (or the StoreError it gave)."""
    from byosms.store.base import OptedOut

    msgs: list[Message | None] = [None if isinstance(p, StoreError) else p[0] for p in prepared]
    live = [m for m in msgs if m is not None]
    if not live:
        return list(prepared)
    pairs = _json([(m.source, m.destination) if m is not None else ("", "") for m in msgs]
                  ) if check_opt_out else b"[]"
    keys_json = _json(
        [(m.business_unit, m.idempotency_key)
         if m is not None and m.idempotency_key and "\x00" not in m.idempotency_key
         else ("", None) for m in msgs]
    ) if any(m.idempotency_key is not None for m in live) else b"[]"
    found_states, found_opted, found_keys = conn.execute(_SQL_ACCEPT_CHECKS, (
        _json(sorted({m.integration for m in live})), pairs, keys_json)).fetchone()
    states = dict(_rows_decode(found_states))
    opted = set(_positions_decode(found_opted))
    keyed = set(_positions_decode(found_keys))
    results: list[Any] = [None] * len(prepared)
    # Rows by the fields they share (see _SQL_INSERT_MESSAGES): [rows, texts, next offset].
    mgroups: dict[tuple, list[Any]] = {}
    sgroups: dict[tuple, list[Any]] = {}
    sar_rows: list[tuple] = []
    sar_bodies: list[bytes] = []
    sar_at = 1
    rest: list[int] = []
    keys: set[tuple[str, str]] = set()
    t = 0.0
    for i, p in enumerate(prepared):
        m = msgs[i]
        if m is None:
            results[i] = p
            continue
        if m.idempotency_key is not None:
            key = (m.business_unit, m.idempotency_key)
            seen = i in keyed or key in keys
            keys.add(key)
            if seen:
                # A duplicate (or after an item the per-item op takes): the
                # per-item op, in order, returns the first message.
                rest.append(i)
                continue
        if "\x00" in m.text or (m.client_ref is not None and "\x00" in m.client_ref) or (
                m.idempotency_key is not None and "\x00" in m.idempotency_key):
            rest.append(i)  # see _json
            continue
        state = states.get(m.integration)
        if state is None or state == "deleted":
            results[i] = NotFound(f"no integration {m.integration!r}")
        elif i in opted:
            results[i] = OptedOut(f"{m.destination} opted out of messages from {m.source}")
        else:
            t = m.created
            text = m.text.encode()
            g = mgroups.get(mkey := (m.integration, m.business_unit, m.source, m.encoding, m.dcs,
                                     m.segment_count))
            if g is None:
                g = mgroups[mkey] = [[], [], 1]
            g[0].append((m.id, m.destination, g[2], len(text), m.client_ref, m.idempotency_key))
            g[1].append(text)
            g[2] += len(text)
            for row in p[1]:
                body = row[2]
                if row[5] is not None or row[6] is not None or row[7] is not None:  # SAR
                    sar_rows.append((row[0], row[1], sar_at, len(body), *row[3:9]))
                    sar_bodies.append(body)
                    sar_at += len(body)
                    continue
                g = sgroups.get(skey := (row[8], row[3], row[4]))
                if g is None:
                    g = sgroups[skey] = [[], [], 1]
                g[0].append((row[0], row[1], g[2], len(body)))
                g[1].append(body)
                g[2] += len(body)
            store._remember(m.id, (m.business_unit, m.client_ref, m.segment_count))
            results[i] = Accepted(m, False)
    # accept_messages stamped every message of the batch with one time.
    for (integration, bu, source, encoding, dcs, count), (rows, texts, _) in mgroups.items():
        conn.execute(_SQL_INSERT_MESSAGES, (_json(rows), t, b"".join(texts), integration, bu,
                                            source, encoding, dcs, count))
    for (integration, esm, dcs), (rows, bodies, _) in sgroups.items():
        conn.execute(_SQL_INSERT_SEGMENTS, (_json(rows), b"".join(bodies), t, esm, dcs,
                                            integration))
    if sar_rows:
        conn.execute(_SQL_INSERT_SAR_SEGMENTS, (_json(sar_rows), b"".join(sar_bodies), t))
    for i in rest:
        results[i] = store._accept_op(conn, *prepared[i], check_opt_out)
    return results
