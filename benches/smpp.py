"""SMPP engine throughput and latency: our SmppIntegration vs the smpp34
package's asyncio Client, against the same SMSC in the same run. Two SMSCs
(``--targets``): our simulator ("sim") and smpp34's asyncio Server
("smpp34", tests/smpp34_smsc.py: an SMPP stack we did not write).

The simulator runs in a subprocess (``byosms smsc-sim``, its own core); our
engine runs in this process on trio (1 bind, ``rate_limit=False``: the S4
cap of 100/s would make a throughput figure meaningless); smpp34's Client
runs in another subprocess (asyncio and trio can't share a loop). Both drive
the same workload: ``window`` concurrent senders of single-segment messages
with registered_delivery 1, until every message has its submit_sm_resp AND
its delivery receipt. Reported: messages/s (first submit to last receipt),
p50/p99 submit->resp and submit->receipt latency.

    python benches/smpp.py [--messages 20000] [--windows 1,10,64] [--targets sim,smpp34]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def summary(n: int, elapsed: float, resp: list[float], rcpt: list[float]) -> dict[str, float]:
    return {
        "messages": n,
        "rate": n / elapsed,
        "resp_p50": pct(resp, 50) * 1e3,
        "resp_p99": pct(resp, 99) * 1e3,
        "rcpt_p50": pct(rcpt, 50) * 1e3,
        "rcpt_p99": pct(rcpt, 99) * 1e3,
    }


# --- ours (trio) ----------------------------------------------------------------


def run_ours(port: int, window: int, n: int) -> dict[str, float]:
    import trio

    from byosms.providers.smpp.messages import OutboundMessage
    from byosms.providers.smpp.supervisor import SmppIntegration
    from byosms.schemas.smpp import decode_smpp_config

    cfg = decode_smpp_config({
        "host": "127.0.0.1", "port": port, "transport": "tcp", "system_id": "bench",
        "password": "bench", "binds": 1, "window": window, "enquire_link_interval": 3600,
    })
    started = [0.0] * n
    resp: list[float] = []
    rcpt: list[float] = []
    perf = time.perf_counter
    done = trio.Event()

    def on_receipt(r) -> None:  # sync callback: no await needed
        rcpt.append(perf() - started[int(r.message_id)])
        if len(rcpt) == n:
            done.set()

    async def main() -> dict[str, float]:
        integ = SmppIntegration(cfg, integration_id="bench", rate_limit=False, on_receipt=on_receipt)
        counter = iter(range(n))
        msgs = [
            OutboundMessage(message_id=str(i), source="+4915100000001",
                            destination="+4915112345678", text=f"bench message {i}")
            for i in range(n)
        ]

        async def worker() -> None:
            submit = integ.submit
            for i in counter:
                t0 = perf()
                started[i] = t0
                await submit(msgs[i])
                resp.append(perf() - t0)

        async with integ:
            await integ.wait_bound()
            t0 = perf()
            async with trio.open_nursery() as nursery:
                for _ in range(window):
                    nursery.start_soon(worker)
            await done.wait()
            elapsed = perf() - t0
        return summary(n, elapsed, resp, rcpt)

    return trio.run(main)


# --- smpp34 (asyncio, in a subprocess) -------------------------------------------


async def smpp34_client(port: int, window: int, n: int, cap: float) -> dict[str, float]:
    """Stops submitting after ``cap`` seconds (its window-1 pace is ~40 ms a
    message here: Nagle / delayed-ACK stalls) and reports what completed."""
    import smpp34

    client = smpp34.Client("127.0.0.1", port, "bench", "bench", bind_type="TRX",
                           window_size=window)
    smsc = await client.connect()
    perf = time.perf_counter
    sent_at: dict[str, float] = {}
    received_at: dict[str, float] = {}
    resp: list[float] = []
    done = asyncio.Event()
    counter = iter(range(n))
    deadline = perf() + cap

    async def worker() -> None:
        for i in counter:
            t0 = perf()
            if t0 > deadline:
                return
            r = await smsc.submit_sm("4915112345678", f"bench message {i}".encode(),
                                     source_addr="4915100000001", registered_delivery=1)
            resp.append(perf() - t0)
            sent_at[r.message_id] = t0

    async def reader() -> None:
        while True:
            ev = await smsc.next()
            if isinstance(ev, smpp34.Disconnected):
                return
            sm = ev.short_message
            if sm.startswith(b"id:"):
                received_at[sm[3:sm.index(b" ")].decode()] = perf()
                if len(received_at) >= len(sent_at) and stopped:
                    done.set()

    stopped = False
    rtask = asyncio.ensure_future(reader())
    t0 = perf()
    await asyncio.gather(*(worker() for _ in range(window)))
    stopped = True
    if len(received_at) < len(sent_at):
        await asyncio.wait_for(done.wait(), 60)
    elapsed = perf() - t0
    rtask.cancel()
    rcpt = [received_at[k] - sent_at[k] for k in sent_at if k in received_at]
    try:
        await smsc.unbind()
    except Exception:
        pass
    return summary(len(rcpt), elapsed, resp, rcpt)


def run_smpp34(port: int, window: int, n: int, cap: float) -> dict[str, float] | str:
    """The client's figures, or why there are none (it crashed or hung)."""
    try:
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--smpp34-client", str(port), str(window),
             str(n), str(cap)],
            capture_output=True, text=True, timeout=cap + 90,
        )
    except subprocess.TimeoutExpired:
        return "hung (killed)"
    if out.returncode != 0:
        return f"crashed (exit {out.returncode})"
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_smpp34_smsc() -> tuple[subprocess.Popen[str], int]:
    """smpp34's asyncio Server (tests/smpp34_smsc.py) in a subprocess."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "smpp34_smsc.py")
    proc = subprocess.Popen([sys.executable, script, str(port)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening"):
        proc.kill()
        raise SystemExit(f"smpp34 SMSC did not start: {line!r}")
    return proc, port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--windows", default="1,10,64")
    ap.add_argument("--targets", default="sim,smpp34",
                    help="SMSCs to run against: sim (ours), smpp34 (smpp34's Server)")
    ap.add_argument("--smpp34-cap", type=float, default=15.0,
                    help="seconds smpp34's client may submit per window (it is slow at window 1)")
    ap.add_argument("--smpp34-client", nargs=4, type=float, metavar=("PORT", "WINDOW", "N", "CAP"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.smpp34_client:
        port, window, n, cap = args.smpp34_client
        print(json.dumps(asyncio.run(smpp34_client(int(port), int(window), int(n), cap))))
        return
    from smsc_ceiling import start_simulator

    rows = []
    for target in args.targets.split(","):
        if target == "sim":
            proc, port = start_simulator([])
        elif target == "smpp34":
            proc, port = start_smpp34_smsc()
        else:
            raise SystemExit(f"unknown target {target!r}: sim or smpp34")
        try:
            for w in (int(x) for x in args.windows.split(",")):
                # Window 1 is latency-bound: fewer messages keep the run short.
                n = args.messages if w > 1 else max(args.messages // 5, 1000)
                ours = run_ours(port, w, n)
                theirs = run_smpp34(port, w, n, args.smpp34_cap)
                rows.append((target, w, "byosms (trio)", ours, None))
                if isinstance(theirs, str):
                    rows.append((target, w, f"smpp34 Client: {theirs}", None, None))
                else:
                    rows.append((target, w, "smpp34 Client (asyncio)", theirs,
                                 ours["rate"] / theirs["rate"]))
        finally:
            proc.terminate()
            proc.wait()
    print(f"{'smsc':<6} {'window':>6} {'client':<24} {'msgs':>6} {'msg/s':>9} {'resp p50':>9} {'resp p99':>9} "
          f"{'rcpt p50':>9} {'rcpt p99':>9} {'ours/theirs':>11}")
    for target, w, name, r, ratio in rows:
        if r is None:
            print(f"{target:<6} {w:>6} {name}")
            continue
        print(f"{target:<6} {w:>6} {name:<24} {r['messages']:>6} {r['rate']:>9.0f} {r['resp_p50']:>7.2f}ms "
              f"{r['resp_p99']:>7.2f}ms {r['rcpt_p50']:>7.2f}ms {r['rcpt_p99']:>7.2f}ms "
              f"{'' if ratio is None else f'{ratio:10.2f}x':>11}")


if __name__ == "__main__":
    main()
