"""The bounded WAL (issue 15, deliverable 2) and the store files' modes
(issue 15, defect 11), on a real SQLite file."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time

import pytest
import trio

from byosms.schemas.records import Message, Receipt, Segment, SubmitOutcome
from byosms.store import open_sqlite_store

MB = 1024 * 1024


class _WalWatch:
    """Samples the WAL file's size from a thread of its own (every ms), so a
    busy event loop cannot hide a peak."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.max = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.max = max(self.max, os.path.getsize(self.path))
            except FileNotFoundError:
                pass
            self.samples += 1
            time.sleep(0.001)

    def __enter__(self) -> _WalWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.mark.slow
async def test_wal_stays_bounded_under_sustained_writes_and_readers(tmp_path):
    """Steady writes (accepts, claims, submits, receipts: what every message
    costs) with event readers polling all the while: the WAL never passes
    its bound (2 MB here) by more than a batch's worth, and every message is
    there, delivered."""
    db = str(tmp_path / "wal.db")
    limit_mb = 2
    seconds = 4.0
    accepted: list[str] = []
    delivered = 0
    reads = 0
    with _WalWatch(db + "-wal") as watch:
        async with open_sqlite_store(db, key=os.urandom(32), wal_limit_mb=limit_mb) as store:
            integ = await store.create_integration("bu", "smpp", "c", {"host": "x"},
                                                   state="active")
            seg = [Segment(0, "", 0, b"hello world " * 10, 0, 0)]
            stop = trio.Event()

            async def caller(k: int) -> None:
                i = 0
                while not stop.is_set():
                    m = Message("", "mt", integ.id, "bu", "+15550000000",
                                f"+1555{k:03d}{i:04d}", "hello world " * 10, "gsm7", 0, 1,
                                client_ref=f"{k}-{i}")
                    a = await store.accept_message(m, seg, f"k{k}-{i}")
                    accepted.append(a.message.id)
                    i += 1

            async def sender() -> None:
                nonlocal delivered
                while True:
                    claimed = await store.claim_segments(integ.id, 256)
                    if not claimed:
                        if stop.is_set():
                            return
                        await trio.sleep(0.001)
                        continue
                    await store.record_submits([SubmitOutcome(segment_id=s.id,
                                                              vendor_message_id=f"V{s.id}")
                                                for s in claimed])
                    results = await store.record_receipts([
                        Receipt(integration=integ.id, vendor_ids=(f"V{s.id}",),
                                state="delivered", generic_code=0, generic_cause="DELIVERED")
                        for s in claimed])
                    delivered += sum(1 for r in results
                                     if getattr(r, "message_state", None) == "delivered")

            async def reader(frames: bool) -> None:
                # An event reader, as a websocket connection is: pages from its
                # cursor, and now and then a replay from the start.
                nonlocal reads
                cursor = 0
                while not stop.is_set():
                    if frames:
                        page = await store.status_frame_after("bu", cursor, 500)
                        if isinstance(page, tuple):
                            cursor = page[1]
                        elif page:
                            cursor = page[-1].cursor
                    else:
                        events = await store.events_after("bu", cursor, 500)
                        if events:
                            cursor = events[-1].cursor
                    reads += 1
                    if reads % 50 == 0:
                        cursor = 0
                    await trio.sleep(0)

            with trio.fail_after(seconds + 60):
                async with trio.open_nursery() as nursery:
                    for k in range(16):
                        nursery.start_soon(caller, k)
                    nursery.start_soon(sender)
                    nursery.start_soon(reader, True)
                    nursery.start_soon(reader, False)
                    await trio.sleep(seconds)
                    stop.set()
    print(f"WAL max {watch.max / MB:.2f} MB, {len(accepted)} messages, {reads} reads, "
          f"{store.wal_restarts} restarts ({store.wal_restarts_busy} busy)")
    assert watch.samples > 100 and reads > 50
    # Enough traffic to have overrun the bound many times over.
    assert len(accepted) > 2000
    # Bound x 1.5: the checkpoint may start only after the batch that crossed it.
    assert watch.max <= limit_mb * MB * 1.5, f"WAL reached {watch.max / MB:.1f} MB"
    with sqlite3.connect(db) as c:
        rows = dict(c.execute("SELECT state, count(*) FROM messages GROUP BY state"))
        ids = {r[0] for r in c.execute("SELECT id FROM messages")}
    assert ids == set(accepted)
    assert rows == {"delivered": len(accepted)} and delivered == len(accepted)


