"""Shared helpers for the SMPP bind / simulator tests (real sockets on loopback)."""

from __future__ import annotations

import ssl
from typing import Any

import trio
import trustme

from byosms.providers.smpp.bind import SmppBind
from byosms.schemas.smpp import SmppIntegrationConfig, decode_smpp_config
from byosms.testing import SmscSimulator
from deadlines import WAIT, wait_for  # noqa: F401 (wait_for: for the SMPP tests)

SYSTEM_ID = "acct"
PASSWORD = "pw123"


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("127.0.0.1", "localhost"))).configure_cert(ctx)
    return ctx


def config(sim: SmscSimulator, **overrides: Any) -> SmppIntegrationConfig:
    data: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": sim.port,
        "transport": "tcp" if sim.ssl_context is None else "tls",
        "system_id": SYSTEM_ID,
        "password": PASSWORD,
    }
    data.update(overrides)
    return decode_smpp_config(data)


def simulator(**kw: Any) -> SmscSimulator:
    kw.setdefault("system_id", SYSTEM_ID)
    kw.setdefault("password", PASSWORD)
    return SmscSimulator(**kw)


async def wait_bound(integ: Any, count: int = 1, *, timeout: float = WAIT) -> None:
    """Until `count` of the integration's binds are bound, failing (not
    hanging) after `timeout` seconds of trio's clock."""
    with trio.move_on_after(timeout) as scope:
        await integ.wait_bound(count)
    if scope.cancelled_caught:
        raise AssertionError(f"{len(integ.bound)} of {count} binds bound after {timeout:g} s")


class Recorder:
    """Collects a bind's operational events and incoming requests in order."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.log: list[tuple[str, Any]] = []

    def on_event(self, ev: Any) -> None:
        self.events.append(ev)
        self.log.append(("event", ev.kind))

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def make_bind(cfg: SmppIntegrationConfig, rec: Recorder | None = None, **kw: Any) -> SmppBind:
    return SmppBind(
        cfg, integration="it", on_event=rec.on_event if rec else None, **kw
    )
