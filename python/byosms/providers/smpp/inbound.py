"""Inbound (MO) messages: decode per data_coding, reassemble, normalise addresses.

Sans-I/O: the caller passes time in (``now_ms``) and runs ``expire`` from a
timer. Decoding is the core's (``Chain.decode`` / ``decode_parts``: the
integration's charset chain wins over the generic DCS reading), reassembly is
the core's ``Reassembler`` (8- and 16-bit UDH references, SAR TLVs).

Missing parts: when a group is still incomplete ``timeout_ms`` after its
first part (or is evicted because too many groups are pending), ``expire``
returns it as an ``InboundMessage`` with ``incomplete=True``, the text of the
parts that did arrive in order, and ``missing`` part numbers. Delivering
what arrived beats dropping it: the recipient sees a truncated message rather
than nothing, and the flag lets the application say so.
"""

from __future__ import annotations

from typing import Any

from byosms import _core
from byosms._core import Chain, Pdu, Reassembler
from byosms.providers.smpp.messages import InboundMessage, inbound_address

#: SMPP 3.4 section 5.2.12: esm_class UDHI bit.
ESM_UDHI = 0x40
TLV_SAR_MSG_REF_NUM = _core.TLV_SAR_MSG_REF_NUM
TLV_SAR_TOTAL_SEGMENTS = _core.TLV_SAR_TOTAL_SEGMENTS
TLV_SAR_SEGMENT_SEQNUM = _core.TLV_SAR_SEGMENT_SEQNUM
TLV_MESSAGE_PAYLOAD = _core.TLV_MESSAGE_PAYLOAD
#: How long parts of a concatenated MO wait for the rest. 3GPP sets no limit;
#: SMSCs deliver the parts of one message within seconds, a minute is generous.
DEFAULT_REASSEMBLY_TIMEOUT = 60.0
#: Incomplete groups kept at once, per integration (oldest evicted beyond).
MAX_PENDING_GROUPS = 10_000


class _Group:
    __slots__ = ("dcs", "udhi", "ton", "npi", "dest_ton", "dest_npi", "bind")

    def __init__(self, dcs: int, udhi: bool, ton: int, npi: int, dest_ton: int, dest_npi: int, bind: Any) -> None:
        self.dcs = dcs
        self.udhi = udhi
        self.ton = ton
        self.npi = npi
        self.dest_ton = dest_ton
        self.dest_npi = dest_npi
        self.bind = bind


