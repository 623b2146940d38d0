"""The MO handler (PRODUCT.md S15, N3, D4): what the engine calls for every
inbound message, before it answers the deliver_sm.

1. The number (`to`) is looked up in the inventory (one read). Unknown, in
   another integration, or disabled: an `operational` event
   (kind "inbound_unroutable") for the receiving integration's business unit,
   and the message is not routed. An opt-out / opt-in keyword sent to a known
   but disabled number is still recorded (S15: every opt-out is honoured) but
   gets no auto-reply.
2. Otherwise the keywords of the number are matched (pure, see
   `byosms.gateway.keywords`) and these writes are issued together:
   `record_inbound` (the MO and its `inbound` event, with `keyword`),
   `set_opt_out` for an opt-out / opt-in, `append_events` for the `keyword`
   event, and the auto-reply handed to the pipeline's accept callback. The
   store API has no single call for all of them, so they run concurrently:
   the store's writer takes what is queued together into one transaction
   (one fsync), and each is still atomic on its own.
3. `handle` returns after they are committed; the caller then answers the
   deliver_sm. If recording the MO or the opt-out fails the exception
   propagates (answer with a temporary error so the SMSC retries: a retried
   opt-out is idempotent); a failed auto-reply is reported in the result and
   as an operational event, and does not fail the MO.

Message ids of the MO and of the reply are chosen up front so the events can
name each other without waiting for one write before the next.

Order: MOs of one subscriber to one number must be handled one after another
(a STOP then START racing could commit the other way round); the engine
handles a session's deliver_sm in order.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import trio

from byosms.gateway.keywords import (
    AcceptCallback,
    KeywordKind,
    OutboundRequest,
    accept_outbound,
    evaluate,
)
from byosms.gateway.numbers import canonical_address
from byosms.pipeline import InboundMessage
from byosms.schemas.events import OperationalEvent
from byosms.schemas.records import Message, NewEvent, Number, new_id

UnroutedReason = Literal["unknown_integration", "unknown_number", "number_disabled"]


class InboundResult(msgspec.Struct, frozen=True, kw_only=True):
    routed: bool
    business_unit: str | None = None
    message_id: str | None = None
    event_cursor: int | None = None
    keyword: KeywordKind | None = None
    reply: OutboundRequest | None = None
    reply_error: str | None = None
    #: The provider answers keywords itself: no reply was sent by us.
    reply_by_provider: bool = False
    unrouted_reason: UnroutedReason | None = None


class InboundHandler:
    """Routes MO messages. `accept` is the outbound pipeline's accept path for
    auto-replies (default: `accept_outbound` straight into the store)."""

    def __init__(self, store: Any, accept: AcceptCallback | None = None) -> None:
        self._store = store
        self._accept: AcceptCallback = accept or (lambda req: accept_outbound(store, req))

    async def handle(self, integration: str, mo: InboundMessage, *,
                     provider_replies: bool = False) -> InboundResult:
        """Route one MO of ``integration``. ``provider_replies``: the provider
        answers HELP/STOP/START itself (Twilio's default), so opt-outs are
        recorded and the keyword event written, but no reply is sent."""
        to = canonical_address(mo.destination)
        sender = canonical_address(mo.source)
        number = await self._store.get_number(to)
        if number is None or number.integration != integration:
            return await self._unroutable(integration, mo, to, sender, "unknown_number")
        if not number.enabled:
            return await self._disabled(integration, mo, number, sender)
        return await self._route(integration, mo, number, sender, provider_replies)

    async def _route(self, integration: str, mo: InboundMessage, number: Number, sender: str,
                     provider_replies: bool) -> InboundResult:
        bu = number.business_unit
        message_id = new_id("msg_")
        outcome = evaluate(number, sender, mo.text, integration=integration,
                           message_id=message_id)
        if provider_replies and outcome.reply is not None:
            outcome = msgspec.structs.replace(outcome, reply=None, event=_without_reply(
                outcome.event))
        kind = None if outcome.match.kind == "none" else outcome.match.kind
        dcs = mo.data_coding
        encoding = _ENCODINGS.get(dcs & 0x0F if dcs < 0x10 else dcs, "binary") \
            if dcs is not None else "gsm7"  # decoded by the provider
        segments = max(mo.parts, 1)
        message = Message(message_id, "mo", integration, bu, sender, number.number, mo.text,
                          encoding, dcs or 0, segments)
        payload = {
            "from": sender, "to": number.number, "text": mo.text,
            "integration": integration, "segments": segments, "keyword": kind,
        }
        results: dict[str, Any] = {}
        change = outcome.opt_out_change
        reply = outcome.reply

        async def run(name: str, fn: Any, *args: Any) -> None:
            # Capture rather than raise: a failing write must not cancel the
            # others (a cancelled caller's op may still commit unseen).
            try:
                results[name] = await fn(*args)
            except Exception as e:  # noqa: BLE001 - sorted out below
                results[name] = e

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, "inbound", self._store.record_inbound, message, payload)
            if change is not None:
                nursery.start_soon(run, "opt_out", self._store.set_opt_out, number.number,
                                   sender, change)
            if outcome.event is not None:
                nursery.start_soon(run, "keyword", self._store.append_events, [outcome.event])
            if reply is not None:
                nursery.start_soon(run, "reply", self._accept, reply)

        for essential in ("inbound", "opt_out", "keyword"):
            err = results.get(essential)
            if isinstance(err, Exception):
                raise err
        reply_error = None
        if isinstance(results.get("reply"), Exception):
            err = results["reply"]
            reply_error = f"{type(err).__name__}: {err}"
            await self._store.append_events([_operational(
                bu, "delivery_failure", integration,
                f"the {kind} auto-reply to {sender} from {number.number} was not accepted: "
                f"{reply_error}")])
        return InboundResult(
            routed=True, business_unit=bu, message_id=message_id,
            event_cursor=results["inbound"].cursor, keyword=kind, reply=reply,
            reply_error=reply_error,
            reply_by_provider=provider_replies and kind is not None,
        )

    async def _disabled(self, integration: str, mo: InboundMessage, number: Number,
                        sender: str) -> InboundResult:
        outcome = evaluate(number, sender, mo.text, integration=integration)
        change = outcome.opt_out_change
        if change is not None:
            await self._store.set_opt_out(number.number, sender, change)
        return await self._unroutable(integration, mo, number.number, sender, "number_disabled",
                                      business_unit=number.business_unit,
                                      recorded=outcome.match.kind if change is not None else None)

    async def _unroutable(self, integration: str, mo: InboundMessage, to: str, sender: str,
                          reason: UnroutedReason, *, business_unit: str | None = None,
                          recorded: str | None = None) -> InboundResult:
        if business_unit is None:
            integ = await self._store.get_integration(integration)
            if integ is None:
                # Nobody to tell: the integration is gone (deleted mid-flight).
                return InboundResult(routed=False, unrouted_reason="unknown_integration")
            business_unit = integ.business_unit
        detail = (f"inbound message from {sender} to {to} not routed: "
                  + ("the number is not in this integration's inventory"
                     if reason == "unknown_number" else "the number is disabled"))
        if recorded is not None:
            detail += f" (its {recorded.replace('_', '-')} was recorded)"
        cursors = await self._store.append_events(
            [_operational(business_unit, "inbound_unroutable", integration, detail)])
        return InboundResult(routed=False, business_unit=business_unit,
                             event_cursor=cursors[0], unrouted_reason=reason)


#: SMPP data_coding (low nibble for the 0x0X group) -> the stored encoding name.
_ENCODINGS = {0: "gsm7", 1: "ascii", 3: "latin1", 8: "ucs2"}


def _without_reply(event: NewEvent | None) -> NewEvent | None:
    """The keyword event when the provider, not byosms, replied."""
    if event is None:
        return None
    payload = dict(event.payload)
    payload["reply_message_id"] = None
    payload["replied_by"] = "provider"
    return msgspec.structs.replace(event, payload=payload)


def _operational(business_unit: str, kind: str, integration: str, detail: str) -> NewEvent:
    ev = OperationalEvent(kind=kind, integration=integration, detail=detail)  # type: ignore[arg-type]
    return NewEvent(business_unit, "operational", msgspec.to_builtins(ev))
