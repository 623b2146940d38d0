"""What providers report back, recorded: submit results, receipts and
provider-side opt-outs, through group-commit batchers so concurrent reports
share a transaction.

Order and durability: a submit result is committed before the provider lets
receipts match its vendor id (it awaits ``on_submit_result``); a receipt is
committed before the provider answers it (deliver_sm_resp, HTTP 200), so a
store failure makes the provider redeliver instead of losing it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import msgspec
import trio

from byosms._core import receipt_id_keys
from byosms.advanced_config import GenericErrorCode
from byosms.gateway.batcher import Batcher
from byosms.gateway.running import RunningIntegration
from byosms.pipeline import DELIVERED, DeliveryReceipt, SubmitResult, VendorOptOut
from byosms.schemas.records import Receipt, SubmitError, SubmitOutcome
from byosms.store.base import RECORDED, Conflict, StoreError

log = logging.getLogger("byosms.gateway")

#: A segment whose submit failed transiently goes back to the queue at most
#: this many times (the provider already retried it within each claim); then
#: it fails for good.
MAX_CLAIMS = 5
#: Generic codes (S7) worth another claim; every other refusal is final.
RETRYABLE = frozenset({GenericErrorCode.RETRYABLE_FAILURE, GenericErrorCode.DEFERRED})


def receipt_record(iid: str, r: DeliveryReceipt) -> Receipt:
    """A provider's receipt as the store records it."""
    if r.is_final:
        state = "delivered" if r.state == DELIVERED else "failed"
    else:
        state = "submitted"
    segment_id = int(r.segment_id) if r.segment_id and r.segment_id.isdigit() else None
    return Receipt(
        integration=iid,
        # The store matches by vendor id only when the provider could not
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


class Outcomes:
    """The callbacks every provider is built with, bound per integration by
    ``callbacks(iid)``. ``running(iid)`` finds the started integration."""

    def __init__(self, store: Any, running: Callable[[str], RunningIntegration | None]) -> None:
        self._store = store
        self._running = running
        # The pipeline reads only errors (and unmatched receipts) from these:
        # the store need not read back what it wrote to answer.
        self.record_submits: Batcher[SubmitOutcome, Any] = Batcher(
            functools.partial(store.record_submits, details=False))
        self.record_receipts: Batcher[Receipt, Any] = Batcher(
            functools.partial(store.record_receipts, details=False))

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.record_submits.run)
            await nursery.start(self.record_receipts.run)
            task_status.started()

    def callbacks(self, iid: str) -> dict[str, Any]:
        """The provider callbacks of integration ``iid`` (partials, not
        lambdas: providers see async callables)."""
        return dict(
            on_submit_result=functools.partial(self.on_submit_result, iid),
            on_submit_results=functools.partial(self.on_submit_results, iid),
            on_receipt=functools.partial(self.on_receipt, iid),
            on_receipts=functools.partial(self.on_receipts, iid),
            on_opt_out=functools.partial(self.on_opt_out, iid),
        )

    # --- submit results ---------------------------------------------------------

    async def on_submit_result(self, iid: str, r: SubmitResult) -> None:
        """Committed before the provider lets receipts match the vendor id."""
        seg_id = int(r.segment_id)
        running = self._running(iid)
        if r.ok:
            outcome = SubmitOutcome(segment_id=seg_id, vendor_message_id=r.vendor_message_id)
        else:
            claims = running.claims.get(seg_id, MAX_CLAIMS) if running is not None else MAX_CLAIMS
            transient = r.generic_code in RETRYABLE
            outcome = SubmitOutcome(segment_id=seg_id, error=SubmitError(
                permanent=not transient or claims >= MAX_CLAIMS,
                generic_code=int(r.generic_code), generic_cause=r.cause,
                vendor_code=r.vendor_code))
        if running is not None and running.provider_segments:
            # One answer for the whole message: its other segments take the
            # same outcome in the same wait, before any receipt can come.
            await self._record(await self.message_outcomes(r.message_id, outcome))
        else:
            await self._record([outcome])
        if not r.ok and running is not None and outcome.error is not None \
                and not outcome.error.permanent:
            running.poke()

    async def message_outcomes(self, message_id: str, first: SubmitOutcome
                               ) -> list[SubmitOutcome]:
        """``first`` (the outcome of a provider-segmented message's submit)
        and the same for the message's other segments in flight."""
        out = [first]
        for seg in await self._store.get_segments(message_id):
            if seg.id != first.segment_id and seg.state == "in_flight":
                out.append(msgspec.structs.replace(first, segment_id=seg.id))
        return out

    async def _record(self, outcomes: list[SubmitOutcome]) -> None:
        for res in await self.record_submits.many(outcomes):
            # Conflict: not in flight any more (e.g. requeued by a restart of
            # the store) — nothing to record; anything else must not ack.
            if isinstance(res, BaseException) and not isinstance(res, Conflict):
                raise res

    async def on_submit_results(self, iid: str, rs: list[SubmitResult]) -> None:
        """``on_submit_result`` for a batch of successes: one wait for the
        group commit."""
        res = await self.record_submits.many(
            [SubmitOutcome(segment_id=int(r.segment_id), vendor_message_id=r.vendor_message_id)
             for r in rs if r.ok])
        for x in res:
            if isinstance(x, BaseException) and not isinstance(x, Conflict):
                raise x

    # --- receipts -----------------------------------------------------------------

    async def on_receipts(self, iid: str, rs: list[DeliveryReceipt]) -> None:
        """Receipts of one read: one wait for the group commit; returns after
        it (the provider answers them then)."""
        res = await self.record_receipts.many([receipt_record(iid, r) for r in rs])
        for r, x in zip(rs, res):
            if isinstance(x, BaseException):
                raise x  # answered with a temporary error: the provider redelivers
            if x is not RECORDED and x.segment is None:
                log.info("receipt for unknown vendor id %s on %s dropped",
                         r.vendor_message_id, iid)

    async def on_receipt(self, iid: str, r: DeliveryReceipt) -> None:
        """Returns after the commit: the provider answers the report then."""
        receipt = receipt_record(iid, r)
        running = self._running(iid)
        if running is not None and running.provider_segments and r.message_id:
            # One report for the whole message: every segment takes it.
            segs = await self._store.get_segments(r.message_id)
            results = await self.record_receipts.many(
                [msgspec.structs.replace(receipt, segment_id=seg.id) for seg in segs])
            for res in results:
                if isinstance(res, StoreError):
                    raise res
            return
        res = await self.record_receipts(receipt)
        if isinstance(res, StoreError):
            raise res  # answered with a temporary error: the provider redelivers
        if res is not RECORDED and res.segment is None:
            log.info("receipt for unknown vendor id %s on %s dropped", r.vendor_message_id, iid)

    # --- opt-outs the provider reports --------------------------------------------

    async def on_opt_out(self, iid: str, o: VendorOptOut) -> None:
        """S15: the provider refused because the recipient opted out there
        (Twilio 21610): recorded, so the gateway refuses the next send
        (`opted_out`) instead of paying for another refusal."""
        await self._store.set_opt_out(o.sender, o.recipient, True)
        log.info("%s: %s opted out of %s at the provider (vendor code %s)", iid, o.recipient,
                 o.sender, o.vendor_code)
