"""The HTTP provider kit (byosms.providers.http) over real HTTP on loopback.

The client is tested against ``Scripted``, a small HTTP/1.1 server (h11 on
trio) whose answers each test scripts: statuses, Retry-After, dropped
connections, stalls, answers held until the test releases them. The webhook
steps, status ordering and inbound de-duplication are tested through
``Toy``, a minimal JSON provider built on ``HttpAdapter`` (what the next
HTTP provider looks like), served by the gateway's own web app.

The client's pauses between attempts go to a recording ``sleep``, so the
back-off and Retry-After delays are asserted exactly, without waiting them.
Every wait has a deadline.
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import hmac
import json
import socket
import time
from typing import Any

import h11
import httpx
import msgspec
import pytest
import trio
import trio.testing

from byosms.advanced_config import GenericErrorCode
from byosms.pipeline import (
    DeliveryReceipt,
    InboundMessage,
    OutboundMessage,
    SubmitResult,
    WebhookRequest,
    WebhookResponse,
)
from byosms.providers.base import Capabilities, Provider, callback
from byosms.providers.http import (
    Classification,
    ClientSettings,
    EventSink,
    HttpAdapter,
    HttpClient,
    HttpTransportError,
    Match,
    ProviderInactive,
    RecentIds,
    RejectionReport,
    RetryPolicy,
    Route,
    StatusOrdering,
    WebhookRefused,
    retry_after_seconds,
)
from byosms.web import IntegrationRegistry, create_app, serve_web

WAIT = 10  # seconds: the deadline of every wait in these tests


# --- a scripted HTTP server ---------------------------------------------------------


class Seen(msgspec.Struct, frozen=True):
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class Answer(msgspec.Struct, frozen=True):
    status: int = 200
    body: bytes = b"{}"
    headers: tuple[tuple[str, str], ...] = ()
    #: Held until this event is set (a slow provider).
    after: Any = None
    #: Seconds between body bytes (a provider trickling its answer).
    trickle: float = 0.0


DROP = "drop"  # close the connection without answering
STALL = "stall"  # never answer


class Scripted:
    """Answers requests in order from ``script`` (then 200 ``{}``);
    records each request and how many connections were open at once."""

    def __init__(self) -> None:
        self.script: list[Answer | str] = []
        self.requests: list[Seen] = []
        self.open = 0
        self.max_open = 0
        self.port = 0
        self.seen_request = trio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, nursery: trio.Nursery) -> Scripted:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, self._connection, 0, host="127.0.0.1"))
        self.port = listeners[0].socket.getsockname()[1]
        return self

    async def _connection(self, stream: trio.SocketStream) -> None:
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                seen = await self._read(conn, stream)
                if seen is None:
                    return
                self.requests.append(seen)
                self.seen_request.set()
                self.seen_request = trio.Event()
                action = self.script.pop(0) if self.script else Answer()
                if action == DROP:
                    return
                if action == STALL:
                    await trio.sleep_forever()
                assert isinstance(action, Answer)
                if action.after is not None:
                    await action.after.wait()
                headers = [("content-type", "application/json"), ("content-length", str(len(action.body))),
                           *action.headers]
                await stream.send_all(conn.send(h11.Response(status_code=action.status, headers=headers)))
                if action.trickle:
                    for i in range(len(action.body)):
                        await trio.sleep(action.trickle)
                        await stream.send_all(conn.send(h11.Data(data=action.body[i:i + 1])))
                    await stream.send_all(conn.send(h11.EndOfMessage()))
                else:
                    await stream.send_all(conn.send(h11.Data(data=action.body)) + conn.send(h11.EndOfMessage()))
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.RemoteProtocolError):
            return
        finally:
            self.open -= 1
            await stream.aclose()

    @staticmethod
    async def _read(conn: h11.Connection, stream: trio.SocketStream) -> Seen | None:
        request, body = None, b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(65536)
                conn.receive_data(data)  # b"": the client closed
                continue
            if isinstance(event, h11.ConnectionClosed):
                return None
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                headers = {k.decode().lower(): v.decode() for k, v in request.headers}
                return Seen(request.method.decode(), request.target.decode(), headers, body)


@pytest.fixture
async def server(nursery):
    return await Scripted().start(nursery)


class Rec:
    """The client's pauses, recorded instead of waited."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.events: list[Any] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await trio.lowlevel.checkpoint()


