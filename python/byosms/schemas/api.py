"""The websocket API: every message applications and the gateway exchange.

One Struct per message type, tagged by `type`, decoded once at the edge. A
frame carries one message object or a JSON array of them (batching: many
`send`s in one frame are answered in one frame, in order). Examples of every
message live in docs/websocket-api.md and are checked against these types by
tests/test_api_schema.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

#: Upper bounds that keep one client from exhausting the gateway. A text of
#: 255 concatenated UCS-2 parts is 255 * 67 = 17,085 characters; round up.
MAX_TEXT_CHARS = 20_000
MAX_BATCH = 1_000
MAX_FRAME_BYTES = 4 * 1024 * 1024
#: Cursors are SQLite rowids (signed 64-bit): a larger one is refused at the
#: edge (`invalid_message`) instead of overflowing in the store.
MAX_CURSOR = 2**63 - 1

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Address = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_CHARS)]
Cursor = Annotated[int, msgspec.Meta(ge=0, le=MAX_CURSOR)]


class _Msg(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True,
           omit_defaults=True):
    pass


# --- application -> gateway ------------------------------------------------


class Auth(_Msg, tag="auth", kw_only=True):
    """First frame when the API key can't travel in the handshake's
    `Authorization: Bearer` header (browsers)."""

    api_key: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    resume_from: Cursor | None = None


class Send(_Msg, tag="send", kw_only=True):
    id: Id  # the client's handle for this request; echoed in the answer
    to: Address  # E.164 with '+'
    text: Text
    from_: Address | None = msgspec.field(default=None, name="from")  # a number the caller owns
    integration: Id | None = None
    idempotency_key: Id | None = None
    client_ref: Annotated[str, msgspec.Meta(max_length=256)] | None = None


class Preview(_Msg, tag="preview", kw_only=True):
    id: Id
    text: Text
    from_: Address | None = msgspec.field(default=None, name="from")
    integration: Id | None = None


class Ack(_Msg, tag="ack", kw_only=True):
    cursor: Cursor  # every event up to and including this cursor is processed


class Ping(_Msg, tag="ping", kw_only=True):
    id: Id | None = None


ClientMessage = Auth | Send | Preview | Ack | Ping


# --- gateway -> application --------------------------------------------------


class Ready(_Msg, tag="ready", kw_only=True):
    business_unit: str
    resume_from: Cursor  # events after this cursor will follow


class Accepted(_Msg, tag="accepted", kw_only=True):
    id: Id
    message_id: str
    segments: int
    encoding: Literal["gsm7", "8bit", "ucs2"]
    data_coding: int | None = None
    duplicate: bool = False  # the idempotency key was seen: this is the first result again


RejectCode = Literal[
    "invalid_request",  # schema or value error; `reason` names the field
    "unauthorized",
    "forbidden",  # reserved: another unit's sender is `unknown_sender` (it stays hidden)
    "invalid_recipient",  # not E.164
    "opted_out",  # recipient opted out from this sender (S15)
    "unknown_sender",
    "integration_inactive",
    "integration_deleted",
    "quota_exceeded",  # D6
    "too_long",  # more than 255 segments
    "rate_limited",  # this connection sends faster than its limit
    "unavailable",  # the store could not commit; nothing was accepted
]


class Rejected(_Msg, tag="rejected", kw_only=True):
    id: Id | None
    code: RejectCode
    reason: str


class PreviewResult(_Msg, tag="preview_result", kw_only=True):
    id: Id
    encoding: Literal["gsm7", "8bit", "ucs2"]
    data_coding: int
    segments: int
    units: int
    remaining: int  # characters (septets, octets or UCS-2 units) left in the last segment
    forced_by: list[str] = []  # the characters that moved the text off GSM-7


class Pong(_Msg, tag="pong", kw_only=True):
    id: Id | None = None


class Error(_Msg, tag="error", kw_only=True):
    """A frame that could not be understood at all (not JSON, unknown type, too large).
    The connection stays open where the protocol allows it."""

    code: Literal["bad_json", "unknown_type", "frame_too_large", "batch_too_large",
                  "invalid_message", "unauthenticated", "too_many_connections",
                  "unavailable", "internal"]
    reason: str
    id: Id | None = None


MessageState = Literal["queued", "en_route", "delivered", "failed", "expired", "rejected",
                       "unknown", "partially_delivered"]


class Status(_Msg, tag="status", kw_only=True):
    cursor: Cursor
    message_id: str
    state: MessageState
    generic_code: int  # S7: 0 success ... 10 undeliverable
    generic_cause: str
    segment: int | None = None  # 1-based; None for the message-level roll-up
    segments: int | None = None
    vendor_code: str | None = None
    client_ref: str | None = None
    at: str  # RFC 3339


class Inbound(_Msg, tag="inbound", kw_only=True):
    cursor: Cursor
    message_id: str
    from_: str = msgspec.field(name="from")
    to: str
    text: str
    integration: str
    segments: int = 1
    keyword: Literal["help", "opt_out", "opt_in"] | None = None
    at: str


class Keyword(_Msg, tag="keyword", kw_only=True):
    """A compliance keyword was received (N3/N4, S15): what matched, whether the
    subscriber is now opted out, and the auto-reply sent through the pipeline."""

    cursor: Cursor
    keyword: Literal["help", "opt_out", "opt_in"]
    matched: str | None = None
    from_: str = msgspec.field(name="from")
    to: str
    integration: str
    opted_out: bool | None = None  # None for HELP (no change)
    reply_message_id: str | None = None
    message_id: str | None = None  # the inbound message that carried it
    at: str


class Operational(_Msg, tag="operational", kw_only=True):
    cursor: Cursor
    kind: str  # see byosms.schemas.events.EventKind
    integration: str
    bind: int | None = None
    cause: str | None = None
    command_status: int | None = None
    detail: str = ""
    at: str


ServerMessage = Ready | Accepted | Rejected | PreviewResult | Pong | Error | Status | Inbound | \
    Keyword | Operational

client_decoder = msgspec.json.Decoder(ClientMessage | list[ClientMessage])
server_decoder = msgspec.json.Decoder(ServerMessage | list[ServerMessage])
encoder = msgspec.json.Encoder()
