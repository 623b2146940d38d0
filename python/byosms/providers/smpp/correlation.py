"""Receipt correlation: vendor message id -> the segment it answers.

One ``ReceiptCorrelator`` per integration, shared by its binds, so a receipt
on another bind than the submit finds its segment. Ids are matched exactly
first, then by the core's ``receipt_id_keys`` '#'-keys, which equate an id
sent as hex in submit_sm_resp and as decimal in the receipt (or the other way
round). A receipt may overtake its submit_sm_resp: it is *held* (bounded by
count; the caller bounds the time) and matched when the response registers
the id.

Pure bookkeeping: no I/O, no clock. Memory is bounded: at most
``max_tracked`` segments await a final receipt; the oldest is forgotten
beyond that (its receipt then reaches the owner unmatched, by vendor id,
which the durable store can still correlate).
"""

from __future__ import annotations

from typing import Any

from byosms._core import receipt_id_keys
from byosms.message_states import one_segment_state, roll_up
from byosms.pipeline import REJECTED, MessageState

#: Segments awaiting a final receipt, per integration. Receipts usually come
#: within seconds; the store (issue 5) covers the ones that come days later.
MAX_TRACKED = 500_000
#: Receipts held while waiting for their submit_sm_resp, per integration.
MAX_EARLY = 1_000


class MessageTrack:
    """Segment states of one message, for the S13 roll-up."""

    __slots__ = ("states",)

    def __init__(self, count: int) -> None:
        self.states: list[int | None] = [None] * count

    def state(self) -> MessageState:
        states = self.states
        if len(states) == 1:  # most messages
            return one_segment_state(states[0])
        return roll_up(states)


class TrackedSegment:
    __slots__ = ("message_id", "segment_id", "index", "count", "vendor_id", "keys", "track", "context")

    def __init__(
        self,
        message_id: str,
        segment_id: str,
        index: int,
        count: int,
        track: MessageTrack,
        context: Any = None,
    ) -> None:
        self.message_id = message_id
        self.segment_id = segment_id
        self.index = index  # 1-based
        self.count = count
        self.track = track
        self.vendor_id: str | None = None
        self.keys: list[str] = []
        self.context = context

    def set_state(self, state: int) -> MessageState:
        self.track.states[self.index - 1] = state
        return self.track.state()

    def fail_submit(self) -> MessageState:
        """A permanently failed submit counts as REJECTED in the roll-up."""
        return self.set_state(REJECTED)


class EarlyReceipt:
    """A receipt waiting for its submit_sm_resp. ``segment`` is set by
    ``register`` when the response arrives; ``on_match`` is then called."""

    __slots__ = ("keys", "segment", "on_match")

    def __init__(self, keys: list[str], on_match: Any) -> None:
        self.keys = keys
        self.segment: TrackedSegment | None = None
        self.on_match = on_match


class ReceiptCorrelator:
    def __init__(self, max_tracked: int = MAX_TRACKED, max_early: int = MAX_EARLY) -> None:
        self.max_tracked = max_tracked
        self.max_early = max_early
        self._exact: dict[str, TrackedSegment] = {}  # insertion order = age
        self._norm: dict[str, TrackedSegment] = {}
        self._early_exact: dict[str, EarlyReceipt] = {}
        self._early_norm: dict[str, EarlyReceipt] = {}
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._exact)

    @property
    def held(self) -> int:
        return len(self._early_exact)

    def register(self, seg: TrackedSegment, vendor_id: str) -> EarlyReceipt | None:
        """The SMSC accepted ``seg`` as ``vendor_id``. Returns the early
        receipt this resolves, if one was held (its on_match was called)."""
        keys = receipt_id_keys(vendor_id)
        seg.vendor_id = vendor_id
        seg.keys = keys
        early = None
        if self._early_exact or self._early_norm:  # usually none is held
            early = self._early_exact.get(keys[0])
            if early is None:
                for k in keys[1:]:
                    early = self._early_norm.get(k)
                    if early is not None:
                        break
        if early is not None:
            self.release(early)
            early.segment = seg
            early.on_match(seg)
            # The early receipt may have been final; the caller decides
            # whether to keep tracking via forget().
        old = self._exact.pop(keys[0], None)
        if old is not None:
            self._drop_norm(old)
        self._exact[keys[0]] = seg
        # A '#' key already taken belongs to a live id of the other format
        # (e.g. "10" hex vs "16" decimal): the older claim stays, exact ids
        # still find their own segment.
        setdefault = self._norm.setdefault
        for k in keys[1:]:
            setdefault(k, seg)
        if len(self._exact) > self.max_tracked:
            oldest = next(iter(self._exact))
            self.forget(self._exact[oldest])
            self.evicted += 1
        return early

    def lookup(self, vendor_id: str) -> TrackedSegment | None:
        keys = receipt_id_keys(vendor_id)
        seg = self._exact.get(keys[0])
        if seg is not None:
            return seg
        for k in keys[1:]:
            seg = self._norm.get(k)
            if seg is not None:
                return seg
        return None

    def forget(self, seg: TrackedSegment) -> None:
        """Stop tracking (its final receipt came)."""
        if seg.keys and self._exact.get(seg.keys[0]) is seg:
            del self._exact[seg.keys[0]]
        self._drop_norm(seg)

    def _drop_norm(self, seg: TrackedSegment) -> None:
        for k in seg.keys[1:]:
            if self._norm.get(k) is seg:
                del self._norm[k]

    def hold(self, vendor_id: str, on_match: Any) -> EarlyReceipt | None:
        """Hold a receipt nobody claimed yet; None when too many are held
        (the caller then hands it on unmatched)."""
        if len(self._early_exact) >= self.max_early:
            return None
        keys = receipt_id_keys(vendor_id)
        early = EarlyReceipt(keys, on_match)
        self._early_exact[keys[0]] = early
        for k in keys[1:]:
            self._early_norm[k] = early
        return early

    def release(self, early: EarlyReceipt) -> None:
        """Stop holding (matched, or its time ran out)."""
        if self._early_exact.get(early.keys[0]) is early:
            del self._early_exact[early.keys[0]]
        for k in early.keys[1:]:
            if self._early_norm.get(k) is early:
                del self._early_norm[k]


__all__ = [
    "FAILED_STATES",
    "EarlyReceipt",
    "MessageTrack",
    "ReceiptCorrelator",
    "TrackedSegment",
]
