"""The SQLite store: one file, WAL, one writer, batched transactions.

Writes. One trio task (the writer) owns the write connection. Callers `await
store.<write op>(...)`: the op goes on a channel; the writer takes everything
queued (up to MAX_BATCH ops), runs it in ONE transaction in a worker thread,
and wakes every caller with its own result. Each op runs inside its own
SAVEPOINT, so an op that fails is rolled back alone and the others commit. A
write returns only after COMMIT, so what a caller acknowledges is on disk.

Durability: synchronous=FULL by default. Under WAL, NORMAL already survives a
process crash (a committed transaction is in the WAL file, in the OS page
cache), but not a power loss or kernel crash: the last transactions before the
WAL is fsynced can vanish, and we would have answered `accepted` for them. FULL
fsyncs the WAL at every commit; batching amortises that fsync over every op of
the batch, which is what makes FULL affordable. `synchronous="NORMAL"` is
available for deployments that accept that window.

Reads use a separate read-only connection (WAL lets it read while the writer
writes), also off the trio thread. A read started after a write returned sees
that write. Every read is one autocommit statement fetched whole: no read
holds a WAL snapshot beyond its statement, which is what lets the writer
start the WAL over (`SqliteStore._bound_wal`; the WAL stays under
`wal_limit_mb`).

Cancellation. The worker thread is never abandoned: a cancelled writer waits
for its transaction to finish (commit or rollback) and still hands results to
the callers, so shutdown leaves nothing half-written. A caller cancelled while
its op is queued does not unqueue it: the op may still commit (the caller just
never hears); callers that need to know use idempotency keys.

Restart. Segments found `in_flight` at open (claimed, submit_sm sent or about
to be, answer not recorded) go back to `queued` and are sent again: the SMSC
may have received them, so a crash can duplicate at most the segments that
were in flight — at-least-once, never lost. Their count is
`store.recovered_in_flight`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import queue
import re
import secrets
import sqlite3
import threading
import time
import typing
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import trio

from byosms._core import status_frame
from byosms.advanced_config import GenericErrorCode
from byosms.message_states import ONE_SEGMENT, message_state_of
from byosms.schemas.records import (
    Accepted,
    ApiKey,
    Event,
    Integration,
    IntegrationState,
    Keywords,
    Message,
    NewEvent,
    Number,
    Receipt,
    ReceiptResult,
    Segment,
    STATUS_OPTIONAL,
    StatusPayload,
    SubmitError,
    SubmitOutcome,
    id_maker,
    new_id,
    now,
)
from byosms.secret import Secret
from byosms.store import migrations, sqlite_sets
from byosms.store.base import (
    Conflict,
    InvalidRecord,
    NotFound,
    OptedOut,
    StoreClosed,
    StoreError,
)
from byosms.store.crypto import SecretBox, load_key

#: Ops committed in one transaction at most. Bounds the latency one batch adds
#: to the ops behind it, and the memory of one batch.
MAX_BATCH = 1024
#: Ops queued for the writer before callers wait (backpressure).
QUEUE_BOUND = 8192
#: A provider's registry name as the store accepts it (the lifecycle checks
#: that the registry knows it; the store only keeps names sane).
_PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_INTEGRATION_STATES = typing.get_args(IntegrationState)
#: Entries of the writer's message-facts cache before it starts over (~100 B each).
MSG_INFO_CACHE = 200_000
#: How long a connection waits for a lock held by another process (ms).
BUSY_TIMEOUT_MS = 5000
#: How often the checkpointer copies the WAL into the database (s). The
#: writer never runs SQLite's automatic checkpoint: it ran inside the commit
#: that crossed 1,000 WAL pages, 7-13 ms on the busiest thread of the
#: gateway, every ~40 transactions under load.
CHECKPOINT_EVERY = 0.25
#: The WAL's bound (`[store] wal_limit_mb`), in MB, by default. See
#: `SqliteStore._bound_wal`: past a quarter of it the writer starts the WAL
#: over between two transactions; past half of it the writer waits for that.
WAL_LIMIT_MB = 64
#: How long the writer's opportunistic WAL restart (past a quarter of the
#: bound) waits for a reader still on an old snapshot (ms), and how long it
#: lets pass (s) before it tries again when one was.
WAL_RESTART_WAIT_MS = 10
WAL_RESTART_RETRY = 0.05
#: How long a forced restart (past half the bound) waits for the checkpointer
#: and the readers (ms): ours take milliseconds. If that was not enough (a
#: reader outside this store holds a snapshot), the writer goes on without
#: forcing for WAL_FORCE_BACKOFF (s): a gateway slowed by a few %, not stopped.
WAL_FORCE_WAIT_MS = 500
WAL_FORCE_BACKOFF = 10.0
#: Mode of the files the store creates (database, WAL, shared memory).
FILE_MODE = 0o600
#: What a segment without a final receipt by its integration's receipt
#: timeout becomes (`expire_receipts`): failed, generic code 9 (unknown).
RECEIPT_TIMEOUT_CODE = int(GenericErrorCode.UNKNOWN)
RECEIPT_TIMEOUT_CAUSE = "RECEIPT_TIMEOUT"
#: API tokens: prefix (recognisable in a leaked-secret scan) + 32 random bytes.
TOKEN_PREFIX = "byo_"
TOKEN_BYTES = 32

log = logging.getLogger(__name__)

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode
_keywords_decode = msgspec.json.Decoder(Keywords).decode


_MSG_COLS = (
    "id, direction, integration_id, business_unit, source, destination, text, encoding, "
    "dcs, segment_count, state, generic_code, generic_cause, client_ref, idempotency_key, "
    "created, updated"
)
_SEG_COLS = (
    "id, message_id, idx, short_message, esm_class, dcs, sar_ref, sar_total, sar_seq, "
    "integration_id, state, attempts, vendor_message_id, generic_code, generic_cause, "
    "vendor_code, updated"
)
_SEG_COLS_S = ", ".join("s." + c.strip() for c in _SEG_COLS.split(","))
_INT_COLS = "id, business_unit, provider, name, config, state, created, updated"
_NUM_COLS = (
    "number, type, integration_id, business_unit, display_name, keywords, enabled, "
    "created, updated"
)
_KEY_COLS = "id, business_unit, name, hash, created, revoked"

_SQL_INSERT_MESSAGE = f"INSERT INTO messages ({_MSG_COLS}) VALUES ({', '.join('?' * 17)})"
_SQL_INSERT_SEGMENT = (
    "INSERT INTO segments (message_id, idx, short_message, esm_class, dcs, sar_ref, "
    "sar_total, sar_seq, integration_id, state, attempts, updated) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?)"
)
_SQL_INSERT_EVENT = "INSERT INTO events (business_unit, type, payload, created) VALUES (?, ?, ?, ?)"


def _message(row: tuple) -> Message:
    return Message(*row)


def _segment(row: tuple) -> Segment:
    return Segment(*row)


def _number(row: tuple) -> Number:
    number, type_, integ, bu, display, keywords, enabled, created, updated = row
    return Number(
        number,
        type_,
        integ,
        bu,
        display,
        None if keywords is None else _keywords_decode(keywords),
        bool(enabled),
        created,
        updated,
    )


# created as its exact decimal: SQLite prints JSON reals with 15 digits only.
_SQL_EVENTS_AFTER = (
    "SELECT json_group_array(json_array(cursor, type, json(printf('%!.17g', created)))), "
    "group_concat(CAST(payload AS TEXT), ',') FROM (SELECT cursor, type, payload, created "
    "FROM events WHERE business_unit = ? AND cursor > ? ORDER BY cursor LIMIT ?)"
)
_event_heads_decode = msgspec.json.Decoder(list[tuple[int, str, float]]).decode
_payloads_decode = msgspec.json.Decoder(list[dict[str, Any]]).decode


def _page_events(business_unit: str, heads: str, payloads: str | bytes) -> list[Event]:
    """The events of one _SQL_EVENTS_AFTER row: one decode for the heads, one
    for the payloads."""
    if isinstance(payloads, str):
        payloads = payloads.encode()
    events = [Event(c, business_unit, t, p, created) for (c, t, created), p in
              zip(_event_heads_decode(heads), _payloads_decode(b"[%b]" % payloads))]
    for e in events:
        if e.type == "status":
            # Stored without its None fields (StatusPayload): whole again here.
            p = e.payload
            for k in STATUS_OPTIONAL:
                if k not in p:
                    p[k] = None
    return events


def _api_key(row: tuple) -> ApiKey:
    return ApiKey(*row)


class _Op:
    __slots__ = ("fn", "args", "result", "error", "ran", "done")

    def __init__(self, fn: Callable[..., Any], args: tuple) -> None:
        self.fn = fn
        self.args = args
        self.result: Any = None
        self.error: BaseException | None = None
        self.ran = False
        self.done = trio.Event()


def _translate(e: BaseException) -> BaseException:
    if isinstance(e, sqlite3.IntegrityError):
        return Conflict(str(e))
    if isinstance(e, sqlite3.Error):
        return StoreError(f"{type(e).__name__}: {e}")
    return e


def _create_private(path: str) -> None:
    """Create the database file, empty and FILE_MODE, before SQLite opens it:
    SQLite would create it 0666 minus the umask, and then its WAL and
    shared-memory files with the database's mode. An existing file is left
    as it is."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def _private_sidecars(path: str) -> None:
    """The WAL and shared-memory files to FILE_MODE, whatever made them."""
    for suffix in ("-wal", "-shm"):
        try:
            if os.stat(path + suffix).st_mode & 0o777 != FILE_MODE:
                os.chmod(path + suffix, FILE_MODE)
        except FileNotFoundError:
            pass
        except OSError as e:
            log.warning("cannot make %s%s private (mode %o): %s", path, suffix, FILE_MODE, e)


