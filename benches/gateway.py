"""Gateway bench: websocket clients -> gateway -> SMSC simulator -> receipts ->
status events back over the websocket, everything persisted (SQLite,
synchronous=FULL).

    .venv/bin/python benches/gateway.py [--n 20000] [--clients 2] [--batch 250]
                                       [--window 4] [--binds 2] [--tcp] [--recipients N]
                                       [--profile FILE] [--sql-profile] [--runs K]
                                       [--single] [--rate MSG_PER_S]

Processes: this one runs the Gateway (so its RSS is the gateway's); the
simulator runs as `byosms smsc-sim` in a subprocess; the clients run in one
child process (this script with --client). Each client is its own business
unit with its own number and SMPP integration (so each receives only its own
events), keeps `window` frames of `batch` sends outstanding, and reads its
status events. Printed: sustained msg/s (first send -> last delivered status),
p50/p99 of send->accepted and send->delivered (message-level `delivered`
event), the gateway's RSS over the run, and the store's transaction count.
With --runs K the whole bench runs K times (a fresh gateway, simulator and
database each) and ends with the median, min and max of sustained msg/s: on
a shared 2-core machine one run says little (see benches/ab.py to compare two
trees).

Traffic shapes: by default applications batch (250 sends a frame);
`--single` is a contact center's shape, one message per frame with 32
frames in flight per client (= `--batch 1 --window 32`); `--rate R` paces
the clients to R msg/s in all (frames start on a fixed schedule, so the
send->accepted latency is measured at a steady load, not at saturation).

The S4 rate limit caps a real integration at 100 msg/s; this bench builds
the gateway with `unlimited_rate_for_bench=True` (not reachable from a
config file) and says so in its output.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

SENDER_BASE = 14155550100


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int | str = "self") -> float:
    """user+system CPU seconds of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process, by name: the event loop,
    the Python threads by their `threading` name (the store's writer is
    byosms-store-writer), trio's worker threads together."""
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    names[os.getpid()] = "event-loop"
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = names.get(int(tid)) or f.read().strip()
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        if name.startswith("Trio thread") or name.startswith("trio"):
            name = "trio-workers"
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


class _TimedConnection:
    """The store's write connection, timing each statement (wall and the
    writer thread's CPU): where the writer's time goes, for --sql-profile."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.stats: dict[str, list[float]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def _timed(self, method: str, sql: str, *args: Any) -> Any:
        t, c = time.perf_counter(), time.thread_time()
        try:
            return getattr(self._conn, method)(sql, *args)
        finally:
            row = self.stats.setdefault(" ".join(sql.split())[:70], [0, 0.0, 0.0])
            row[0] += 1
            row[1] += time.perf_counter() - t
            row[2] += time.thread_time() - c

    def execute(self, sql: str, *args: Any) -> Any:
        return self._timed("execute", sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._timed("executemany", sql, *args)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


# --- the client child ---------------------------------------------------------------


async def client_main(url: str, tokens: list[str], n: int, batch: int, window: int,
                      recipients: int, rate: float = 0.0) -> dict:
    from byosms.client import connect
    from byosms.schemas import api

    def to(k: int, i: int) -> str:
        # Distinct numbers by default: each new recipient costs the gateway a
        # phonenumbers check (cached per number), as real traffic does.
        j = (k * per + i) % recipients
        return f"+1415{200 + j // 10000:03d}{j % 10000:04d}"

    per = n // len(tokens)
    accepted_lat: list[float] = []
    delivered_lat: list[float] = []
    counts = {"accepted": 0, "rejected": 0, "delivered": 0, "failed": 0}
    first_send = [float("inf")]
    last_final = [0.0]

    async def one(k: int, token: str) -> None:
        sent_at: dict[str, float] = {}
        early: dict[str, float] = {}
        finals = 0
        sender = f"+{SENDER_BASE + k}"
        async with connect(url, token, auto_ack=True, event_buffer=100_000) as c:
            async def events() -> None:
                nonlocal finals
                async for ev in c.events():
                    if isinstance(ev, api.Status) and ev.segment is None \
                            and ev.state in ("delivered", "failed"):
                        now = time.time()
                        t0 = sent_at.pop(ev.message_id, None)
                        if t0 is None:
                            early[ev.message_id] = now
                        else:
                            delivered_lat.append(now - t0)
                        counts[ev.state] += 1
                        last_final[0] = max(last_final[0], now)
                        finals += 1
                        if finals >= per:
                            return

            async def send() -> None:
                slots = trio.Semaphore(window)

                async def frame(start: int) -> None:
                    try:
                        items = [{"to": to(k, i), "text": f"bench {k}-{i}",
                                  "from_": sender} for i in range(start, min(start + batch, per))]
                        t0 = time.time()
                        first_send[0] = min(first_send[0], t0)
                        answers = await c.send_many(items)
                        t1 = time.time()
                        for a in answers:
                            if isinstance(a, api.Accepted):
                                counts["accepted"] += 1
                                accepted_lat.append(t1 - t0)
                                t_final = early.pop(a.message_id, None)
                                if t_final is not None:
                                    delivered_lat.append(t_final - t0)
                                else:
                                    sent_at[a.message_id] = t0
                            else:
                                counts["rejected"] += 1
                    finally:
                        slots.release()

                # Paced: this client's share of the rate, frames on a schedule.
                gap = batch * len(tokens) / rate if rate > 0 else 0.0
                t_begin = trio.current_time()
                async with trio.open_nursery() as nursery:
                    for j, start in enumerate(range(0, per, batch)):
                        if gap:
                            await trio.sleep_until(t_begin + j * gap)
                        await slots.acquire()
                        nursery.start_soon(frame, start)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(send)
                await events()
                nursery.cancel_scope.cancel()

    async def progress() -> None:
        t0 = time.time()
        while True:
            await trio.sleep(0.5)
            dt = time.time() - t0
            print(f"\r  {dt:5.1f}s accepted {counts['accepted']:>7} final {counts['delivered'] + counts['failed']:>7} "
                  f"({(counts['delivered'] + counts['failed']) / dt:7.0f} msg/s)",
                  end="", file=sys.stderr, flush=True)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(progress)
        async with trio.open_nursery() as clients:
            for k, token in enumerate(tokens):
                clients.start_soon(one, k, token)
        nursery.cancel_scope.cancel()
    print(file=sys.stderr)
    import resource
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {
        **counts,
        "cpu": ru.ru_utime + ru.ru_stime,
        "seconds": last_final[0] - first_send[0],
        "accepted_p50": pct(accepted_lat, 50), "accepted_p99": pct(accepted_lat, 99),
        "delivered_p50": pct(delivered_lat, 50), "delivered_p99": pct(delivered_lat, 99),
    }


# --- the gateway side -------------------------------------------------------------------


def config_toml(tmp: Path, sim_port: int, ca: Path | None, clients: int, binds: int,
                window: int) -> str:
    out = ['[websocket]\nport = 0\n[web]\nport = 0\n[store]\npath = "bench.db"\n']
    for k in range(clients):
        tls = f'ca_file = "{ca}"\n' if ca else 'transport = "tcp"\n'
        out.append(f"""