def client(server: Scripted, rec: Rec, *, classify: Any = None, request_timeout: float = WAIT,
           max_connections: int = 10, **retry: Any) -> HttpClient:
    policy = RetryPolicy(**{"max_attempts": 4, "backoff": 0.5, "max_backoff": 8.0, **retry})
    settings = ClientSettings(base_url=server.url, connect_timeout=WAIT, request_timeout=request_timeout,
                              max_connections=max_connections, retry=policy)
    return HttpClient(settings, events=EventSink("k", rec.events.append), classify=classify, sleep=rec.sleep)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the client: retries ------------------------------------------------------------


async def test_429_and_5xx_retried_with_retry_after_seconds_then_backoff(server):
    rec = Rec()
    http = client(server, rec)
    server.script = [Answer(429, headers=(("retry-after", "3"),)), Answer(503), Answer(201, b'{"id": "x"}')]
    with trio.fail_after(WAIT):
        reply = await http.request("POST", "/messages", json={"a": 1})
    assert reply.ok and reply.status == 201 and reply.attempts == 3 and reply.response.json() == {"id": "x"}
    # Retry-After for the 429; the back-off of the 2nd retry (0.5 doubled) for the 503.
    assert rec.sleeps == [3.0, 1.0]
    assert [r.method for r in server.requests] == ["POST"] * 3
    assert all(json.loads(r.body) == {"a": 1} for r in server.requests)
    assert http.stats == {"requests": 3, "retries": 2, "throttled": 1, "transport_errors": 0}
    [event] = rec.events
    assert (event.kind, event.cause, event.integration) == ("throttled", "http_error", "k")
    assert "HTTP 429" in event.detail and "attempt 2 in 3s" in event.detail
    # One pooled connection served every attempt.
    assert server.max_open == 1
    await http.aclose()


async def test_retry_after_http_date_and_cap(server):
    rec = Rec()
    http = client(server, rec, max_backoff=30.0)
    soon = email.utils.formatdate(time.time() + 20, usegmt=True)
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    server.script = [
        Answer(503, headers=(("retry-after", soon),)),
        Answer(429, headers=(("retry-after", "700"),)),  # capped at max_backoff
        Answer(429, headers=(("retry-after", past),)),  # already due
        Answer(200),
    ]
    with trio.fail_after(WAIT):
        reply = await http.request("GET", "/x")
    assert reply.ok and reply.attempts == 4
    first, second, third = rec.sleeps
    assert 17.0 <= first <= 20.0  # HTTP dates have whole seconds; the clock moved a little
    assert (second, third) == (30.0, 0.0)
    await http.aclose()


async def test_backoff_doubles_is_capped_and_attempts_are_bounded(server):
    rec = Rec()
    http = client(server, rec, max_attempts=5, backoff=0.5, max_backoff=1.5)
    server.script = [Answer(503)] * 6
    with trio.fail_after(WAIT):
        reply = await http.request("POST", "/messages")
    assert not reply.ok and reply.verdict == "retryable" and reply.status == 503 and reply.attempts == 5
    assert rec.sleeps == [0.5, 1.0, 1.5, 1.5]
    assert len(server.requests) == 5 and rec.events == []  # 5xx is not throttling
    await http.aclose()


async def test_throttled_to_the_end_says_so(server):
    rec = Rec()
    http = client(server, rec, max_attempts=2)
    server.script = [Answer(429), Answer(429)]
    with trio.fail_after(WAIT):
        reply = await http.request("POST", "/messages")
    assert (reply.verdict, reply.attempts, len(server.requests)) == ("throttled", 2, 2)
    assert http.stats["throttled"] == 2 and len(rec.events) == 2
    assert "gave up after 2 attempt(s)" in rec.events[-1].detail
    await http.aclose()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_permanent_4xx_is_not_retried(server, status):
    rec = Rec()
    http = client(server, rec)
    server.script = [Answer(status, b'{"error": "no"}'), Answer(200)]
    with trio.fail_after(WAIT):
        reply = await http.request("POST", "/messages")
    assert (reply.verdict, reply.status, reply.attempts) == ("permanent", status, 1)
    assert len(server.requests) == 1 and rec.sleeps == [] and rec.events == []
    await http.aclose()