def _connect(path: str, *, read_only: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=512
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
    conn.execute("PRAGMA foreign_keys = ON")
    if read_only:
        conn.execute("PRAGMA query_only = ON")
    return conn


class SqliteStore:
    """Use `open_sqlite_store()`; the constructor is not public."""

    def __init__(self, path: str, box: SecretBox, wconn: sqlite3.Connection,
                 rconn: sqlite3.Connection, max_batch: int,
                 wal_limit: int = WAL_LIMIT_MB * 1024 * 1024) -> None:
        self.path = path
        #: The WAL's bound in bytes, and the sizes at which the writer starts
        #: it over (see _bound_wal).
        self.wal_limit = wal_limit
        self._wal_path = path + "-wal"
        self._wal_restart_at = wal_limit // 4
        self._wal_force_at = wal_limit // 2
        #: Held by whoever checkpoints: the checkpointer's passive rounds and
        #: the writer's restarts (SQLite answers BUSY to a second one).
        self._ckpt_lock = threading.Lock()
        #: time.monotonic() before which the writer does not try a restart
        #: again after one found a reader in the way (WAL_RESTART_RETRY), or
        #: does not force one (WAL_FORCE_BACKOFF).
        self._wal_retry_after = 0.0
        self._wal_force_after = 0.0
        #: Counters: WAL restarts done by the writer, and attempts that found
        #: a reader (or the checkpointer) in the way.
        self.wal_restarts = 0
        self.wal_restarts_busy = 0
        #: Seconds the writer spent restarting the WAL (in all), and the longest.
        self.wal_restart_seconds = 0.0
        self.wal_restart_max = 0.0
        self._box = box
        self._w = wconn
        self._r = rconn
        #: The checkpointer's connection (see _checkpointer).
        self._c: sqlite3.Connection | None = None
        self._max_batch = max_batch
        #: Ops for the writer thread, and how many wait there (backpressure).
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._queued = 0
        self._room = trio.Event()
        #: Set (by the event loop) to make the writer thread stop before its
        #: next transaction.
        self._stopping = False
        self._rlimiter = trio.CapacityLimiter(1)
        self._closed = False
        #: The immutable facts the roll-up needs about messages not yet final
        #: (business unit, client ref, segment count), so a receipt or submit
        #: doesn't read its message row. Written only by the writer thread.
        self._msg_info: dict[str, tuple[str, str | None, int]] = {}
        #: Set while the writer re-runs a batch that failed, one savepoint per op.
        self._careful = False
        self.recovered_in_flight = 0
        self.schema_version_found = 0
        #: Counters for benches and health: transactions and ops committed.
        self.batches = 0
        self.ops = 0
        #: Transactions re-run item by item after an op raised (see _run_batch).
        self.careful_batches = 0

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    # --- lifecycle ------------------------------------------------------------------

    @classmethod
    def _open(cls, path: str, box: SecretBox, synchronous: str, max_batch: int,
              wal_limit: int = WAL_LIMIT_MB * 1024 * 1024) -> SqliteStore:
        _create_private(path)
        w = _connect(path, read_only=False)
        r = c = None
        try:
            mode = w.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"cannot put {path} in WAL mode (got {mode})")
            w.execute(f"PRAGMA synchronous = {synchronous}")
            w.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpointer's job
            # A WAL started over keeps its file (rewriting is cheaper than
            # growing); the first commit after a restart cuts it to this.
            w.execute(f"PRAGMA journal_size_limit = {wal_limit // 8:d}")
            found = migrations.migrate(w)
            row = w.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
            if row is None:
                w.execute("INSERT INTO meta VALUES ('key_check', ?)", (box.key_check(),))
            else:
                box.verify_key_check(row[0])
            recovered = w.execute(
                "UPDATE segments SET state = 'queued', updated = ? WHERE state = 'in_flight'",
                (now(),),
            ).rowcount
            r = _connect(path, read_only=True)
            c = _connect(path, read_only=False)
            c.execute(f"PRAGMA synchronous = {synchronous}")
        except BaseException:
            for conn in (c, r, w):
                if conn is not None:
                    conn.close()
            raise
        _private_sidecars(path)
        store = cls(path, box, w, r, max_batch, wal_limit)
        store._c = c
        store.recovered_in_flight = recovered
        store.schema_version_found = found
        return store

    def _close_connections(self) -> None:
        self._r.close()
        if self._c is not None:
            self._c.close()
        self._w.close()

    async def _checkpointer(self) -> None:
        """Copy committed WAL frames into the database file, off the writer
        thread: a PASSIVE checkpoint neither waits for nor blocks the writer.
        It does the copying; starting the WAL over is the writer's, between
        two transactions (`_bound_wal`): under continuous writes the WAL is
        never wholly copied at the moment a transaction begins, which is
        the only moment SQLite starts it over by itself."""
        limiter = trio.CapacityLimiter(1)
        conn = self._c
        assert conn is not None

        def passive() -> None:
            with self._ckpt_lock:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

        while True:
            await trio.sleep(CHECKPOINT_EVERY)
            try:
                await trio.to_thread.run_sync(passive, limiter=limiter)
            except sqlite3.Error as e:  # busy or I/O: the next round tries again
                log.warning("WAL checkpoint failed: %s", e)

    def _bound_wal(self) -> None:
        """In the writer thread, between two transactions: keep the WAL under
        `wal_limit`.

        The WAL file only grows (SQLite rewrites it from the start once it
        has been started over; `journal_size_limit` cuts it back at the
        first commit after that), so its size is a cheap gauge (one stat).
        Past a quarter of the bound the writer runs a RESTART checkpoint on
        its own connection: no other writer can be appending meanwhile (the
        writer is the only one), the checkpointer has already copied most
        frames, and what is left is to copy the last ones and wait for the
        readers still on an old snapshot (reads are one short statement
        each) to finish — at most WAL_RESTART_WAIT_MS, else it tries again
        after the next transaction (WAL_RESTART_RETRY later if a reader was in
        the way). Past half the bound it waits for the checkpointer's round
        and for the readers (up to WAL_FORCE_WAIT_MS): writes pause rather
        than the WAL growing. Only a reader outside this store holding a
        snapshot for longer can keep it from restarting; then the writer logs
        it and does not force again for WAL_FORCE_BACKOFF."""
        try:
            size = os.stat(self._wal_path).st_size
        except OSError:
            return
        if size < self._wal_restart_at:
            return
        t = time.monotonic()
        force = size >= self._wal_force_at and t >= self._wal_force_after
        if force:
            if not self._ckpt_lock.acquire(timeout=WAL_FORCE_WAIT_MS / 1000):
                return
        elif t < self._wal_retry_after:
            return
        elif not self._ckpt_lock.acquire(blocking=False):
            return  # the checkpointer is copying: after the next transaction
        conn = self._w
        t0 = time.perf_counter()
        try:
            wait = WAL_FORCE_WAIT_MS if force else WAL_RESTART_WAIT_MS
            conn.execute(f"PRAGMA busy_timeout = {wait:d}")
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        except sqlite3.Error as e:
            log.warning("WAL restart failed: %s", e)
            busy = 1
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            self._ckpt_lock.release()
            took = time.perf_counter() - t0
            self.wal_restart_seconds += took
            self.wal_restart_max = max(self.wal_restart_max, took)
        if not busy:
            self.wal_restarts += 1
            return
        self.wal_restarts_busy += 1
        self._wal_retry_after = time.monotonic() + WAL_RESTART_RETRY
        if force:
            self._wal_force_after = time.monotonic() + WAL_FORCE_BACKOFF
            log.warning("the WAL (%d MB, bound %d MB) could not start over: a reader "
                        "outside the store has held a snapshot for over %d ms",
                        size >> 20, self.wal_limit >> 20, WAL_FORCE_WAIT_MS)

    async def _writer(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                      ) -> None:
        """Run the writer thread until cancelled; then let it finish its
        transaction and fail what is still queued with StoreClosed.

        The thread is the store's own, not a trio worker per batch: it starts
        the next transaction the moment one commits, with whatever queued
        meanwhile, instead of waiting for the event loop to come round and
        hand it the next batch (a few ms per transaction under load, with
        the writer the pipeline's busiest stage)."""
        token = trio.lowlevel.current_trio_token()
        exited = trio.Event()
        thread = threading.Thread(target=self._writer_thread, args=(token, exited),
                                  name="byosms-store-writer", daemon=True)
        thread.start()
        task_status.started()
        try:
            # Returns early only if the thread died of an unexpected error:
            # then the store closes (writes fail with StoreClosed), no hang.
            await exited.wait()
        finally:
            # No checkpoint between setting _closed and the wake-up: later
            # writes fail at once, earlier ones are in the queue.
            self._closed = True
            self._stopping = True
            self._queue.put(None)
            with trio.CancelScope(shield=True):
                await exited.wait()
            while True:
                try:
                    op = self._queue.get_nowait()
                except queue.Empty:
                    break
                if op is not None:
                    op.error = StoreClosed("the store closed before this write ran")
                    op.done.set()
            self._queued = 0
            self._room.set()

    def _writer_thread(self, token: trio.lowlevel.TrioToken, exited: trio.Event) -> None:
        get, get_nowait = self._queue.get, self._queue.get_nowait
        max_batch = self._max_batch
        try:
            while not self._stopping:
                op = get()
                if op is None:
                    break
                if self._stopping:  # it fails as not run, with StoreClosed
                    token.run_sync_soon(self._finished, [op])
                    break
                batch = [op]
                while len(batch) < max_batch:
                    try:
                        op = get_nowait()
                    except queue.Empty:
                        break
                    if op is None:
                        self._stopping = True
                        break
                    batch.append(op)
                try:
                    self._run_batch(batch)
                finally:
                    token.run_sync_soon(self._finished, batch)
                self._bound_wal()  # after the callers are answered
        finally:
            token.run_sync_soon(exited.set)

    def _finished(self, batch: list[_Op]) -> None:
        """In the event loop: wake the callers of a batch."""
        for op in batch:
            if not op.ran:
                op.error = StoreClosed("the store closed before this write ran")
            op.done.set()
        self._queued -= len(batch)
        if self._queued < QUEUE_BOUND:
            self._room.set()

    def _run_batch(self, batch: list[_Op]) -> None:
        """In the worker thread: the whole batch in one transaction.

        Optimistic first: no savepoints (each costs two statements per op, a
        third of the work of a small op). If any op raises, the transaction is
        rolled back and the batch runs again carefully, one savepoint per op
        (and per item of batch ops), so only the failing ops fail. Op functions
        are re-runnable: they compute everything from their arguments and the
        database."""
        conn = self._w
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                op.result = op.fn(conn, *op.args)
        except Exception:  # noqa: BLE001 - retried carefully below
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._msg_info.clear()  # it may hold facts of rolled-back messages
            self._run_batch_carefully(batch)
            return
        if not self._commit(conn, batch):
            return
        for op in batch:
            op.ran = True
        self.batches += 1
        self.ops += len(batch)

    def _commit(self, conn: sqlite3.Connection, ops: list[Any]) -> bool:
        """COMMIT; on failure roll back and fail every op of the transaction."""
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._msg_info.clear()
            for op in ops:
                op.result = None
                op.error = StoreError(f"commit failed: {e}")
                op.ran = True
            return False
        return True

    def _run_batch_carefully(self, batch: list[_Op]) -> None:
        conn = self._w
        self._careful = True
        self.careful_batches += 1
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                for op in batch:
                    op.result = None
                    op.error = _translate(e)
                    op.ran = True
                return
            done: list[_Op] = []
            for op in batch:
                op.result = None
                op.error = None
                conn.execute("SAVEPOINT op")
                try:
                    op.result = op.fn(conn, *op.args)
                except Exception as e:  # noqa: BLE001 - the op's error goes to its caller
                    op.result = None
                    op.error = _translate(e)
                    op.ran = True
                    if conn.in_transaction:
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                    else:
                        # SQLite rolled the whole transaction back (e.g. disk
                        # full): the ops before this one are gone too. Fail
                        # them and go on in a new transaction.
                        for prev in done:
                            prev.result = None
                            prev.error = StoreError(f"transaction rolled back: {e}")
                        done.clear()
                        conn.execute("BEGIN IMMEDIATE")
                    continue
                conn.execute("RELEASE op")
                op.ran = True
                done.append(op)
            if not self._commit(conn, done):
                return
            self.batches += 1
            self.ops += len(batch)
        finally:
            self._careful = False

    async def _write(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._closed:
            raise StoreClosed("the store is closed")
        await trio.lowlevel.checkpoint_if_cancelled()
        while self._queued >= QUEUE_BOUND:
            if self._room.is_set():  # one event for all who wait
                self._room = trio.Event()
            await self._room.wait()
            if self._closed:
                raise StoreClosed("the store is closed")
        op = _Op(fn, args)
        self._queued += 1
        self._queue.put(op)
        await op.done.wait()
        if op.error is not None:
            raise op.error
        return op.result

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._closed:
            raise StoreClosed("the store is closed")
        try:
            return await trio.to_thread.run_sync(fn, self._r, *args, limiter=self._rlimiter)
        except sqlite3.Error as e:
            raise _translate(e) from e

    # --- integrations ---------------------------------------------------------------

    def _seal_secrets(self, integration_id: str, config: dict[str, Any]
                      ) -> tuple[bytes, list[tuple[str, str, bytes]]]:
        plain: dict[str, Any] = {}
        sealed: list[tuple[str, str, bytes]] = []
        for k, v in config.items():
            if isinstance(v, Secret):
                sealed.append(
                    (integration_id, k, self._box.seal(v, integration_id=integration_id, field=k))
                )
            else:
                plain[k] = v
        try:
            # No enc_hook: a Secret nested deeper than the top level fails loudly
            # here instead of being written (masked or not) into the config.
            blob = _json_encode(plain)
        except TypeError as e:
            raise InvalidRecord(f"integration config is not storable: {e}") from None
        return blob, sealed

    @staticmethod
    def _load_integration(conn: sqlite3.Connection, id: str) -> Integration | None:
        row = conn.execute(f"SELECT {_INT_COLS} FROM integrations WHERE id = ?", (id,)).fetchone()
        if row is None:
            return None
        fields = tuple(
            r[0]
            for r in conn.execute(
                "SELECT field FROM integration_secrets WHERE integration_id = ? ORDER BY field",
                (id,),
            )
        )
        iid, bu, provider, name, config, state, created, updated = row
        return Integration(iid, bu, provider, name, _json_decode(config), state, fields,
                           created, updated)

    async def create_integration(
        self,
        business_unit: str,
        provider: str,
        name: str,
        config: dict[str, Any],
        *,
        state: IntegrationState = "inactive",
        id: str | None = None,
    ) -> Integration:
        if not isinstance(provider, str) or not _PROVIDER_NAME.fullmatch(provider):
            raise InvalidRecord(f"provider must be a provider name (lower-case letters, digits, "
                                f"'_', '.', '-'), got {provider!r}")
        if state not in ("active", "inactive"):
            raise InvalidRecord(f"a new integration is active or inactive, not {state!r}")
        iid = id or new_id("int_")
        blob, sealed = self._seal_secrets(iid, config)
        t = now()

        def op(conn: sqlite3.Connection) -> Integration:
            conn.execute(
                f"INSERT INTO integrations ({_INT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (iid, business_unit, provider, name, blob, state, t, t),
            )
            conn.executemany("INSERT INTO integration_secrets VALUES (?, ?, ?)", sealed)
            return self._load_integration(conn, iid)  # type: ignore[return-value]

        return await self._write(op)

    async def update_integration(
        self, id: str, *, name: str | None = None, config: dict[str, Any] | None = None
    ) -> Integration:
        blob, sealed = self._seal_secrets(id, config) if config is not None else (None, [])
        t = now()

        def op(conn: sqlite3.Connection) -> Integration:
            cur = self._load_integration(conn, id)
            if cur is None:
                raise NotFound(f"no integration {id!r}")
            if cur.state == "deleted":
                raise Conflict(f"integration {id!r} is deleted")
            conn.execute(
                "UPDATE integrations SET name = coalesce(?, name), config = coalesce(?, config), "
                "updated = ? WHERE id = ?",
                (name, blob, t, id),
            )
            conn.executemany("INSERT OR REPLACE INTO integration_secrets VALUES (?, ?, ?)", sealed)
            return self._load_integration(conn, id)  # type: ignore[return-value]

        return await self._write(op)

    async def set_integration_state(self, id: str, state: IntegrationState) -> Integration:
        if state not in _INTEGRATION_STATES:
            raise InvalidRecord(
                f"state must be one of {', '.join(_INTEGRATION_STATES)}, got {state!r}"
            )
        t = now()

        def op(conn: sqlite3.Connection) -> Integration:
            cur = self._load_integration(conn, id)
            if cur is None:
                raise NotFound(f"no integration {id!r}")
            if cur.state == "deleted":
                raise Conflict(f"integration {id!r} is deleted")
            conn.execute(
                "UPDATE integrations SET state = ?, updated = ? WHERE id = ?", (state, t, id)
            )
            if state == "deleted":
                # S12: its numbers leave the inventory, it can't send any more, and
                # nothing needs its credentials again.
                conn.execute("DELETE FROM numbers WHERE integration_id = ?", (id,))
                conn.execute("DELETE FROM integration_secrets WHERE integration_id = ?", (id,))
                stranded = conn.execute(
                    f"UPDATE segments SET state = 'failed', generic_cause = 'integration_deleted',"
                    f" updated = ? WHERE integration_id = ? AND state IN ('queued', 'in_flight')"
                    f" RETURNING {_SEG_COLS}",
                    (t, id),
                ).fetchall()
                for row in stranded:
                    seg = _segment(row)
                    self._after_segment_change(conn, seg, t)
            return self._load_integration(conn, id)  # type: ignore[return-value]

        return await self._write(op)

    async def get_integration(self, id: str) -> Integration | None:
        return await self._read(self._load_integration, id)

    async def list_integrations(
        self, business_unit: str | None = None, *, include_deleted: bool = False
    ) -> list[Integration]:
        def q(conn: sqlite3.Connection) -> list[Integration]:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM integrations WHERE (?1 IS NULL OR business_unit = ?1) "
                    "AND (?2 OR state != 'deleted') ORDER BY created, id",
                    (business_unit, include_deleted),
                )
            ]
            return [self._load_integration(conn, i) for i in ids]  # type: ignore[misc]

        return await self._read(q)

    async def reveal_secrets(self, id: str) -> dict[str, Secret]:
        """The integration's secrets, decrypted. The only read path to them."""
        rows = await self._read(
            lambda c: c.execute(
                "SELECT field, ciphertext FROM integration_secrets WHERE integration_id = ?",
                (id,),
            ).fetchall()
        )
        return {f: self._box.open(ct, integration_id=id, field=f) for f, ct in rows}

    # --- numbers --------------------------------------------------------------------

    @staticmethod
    def _number_row(n: Number, t: float, created: float | None = None) -> tuple:
        return (
            n.number, n.type, n.integration, n.business_unit, n.display_name,
            None if n.keywords is None else _json_encode(n.keywords),
            int(n.enabled), created if created is not None else t, t,
        )

    @staticmethod
    def _check_number(n: Number) -> None:
        if not n.number:
            raise InvalidRecord("missing sender ID")  # N5
        if n.type == "short_code" and n.keywords is None:
            raise InvalidRecord(
                "a short code needs its help, opt-out and opt-in keywords and replies (N4)"
            )

    async def add_number(self, number: Number) -> Number:
        self._check_number(number)
        t = now()
        row = self._number_row(number, t)

        def op(conn: sqlite3.Connection) -> Number:
            st = conn.execute(
                "SELECT state FROM integrations WHERE id = ?", (number.integration,)
            ).fetchone()
            if st is None or st[0] == "deleted":
                raise NotFound(f"no integration {number.integration!r}")
            if conn.execute("SELECT 1 FROM numbers WHERE number = ?", (number.number,)).fetchone():
                raise Conflict(f"number {number.number!r} is already in the inventory")
            conn.execute(f"INSERT INTO numbers ({_NUM_COLS}) VALUES (?,?,?,?,?,?,?,?,?)", row)
            return _number(row)

        return await self._write(op)

    async def update_number(self, number: Number) -> Number:
        self._check_number(number)
        t = now()

        def op(conn: sqlite3.Connection) -> Number:
            cur = conn.execute(
                "SELECT created FROM numbers WHERE number = ?", (number.number,)
            ).fetchone()
            if cur is None:
                raise NotFound(f"no number {number.number!r}")
            st = conn.execute(
                "SELECT state FROM integrations WHERE id = ?", (number.integration,)
            ).fetchone()
            if st is None or st[0] == "deleted":
                raise NotFound(f"no integration {number.integration!r}")
            row = self._number_row(number, t, cur[0])
            conn.execute(
                "UPDATE numbers SET type = ?, integration_id = ?, business_unit = ?, "
                "display_name = ?, keywords = ?, enabled = ?, updated = ? WHERE number = ?",
                (*row[1:7], t, number.number),
            )
            return _number(row)

        return await self._write(op)

    async def remove_number(self, number: str) -> bool:
        return await self._write(
            lambda c: c.execute("DELETE FROM numbers WHERE number = ?", (number,)).rowcount > 0
        )

    async def get_number(self, number: str) -> Number | None:
        row = await self._read(
            lambda c: c.execute(
                f"SELECT {_NUM_COLS} FROM numbers WHERE number = ?", (number,)
            ).fetchone()
        )
        return None if row is None else _number(row)

    async def list_numbers(
        self, *, business_unit: str | None = None, integration: str | None = None
    ) -> list[Number]:
        rows = await self._read(
            lambda c: c.execute(
                f"SELECT {_NUM_COLS} FROM numbers WHERE (?1 IS NULL OR business_unit = ?1) "
                f"AND (?2 IS NULL OR integration_id = ?2) ORDER BY number",
                (business_unit, integration),
            ).fetchall()
        )
        return [_number(r) for r in rows]

    # --- messages -------------------------------------------------------------------

    def _prepare_accept(
        self, message: Message, segments: Sequence[Segment], idempotency_key: str | None,
        t: float | None = None, make_id: Callable[[], str] | None = None,
    ) -> tuple[Message, list[tuple]]:
        if message.direction != "mt":
            raise InvalidRecord("accept_message takes outbound (mt) messages")
        if message.segment_count != len(segments) or not segments:
            raise InvalidRecord(
                f"segment_count is {message.segment_count} but {len(segments)} segments given"
            )
        t = now() if t is None else t
        msg = msgspec.structs.replace(
            message,
            id=message.id or (make_id() if make_id is not None else new_id("msg_")),
            state="queued",
            idempotency_key=idempotency_key,
            created=t,
            updated=t,
        )
        srows = [
            (msg.id, s.index, s.short_message, s.esm_class, s.dcs, s.sar_ref, s.sar_total,
             s.sar_seq, msg.integration, t)
            for s in segments
        ]
        return msg, srows

    def _remember(self, message_id: str, info: tuple[str, str | None, int]) -> None:
        if len(self._msg_info) >= MSG_INFO_CACHE:
            self._msg_info.clear()
        self._msg_info[message_id] = info

    def _accept_op(self, conn: sqlite3.Connection, msg: Message, srows: list[tuple],
                   check_opt_out: bool) -> Accepted:
        # One statement for the three checks: it runs for every message.
        state, opted_out, first = conn.execute(
            "SELECT (SELECT state FROM integrations WHERE id = ?), "
            "EXISTS (SELECT 1 FROM opt_outs WHERE sender = ? AND recipient = ?), "
            "(SELECT id FROM messages WHERE business_unit = ? AND idempotency_key = ?)",
            (msg.integration, msg.source if check_opt_out else None, msg.destination,
             msg.business_unit, msg.idempotency_key),
        ).fetchone()
        if first is not None:
            row = conn.execute(f"SELECT {_MSG_COLS} FROM messages WHERE id = ?",
                               (first,)).fetchone()
            return Accepted(_message(row), True)
        if state is None or state == "deleted":
            raise NotFound(f"no integration {msg.integration!r}")
        if opted_out:
            raise OptedOut(f"{msg.destination} opted out of messages from {msg.source}")
        conn.execute(_SQL_INSERT_MESSAGE, (
            msg.id, "mt", msg.integration, msg.business_unit, msg.source, msg.destination,
            msg.text, msg.encoding, msg.dcs, msg.segment_count, "queued", None, None,
            msg.client_ref, msg.idempotency_key, msg.created, msg.updated,
        ))
        conn.executemany(_SQL_INSERT_SEGMENT, srows)
        self._remember(msg.id, (msg.business_unit, msg.client_ref, msg.segment_count))
        return Accepted(msg, False)

    async def accept_message(
        self,
        message: Message,
        segments: Sequence[Segment],
        idempotency_key: str | None = None,
        *,
        check_opt_out: bool = True,
    ) -> Accepted:
        """Store an outbound message and its queued segments, atomically.

        With an idempotency key already used in this business unit, nothing is
        written and the first message comes back with `duplicate=True`. With
        `check_opt_out`, a recipient opted out from the sender raises OptedOut
        (the check and the insert are one transaction). A deleted or unknown
        integration raises NotFound; an inactive one queues (S12)."""
        msg, srows = self._prepare_accept(message, segments, idempotency_key)
        return await self._write(self._accept_op, msg, srows, check_opt_out)

    async def accept_messages(
        self,
        items: Sequence[tuple[Message, Sequence[Segment], str | None]],
        *,
        check_opt_out: bool = True,
    ) -> list[Accepted | StoreError]:
        prepared: list[Any] = []
        t = now()  # one time for the batch: the set-based insert writes it once
        make_id = id_maker("msg_", t)
        for m, segs, key in items:
            try:
                prepared.append(self._prepare_accept(m, segs, key, t, make_id))
            except StoreError as e:
                prepared.append(e)

        def op(conn: sqlite3.Connection) -> list[Accepted | StoreError]:
            if not self._careful:
                return sqlite_sets.accept_messages(self, conn, prepared, check_opt_out)
            return [
                p if isinstance(p, StoreError)
                else _in_savepoint(self, conn, self._accept_op, conn, *p, check_opt_out)
                for p in prepared
            ]

        return await self._write(op)

    async def get_message(self, id: str) -> Message | None:
        row = await self._read(
            lambda c: c.execute(f"SELECT {_MSG_COLS} FROM messages WHERE id = ?", (id,)).fetchone()
        )
        return None if row is None else _message(row)

    async def get_segments(self, message_id: str) -> list[Segment]:
        rows = await self._read(
            lambda c: c.execute(
                f"SELECT {_SEG_COLS} FROM segments WHERE message_id = ? ORDER BY idx",
                (message_id,),
            ).fetchall()
        )
        return [_segment(r) for r in rows]

    async def claim_segments(self, integration: str, limit: int) -> list[Segment]:
        """Take up to `limit` of the oldest queued segments of an active
        integration and mark them in_flight (attempts + 1). An inactive
        integration's queue stays put (S12)."""
        if limit < 1:
            return []

        def op(conn: sqlite3.Connection) -> list[Segment]:
            return sqlite_sets.claim_segments(conn, integration, limit)

        return await self._write(op)

    # --- submit results, receipts, roll-up ------------------------------------------

    def _after_segment_change(self, conn: sqlite3.Connection, seg: Segment, t: float
                              ) -> tuple[str, int]:
        """Roll the message state up from its segments (S13, the rule is
        byosms.message_states') and append the segment's `status` event.
        Returns (message state, event cursor). A failed message stays failed;
        it takes the generic code/cause of the segment that made it final."""
        info = self._msg_info.get(seg.message_id)
        if info is None:
            info = conn.execute(
                "SELECT business_unit, client_ref, segment_count FROM messages WHERE id = ?",
                (seg.message_id,),
            ).fetchone()
            self._remember(seg.message_id, info)
        bu, client_ref, count = info
        if count == 1:
            new = ONE_SEGMENT.get(seg.state, "queued")
        else:
            new = message_state_of(dict(
                conn.execute(
                    "SELECT state, count(*) FROM segments WHERE message_id = ? GROUP BY state",
                    (seg.message_id,),
                ).fetchall()
            ), count)
        final = new in ("delivered", "failed")
        # A failed message stays failed; the update says whether the state moved.
        changed = conn.execute(
            "UPDATE messages SET state = ?, generic_code = ?, generic_cause = ?, updated = ? "
            "WHERE id = ? AND state != ? AND state != 'failed'",
            (new, seg.generic_code if final else None, seg.generic_cause if final else None,
             t, seg.message_id, new),
        ).rowcount > 0
        if not changed and new != "failed":
            new = conn.execute("SELECT state FROM messages WHERE id = ?",
                               (seg.message_id,)).fetchone()[0]
        if final:
            self._msg_info.pop(seg.message_id, None)
        payload = StatusPayload(seg.message_id, seg.index, count, seg.state, new, changed,
                                client_ref, seg.generic_code, seg.generic_cause,
                                seg.vendor_code, seg.vendor_message_id)
        cursor = conn.execute(_SQL_INSERT_EVENT, (bu, "status", _json_encode(payload), t)).lastrowid
        return new, cursor  # type: ignore[return-value]

    def _submit_op(self, conn: sqlite3.Connection, segment_id: int,
                   vendor_message_id: str | None, error: SubmitError | None) -> Segment:
        t = now()
        if error is None:
            if not vendor_message_id:
                raise InvalidRecord("a successful submit needs the vendor message id")
            row = conn.execute(
                f"UPDATE segments SET state = 'submitted', vendor_message_id = ?, updated = ?, "
                f"submitted_at = ? WHERE id = ? AND state = 'in_flight' RETURNING {_SEG_COLS}",
                (vendor_message_id, t, t, segment_id),
            ).fetchone()
        else:
            row = conn.execute(
                f"UPDATE segments SET state = ?, generic_code = ?, generic_cause = ?, "
                f"vendor_code = ?, updated = ? WHERE id = ? AND state = 'in_flight' "
                f"RETURNING {_SEG_COLS}",
                ("failed" if error.permanent else "queued", error.generic_code,
                 error.generic_cause, error.vendor_code, t, segment_id),
            ).fetchone()
        if row is None:
            raise Conflict(f"segment {segment_id} is not in flight")
        seg = _segment(row)
        if seg.state != "queued":  # a transient error just requeues: nothing to tell
            self._after_segment_change(conn, seg, t)
        return seg

    async def record_submit(
        self,
        segment_id: int,
        vendor_message_id: str | None = None,
        error: SubmitError | None = None,
    ) -> Segment:
        """The answer to a claimed segment's submit_sm: its vendor id (-> submitted,
        message en_route, status event), or an error: permanent -> failed (message
        failed, status event); transient -> back to queued for another attempt."""
        return await self._write(self._submit_op, segment_id, vendor_message_id, error)

    async def record_submits(self, outcomes: Sequence[SubmitOutcome], *, details: bool = True
                             ) -> list[Segment | StoreError]:
        def op(conn: sqlite3.Connection) -> list[Segment | StoreError]:
            if not self._careful:
                return sqlite_sets.record_submits(self, conn, outcomes, details)
            return [
                _in_savepoint(self, conn, self._submit_op, conn, o.segment_id, o.vendor_message_id,
                              o.error)
                for o in outcomes
            ]

        return await self._write(op)

    @staticmethod
    def _find_by_vendor_id(conn: sqlite3.Connection, integration: str, keys: Sequence[str]
                           ) -> Segment | None:
        # The receipt helper lists its keys best first (the id exactly as sent,
        # then normalised forms): the first key that matches wins.
        for key in keys:
            row = conn.execute(
                f"SELECT {_SEG_COLS} FROM segments WHERE integration_id = ? "
                f"AND vendor_message_id = ? ORDER BY id DESC LIMIT 1",
                (integration, key),
            ).fetchone()
            if row is not None:
                return _segment(row)
        return None

    async def find_segment_by_vendor_id(self, integration: str, keys: Sequence[str]
                                        ) -> Segment | None:
        return await self._read(self._find_by_vendor_id, integration, list(keys))

    async def submitted_segments(self, integration: str, limit: int = 100_000
                                 ) -> list[tuple[Segment, int]]:
        """Segments of `integration` the SMSC accepted that have no final
        receipt yet, oldest first, each with its message's segment count. The
        pipeline hands them to the engine at start, so receipts for segments
        submitted before a restart correlate without a wait."""
        rows = await self._read(
            lambda c: c.execute(
                f"SELECT {_SEG_COLS_S}, m.segment_count FROM segments s "
                f"JOIN messages m ON m.id = s.message_id WHERE s.integration_id = ? "
                f"AND s.vendor_message_id IS NOT NULL AND s.state = 'submitted' "
                f"ORDER BY s.id LIMIT ?",
                (integration, limit),
            ).fetchall()
        )
        return [(_segment(r[:-1]), r[-1]) for r in rows]

    def _receipt_op(self, conn: sqlite3.Connection, r: Receipt) -> ReceiptResult:
        t = now()
        # Usual case in one statement: the first key names a segment not yet final.
        if r.segment_id is not None:
            where, params = "id = ?", (r.segment_id,)
        elif r.vendor_ids:
            where = ("id = (SELECT id FROM segments WHERE integration_id = ? "
                     "AND vendor_message_id = ? ORDER BY id DESC LIMIT 1)")
            params = (r.integration, r.vendor_ids[0])
        else:
            return ReceiptResult(None)
        # submitted_at: kept from the submit (the receipt timeout counts from
        # it); set here only for a segment a receipt reached before its submit
        # was recorded (a whole-message receipt, see the gateway's _on_receipt).
        row = conn.execute(
            f"UPDATE segments SET state = ?, generic_code = ?, generic_cause = ?, "
            f"vendor_code = ?, updated = ?, submitted_at = coalesce(submitted_at, ?) "
            f"WHERE {where} AND state NOT IN ('delivered', 'failed') RETURNING {_SEG_COLS}",
            (r.state, r.generic_code, r.generic_cause, r.vendor_code, t, t, *params),
        ).fetchone()
        if row is not None:
            seg = _segment(row)
            state, cursor = self._after_segment_change(conn, seg, t)
            return ReceiptResult(seg, state, cursor)  # type: ignore[arg-type]
        if r.segment_id is not None:
            row = conn.execute(f"SELECT {_SEG_COLS} FROM segments WHERE id = ?",
                               (r.segment_id,)).fetchone()
            seg = None if row is None else _segment(row)
        else:
            seg = self._find_by_vendor_id(conn, r.integration, r.vendor_ids)
        if seg is None:
            return ReceiptResult(None)
        if seg.state in ("delivered", "failed"):
            # A repeated receipt (the SMSC redelivers when our deliver_sm_resp was
            # lost): already recorded, say nothing new.
            state = conn.execute("SELECT state FROM messages WHERE id = ?",
                                 (seg.message_id,)).fetchone()[0]
            return ReceiptResult(seg, state, None)
        row = conn.execute(
            f"UPDATE segments SET state = ?, generic_code = ?, generic_cause = ?, "
            f"vendor_code = ?, updated = ?, submitted_at = coalesce(submitted_at, ?) "
            f"WHERE id = ? RETURNING {_SEG_COLS}",
            (r.state, r.generic_code, r.generic_cause, r.vendor_code, t, t, seg.id),
        ).fetchone()
        seg = _segment(row)
        state, cursor = self._after_segment_change(conn, seg, t)
        return ReceiptResult(seg, state, cursor)  # type: ignore[arg-type]

    async def record_receipt(self, receipt: Receipt) -> ReceiptResult:
        """Update the receipt's segment, roll the message state up, and append the
        `status` event, in one transaction. No match -> ReceiptResult(None)."""
        return await self._write(self._receipt_op, receipt)

    def _receipts_op(self, conn: sqlite3.Connection, receipts: Sequence[Receipt],
                     details: bool) -> list[ReceiptResult | StoreError]:
        """The path every batch of receipts takes: set-based on the writer's
        optimistic pass, item by item (one savepoint each) on the careful one."""
        if not self._careful:
            return sqlite_sets.record_receipts(self, conn, receipts, details)
        return [_in_savepoint(self, conn, self._receipt_op, conn, r) for r in receipts]

    async def record_receipts(self, receipts: Sequence[Receipt], *, details: bool = True
                              ) -> list[ReceiptResult | StoreError]:
        return await self._write(self._receipts_op, receipts, details)

    async def expire_receipts(self, integration: str, submitted_before: float,
                              limit: int = 1000) -> list[Segment]:
        """The receipt timeout: up to `limit` segments of `integration`
        still `submitted` (no final receipt) whose submit was recorded before
        `submitted_before` (wall-clock seconds, as `now()`), oldest submit
        first, become `failed` with generic code 9 (unknown) and cause
        RECEIPT_TIMEOUT, each as a failed receipt would: the same ops, so the
        message rolls up (one overdue segment fails its message) and a
        `status` event is appended per segment. One transaction. Returns the
        segments expired, as recorded; [] when none is overdue. The clock is
        the submit's (`submitted_at`), not `updated`: intermediate receipts
        do not restart it. A receipt arriving later finds the segment final
        and changes nothing, like any repeated receipt."""
        if limit < 1:
            return []

        def op(conn: sqlite3.Connection) -> list[Segment]:
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM segments INDEXED BY segments_submitted "
                "WHERE integration_id = ? AND state = 'submitted' AND submitted_at < ? "
                "ORDER BY submitted_at, id LIMIT ?",
                (integration, submitted_before, limit),
            )]
            if not ids:
                return []
            # Inside the writer's transaction: nothing moves these segments
            # between the read and the receipts.
            results = self._receipts_op(conn, [
                Receipt(integration=integration, segment_id=sid, state="failed",
                        generic_code=RECEIPT_TIMEOUT_CODE, generic_cause=RECEIPT_TIMEOUT_CAUSE)
                for sid in ids], True)
            expired: list[Segment] = []
            for sid, res in zip(ids, results):
                if isinstance(res, ReceiptResult) and res.segment is not None:
                    expired.append(res.segment)
                else:  # careful pass, item rolled back: still submitted, the next call retries
                    log.warning("receipt timeout of segment %s not recorded: %r", sid, res)
            return expired

        return await self._write(op)

    async def record_inbound(self, message: Message, payload: dict[str, Any]) -> Event:
        """An MO message and its `inbound` event (payload + message_id), committed
        together: answer the deliver_sm only after this returns."""
        t = now()
        msg = msgspec.structs.replace(
            message, id=message.id or new_id("msg_"), direction="mo", state="received",
            created=t, updated=t,
        )
        mrow = (
            msg.id, "mo", msg.integration, msg.business_unit, msg.source, msg.destination,
            msg.text, msg.encoding, msg.dcs, msg.segment_count, "received", None, None,
            msg.client_ref, None, t, t,
        )
        full = {**payload, "message_id": msg.id}
        blob = _json_encode(full)

        def op(conn: sqlite3.Connection) -> Event:
            conn.execute(_SQL_INSERT_MESSAGE, mrow)
            cursor = conn.execute(
                _SQL_INSERT_EVENT, (msg.business_unit, "inbound", blob, t)
            ).lastrowid
            return Event(cursor, msg.business_unit, "inbound", full, t)  # type: ignore[arg-type]

        return await self._write(op)

    # --- events ---------------------------------------------------------------------

    async def append_events(self, events: Sequence[NewEvent]) -> list[int]:
        """Append events; returns their cursors, increasing in the given order."""
        if not events:
            return []
        t = now()
        rows = [(e.business_unit, e.type, _json_encode(e.payload), t) for e in events]

        def op(conn: sqlite3.Connection) -> list[int]:
            conn.executemany(_SQL_INSERT_EVENT, rows)
            # One writer, inside one transaction: AUTOINCREMENT gave these rows
            # consecutive cursors ending at last_insert_rowid().
            last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            return list(range(last - len(rows) + 1, last + 1))

        return await self._write(op)

    async def events_after(self, business_unit: str, cursor: int, limit: int) -> list[Event]:
        # One SQLite step for the lot (a step per row is a GIL hand-off per
        # row, with the writer and the event loop waiting on the same GIL):
        # the small columns as one JSON array, the payloads (JSON already)
        # concatenated, each decoded by one call.
        heads, payloads = await self._read(
            lambda c: c.execute(_SQL_EVENTS_AFTER, (business_unit, cursor, limit)).fetchone()
        )
        if payloads is None:
            return []
        return _page_events(business_unit, heads, payloads)

    async def status_frame_after(self, business_unit: str, cursor: int, limit: int
                                 ) -> tuple[str, int] | list[Event]:
        """`events_after`, for the websocket API: a page of plain status events
        comes as its frame text (the API messages `event_messages` makes of
        them, as a JSON array) and its last cursor, made by the Rust core on
        the reader thread with the GIL released; any other page as events."""
        def read(c: sqlite3.Connection) -> Any:
            heads, payloads = c.execute(
                _SQL_EVENTS_AFTER, (business_unit, cursor, limit)).fetchone()
            if payloads is None:
                return None
            if isinstance(payloads, bytes):
                payloads = payloads.decode()
            return heads, payloads, status_frame(heads, payloads)

        page = await self._read(read)
        if page is None:
            return []
        heads, payloads, frame = page
        if frame is not None:
            return frame  # type: ignore[no-any-return]
        return _page_events(business_unit, heads, payloads)

    async def ack(self, consumer: str, cursor: int) -> int:
        """Record that `consumer` has everything up to `cursor`. Acks only move
        forward (a late, smaller ack is ignored); returns the stored cursor."""
        return await self._write(
            lambda c: c.execute(
                "INSERT INTO consumers VALUES (?, ?) ON CONFLICT (consumer) "
                "DO UPDATE SET cursor = max(cursor, excluded.cursor) RETURNING cursor",
                (consumer, cursor),
            ).fetchone()[0]
        )

    async def last_ack(self, consumer: str) -> int:
        row = await self._read(
            lambda c: c.execute(
                "SELECT cursor FROM consumers WHERE consumer = ?", (consumer,)
            ).fetchone()
        )
        return 0 if row is None else row[0]

    # --- compliance -----------------------------------------------------------------

    async def set_opt_out(self, sender: str, recipient: str, opted_out: bool) -> None:
        t = now()
        if opted_out:
            await self._write(
                lambda c: c.execute(
                    "INSERT OR IGNORE INTO opt_outs VALUES (?, ?, ?)", (sender, recipient, t)
                )
            )
        else:
            await self._write(
                lambda c: c.execute(
                    "DELETE FROM opt_outs WHERE sender = ? AND recipient = ?", (sender, recipient)
                )
            )

    async def is_opted_out(self, sender: str, recipient: str) -> bool:
        row = await self._read(
            lambda c: c.execute(
                "SELECT 1 FROM opt_outs WHERE sender = ? AND recipient = ?", (sender, recipient)
            ).fetchone()
        )
        return row is not None

    # --- API keys -------------------------------------------------------------------

    async def create_api_key(self, business_unit: str, name: str) -> tuple[ApiKey, str]:
        """A new key; the plaintext token is returned here once and never stored
        (only its sha256: the token is 256 random bits, so a fast hash is enough —
        there is nothing to brute-force)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        key = ApiKey(new_id("key_"), business_unit, name,
                     hashlib.sha256(token.encode()).digest(), now(), None)
        await self._write(
            lambda c: c.execute(
                f"INSERT INTO api_keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                msgspec.structs.astuple(key),
            )
        )
        return key, token

    async def verify_api_key(self, token: str) -> ApiKey | None:
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 256:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        row = await self._read(
            lambda c: c.execute(
                f"SELECT {_KEY_COLS} FROM api_keys WHERE hash = ?", (digest,)
            ).fetchone()
        )
        if row is None or not hmac.compare_digest(row[3], digest):
            return None
        key = _api_key(row)
        return None if key.revoked is not None else key

    async def revoke_api_key(self, id: str) -> bool:
        t = now()
        return await self._write(
            lambda c: c.execute(
                "UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL", (t, id)
            ).rowcount > 0
        )

    async def list_api_keys(self, business_unit: str) -> list[ApiKey]:
        rows = await self._read(
            lambda c: c.execute(
                f"SELECT {_KEY_COLS} FROM api_keys WHERE business_unit = ? ORDER BY created",
                (business_unit,),
            ).fetchall()
        )
        return [_api_key(r) for r in rows]


def _in_savepoint(store: SqliteStore, conn: sqlite3.Connection, fn: Callable[..., Any],
                  *args: Any) -> Any:
    """One item of a batch op. On the writer's optimistic pass it just runs (an
    error aborts the pass, see `_run_batch`); on the careful pass it gets its
    own savepoint and its error is returned, not raised."""
    if not store._careful:
        return fn(*args)
    conn.execute("SAVEPOINT item")
    try:
        result = fn(*args)
    except (StoreError, sqlite3.Error) as e:
        if not conn.in_transaction:
            raise  # the whole transaction is gone: fail the op, not just the item
        conn.execute("ROLLBACK TO item")
        result = _translate(e)
    conn.execute("RELEASE item")
    return result


@asynccontextmanager
async def open_sqlite_store(
    path: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    key_file: str | os.PathLike[str] | None = None,
    synchronous: str = "FULL",
    max_batch: int = MAX_BATCH,
    wal_limit_mb: int = WAL_LIMIT_MB,
) -> AsyncIterator[SqliteStore]:
    """Open (creating or migrating) the store at `path` and run its writer.

    The secret key is `key` (32 bytes), else read from `key_file`, else from
    $BYOSMS_SECRET_KEY; without one, or with a different key than the database
    was created with, this raises SecretKeyError before anything is served.
    A new database file is created mode 0600, and so are its WAL and
    shared-memory files. The WAL stays under `wal_limit_mb` MB (see
    `SqliteStore._bound_wal`). Leaving the block cancels the writer after its
    current transaction."""
    path = os.fspath(path)
    if path == ":memory:" or path.startswith("file::memory:"):
        raise ValueError("the SQLite store needs a file: an in-memory database is not durable "
                         "and its read connection would not see the writer's data")
    if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError("synchronous must be FULL, EXTRA or NORMAL")
    if max_batch < 1 or max_batch == math.inf:
        raise ValueError("max_batch must be a positive integer")
    if not isinstance(wal_limit_mb, int) or isinstance(wal_limit_mb, bool) or wal_limit_mb < 1:
        raise ValueError("wal_limit_mb must be a positive integer")
    box = SecretBox(key if key is not None else load_key(key_file))
    store = await trio.to_thread.run_sync(
        SqliteStore._open, path, box, synchronous.upper(), max_batch, wal_limit_mb << 20
    )
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store._writer)
            nursery.start_soon(store._checkpointer)
            try:
                yield store
            finally:
                nursery.cancel_scope.cancel()
    finally:
        store._closed = True
        with trio.CancelScope(shield=True):
            # The writer thread has ended; holding the read limiter, no read
            # is running on a connection we close.
            async with store._rlimiter:
                await trio.to_thread.run_sync(store._close_connections)