[[integrations]]
id = "smsc{k}"
business_unit = "bu{k}"
provider = "smpp"
[integrations.smpp]
host = "127.0.0.1"
port = {sim_port}
{tls}system_id = "byosms"
password = "secret"
binds = {binds}
window = {window}
messages_per_second = 100
[[numbers]]
number = "+{SENDER_BASE + k}"
integration = "smsc{k}"
""")
    return "".join(out)


async def gateway_main(args: argparse.Namespace) -> int:
    from byosms.server import Gateway
    from byosms.schemas.config import load_config

    tmp = Path(tempfile.mkdtemp(prefix="byosms-bench-"))
    ca = None if args.tcp else tmp / "ca.pem"
    sim_cmd = [sys.executable, "-m", "byosms", "smsc-sim", "--port", "0",
               "--receipt-delay", "0.05"]
    if ca is not None:
        sim_cmd += ["--tls-self-signed", "--tls-ca-out", str(ca)]
    sim = await trio.lowlevel.open_process(sim_cmd, stdout=subprocess.PIPE, cwd=tmp)
    rss: list[float] = []
    try:
        buf = b""
        while b"listening on" not in buf:
            chunk = await sim.stdout.receive_some(4096)
            if not chunk:
                raise SystemExit("the simulator did not start")
            buf += chunk
        sim_port = int(re.search(rb"listening on [^:]+:(\d+)", buf).group(1))
        config = load_config(config_toml(tmp, sim_port, ca, args.clients, args.binds,
                                         args.smpp_window))
        gw = Gateway(config, base_dir=tmp, unlimited_rate_for_bench=True)
        async with trio.open_nursery() as nursery:
            await nursery.start(gw.run)
            tokens = [(await gw.store.create_api_key(f"bu{k}", "bench"))[1]
                      for k in range(args.clients)]
            for k in range(args.clients):
                await gw.provider(f"smsc{k}").wait_bound(args.binds)

            async def sample() -> None:
                while True:
                    rss.append(rss_mb())
                    await trio.sleep(0.25)

            nursery.start_soon(sample)
            from byosms.tuning import tune_process

            tune_process()  # as `byosms serve` does once started
            print(f"gateway bench: {args.n} messages to {args.recipients or args.n} recipient(s), "
                  f"{args.clients} client(s) x batch "
                  f"{args.batch} x window {args.window}; {args.binds} bind(s) x window "
                  f"{args.smpp_window} per integration; SMPP over "
                  f"{'TCP' if args.tcp else 'TLS'}; SQLite synchronous=FULL; S4 rate limit OFF "
                  f"(Gateway(unlimited_rate_for_bench=True), bench only)", file=sys.stderr)
            cmd = [sys.executable, __file__, "--client", f"ws://127.0.0.1:{gw.ws_port}/",
                   "--n", str(args.n), "--batch", str(args.batch), "--window",
                   str(args.window), "--recipients", str(args.recipients or args.n),
                   "--rate", str(args.rate),
                   *[a for t in tokens for a in ("--token", t)]]
            batches0 = gw.store.inner.batches
            cpu0 = (cpu_seconds(), cpu_seconds(sim.pid))
            threads0 = thread_cpu()
            timed = None
            if args.sql_profile:
                timed = gw.store.inner._w = _TimedConnection(gw.store.inner._w)
            profiler = None
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler(async_mode="disabled")
                profiler.start()
            result = await trio.run_process(cmd, capture_stdout=True, stderr=None)
            cpu = (cpu_seconds() - cpu0[0], cpu_seconds(sim.pid) - cpu0[1])
            threads = {name: t - threads0.get(name, 0.0) for name, t in thread_cpu().items()}
            if profiler is not None:
                profiler.stop()
                Path(args.profile).write_text(profiler.output_text(unicode=True, color=False))
            nursery.cancel_scope.cancel()
    finally:
        sim.terminate()
        await sim.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    r = json.loads(result.stdout)
    total = r["delivered"] + r["failed"]
    print(f"""
