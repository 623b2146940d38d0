"""WAL soak: the real gateway at a steady, paced rate for minutes; the SQLite
WAL and the gateway's RSS over time (issue 15, deliverable 2).

    .venv/bin/python benches/wal_soak.py [--seconds 600] [--rate 1000] [--inflight 32]
                                         [--wal-limit-mb 64] [--tcp] [--recipients N]

The machinery of benches/gateway.py: this process runs `byosms.server.Gateway`
(so its RSS is the gateway's) on a fresh SQLite file (synchronous=FULL), the
SMSC simulator runs as `byosms smsc-sim` in a subprocess (receipts 50 ms after
submit), and one websocket client (a child process: this script with
--client) sends ONE message per frame, paced at `--rate` msg/s (at most
`--inflight` frames unanswered; a send that falls behind its slot goes as soon
as one frees, counted `late`), and reads its status events with auto-ack —
the event reader runs all along, as an application's does. Every 10 s a row:
WAL size now and max so far (sampled every 5 ms from a thread), database
size, gateway RSS, messages sent / accepted / final. At the end: max WAL, max
RSS, messages sent / accepted / delivered, send->accepted p50/p99.

The S4 rate limit (100 msg/s per integration) is off, as in benches/gateway.py
(`Gateway(unlimited_rate_for_bench=True)`, bench only).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import SENDER_BASE, config_toml, cpu_seconds, pct, rss_mb  # noqa: E402

MB = 1024 * 1024
ROW_EVERY = 10.0


# --- the client child -------------------------------------------------------------------


async def client_main(url: str, token: str, seconds: float, rate: float, inflight: int,
                      recipients: int, drain: float) -> None:
    from byosms.client import Rejected, connect
    from byosms.schemas import api

    counts = {"sent": 0, "accepted": 0, "rejected": 0, "errors": 0, "late": 0,
              "delivered": 0, "failed": 0}
    accepted_lat: list[float] = []
    sender = f"+{SENDER_BASE}"
    sending_done = trio.Event()
    all_final = trio.Event()

    def report(kind: str) -> None:
        print(json.dumps({"kind": kind, **counts}), flush=True)

    def finals() -> int:
        return counts["delivered"] + counts["failed"]

    async with connect(url, token, auto_ack=True, event_buffer=100_000) as c:
        async def events() -> None:
            async for ev in c.events():
                if isinstance(ev, api.Status) and ev.segment is None \
                        and ev.state in ("delivered", "failed"):
                    counts[ev.state] += 1
                    if sending_done.is_set() and finals() >= counts["accepted"]:
                        all_final.set()

        async def one(i: int, slots: trio.Semaphore) -> None:
            j = i % recipients
            try:
                t0 = time.perf_counter()
                await c.send(f"+1415{200 + j // 10000:03d}{j % 10000:04d}", f"soak {i}",
                             from_=sender)
                accepted_lat.append(time.perf_counter() - t0)
                counts["accepted"] += 1
            except Rejected:
                counts["rejected"] += 1
            except Exception:  # noqa: BLE001 - counted; the soak goes on
                counts["errors"] += 1
            finally:
                slots.release()

        async def send() -> None:
            slots = trio.Semaphore(inflight)
            interval = 1.0 / rate
            t0 = trio.current_time()
            i = 0
            async with trio.open_nursery() as nursery:
                while True:
                    due = t0 + i * interval
                    if due - t0 >= seconds:
                        break
                    await trio.sleep_until(due)
                    if slots.value == 0:
                        counts["late"] += 1
                    await slots.acquire()
                    counts["sent"] += 1
                    nursery.start_soon(one, i, slots)
                    i += 1
            sending_done.set()
            if finals() >= counts["accepted"]:
                all_final.set()

        async def progress() -> None:
            while True:
                await trio.sleep(1.0)
                report("progress")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(events)
            nursery.start_soon(progress)
            await send()
            with trio.move_on_after(drain):
                await all_final.wait()
            nursery.cancel_scope.cancel()
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"kind": "done", **counts, "cpu": ru.ru_utime + ru.ru_stime,
                      "accepted_p50": pct(accepted_lat, 50),
                      "accepted_p99": pct(accepted_lat, 99)}), flush=True)


# --- the gateway side ---------------------------------------------------------------------


class _Watch:
    """Max WAL size, sampled every 5 ms from a thread of its own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.max = 0
        self.now = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            try:
                self.now = os.path.getsize(self.path)
            except OSError:
                continue
            self.max = max(self.max, self.now)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def gateway_main(args: argparse.Namespace) -> int:
    from byosms.schemas.config import load_config
    from byosms.server import Gateway
    from byosms.tuning import tune_process

    tmp = Path(tempfile.mkdtemp(prefix="byosms-walsoak-"))
    ca = None if args.tcp else tmp / "ca.pem"
    sim_cmd = [sys.executable, "-m", "byosms", "smsc-sim", "--port", "0",
               "--receipt-delay", "0.05"]
    if ca is not None:
        sim_cmd += ["--tls-self-signed", "--tls-ca-out", str(ca)]
    sim = await trio.lowlevel.open_process(sim_cmd, stdout=subprocess.PIPE, cwd=tmp)
    rss: list[float] = []
    last: dict[str, Any] = {}
    done: dict[str, Any] = {}
    db = tmp / "bench.db"
    try:
        buf = b""
        while b"listening on" not in buf:
            chunk = await sim.stdout.receive_some(4096)
            if not chunk:
                raise SystemExit("the simulator did not start")
            buf += chunk
        sim_port = int(re.search(rb"listening on [^:]+:(\d+)", buf).group(1))
        toml = config_toml(tmp, sim_port, ca, 1, args.binds, args.smpp_window)
        toml = toml.replace('path = "bench.db"\n',
                            f'path = "bench.db"\nwal_limit_mb = {args.wal_limit_mb}\n', 1)
        gw = Gateway(load_config(toml), base_dir=tmp, unlimited_rate_for_bench=True)
        with _Watch(Path(str(db) + "-wal")) as wal:
            async with trio.open_nursery() as nursery:
                await nursery.start(gw.run)
                token = (await gw.store.create_api_key("bu0", "soak"))[1]
                await gw.provider("smsc0").wait_bound(args.binds)
                tune_process()  # as `byosms serve` does once started
                print(f"WAL soak: {args.rate:g} msg/s paced, one message per frame, "
                      f"{args.inflight} in flight at most, for {args.seconds:g} s; WAL bound "
                      f"{args.wal_limit_mb} MB; SMPP over {'TCP' if args.tcp else 'TLS'}, "
                      f"{args.binds} bind(s); SQLite synchronous=FULL; S4 rate limit OFF "
                      f"(bench only)", flush=True)
                print(f"{'t (s)':>6} {'WAL MB':>7} {'max':>7} {'db MB':>7} {'RSS MB':>7} "
                      f"{'max':>7} {'sent':>9} {'accepted':>9} {'final':>9} {'late':>6}",
                      flush=True)
                t0 = time.monotonic()
                cpu0 = (cpu_seconds(), cpu_seconds(sim.pid))

                def row() -> None:
                    try:
                        db_mb = os.path.getsize(db) / MB
                    except OSError:
                        db_mb = 0.0
                    final = last.get("delivered", 0) + last.get("failed", 0)
                    print(f"{time.monotonic() - t0:6.0f} {wal.now / MB:7.1f} {wal.max / MB:7.1f} "
                          f"{db_mb:7.1f} {rss[-1]:7.0f} {max(rss):7.0f} "
                          f"{last.get('sent', 0):9} {last.get('accepted', 0):9} {final:9} "
                          f"{last.get('late', 0):6}", flush=True)

                async def sample() -> None:
                    next_row = t0 + ROW_EVERY
                    while True:
                        rss.append(rss_mb())
                        if time.monotonic() >= next_row:
                            row()
                            next_row += ROW_EVERY
                        await trio.sleep(0.5)

                rss.append(rss_mb())
                nursery.start_soon(sample)
                cmd = [sys.executable, __file__, "--client", f"ws://127.0.0.1:{gw.ws_port}/",
                       "--token", token, "--seconds", str(args.seconds), "--rate",
                       str(args.rate), "--inflight", str(args.inflight), "--recipients",
                       str(args.recipients), "--drain", str(args.drain)]
                proc = await trio.lowlevel.open_process(cmd, stdout=subprocess.PIPE)
                pending = b""
                while True:
                    chunk = await proc.stdout.receive_some(65536)
                    if not chunk:
                        break
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        msg = json.loads(line)
                        if msg["kind"] == "done":
                            done = msg
                        last = msg
                await proc.wait()
                rss.append(rss_mb())
                row()
                elapsed = time.monotonic() - t0
                cpu = (cpu_seconds() - cpu0[0], cpu_seconds(sim.pid) - cpu0[1])
                inner = gw.store.inner
                restarts = (getattr(inner, "wal_restarts", None),
                            getattr(inner, "wal_restarts_busy", None),
                            getattr(inner, "wal_restart_seconds", 0.0),
                            getattr(inner, "wal_restart_max", 0.0))
                nursery.cancel_scope.cancel()
    finally:
        sim.terminate()
        await sim.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if not done:
        print("the client did not finish", file=sys.stderr)
        return 1
    print(f"""
WAL               max {wal.max / MB:.1f} MB (bound {args.wal_limit_mb} MB); writer restarts {restarts[0]} ({restarts[1]} found a reader in the way), writer time in them {restarts[2]:.2f} s (longest {restarts[3] * 1000:.0f} ms)
gateway RSS       start {rss[0]:.0f} MB  max {max(rss):.0f} MB  end {rss[-1]:.0f} MB
messages          {done['sent']} sent, {done['accepted']} accepted, {done['rejected']} rejected, {done['errors']} errors, {done['delivered']} delivered, {done['failed']} failed; {done['late']} sends late for their slot
send->accepted    p50 {done['accepted_p50'] * 1000:.1f} ms   p99 {done['accepted_p99'] * 1000:.1f} ms
CPU seconds       gateway {cpu[0]:.1f}  simulator {cpu[1]:.1f}  client {done['cpu']:.1f}  over {elapsed:.0f} s (2 cores: {2 * elapsed:.0f} available)""")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=600, help="how long to send")
    p.add_argument("--rate", type=float, default=1000, help="messages per second, paced")
    p.add_argument("--inflight", type=int, default=32, help="unanswered frames at most")
    p.add_argument("--wal-limit-mb", type=int, default=64, help="[store] wal_limit_mb")
    p.add_argument("--recipients", type=int, default=100_000,
                   help="distinct recipient numbers, cycled")
    p.add_argument("--binds", type=int, default=2, help="SMPP binds")
    p.add_argument("--smpp-window", type=int, default=512, help="SMPP window per bind")
    p.add_argument("--drain", type=float, default=30,
                   help="seconds to wait for the last receipts after sending")
    p.add_argument("--tcp", action="store_true", help="plain TCP to the simulator (default TLS)")
    p.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    p.add_argument("--token", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.client:
        trio.run(client_main, args.client, args.token, args.seconds, args.rate, args.inflight,
                 args.recipients, args.drain)
        return 0
    return trio.run(gateway_main, args)


if __name__ == "__main__":
    sys.exit(main())
