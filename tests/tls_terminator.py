"""A TLS terminator for interoperability tests, used only where `socat` (the
preferred, independent terminator) is not installed: TLS is OpenSSL through
Python's ssl module; this file only moves bytes. Run as a subprocess:
``python tls_terminator.py LISTEN_PORT BACKEND_PORT CERT KEY``; prints
"listening PORT" once ready."""

from __future__ import annotations

import asyncio
import ssl
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main(port: int, backend: int, cert: str, key: str) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        br, bw = await asyncio.open_connection("127.0.0.1", backend)
        await asyncio.gather(pipe(reader, bw), pipe(br, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=ctx)
    print(f"listening {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]))