messages          {args.n} sent, {r['accepted']} accepted, {r['rejected']} rejected, {r['delivered']} delivered, {r['failed']} failed
sustained         {total / r['seconds']:.0f} msg/s end to end ({r['seconds']:.2f} s first send -> last delivered event)
send->accepted    p50 {r['accepted_p50'] * 1000:.1f} ms   p99 {r['accepted_p99'] * 1000:.1f} ms
send->delivered   p50 {r['delivered_p50'] * 1000:.1f} ms   p99 {r['delivered_p99'] * 1000:.1f} ms
gateway RSS       start {rss[0]:.0f} MB  max {max(rss):.0f} MB  end {rss[-1]:.0f} MB{f"  (this process ran {len(args.sustained)} gateway(s) before)" if args.sustained else ""}
store             {gw.store.inner.batches - batches0} transactions, {gw.store.inner.careful_batches} re-run item by item
CPU seconds       gateway {cpu[0]:.2f}  simulator {cpu[1]:.2f}  clients {r['cpu']:.2f}  (2 cores x {r['seconds']:.2f} s = {2 * r['seconds']:.2f} available)
gateway threads   {"  ".join(f"{name} {t:.2f}" for name, t in sorted(threads.items(), key=lambda kv: -kv[1]) if t >= 0.01)}
rate limit        S4 limiter OFF for this bench (a real integration is capped at 100 msg/s)""")
    if args.profile:
        print(f"profile           {args.profile}")
    args.sustained.append(total / r["seconds"])
    if timed is not None:
        print("\nstore writer statements (calls, wall s, writer-thread CPU s):")
        rows = sorted(timed.stats.items(), key=lambda kv: -kv[1][1])
        for sql, (n, wall, cpu) in rows:
            print(f"  {n:7.0f} {wall:7.3f} {cpu:7.3f}  {sql}")
        print(f"  total   {sum(r[1] for _, r in rows):7.3f} {sum(r[2] for _, r in rows):7.3f}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=20_000, help="messages to send")
    p.add_argument("--clients", type=int, default=2, help="websocket clients (business units)")
    p.add_argument("--batch", type=int, default=250, help="sends per websocket frame")
    p.add_argument("--window", type=int, default=4, help="frames outstanding per client")
    p.add_argument("--binds", type=int, default=2, help="SMPP binds per integration")
    p.add_argument("--smpp-window", type=int, default=512, help="SMPP window per bind")
    p.add_argument("--recipients", type=int, default=None,
                   help="distinct recipient numbers (default: one per message)")
    p.add_argument("--tcp", action="store_true", help="plain TCP to the simulator (default TLS)")
    p.add_argument("--profile", metavar="FILE", help="pyinstrument profile of the gateway")
    p.add_argument("--sql-profile", action="store_true",
                   help="time each statement of the store's writer (wall and CPU)")
    p.add_argument("--runs", type=int, default=1, metavar="K",
                   help="run the whole bench K times; print the median, min and max")
    p.add_argument("--single", action="store_true",
                   help="one message per frame, 32 frames in flight per client")
    p.add_argument("--rate", type=float, default=0.0, metavar="MSG_PER_S",
                   help="pace all clients together to this many msg/s (default: as fast as "
                   "the window allows)")
    p.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    p.add_argument("--token", action="append", default=[], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.single:
        args.batch, args.window = 1, 32
    if args.client:
        r = trio.run(client_main, args.client, args.token, args.n, args.batch, args.window,
                     args.recipients or args.n, args.rate)
        print(json.dumps(r))
        return 0
    args.sustained = []
    for _ in range(max(1, args.runs)):
        if trio.run(gateway_main, args):
            return 1
    if args.runs > 1:
        runs = sorted(args.sustained)
        print(f"\nruns              {len(runs)}: sustained median {statistics.median(runs):.0f} "
              f"msg/s (min {runs[0]:.0f}, max {runs[-1]:.0f}): "
              + " ".join(f"{x:.0f}" for x in args.sustained))
    return 0


if __name__ == "__main__":
    sys.exit(main())