class MoAssembler:
    def __init__(
        self,
        chain: Chain,
        *,
        plus_prefix: bool = False,
        default_region: str | None = None,
        timeout: float = DEFAULT_REASSEMBLY_TIMEOUT,
        max_pending: int = MAX_PENDING_GROUPS,
    ) -> None:
        self.chain = chain
        self.plus_prefix = plus_prefix
        self.default_region = default_region
        self.timeout_ms = int(timeout * 1000)
        self._reassembler = Reassembler(max_pending)
        self._groups: dict[tuple[str, str, int, int], _Group] = {}

    @property
    def pending(self) -> int:
        return self._reassembler.pending

    def _addr(self, addr: str, ton: int, npi: int) -> str:
        return inbound_address(addr, ton, npi, plus_prefix=self.plus_prefix, default_region=self.default_region)

    def add(self, pdu: Pdu, now_ms: int, bind: int | None = None) -> InboundMessage | None:
        """One deliver_sm / data_sm carrying an MO. Returns the message once
        complete, None while parts are missing (or for a duplicate part).
        Raises SmppError (ESME_RX_P_APPN...) when it cannot be decoded."""
        dcs = pdu.data_coding
        esm = pdu.esm_class
        udhi = bool(esm & ESM_UDHI)
        src = pdu.source_addr
        dst = pdu.destination_addr
        try:
            sm = pdu.short_message
        except AttributeError:  # data_sm: the text is in message_payload
            sm = b""
        payload_tlv = pdu.tlv(TLV_MESSAGE_PAYLOAD)
        if payload_tlv is not None and not sm:
            sm = payload_tlv.value
        ref_tlv = pdu.tlv(TLV_SAR_MSG_REF_NUM)
        if ref_tlv is not None and not udhi:
            total_tlv = pdu.tlv(TLV_SAR_TOTAL_SEGMENTS)
            seq_tlv = pdu.tlv(TLV_SAR_SEGMENT_SEQNUM)
            ref = ref_tlv.as_int()
            total = total_tlv.as_int() if total_tlv is not None else None
            seq = seq_tlv.as_int() if seq_tlv is not None else None
            if ref is not None and total is not None and seq is not None and total > 1:
                key = (src, dst, ref, total)
                self._groups.setdefault(key, self._group(pdu, dcs, False, bind))
                status, parts = self._reassembler.add(src, dst, ref, total, seq, sm, now_ms)
                return self._finish(key, status, parts, pdu, total)
        if udhi:
            concat = _core.parse_udh(sm).concat
            if concat is not None and concat[1] > 1:
                ref, total, _ = concat
                key = (src, dst, ref, total)
                self._groups.setdefault(key, self._group(pdu, dcs, True, bind))
                status, parts = self._reassembler.add_short_message(src, dst, sm, now_ms)
                return self._finish(key, status, parts, pdu, total)
        text = self.chain.decode(sm, dcs, udhi=udhi)
        return self._message(pdu, text, dcs, bind)

    def _group(self, pdu: Pdu, dcs: int, udhi: bool, bind: Any) -> _Group:
        return _Group(dcs, udhi, pdu.source_addr_ton, pdu.source_addr_npi, pdu.dest_addr_ton, pdu.dest_addr_npi, bind)

    def _finish(
        self, key: tuple[str, str, int, int], status: str, parts: list[bytes] | None, pdu: Pdu, total: int
    ) -> InboundMessage | None:
        if status == "complete" and parts is not None:
            g = self._groups.pop(key)
            text = self.chain.decode_parts(parts, g.dcs, udhi=g.udhi)
            return InboundMessage(
                source=self._addr(key[0], g.ton, g.npi),
                destination=self._addr(key[1], g.dest_ton, g.dest_npi),
                text=text,
                data_coding=g.dcs,
                parts=total,
                total=total,
                source_ton=g.ton,
                source_npi=g.npi,
                bind=g.bind,
            )
        if status == "invalid":
            # Not a usable concatenation (e.g. seq 0): read it on its own.
            self._groups.pop(key, None)
            try:
                sm = pdu.short_message
            except AttributeError:
                sm = b""
            text = self.chain.decode(sm, pdu.data_coding, udhi=bool(pdu.esm_class & ESM_UDHI))
            return self._message(pdu, text, pdu.data_coding, None)
        return None  # pending or duplicate

    def _message(self, pdu: Pdu, text: str, dcs: int, bind: int | None) -> InboundMessage:
        ton = pdu.source_addr_ton
        npi = pdu.source_addr_npi
        return InboundMessage(
            source=self._addr(pdu.source_addr, ton, npi),
            destination=self._addr(pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi),
            text=text,
            data_coding=dcs,
            source_ton=ton,
            source_npi=npi,
            bind=bind,
        )

    def expire(self, now_ms: int) -> list[InboundMessage]:
        """Groups whose time ran out (or that were evicted), as incomplete messages."""
        out = []
        for e in self._reassembler.expire(now_ms, self.timeout_ms):
            key = (e.source, e.destination, e.reference, e.total)
            g = self._groups.pop(key, None)
            if g is None:
                continue
            present = [p for p in e.parts if p is not None]
            try:
                text = self.chain.decode_parts(present, g.dcs, udhi=g.udhi) if present else ""
            except _core.SmppError:
                text = ""
            out.append(
                InboundMessage(
                    source=self._addr(e.source, g.ton, g.npi),
                    destination=self._addr(e.destination, g.dest_ton, g.dest_npi),
                    text=text,
                    data_coding=g.dcs,
                    parts=len(present),
                    total=e.total,
                    incomplete=True,
                    missing=tuple(e.missing),
                    source_ton=g.ton,
                    source_npi=g.npi,
                    bind=g.bind,
                )
            )
        return out
