"""One SMPP integration: supervised binds, submission, receipts, MO (trio).

    integration = SmppIntegration(
        config, integration_id="acme",
        on_event=events.append,            # OperationalEvent (sync)
        on_submit_result=store_result,     # SubmitResult per segment
        on_receipt=store_receipt,          # DeliveryReceipt
        on_mo=store_inbound,               # InboundMessage
    )
    async with integration:                # or: await nursery.start(integration.run)
        await integration.wait_bound()
        results = await integration.submit(OutboundMessage(...))

Callbacks may be plain functions or async functions. The SMSC gets the
deliver_sm_resp of a receipt or MO only after ``on_receipt`` / ``on_mo``
returned (a raising callback answers ESME_RX_T_APPN: the SMSC redelivers).
For one segment, ``on_submit_result`` always returns before ``on_receipt`` is
called: the vendor id is registered for correlation only afterwards, and a
receipt that overtakes it waits (see ``EARLY_RECEIPT_HOLD``).

Binds: ``config.binds`` of them (S6), each in its own task that reconnects
with jittered exponential backoff (``RECONNECT_*``) while binding fails;
a bind that came up resets it. State changes are the
binds' OperationalEvents (bind_up, bind_down, bind_failed with cause, S17);
the configuration's warnings (S1, S5) are emitted once as config_warning.
Cancellation is shutdown: each bound bind sends unbind.

Submission: the text is segmented by the core in one call with the advanced
configuration's charset chain (S8) and ``config.concatenation``. Each segment
goes to the bound transmitting bind with the fewest requests in flight, after
the integration's shared rate limiter (S4). ESME_RTHROTTLED / ESME_RMSGQFUL
pause the whole integration (``THROTTLE_BACKOFF_*``) and the segment is
retried without limit; other failures are mapped by the ErrorMapper (S7):
RETRYABLE_FAILURE / DEFERRED ones are retried up to ``MAX_SUBMIT_ATTEMPTS``,
the rest fail the segment. A segment never written is resent freely; one
written but unanswered (timeout, bind lost) at most ``IN_DOUBT_RETRIES``
more times (the SMSC may have it); an unreadable answer is never resent
(see ``_submit_segment`` and docs/engine.md).

Inbound: a deliver_sm / data_sm whose esm_class says "SMSC delivery receipt"
(bits 2-5 = 0001) or that carries receipted_message_id is a receipt;
everything else is an MO (see ``inbound``).
"""

from __future__ import annotations

import functools
import random
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import trio

from byosms import _core
from byosms._core import Chain, Pdu, SmppError, Tlv
from byosms.advanced_config import ErrorMapper, GenericErrorCode, load_advanced_config
from byosms.pipeline import (
    CallbackUrls,
    NumberCheck,
    SubmittedSegment,
    WebhookRequest,
    WebhookResponse,
)
from byosms.providers.base import callback as _callback
from byosms.providers.ratelimit import TrioRateLimiter
from byosms.providers.smpp.bind import BindError, EventAggregate, Later, NotSent, PduRejected, ResponseTimeout, SmppBind
from byosms.providers.smpp.correlation import MessageTrack, ReceiptCorrelator, TrackedSegment
from byosms.providers.smpp.inbound import DEFAULT_REASSEMBLY_TIMEOUT, MoAssembler
from byosms.providers.smpp.messages import (
    DELIVERED,
    DeliveryReceipt,
    InboundMessage,
    OutboundMessage,
    SubmitResult,
    outbound_destination,
    outbound_source,
)
from byosms.providers.smpp.session import LocalProtocolError, Response
from byosms.schemas.events import Cause, EventKind, OperationalEvent
from byosms.schemas.smpp import SmppIntegrationConfig

#: Reconnect backoff: first wait, ceiling, and +/- jitter fraction (so the
#: binds of many gateways don't reconnect in lockstep after an SMSC restart).
RECONNECT_INITIAL = 1.0
RECONNECT_MAX = 60.0
RECONNECT_JITTER = 0.2
#: Kept for callers that pass it: the backoff now resets on every successful
#: bind (a flapping SMSC made re-binds ever slower when it waited for 30 s).
STABLE_BIND = 30.0
#: Pause of the whole integration after ESME_RTHROTTLED / ESME_RMSGQFUL,
#: doubled while the SMSC keeps answering so, up to the ceiling.
THROTTLE_BACKOFF_INITIAL = 1.0
THROTTLE_BACKOFF_MAX = 30.0
#: Attempts for a segment failing with a retryable status (not throttling).
MAX_SUBMIT_ATTEMPTS = 3
#: Resends of a submit that was written but never answered (response timeout,
#: bind lost after the write): the SMSC may have it already, so each resend
#: may be a duplicate. At most 1 + IN_DOUBT_RETRIES copies per submit call.
IN_DOUBT_RETRIES = 1
#: Wait before the 2nd attempt; doubled per further attempt.
RETRY_BACKOFF_INITIAL = 1.0
#: How long a receipt that overtook its submit_sm_resp waits for it (the
#: response is on the wire already: milliseconds, normally).
EARLY_RECEIPT_HOLD = 5.0
#: Senders whose outbound_source() answer is kept (see SmppIntegration._prepare).
_SOURCE_CACHE = 1024