async def test_a_reader_outside_the_store_slows_writes_but_does_not_stop_them(tmp_path):
    """A snapshot held elsewhere (a sqlite3 shell in a transaction) keeps the
    WAL from starting over: writes go on (the forced restart waits
    WAL_FORCE_WAIT_MS once, then backs off), and once the reader is gone the
    WAL is cut back under its bound."""
    from byosms.schemas.records import NewEvent

    db = str(tmp_path / "o.db")
    payload = {"text": "x" * 1000}
    async with open_sqlite_store(db, key=os.urandom(32), wal_limit_mb=1) as store:
        outside = sqlite3.connect(db, isolation_level=None)
        outside.execute("BEGIN")
        outside.execute("SELECT count(*) FROM events").fetchone()  # holds its snapshot
        try:
            with trio.fail_after(30):
                t0 = time.monotonic()
                for _ in range(40):  # ~40 x 200 KB: well past the 1 MB bound
                    await store.append_events([NewEvent("bu", "status", payload)] * 200)
                held = time.monotonic() - t0
        finally:
            outside.execute("COMMIT")
            outside.close()
        assert os.path.getsize(db + "-wal") > 2 * MB  # it could not start over...
        assert held < 4  # ...and writes went on (one forced wait, then backing off)
        assert store.wal_restarts_busy >= 1
        with trio.fail_after(30):
            while os.path.getsize(db + "-wal") > MB:  # reader gone: back under the bound
                await store.append_events([NewEvent("bu", "status", payload)])
                await trio.sleep(0.01)
        assert len(await store.events_after("bu", 0, 10_000)) >= 8000


async def test_store_files_are_created_0600_whatever_the_umask(tmp_path):
    """Database, WAL, shared memory and the generated key file: owner only,
    even under a permissive umask (defect 11)."""
    from byosms.schemas.config import load_config
    from byosms.server import Gateway

    old = os.umask(0o000)
    try:
        gw = Gateway(load_config('[store]\npath = "data/g.db"\n'), base_dir=tmp_path)
        async with gw.open_store() as store:
            await store.create_api_key("bu", "k")  # a write: the WAL has frames
            db = str(gw.db_path())
            for p in (db, db + "-wal", db + "-shm", db + ".key"):
                assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
    finally:
        os.umask(old)


async def test_an_existing_database_keeps_its_mode_its_wal_and_shm_are_private(tmp_path):
    db = str(tmp_path / "s.db")
    key = os.urandom(32)
    async with open_sqlite_store(db, key=key):
        pass
    os.chmod(db, 0o640)  # the operator's choice for the database stays
    old = os.umask(0o000)
    try:
        async with open_sqlite_store(db, key=key) as store:
            await store.create_api_key("bu", "k")
            assert stat.S_IMODE(os.stat(db).st_mode) == 0o640
            for p in (db + "-wal", db + "-shm"):
                assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
    finally:
        os.umask(old)


async def test_the_config_sets_the_wal_bound(tmp_path):
    import pytest

    from byosms.schemas.config import ConfigError, load_config
    from byosms.server import Gateway

    assert load_config('[store]\npath = "x.db"\n').store.wal_limit_mb == 64
    with pytest.raises(ConfigError, match="wal_limit_mb"):
        load_config('[store]\nwal_limit_mb = 0\n')
    gw = Gateway(load_config('[store]\npath = "w.db"\nwal_limit_mb = 3\n'), base_dir=tmp_path)
    async with gw.open_store() as store:
        assert store.wal_limit == 3 * MB
        assert store._w.execute("PRAGMA journal_size_limit").fetchone()[0] == 3 * MB // 8
