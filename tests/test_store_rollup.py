"""Property: a message's state is the S13 roll-up of its segments' states,
whatever order submits, retries, receipts and repeated receipts come in."""

from __future__ import annotations

import os
import tempfile

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from byosms.schemas.records import Message, Receipt, Segment, SubmitError
from byosms.store import open_sqlite_store

OUTCOMES = ["submit_ok", "submit_transient", "submit_permanent", "delivered", "failed",
            "intermediate"]


def expected(states: list[str], failed_ever: bool) -> str:
    if failed_ever or "failed" in states:
        return "failed"
    if all(s == "delivered" for s in states):
        return "delivered"
    if any(s in ("submitted", "delivered") for s in states):
        return "en_route"
    return "queued"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 4),
       actions=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(OUTCOMES)), max_size=25))
def test_message_state_is_the_rollup_of_its_segments(n, actions):
    async def run(db: str) -> None:
        async with open_sqlite_store(db, key=os.urandom(32)) as s:
            i = await s.create_integration("bu", "smpp", "x", {}, state="active")
            acc = await s.accept_message(
                Message("", "mt", i.id, "bu", "+1", "+2", "t", "gsm7", 0, n),
                [Segment(0, "", k, b"x") for k in range(n)])
            ids = [seg.id for seg in await s.get_segments(acc.message.id)]
            model = ["queued"] * n
            failed_ever = False
            events = 0
            for k, what in actions:
                k %= n
                if what.startswith("submit"):
                    if model[k] != "queued":
                        continue
                    claimed = await s.claim_segments(i.id, n)
                    for seg in claimed:
                        if seg.id != ids[k]:
                            await s.record_submit(seg.id, error=SubmitError(permanent=False))
                    if what == "submit_ok":
                        await s.record_submit(ids[k], f"v{k}")
                        model[k] = "submitted"
                        events += 1
                    elif what == "submit_permanent":
                        await s.record_submit(ids[k], error=SubmitError(permanent=True))
                        model[k] = "failed"
                        events += 1
                    else:
                        await s.record_submit(ids[k], error=SubmitError(permanent=False))
                else:
                    if model[k] == "queued":
                        continue
                    state = {"delivered": "delivered", "failed": "failed"}.get(what, "submitted")
                    r = await s.record_receipt(Receipt(integration=i.id, vendor_ids=(f"v{k}",),
                                                       state=state))
                    if model[k] in ("delivered", "failed"):
                        assert r.event_cursor is None  # a repeat: nothing new
                    else:
                        model[k] = state
                        events += 1
                failed_ever |= "failed" in model
                m = await s.get_message(acc.message.id)
                assert m.state == expected(model, failed_ever), (model, m.state)
                segs = await s.get_segments(acc.message.id)
                assert [x.state for x in segs] == model
            evs = await s.events_after("bu", 0, 1000)
            assert len(evs) == events
            if evs:
                assert evs[-1].payload["message_state"] == expected(model, failed_ever)

    with tempfile.TemporaryDirectory() as d:
        trio.run(run, os.path.join(d, "p.db"))