#: SMPP 3.4 section 5.2.12: esm_class UDHI = bit 6. (Which PDUs are receipts
#: the core says: `Pdu.receipt()`.)
ESM_UDHI = 0x40
#: SMPP 3.4 section 5.2.17: registered_delivery 1 = receipt on final outcome (S13).
REGISTERED_DELIVERY = 1

ESME_RTHROTTLED = _core.ESME_RTHROTTLED
ESME_RMSGQFUL = _core.ESME_RMSGQFUL
ALERT_NOTIFICATION = _core.CMD_ALERT_NOTIFICATION
TLV_MESSAGE_PAYLOAD = _core.TLV_MESSAGE_PAYLOAD
TLV_SAR_MSG_REF_NUM = _core.TLV_SAR_MSG_REF_NUM
TLV_SAR_TOTAL_SEGMENTS = _core.TLV_SAR_TOTAL_SEGMENTS
TLV_SAR_SEGMENT_SEQNUM = _core.TLV_SAR_SEGMENT_SEQNUM

_RETRYABLE = frozenset({GenericErrorCode.RETRYABLE_FAILURE, GenericErrorCode.DEFERRED})

#: Receipt message_state -> generic code when the vendor code is not mapped.
_STATE_GENERIC = {
    0: GenericErrorCode.DEFERRED,  # SCHEDULED (SMPP 5.0)
    1: GenericErrorCode.EN_ROUTE,
    2: GenericErrorCode.SUCCESS,
    3: GenericErrorCode.EXPIRED,
    4: GenericErrorCode.PERMANENT_FAILURE,  # DELETED
    5: GenericErrorCode.UNDELIVERABLE,
    6: GenericErrorCode.ACCEPTED,
    7: GenericErrorCode.UNKNOWN,
    8: GenericErrorCode.REJECTED,
    9: GenericErrorCode.REJECTED,  # SKIPPED (SMPP 5.0)
}


