"""The message lifecycle's rules (S13), in one place: what a message's state
is, given its segments' states. Every provider's receipts, the SMPP
engine's in-memory tracking and the store's per-item path use these; the
store's batch planner (rust/src/store_sets.rs ``roll_up``) is their twin in
Rust, held equal to the per-item path (``message_state_of``) by
tests/test_store_sets.py, and both to an independent statement of S13 by
tests/test_store_rollup.py.

Two scales, one rule:
- a receipt's ``state`` is an SMPP message_state (``byosms.pipeline``),
  None while no receipt came: ``roll_up``;
- a stored segment's state is queued / in_flight / submitted / delivered /
  failed: ``message_state_of``.

Rule: any segment failed for good -> failed (a recipient can't read a
message with a hole in it); every segment delivered -> delivered; any
segment submitted or delivered -> en_route; else queued. A failed message
stays failed (the store enforces it: a later receipt cannot undo it).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from byosms.pipeline import DELIVERED, FAILED_STATES, MessageState

__all__ = [
    "FINAL_MESSAGE_STATES",
    "ONE_SEGMENT",
    "message_state_of",
    "one_segment_state",
    "roll_up",
]

#: Message states that no receipt changes any more.
FINAL_MESSAGE_STATES = frozenset({"delivered", "failed"})
#: A one-segment message's state from its stored segment's (the common case,
#: without the general rule's counting).
ONE_SEGMENT: Mapping[str, str] = {"delivered": "delivered", "failed": "failed",
                                  "submitted": "en_route"}


def roll_up(segment_states: Iterable[int | None]) -> MessageState:
    """The message state from its segments' receipt states (S13).

    Each item is the SMPP message_state of one segment's latest receipt, or
    None while no receipt came. A segment whose submit failed permanently
    counts as REJECTED.
    """
    states = list(segment_states)
    if not states:
        return "en_route"
    if any(s in FAILED_STATES for s in states):
        return "failed"
    if all(s == DELIVERED for s in states):
        return "delivered"
    return "en_route"


def one_segment_state(state: int | None) -> MessageState:
    """``roll_up([state])``, without its generality (the hot path)."""
    return "failed" if state in FAILED_STATES else "delivered" if state == DELIVERED else "en_route"


def message_state_of(counts: Mapping[str, int], segment_count: int) -> str:
    """The message state from how many of its ``segment_count`` stored
    segments are in each state."""
    if counts.get("failed"):
        return "failed"
    if counts.get("delivered", 0) == segment_count:
        return "delivered"
    if counts.get("submitted") or counts.get("delivered"):
        return "en_route"
    return "queued"
