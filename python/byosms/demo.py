"""`byosms demo`: the whole gateway on its embedded defaults, driven through
the websocket client, printing each step. Exits 0 when every step happened,
1 with the step that did not (within the timeout)."""

from __future__ import annotations

import functools
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec
import trio

from byosms.schemas import api

SUBSCRIBER = "+14155550199"
MESSAGES = (
    ("GSM", "Hello from byosms! Plain GSM 7-bit text."),
    ("UCS-2", "Grüße aus byosms — Привет 👋"),
    ("long", "This message is long enough to need three concatenated segments. " * 5),
)


class DemoFailed(Exception):
    pass


def _say(text: str = "") -> None:
    print(text, flush=True)


async def _demo(data_dir: Path, timeout: float) -> None:
    from byosms.client import Rejected, connect
    from byosms.server import Gateway
    from byosms.schemas.config import DEFAULT_TOML, load_config

    config = load_config(DEFAULT_TOML)
    # Free ports, so the demo runs next to a `byosms serve` on the defaults.
    config = msgspec.structs.replace(
        config,
        websocket=msgspec.structs.replace(config.websocket, port=0),
        web=msgspec.structs.replace(config.web, port=0),
    )
    gw = Gateway(config, base_dir=data_dir)

    async def step(what: str, fn: Any, *args: Any) -> Any:
        with trio.move_on_after(timeout) as scope:
            return await fn(*args)
        if scope.cancelled_caught:
            raise DemoFailed(f"{what}: nothing within {timeout:g} s")

    async with trio.open_nursery() as nursery:
        await step("starting the gateway", nursery.start, gw.run)
        sender = config.numbers[0].number
        _say(f"gateway up: websocket ws://127.0.0.1:{gw.ws_port}/, web "
             f"http://127.0.0.1:{gw.web_port}/, simulator 127.0.0.1:{gw.simulator.port} (TLS), "
             f"store {gw.db_path()}")
        await step("binding to the simulator", gw.provider("simulator").wait_bound)
        _say("SMPP bind to the simulator is up")
        _, token = await gw.store.create_api_key("default", "demo")
        _say("API key created for business unit 'default'")

        async with connect(f"ws://127.0.0.1:{gw.ws_port}/", token, auto_ack=True) as c:
            events = c.events()
            seen: list[Any] = []

            async def wait_for(pred: Any) -> Any:
                for ev in seen:
                    if pred(ev):
                        return ev
                async for ev in events:
                    seen.append(ev)
                    if pred(ev):
                        return ev
                raise DemoFailed("the websocket connection closed")

            _say("\n== outbound ==")
            accepted = {}
            for label, text in MESSAGES:
                a = await step(f"sending the {label} message",
                               functools.partial(c.send, "+14155550123", text, from_=sender))
                accepted[a.message_id] = label
                _say(f"{label:6} accepted: {a.message_id}  {a.segments} segment(s), "
                     f"{a.encoding}")
            for mid, label in accepted.items():
                ev = await step(
                    f"delivery of the {label} message", wait_for,
                    lambda e, mid=mid: isinstance(e, api.Status) and e.message_id == mid
                    and e.segment is None and e.state in ("delivered", "failed"))
                parts = [e for e in seen if isinstance(e, api.Status)
                         and e.message_id == mid and e.segment is not None]
                _say(f"{label:6} {ev.state}: {len(parts)} segment status event(s), "
                     f"message roll-up code {ev.generic_code} {ev.generic_cause}")
                if ev.state != "delivered":
                    raise DemoFailed(f"the {label} message {ev.state}: {ev.generic_cause}")

            _say("\n== inbound ==")
            await gw.simulator.send_mo(SUBSCRIBER[1:], sender[1:], "Hi, is this byosms?")
            ev = await step("the inbound event", wait_for,
                            lambda e: isinstance(e, api.Inbound) and e.keyword is None)
            _say(f"inbound from {ev.from_} to {ev.to}: {ev.text!r} (event cursor {ev.cursor})")
            await gw.simulator.send_mo(SUBSCRIBER[1:], sender[1:], "STOP")
            ev = await step("the STOP inbound event", wait_for,
                            lambda e: isinstance(e, api.Inbound) and e.keyword == "opt_out")
            _say(f"inbound from {ev.from_}: {ev.text!r} -> keyword {ev.keyword}")
            kw = await step("the keyword event", wait_for,
                            lambda e: isinstance(e, api.Keyword) and e.keyword == "opt_out")
            _say(f"opt-out recorded: {kw.from_} opted out from {kw.to}; confirmation "
                 f"message {kw.reply_message_id} queued")
            confirm = await step(
                "delivery of the opt-out confirmation", wait_for,
                lambda e: isinstance(e, api.Status) and e.message_id == kw.reply_message_id
                and e.segment is None and e.state == "delivered")
            _say(f"opt-out confirmation {confirm.state} to {SUBSCRIBER}")
            try:
                await c.send(SUBSCRIBER, "Are you still there?", from_=sender)
            except Rejected as e:
                _say(f"a further send to {SUBSCRIBER} is rejected: {e.code} ({e.reason})")
                if e.code != "opted_out":
                    raise DemoFailed(f"expected opted_out, got {e.code}") from None
            else:
                raise DemoFailed("a send to an opted-out recipient was accepted")
        st = gw.simulator.stats.as_dict()
        _say(f"\nsimulator saw {st['submit_sm']} submit_sm, sent {st['receipts_sent']} "
             f"receipts and {st['mo_sent']} inbound messages, all acknowledged")
        nursery.cancel_scope.cancel()


def run(*, data_dir: str | None = None, timeout: float = 30.0) -> int:
    # The demo narrates itself; the gateway's own log only for real trouble.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        if data_dir is not None:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            trio.run(_demo, Path(data_dir), timeout)
        else:
            with tempfile.TemporaryDirectory(prefix="byosms-demo-") as tmp:
                trio.run(_demo, Path(tmp), timeout)
    except BaseExceptionGroup as group:
        failed, rest = group.split(DemoFailed)
        if failed is None:
            raise
        for e in failed.exceptions:
            print(f"demo FAILED: {e}", file=sys.stderr, flush=True)
        return 1
    except DemoFailed as e:
        print(f"demo FAILED: {e}", file=sys.stderr, flush=True)
        return 1
    _say("\ndemo OK")
    return 0
