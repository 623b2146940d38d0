"""benches/codec: the Rust core against peers, side by side in one process.

    python benches/codec.py [--quick]

Cases (per operation, lower is better; ratio = peer ns / ours ns):
  encode submit_sm            ours vs smpp34, smpplib
  decode deliver_sm+receipt   ours decode(dlr).receipt() (one crossing) vs smpp34, smpplib (decode only)
  batch-decode 64 KiB stream  per PDU: ours Framer.feed (one call) vs smpp34, smpplib (frame + decode)
  GSM encode+segment 160/1000 ours segment() vs smpplib make_parts, gsm0338 encode (+ split)
  UCS-2 200 chars             ours segment() vs smpplib make_parts, Python utf-16-be (+ split)

Requires the `bench` extra: pip install '.[bench]'.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(__file__))

from _harness import Row, report, time_per_op  # noqa: E402

from byosms import _core  # noqa: E402

try:
    import smpp34
except ImportError:  # pragma: no cover
    smpp34 = None
try:
    import smpplib.consts
    import smpplib.gsm
    import smpplib.smpp
except ImportError:  # pragma: no cover
    smpplib = None
try:
    import gsm0338  # noqa: F401  (registers the 'gsm03.38' codec)

    HAVE_GSM0338 = True
except ImportError:  # pragma: no cover
    HAVE_GSM0338 = False


class _SmpplibClient:
    """smpplib's PDU classes ask a client object for sequence numbers."""

    def __init__(self) -> None:
        self.seq = 0

    def next_sequence(self) -> int:
        self.seq += 1
        return self.seq


SRC, DST = "12025550100", "447700900123"
SM = b"Your verification code is 123456. It expires in 10 minutes."
RECEIPT = (b"id:1A2B3C4D5E sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 "
           b"stat:DELIVRD err:000 text:Your verification")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter timing (noisier)")
    args = ap.parse_args()
    mt = 0.05 if args.quick else 0.25
    rows: list[Row] = []

    def add(case: str, impl: str, fn, ops: int = 1) -> None:
        rows.append(Row(case, impl, time_per_op(fn, ops_per_call=ops, min_time=mt)))
        print(f"  {case:<40} {impl:<26} {rows[-1].ns_per_op:10.0f} ns/op", file=sys.stderr)

    # --- encode submit_sm --------------------------------------------------
    case = "encode submit_sm"
    add(case, "byosms encode_submit_sm", lambda: _core.encode_submit_sm(
        7, SRC, DST, SM, data_coding=0, registered_delivery=1, dest_addr_ton=1, dest_addr_npi=1))
    add(case, "byosms Pdu().encode()", lambda: _core.Pdu(
        "submit_sm", 7, source_addr=SRC, destination_addr=DST, short_message=SM,
        registered_delivery=1, dest_addr_ton=1, dest_addr_npi=1).encode())
    if smpp34:
        add(case, "smpp34 SubmitSm().encode()", lambda: smpp34.SubmitSm(
            SRC, DST, SM, registered_delivery=1, dest_addr_ton=1, dest_addr_npi=1,
            sequence_number=7).encode())
    if smpplib:
        client = _SmpplibClient()
        add(case, "smpplib make_pdu().generate()", lambda: smpplib.smpp.make_pdu(
            "submit_sm", client=client, source_addr=SRC, destination_addr=DST, short_message=SM,
            registered_delivery=1, dest_addr_ton=1, dest_addr_npi=1, sequence=7).generate())

    # --- decode deliver_sm carrying a receipt -------------------------------
    case = "decode deliver_sm (a receipt)"
    dlr = _core.Pdu("deliver_sm", 9, source_addr=DST, destination_addr=SRC, esm_class=0x04,
                    short_message=RECEIPT,
                    tlvs=[_core.Tlv(_core.TLV_RECEIPTED_MESSAGE_ID, b"1A2B3C4D5E\x00"),
                          _core.Tlv(_core.TLV_MESSAGE_STATE, b"\x02")]).encode()

    add(case, "byosms decode", lambda: _core.decode(dlr).short_message)
    if smpp34:
        add(case, "smpp34 decode", lambda: smpp34.decode(dlr).short_message)
    if smpplib:
        client = _SmpplibClient()
        add(case, "smpplib parse_pdu",
            lambda: smpplib.smpp.parse_pdu(dlr, client=client).short_message)

    # No peer parses receipts: ours only, for the record.
    case = "decode deliver_sm + parse the receipt"
    add(case, "byosms decode().receipt()", lambda: _core.decode(dlr).receipt().message_id)
    add(case, "byosms decode+parse_receipt",
        lambda: _core.parse_receipt(_core.decode(dlr).short_message).message_id)

    # --- batch-decode a 64 KiB stream ---------------------------------------
    case = "batch-decode 64 KiB stream (per PDU)"
    one = _core.encode_submit_sm(1, SRC, DST, SM, registered_delivery=1)
    n = 65536 // len(one)
    stream = one * n

    def ours_stream():
        return _core.Framer().feed(stream)

    def split(buf: bytes):
        pos = 0
        while pos + 16 <= len(buf):
            (length,) = struct.unpack_from(">I", buf, pos)
            yield buf[pos:pos + length]
            pos += length

    add(case, "byosms Framer.feed", ours_stream, ops=n)
    if smpp34:
        add(case, "smpp34 split+decode", lambda: [smpp34.decode(p) for p in split(stream)], ops=n)
    if smpplib:
        client = _SmpplibClient()
        add(case, "smpplib split+parse_pdu",
            lambda: [smpplib.smpp.parse_pdu(p, client=client) for p in split(stream)], ops=n)

    case = "batch-decode 64 KiB of receipts (per PDU)"
    n2 = 65536 // len(dlr)
    receipts = dlr * n2
    add(case, "byosms Framer.feed", lambda: _core.Framer().feed(receipts), ops=n2)
    add(case, "byosms Framer.feed+receipt()",
        lambda: [p.receipt() for p in _core.Framer().feed(receipts)], ops=n2)
    if smpp34:
        add(case, "smpp34 split+decode", lambda: [smpp34.decode(p) for p in split(receipts)],
            ops=n2)

    # --- text: GSM and UCS-2 encode + segment --------------------------------
    gsm160 = ("Hello Anna, your parcel 4711 arrives today between 10:00 and 12:00. "
              "Reply STOP to opt out. Questions? Call us at +44 20 7946 0000 (Mon-Fri)!!")[:160]
    gsm1000 = (gsm160 * 7)[:1000]
    ucs200 = ("Здравствуйте, Анна! Ваша посылка 4711 прибудет сегодня. 👋 " * 4)[:200]
    for label, text in (("GSM encode+segment 160", gsm160), ("GSM encode+segment 1000", gsm1000),
                        ("UCS-2 encode+segment 200", ucs200)):
        add(label, "byosms segment", lambda t=text: _core.segment(t).parts)
        if smpplib:
            add(label, "smpplib make_parts", lambda t=text: smpplib.gsm.make_parts(t))
        if label.startswith("GSM") and HAVE_GSM0338:
            add(label, "gsm0338 encode+split",
                lambda t=text: _split(t.encode("gsm03.38"), 160, 153))
        if label.startswith("UCS"):
            add(label, "python utf-16-be+split",
                lambda t=text: _split(t.encode("utf-16-be"), 140, 134))

    print()
    print(report(rows))


def _split(data: bytes, single: int, part: int) -> list[bytes]:
    if len(data) <= single:
        return [data]
    return [data[i:i + part] for i in range(0, len(data), part)]


if __name__ == "__main__":
    main()
