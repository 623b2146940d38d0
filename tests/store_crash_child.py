"""Child process of test_store_crash: accepts messages as fast as it can from
many tasks and claims some, printing each result only after the store call
returned (i.e. after commit), until the parent kills it with SIGKILL.

    python store_crash_child.py DB    (key in $BYOSMS_SECRET_KEY)
"""

from __future__ import annotations

import sys

import trio

from byosms.schemas.records import Message, Segment
from byosms.store import open_sqlite_store

ACCEPTERS = 32


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(db: str) -> None:
    async with open_sqlite_store(db) as store:
        integ = await store.create_integration("bu", "smpp", "crash", {"host": "h"},
                                               state="active")
        say(f"I {integ.id}")

        async def accepter(k: int) -> None:
            n = 0
            while True:
                n += 1
                msg = Message("", "mt", integ.id, "bu", "+1555", f"+1666{k:03d}{n:07d}",
                              "hi", "gsm7", 0, 2)
                segs = [Segment(0, "", 0, b"a"), Segment(0, "", 1, b"b")]
                a = await store.accept_message(msg, segs, f"{k}-{n}")
                say(f"A {a.message.id} {k}-{n}")

        async def claimer() -> None:
            while True:
                for seg in await store.claim_segments(integ.id, 3):
                    say(f"C {seg.id}")
                await trio.sleep(0)

        async with trio.open_nursery() as nursery:
            for k in range(ACCEPTERS):
                nursery.start_soon(accepter, k)
            nursery.start_soon(claimer)


if __name__ == "__main__":
    trio.run(main, sys.argv[1])
