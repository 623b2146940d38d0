"""What every fake HTTP provider shares: serving its ASGI app on loopback
with the gateway's own server helper, an HTTP client for its callbacks, and
a count of callbacks in flight (``wait_idle``)."""

from __future__ import annotations

from typing import Any

import httpx
import trio

__all__ = ["HttpFake"]


class HttpFake:
    """Base of the fakes: subclasses set ``self.app`` and ``self.host`` and
    schedule callbacks with ``_started_callbacks`` / ``_finished_callbacks``.
    ``await nursery.start(fake.run)`` or ``async with fake:``."""

    app: Any
    host: str = "127.0.0.1"

    def __init__(self) -> None:
        self.port = 0
        self._pending = 0
        self._idle = trio.Event()
        self._idle.set()
        self._client: httpx.AsyncClient | None = None
        self._nursery: trio.Nursery | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        from byosms.web import serve_web  # the gateway's own server helper

        async with httpx.AsyncClient(timeout=10.0) as client, trio.open_nursery() as nursery:
            self._client = client
            self._nursery = nursery
            self.port = await nursery.start(serve_web, self.app, self.host, 0)
            task_status.started(self)

    async def __aenter__(self) -> Any:
        self._cm = trio.open_nursery()
        nursery = await self._cm.__aenter__()
        await nursery.start(self.run)
        self._outer = nursery
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        self._outer.cancel_scope.cancel()
        return await self._cm.__aexit__(*exc)

    async def wait_idle(self) -> None:
        """Until every callback scheduled so far has been answered."""
        while self._pending:
            await self._idle.wait()

    def _schedule(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` (callbacks) in the background, counted."""
        assert self._nursery is not None
        self._pending += 1
        self._idle = trio.Event()
        self._nursery.start_soon(self._counted, fn, *args)

    async def _counted(self, fn: Any, *args: Any) -> None:
        try:
            await fn(*args)
        finally:
            self._pending -= 1
            if not self._pending:
                self._idle.set()
