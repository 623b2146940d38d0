"""The store interface the pipeline, the SMPP engine and the admin API program
against. SQLite implements it now (`byosms.store.sqlite`); a PostgreSQL backend
must give the same guarantees:

- every write method returns only after its effect is durably committed (the
  pipeline acknowledges on return: "nothing acknowledged is lost");
- a write either happens whole or not at all; one failing write does not fail
  writes batched with it;
- event cursors increase in commit order (a reader that has seen cursor N will
  never later see a new event below N);
- secrets are readable only through `reveal_secrets`.

Errors are the exceptions below (plus `byosms.store.crypto.SecretKeyError`);
backends translate their own.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from byosms.schemas.records import (
    Accepted,
    ApiKey,
    Event,
    Integration,
    IntegrationState,
    Message,
    NewEvent,
    Number,
    Receipt,
    ReceiptResult,
    Segment,
    SubmitOutcome,
)
from byosms.secret import Secret


class StoreError(Exception):
    """Base of store errors."""


class _Recorded:
    """See RECORDED."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RECORDED"


#: The answer of `record_submits` / `record_receipts` with `details=False` for
#: an item written as asked whose record was not read back (the batch path);
#: items the per-item path took still come back as their record or error.
RECORDED: Any = _Recorded()


class NotFound(StoreError, LookupError):
    pass


class Conflict(StoreError):
    """The write contradicts what is stored (duplicate number, wrong state...)."""


class OptedOut(Conflict):
    """The recipient opted out of messages from this sender (S15)."""


class InvalidRecord(StoreError, ValueError):
    """A record the store refuses as it is (e.g. a short code without
    keywords, N4); the message says why."""


class SchemaError(StoreError):
    """The database schema is not one this code can use (e.g. newer)."""


class StoreClosed(StoreError):
    """The store shut down before the operation ran."""


class Store(Protocol):
    # --- integrations -------------------------------------------------------------
    async def create_integration(
        self,
        business_unit: str,
        provider: str,
        name: str,
        config: dict[str, Any],
        *,
        state: IntegrationState = "inactive",
        id: str | None = None,
    ) -> Integration:
        """Top-level `Secret` values of `config` are encrypted and kept apart."""
        ...

    async def update_integration(
        self, id: str, *, name: str | None = None, config: dict[str, Any] | None = None
    ) -> Integration:
        """`config` replaces the stored one; secret fields it carries replace the
        stored secrets, secret fields it omits are kept."""
        ...

    async def set_integration_state(self, id: str, state: IntegrationState) -> Integration:
        """S12: deleting removes the integration's numbers; a deleted integration
        cannot change state again."""
        ...

    async def get_integration(self, id: str) -> Integration | None: ...

    async def list_integrations(
        self, business_unit: str | None = None, *, include_deleted: bool = False
    ) -> list[Integration]: ...

    async def reveal_secrets(self, id: str) -> dict[str, Secret]: ...

    # --- numbers ------------------------------------------------------------------
    async def add_number(self, number: Number) -> Number: ...

    async def update_number(self, number: Number) -> Number: ...

    async def remove_number(self, number: str) -> bool: ...

    async def get_number(self, number: str) -> Number | None: ...

    async def list_numbers(
        self, *, business_unit: str | None = None, integration: str | None = None
    ) -> list[Number]: ...

    # --- messages and segments ----------------------------------------------------
    async def accept_message(
        self, message: Message, segments: Sequence[Segment], idempotency_key: str | None = None
    ) -> Accepted: ...

    async def accept_messages(
        self, items: Sequence[tuple[Message, Sequence[Segment], str | None]]
    ) -> list[Accepted | StoreError]:
        """Batch form: one result per item, each item atomic on its own."""
        ...

    async def get_message(self, id: str) -> Message | None: ...

    async def get_segments(self, message_id: str) -> list[Segment]: ...

    async def claim_segments(self, integration: str, limit: int) -> list[Segment]:
        """Oldest queued segments of an active integration -> in_flight."""
        ...

    async def record_submit(
        self,
        segment_id: int,
        vendor_message_id: str | None = None,
        error: Any = None,
    ) -> Segment: ...

    async def record_submits(
        self, outcomes: Sequence[SubmitOutcome], *, details: bool = True
    ) -> list[Segment | StoreError]:
        """Per outcome its segment as recorded, or the error; `details=False`
        (for a caller that looks only for errors): RECORDED where the record
        would only have been read back for the answer."""
        ...

    async def find_segment_by_vendor_id(
        self, integration: str, keys: Sequence[str]
    ) -> Segment | None: ...

    async def submitted_segments(
        self, integration: str, limit: int = 100_000
    ) -> list[tuple[Segment, int]]:
        """Submitted segments without a final receipt, with their message's
        segment count (the engine re-learns them after a restart)."""
        ...

    async def record_receipt(self, receipt: Receipt) -> ReceiptResult: ...

    async def record_receipts(
        self, receipts: Sequence[Receipt], *, details: bool = True
    ) -> list[ReceiptResult | StoreError]:
        """Per receipt its result or error; `details=False` as in
        `record_submits` (a receipt that matched no segment still gives
        ReceiptResult(None))."""
        ...

    async def expire_receipts(
        self, integration: str, submitted_before: float, limit: int = 1000
    ) -> list[Segment]:
        """The receipt timeout: up to `limit` segments of `integration` in
        state `submitted` whose submit was recorded before `submitted_before`
        (wall-clock seconds, the clock of `updated`), oldest submit first,
        become `failed` with generic code 9 (unknown) and cause
        "RECEIPT_TIMEOUT", recorded as a failed receipt is: same roll-up, one
        `status` event each. The clock is the submit's: intermediate receipts
        (ENROUTE...) do not restart it. Segments queued, in flight or final
        are untouched; a receipt that arrives for an expired segment later
        changes nothing (as for any final segment). One transaction per call;
        returns the segments expired ([] when none is overdue: call again
        until it returns fewer than `limit`)."""
        ...

    async def record_inbound(self, message: Message, payload: dict[str, Any]) -> Event:
        """An MO message and its `inbound` event, committed together."""
        ...

    # --- events -------------------------------------------------------------------
    async def append_events(self, events: Sequence[NewEvent]) -> list[int]: ...

    async def events_after(self, business_unit: str, cursor: int, limit: int) -> list[Event]: ...

    async def ack(self, consumer: str, cursor: int) -> int: ...

    async def last_ack(self, consumer: str) -> int: ...

    # --- compliance ---------------------------------------------------------------
    async def set_opt_out(self, sender: str, recipient: str, opted_out: bool) -> None: ...

    async def is_opted_out(self, sender: str, recipient: str) -> bool: ...

    # --- API keys -----------------------------------------------------------------
    async def create_api_key(self, business_unit: str, name: str) -> tuple[ApiKey, str]: ...

    async def verify_api_key(self, token: str) -> ApiKey | None: ...

    async def revoke_api_key(self, id: str) -> bool: ...

    async def list_api_keys(self, business_unit: str) -> list[ApiKey]: ...
