"""A minimal SMSC built on the smpp34 package's asyncio Server (an SMPP
implementation we did not write), for interoperability tests. Run as a
subprocess: ``python smpp34_smsc.py PORT``; prints "listening PORT" once
ready. Accepts any bind, answers each submit_sm with a decimal message id
and sends a delivery receipt deliver_sm (esm_class 0x04, text per SMPP 3.4
appendix B, receipted_message_id and message_state TLVs) on the submitting
session. smpp34's Server has no TLS option, so this is plain TCP."""

from __future__ import annotations

import asyncio
import sys

import smpp34


async def main(port: int) -> None:
    server = smpp34.Server("127.0.0.1", port, system_id="smpp34")
    await server.start()
    print(f"listening {port}", flush=True)
    sessions: dict[str, smpp34.Esme] = {}
    next_id = 1000
    tasks: set[asyncio.Task[None]] = set()

    async def receipt(esme: smpp34.Esme, ev: smpp34.SubmitSmEvent, mid: str) -> None:
        body = (
            f"id:{mid} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
            f"stat:DELIVRD err:000 text:"
        ).encode()
        await esme.deliver_sm(
            ev.source_addr,
            body,
            source_addr=ev.destination_addr,
            esm_class=0x04,
            tlvs=[
                smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, mid.encode() + b"\0"),
                smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, b"\x02"),
            ],
        )

    while True:
        ev = await server.next()
        if isinstance(ev, smpp34.Esme):
            sessions[ev.session_id] = ev
        elif isinstance(ev, smpp34.SubmitSmEvent):
            mid = str(next_id)
            next_id += 1
            ev.accept(mid)
            esme = sessions.get(ev.session_id)
            if esme is not None and ev.registered_delivery & 0x03:
                t = asyncio.ensure_future(receipt(esme, ev, mid))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
        elif isinstance(ev, smpp34.Unbound):
            sessions.pop(ev.session_id, None)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
