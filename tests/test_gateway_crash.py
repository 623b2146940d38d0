"""Crash safety end to end: `byosms serve` in a subprocess against a simulator
in this process; N messages sent through the websocket client; the gateway
is SIGKILLed mid-stream and started again. Every accepted message must reach
the simulator and every message's final status event must reach the client.
Duplicates (at-least-once) are counted and must stay within the window that
docs/design.md documents: segments submitted but not yet recorded."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import trio
import trustme

from byosms.client import ConnectionLost, connect
from byosms.schemas import api
from byosms.testing.smsc import SmscSimulator

N = 2000
#: Kill once the simulator has seen this many submit_sm: the rest is queued
#: or in flight in the gateway.
KILL_AFTER = 400
SENDER = "+14155550100"
MARK = re.compile(rb"crash-(\d+)")
#: Upper bound for the whole exchange; a failure, not a timing assertion.
LIMIT = 90


def write_config(tmp: Path, port: int, ca: Path) -> Path:
    cfg = tmp / "gw.toml"
    cfg.write_text(f"""\
[websocket]
port = 0
[web]
port = 0
[store]
path = "gw.db"
[[integrations]]
id = "smsc"
provider = "smpp"
[integrations.smpp]
host = "127.0.0.1"
port = {port}
ca_file = "{ca}"
system_id = "byosms"
password = "secret"
binds = 2
window = 50
messages_per_second = 100
[[numbers]]
number = "{SENDER}"
integration = "smsc"
""")
    return cfg


class GatewayProcess:
    def __init__(self, cfg: Path, log: Path) -> None:
        self.cfg = cfg
        self.log = log
        self.proc: trio.Process | None = None
        self.url: str | None = None

    async def start(self) -> None:
        with open(self.log, "ab") as err:
            self.proc = await trio.lowlevel.open_process(
                [sys.executable, "-m", "byosms", "serve", "--config", str(self.cfg)],
                stdout=subprocess.PIPE, stderr=err)
        buf = b""
        with trio.fail_after(30):
            while b"websocket API:" not in buf or not buf.endswith(b"\n"):
                chunk = await self.proc.stdout.receive_some(4096)
                if not chunk:
                    raise AssertionError("gateway exited: " + self.log.read_text()[-2000:])
                buf += chunk
        self.url = re.search(rb"websocket API: (\S+)", buf).group(1).decode()

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            with trio.move_on_after(10):
                await self.proc.wait()
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()


@pytest.mark.slow
# Its own deadlines (the gateway's start, LIMIT, the apikey command) add up
# to more than the default per-test timeout: they fail first, saying which.
@pytest.mark.timeout(240)
async def test_sigkill_mid_stream_loses_nothing(tmp_path):
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    import ssl

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    seen: Counter[int] = Counter()

    sim = SmscSimulator(ssl_context=server_ctx, receipt_delay=0.01, record=4 * N)
    async with sim:
        cfg = write_config(tmp_path, sim.port, ca_file)
        p = subprocess.run([sys.executable, "-m", "byosms", "apikey", "create",
                            "--business-unit", "default", "--name", "crash", "--config",
                            str(cfg)], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        token = p.stdout.split()[0]
        gw = GatewayProcess(cfg, tmp_path / "gateway.log")
        accepted: dict[str, int] = {}
        statuses: Counter[str] = Counter()  # message-level final status events per message
        # One stored event can become two messages (a segment's status and the
        # message roll-up share a cursor): count each message by its identity.
        cursors: Counter[tuple] = Counter()

        def note(ev):
            cursors[(ev.cursor, type(ev).__name__, getattr(ev, "segment", None))] += 1
            if isinstance(ev, api.Status) and ev.segment is None and ev.state == "delivered":
                statuses[ev.message_id] += 1

        try:
            await gw.start()
            with trio.fail_after(LIMIT):
                # Phase 1: send everything, consume events, kill mid-stream.
                async with trio.open_nursery() as nursery:
                    async def consume():
                        try:
                            async with connect(gw.url, token, auto_ack=True) as c:
                                async for ev in c.events():
                                    note(ev)
                        except (ConnectionLost, OSError):
                            pass

                    async def produce():
                        try:
                            async with connect(gw.url, token) as c:
                                for start in range(0, N, 100):
                                    answers = await c.send_many(
                                        [{"to": "+14155550123", "text": f"crash-{i}",
                                          "from_": SENDER} for i in range(start, start + 100)])
                                    for i, a in zip(range(start, start + 100), answers):
                                        assert isinstance(a, api.Accepted), a
                                        accepted[a.message_id] = i
                        except (ConnectionLost, OSError):
                            pass  # killed: unanswered sends were never acknowledged

                    nursery.start_soon(consume)
                    nursery.start_soon(produce)
                    while len(sim.received) < KILL_AFTER:
                        await trio.sleep(0.01)
                    await gw.kill()
                in_flight_at_kill = len(accepted) - len(sim.received)
                assert in_flight_at_kill > 0, "nothing was left to resume"

                # Phase 2: restart; the same key resumes from its last ack.
                await gw.start()
                want = set(accepted)
                async with connect(gw.url, token, auto_ack=True) as c:
                    async for ev in c.events():
                        note(ev)
                        if want <= set(statuses):
                            break
        finally:
            await gw.stop()

        for pdu in sim.received:
            m = MARK.search(pdu.short_message)
            if m:
                seen[int(m.group(1))] += 1
    # Every accepted message reached the SMSC...
    missing = [i for i in accepted.values() if i not in seen]
    assert not missing, f"{len(missing)} accepted messages never reached the SMSC"
    # ...and its final status reached the client.
    assert set(accepted) <= set(statuses)
    dup_submits = sum(c - 1 for c in seen.values())
    dup_events = sum(c - 1 for c in cursors.values())
    # The at-least-once window: at most what the engine had outstanding (the
    # window of both binds) when the process died.
    assert dup_submits <= 2 * 50
    print(f"\naccepted {len(accepted)}, killed with {in_flight_at_kill} not yet at the SMSC; "
          f"duplicate submits {dup_submits}, events delivered twice {dup_events}")
    assert os.path.exists(tmp_path / "gw.db")
