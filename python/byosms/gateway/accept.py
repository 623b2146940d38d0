"""The MT accept path: validate a batch of `send` requests, encode and segment
them, and commit them as queued in ONE store call.

No websocket here: the API server (and anything else that accepts messages,
e.g. an admin REST endpoint) hands `Send` structs in and gets one `Accepted`
or `Rejected` (schemas/api.py) back per request, in order.

Checks, in order, each with its typed code:
  invalid_request   empty text, `integration` contradicting `from`, neither given
  invalid_recipient `to` is not a possible E.164 number (`phonenumbers`)
  unknown_sender    `from` / `integration` is not of the caller's business unit
                    (in no inventory, or another unit's: answered alike, with
                    no store lookup, so a key can't probe other units'
                    numbers), the number is disabled, or the integration has
                    no enabled number to send from
  integration_deleted  the sender's integration is deleted (S12); an inactive
                    one is accepted and its messages stay queued (S12)
  too_long          more than 255 segments
  opted_out         the recipient opted out from that sender (S15) — checked
                    by the store in the same transaction as the insert, so an
                    opt-out recorded a moment before can't be raced past
  unavailable       the store could not commit; nothing was accepted

`accepted` is produced only from the store's answer, i.e. after COMMIT.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import msgspec
import trio

from byosms import _core
from byosms.advanced_config import AdvancedConfigError, load_advanced_config
from byosms.gateway.e164 import possible_e164
from byosms.gateway.keywords import OutboundRequest
from byosms.schemas import api
from byosms.schemas.records import Integration, Message, Number, Segment
from byosms.store.base import NotFound, StoreError
from byosms.store.base import InvalidRecord, OptedOut

#: How long a business unit's inventory (numbers, integrations) is cached.
#: Changes made through the store are seen after at most this long (or at
#: once after `invalidate()`); the store itself still refuses deleted
#: integrations and opted-out recipients at commit time.
INVENTORY_TTL = 1.0
#: Recipients already checked against libphonenumber (parsing costs ~30 µs).
RECIPIENT_CACHE = 100_000
#: SMPP 3.4 5.2.21 / TS 23.040 9.2.3.24.1: 8-bit concat references wrap at 256,
#: 16-bit ones (and sar_msg_ref_num, SMPP 3.4 5.3.2.22) at 65536.
_REFERENCE_MODULO = {"udh8": 256, "udh16": 65536, "sar": 65536, "payload": 65536}
#: ESME_RINVMSGLEN: _core.segment's answer to more than 255 parts.
_ESME_RINVMSGLEN = 0x01
_ESM_UDHI = 0x40


def _reject(id: str | None, code: str, reason: str) -> api.Rejected:
    return api.Rejected(id=id, code=code, reason=reason)  # type: ignore[arg-type]


class _Inventory:
    __slots__ = ("loaded_at", "numbers", "integrations", "by_name")

    def __init__(self, loaded_at: float, numbers: list[Number],
                 integrations: list[Integration]) -> None:
        self.loaded_at = loaded_at
        self.numbers = {n.number: n for n in numbers}
        self.integrations = {i.id: i for i in integrations}
        # A live integration wins a name over deleted ones that had it.
        self.by_name = {i.name: i for i in sorted(integrations,
                                                   key=lambda i: i.state != "deleted")}

    def integration(self, ref: str) -> Integration | None:
        return self.integrations.get(ref) or self.by_name.get(ref)

    def default_number(self, integration_id: str) -> Number | None:
        usable = [n for n in self.numbers.values() if n.integration == integration_id and n.enabled]
        return min(usable, key=lambda n: n.number) if usable else None


class _Route:
    """Where one send goes: integration, source address, chain, concat."""

    __slots__ = ("integration", "source")

    def __init__(self, integration: Integration, source: str) -> None:
        self.integration = integration
        self.source = source


class MessageAcceptor:
    """Accepts MT messages for business units. One per gateway process; safe to
    share between connections (trio tasks)."""

    def __init__(self, store: Any, *, inventory_ttl: float = INVENTORY_TTL) -> None:
        self.store = store
        self.inventory_ttl = inventory_ttl
        self._inventories: dict[str, _Inventory] = {}
        self._loading: dict[str, trio.Event] = {}
        self._chains: dict[tuple[str, float], tuple[_core.Chain | None, str]] = {}
        self._recipients: dict[str, bool] = {}
        self._refs = itertools.count(1)
        self._default_chain = _core.Chain()

    # --- inventory --------------------------------------------------------------

    def invalidate(self, business_unit: str | None = None) -> None:
        """Forget cached inventory (one unit, or all): the next send reloads it."""
        if business_unit is None:
            self._inventories.clear()
        else:
            self._inventories.pop(business_unit, None)

    async def _inventory(self, business_unit: str) -> _Inventory:
        inv = self._inventories.get(business_unit)
        now = trio.current_time()
        if inv is not None and now - inv.loaded_at < self.inventory_ttl:
            return inv
        loading = self._loading.get(business_unit)
        if loading is not None:  # another task is loading it: share its result
            await loading.wait()
            inv = self._inventories.get(business_unit)
            if inv is not None:
                return inv
        done = self._loading[business_unit] = trio.Event()
        try:
            numbers = await self.store.list_numbers(business_unit=business_unit)
            integrations = await self.store.list_integrations(business_unit, include_deleted=True)
            inv = _Inventory(now, numbers, integrations)
            self._inventories[business_unit] = inv
            return inv
        finally:
            del self._loading[business_unit]
            done.set()

    def _chain(self, integration: Integration) -> tuple[_core.Chain | None, str]:
        key = (integration.id, integration.updated)
        hit = self._chains.get(key)
        if hit is not None:
            return hit
        cfg = integration.config or {}
        concat = cfg.get("concatenation") or "udh8"
        custom = cfg.get("advanced_config")
        chain = None
        if custom:
            chain = _core.Chain(load_advanced_config(custom).charset_chain())
        if len(self._chains) > 1024:
            self._chains.clear()
        self._chains[key] = (chain, concat)
        return chain, concat

    # --- checks -----------------------------------------------------------------

    def recipient_ok(self, to: str) -> bool:
        """E.164 with '+', and a possible number for its country (length and
        prefix): `is_valid_number` would refuse reserved fiction ranges such as
        +44 7700 900xxx that tests and demos rely on."""
        ok = self._recipients.get(to)
        if ok is not None:
            return ok
        ok = possible_e164(to)
        if len(self._recipients) >= RECIPIENT_CACHE:
            self._recipients.clear()
        self._recipients[to] = ok
        return ok

    async def _route(self, business_unit: str, inv: _Inventory, id: str | None,
                     from_: str | None, integration: str | None) -> _Route | api.Rejected:
        if from_ is not None:
            number = inv.numbers.get(from_)
            if number is None:
                return _reject(id, "unknown_sender",
                               f"{from_} is not a number of business unit {business_unit}")
            if not number.enabled:
                return _reject(id, "unknown_sender", f"{from_} is disabled in the inventory")
            integ = inv.integrations.get(number.integration)
            if integ is None or integ.state == "deleted":
                return _reject(id, "integration_deleted",
                               f"the integration of {from_} is deleted")
            if integration is not None and integration not in (integ.id, integ.name):
                return _reject(id, "invalid_request",
                               f"`integration` {integration!r} is not the integration of {from_}")
            return _Route(integ, from_)
        if integration is None:
            return _reject(id, "invalid_request", "give `from` (a number) or `integration`")
        integ = inv.integration(integration)
        if integ is None:
            return _reject(id, "unknown_sender",
                           f"no integration {integration!r} in business unit {business_unit}")
        if integ.state == "deleted":
            return _reject(id, "integration_deleted", f"integration {integration!r} is deleted")
        number = inv.default_number(integ.id)
        if number is None:
            return _reject(id, "unknown_sender",
                           f"integration {integration!r} has no enabled number to send from")
        return _Route(integ, number.number)

    # --- accept -----------------------------------------------------------------

    async def accept(self, business_unit: str, sends: Sequence[api.Send]
                     ) -> list[api.Accepted | api.Rejected]:
        """One answer per send, in order. Every accepted message was committed
        (as queued, with its segments) before this returns."""
        results: list[api.Accepted | api.Rejected | None] = [None] * len(sends)
        if not sends:
            return []
        try:
            inv = await self._inventory(business_unit)
        except StoreError as e:
            return [_reject(s.id, "unavailable", f"not accepted, the store failed: {e}")
                    for s in sends]
        # Group by (chain, concat) so each group is segmented in one Rust call.
        groups: dict[tuple[int, str], list[tuple[int, _Route]]] = {}
        chains: dict[int, _core.Chain | None] = {}
        for i, s in enumerate(sends):
            if not s.text:
                results[i] = _reject(s.id, "invalid_request", "`text` is empty")
                continue
            if not self.recipient_ok(s.to):
                results[i] = _reject(s.id, "invalid_recipient",
                                     f"{s.to!r} is not an E.164 number (+ and country code)")
                continue
            route = await self._route(business_unit, inv, s.id, s.from_, s.integration)
            if isinstance(route, api.Rejected):
                results[i] = route
                continue
            try:
                chain, concat = self._chain(route.integration)
            except AdvancedConfigError as e:
                results[i] = _reject(s.id, "invalid_request",
                                     f"integration {route.integration.name!r} has an invalid "
                                     f"advanced configuration: {e}")
                continue
            chains[id(chain)] = chain
            groups.setdefault((id(chain), concat), []).append((i, route))

        items: list[tuple[Message, list[Segment], str | None]] = []
        slots: list[int] = []
        for (chain_key, concat), members in groups.items():
            modulo = _REFERENCE_MODULO.get(concat, 256)
            refs = [next(self._refs) % modulo for _ in members]
            texts = [sends[i].text for i, _ in members]
            chain = chains[chain_key]
            try:
                segmented = _core.segment_many(texts, chain, concat=concat, references=refs)
            except _core.SmppError:
                # One bad text fails the whole call: redo the group one by one.
                segmented = []
                for text, ref in zip(texts, refs):
                    try:
                        segmented.append(_core.segment(text, chain, concat=concat, reference=ref))
                    except _core.SmppError as e:
                        segmented.append(e)
            for (i, route), seg in zip(members, segmented):
                s = sends[i]
                if isinstance(seg, _core.SmppError):
                    if seg.command_status == _ESME_RINVMSGLEN:
                        results[i] = _reject(s.id, "too_long",
                                             "the text needs more than 255 segments")
                    else:
                        results[i] = _reject(s.id, "invalid_request", f"text: {seg}")
                    continue
                items.append(self._records(business_unit, s, route, seg))
                slots.append(i)

        if items:
            try:
                stored = await self.store.accept_messages(items)
            except StoreError as e:  # StoreClosed included: nothing was accepted
                stored = [e] * len(items)
            for i, res in zip(slots, stored):
                results[i] = self._answer(sends[i], res)
        return results  # type: ignore[return-value]

    async def accept_reply(self, request: OutboundRequest) -> Any:
        """A keyword auto-reply (N3/N4) through the same encoding as every
        send: the integration's charset chain and concatenation method.
        Compliance replies skip the opt-out check (the STOP confirmation goes
        to a recipient who has just opted out); raises the store's error."""
        inv = await self._inventory(request.business_unit)
        integ = inv.integrations.get(request.integration) \
            or await self.store.get_integration(request.integration)
        if integ is None:
            raise NotFound(f"no integration {request.integration!r}")
        chain, concat = self._chain(integ)
        ref = next(self._refs) % _REFERENCE_MODULO.get(concat, 256)
        seg = _core.segment(request.text, chain, concat=concat, reference=ref)
        send = api.Send(id="reply", to=request.destination, text=request.text)
        msg, segs, _ = self._records(request.business_unit, send,
                                     _Route(integ, request.source), seg)
        msg = msgspec.structs.replace(msg, id=request.id)
        return await self.store.accept_message(msg, segs, None,
                                               check_opt_out=not request.compliance_reply)

    @staticmethod
    def _records(business_unit: str, s: api.Send, route: _Route, seg: Any
                 ) -> tuple[Message, list[Segment], str | None]:
        dcs = seg.dcs
        esm = _ESM_UDHI if seg.udhi else 0
        sar = seg.sar
        iid = route.integration.id
        parts = seg.parts
        if sar is None:
            segs = [Segment(0, "", k, p, esm, dcs, integration=iid) for k, p in enumerate(parts)]
        else:
            segs = [Segment(0, "", k, p, esm, dcs, r, t, q, integration=iid)
                    for k, (p, (r, t, q)) in enumerate(zip(parts, sar))]
        msg = Message("", "mt", iid, business_unit, route.source, s.to, s.text, seg.encoding,
                      dcs, len(segs), client_ref=s.client_ref)
        return msg, segs, s.idempotency_key

    @staticmethod
    def _answer(s: api.Send, res: Any) -> api.Accepted | api.Rejected:
        if isinstance(res, OptedOut):
            return _reject(s.id, "opted_out",
                           f"{s.to} opted out of messages from this sender (replied STOP); "
                           f"a START from {s.to} re-subscribes")
        if isinstance(res, NotFound):
            return _reject(s.id, "integration_deleted", "the sender's integration is deleted")
        if isinstance(res, InvalidRecord):
            return _reject(s.id, "invalid_request", str(res))
        if isinstance(res, BaseException):
            return _reject(s.id, "unavailable", f"not accepted, the store failed: {res}")
        m = res.message
        return api.Accepted(id=s.id, message_id=m.id, segments=m.segment_count,
                            encoding=m.encoding, data_coding=m.dcs, duplicate=res.duplicate)

    # --- preview ----------------------------------------------------------------

    async def preview(self, business_unit: str, p: api.Preview
                      ) -> api.PreviewResult | api.Rejected:
        """Encoding and segment count the text would get from this sender's
        charset chain (the default chain without a sender). Nothing is stored."""
        chain: _core.Chain | None = None
        concat = "udh8"
        if p.from_ is not None or p.integration is not None:
            inv = await self._inventory(business_unit)
            route = await self._route(business_unit, inv, p.id, p.from_, p.integration)
            if isinstance(route, api.Rejected):
                return route
            try:
                chain, concat = self._chain(route.integration)
            except AdvancedConfigError as e:
                return _reject(p.id, "invalid_request", f"invalid advanced configuration: {e}")
        try:
            pv = _core.preview(p.text, chain, concat=concat)
        except _core.SmppError as e:
            if e.command_status == _ESME_RINVMSGLEN:
                return _reject(p.id, "too_long", "the text needs more than 255 segments")
            return _reject(p.id, "invalid_request", f"text: {e}")
        return api.PreviewResult(id=p.id, encoding=pv.encoding, data_coding=pv.dcs,
                                 segments=pv.segments, units=pv.units, remaining=pv.remaining,
                                 forced_by=list(pv.forced_by))
