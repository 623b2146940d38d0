"""The SMSC simulator's own ceiling: submit_sm/s with a receipt each.

Starts ``byosms smsc-sim`` in a subprocess (its own core) and drives it with
a deliberately minimal client: raw non-blocking sockets, submit_sm PDUs
encoded before the clock starts, a pipelined window of outstanding requests,
headers parsed with ``struct`` and deliver_sm_resp answers pre-packed. The
figure is the rate at which every submit_sm got its submit_sm_resp AND its
receipt (deliver_sm, answered): the simulator's throughput, not ours.

    python benches/smsc_ceiling.py [--messages 200000] [--window 256] [--binds 1] [--tls]
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

from byosms import _core

HEADER = struct.Struct(">IIII")
SUBMIT_SM_RESP = _core.CMD_SUBMIT_SM | 0x80000000
DELIVER_SM = _core.CMD_DELIVER_SM
DELIVER_SM_RESP = DELIVER_SM | 0x80000000


def start_simulator(extra: list[str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "byosms", "smsc-sim", "--port", "0", "--system-id", "bench",
         "--password", "bench", *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    while line.startswith("self-signed"):
        line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    port = int(line.split()[2].rsplit(":", 1)[1])
    return proc, port


class Client:
    """One pipelined bind. No per-message objects: headers are unpacked in place."""

    def __init__(
        self,
        port: int,
        messages: int,
        window: int,
        batch: int,
        first_seq: int,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.sock.sendall(
            _core.Pdu("bind_transceiver", 1, system_id="bench", password="bench").encode()
        )
        resp = self._read_exact(16)
        length, cid, status, _ = HEADER.unpack(resp)
        self._read_exact(length - 16)
        if status != 0:
            raise SystemExit(f"bind failed: {_core.status_name(status)}")
        self.sock.setblocking(False)
        self.messages = messages
        self.window = window
        self.batch = batch
        text = b"bench message, GSM text of ordinary length for a receipt"
        self.chunks = []
        seq = first_seq
        for start in range(0, messages, batch):
            n = min(batch, messages - start)
            self.chunks.append(
                (n, b"".join(
                    _core.encode_submit_sm(seq + i, "12345", "4915112345678", text)
                    for i in range(n)
                ))
            )
            seq += n
        self.next_chunk = 0
        self.sent = 0
        self.responses = 0
        self.receipts = 0
        self.errors = 0
        self.inbuf = bytearray()
        self.outbuf = bytearray()

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            part = self.sock.recv(n - len(data))
            if not part:
                raise SystemExit("connection closed")
            data += part
        return data

    @property
    def done(self) -> bool:
        return self.responses >= self.messages and self.receipts >= self.messages

    def want_write(self) -> bool:
        if self.outbuf:
            return True
        if self.next_chunk < len(self.chunks) and self.sent - self.responses <= self.window - self.batch:
            n, data = self.chunks[self.next_chunk]
            self.next_chunk += 1
            self.sent += n
            self.outbuf += data
            return True
        return False

    def on_writable(self) -> None:
        try:
            n = self.sock.send(self.outbuf)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return
        del self.outbuf[:n]

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(1 << 20)
            # TLS may hold decrypted bytes the selector cannot see.
            while isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                data += self.sock.recv(1 << 20)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        if not data:
            raise SystemExit("simulator closed the connection")
        buf = self.inbuf
        buf += data
        pos = 0
        end = len(buf)
        unpack = HEADER.unpack_from
        acks = []
        while end - pos >= 16:
            length, cid, status, seq = unpack(buf, pos)
            if end - pos < length:
                break
            pos += length
            if cid == SUBMIT_SM_RESP:
                self.responses += 1
                if status:
                    self.errors += 1
            elif cid == DELIVER_SM:
                self.receipts += 1
                acks.append(HEADER.pack(16, DELIVER_SM_RESP, 0, seq))
        del buf[:pos]
        if acks:
            self.outbuf += b"".join(acks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000, help="submit_sm per bind")
    parser.add_argument("--window", type=int, default=256, help="outstanding submit_sm per bind")
    parser.add_argument("--batch", type=int, default=64, help="submit_sm written per send")
    parser.add_argument("--binds", type=int, default=1, help="concurrent binds")
    parser.add_argument("--tls", action="store_true", help="TLS (simulator's self-signed CA)")
    parser.add_argument("--sim-arg", action="append", default=[], help="extra smsc-sim argument")
    args = parser.parse_args()

    tls = None
    sim_args = list(args.sim_arg)
    if args.tls:
        import tempfile

        ca_path = os.path.join(tempfile.mkdtemp(), "ca.pem")
        sim_args += ["--tls-self-signed", "--tls-ca-out", ca_path]
    proc, port = start_simulator(sim_args)
    if args.tls:
        tls = ssl.create_default_context(cafile=ca_path)
    try:
        clients = [
            Client(port, args.messages, args.window, min(args.batch, args.window), 2, tls)
            for _ in range(args.binds)
        ]
        sel = selectors.DefaultSelector()
        for c in clients:
            sel.register(c.sock, selectors.EVENT_READ, c)
        t0 = time.perf_counter()
        while not all(c.done for c in clients):
            for c in clients:
                ev = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.want_write() else 0)
                sel.modify(c.sock, ev, c)
            for key, mask in sel.select(timeout=5):
                c = key.data
                if mask & selectors.EVENT_READ:
                    c.on_readable()
                if mask & selectors.EVENT_WRITE:
                    c.on_writable()
            if time.perf_counter() - t0 > 600:
                raise SystemExit("gave up after 600 s")
        # The last deliver_sm_resps: let them go before stopping the clock.
        for c in clients:
            c.sock.setblocking(True)
            c.sock.sendall(c.outbuf)
        elapsed = time.perf_counter() - t0
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    total = args.messages * args.binds
    errors = sum(c.errors for c in clients)
    stats = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    print(
        f"smsc-sim ceiling: {total / elapsed:,.0f} submit_sm/s with a receipt each "
        f"({total} messages, {args.binds} bind(s), {'tls' if tls else 'tcp'}, "
        f"window {args.window}, {elapsed:.2f} s, "
        f"{errors} error responses, cpus={os.cpu_count()})"
    )
    print(
        f"simulator counted: submit_sm={stats.get('submit_sm')} receipts_sent="
        f"{stats.get('receipts_sent')} receipts_acked={stats.get('receipts_acked')}"
    )


if __name__ == "__main__":
    main()
