"""Deadlines for the tests' waits. A wait that never ends fails its test with a
message saying what never happened, well before the per-test timeout
(pyproject.toml) ends it. The bounds are generous, not timing asserts: they
are only reached when something is broken."""

from __future__ import annotations

import inspect
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import trio

#: Upper bound of one wait in a test (s).
WAIT = 30.0


def _describe(predicate: Callable[[], object]) -> str:
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)


async def wait_for(predicate: Callable[[], object], *, timeout: float = WAIT,
                   step: float = 0.005) -> None:
    """Poll until predicate() holds, failing after `timeout` seconds. Real
    seconds, whatever trio's clock: tests on a MockClock poll too."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {_describe(predicate)}")
        await trio.sleep(step)


@contextmanager
def kill_after(proc: subprocess.Popen, timeout: float = WAIT) -> Iterator[None]:
    """Kill `proc` if the block still runs after `timeout` seconds: a blocking
    read of its output then ends, and the block fails saying so."""
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if killed.is_set():
            raise AssertionError(f"{proc.args} killed: still running after {timeout:g} s")