async def test_classify_hook_reads_the_body(server):
    """The provider decides from the body: throttled in a 400 (Twilio
    20429) is retried and counted; "permanent" in a 503 is not retried."""

    def classify(response: httpx.Response) -> Classification | None:
        if response.is_success:
            return None
        doc = response.json()
        verdict = {"slow down": "throttled", "never": "permanent"}.get(doc.get("say"))
        return Classification(verdict=verdict, vendor_code=doc.get("code"), message=doc.get("say", ""))

    rec = Rec()
    http = client(server, rec, classify=classify)
    server.script = [Answer(400, b'{"code": 20429, "say": "slow down"}'), Answer(200)]
    with trio.fail_after(WAIT):
        reply = await http.request("POST", "/messages")
    assert reply.ok and reply.attempts == 2 and http.stats["throttled"] == 1
    [event] = rec.events
    assert event.command_status == 20429 and "code 20429: slow down" in event.detail
    server.script = [Answer(503, b'{"code": 7, "say": "never"}'), Answer(200)]
    with trio.fail_after(WAIT):
        reply = await http.request("POST", "/messages")
    assert (reply.verdict, reply.attempts, reply.vendor_code, reply.message) == ("permanent", 1, 7, "never")
    await http.aclose()


async def test_transport_errors_are_retried_then_raised(server):
    rec = Rec()
    http = client(server, rec, max_attempts=3)
    server.script = [DROP, DROP, Answer(201)]
    with trio.fail_after(WAIT):
        reply = await http.request("POST", "/messages")
    assert reply.ok and reply.attempts == 3 and http.stats["transport_errors"] == 2
    assert rec.sleeps == [0.5, 1.0]
    server.script = [DROP] * 3
    with trio.fail_after(WAIT), pytest.raises(HttpTransportError) as e:
        await http.request("POST", "/messages")
    assert e.value.attempts == 3 and not e.value.timed_out and "after 3 attempt(s)" in str(e.value)
    await http.aclose()
    # Nothing listening at all.
    rec = Rec()
    settings = ClientSettings(base_url=f"http://127.0.0.1:{closed_port()}", retry=RetryPolicy(max_attempts=2))
    refused = HttpClient(settings, events=EventSink("k", None), sleep=rec.sleep)
    with trio.fail_after(WAIT), pytest.raises(HttpTransportError) as e:
        await refused.request("GET", "/")
    assert e.value.attempts == 2 and refused.stats["transport_errors"] == 2 and rec.sleeps == [1.0]
    await refused.aclose()


async def test_request_timeout_bounds_each_attempt(server):
    rec = Rec()
    http = client(server, rec, request_timeout=0.3, max_attempts=2)
    server.script = [STALL, Answer(200)]
    with trio.fail_after(WAIT):
        reply = await http.request("POST", "/messages")
    assert reply.ok and reply.attempts == 2 and http.stats["transport_errors"] == 1
    server.script = [STALL, STALL]
    with trio.fail_after(WAIT), pytest.raises(HttpTransportError) as e:
        await http.request("POST", "/messages")
    assert e.value.timed_out and e.value.attempts == 2
    # Each byte within httpx's per-read limit, the whole beyond the
    # attempt's: only the whole-attempt deadline stops it.
    server.script = [Answer(200, b"x" * 40, trickle=0.1), Answer(200)]
    with trio.fail_after(WAIT):
        reply = await http.request("POST", "/messages")
    assert reply.ok and reply.attempts == 2 and reply.response.content == b"{}"
    await http.aclose()


