"""Tiny side-by-side timing harness shared by the benches.

Each case runs its callables in one process, interleaved, best of several
repeats (the minimum is the least noisy estimate on a shared 2-core machine).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Row:
    case: str
    impl: str
    ns_per_op: float


def time_per_op(fn: Callable[[], object], *, ops_per_call: int = 1, min_time: float = 0.2,
                repeats: int = 5) -> float:
    """ns per operation: calibrate a loop count to ~min_time, best of `repeats`."""
    fn()  # warm up (imports, caches)
    loops = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time / 4 or loops >= 1 << 24:
            break
        loops *= 2
    best = float("inf")
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(loops):
                fn()
            best = min(best, time.perf_counter() - t0)
    finally:
        if gc_was:
            gc.enable()
    return best / (loops * ops_per_call) * 1e9


def report(rows: list[Row], ours: str = "byosms") -> str:
    """A table: one line per case and implementation, with ratio peer/ours."""
    out = [f"{'case':<42} {'impl':<26} {'ns/op':>12} {'peer/ours':>10}"]
    cases: dict[str, list[Row]] = {}
    for r in rows:
        cases.setdefault(r.case, []).append(r)
    for case, rs in cases.items():
        base = next((r.ns_per_op for r in rs if r.impl.startswith(ours)), None)
        for r in rs:
            ratio = "" if base is None or r.impl.startswith(ours) else f"{r.ns_per_op / base:9.1f}x"
            out.append(f"{case:<42} {r.impl:<26} {r.ns_per_op:12.0f} {ratio:>10}")
    return "\n".join(out)
