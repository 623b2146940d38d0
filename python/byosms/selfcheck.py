"""`byosms selfcheck`: exercise the Rust core end to end and say what it did.

Runs on a fresh install with no network and no configuration; every step
checks its own result, so a broken build fails loudly instead of printing
plausible output.
"""

from __future__ import annotations

from collections.abc import Callable

from byosms import _core


class _Checker:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.failed = 0
        self.passed = 0

    def check(self, label: str, fn: Callable[[], str]) -> None:
        try:
            detail = fn()
        except Exception as e:  # report every failure, keep going
            self.failed += 1
            print(f"FAIL  {label}: {type(e).__name__}: {e}")
            return
        self.passed += 1
        if not self.quiet:
            print(f"ok    {label}: {detail}")


def _all_pdus() -> str:
    samples = [
        _core.Pdu("bind_transceiver", 1, system_id="acme", password="secret", system_type="",
                  interface_version=0x34),
        _core.Pdu("bind_transceiver_resp", 1, system_id="SMSC"),
        _core.Pdu("bind_transmitter", 2, system_id="acme", password="secret"),
        _core.Pdu("bind_transmitter_resp", 2, system_id="SMSC"),
        _core.Pdu("bind_receiver", 3, system_id="acme", password="secret"),
        _core.Pdu("bind_receiver_resp", 3, system_id="SMSC"),
        _core.Pdu("outbind", 4, system_id="SMSC", password="pw"),
        _core.Pdu("unbind", 5),
        _core.Pdu("unbind_resp", 5),
        _core.Pdu("enquire_link", 6),
        _core.Pdu("enquire_link_resp", 6),
        _core.Pdu("generic_nack", 7, command_status=_core.ESME_RINVCMDID),
        _core.Pdu("submit_sm", 8, source_addr="12025550100", destination_addr="447700900123",
                  short_message=b"hello", registered_delivery=1),
        _core.Pdu("submit_sm_resp", 8, message_id="5f3a"),
        _core.Pdu("deliver_sm", 9, source_addr="447700900123", destination_addr="12025550100",
                  short_message=b"hi"),
        _core.Pdu("deliver_sm_resp", 9),
        _core.Pdu("data_sm", 10, source_addr="1", destination_addr="2",
                  tlvs=[_core.Tlv(_core.TLV_MESSAGE_PAYLOAD, b"payload")]),
        _core.Pdu("data_sm_resp", 10, message_id="77"),
        _core.Pdu("query_sm", 11, message_id="77", source_addr="1"),
        _core.Pdu("query_sm_resp", 11, message_id="77", final_date="", message_state=2,
                  error_code=0),
        _core.Pdu("cancel_sm", 12, message_id="77", source_addr="1", destination_addr="2"),
        _core.Pdu("cancel_sm_resp", 12),
        _core.Pdu("replace_sm", 13, message_id="77", source_addr="1", short_message=b"new"),
        _core.Pdu("replace_sm_resp", 13),
        _core.Pdu("alert_notification", 14, source_addr="1", esme_addr="2"),
    ]
    wire = b"".join(p.encode() for p in samples)
    framer = _core.Framer()
    out = framer.feed(wire)
    if out != samples:
        raise AssertionError("decoded PDUs differ from the encoded ones")
    return f"{len(samples)} PDU types encoded to {len(wire)} bytes and decoded back in one call"


def _text(label: str, text: str, want_encoding: str, want_parts: int) -> Callable[[], str]:
    def run() -> str:
        seg = _core.segment(text)
        if (seg.encoding, seg.count) != (want_encoding, want_parts):
            raise AssertionError(f"got {seg.encoding} in {seg.count} parts")
        return f"{len(text)} chars -> {seg.encoding}, data_coding {seg.dcs}, {seg.count} part(s)"

    return run


def _receipt() -> str:
    text = b"id:0A1B2C sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 " \
           b"stat:DELIVRD err:000 text:hello"
    r = _core.parse_receipt(text)
    if (r.message_id, r.stat, r.is_success) != ("0A1B2C", "DELIVRD", True):
        raise AssertionError(repr(r))
    return f"receipt for {r.message_id}: {r.stat} (final={r.is_final})"


def _garbage() -> str:
    framer = _core.Framer()
    items = framer.feed(b"\x00\x00\x00\x05garbage!")
    if not items or not getattr(items[-1], "fatal", False):
        raise AssertionError("garbage was not reported as a fatal framing error")
    return f"garbage -> {_core.status_name(items[-1].command_status)}, no crash"


def run(quiet: bool = False) -> int:
    c = _Checker(quiet)
    if not quiet:
        print(f"byosms {_core.__version__}: core self-check")
    c.check("SMPP 3.4 codec", _all_pdus)
    c.check("framer on garbage", _garbage)
    c.check("GSM-7 message", _text("gsm", "Hello from byosms! {ok}", "gsm7", 1))
    c.check("UCS-2 message", _text("ucs2", "Привет, мир 👋", "ucs2", 1))
    c.check("long message", _text("long", "x" * 400, "gsm7", 3))
    c.check("delivery receipt", _receipt)
    print(f"selfcheck: {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0
