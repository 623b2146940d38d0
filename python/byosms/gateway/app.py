"""The gateway assembled: store, websocket API, web app, providers and the
per-integration sender tasks, all under one nursery (issue 5 item 4).

    gateway = Gateway(load_config(path), base_dir=path.parent)
    async with trio.open_nursery() as nursery:
        await nursery.start(gateway.run)     # listening, integrations started
        ...                                  # gateway.ws_port, gateway.web_port
        nursery.cancel_scope.cancel()        # shutdown is cancellation

Flows (ARCHITECTURE.md):
- MT: the API server's MessageAcceptor commits messages as queued and pokes
  the integration's sender. The sender claims queued segments in batches
  (store: queued -> in_flight), keeps up to ``binds * window`` of them in the
  engine at once (one slow segment holds only its own slot), and every
  submit result goes through a group-commit batcher into
  ``record_submits`` before the engine lets receipts match it.
- DLR: the engine's on_receipt -> ``record_receipts`` (batched); it returns
  after the commit, so deliver_sm_resp follows the commit.
- MO: on_mo -> InboundHandler.handle (commits before returning).
- Operational events -> ``append_events`` (batched).
Every write goes through ``NotifyingStore`` so websocket readers wake.

Crash safety comes from the store: what is in_flight at a crash goes back to
queued on the next open and is submitted again (at-least-once: the SMSC may
see a segment twice — see docs/design.md), and vendor ids are stored so
receipts of segments submitted before a restart still match.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

import msgspec
import trio

from byosms._core import receipt_id_keys
from byosms.advanced_config import GenericErrorCode
from byosms.api.server import ApiServer
from byosms.gateway.accept import MessageAcceptor
from byosms.gateway.inbound import InboundHandler
from byosms.gateway.inbound import InboundMessage as GatewayInbound
from byosms.gateway.lifecycle import IntegrationLifecycle, _plain, _to_store, validate_config
from byosms.gateway.notify import NotifyingStore
from byosms.providers.smpp.messages import (
    DELIVERED,
    AddressError,
    DeliveryReceipt,
    InboundMessage,
    OutboundMessage,
    OutboundSegment,
    SubmitResult,
)
from byosms.schemas.config import GatewayConfig
from byosms.schemas.events import OperationalEvent
from byosms.schemas.records import (
    Integration,
    NewEvent,
    Number,
    Receipt,
    Segment,
    SubmitError,
    SubmitOutcome,
)
from byosms.schemas.smpp import decode_smpp_config
from byosms.store.base import RECORDED, Conflict, StoreError
from byosms.store.crypto import generate_key
from byosms.store.sqlite import open_sqlite_store

log = logging.getLogger("byosms.gateway")

#: Segments claimed per store call. Larger batches cost one transaction for
#: more segments; the window (below) bounds how many are outstanding anyway.
CLAIM_BATCH = 256
#: How long an idle sender sleeps before looking at the queue again when
#: nothing poked it (segments requeued by a transient error, another process).
IDLE_POLL = 0.5
#: A segment whose submit failed transiently goes back to the queue at most
#: this many times (the engine already retried it MAX_SUBMIT_ATTEMPTS times
#: per claim); then it fails for good.
MAX_CLAIMS = 5
#: Items per store call of the group-commit batchers.
WRITE_BATCH = 512
#: Where the in-process simulator's name resolves to.
SIMULATOR_HOST = "simulator"
#: Key file written next to the database when no key is configured.
KEY_FILE_SUFFIX = ".key"

_RETRYABLE = frozenset({GenericErrorCode.RETRYABLE_FAILURE, GenericErrorCode.DEFERRED})
_ESM_UDHI = 0x40

T = TypeVar("T")
R = TypeVar("R")


class GatewayError(Exception):
    """The gateway cannot start (bad key, unusable configuration)."""


class _Batcher(Generic[T, R]):
    """Group commit: callers hand in one item and wait for its result; a
    single task writes whatever accumulated in one batch call, so N
    concurrent callers cost one transaction, not N."""

    def __init__(self, fn: Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]],
                 max_batch: int = WRITE_BATCH) -> None:
        self._fn = fn
        self._max = max_batch
        #: Callers' items, a list per call (`many` hands in thousands a
        #: second: no object per item), and who waits for their results.
        self._entries: list[tuple[Sequence[T], _Waiting]] = []
        self._wake = trio.Event()

    async def __call__(self, item: T) -> R:
        (result,) = await self.many((item,))
        if isinstance(result, BaseException):
            raise result
        return result

    async def many(self, items: Sequence[T]) -> list[R | BaseException]:
        """Several items, one wait: their results (or errors), in order."""
        if not items:
            return []
        waiting = _Waiting()
        self._entries.append((items, waiting))
        self._wake.set()
        await waiting.done.wait()
        return waiting.results

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            if not self._entries:
                self._wake = trio.Event()
                await self._wake.wait()
            # Whole calls, up to max_batch items (a larger call goes alone).
            entries = self._entries
            n = total = 0
            while n < len(entries) and (n == 0 or total + len(entries[n][0]) <= self._max):
                total += len(entries[n][0])
                n += 1
            batch, self._entries = entries[:n], entries[n:]
            items = batch[0][0] if n == 1 else [x for part, _ in batch for x in part]
            try:
                results: Sequence[Any] = await self._fn(items)
            except Exception as e:  # noqa: BLE001 - every caller of the batch gets it
                results = [e] * total
            at = 0
            for part, waiting in batch:
                waiting.results = list(results[at:at + len(part)])
                at += len(part)
                waiting.done.set()


class _Waiting:
    __slots__ = ("done", "results")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.results: list[Any] = []


class _Gauge:
    """A count with a wait for it to drop below a mark."""

    __slots__ = ("value", "_changed")

    def __init__(self) -> None:
        self.value = 0
        self._changed = trio.Event()

    def add(self, n: int) -> None:
        self.value += n
        if n < 0:
            self._changed.set()

    async def wait_below(self, mark: int) -> None:
        while self.value >= mark:
            self._changed = trio.Event()
            await self._changed.wait()


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


class _Running:
    """One started integration: its provider and the scope that runs it."""

    def __init__(self, integration: Integration, provider: Any) -> None:
        self.integration = integration
        self.provider = provider
        self.scope = trio.CancelScope()
        self.stopped = trio.Event()
        self.work = trio.Event()
        self.submitted = 0
        #: segment id -> times claimed (store `attempts`), while in the engine.
        self.claims: dict[int, int] = {}
        #: Segments whose submit was cancelled by `stop`: requeued afterwards.
        self.orphans: list[int] = []

    def poke(self) -> None:
        self.work.set()


def _reveal(v: Any) -> Any:
    return v.reveal() if hasattr(v, "reveal") else v


def _encoding(dcs: int) -> str:
    return {0: "gsm7", 1: "ascii", 3: "latin1", 8: "ucs2"}.get(dcs & 0x0F if dcs < 0x10 else dcs,
                                                                "binary")


class Gateway:
    """Runs the whole gateway; also the `IntegrationRuntime` of the admin
    lifecycle (start / stop / restart / bind_addresses)."""

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
        self._running: dict[str, _Running] = {}
        self._nursery: trio.Nursery | None = None
        self._registry: Any = None
        self._events_send, self._events_recv = trio.open_memory_channel[OperationalEvent](
            float("inf"))
        self._bu_of: dict[str, str] = {}
        self.inbound: InboundHandler | None = None
        self._record_submits: _Batcher[SubmitOutcome, Any] | None = None
        self._record_receipts: _Batcher[Receipt, Any] | None = None
        self.lifecycle: IntegrationLifecycle | None = None

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
        key, key_file = self._key()
        self.db_path().parent.mkdir(parents=True, exist_ok=True)
        async with open_sqlite_store(self.db_path(), key=key, key_file=key_file,
                                     synchronous=self.config.store.synchronous) as raw:
            yield raw

    # --- running ------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; ``started(self)`` once the listeners are bound
        and the integrations started (binds may still be connecting)."""
        from byosms.web.admin import AdminApi
        from byosms.web.app import IntegrationRegistry, create_app, serve_web

        async with self.open_store() as raw:
            if raw.recovered_in_flight:
                log.info("requeued %d segments that were in flight at the last stop",
                         raw.recovered_in_flight)
            store = self.store = _PipelineStore(raw, self._poke)
            # The pipeline reads only errors (and unmatched receipts) from
            # these: the store need not read back what it wrote to answer.
            self._record_submits = _Batcher(functools.partial(store.record_submits, details=False))
            self._record_receipts = _Batcher(functools.partial(store.record_receipts, details=False))
            self.inbound = InboundHandler(store)
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await nursery.start(self._record_submits.run)
                await nursery.start(self._record_receipts.run)
                nursery.start_soon(self._event_writer)
                if self.config.simulator.enabled:
                    await self._start_simulator(nursery)
                await self._seed_from_config()
                self.api = ApiServer(store, acceptor=MessageAcceptor(store))
                ws = self.config.websocket
                await nursery.start(self.api.serve, ws.host, ws.port)
                self.ws_port = self.api.port
                self._registry = IntegrationRegistry()
                self.lifecycle = IntegrationLifecycle(store, self)
                app = create_app(self._registry, on_event=self._on_event,
                                 admin=AdminApi(store, self.lifecycle))
                web = self.config.web
                self.web_port = await nursery.start(serve_web, app, web.host, web.port)
                for integ in await store.list_integrations():
                    if integ.state == "active":
                        await self.start(integ.id)
                task_status.started(self)

    async def _start_simulator(self, nursery: trio.Nursery) -> None:
        from byosms.testing.smsc import SmscSimulator

        sc = self.config.simulator
        server_ctx = None
        if sc.tls:
            try:
                import trustme
            except ImportError:
                raise GatewayError("the simulator's TLS needs the trustme package "
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
        await nursery.start(self.simulator.serve)
        log.info("SMSC simulator on %s:%d (%s)", sc.listen.host, self.simulator.port,
                 "tls" if sc.tls else "tcp")

    async def _seed_from_config(self) -> None:
        """Integrations and numbers of the config file into the store: created
        when missing, an integration's config updated when it changed. The
        store's state (activated / deactivated through the admin API) wins
        over the file's `active` once the integration exists."""
        store = self.store
        for entry in self.config.integrations:
            body = getattr(entry, entry.provider) or {}
            decoded, _ = validate_config(entry.provider, body)
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

    # --- IntegrationRuntime -------------------------------------------------------

    async def start(self, integration_id: str) -> None:
        if integration_id in self._running:
            return
        assert self._nursery is not None, "the gateway is not running"
        integ = await self.store.get_integration(integration_id)
        if integ is None or integ.state != "active":
            return
        self._bu_of[integ.id] = integ.business_unit
        provider = await self._build_provider(integ)
        running = _Running(integ, provider)
        if integ.provider == "smpp":
            await self._relearn(provider, integ.id)
        self._running[integration_id] = running
        await self._nursery.start(self._run_integration, running)

    async def stop(self, integration_id: str) -> None:
        running = self._running.pop(integration_id, None)
        if running is None:
            return
        running.scope.cancel()
        await running.stopped.wait()
        if running.orphans:
            # In flight when stopped: back to the queue now, not at the next
            # process start (the SMSC may have taken some: at-least-once).
            outcomes = [SubmitOutcome(segment_id=i, error=SubmitError(
                permanent=False, generic_code=int(GenericErrorCode.RETRYABLE_FAILURE),
                generic_cause="INTEGRATION_STOPPED")) for i in running.orphans]
            with trio.CancelScope(shield=True):
                await self.store.record_submits(outcomes)  # per-item Conflict: already done

    async def restart(self, integration_id: str) -> None:
        await self.stop(integration_id)
        await self.start(integration_id)

    def bind_addresses(self, integration_id: str) -> list[str]:
        running = self._running.get(integration_id)
        if running is None:
            return []
        out = []
        for b in getattr(running.provider, "bound", []):
            addr = getattr(b, "local_address", None)
            if addr:
                out.append(str(addr))
        return out

    def provider(self, integration_id: str) -> Any:
        running = self._running.get(integration_id)
        return None if running is None else running.provider

    async def _build_provider(self, integ: Integration) -> Any:
        secrets = await self.store.reveal_secrets(integ.id)
        raw = _plain({**integ.config, **secrets})
        iid = integ.id
        callbacks = dict(
            integration_id=iid,
            on_event=self._on_event,
            # partial (not lambda): the engines see an async callable.
            on_submit_result=functools.partial(self._on_submit_result, iid),
            on_receipt=functools.partial(self._on_receipt, iid),
            on_mo=functools.partial(self._on_mo, iid),
        )
        if integ.provider == "twilio":
            from byosms.providers.twilio import TwilioIntegration
            from byosms.schemas.twilio import decode_twilio_config

            return TwilioIntegration(decode_twilio_config(raw), **callbacks)
        ssl_ctx = None
        if raw.get("host") == SIMULATOR_HOST:
            if self.simulator is None:
                raise GatewayError(f"integration {iid}: host \"simulator\" needs "
                                   f"[simulator] enabled = true")
            raw["host"] = "127.0.0.1"
            raw["port"] = self.simulator.port
            raw["transport"] = "tls" if self._sim_client_ctx is not None else "tcp"
            ssl_ctx = self._sim_client_ctx
        from byosms.providers.smpp.supervisor import SmppIntegration

        return SmppIntegration(decode_smpp_config(raw), ssl_context=ssl_ctx,
                               rate_limit=self._rate_limit,
                               on_submit_results=functools.partial(self._on_submit_results, iid),
                               on_receipts=functools.partial(self._on_receipts, iid),
                               **callbacks)

    async def _relearn(self, provider: Any, iid: str) -> None:
        """Segments a previous run submitted still await receipts: the engine
        correlates receipts in memory (holding an unknown one for its
        submit_sm_resp), so tell it about them before the binds come up."""
        from byosms.providers.smpp.correlation import MessageTrack, TrackedSegment

        for seg, count in await self.store.submitted_segments(iid):
            tracked = TrackedSegment(seg.message_id, str(seg.id), seg.index + 1, count,
                                     MessageTrack(count))
            provider.correlator.register(tracked, seg.vendor_message_id)

    async def _run_integration(self, running: _Running, *,
                               task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        provider = running.provider
        is_smpp = running.integration.provider == "smpp"
        try:
            with running.scope:
                if not is_smpp:
                    self._registry.add(provider)
                async with trio.open_nursery() as nursery:
                    await nursery.start(provider.run)
                    nursery.start_soon(self._sender, running)
                    task_status.started()
        finally:
            if not is_smpp and self._registry is not None:
                self._registry.remove("twilio", running.integration.id)
            running.stopped.set()
            if self._running.get(running.integration.id) is running:
                del self._running[running.integration.id]

    def _poke(self, integrations: set[str]) -> None:
        for iid in integrations:
            running = self._running.get(iid)
            if running is not None:
                running.poke()

    # --- MT: the sender -----------------------------------------------------------

    async def _sender(self, running: _Running) -> None:
        """Drain the integration's queue: keep up to `window` segments in the
        engine; each finishes on its own, so a slow one holds one slot only.
        New claims wait until half the window is free: one claim (one
        transaction) then brings many segments, not one per freed slot."""
        provider = running.provider
        iid = running.integration.id
        cfg = provider.config
        window = getattr(cfg, "binds", 1) * getattr(cfg, "window", 10)
        refill = max(1, window // 2)
        payload = getattr(cfg, "concatenation", "") == "payload"
        gauge = _Gauge()
        batched = running.integration.provider == "smpp" and hasattr(provider, "submit_many")
        async with trio.open_nursery() as nursery:
            while True:
                if hasattr(provider, "wait_bound"):
                    await provider.wait_bound()
                while window - gauge.value < refill:
                    await gauge.wait_below(window - refill + 1)
                free = min(window - gauge.value, CLAIM_BATCH)
                running.work = trio.Event()
                try:
                    segs = await self.store.claim_segments(iid, free)
                except StoreError as e:
                    log.warning("claim_segments(%s) failed: %s", iid, e)
                    segs = []
                if not segs:
                    with trio.move_on_after(IDLE_POLL):
                        await running.work.wait()
                    continue
                gauge.add(len(segs))
                if batched:
                    nursery.start_soon(self._submit_batch, running, segs, payload, gauge)
                    continue
                for seg in segs:
                    nursery.start_soon(self._submit_one, running, seg, payload, gauge)

    async def _submit_one(self, running: _Running, seg: Segment, payload: bool,
                          gauge: _Gauge) -> None:
        running.claims[seg.id] = seg.attempts
        try:
            await self._submit(running, seg, payload)
        except trio.Cancelled:
            running.orphans.append(seg.id)
            raise
        finally:
            running.claims.pop(seg.id, None)
            gauge.add(-1)

    async def _submit_batch(self, running: _Running, segs: list[Segment], payload: bool,
                            gauge: _Gauge) -> None:
        """A claim's segments through the engine's submit_many: their first
        attempts leave together; each frees its window slot when done."""
        claims = running.claims
        for seg in segs:
            claims[seg.id] = seg.attempts
        done = [False] * len(segs)

        def finished(i: int) -> None:
            done[i] = True
            running.submitted += 1
            claims.pop(segs[i].id, None)
            gauge.add(-1)

        try:
            results = await running.provider.submit_many(
                [self._outbound(seg, payload) for seg in segs], on_done=finished)
            for i, r in enumerate(results):
                if isinstance(r, BaseException):
                    await self._submit_failed(running, segs[i], r)
        except BaseException:  # Cancelled, possibly grouped by the engine's nurseries
            running.orphans.extend(seg.id for i, seg in enumerate(segs) if not done[i])
            raise
        finally:
            for i, seg in enumerate(segs):
                if not done[i]:
                    claims.pop(seg.id, None)
                    gauge.add(-1)

    @staticmethod
    def _outbound(seg: Segment, payload: bool) -> OutboundMessage:
        out = OutboundSegment(
            seg.short_message, seg.dcs, bool(seg.esm_class & _ESM_UDHI),
            (seg.sar_ref, seg.sar_total, seg.sar_seq) if seg.sar_ref is not None else None,
            payload,
        )
        return OutboundMessage(
            message_id=seg.message_id, source=seg.source, destination=seg.destination,
            segments=[out], segment_ids=[str(seg.id)])

    async def _submit(self, running: _Running, seg: Segment, payload: bool) -> None:
        try:
            if running.integration.provider != "smpp":
                await self._submit_whole(running, seg)
                return
            await running.provider.submit(self._outbound(seg, payload))
            running.submitted += 1
        except Exception as e:  # noqa: BLE001
            await self._submit_failed(running, seg, e)

    async def _submit_failed(self, running: _Running, seg: Segment, exc: BaseException) -> None:
        try:
            raise exc
        except (AddressError, ValueError) as e:  # SmppError is a ValueError
            await self._record_submits(SubmitOutcome(  # type: ignore[misc]
                segment_id=seg.id,
                error=SubmitError(permanent=True, generic_code=int(GenericErrorCode.REJECTED),
                                  generic_cause="INVALID_MESSAGE")))
            self._on_event(OperationalEvent(
                kind="delivery_failure", integration=running.integration.id,
                detail=f"segment {seg.id} of {seg.message_id} cannot be sent: {e}"))
        except Exception as e:  # noqa: BLE001 - requeued (or failed after MAX_CLAIMS)
            log.error("submit of segment %s failed", seg.id, exc_info=e)
            try:
                await self._record_submits(SubmitOutcome(  # type: ignore[misc]
                    segment_id=seg.id, error=SubmitError(
                        permanent=seg.attempts >= MAX_CLAIMS,
                        generic_code=int(GenericErrorCode.RETRYABLE_FAILURE),
                        generic_cause=type(e).__name__)))
            except Exception:  # noqa: BLE001 - stays in flight; requeued at the next start
                pass

    async def _submit_whole(self, running: _Running, seg: Segment) -> None:
        """HTTP providers (Twilio) take a message's whole text and report per
        message. The first segment carries the send; the others are marked
        submitted under a placeholder id, and the message's receipts update
        every segment (see `_on_receipt`)."""
        if seg.index != 0:
            await self._record_submits(SubmitOutcome(  # type: ignore[misc]
                segment_id=seg.id, vendor_message_id=f"part:{seg.message_id}:{seg.index}"))
            return
        message = await self.store.get_message(seg.message_id)
        if message is None:  # cannot happen: segments live with their message
            return
        await running.provider.submit(OutboundMessage(
            message_id=seg.message_id, source=seg.source, destination=seg.destination,
            text=message.text, segment_ids=[str(seg.id)]))
        running.submitted += 1

    async def _on_submit_result(self, iid: str, r: SubmitResult) -> None:
        """Committed before the engine lets receipts match the vendor id."""
        seg_id = int(r.segment_id)
        if r.ok:
            outcome = SubmitOutcome(segment_id=seg_id, vendor_message_id=r.vendor_message_id)
        else:
            running = self._running.get(iid)
            claims = running.claims.get(seg_id, MAX_CLAIMS) if running is not None else MAX_CLAIMS
            transient = r.generic_code in _RETRYABLE
            outcome = SubmitOutcome(segment_id=seg_id, error=SubmitError(
                permanent=not transient or claims >= MAX_CLAIMS,
                generic_code=int(r.generic_code), generic_cause=r.cause,
                vendor_code=r.command_status))
        res = await self._record_submits(outcome)  # type: ignore[misc]
        if isinstance(res, StoreError):
            # Conflict: not in flight any more (e.g. requeued by a restart of
            # the store) — nothing to record; anything else must not ack.
            if not isinstance(res, Conflict):
                raise res
        elif not r.ok and res.state == "queued":
            running = self._running.get(iid)
            if running is not None:
                running.poke()

    async def _on_submit_results(self, iid: str, rs: list[SubmitResult]) -> None:
        """`_on_submit_result` for a batch of successes: one wait for the
        group commit."""
        res = await self._record_submits.many(  # type: ignore[union-attr]
            [SubmitOutcome(segment_id=int(r.segment_id), vendor_message_id=r.vendor_message_id)
             for r in rs if r.ok])
        for x in res:
            if isinstance(x, BaseException) and not isinstance(x, Conflict):
                raise x

    # --- DLR and MO ---------------------------------------------------------------

    @staticmethod
    def _receipt_record(iid: str, r: DeliveryReceipt) -> Receipt:
        if r.is_final:
            state = "delivered" if r.state == DELIVERED else "failed"
        else:
            state = "submitted"
        segment_id = int(r.segment_id) if r.segment_id and r.segment_id.isdigit() else None
        return Receipt(
            integration=iid,
            # The store matches by vendor id only when the engine could not
            # say which segment it is: then every form of the id counts.
            vendor_ids=(r.vendor_message_id,) if segment_id is not None
            else tuple(receipt_id_keys(r.vendor_message_id)),
            segment_id=segment_id,
            state=state,  # type: ignore[arg-type]
            generic_code=int(r.generic_code),
            generic_cause=r.cause,
            vendor_code=r.vendor_code,
            vendor_status=r.state_name,
        )

    async def _on_receipts(self, iid: str, rs: list[DeliveryReceipt]) -> None:
        """SMPP receipts of one read: one wait for the group commit; returns
        after it (the engine answers deliver_sm_resp then)."""
        res = await self._record_receipts.many(  # type: ignore[union-attr]
            [self._receipt_record(iid, r) for r in rs])
        for r, x in zip(rs, res):
            if isinstance(x, BaseException):
                raise x  # answered with a temporary error: the SMSC redelivers
            if x is not RECORDED and x.segment is None:
                log.info("receipt for unknown vendor id %s on %s dropped",
                         r.vendor_message_id, iid)

    async def _on_receipt(self, iid: str, r: DeliveryReceipt) -> None:
        """Returns after the commit: the engine answers deliver_sm_resp then."""
        receipt = self._receipt_record(iid, r)
        running = self._running.get(iid)
        if running is not None and running.integration.provider != "smpp" and r.message_id:
            # Per-message receipt (see _submit_whole): every segment takes it.
            segs = await self.store.get_segments(r.message_id)
            results = []
            async with trio.open_nursery() as nursery:
                for seg in segs:
                    one = msgspec.structs.replace(receipt, segment_id=seg.id)

                    async def put(one: Receipt = one) -> None:
                        results.append(await self._record_receipts(one))  # type: ignore[misc]

                    nursery.start_soon(put)
            for res in results:
                if isinstance(res, StoreError):
                    raise res
            return
        res = await self._record_receipts(receipt)  # type: ignore[misc]
        if isinstance(res, StoreError):
            raise res  # answered with a temporary error: the SMSC redelivers
        if res is not RECORDED and res.segment is None:
            log.info("receipt for unknown vendor id %s on %s dropped", r.vendor_message_id, iid)

    async def _on_mo(self, iid: str, m: InboundMessage) -> None:
        assert self.inbound is not None
        dcs = m.data_coding
        mo = GatewayInbound(integration=iid, source=m.source, destination=m.destination,
                            text=m.text, segments=max(m.parts, 1),
                            # The provider decoded the text: GSM-7 as it would be sent.
                            encoding=_encoding(dcs) if dcs is not None else "gsm7",
                            dcs=dcs or 0)
        await self.inbound.handle(mo)

    # --- operational events -------------------------------------------------------

    def _on_event(self, ev: OperationalEvent) -> None:
        try:
            self._events_send.send_nowait(ev)
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            pass
        level = logging.WARNING if ev.kind in ("bind_failed", "bind_down", "delivery_failure") \
            else logging.INFO
        log.log(level, "%s %s%s", ev.integration, ev.kind, f": {ev.detail}" if ev.detail else "")

    async def _event_writer(self) -> None:
        while True:
            batch = [await self._events_recv.receive()]
            while len(batch) < WRITE_BATCH:
                try:
                    batch.append(self._events_recv.receive_nowait())
                except trio.WouldBlock:
                    break
            events = [
                NewEvent(self._bu_of.get(ev.integration or "", "default"), "operational",
                         msgspec.to_builtins(ev))
                for ev in batch
            ]
            try:
                await self.store.append_events(events)
            except StoreError as e:
                log.warning("could not store %d operational events: %s", len(events), e)


__all__ = ["CLAIM_BATCH", "Gateway", "GatewayError"]
