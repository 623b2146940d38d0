"""Store throughput: the whole durable life of an MT message.

Per message: accept_message (1 segment) by one of N concurrent callers, then a
sender task claims it, records its submit result (vendor id) and its delivery
receipt — the writes the pipeline makes for one message, all committed, plus
the two status events they append. Prints messages/s end to end.

    .venv/bin/python benches/store.py                       # 20000 msgs, 64 callers, FULL
    .venv/bin/python benches/store.py -n 50000 -c 256 --synchronous NORMAL
    .venv/bin/python benches/store.py --accept-batch 50     # accept_messages, 50 per call

The sender side uses the batch calls (record_submits / record_receipts), as the
SMPP engine will: one read of the socket yields many submit_sm_resp and
deliver_sm at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

from byosms.schemas.records import Message, Receipt, Segment, SubmitOutcome  # noqa: E402
from byosms.store import open_sqlite_store  # noqa: E402

CLAIM = 1024


async def run(n: int, callers: int, synchronous: str, accept_batch: int, path: str) -> None:
    async with open_sqlite_store(path, key=os.urandom(32), synchronous=synchronous) as store:
        integ = await store.create_integration("bench", "smpp", "bench", {"host": "x"},
                                               state="active")
        seg = [Segment(0, "", 0, b"hello world", 0, 0)]
        delivered = 0
        accepted = 0
        all_done = trio.Event()

        def msg(i: int) -> Message:
            return Message("", "mt", integ.id, "bench", "+15550000000", f"+1555{i:07d}",
                           "hello world", "gsm7", 0, 1, client_ref=str(i))

        async def caller(k: int) -> None:
            nonlocal accepted
            mine = range(k, n, callers)
            if accept_batch > 1:
                for start in range(0, len(mine), accept_batch):
                    chunk = mine[start:start + accept_batch]
                    await store.accept_messages([(msg(i), seg, f"k{i}") for i in chunk])
                    accepted += len(chunk)
            else:
                for i in mine:
                    await store.accept_message(msg(i), seg, f"k{i}")
                    accepted += 1

        async def sender() -> None:
            nonlocal delivered
            while delivered < n:
                claimed = await store.claim_segments(integ.id, CLAIM)
                if not claimed:
                    await trio.sleep(0.001)
                    continue
                await store.record_submits(
                    [SubmitOutcome(segment_id=s.id, vendor_message_id=f"V{s.id}") for s in claimed]
                )
                results = await store.record_receipts(
                    [Receipt(integration=integ.id, vendor_ids=(f"V{s.id}",), state="delivered",
                             generic_code=0, generic_cause="DELIVERED") for s in claimed]
                )
                delivered += sum(1 for r in results if getattr(r, "message_state", None)
                                 == "delivered")
                print(f"\r  accepted {accepted:>8}  delivered {delivered:>8}", end="",
                      file=sys.stderr, flush=True)
            all_done.set()

        wal_max = 0
        stop = threading.Event()

        def watch_wal() -> None:  # its own thread: a busy event loop hides no peak
            nonlocal wal_max
            while not stop.wait(0.005):
                try:
                    wal_max = max(wal_max, os.path.getsize(path + "-wal"))
                except OSError:
                    pass

        watcher = threading.Thread(target=watch_wal, daemon=True)
        watcher.start()
        b0, o0 = store.batches, store.ops
        t0 = time.perf_counter()
        cpu0, loop0 = time.process_time(), time.thread_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            for k in range(callers):
                nursery.start_soon(caller, k)
        dt = time.perf_counter() - t0
        stop.set()
        watcher.join()
        cpu, loop = time.process_time() - cpu0, time.thread_time() - loop0
        print(file=sys.stderr)
        batches, ops = store.batches - b0, store.ops - o0
        print(f"store bench: {n} messages, {callers} callers, synchronous={synchronous}, "
              f"accept batch={accept_batch}")
        print(f"  {n / dt:,.0f} msg/s end to end (accept + claim + submit + receipt, "
              f"2 status events each) in {dt:.2f}s")
        print(f"  {batches} transactions, {ops / max(batches, 1):.1f} ops per transaction, "
              f"{batches / dt:,.0f} commits/s")
        print(f"  WAL: max {wal_max / 2**20:.1f} MB (bound {store.wal_limit >> 20} MB), "
              f"{store.wal_restarts} restarts by the writer, {store.wal_restarts_busy} "
              f"found a reader in the way, {store.wal_restart_seconds:.2f} s of the writer's time "
              f"in them (longest {store.wal_restart_max * 1000:.0f} ms)")
        print(f"  CPU: {cpu / dt:.2f} cores in all; the trio thread {loop / dt:.2f} "
              f"({loop / n * 1e6:.0f} us per message), the rest the SQLite worker thread")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--messages", type=int, default=20000)
    ap.add_argument("-c", "--callers", type=int, default=64)
    ap.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    ap.add_argument("--accept-batch", type=int, default=1)
    ap.add_argument("--db", help="database file (default: a temporary directory)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = a.db or os.path.join(d, "bench.db")
        trio.run(run, a.messages, a.callers, a.synchronous, a.accept_batch, path)


if __name__ == "__main__":
    main()
