"""Websocket API bench: N clients send batches of `send`s through the gateway's
websocket server into the SQLite store (synchronous=FULL); no carrier.

    .venv/bin/python benches/api.py [--clients 4] [--batch 250] [--messages 100000]
                                   [--window 2] [--in-process]

The server (ApiServer + MessageAcceptor + store) runs in this process; the
clients run in one child process (--in-process: in this one) so client JSON
work doesn't eat the server's CPU time on its thread. Each client keeps
`window` batch frames outstanding. Prints accepted msg/s and the p50/p99 of
send -> accepted (per message: the time from its frame being sent to its
answer frame arriving).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import trio

from byosms.api import open_api_server
from byosms.client import connect
from byosms.gateway.notify import NotifyingStore
from byosms.schemas import api
from byosms.schemas.records import Number
from byosms.secret import Secret
from byosms.store import open_sqlite_store

SENDER = "+14155550100"


async def run_clients(url: str, token: str, clients: int, batch: int, messages: int,
                      window: int) -> dict:
    per_client = messages // clients
    latencies: list[float] = []
    accepted = 0

    async def one(k: int) -> None:
        async with connect(url, token) as c:
            sent = 0
            lock = trio.Semaphore(window)

            async def frame(items: list[dict]) -> None:
                nonlocal accepted
                try:
                    t0 = time.perf_counter()
                    answers = await c.send_many(items)
                    dt = time.perf_counter() - t0
                    ok = sum(isinstance(a, api.Accepted) for a in answers)
                    accepted += ok
                    latencies.extend([dt] * len(answers))
                finally:
                    lock.release()

            async with trio.open_nursery() as n:
                while sent < per_client:
                    size = min(batch, per_client - sent)
                    items = [{"to": f"+44770090{(k * per_client + sent + i) % 10000:04d}",
                              "text": f"bench message {sent + i} from client {k}",
                              "from_": SENDER} for i in range(size)]
                    sent += size
                    await lock.acquire()
                    n.start_soon(frame, items)

    t0 = time.perf_counter()
    async with trio.open_nursery() as n:
        for k in range(clients):
            n.start_soon(one, k)
    elapsed = time.perf_counter() - t0
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 \
            if latencies else 0.0

    return {"accepted": accepted, "elapsed": elapsed, "p50_ms": pct(0.50),
            "p99_ms": pct(0.99)}


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.db")
        async with open_sqlite_store(db, key=os.urandom(32)) as raw:
            store = NotifyingStore(raw)
            integ = await store.create_integration(
                "bench", "smpp", "carrier", {"host": "h", "system_id": "me",
                                             "password": Secret("pw")}, state="active")
            await store.add_number(Number(SENDER, "local", integ.id, "bench"))
            _, token = await store.create_api_key("bench", "bench")
            async with open_api_server(store) as srv:
                url = f"ws://127.0.0.1:{srv.port}/"
                cpu0 = time.process_time()
                if args.in_process:
                    res = await run_clients(url, token, args.clients, args.batch,
                                            args.messages, args.window)
                else:
                    proc = await trio.run_process(
                        [sys.executable, __file__, "--child", url, token,
                         "--clients", str(args.clients), "--batch", str(args.batch),
                         "--messages", str(args.messages), "--window", str(args.window)],
                        capture_stdout=True)
                    res = json.loads(proc.stdout)
                server_cpu = time.process_time() - cpu0
            txns, ops = raw.batches, raw.ops
    rate = res["accepted"] / res["elapsed"]
    print(f"api bench: {args.clients} clients x batches of {args.batch} "
          f"(window {args.window}), {res['accepted']} accepted in {res['elapsed']:.2f} s")
    print(f"  accepted        {rate:10,.0f} msg/s   (SQLite synchronous=FULL, "
          f"{txns} transactions, {ops} ops)")
    print(f"  send->accepted  p50 {res['p50_ms']:.1f} ms   p99 {res['p99_ms']:.1f} ms")
    print(f"  server process CPU {server_cpu:.2f} s "
          f"({'incl.' if args.in_process else 'excl.'} clients)")


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--window", type=int, default=2)
    p.add_argument("--in-process", action="store_true")
    p.add_argument("--child", nargs=2, metavar=("URL", "TOKEN"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


if __name__ == "__main__":
    a = _args(sys.argv[1:])
    if a.child:
        out = trio.run(run_clients, a.child[0], a.child[1], a.clients, a.batch, a.messages,
                       a.window)
        print(json.dumps(out))
    else:
        trio.run(main, a)