async def test_pool_is_bounded(server):
    """At most max_connections requests reach the provider at once; the
    others wait for a pooled connection."""
    rec = Rec()
    http = client(server, rec, max_connections=2)
    release = trio.Event()
    server.script = [Answer(200, after=release) for _ in range(5)]
    replies: list[Any] = []

    async def one() -> None:
        replies.append(await http.request("POST", "/messages"))

    with trio.fail_after(WAIT):
        async with trio.open_nursery() as n:
            for _ in range(5):
                n.start_soon(one)
            while len(server.requests) < 2:
                await server.seen_request.wait()
            # Absence can only be observed by waiting a little.
            await trio.sleep(0.3)
            assert len(server.requests) == 2 and server.open == 2
            release.set()
    assert len(replies) == 5 and all(r.ok for r in replies)
    assert server.max_open == 2
    await http.aclose()


def test_retry_after_values():
    now = 1_700_000_000.0  # Nov 2023
    assert retry_after_seconds("7", now=now) == 7.0
    assert retry_after_seconds(" 1.5 ", now=now) == 1.5
    assert retry_after_seconds("-3", now=now) == 0.0
    assert retry_after_seconds(None, now=now) is None
    assert retry_after_seconds("", now=now) is None
    assert retry_after_seconds("garbage", now=now) is None
    assert retry_after_seconds("inf", now=now) is None
    assert retry_after_seconds(email.utils.formatdate(now + 42, usegmt=True), now=now) == 42.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0  # in the past
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 -0000", now=1445412480.0 - 5) == 5.0


# --- a toy provider on the kit ------------------------------------------------------

SECRET = b"toy-secret"
# status -> (rank, final)
TOY_STATUS = {"accepted": (0, False), "enroute": (1, False), "sent": (2, False),
              "delivered": (9, True), "failed": (9, True)}


class ToyConfig(msgspec.Struct, kw_only=True):
    api_base: str
    public_base_url: str
    max_attempts: int = 2
    backoff: float = 0.0
    max_backoff: float = 0.0
    request_timeout: float = float(WAIT)


class Toy(HttpAdapter):
    """A JSON provider: POST /messages -> {"id"}; webhooks "dlr" ({"id",
    "status", "ref"?}) and "mo" ({"id", "from", "to", "text"}), signed by
    hex HMAC-SHA256 of the body in X-Toy-Signature."""

    provider_name = "toy"
    capabilities = Capabilities(webhooks=("mo", "dlr"), inbound_kind="mo", status_kind="dlr")

    def __init__(self, config: ToyConfig, *, integration_id: str, **kw: Any) -> None:
        self.config = config
        super().__init__(integration_id=integration_id, public_base_url=config.public_base_url,
                         settings=ClientSettings.of(config, base_url=config.api_base), **kw)

    async def send(self, message: Any) -> SubmitResult:
        reply = await self.http.request("POST", "/messages", json={"to": message.destination, "text": message.text,
                                                                    "ref": message.message_id})
        if not reply.ok:
            return self.failed(message, attempts=reply.attempts, http_status=reply.status, vendor_code=None,
                               generic_code=GenericErrorCode.REJECTED, cause="REFUSED")
        return SubmitResult(message_id=message.message_id, segment_id=self.first_segment_id(message), ok=True,
                            vendor_message_id=reply.response.json()["id"], attempts=reply.attempts)

    def authenticate(self, request: WebhookRequest) -> dict[str, Any]:
        want = hmac.new(SECRET, request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, request.headers.get("x-toy-signature", "")):
            raise WebhookRefused("X-Toy-Signature does not match")
        return json.loads(request.body)

    def routes(self) -> dict[str, Route]:
        return {"dlr": Route(handler=self._dlr),
                "mo": Route(handler=self._mo, answer=WebhookResponse(body=b'{"ok":true}',
                                                                     content_type="application/json"))}

    def subject(self, payload: dict[str, Any]) -> str | None:
        return payload.get("id")

    async def _dlr(self, request: WebhookRequest, p: dict[str, Any]) -> None:
        rank, final = TOY_STATUS[p["status"]]

        def build(m: Match) -> DeliveryReceipt:
            return DeliveryReceipt(vendor_message_id=p["id"], state=2 if p["status"] == "delivered" else 1,
                                   state_name=p["status"], is_final=final, generic_code=GenericErrorCode.SUCCESS,
                                   cause=p["status"].upper(), message_id=m.message_id, segment_id=m.segment_id,
                                   early=m.early)

        await self.deliver_receipt(p["id"], rank=rank, final=final, message_id=p.get("ref"), build=build)

    async def _mo(self, request: WebhookRequest, p: dict[str, Any]) -> None:
        await self.deliver_inbound(InboundMessage(source=p["from"], destination=p["to"], text=p["text"],
                                                  vendor_message_id=p["id"]))


