"""`byosms serve` as a user runs it: a subprocess with a config file, an API
key made by `byosms apikey create`, the admin REST API over HTTP and the
websocket API through the client. Every wait has a deadline."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio

from byosms.client import connect

BYOSMS = [sys.executable, "-m", "byosms"]
#: Start-up of a `byosms serve` process on a slow CI machine, at most.
START_DEADLINE = 60
#: A pipeline step (send -> status, webhook -> event), at most.
WAIT = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A running `byosms serve`: its URLs, key and the admin API."""

    def __init__(self, tmp: Path, ws_port: int, web_port: int, token: str,
                 output: Path) -> None:
        self.tmp = tmp
        self.ws_url = f"ws://127.0.0.1:{ws_port}/"
        self.web = f"http://127.0.0.1:{web_port}"
        self.token = token
        self.output = output
        self.http = httpx.AsyncClient(base_url=self.web + "/admin/v1",
                                      headers={"Authorization": f"Bearer {token}"},
                                      timeout=WAIT)

    def log(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    async def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.http.request(method, path, **kw)

    def client(self, **kw: Any) -> Any:
        return connect(self.ws_url, self.token, **kw)

    async def events(self, type_: str | None = None, after: int = 0) -> list[dict]:
        r = await self.admin("GET", "/events", params={"after": after, "limit": 1000,
                                                        **({"type": type_} if type_ else {})})
        assert r.status_code == 200, r.text
        return r.json()["events"]

    async def wait_event(self, predicate: Any, *, type_: str | None = None,
                         limit: float = WAIT) -> dict:
        """The first stored event (admin API) that ``predicate`` accepts."""
        with trio.fail_after(limit):
            while True:
                for ev in await self.events(type_):
                    if predicate(ev):
                        return ev
                await trio.sleep(0.05)


@asynccontextmanager
async def serve(tmp: Path, config: str, *, env: dict[str, str] | None = None,
                business_unit: str = "default", web_port: int | None = None):
    """Run `byosms serve` with ``config`` (its [websocket] and [web] sections
    are added here; ``web_port`` when the config must name it) until the
    block ends."""
    ws_port, web_port = free_port(), web_port or free_port()
    cfg = tmp / "serve.toml"
    cfg.write_text(f"[websocket]\nport = {ws_port}\n[web]\nport = {web_port}\n" + config)
    run_env = {**os.environ, **(env or {})}
    key = subprocess.run([*BYOSMS, "apikey", "create", "--business-unit", business_unit,
                          "--name", "tests", "--config", str(cfg)],
                         capture_output=True, text=True, timeout=START_DEADLINE, env=run_env)
    assert key.returncode == 0, key.stderr
    token = key.stdout.split()[0]
    output = tmp / "serve.log"
    with output.open("wb") as out:
        async with trio.open_nursery() as nursery:
            proc = await nursery.start(lambda task_status: trio.run_process(
                [*BYOSMS, "serve", "--config", str(cfg)], stdout=out, stderr=out, env=run_env,
                check=False, task_status=task_status))
            served = Served(tmp, ws_port, web_port, token, output)
            try:
                with trio.fail_after(START_DEADLINE):
                    while True:
                        if proc.returncode is not None:
                            raise AssertionError(f"byosms serve exited {proc.returncode}:\n"
                                                 f"{served.log()}")
                        try:
                            r = await served.admin("GET", "/integrations")
                            if r.status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                        await trio.sleep(0.1)
                yield served
            finally:
                await served.http.aclose()
                proc.terminate()
                with trio.move_on_after(10):
                    await proc.wait()
                nursery.cancel_scope.cancel()


async def finals(client: Any, ids: set[str]) -> dict[str, Any]:
    """The final message-level status event of each of ``ids``."""
    from byosms.schemas import api

    out: dict[str, Any] = {}
    with trio.fail_after(WAIT):
        async for ev in client.events():
            if isinstance(ev, api.Status) and ev.segment is None and ev.message_id in ids \
                    and ev.state in ("delivered", "failed"):
                out[ev.message_id] = ev
                if set(out) == ids:
                    return out
    raise AssertionError(f"the connection ended with {out}")


async def inbound_and_keyword(client: Any, text: str) -> tuple[Any, Any]:
    """The `inbound` event carrying ``text`` and the next `keyword` event."""
    from byosms.schemas import api

    inbound = keyword = None
    with trio.fail_after(WAIT):
        async for ev in client.events():
            if isinstance(ev, api.Inbound) and ev.text == text:
                inbound = ev
            if isinstance(ev, api.Keyword):
                keyword = ev
            if inbound and keyword:
                return inbound, keyword
    raise AssertionError("the connection ended first")
