"""Interleaved A/B of the gateway bench: this tree against a git revision.

    .venv/bin/python benches/ab.py REV [--pairs 6] [-- gateway bench args]

On a shared 2-core machine one bench run drifts by ±15% with the machine's
phase, more than most changes are worth. Runs alternate (REV, this tree,
REV, ...) so both sides see the same phases; printed per pair and at the end:
medians, the geometric mean of the per-pair ratios and how many pairs the
tree won.

REV's Python package is exported with `git archive` into a temporary
directory and put first on PYTHONPATH; it runs with this tree's built
extension (`python/byosms/_core*.so`), so REV must not need a Rust change
that this tree's extension lacks (build REV's instead for such a comparison).
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


def sustained(cwd: Path, env: dict[str, str], args: list[str]) -> float | None:
    out = subprocess.run([sys.executable, "benches/gateway.py", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600)
    m = re.search(r"^sustained\s+(\d+) msg/s", out.stdout, re.M)
    if m is None:
        print(out.stdout[-2000:], out.stderr[-2000:], file=sys.stderr)
        return None
    return float(m.group(1))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("rev", help="git revision to compare this tree against")
    p.add_argument("--pairs", type=int, default=6, help="runs of each side, interleaved")
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
            shutil.copy2(so, tmp / "python" / "byosms" / so.name)
        base_env = {**os.environ, "PYTHONPATH": str(tmp / "python")}
        here_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        base: list[float] = []
        here: list[float] = []
        for k in range(a.pairs):
            b = sustained(tmp, base_env, bench)
            h = sustained(ROOT, here_env, bench)
            if b is None or h is None:
                return 1
            base.append(b)
            here.append(h)
            print(f"pair {k + 1}: {a.rev} {b:.0f}  tree {h:.0f} msg/s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = math.exp(statistics.mean(math.log(h / b) for b, h in zip(base, here)))
    wins = sum(h > b for b, h in zip(base, here))
    print(f"median: {a.rev} {statistics.median(base):.0f}  tree {statistics.median(here):.0f} "
          f"msg/s; tree/{a.rev} {ratio:.3f} (geometric mean of pairs); tree faster in "
          f"{wins} of {a.pairs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