class ToyRig:
    def __init__(self, api: Scripted, web_port: int, registry: IntegrationRegistry) -> None:
        self.api = api
        self.web_port = web_port
        self.registry = registry
        self.events: list[Any] = []
        self.receipts: list[DeliveryReceipt] = []
        self.mos: list[InboundMessage] = []
        self.order: list[str] = []
        self.http = httpx.AsyncClient(timeout=WAIT)

    def toy(self, **kw: Any) -> Toy:
        async def on_receipt(r: DeliveryReceipt) -> None:
            self.order.append(f"receipt:{r.vendor_message_id}")
            self.receipts.append(r)

        async def on_submit_result(r: SubmitResult) -> None:
            self.order.append(f"result:{r.vendor_message_id}")

        config = ToyConfig(api_base=self.api.url, public_base_url=f"http://127.0.0.1:{self.web_port}")
        callbacks = {"on_event": self.events.append, "on_receipt": on_receipt,
                     "on_submit_result": on_submit_result, "on_mo": self.mos.append}
        toy = Toy(config, integration_id="t1", **{**callbacks, **kw})
        self.registry.add(toy)
        return toy

    async def post(self, toy: Toy, kind: str, payload: Any, *, sign: bool = True,
                   method: str = "POST", body: bytes | None = None) -> httpx.Response:
        url = f"{toy.public_base_url}/vendors/v1/toy/t1/{kind}"
        body = json.dumps(payload).encode() if body is None else body
        headers = {"content-type": "application/json"}
        if sign:
            headers["x-toy-signature"] = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        with trio.fail_after(WAIT):
            return await self.http.request(method, url, content=body if method == "POST" else None,
                                           headers=headers)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
async def rig(nursery, server):
    registry = IntegrationRegistry()
    port = await nursery.start(serve_web, create_app(registry), "127.0.0.1", 0)
    r = ToyRig(server, port, registry)
    yield r
    await r.http.aclose()


def outbound(message_id: str = "m1") -> OutboundMessage:
    return OutboundMessage(message_id=message_id, source="+15005550006", destination="+15551234567", text="hi")


async def test_toy_is_a_provider(rig):
    toy = rig.toy()
    assert isinstance(toy, Provider)
    assert toy.callback_urls().status == f"http://127.0.0.1:{rig.web_port}/vendors/v1/toy/t1/dlr"
    assert toy.max_in_flight == 10
    rig.api.script = [Answer(201, b'{"id": "V1"}')]
    async with trio.open_nursery() as n:
        await n.start(toy.run)
        with trio.fail_after(WAIT):
            [result] = await toy.submit(outbound())
        assert result.ok and result.vendor_message_id == "V1" and result.segment_id == "m1:1"
        n.cancel_scope.cancel()
    assert toy.http.is_closed


# --- webhook steps ------------------------------------------------------------------


async def test_webhook_method_size_unknown_kind(rig):
    toy = rig.toy(max_webhook_body=1024)
    r = await rig.post(toy, "dlr", None, method="GET", sign=False)
    assert r.status_code == 405 and r.text == "POST only"
    r = await rig.post(toy, "dlr", None, body=b"x" * 1025)
    assert r.status_code == 413
    r = await rig.post(toy, "nope", {"id": "V1", "status": "sent"})
    assert r.status_code == 404
    # None of these reached authentication, a handler, or the events.
    assert rig.receipts == [] and rig.events == []
    assert (toy.stats["refused_method"], toy.stats["refused_size"], toy.stats["unknown_kind"]) == (1, 1, 1)
    assert toy.stats["webhooks"] == 0


