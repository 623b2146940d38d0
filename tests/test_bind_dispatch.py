"""The bind's request dispatcher: delivery receipts queued together are
handled concurrently (the gateway commits each before its deliver_sm_resp, so
one at a time would cost one commit per receipt); MO messages stay one at a
time and in order."""

from __future__ import annotations

import trio

from byosms.providers.smpp.messages import OutboundMessage
from byosms.providers.smpp.supervisor import SmppIntegration
from smpp_helpers import config, simulator, wait_for

LIMIT = 20


async def test_receipts_queued_together_overlap_and_mo_keep_order():
    inside = 0
    most = 0
    release = trio.Event()
    mo_order: list[str] = []
    mo_inside = 0
    mo_most = 0

    async def on_receipt(r):
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        if most >= 5:
            release.set()
        # Hold until several are inside at once (or give up: the assert
        # below then fails instead of the test hanging).
        with trio.move_on_after(2):
            await release.wait()
        inside -= 1

    async def on_mo(m):
        nonlocal mo_inside, mo_most
        mo_inside += 1
        mo_most = max(mo_most, mo_inside)
        await trio.sleep(0.01 if m.text == "STOP" else 0)
        mo_order.append(m.text)
        mo_inside -= 1

    # A fixed receipt delay: receipts of one burst of submits leave together.
    sim = simulator(receipt_delay=0.2)
    async with sim:
        cfg = config(sim, binds=1, window=64, enquire_link_interval=3600)
        eng = SmppIntegration(cfg, integration_id="it", on_receipt=on_receipt, on_mo=on_mo,
                              rate_limit=False)
        async with eng:
            with trio.fail_after(LIMIT):
                await eng.wait_bound()
                async with trio.open_nursery() as n:
                    for i in range(10):
                        n.start_soon(eng.submit, OutboundMessage(
                            message_id=f"m{i}", source="+4915100000001",
                            destination="+4915112345678", text=f"hi {i}"))
                await wait_for(lambda: sim.stats.receipts_acked == 10)
                assert most >= 5
                # MO: STOP (slow handler) then START: handled alone, in order.
                await sim.send_mo("4915112345678", "4915100000001", "STOP", wait=False)
                await sim.send_mo("4915112345678", "4915100000001", "START", wait=False)
                await wait_for(lambda: len(mo_order) == 2)
    assert mo_order == ["STOP", "START"]
    assert mo_most == 1
