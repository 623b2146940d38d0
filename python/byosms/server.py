"""The composition root: one `byosms serve` process assembled — store, the
pipeline's runtime, websocket API, web app (webhooks, admin REST) and, when
configured, the built-in SMSC simulator — all under one nursery. Only the
command line (cli, demo) imports this module (checked by import-linter).

    gateway = Gateway(load_config(path), base_dir=path.parent)
    async with trio.open_nursery() as nursery:
        await nursery.start(gateway.run)     # listening, integrations started
        ...                                  # gateway.ws_port, gateway.web_port
        nursery.cancel_scope.cancel()        # shutdown is cancellation

Flows (ARCHITECTURE.md):
- MT: the API server's MessageAcceptor commits messages as queued and pokes
  the integration's sender (gateway.sender), which hands claimed segments to
  the provider; results and receipts are recorded by gateway.outcomes.
- DLR: a provider's receipts -> Outcomes (group commit) before it answers.
- MO: a provider's inbound messages -> InboundHandler (keywords, opt-outs,
  auto-replies through the same acceptor as every send).
- Operational events -> gateway.events (batched).
Every write goes through a NotifyingStore so websocket readers wake.

Crash safety comes from the store: what is in_flight at a crash goes back to
queued on the next open and is submitted again (at-least-once: the SMSC may
see a segment twice — see docs/design.md), and vendor ids are stored so
receipts of segments submitted before a restart still match.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from byosms.api.server import ApiLimits, ApiServer
from byosms.gateway.accept import MessageAcceptor
from byosms.gateway.events import OperationalEvents
from byosms.gateway.inbound import InboundHandler
from byosms.gateway.lifecycle import IntegrationLifecycle, LifecycleError, _to_store, validate_config
from byosms.gateway.notify import NotifyingStore
from byosms.gateway.numbers import NumberInventory
from byosms.gateway.outcomes import Outcomes
from byosms.gateway.runtime import IntegrationRunner
from byosms.providers.base import ProviderRuntime
from byosms.schemas.config import GatewayConfig
from byosms.schemas.records import Integration, Number
from byosms.store.base import Conflict
from byosms.store.crypto import generate_key
from byosms.store.sqlite import open_sqlite_store

log = logging.getLogger("byosms.gateway")

#: Where the in-process simulator's name resolves to.
SIMULATOR_HOST = "simulator"
#: Key file written next to the database when no key is configured.
KEY_FILE_SUFFIX = ".key"

__all__ = ["Gateway", "GatewayConfigError", "GatewayError", "SIMULATOR_HOST"]


class GatewayError(Exception):
    """The gateway cannot start or run: its message is one line naming the
    problem (`byosms serve` prints it and exits 1)."""


class GatewayConfigError(GatewayError):
    """The configuration cannot work (an integration of the config file, a
    setting needing a package): `byosms serve` exits 2."""


async def _listening(what: str, host: str, port: int, start: Any) -> Any:
    """``await start()``, a port that can't be listened on as one line."""
    try:
        return await start()
    except (OSError, BaseExceptionGroup) as exc:
        # A listener may fail inside its own nursery: an OSError in a group.
        found = [e for e in _leaves(exc) if isinstance(e, OSError)]
        if not found:
            raise
        e = found[0]
        why = ("address already in use" if e.errno == errno.EADDRINUSE
               else e.strerror or str(e))
        raise GatewayError(f"{what} cannot listen on {host}:{port}: {why}") from None


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for e in exc.exceptions for leaf in _leaves(e)]
    return [exc]


class _PipelineStore(NotifyingStore):
    """The NotifyingStore the whole gateway writes through, which also wakes
    the sender of an integration when messages are accepted for it."""

    def __init__(self, store: Any, on_queued: Callable[[set[str]], None]) -> None:
        super().__init__(store)
        self._on_queued = on_queued

    async def accept_messages(self, items: Any) -> Any:
        try:
            return await self._store.accept_messages(items)
        finally:
            self._on_queued({m.integration for m, _, _ in items})

    async def accept_message(self, message: Any, segments: Any,
                             idempotency_key: str | None = None, **kwargs: Any) -> Any:
        try:
            return await self._store.accept_message(message, segments, idempotency_key,
                                                    **kwargs)
        finally:
            self._on_queued({message.integration})


def _reveal(v: Any) -> Any:
    return v.reveal() if hasattr(v, "reveal") else v