async def test_webhook_bad_signature_is_403_and_event(rig):
    toy = rig.toy()
    r = await rig.post(toy, "mo", {"id": "M1", "from": "+1555", "to": "+1500", "text": "x"}, sign=False)
    assert r.status_code == 403
    r = await rig.post(toy, "dlr", {"id": "V1", "status": "delivered"}, body=b'{"id": "V1", "status": "sent"}')
    assert r.status_code == 200  # signed over the body actually sent
    r = await rig.http.post(toy.callback_urls().status, content=b'{"id": "V1", "status": "delivered"}',
                            headers={"x-toy-signature": "00" * 32})
    assert r.status_code == 403
    assert rig.mos == [] and [x.state_name for x in rig.receipts] == ["sent"]
    # Both counted; the first reported at once, the second waits for the
    # report interval (issue 15: one event per interval, not one each).
    rejected = [e for e in rig.events if e.kind == "webhook_rejected"]
    assert len(rejected) == 1 and rejected[0].cause == "bad_signature"
    assert rejected[0].detail.startswith("mo webhook refused: X-Toy-Signature")
    assert toy.stats["rejected_signature"] == 2 and toy.stats["webhooks"] == 1
    assert toy.webhooks.rejections.flush()
    rejected = [e for e in rig.events if e.kind == "webhook_rejected"]
    assert len(rejected) == 2 and rejected[1].detail.startswith("dlr webhook refused: X-Toy-Signature")


async def test_rejections_one_event_per_interval(autojump_clock):
    """Defect 9 of issue 15: each refused webhook is counted, but reported
    in at most one event per interval, saying how many and why."""
    events: list[Any] = []
    report = RejectionReport(EventSink("t1", events.append), interval=10.0)
    async with trio.open_nursery() as n:
        n.start_soon(report.run)
        for i in range(300):
            report.record("mo", "bad signature" if i % 3 else "missing signature")
            await trio.sleep(0.01)  # a 3-second burst
        assert len(events) == 1 and events[0].detail == "mo webhook refused: missing signature"
        await trio.sleep(10)  # the interval ends: the rest in one event
        assert len(events) == 2
        detail = events[1].detail
        assert detail.startswith("299 webhooks refused in the last ") and "(300 since start)" in detail
        assert "mo webhook refused: bad signature (×200)" in detail
        assert "mo webhook refused: missing signature (×99)" in detail
        # Distinct reasons are bounded (a forger can't grow the event).
        for i in range(20):
            report.record("mo", f"reason {i}")
        await trio.sleep(11)
        assert len(events) == 3 and "mo webhook refused: reason 4 (×1)" in events[2].detail
        assert "other reasons (×15)" in events[2].detail and events[2].detail.count("×") == 6
        # Quiet for an interval: the next one is reported at once.
        await trio.sleep(30)
        report.record("dlr", "x")
        assert len(events) == 4 and events[3].detail == "dlr webhook refused: x"
        assert report.total == 321 and report.pending == 0
        n.cancel_scope.cancel()


async def test_webhook_inactive_answers_2xx_drops_and_counts(rig):
    toy = rig.toy()
    toy.active = False
    mo = {"id": "M1", "from": "+1555", "to": "+1500", "text": "x"}
    r = await rig.post(toy, "mo", mo)
    # The answer the provider expects when all is well, so it doesn't retry.
    assert r.status_code == 200 and r.content == b'{"ok":true}'
    assert r.headers["content-type"].startswith("application/json")
    r = await rig.post(toy, "dlr", {"id": "V1", "status": "delivered"})
    assert r.status_code == 200 and r.content == b""
    assert rig.mos == [] and rig.receipts == []
    dropped = [e for e in rig.events if e.kind == "webhook_dropped"]
    assert [e.cause for e in dropped] == ["deactivated", "deactivated"]
    assert "for M1" in dropped[0].detail and "(1 dropped so far)" in dropped[0].detail
    assert "for V1" in dropped[1].detail and "(2 dropped so far)" in dropped[1].detail
    # Authentication comes first: a forgery is refused, not dropped.
    r = await rig.post(toy, "mo", mo, sign=False)
    assert r.status_code == 403 and toy.stats["dropped_inactive"] == 2
    with pytest.raises(ProviderInactive):
        await toy.submit(outbound())
    assert rig.api.requests == []
    toy.active = True
    r = await rig.post(toy, "mo", mo)
    assert r.status_code == 200 and [m.text for m in rig.mos] == ["x"]


