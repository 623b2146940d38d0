"""What the store keeps (issue 5, item 1): one msgspec Struct per record.

These are storage records, shared by every backend (SQLite now, PostgreSQL
later) and by the pipeline, the SMPP engine and the admin API. Times are Unix
seconds (float). Structs are positional in the order the SQLite backend selects
its columns, so rows become records without a dict per row.

Secrets never live here: `Integration.config` is the provider configuration
with its secret fields removed; `Integration.secret_fields` names them, and the
values come back only from `Store.reveal_secrets()`.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any, Literal

import msgspec

#: A provider's registry name: "smpp", "twilio" or a plug-in's entry-point name.
Provider = str
IntegrationState = Literal["active", "inactive", "deleted"]
NumberType = Literal["local", "mobile", "toll_free", "short_code", "alphanumeric"]
Direction = Literal["mt", "mo"]

#: Message states (S13: an MT message's state derives from all its segments):
#: queued   — accepted and committed, no segment submitted yet;
#: en_route — at least one segment submitted, not every segment final;
#: delivered — every segment delivered;
#: failed   — some segment failed permanently (the others may still be delivered);
#: received — an MO message, stored before its deliver_sm_resp.
MessageState = Literal["queued", "en_route", "delivered", "failed", "received"]

#: Segment states:
#: queued    — waiting for a sender task;
#: in_flight — claimed by a sender task, submit_sm not yet answered;
#: submitted — the SMSC accepted it (vendor id known), receipt awaited;
#: delivered / failed — final, from a receipt or a permanent submit error.
SegmentState = Literal["queued", "in_flight", "submitted", "delivered", "failed"]
FINAL_SEGMENT_STATES = frozenset({"delivered", "failed"})

EventType = Literal["status", "inbound", "operational", "keyword"]


def now() -> float:
    return time.time()


# Ids need uniqueness, not secrecy (they grant nothing: every lookup is
# scoped by the caller's API key): a generator seeded from the OS, instead of
# a getrandom() system call per id, which was a tenth of the accept path.
_id_random = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _id_random.seed(os.urandom(32)))


def new_id(prefix: str, _bits: Any = _id_random.getrandbits) -> str:
    """A sortable unique id: prefix, 12 hex digits of milliseconds, 16 random hex.

    Time-ordered ids keep B-tree inserts near the right edge of the index."""
    return f"{prefix}{int(time.time() * 1000):012x}{_bits(64):016x}"


def id_maker(prefix: str, t: float, _bits: Any = _id_random.getrandbits) -> Callable[[], str]:
    """`new_id` for a batch made at time `t`: the time part formatted once."""
    template = f"{prefix}{int(t * 1000):012x}%016x"
    return lambda: template % _bits(64)


class Integration(msgspec.Struct, frozen=True):
    id: str
    business_unit: str
    provider: Provider
    name: str
    config: dict[str, Any]
    state: IntegrationState = "inactive"
    secret_fields: tuple[str, ...] = ()
    created: float = 0.0
    updated: float = 0.0


# N3: the default keyword set and replies for local, mobile and toll-free numbers.
DEFAULT_HELP_KEYWORDS = ("HELP", "INFO")
DEFAULT_OPT_OUT_KEYWORDS = (
    "CANCEL", "END", "QUIT", "STOP", "UNSUBSCRIBE", "STOP ALL", "REVOKE", "OPTOUT",
)
DEFAULT_OPT_IN_KEYWORDS = ("START", "YES", "UNSTOP")
DEFAULT_HELP_REPLY = "Reply STOP to unsubscribe. Msg & Data Rates May Apply."
DEFAULT_OPT_OUT_REPLY = (
    "You have successfully been unsubscribed. You will not receive any more messages "
    "from this number. Reply START to resubscribe."
)
DEFAULT_OPT_IN_REPLY = (
    "You have successfully been re-subscribed to messages from this number. Reply HELP "
    "for help. Reply STOP to unsubscribe. Msg & Data Rates May Apply."
)


class Keywords(msgspec.Struct, frozen=True, kw_only=True):
    help: tuple[str, ...]
    help_reply: str
    opt_out: tuple[str, ...]
    opt_out_reply: str
    opt_in: tuple[str, ...]
    opt_in_reply: str


DEFAULT_KEYWORDS = Keywords(
    help=DEFAULT_HELP_KEYWORDS,
    help_reply=DEFAULT_HELP_REPLY,
    opt_out=DEFAULT_OPT_OUT_KEYWORDS,
    opt_out_reply=DEFAULT_OPT_OUT_REPLY,
    opt_in=DEFAULT_OPT_IN_KEYWORDS,
    opt_in_reply=DEFAULT_OPT_IN_REPLY,
)


class Number(msgspec.Struct, frozen=True):
    """A sender in the inventory (N1–N4). `keywords` None means the N3 defaults,
    which short codes don't get (N4: the store refuses a short code without them).
    A number is usable when it is enabled AND its integration is active (S12)."""

    number: str
    type: NumberType
    integration: str
    business_unit: str
    display_name: str = ""
    keywords: Keywords | None = None
    enabled: bool = True
    created: float = 0.0
    updated: float = 0.0

    def effective_keywords(self) -> Keywords:
        return self.keywords if self.keywords is not None else DEFAULT_KEYWORDS


class Message(msgspec.Struct, frozen=True):
    id: str
    direction: Direction
    integration: str
    business_unit: str
    source: str
    destination: str
    text: str
    encoding: str
    dcs: int
    segment_count: int
    state: MessageState = "queued"
    generic_code: int | None = None
    generic_cause: str | None = None
    client_ref: str | None = None
    idempotency_key: str | None = None
    created: float = 0.0
    updated: float = 0.0


class Segment(msgspec.Struct, frozen=True):
    """One submit_sm worth of a message. `id` is assigned by the store (0 before).

    `source`/`destination` are copied from the message when a sender task claims
    the segment, so it can build the submit_sm from this record alone."""

    id: int
    message_id: str
    index: int
    short_message: bytes
    esm_class: int = 0
    dcs: int = 0
    sar_ref: int | None = None
    sar_total: int | None = None
    sar_seq: int | None = None
    integration: str = ""
    state: SegmentState = "queued"
    attempts: int = 0
    vendor_message_id: str | None = None
    generic_code: int | None = None
    generic_cause: str | None = None
    vendor_code: int | None = None
    updated: float = 0.0
    source: str = ""
    destination: str = ""


class Event(msgspec.Struct, frozen=True):
    cursor: int
    business_unit: str
    type: EventType
    payload: dict[str, Any]
    created: float = 0.0


class StatusPayload(msgspec.Struct, omit_defaults=True):
    """The stored payload of a `status` event: one segment's change and the
    message state it rolled up to (S13). Optional fields that are None are
    left out of the stored JSON (a third of a status row's bytes, written
    twice per message, then checkpointed and read back); readers take a
    missing field as None, and the store's Event.payload has every field.
    The store's batch path writes the same JSON from the Rust core
    (rust/src/store_sets.rs `payload`)."""

    message_id: str
    segment_index: int
    segment_count: int
    segment_state: str
    message_state: str
    message_state_changed: bool
    client_ref: str | None = None
    generic_code: int | None = None
    generic_cause: str | None = None
    vendor_code: int | None = None
    vendor_message_id: str | None = None


#: StatusPayload's fields that are absent when None.
STATUS_OPTIONAL = ("client_ref", "generic_code", "generic_cause", "vendor_code",
                   "vendor_message_id")


class OptOut(msgspec.Struct, frozen=True):
    sender: str
    recipient: str
    since: float


class ApiKey(msgspec.Struct, frozen=True):
    """An API key as stored: `hash` is sha256 of the token; the token itself is
    shown once by `create_api_key` and never stored."""

    id: str
    business_unit: str
    name: str
    hash: bytes
    created: float
    revoked: float | None = None

    def __repr__(self) -> str:  # the hash is not secret, but it is noise in logs
        return (
            f"ApiKey(id={self.id!r}, business_unit={self.business_unit!r}, "
            f"name={self.name!r}, revoked={self.revoked!r})"
        )


# --- operation inputs and results -------------------------------------------------


class Accepted(msgspec.Struct, frozen=True):
    """Result of accept_message: the stored message (the first one, when the
    idempotency key had been seen) and whether this call was a duplicate."""

    message: Message
    duplicate: bool


class SubmitError(msgspec.Struct, frozen=True, kw_only=True):
    """A submit_sm that failed. `permanent` fails the segment (and the message);
    otherwise the segment goes back to the queue for another attempt."""

    permanent: bool
    generic_code: int | None = None
    generic_cause: str | None = None
    vendor_code: int | None = None


class SubmitOutcome(msgspec.Struct, frozen=True, kw_only=True):
    segment_id: int
    vendor_message_id: str | None = None
    error: SubmitError | None = None


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery receipt to record. The segment is found by `segment_id` when
    given, else by `vendor_ids` for `integration` (the receipt helper's keys, in
    order: the first exact match wins). `state` is the segment state it moves to:
    delivered / failed are final; submitted (an intermediate receipt such as
    ENROUTE or ACCEPTD) only records the codes."""

    integration: str
    vendor_ids: tuple[str, ...] = ()
    segment_id: int | None = None
    state: Literal["submitted", "delivered", "failed"]
    generic_code: int | None = None
    generic_cause: str | None = None
    vendor_code: int | None = None
    vendor_status: str | None = None


class ReceiptResult(msgspec.Struct, frozen=True):
    """`segment` is None when no segment matched (the receipt may have beaten the
    submit_sm_resp: the pipeline holds it and retries)."""

    segment: Segment | None
    message_state: MessageState | None = None
    event_cursor: int | None = None


class NewEvent(msgspec.Struct, frozen=True):
    business_unit: str
    type: EventType
    payload: dict[str, Any]
