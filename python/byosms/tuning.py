"""Interpreter settings for a long-running gateway process.

Process-wide, so `byosms serve` applies them, not the
Gateway class: an application embedding the Gateway keeps its own.

Garbage collector: the pipeline frees almost everything by reference
counting; the cyclic collector rarely finds work. With CPython's default
thresholds (a young collection every 700 net allocations, a full one every
~100 of those) a busy gateway spent ~13% of its main thread collecting, the
full collections walking every long-lived object again and again. Once
start-up is done: move what exists to the permanent generation (never
scanned again) and collect less often. Cycles are still collected, later;
memory stays bounded (see the RSS figures of benches/gateway.py).

Switch interval: the store's writer thread releases the GIL for each SQLite
statement and must take it back from the event loop thread afterwards; with
the default 5 ms interval it often waited longer for the GIL than SQLite took
(benches/gateway.py, 40,000 messages: ~9,900 msg/s at 0.5 ms, ~10,700 at 0.1 ms).
"""

from __future__ import annotations

import gc
import sys

#: Young-generation threshold (net allocations between collections), and the
#: two older generations' (collections of the younger between theirs).
GC_THRESHOLDS = (50_000, 20, 20)
#: Seconds a thread may hold the GIL while another waits for it.
SWITCH_INTERVAL = 0.0001


def tune_process() -> None:
    """Apply both settings; call once start-up is done."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL)