# --- status ordering ----------------------------------------------------------------


async def test_final_never_regresses(rig):
    toy = rig.toy()
    for status in ("delivered", "sent", "failed", "delivered"):
        r = await rig.post(toy, "dlr", {"id": "V1", "status": status})
        assert r.status_code == 200
    assert [x.state_name for x in rig.receipts] == ["delivered"]
    assert toy.stats["stale_callbacks"] == 3


async def test_intermediate_states_only_move_forward(rig):
    toy = rig.toy()
    for status in ("enroute", "accepted", "sent", "enroute", "sent", "failed"):
        await rig.post(toy, "dlr", {"id": "V2", "status": status})
    assert [x.state_name for x in rig.receipts] == ["enroute", "sent", "failed"]
    assert toy.stats["stale_callbacks"] == 3


async def test_a_receipt_that_failed_to_record_may_come_again(rig):
    toy = rig.toy()
    calls: list[str] = []

    def flaky(r: DeliveryReceipt) -> None:
        calls.append(r.state_name)
        if len(calls) == 1:
            raise RuntimeError("store down")

    toy._on_receipt = callback(flaky)
    r = await rig.post(toy, "dlr", {"id": "V3", "status": "delivered"})
    assert r.status_code == 500
    r = await rig.post(toy, "dlr", {"id": "V3", "status": "delivered"})
    assert r.status_code == 200 and calls == ["delivered", "delivered"]
    r = await rig.post(toy, "dlr", {"id": "V3", "status": "delivered"})
    assert calls == ["delivered", "delivered"] and toy.stats["stale_callbacks"] == 1


@pytest.mark.parametrize("hint", [True, False], ids=["names-its-message", "vendor-id-only"])
async def test_early_callback_waits_for_its_send(rig, hint):
    """A callback that overtakes the send's response is answered only after
    on_submit_result; it learns our message id from the send even when it
    carries only the vendor id."""
    toy = rig.toy()
    release = trio.Event()
    rig.api.script = [Answer(201, b'{"id": "V9"}', after=release)]
    answered: list[int] = []
    payload = {"id": "V9", "status": "delivered", **({"ref": "m1"} if hint else {})}

    async def callback() -> None:
        answered.append((await rig.post(toy, "dlr", payload)).status_code)

    with trio.fail_after(WAIT):
        async with trio.open_nursery() as n:
            n.start_soon(toy.submit, outbound("m1"))
            await rig.api.seen_request.wait()  # the send is at the provider
            n.start_soon(callback)
            while toy.stats["early_callbacks"] == 0 and not answered:
                await trio.sleep(0.01)
            await trio.sleep(0.2)  # it stays held (absence: observed by waiting)
            assert answered == [] and rig.receipts == []
            release.set()
    assert answered == [200]
    assert rig.order == ["result:V9", "receipt:V9"]
    [receipt] = rig.receipts
    assert receipt.early and receipt.message_id == "m1" and receipt.segment_id == "m1:1"
    assert (toy.stats["early_callbacks"], toy.stats["early_timeouts"]) == (1, 0)


async def test_early_callback_hold_is_bounded(rig):
    """A send that does not come back in time does not hold its callback
    for ever: after the hold the receipt goes on, marked early."""
    toy = rig.toy(early_callback_hold=0.3)
    release = trio.Event()
    rig.api.script = [Answer(201, b'{"id": "V5"}', after=release)]
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as n:
            n.start_soon(toy.submit, outbound("m5"))
            await rig.api.seen_request.wait()
            start = trio.current_time()
            r = await rig.post(toy, "dlr", {"id": "V5", "status": "sent", "ref": "m5"})
            held = trio.current_time() - start
            assert r.status_code == 200 and held >= 0.3
            assert rig.order == ["receipt:V5"] and rig.receipts[0].early and rig.receipts[0].message_id == "m5"
            assert toy.stats["early_timeouts"] == 1
            release.set()
    assert rig.order == ["receipt:V5", "result:V5"]


