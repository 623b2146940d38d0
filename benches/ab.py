"""Interleaved A/B of the gateway bench: this tree against a git revision.

    .venv/bin/python benches/ab.py REV [--pairs 6] [-- gateway bench args]

On a shared 2-core machine one bench run drifts by ±15% with the machine's
phase, more than most changes are worth. Runs alternate (REV, this tree,
REV, ...) so both sides see the same phases; printed per pair and at the end:
medians, the geometric mean of the per-pair ratios and how many pairs the
tree won; and the CPU each side spent per message (all processes; the
gateway's by thread), the quantity a change to the code actually moves.

REV's Python package is exported with `git archive` into a temporary
directory and put first on PYTHONPATH; it runs with this tree's built
extension (`python/byosms/_core*.so`), so REV must not need a Rust change
that this tree's extension lacks. To compare Rust changes too, build REV's
extension and give it with `--rev-ext PATH`.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sustained(cwd: Path, env: dict[str, str], args: list[str]) -> tuple[float, float, str] | None:
    """(msg/s, CPU µs per message of gateway + simulator + clients, the
    gateway's CPU µs per message by thread) of one bench run."""
    out = subprocess.run([sys.executable, "benches/gateway.py", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600)
    m = re.search(r"^messages\s+(\d+) sent", out.stdout, re.M)
    r = re.search(r"^sustained\s+(\d+) msg/s", out.stdout, re.M)
    c = re.search(r"^CPU seconds\s+gateway ([\d.]+)\s+simulator ([\d.]+)\s+clients ([\d.]+)",
                  out.stdout, re.M)
    t = re.search(r"^gateway threads\s+(.*)$", out.stdout, re.M)
    if m is None or r is None or c is None or t is None:
        print(out.stdout[-2000:], out.stderr[-2000:], file=sys.stderr)
        return None
    n = int(m.group(1))
    per_thread = " ".join(f"{name} {float(sec) * 1e6 / n:.0f}"
                          for name, sec in re.findall(r"(\S+) ([\d.]+)", t.group(1)))
    return float(r.group(1)), sum(map(float, c.groups())) * 1e6 / n, per_thread


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("rev", help="git revision to compare this tree against")
    p.add_argument("--pairs", type=int, default=6, help="runs of each side, interleaved")
    p.add_argument("--rev-ext", type=Path, metavar="PATH",
                   help="REV's built extension (_core*.so); default: this tree's")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    p.epilog = "Arguments after -- go to benches/gateway.py."
    a = p.parse_args(argv[:cut])
    bench = argv[cut + 1:]
    ext = sorted((ROOT / "python" / "byosms").glob("_core*.so"))
    if not ext:
        raise SystemExit("build the extension first (maturin develop)")
    tmp = Path(tempfile.mkdtemp(prefix="byosms-ab-"))
    try:
        archive = subprocess.run(["git", "archive", a.rev, "python/byosms", "benches"],
                                 cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        for so in ext:
            shutil.copy2(a.rev_ext or so, tmp / "python" / "byosms" / so.name)
        base_env = {**os.environ, "PYTHONPATH": str(tmp / "python")}
        here_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        base: list[float] = []
        here: list[float] = []
        cpu: list[tuple[float, float]] = []
        for k in range(a.pairs):
            b = sustained(tmp, base_env, bench)
            h = sustained(ROOT, here_env, bench)
            if b is None or h is None:
                return 1
            base.append(b[0])
            here.append(h[0])
            cpu.append((b[1], h[1]))
            print(f"pair {k + 1}: {a.rev} {b[0]:.0f} msg/s, {b[1]:.0f} CPU µs/msg ({b[2]})  "
                  f"tree {h[0]:.0f} msg/s, {h[1]:.0f} CPU µs/msg ({h[2]})", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = math.exp(statistics.mean(math.log(h / b) for b, h in zip(base, here)))
    wins = sum(h > b for b, h in zip(base, here))
    print(f"median: {a.rev} {statistics.median(base):.0f}  tree {statistics.median(here):.0f} "
          f"msg/s; tree/{a.rev} {ratio:.3f} (geometric mean of pairs); tree faster in "
          f"{wins} of {a.pairs}")
    cpu_ratio = math.exp(statistics.mean(math.log(h / b) for b, h in cpu))
    print(f"CPU µs per message (gateway + simulator + clients): {a.rev} "
          f"{statistics.median(b for b, _ in cpu):.0f}  tree {statistics.median(h for _, h in cpu):.0f}; "
          f"tree/{a.rev} {cpu_ratio:.3f} (geometric mean of pairs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