class _Started:
    """task_status for SmppBind.run(): tells the supervisor the bind is up."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[Any], None]) -> None:
        self.callback = callback

    def started(self, value: Any = None) -> None:
        self.callback(value)




class SmppIntegration:
    def __init__(
        self,
        config: SmppIntegrationConfig,
        *,
        integration_id: str,
        on_event: Callable[[OperationalEvent], Any] | None = None,
        on_receipt: Callable[[DeliveryReceipt], Any] | None = None,
        on_mo: Callable[[InboundMessage], Any] | None = None,
        on_receipts: Callable[[list[DeliveryReceipt]], Any] | None = None,
        on_submit_result: Callable[[SubmitResult], Any] | None = None,
        on_submit_results: Callable[[list[SubmitResult]], Any] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        rate_limit: bool = True,
        default_region: str | None = None,
        reconnect_initial: float = RECONNECT_INITIAL,
        reconnect_max: float = RECONNECT_MAX,
        stable_bind: float = STABLE_BIND,
        throttle_backoff: float = THROTTLE_BACKOFF_INITIAL,
        throttle_backoff_max: float = THROTTLE_BACKOFF_MAX,
        max_attempts: int = MAX_SUBMIT_ATTEMPTS,
        retry_backoff: float = RETRY_BACKOFF_INITIAL,
        in_doubt_retries: int = IN_DOUBT_RETRIES,
        early_receipt_hold: float = EARLY_RECEIPT_HOLD,
        reassembly_timeout: float = DEFAULT_REASSEMBLY_TIMEOUT,
        seed: int | None = None,
    ) -> None:
        """``rate_limit=False`` disables the S4 limiter: for benches and
        tests only (never from configuration). ``default_region`` (ISO
        3166 code) lets national inbound numbers be read as E.164.
        Raises AdvancedConfigError for a bad ``config.advanced_config``."""
        self.config = config
        self.integration_id = integration_id
        #: T4 / S12 (the contract): SMPP has no webhooks to drop; the gateway
        #: stops a deactivated integration's binds instead.
        self.active = True
        self._on_event = on_event
        self._on_receipt = _callback(on_receipt)
        self._on_mo = _callback(on_mo)
        #: Batch form of on_receipt: matched receipts of one read, one call.
        self._on_receipts = _callback(on_receipts)
        self._on_submit_result = _callback(on_submit_result)
        #: Batch form of on_submit_result for submit_many's first attempts.
        self._on_submit_results = _callback(on_submit_results)
        self._ssl_context = ssl_context
        self.advanced = load_advanced_config(config.advanced_config)
        self.errors = ErrorMapper(self.advanced)
        self.chain = Chain(self.advanced.charset_chain())
        self.limiter = TrioRateLimiter(config.messages_per_second) if rate_limit else None
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        self.stable_bind = stable_bind
        self.throttle_backoff = throttle_backoff
        self.throttle_backoff_max = throttle_backoff_max
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.in_doubt_retries = in_doubt_retries
        self.early_receipt_hold = early_receipt_hold
        self.correlator = ReceiptCorrelator()
        self.mo = MoAssembler(
            self.chain,
            plus_prefix=config.inbound_plus_prefix,
            default_region=default_region,
            timeout=reassembly_timeout,
        )
        self._rng = random.Random(seed)
        self.binds: list[SmppBind | None] = [None] * config.binds
        self._load = [0] * config.binds
        self._bound_changed = trio.Event()
        self._paused_until = 0.0
        self._throttle_level = 0
        self._warned = False
        # Concatenation references: start anywhere so a restart doesn't reuse
        # the previous run's references for the same recipient at once.
        self._ref = self._rng.randrange(1 << 16)
        self._can_transmit = config.bind_type != "receiver"
        self._nursery_cm: Any = None
        self._nursery: trio.Nursery | None = None
        #: run()'s nursery: receipts held for their submit_sm_resp wait here,
        #: not in a bind's dispatcher (which must go on with later requests).
        self._tasks: trio.Nursery | None = None
        #: protocol_error events about inbound PDUs, per bind: aggregated.
        self._bad_pdus: dict[int, EventAggregate] = {}
        #: outbound_source() per sender (few senders, many messages each).
        self._sources: dict[str, tuple[str, int, int]] = {}
        #: submit_sm fields per (dcs, esm_class, TON/NPIs): one dict for them all.
        self._fields: dict[tuple[int, ...], dict[str, Any]] = {}

    # --- events -------------------------------------------------------------

    def _emit(
        self,
        kind: EventKind,
        cause: Cause | None = None,
        command_status: int | None = None,
        detail: str = "",
        bind: int | None = None,
    ) -> None:
        if self._on_event is None:
            return
        self._on_event(
            OperationalEvent(
                kind=kind,
                integration=self.integration_id,
                bind=bind,
                cause=cause,
                command_status=command_status,
                command_status_name=(
                    _core.status_name(command_status) if command_status is not None else None
                ),
                detail=detail,
            )
        )

    # --- lifecycle ----------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run the binds until cancelled. ``started`` at once, before any bind
        is up: use ``wait_bound()`` to wait for one."""
        if not self._warned:
            self._warned = True
            for w in self.config.warnings():
                self._emit("config_warning", detail=w)
        async with trio.open_nursery() as nursery:
            self._tasks = nursery
            for i in range(self.config.binds):
                nursery.start_soon(self._bind_loop, i)
            nursery.start_soon(self._reassembly_loop)
            task_status.started(self)

    async def __aenter__(self) -> SmppIntegration:
        self._nursery_cm = trio.open_nursery()
        nursery = await self._nursery_cm.__aenter__()
        await nursery.start(self.run)
        self._nursery = nursery
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()
        return await self._nursery_cm.__aexit__(*exc)

    @property
    def bound(self) -> list[SmppBind]:
        return [b for b in self.binds if b is not None and b.is_bound]

    # --- the provider contract (byosms.providers.base) ------------------------

    provider_name = "smpp"

    @property
    def max_in_flight(self) -> int:
        """Segments the gateway may hand over at once: every bind's window."""
        return self.config.binds * self.config.window

    async def wait_ready(self) -> None:
        await self.wait_bound()

    def bind_addresses(self) -> list[str]:
        """S16: the local address of each bound bind."""
        return [b.local_address for b in self.bound if b.local_address]

    def register_submitted(self, items: Iterable[SubmittedSegment]) -> None:
        """Segments a previous run submitted still await receipts: the
        correlator must know them before the binds come up."""
        register = self.correlator.register
        for it in items:
            register(TrackedSegment(it.message_id, it.segment_id, it.segment_index,
                                    it.segment_count, MessageTrack(it.segment_count)),
                     it.vendor_message_id)

    async def check_number(self, number: str) -> NumberCheck:
        """SMPP has no number lookup: an import is recorded unchecked."""
        return NumberCheck(status="found", number=number,
                           message="SMPP has no number lookup: not checked at the vendor")

    def callback_urls(self) -> CallbackUrls | None:
        return None  # the SMSC sends over our binds

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResponse:
        return WebhookResponse(status=404, body=b"SMPP integrations take no webhooks")

    async def wait_bound(self, count: int = 1) -> None:
        """Until at least ``count`` binds are bound."""
        while len(self.bound) < count:
            await self._bound_changed.wait()

    def _notify(self) -> None:
        self._bound_changed.set()
        self._bound_changed = trio.Event()

    def _jitter(self, delay: float) -> float:
        return delay * (1 + self._rng.uniform(-RECONNECT_JITTER, RECONNECT_JITTER))

    async def _bind_loop(self, index: int) -> None:
        delay = self.reconnect_initial
        on_request = functools.partial(self._on_request, bind=index)
        while True:
            bind = SmppBind(
                self.config,
                integration=self.integration_id,
                index=index,
                on_event=self._on_event,
                on_request=on_request,
                on_receipts=functools.partial(self._on_receipt_pdus, bind=index),
                ssl_context=self._ssl_context,
            )
            bound_at: float | None = None

            def started(_: Any, bind: SmppBind = bind) -> None:
                nonlocal bound_at
                bound_at = trio.current_time()
                self.binds[index] = bind
                self._notify()

            try:
                await bind.run(task_status=_Started(started))
            except BindError:
                pass  # the bind reported bind_failed / bind_down with the cause
            except Exception as e:  # a bug must not end the supervision
                self._emit("bind_failed", "other", detail=f"bind task failed: {e!r}", bind=index)
            finally:
                if self.binds[index] is bind:
                    self.binds[index] = None
                    self._notify()
            if bound_at is not None:
                # The SMSC let us bind: whatever ended it, binding works, and
                # a flapping SMSC must not make each re-bind slower. Only
                # failures to bind back off.
                delay = self.reconnect_initial
            await trio.sleep(self._jitter(delay))
            delay = min(delay * 2, self.reconnect_max)

    # --- submission ---------------------------------------------------------

    def _next_ref(self, bits: int) -> int:
        self._ref = (self._ref + 1) & 0xFFFF
        return self._ref & ((1 << bits) - 1)

    def _parts(self, m: OutboundMessage) -> list[tuple[bytes, int, int, list[Tlv] | None]]:
        """(short_message, data_coding, esm_class, tlvs) per segment."""
        if m.segments is not None:
            out = []
            for s in m.segments:
                tlvs = None
                sm = s.short_message
                if s.sar is not None:
                    tlvs = _sar_tlvs(*s.sar)
                if s.payload:
                    tlvs = (tlvs or []) + [Tlv(TLV_MESSAGE_PAYLOAD, sm)]
                    sm = b""
                out.append((sm, s.data_coding, ESM_UDHI if s.udhi else 0, tlvs))
            return out
        if m.text is None:
            raise ValueError("OutboundMessage needs text or segments")
        method = self.config.concatenation
        ref = self._next_ref(8 if method == "udh8" else 16)
        seg = _core.segment(m.text, self.chain, concat=method, reference=ref)
        dcs = seg.dcs
        esm = ESM_UDHI if seg.udhi else 0
        parts = seg.parts
        if method == "payload":
            return [(b"", dcs, 0, [Tlv(TLV_MESSAGE_PAYLOAD, parts[0])])]
        sar = seg.sar
        if sar is not None:
            return [(p, dcs, esm, _sar_tlvs(*s)) for p, s in zip(parts, sar)]
        return [(p, dcs, esm, None) for p in parts]

    async def submit(self, message: OutboundMessage) -> list[SubmitResult]:
        """Submit every segment of ``message`` (in order); each result also
        goes to on_submit_result. Raises AddressError / SmppError (text the
        chain cannot encode) before anything is sent."""
        if not self._can_transmit:
            raise RuntimeError(f"integration {self.integration_id}: bind_type receiver cannot submit")
        # One job per segment; submitted one after the other so parts go out in order.
        return [await self._submit_segment(*job) for job in self._prepare(message)]

    def _prepare(self, message: OutboundMessage) -> list[tuple[TrackedSegment, str, str, bytes, dict[str, Any]]]:
        cfg = self.config
        source = self._sources.get(message.source)
        if source is None:
            source = outbound_source(
                message.source, plus_prefix=cfg.outbound_plus_prefix, ton=cfg.source_ton,
                npi=cfg.source_npi)
            if len(self._sources) >= _SOURCE_CACHE:
                self._sources.clear()
            self._sources[message.source] = source
        src, ston, snpi = source
        dst, dton, dnpi = outbound_destination(
            message.destination, ton=cfg.destination_ton, npi=cfg.destination_npi
        )
        segs = message.segments
        if segs is not None and len(segs) == 1 and segs[0].sar is None and not segs[0].payload:
            # The gateway's usual case (a stored segment as it is): no parts to make.
            one = segs[0]
            ids = message.segment_ids
            if ids is not None and len(ids) != 1:
                raise ValueError(f"{len(ids)} segment_ids for 1 segments")
            fields = self._fields_for(one.data_coding, ESM_UDHI if one.udhi else 0,
                                      ston, snpi, dton, dnpi)
            seg = TrackedSegment(message.message_id, ids[0] if ids else f"{message.message_id}:1",
                                 1, 1, MessageTrack(1))
            return [(seg, src, dst, one.short_message, fields)]
        parts = self._parts(message)
        count = len(parts)
        ids = message.segment_ids or [f"{message.message_id}:{n}" for n in range(1, count + 1)]
        if len(ids) != count:
            raise ValueError(f"{len(ids)} segment_ids for {count} segments")
        track = MessageTrack(count)
        jobs = []
        for n, (sm, dcs, esm, tlvs) in enumerate(parts, 1):
            fields = self._fields_for(dcs, esm, ston, snpi, dton, dnpi)
            if tlvs:
                fields = {**fields, "tlvs": tlvs}  # the shared dict stays as it is
            jobs.append((TrackedSegment(message.message_id, ids[n - 1], n, count, track), src, dst, sm, fields))
        return jobs

    def _fields_for(self, dcs: int, esm: int, ston: int, snpi: int, dton: int, dnpi: int
                    ) -> dict[str, Any]:
        """The submit_sm fields of every segment with these values: one dict,
        read and never changed."""
        key = (dcs, esm, ston, snpi, dton, dnpi)
        fields = self._fields.get(key)
        if fields is None:
            fields = self._fields[key] = {
                "data_coding": dcs,
                "esm_class": esm,
                "registered_delivery": REGISTERED_DELIVERY,
                "source_addr_ton": ston,
                "source_addr_npi": snpi,
                "dest_addr_ton": dton,
                "dest_addr_npi": dnpi,
            }
        return fields

    async def submit_many(
        self,
        messages: list[OutboundMessage],
        *,
        on_done: Callable[[int], Any] | None = None,
    ) -> list[list[SubmitResult] | BaseException]:
        """Submit several messages at once: per message, its SubmitResults (as
        ``submit`` returns them) or the exception ``submit`` would have
        raised (AddressError / SmppError before sending; an exception of
        ``on_submit_result``). The first attempt of every segment goes out
        in one ``SmppBind.submit_many`` per bound bind, and the successes
        reach ``on_submit_results`` (if given; else ``on_submit_result`` per
        segment) in one call before their vendor ids are registered for
        receipts. Segments not accepted at once (throttled, errors, lost
        bind) continue one by one exactly as in ``submit``. With the S4
        limiter on, each segment is paced as in ``submit``. ``on_done(i)``
        is called once message ``i`` has its results (not for exceptions)."""
        if not self._can_transmit:
            raise RuntimeError(f"integration {self.integration_id}: bind_type receiver cannot submit")
        n = len(messages)
        out: list[Any] = [None] * n
        jobs: list[tuple[int, int, tuple[TrackedSegment, str, str, bytes, dict[str, Any]]]] = []
        # Per message with several segments, their results so far (None for
        # one segment: its result is the message's, no bookkeeping).
        slots: list[list[SubmitResult | None] | None] = [None] * n
        remaining: list[int] = [0] * n
        prepare = self._prepare
        for i, m in enumerate(messages):
            try:
                prepared = prepare(m)
            except Exception as e:  # AddressError / SmppError / ValueError: this message only
                out[i] = e
                continue
            if len(prepared) == 1:
                jobs.append((i, 0, prepared[0]))
                continue
            slots[i] = [None] * len(prepared)
            remaining[i] = len(prepared)
            jobs.extend([(i, k, job) for k, job in enumerate(prepared)])

        def finish(i: int, k: int, result: SubmitResult) -> None:
            mine = slots[i]
            if mine is not None:
                mine[k] = result
                remaining[i] -= 1
                if remaining[i]:
                    return
            if out[i] is None:
                out[i] = [result] if mine is None else mine
                if on_done is not None:
                    on_done(i)

        async def one(i: int, k: int, job: Any, first: Any = None) -> None:
            try:
                finish(i, k, await self._submit_segment(*job, first=first))
            except Exception as e:
                out[i] = e

        if self.limiter is not None or not jobs:
            # S4 pacing per segment: the batch path would defeat the limiter.
            async with trio.open_nursery() as nursery:
                for i, k, job in jobs:
                    nursery.start_soon(one, i, k, job)
            return out
        if self._paused_until > trio.current_time():
            await trio.sleep_until(self._paused_until)
        while not self.bound:
            await self._bound_changed.wait()
        binds = self.bound
        per = -(-len(jobs) // len(binds))
        chunks = [(b, jobs[j * per:(j + 1) * per]) for j, b in enumerate(binds)]
        answers: list[list[Any]] = [[] for _ in chunks]
        sent_at = trio.current_time()
        load = self._load

        async def via(j: int, bind: SmppBind, chunk: list[Any]) -> None:
            load[bind.index] += len(chunk)
            try:
                answers[j] = await bind.submit_many(
                    [(src, dst, sm, fields) for _, _, (_, src, dst, sm, fields) in chunk]
                )
            finally:
                load[bind.index] -= len(chunk)

        async with trio.open_nursery() as nursery:
            for j, (bind, chunk) in enumerate(chunks):
                if chunk:
                    nursery.start_soon(via, j, bind, chunk)
        ok: list[tuple[int, int, TrackedSegment, SubmitResult]] = []
        retry: list[tuple[int, int, Any, Any]] = []
        for (bind, chunk), got in zip(chunks, answers):
            for (i, k, job), a in zip(chunk, got):
                if isinstance(a, Response) and a.command_status == 0:
                    seg = job[0]
                    ok.append((i, k, seg, SubmitResult(
                        message_id=seg.message_id,
                        segment_id=seg.segment_id,
                        segment_index=seg.index,
                        segment_count=seg.count,
                        ok=True,
                        vendor_message_id=a.pdu.message_id,
                        vendor_code=0,
                        attempts=1,
                        bind=bind.index,
                    )))
                else:
                    retry.append((i, k, job, (a, bind.index, sent_at)))
        async with trio.open_nursery() as nursery:
            for i, k, job, first in retry:
                nursery.start_soon(one, i, k, job, first)
            if ok:
                self._throttle_level = 0
                try:
                    await self._record_results([r for _, _, _, r in ok])
                except Exception as e:
                    for i, _, _, _ in ok:
                        out[i] = e
                else:
                    register = self.correlator.register
                    for i, k, seg, r in ok:
                        # Only now may receipts find it: on_submit_result came first.
                        register(seg, r.vendor_message_id)
                        finish(i, k, r)
        return out

    async def _record_results(self, results: list[SubmitResult]) -> None:
        if self._on_submit_results is not None:
            await self._on_submit_results(results)
        elif self._on_submit_result is not None:
            errors: list[BaseException] = []
            cb = self._on_submit_result

            async def one(r: SubmitResult) -> None:
                try:
                    await cb(r)
                except Exception as e:
                    errors.append(e)

            async with trio.open_nursery() as nursery:
                for r in results:
                    nursery.start_soon(one, r)
            if errors:
                raise errors[0]

    async def _pick_bind(self) -> SmppBind:
        """The bound transmitting bind with the fewest requests in flight."""
        while True:
            best = None
            best_load = 0
            for b in self.binds:
                if b is not None and b.is_bound:
                    load = self._load[b.index]
                    if best is None or load < best_load:
                        best, best_load = b, load
            if best is not None:
                return best
            await self._bound_changed.wait()

    def _throttled(self, status: int, bind: int, sent_at: float) -> None:
        now = trio.current_time()
        if sent_at < self._paused_until:
            return  # sent before the pause began: that pause covers it already
        self._throttle_level += 1
        delay = min(self.throttle_backoff * 2 ** (self._throttle_level - 1), self.throttle_backoff_max)
        self._paused_until = now + delay
        if self.limiter is not None:
            self.limiter.back_off(delay)
        self._emit(
            "throttled",
            command_status=status,
            detail=f"SMSC answered {_core.status_name(status)}: pausing {delay:.3g}s",
            bind=bind,
        )

    async def _submit_segment(
        self, seg: TrackedSegment, src: str, dst: str, sm: bytes, fields: dict[str, Any],
        first: tuple[Any, int, float] | None = None,
    ) -> SubmitResult:
        """``first``: (Response or exception, bind index, sent_at) of a first
        attempt already made (by submit_many), handled like any attempt.

        Duplicates: a request never written (``NotSent``) is retried freely
        and is no attempt. One written but unanswered (response timeout, or
        the bind lost after the write) may be at the SMSC already: it is
        sent again at most ``in_doubt_retries`` times, then fails as
        RETRYABLE_FAILURE (SUBMIT_TIMEOUT / BIND_LOST). A response we cannot
        decode (``PduRejected``) means the SMSC did process this request:
        never resent, UNKNOWN_FAILURE (RESPONSE_UNREADABLE). See
        docs/engine.md, "Retries"."""
        attempts = 0
        in_doubt = 0
        status: int | None = None
        bind_index: int | None = None
        load = self._load
        gate = self.limiter.acquire if self.limiter is not None else None
        while True:
            try:
                if first is not None:
                    outcome, bind_index, sent_at = first
                    first = None
                    attempts += 1
                    if isinstance(outcome, BaseException):
                        raise outcome
                    resp = outcome
                else:
                    if self._paused_until > trio.current_time():
                        await trio.sleep_until(self._paused_until)
                    bind = await self._pick_bind()
                    bind_index = bind.index
                    attempts += 1
                    sent_at = trio.current_time()
                    load[bind_index] += 1
                    try:
                        resp = await bind.submit_sm(src, dst, sm, gate=gate, **fields)
                    finally:
                        load[bind_index] -= 1
            except SmppError as e:  # a field the codec refuses: no retry helps
                status = e.command_status
                mapped = self.errors.map(status)
                return await self._failed(seg, attempts, status, mapped.generic_code, mapped.cause, bind_index, str(e))
            except NotSent:
                attempts -= 1  # never written: the SMSC cannot have it
                continue
            except PduRejected as e:
                return await self._failed(
                    seg, attempts, e.command_status, GenericErrorCode.UNKNOWN_FAILURE,
                    "RESPONSE_UNREADABLE", bind_index, str(e))
            except (BindError, ResponseTimeout, LocalProtocolError) as e:
                status = getattr(e, "command_status", None)
                in_doubt += 1
                if in_doubt > self.in_doubt_retries or attempts >= self.max_attempts:
                    cause = "SUBMIT_TIMEOUT" if isinstance(e, ResponseTimeout) else "BIND_LOST"
                    return await self._failed(
                        seg, attempts, status, GenericErrorCode.RETRYABLE_FAILURE, cause, bind_index, str(e)
                    )
                await trio.sleep(self.retry_backoff * 2 ** (attempts - 1))
                continue
            status = resp.command_status
            if status == 0:
                self._throttle_level = 0
                vid = resp.pdu.message_id
                result = SubmitResult(
                    message_id=seg.message_id,
                    segment_id=seg.segment_id,
                    segment_index=seg.index,
                    segment_count=seg.count,
                    ok=True,
                    vendor_message_id=vid,
                    vendor_code=0,
                    attempts=attempts,
                    bind=bind_index,
                )
                if self._on_submit_result is not None:
                    await self._on_submit_result(result)
                # Only now may receipts find it: on_submit_result came first.
                self.correlator.register(seg, vid)
                return result
            if status == ESME_RTHROTTLED or status == ESME_RMSGQFUL:
                self._throttled(status, bind_index, sent_at)
                attempts -= 1  # throttling is the SMSC's pace, not a failure
                continue
            mapped = self.errors.map(status)
            if mapped.generic_code in _RETRYABLE and attempts < self.max_attempts:
                await trio.sleep(self.retry_backoff * 2 ** (attempts - 1))
                continue
            return await self._failed(seg, attempts, status, mapped.generic_code, mapped.cause, bind_index, "")

    async def _failed(
        self,
        seg: TrackedSegment,
        attempts: int,
        status: int | None,
        code: GenericErrorCode,
        cause: str,
        bind: int | None,
        detail: str,
    ) -> SubmitResult:
        seg.fail_submit()
        result = SubmitResult(
            message_id=seg.message_id,
            segment_id=seg.segment_id,
            segment_index=seg.index,
            segment_count=seg.count,
            ok=False,
            vendor_code=status,
            generic_code=code,
            cause=cause,
            attempts=attempts,
            bind=bind,
        )
        self._emit(
            "delivery_failure",
            command_status=status,
            detail=f"segment {seg.segment_id} failed after {attempts} attempt(s): {cause}"
            + (f" ({detail})" if detail else ""),
            bind=bind,
        )
        if self._on_submit_result is not None:
            await self._on_submit_result(result)
        return result

    # --- inbound ------------------------------------------------------------

    def _bad_pdu(self, status: int, detail: str, bind: int) -> None:
        """A protocol_error event for a bad inbound PDU, at most one per
        PROTOCOL_ERROR_INTERVAL per bind (saying how many were left out)."""
        agg = self._bad_pdus.get(bind)
        if agg is None:
            agg = self._bad_pdus[bind] = EventAggregate()
        held = agg.admit(trio.current_time())
        if held is not None:
            self._emit("protocol_error", "protocol_error", status, detail + agg.suffix(held), bind)

    async def _on_request(self, pdu: Pdu, *, bind: int) -> int | Later:
        """deliver_sm / data_sm / alert_notification from a bind; the
        returned status goes into the deliver_sm_resp / data_sm_resp."""
        if pdu.command_id == ALERT_NOTIFICATION:
            return 0
        try:
            # The receipt's text and TLVs read in one call into the core; None:
            # neither the receipt esm_class type nor a receipted_message_id.
            r = pdu.receipt()
        except SmppError as e:
            self._bad_pdu(e.command_status, f"unreadable receipt: {e}", bind)
            return e.command_status
        if r is None:
            return await self._on_mo_pdu(pdu, bind)
        return await self._on_receipt_one(r, bind)

    async def _on_receipt_pdus(self, pdus: list[Pdu], *, bind: int) -> list[int]:
        """Receipts queued together (the bind's dispatcher): those whose
        segment is known go to on_receipts in one call; the rest (early,
        unreadable) take the one-by-one path concurrently."""
        statuses = [0] * len(pdus)
        if self._on_receipts is None:
            async def each(k: int, p: Pdu) -> None:
                statuses[k] = await self._on_request(p, bind=bind)

            async with trio.open_nursery() as nursery:
                for k, p in enumerate(pdus):
                    nursery.start_soon(each, k, p)
            return statuses
        ready: list[DeliveryReceipt] = []
        ready_ks: list[int] = []
        early: list[tuple[int, Any]] = []
        slow: list[int] = []
        lookup = self.correlator.lookup
        for k, pdu in enumerate(pdus):
            try:
                r = pdu.receipt()
            except SmppError:
                r = None
            if r is None:
                slow.append(k)  # the one-by-one path reports it
                continue
            seg = lookup(r.message_id)
            if seg is None:
                early.append((k, r))
                continue
            ready.append(self._receipt(r, seg, bind, False))
            ready_ks.append(k)

        async def one(k: int) -> None:
            try:
                statuses[k] = await self._on_request(pdus[k], bind=bind)
            except Exception:
                statuses[k] = _core.ESME_RX_T_APPN

        async def record(receipts: list[DeliveryReceipt], ks: list[int]) -> None:
            try:
                await self._on_receipts(receipts)  # type: ignore[misc]
            except Exception as e:
                self._emit("protocol_error", "other", _core.ESME_RX_T_APPN,
                           f"on_receipts failed: {e!r}", bind)
                for k in ks:
                    statuses[k] = _core.ESME_RX_T_APPN

        if early:
            # Held without holding up the bind: each is answered when its
            # group is recorded (or the hold ends); later PDUs go on.
            laters: dict[int, Later] = {}
            for k, _ in early:
                laters[k] = statuses[k] = Later()  # type: ignore[call-overload]

            async def record_later(receipts: list[DeliveryReceipt], ks: list[int]) -> None:
                st = 0
                try:
                    await self._on_receipts(receipts)  # type: ignore[misc]
                except Exception as e:
                    self._emit("protocol_error", "other", _core.ESME_RX_T_APPN,
                               f"on_receipts failed: {e!r}", bind)
                    st = _core.ESME_RX_T_APPN
                for k in ks:
                    laters[k].set(st)

            self._spawn_early(self._early_receipts, early, bind, record_later, list(laters.values()))
        async with trio.open_nursery() as nursery:
            for k in slow:
                nursery.start_soon(one, k)
            if ready:
                await record(ready, ready_ks)
        return statuses

    def _spawn_early(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a held receipt's wait in the integration's nursery; its
        ``Later`` answers (the last argument) are set even if it fails."""
        laters: list[Later] = args[-1]

        async def guarded() -> None:
            try:
                await fn(*args[:-1])
            finally:
                for later in laters:
                    later.set(_core.ESME_RX_T_APPN)  # no-op for those already set

        assert self._tasks is not None
        self._tasks.start_soon(guarded)

    async def _early_receipts(self, early: list[tuple[int, Any]], bind: int,
                              record: Callable[[list[DeliveryReceipt], list[int]], Any]) -> None:
        """Receipts that beat their submit_sm_resp's registration (under load
        the submit result's commit can take longer than the SMSC takes to
        deliver): held together until each is matched or early_receipt_hold
        passes, then recorded in one call (one task for the group: per-receipt
        tasks made a slow gateway slower still)."""
        correlator = self.correlator
        left = [len(early)]
        all_matched = trio.Event()

        def matched(_seg: Any) -> None:
            left[0] -= 1
            if left[0] == 0:
                all_matched.set()

        holds: list[Any] = []
        for _, r in early:
            # Looked up again: the registration may have come between the
            # caller's lookup and this task's start. Lookup and hold with no
            # checkpoint between them, so none can slip through.
            seg = correlator.lookup(r.message_id)
            if seg is not None:
                matched(seg)
                holds.append(seg)
                continue
            held = correlator.hold(r.message_id, matched)
            if held is None:  # too many held: it goes on unmatched
                matched(None)
            holds.append(held)
        if left[0] > 0:
            with trio.move_on_after(self.early_receipt_hold):
                await all_matched.wait()
        receipts = []
        for (_, r), held in zip(early, holds):
            if held is None or isinstance(held, TrackedSegment):
                receipts.append(self._receipt(r, held, bind, held is not None))
                continue
            correlator.release(held)
            seg = held.segment
            receipts.append(self._receipt(r, seg, bind, seg is not None))
        await record(receipts, [k for k, _ in early])

    def _receipt(self, r: Any, seg: TrackedSegment | None, bind: int, early: bool) -> DeliveryReceipt:
        """The DeliveryReceipt of a parsed receipt; applies it to ``seg``."""
        vid = r.message_id
        state = r.state
        if state == DELIVERED:
            code, cause, vcode = GenericErrorCode.SUCCESS, "DELIVERED", r.error_code
        else:
            vcode = r.error_code
            if vcode and vcode in self.errors:
                mapped = self.errors.map(vcode)
                code, cause = mapped.generic_code, mapped.cause
            else:
                code, cause = _STATE_GENERIC.get(state, GenericErrorCode.UNKNOWN), r.state_name
        final = r.is_final
        if seg is None:
            return DeliveryReceipt(
                vendor_message_id=vid, state=state, state_name=r.state_name, is_final=final,
                generic_code=code, cause=cause, vendor_code=vcode, bind=bind,
            )
        message_state = seg.set_state(state)
        if final:
            self.correlator.forget(seg)
        return DeliveryReceipt(
            vendor_message_id=vid, state=state, state_name=r.state_name, is_final=final,
            generic_code=code, cause=cause, vendor_code=vcode, bind=bind,
            message_id=seg.message_id, segment_id=seg.segment_id,
            segment_index=seg.index, segment_count=seg.count, message_state=message_state,
            early=early,
        )

    async def _on_receipt_one(self, r: Any, bind: int) -> int | Later:
        """A receipt nobody claims yet is held in the background (its
        answer a ``Later``): the bind goes on with the PDUs behind it."""
        vid = r.message_id
        correlator = self.correlator
        seg = correlator.lookup(vid)
        if seg is None:
            matched = trio.Event()
            held = correlator.hold(vid, lambda _seg: matched.set())
            if held is not None:
                later = Later()
                self._spawn_early(self._held_one, r, bind, held, matched, later, [later])
                return later
        receipt = self._receipt(r, seg, bind, False)
        if self._on_receipt is not None:
            await self._on_receipt(receipt)
        return 0

    async def _held_one(self, r: Any, bind: int, held: Any, matched: trio.Event, later: Later) -> None:
        try:
            with trio.move_on_after(self.early_receipt_hold):
                await matched.wait()
        finally:
            self.correlator.release(held)
        seg = held.segment
        receipt = self._receipt(r, seg, bind, seg is not None)
        status = 0
        if self._on_receipt is not None:
            try:
                await self._on_receipt(receipt)
            except Exception as e:  # the SMSC redelivers
                self._emit("protocol_error", "other", _core.ESME_RX_T_APPN,
                           f"on_receipt failed: {e!r}", bind)
                status = _core.ESME_RX_T_APPN
        later.set(status)

    def _now_ms(self) -> int:
        return int(trio.current_time() * 1000)

    async def _on_mo_pdu(self, pdu: Pdu, bind: int) -> int:
        try:
            msg = self.mo.add(pdu, self._now_ms(), bind)
        except SmppError as e:
            self._bad_pdu(e.command_status, f"undecodable inbound message: {e}", bind)
            return e.command_status
        if msg is not None and self._on_mo is not None:
            await self._on_mo(msg)
        return 0

    async def _reassembly_loop(self) -> None:
        interval = max(min(self.mo.timeout_ms / 4000, 1.0), 0.01)
        while True:
            await trio.sleep(interval)
            for msg in self.mo.expire(self._now_ms()):
                self._emit(
                    "mo_incomplete",
                    "timeout",
                    detail=f"inbound from {msg.source}: {msg.parts} of {msg.total} parts, "
                    f"missing {list(msg.missing)}; delivered incomplete",
                    bind=msg.bind,
                )
                if self._on_mo is not None:
                    try:
                        await self._on_mo(msg)
                    except Exception as e:  # keep sweeping; the owner was told via the event
                        self._emit("protocol_error", "other", detail=f"on_mo failed: {e!r}")


def _sar_tlvs(ref: int, total: int, seq: int) -> list[Tlv]:
    return [
        Tlv(TLV_SAR_MSG_REF_NUM, ref.to_bytes(2, "big")),
        Tlv(TLV_SAR_TOTAL_SEGMENTS, bytes((total,))),
        Tlv(TLV_SAR_SEGMENT_SEQNUM, bytes((seq,))),
    ]


__all__ = [
    "EARLY_RECEIPT_HOLD",
    "IN_DOUBT_RETRIES",
    "MAX_SUBMIT_ATTEMPTS",
    "RECONNECT_INITIAL",
    "RECONNECT_JITTER",
    "RECONNECT_MAX",
    "STABLE_BIND",
    "THROTTLE_BACKOFF_INITIAL",
    "THROTTLE_BACKOFF_MAX",
    "SmppIntegration",
]