class Gateway:
    """Runs the whole gateway."""

    def __init__(self, config: GatewayConfig, *, base_dir: str | Path | None = None,
                 unlimited_rate_for_bench: bool = False,
                 simulator_ssl_ca: str | None = None) -> None:
        """``base_dir``: where relative paths of the config live (default: the
        current directory). ``unlimited_rate_for_bench`` turns the S4 rate
        limiter off: benches only, never reachable from a config file."""
        self.config = config
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        self._rate_limit = not unlimited_rate_for_bench
        self.store: Any = None
        self.api: ApiServer | None = None
        self.simulator: Any = None
        self._sim_client_ctx: ssl.SSLContext | None = None
        self.ws_port: int | None = None
        self.web_port: int | None = None
        self.key_file_created: Path | None = None
        self.runner: IntegrationRunner | None = None
        self.inbound: InboundHandler | None = None
        self.lifecycle: IntegrationLifecycle | None = None
        self._bu_of: dict[str, str] = {}

    # --- paths and keys -----------------------------------------------------------

    def _path(self, p: str) -> Path:
        path = Path(p).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def db_path(self) -> Path:
        return self._path(self.config.store.path)

    def _key(self) -> tuple[bytes | None, str | None]:
        """(key, key_file) for open_sqlite_store."""
        if self.config.store.secret_key_file is not None:
            return None, str(self._path(self.config.store.secret_key_file))
        if os.environ.get("BYOSMS_SECRET_KEY"):
            return None, None
        key_file = self.db_path().with_name(self.db_path().name + KEY_FILE_SUFFIX)
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(generate_key() + "\n")
            self.key_file_created = key_file
            log.warning("no secret key configured: generated %s (mode 0600); back it up — "
                        "the stored secrets cannot be read without it", key_file)
        return None, str(key_file)

    @asynccontextmanager
    async def open_store(self) -> AsyncIterator[Any]:
        """The configured store (the raw backend), key file made if needed."""
        path = self.db_path()
        opened = False
        try:
            key, key_file = self._key()
            path.parent.mkdir(parents=True, exist_ok=True)
            async with open_sqlite_store(path, key=key, key_file=key_file,
                                         synchronous=self.config.store.synchronous,
                                         wal_limit_mb=self.config.store.wal_limit_mb) as raw:
                opened = True
                yield raw
        except (sqlite3.Error, OSError) as e:
            if opened:
                raise
            # One line for the operator: which file, and what the system said.
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            if isinstance(e, OSError) and e.filename and str(e.filename) != str(path):
                why += f" ({e.filename})"
            raise GatewayError(f"cannot open the store {path}: {why}") from None

    # --- running ------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; ``started(self)`` once the listeners are bound
        and the integrations started (binds may still be connecting)."""
        from byosms.web.admin import AdminApi
        from byosms.web.app import create_app, serve_web

        async with self.open_store() as raw:
            if raw.recovered_in_flight:
                log.info("requeued %d segments that were in flight at the last stop",
                         raw.recovered_in_flight)
            store = self.store = _PipelineStore(raw, self._poke)
            async with trio.open_nursery() as nursery:
                events = OperationalEvents(store, self._business_unit_of)
                nursery.start_soon(events.run)
                runner: IntegrationRunner | None = None
                outcomes = Outcomes(store, lambda iid: runner.get(iid) if runner else None)
                await nursery.start(outcomes.run)
                acceptor = MessageAcceptor(store)
                self.inbound = InboundHandler(store, acceptor.accept_reply)
                if self.config.simulator.enabled:
                    await self._start_simulator(nursery)
                runner = self.runner = IntegrationRunner(
                    store, nursery=nursery, events=events, outcomes=outcomes,
                    inbound=self.inbound,
                    provider_runtime=ProviderRuntime(resolve_host=self._resolve_host,
                                                     rate_limit=self._rate_limit),
                    on_started=self._remember_unit)
                await self._seed_from_config()
                ws = self.config.websocket
                self.api = ApiServer(store, acceptor=acceptor,
                                     limits=ApiLimits(**ws.limits()))
                await _listening("the websocket API", ws.host, ws.port,
                                 lambda: nursery.start(self.api.serve, ws.host, ws.port))
                self.ws_port = self.api.port
                self.lifecycle = IntegrationLifecycle(store, runner)
                inventory = NumberInventory(store, vendor_check=runner.check_number)
                app = create_app(runner, on_event=events.emit,
                                 admin=AdminApi(store, self.lifecycle, inventory))
                web = self.config.web
                self.web_port = await _listening(
                    "the web app", web.host, web.port,
                    lambda: nursery.start(serve_web, app, web.host, web.port))
                for integ in await store.list_integrations():
                    self._remember_unit(integ)
                    if integ.state == "active":
                        await runner.start(integ.id)
                task_status.started(self)

    def _poke(self, integrations: set[str]) -> None:
        if self.runner is not None:
            self.runner.poke(integrations)

    def _remember_unit(self, integ: Integration) -> None:
        self._bu_of[integ.id] = integ.business_unit

    def _business_unit_of(self, integration_id: str) -> str:
        return self._bu_of.get(integration_id, "default")

    # --- the runtime, as tests and tools reach it ---------------------------------

    async def start(self, integration_id: str) -> None:
        assert self.runner is not None, "the gateway is not running"
        await self.runner.start(integration_id)

    async def stop(self, integration_id: str) -> None:
        assert self.runner is not None, "the gateway is not running"
        await self.runner.stop(integration_id)

    async def restart(self, integration_id: str) -> None:
        assert self.runner is not None, "the gateway is not running"
        await self.runner.restart(integration_id)

    def bind_addresses(self, integration_id: str) -> list[str]:
        return self.runner.bind_addresses(integration_id) if self.runner is not None else []

    def provider(self, integration_id: str) -> Any:
        return self.runner.provider(integration_id) if self.runner is not None else None

    # --- the simulator ------------------------------------------------------------

    async def _start_simulator(self, nursery: trio.Nursery) -> None:
        from byosms.testing.smsc import SmscSimulator

        sc = self.config.simulator
        server_ctx = None
        if sc.tls:
            try:
                import trustme
            except ImportError:
                raise GatewayConfigError("the simulator's TLS needs the trustme package "
                                   "(pip install trustme), or set simulator.tls = false") from None
            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost", SIMULATOR_HOST)
            server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(server_ctx)
            client_ctx = ssl.create_default_context()
            ca.configure_trust(client_ctx)
            self._sim_client_ctx = client_ctx
        self.simulator = SmscSimulator(
            system_id=sc.system_id, password=sc.password, host=sc.listen.host,
            port=sc.listen.port, ssl_context=server_ctx, receipt_delay=sc.receipt_delay,
            record=10_000,
        )
        await _listening("the SMSC simulator", sc.listen.host, sc.listen.port,
                         lambda: nursery.start(self.simulator.serve))
        log.info("SMSC simulator on %s:%d (%s)", sc.listen.host, self.simulator.port,
                 "tls" if sc.tls else "tcp")

    def _resolve_host(self, host: str) -> tuple[str, int, ssl.SSLContext | None] | None:
        """The built-in simulator's name as an endpoint, for providers that
        connect to hosts (SMPP)."""
        if host != SIMULATOR_HOST:
            return None
        if self.simulator is None:
            raise GatewayError('host "simulator" needs [simulator] enabled = true')
        return "127.0.0.1", self.simulator.port, self._sim_client_ctx

    # --- the config file's integrations and numbers -------------------------------

    async def _seed_from_config(self) -> None:
        """Integrations and numbers of the config file into the store: created
        when missing, an integration's config updated when it changed. The
        store's state (activated / deactivated through the admin API) wins
        over the file's `active` once the integration exists."""
        store = self.store
        for entry in self.config.integrations:
            body = entry.body()
            try:
                decoded, _ = validate_config(entry.provider, body, origin="config_file")
            except LifecycleError as e:
                raise GatewayConfigError(f"integration `{entry.id}` in the config file: "
                                   f"{e.message}") from None
            if (entry.provider == "smpp" and getattr(decoded, "host", None) == SIMULATOR_HOST
                    and not self.config.simulator.enabled):
                raise GatewayConfigError(f"integration `{entry.id}` in the config file: "
                                         f'`host` "{SIMULATOR_HOST}" needs [simulator] '
                                         "enabled = true")
            cfg = _to_store(decoded, body)
            existing = await store.get_integration(entry.id)
            if existing is None or existing.state == "deleted":
                if existing is not None:
                    continue  # deleted through the admin API: stays deleted
                await store.create_integration(
                    entry.business_unit, entry.provider, entry.name or entry.id, cfg,
                    state="active" if entry.active else "inactive", id=entry.id)
                continue
            plain = {k: v for k, v in cfg.items() if k not in existing.secret_fields}
            changed = plain != existing.config
            if not changed and existing.secret_fields:
                stored = await store.reveal_secrets(entry.id)
                changed = any(f in cfg and _reveal(stored.get(f)) != _reveal(cfg[f])
                              for f in existing.secret_fields)
            if changed:
                await store.update_integration(entry.id, config=cfg)
                log.info("integration %s: configuration updated from the config file", entry.id)
        for n in self.config.numbers:
            if await store.get_number(n.number) is not None:
                continue
            entry = next(e for e in self.config.integrations if e.id == n.integration)
            try:
                await store.add_number(Number(n.number, n.type, n.integration,
                                              entry.business_unit, n.display_name))
            except Conflict as e:
                log.warning("number %s from the config not added: %s", n.number, e)
