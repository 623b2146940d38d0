"""Crash safety: SIGKILL a process mid-stream; everything it was told is
committed is there after reopening, and its in-flight segments are requeued."""

from __future__ import annotations

import base64
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import trio

from byosms.store import open_sqlite_store
from byosms.store.crypto import KEY_ENV, generate_key
from deadlines import WAIT, kill_after

CHILD = Path(__file__).with_name("store_crash_child.py")
#: Acknowledged accepts to see before the kill: enough that many transactions
#: are committed and more are being written when the signal lands.
ACKED_BEFORE_KILL = 3000


def test_sigkill_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "crash.db"
    env = {**os.environ, KEY_ENV: generate_key()}
    proc = subprocess.Popen([sys.executable, str(CHILD), str(db)], stdout=subprocess.PIPE,
                            env=env, text=True)
    acked: dict[str, str] = {}
    claimed: set[int] = set()
    integration = None
    try:
        assert proc.stdout is not None
        with kill_after(proc):
            for line in proc.stdout:
                kind, *rest = line.split()
                if kind == "I":
                    integration = rest[0]
                elif kind == "A":
                    acked[rest[0]] = rest[1]
                elif kind == "C":
                    claimed.add(int(rest[0]))
                if len(acked) >= ACKED_BEFORE_KILL and claimed:
                    break
        proc.send_signal(signal.SIGKILL)
        # what the child printed before dying was acknowledged too
        for line in proc.stdout:
            kind, *rest = line.split()
            if kind == "A":
                acked[rest[0]] = rest[1]
            elif kind == "C":
                claimed.add(int(rest[0]))
    finally:
        proc.kill()
        proc.wait(timeout=WAIT)
    assert proc.returncode == -signal.SIGKILL
    assert integration is not None and len(acked) >= ACKED_BEFORE_KILL

    async def check() -> None:
        async with open_sqlite_store(db, key=base64.b64decode(env[KEY_ENV])) as store:
            assert store.recovered_in_flight >= len(claimed)
            for mid, idem in acked.items():
                m = await store.get_message(mid)
                assert m is not None, f"acknowledged message {mid} lost"
                assert m.idempotency_key == idem
                segs = await store.get_segments(mid)
                assert [s.index for s in segs] == [0, 1]
                assert all(s.state == "queued" for s in segs)
            # every claimed segment is back in the queue, claimable again
            again = set()
            while batch := await store.claim_segments(integration, 1000):
                again.update(s.id for s in batch)
            assert claimed <= again
        # no half-written message: each one has both its segments
        with sqlite3.connect(db) as c:
            assert c.execute(
                "SELECT count(*) FROM messages m WHERE "
                "(SELECT count(*) FROM segments s WHERE s.message_id = m.id) != 2"
            ).fetchone()[0] == 0

    trio.run(check)
