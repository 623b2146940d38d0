"""Status events as frame text, made by the Rust core (`_core.status_frame`,
used by `SqliteStore.status_frame_after` for the websocket API), against the
Python path (`events_after` + `event_messages` + the API encoder): for every
page it accepts, the client must receive the very same messages; a page it
cannot vouch for it must refuse (None), never guess."""

from __future__ import annotations

import os
import tempfile

import msgspec
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from byosms._core import status_frame
from byosms.api.server import event_messages
from byosms.schemas import api
from byosms.schemas.records import Event, NewEvent
from byosms.store import open_sqlite_store

STATES = ["queued", "in_flight", "submitted", "delivered", "failed"]
MSTATES = ["queued", "en_route", "delivered", "failed", "partially_delivered", "unknown"]

# What the store's writers put in a status payload.
regular_payload = st.fixed_dictionaries(
    {
        "message_id": st.text(max_size=40),
        "segment_state": st.sampled_from(STATES + ["expired"]),
        "message_state": st.sampled_from(MSTATES),
        "message_state_changed": st.booleans(),
    },
    optional={
        "client_ref": st.none() | st.text(max_size=30),
        "segment_index": st.none() | st.integers(0, 300),
        "segment_count": st.none() | st.integers(1, 300),
        "generic_code": st.none() | st.integers(-(2**62), 2**62),
        "generic_cause": st.none() | st.text(max_size=20),
        "vendor_code": st.none() | st.integers(-(2**62), 2**62) | st.text(max_size=8),
        "vendor_message_id": st.none() | st.text(max_size=20),
    },
)
# And what a damaged or foreign row might hold instead.
odd_value = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                      st.text(max_size=5), st.lists(st.integers(), max_size=2))
odd_payload = st.dictionaries(
    st.sampled_from(["message_id", "client_ref", "segment_index", "segment_count",
                     "segment_state", "message_state", "message_state_changed",
                     "generic_code", "generic_cause", "vendor_code"]),
    odd_value,
)
created = st.one_of(
    st.floats(0, 4_102_444_800, allow_nan=False),
    st.integers(0, 4_102_444_800).map(float),
    st.sampled_from([0.0, 0.9995, 1_700_000_000.999, 951_782_400.5]),
)
page = st.lists(
    st.tuples(st.one_of(regular_payload, regular_payload, odd_payload), created,
              st.sampled_from(["status", "status", "status", "inbound"])),
    min_size=1, max_size=12,
)

_encode = msgspec.json.encode


def python_messages(events: list[Event]) -> list | None:
    """What the Python path sends; None where it would skip an event."""
    out = []
    for ev in events:
        try:
            msgs = event_messages(ev)
            out.extend(msgspec.json.decode(api.encoder.encode(m)) for m in msgs)
        except Exception:  # noqa: BLE001 - the Python path logs and skips it
            return None
    return out


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(page)
def test_frame_says_what_the_python_path_says(rows):
    events = [Event(100 + k, "bu", kind, p, t) for k, (p, t, kind) in enumerate(rows)]
    heads = _encode([[e.cursor, e.type, e.created] for e in events]).decode()
    payloads = ",".join(_encode(e.payload).decode() for e in events)
    got = status_frame(heads, payloads)
    want = python_messages(events)
    if got is None:
        # Refusing is for pages the Rust core cannot vouch for, never for
        # what the store itself writes.
        assert not all(e.type == "status" and _is_regular(e.payload) for e in events)
        return
    frame, last = got
    assert last == events[-1].cursor
    assert want is not None
    assert msgspec.json.decode(frame) == want


def _is_regular(p: dict) -> bool:
    ok_str = lambda v: v is None or isinstance(v, str)  # noqa: E731
    ok_int = lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool))  # noqa: E731
    return (isinstance(p.get("message_id"), str) and p.get("segment_state") in STATES + ["expired"]
            and p.get("message_state") in MSTATES
            and isinstance(p.get("message_state_changed"), bool)
            and ok_str(p.get("client_ref")) and ok_int(p.get("segment_index"))
            and ok_int(p.get("segment_count")) and ok_int(p.get("generic_code"))
            and ok_str(p.get("generic_cause"))
            and (ok_int(p.get("vendor_code")) or isinstance(p.get("vendor_code"), str)))


def test_times_match_python_to_the_millisecond():
    # Millisecond truncation of awkward floats, across the calendar.
    import random

    rnd = random.Random(7)
    times = [rnd.uniform(0, 4_102_444_800) for _ in range(3000)]
    times += [k + f for k in (0, 86_399, 951_782_399, 1_700_000_000) for f in
              (0.0, 0.0005, 0.001, 0.0999, 0.9994999, 0.9995, 0.9999999)]
    events = [Event(k + 1, "bu", "status", {"message_id": "m", "segment_state": "queued",
                                              "message_state_changed": False}, t)
              for k, t in enumerate(times)]
    heads = _encode([[e.cursor, e.type, e.created] for e in events]).decode()
    frame, _ = status_frame(heads, ",".join(['{"message_id":"m","segment_state":"queued"}']
                                            * len(events)))
    assert [m["at"] for m in msgspec.json.decode(frame)] == \
        [m["at"] for m in python_messages(events)]


async def _store_pages(tmp: str) -> None:
    async with open_sqlite_store(os.path.join(tmp, "s.db"), key=os.urandom(32)) as store:
        news = []
        for k in range(1200):
            bu = "bu0" if k % 3 else "bu1"  # interleaved: cursors of a unit have gaps
            news.append(NewEvent(bu, "status", {
                "message_id": f"m{k}", "client_ref": None if k % 2 else f"r{k}",
                "segment_index": 0, "segment_count": 1,
                "segment_state": "delivered" if k % 4 == 3 else "submitted",
                "message_state": "delivered" if k % 4 == 3 else "en_route",
                "message_state_changed": True, "generic_code": 0 if k % 4 == 3 else None,
                "generic_cause": "DELIVERED" if k % 4 == 3 else None, "vendor_code": None,
                "vendor_message_id": f"v{k}"}))
        await store.append_events(news)
        # Whole pages of status events: frame text, in cursor order, equal to
        # the Python path's messages.
        cursor, seen = 0, []
        while True:
            got = await store.status_frame_after("bu0", cursor, 500)
            if got == []:
                break
            frame, last = got
            events = await store.events_after("bu0", cursor, 500)
            assert last == events[-1].cursor
            assert msgspec.json.decode(frame) == python_messages(events)
            seen += [m["cursor"] for m in msgspec.json.decode(frame)]
            cursor = last
        assert seen == sorted(seen) and len(set(seen)) == 800
        before_last = sorted(set(seen))[-2]
        # A page with another event type comes as events, as events_after gives them.
        await store.append_events([NewEvent("bu0", "operational", {"kind": "bind_up"})])
        got = await store.status_frame_after("bu0", before_last, 500)
        assert isinstance(got, list)
        assert got == await store.events_after("bu0", before_last, 500)
        assert [e.type for e in got] == ["status", "operational"]


def test_store_pages_come_as_frames_or_events():
    with tempfile.TemporaryDirectory() as tmp:
        trio.run(_store_pages, tmp)
