"""The MT sender of one integration: claims queued segments and hands them to
the provider, keeping at most ``provider.max_in_flight`` of them there at
once (one slow segment holds only its own slot).

How it submits follows the provider's capabilities, never its name:
- the gateway segments (SMPP): one submit per segment, its pre-built bytes;
  with ``batch_submit`` a claim's segments leave in one ``submit_many``;
- the provider segments (Twilio, HTTP APIs): the message's first segment
  carries one submit of the whole text; the others take its outcome
  (``Outcomes.message_outcomes``).

Results reach the store through the provider's ``on_submit_result``; what
``submit`` raises is recorded here: a message the provider cannot express
fails for good (``INVALID_MESSAGE``), anything else goes back to the queue
until ``MAX_CLAIMS``.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from byosms.advanced_config import GenericErrorCode
from byosms.gateway.batcher import Gauge
from byosms.gateway.events import OperationalEvents
from byosms.gateway.outcomes import MAX_CLAIMS, Outcomes
from byosms.gateway.running import RunningIntegration
from byosms.pipeline import OutboundMessage, OutboundSegment, OperationalEvent
from byosms.schemas.records import Segment, SubmitError, SubmitOutcome
from byosms.store.base import Conflict, StoreError

log = logging.getLogger("byosms.gateway")

#: Segments claimed per store call. Larger batches cost one transaction for
#: more segments; the window bounds how many are outstanding anyway.
CLAIM_BATCH = 256
#: How long an idle sender sleeps before looking at the queue again when
#: nothing poked it (segments requeued by a transient error, another process).
IDLE_POLL = 0.5
#: Default for providers that do not say how many segments they may hold.
DEFAULT_IN_FLIGHT = 10
#: How often a provider-segmented message's later segment looks whether the
#: first one's submit has finished.
FIRST_SEGMENT_POLL = 0.02

_ESM_UDHI = 0x40


def outbound(seg: Segment, payload: bool) -> OutboundMessage:
    """A claimed segment as the provider gets it (gateway-segmented)."""
    out = OutboundSegment(
        seg.short_message, seg.dcs, bool(seg.esm_class & _ESM_UDHI),
        (seg.sar_ref, seg.sar_total, seg.sar_seq) if seg.sar_ref is not None else None,
        payload,
    )
    return OutboundMessage(
        message_id=seg.message_id, source=seg.source, destination=seg.destination,
        segments=[out], segment_ids=[str(seg.id)])


class Sender:
    """Drains one integration's queue until cancelled."""

    def __init__(self, running: RunningIntegration, store: Any, outcomes: Outcomes,
                 events: OperationalEvents) -> None:
        self.running = running
        self._store = store
        self._outcomes = outcomes
        self._events = events
        provider = running.provider
        self._window = max(1, int(getattr(provider, "max_in_flight", DEFAULT_IN_FLIGHT)))
        self._payload = getattr(getattr(provider, "config", None), "concatenation", "") == "payload"
        caps = running.spec.capabilities
        self._batched = (caps.batch_submit and caps.segments == "gateway"
                         and hasattr(provider, "submit_many"))
        self._whole = caps.segments == "provider"
        self._wait_ready = getattr(provider, "wait_ready", None)

    async def run(self) -> None:
        """Keep up to the window's segments in the provider. New claims wait
        until half the window is free: one claim (one transaction) then
        brings many segments, not one per freed slot."""
        running = self.running
        window = self._window
        refill = max(1, window // 2)
        gauge = Gauge()
        async with trio.open_nursery() as nursery:
            while True:
                if self._wait_ready is not None:
                    await self._wait_ready()
                while window - gauge.value < refill:
                    await gauge.wait_below(window - refill + 1)
                free = min(window - gauge.value, CLAIM_BATCH)
                running.work = trio.Event()
                try:
                    segs = await self._store.claim_segments(running.id, free)
                except StoreError as e:
                    log.warning("claim_segments(%s) failed: %s", running.id, e)
                    segs = []
                if not segs:
                    with trio.move_on_after(IDLE_POLL):
                        await running.work.wait()
                    continue
                gauge.add(len(segs))
                if self._batched:
                    nursery.start_soon(self._submit_batch, segs, gauge)
                    continue
                for seg in segs:
                    nursery.start_soon(self._submit_one, seg, gauge)

    async def _submit_one(self, seg: Segment, gauge: Gauge) -> None:
        running = self.running
        running.claims[seg.id] = seg.attempts
        try:
            if not self._whole:
                await running.provider.submit(outbound(seg, self._payload))
            elif seg.index == 0:
                await self._submit_whole(seg)
            else:
                await self._follow_first(seg)
                return
            running.submitted += 1
        except trio.Cancelled:
            running.orphans.append(seg.id)
            raise
        except Exception as e:  # noqa: BLE001 - recorded for the segment
            await self._submit_failed(seg, e)
        finally:
            running.claims.pop(seg.id, None)
            gauge.add(-1)

    async def _submit_batch(self, segs: list[Segment], gauge: Gauge) -> None:
        """A claim's segments through the provider's submit_many: their first
        attempts leave together; each frees its window slot when done."""
        running = self.running
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
            payload = self._payload
            results = await running.provider.submit_many(
                [outbound(seg, payload) for seg in segs], on_done=finished)
            for i, r in enumerate(results):
                if isinstance(r, BaseException):
                    await self._submit_failed(segs[i], r)
        except BaseException:  # Cancelled, possibly grouped by the provider's nurseries
            running.orphans.extend(seg.id for i, seg in enumerate(segs) if not done[i])
            raise
        finally:
            for i, seg in enumerate(segs):
                if not done[i]:
                    claims.pop(seg.id, None)
                    gauge.add(-1)

    async def _submit_whole(self, seg: Segment) -> None:
        message = await self._store.get_message(seg.message_id)
        if message is None:  # cannot happen: segments live with their message
            return
        await self.running.provider.submit(OutboundMessage(
            message_id=seg.message_id, source=seg.source, destination=seg.destination,
            text=message.text, segment_ids=[str(seg.id)]))

    async def _follow_first(self, seg: Segment) -> None:
        """A later segment of a provider-segmented message takes the outcome
        of the message's first segment, once that one's submit is over."""
        running = self.running
        while True:
            segs = {s.index: s for s in await self._store.get_segments(seg.message_id)}
            first = segs.get(0)
            mine = segs.get(seg.index)
            if mine is None or mine.state != "in_flight":
                return  # the first one's outcome already covered this one
            if first is not None and first.id in running.claims:
                await trio.sleep(FIRST_SEGMENT_POLL)
                continue
            break
        if first is not None and first.state in ("submitted", "delivered"):
            outcome = SubmitOutcome(segment_id=seg.id,
                                    vendor_message_id=first.vendor_message_id)
        elif first is not None and first.state == "failed":
            outcome = SubmitOutcome(segment_id=seg.id, error=SubmitError(
                permanent=True, generic_code=first.generic_code or int(GenericErrorCode.REJECTED),
                generic_cause=first.generic_cause or "FAILED", vendor_code=first.vendor_code))
        else:  # the first went back to the queue: so does this one
            outcome = SubmitOutcome(segment_id=seg.id, error=SubmitError(
                permanent=seg.attempts >= MAX_CLAIMS,
                generic_code=int(GenericErrorCode.RETRYABLE_FAILURE),
                generic_cause="FIRST_SEGMENT_REQUEUED"))
        res = await self._outcomes.record_submits(outcome)
        if isinstance(res, StoreError) and not isinstance(res, Conflict):
            raise res

    async def _submit_failed(self, seg: Segment, exc: BaseException) -> None:
        running = self.running
        if isinstance(exc, ValueError):  # AddressError, SmppError: cannot be expressed
            outcome = SubmitOutcome(segment_id=seg.id, error=SubmitError(
                permanent=True, generic_code=int(GenericErrorCode.REJECTED),
                generic_cause="INVALID_MESSAGE"))
            self._events.emit(OperationalEvent(
                kind="delivery_failure", integration=running.id,
                detail=f"segment {seg.id} of {seg.message_id} cannot be sent: {exc}"))
        else:  # requeued (or failed after MAX_CLAIMS)
            log.error("submit of segment %s failed", seg.id, exc_info=exc)
            outcome = SubmitOutcome(segment_id=seg.id, error=SubmitError(
                permanent=seg.attempts >= MAX_CLAIMS,
                generic_code=int(GenericErrorCode.RETRYABLE_FAILURE),
                generic_cause=type(exc).__name__))
        try:
            outcomes = (await self._outcomes.message_outcomes(seg.message_id, outcome)
                        if self._whole else [outcome])
            for res in await self._outcomes.record_submits.many(outcomes):
                if isinstance(res, StoreError) and not isinstance(res, Conflict):
                    raise res
        except Exception:  # noqa: BLE001 - stays in flight; requeued at the next start
            log.warning("could not record the failed submit of segment %s", seg.id)