async def test_unknown_vendor_id_waits_only_for_sends_already_in_flight(rig):
    """Without our id in the callback, a send in flight may be its own; once
    every send in flight at its arrival has finished without naming its
    vendor id, it goes on (unmatched), not held by later sends."""
    toy = rig.toy()
    first, later = trio.Event(), trio.Event()
    rig.api.script = [Answer(201, b'{"id": "VA"}', after=first), Answer(201, b'{"id": "VB"}', after=later)]
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as n:
            n.start_soon(toy.submit, outbound("ma"))
            await rig.api.seen_request.wait()
            answered = trio.Event()

            async def callback() -> None:
                await rig.post(toy, "dlr", {"id": "VX", "status": "sent"})
                answered.set()

            n.start_soon(callback)
            while toy.stats["early_callbacks"] == 0 and not answered.is_set():
                await trio.sleep(0.01)
            n.start_soon(toy.submit, outbound("mb"))  # started after the callback arrived
            await rig.api.seen_request.wait()
            assert not answered.is_set()
            first.set()
            await answered.wait()
            assert rig.order == ["result:VA", "receipt:VX"]
            later.set()
    [receipt] = rig.receipts
    assert receipt.early and receipt.message_id is None


async def test_ordering_memory_is_bounded():
    ordering = StatusOrdering(max_tracked=2, hold=0.1)
    got: list[str] = []

    async def send(m: Match) -> None:
        got.append(m.vendor_message_id)

    with trio.fail_after(WAIT):
        for vid in ("V1", "V2", "V3"):
            assert await ordering.deliver(vid, rank=9, final=True, send=send)
        assert len(ordering) == 2
        # V1 was forgotten: its late callback passes as new (the store's
        # lifecycle rules still hold the message final); V3's is stale.
        assert await ordering.deliver("V1", rank=2, final=False, send=send)
        assert not await ordering.deliver("V3", rank=2, final=False, send=send)
    assert got == ["V1", "V2", "V3", "V1"] and len(ordering) == 2


# --- inbound de-duplication ---------------------------------------------------------


async def test_inbound_retry_routed_once_and_memory_bounded(rig):
    toy = rig.toy(max_recent_inbound=2)

    async def mo(vid: str) -> None:
        r = await rig.post(toy, "mo", {"id": vid, "from": "+1555", "to": "+1500", "text": vid})
        assert r.status_code == 200 and r.content == b'{"ok":true}'

    for vid in ("A", "A", "B", "C", "C", "A", "C"):
        await mo(vid)
    # A, B, C routed; the repeated C's are duplicates; A came back after two
    # others had pushed it out (bound 2) and was routed again.
    assert [m.text for m in rig.mos] == ["A", "B", "C", "A"]
    assert toy.stats["duplicate_inbound"] == 3 and len(toy.recent_inbound) == 2


async def test_concurrent_copies_wait_for_the_first():
    recent = RecentIds(10)
    routed: list[str] = []
    gate = trio.Event()

    async def copy(tag: str, fail: bool = False) -> None:
        try:
            async with recent.once("M1") as first:
                if first:
                    routed.append(tag)
                    if tag == "a":
                        await gate.wait()
                    if fail:
                        raise RuntimeError("not recorded")
        except RuntimeError:
            pass

    with trio.fail_after(WAIT):
        async with trio.open_nursery() as n:
            n.start_soon(copy, "a", True)
            await trio.testing.wait_all_tasks_blocked()
            n.start_soon(copy, "b")
            await trio.testing.wait_all_tasks_blocked()
            assert routed == ["a"]  # b waits while a is being handled
            gate.set()
        # a failed, so b was the first to be recorded; a third copy is a duplicate.
        assert routed == ["a", "b"] and "M1" in recent
        await copy("c")
    assert routed == ["a", "b"] and recent.stats["duplicate_inbound"] == 1
