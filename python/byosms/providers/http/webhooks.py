"""The steps every provider webhook goes through, in the contract's order
(docs/providers.md, "Webhooks"):

1. the kind must be one the provider declared (else 404), called with a
   method it uses (else 405), with a body of plausible size (else 413);
2. ``authenticate(request)``: the provider's signature scheme. It returns
   the parsed payload, which the handler gets, so the body is parsed once;
   it raises ``WebhookRefused`` when the request is not the provider's:
   403, nothing routed, counted in ``stats["rejected_signature"]``, and
   reported by ``RejectionReport``: at most one ``webhook_rejected`` event
   (cause ``bad_signature``) per ``report_interval`` saying how many were
   refused since the last one and why, so that a forger posting thousands
   of requests writes a handful of events, not one each. Authentication
   comes before the active gate, so a deactivated integration reveals
   nothing to a forger either;
3. the active gate (T4): while the integration is deactivated the request
   is dropped and answered as the provider expects when all is well, so
   that it does not retry it later; ``webhook_dropped`` event (cause
   ``deactivated``) with the running count;
4. the kind's handler, then its answer.

A handler that raises is not caught here: the web layer answers 500 and
emits ``protocol_error``, and the provider redelivers (nothing recorded is
acknowledged).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
import trio

from byosms.pipeline import WebhookRequest, WebhookResponse
from byosms.providers.http.events import EventSink

__all__ = [
    "MAX_WEBHOOK_BODY",
    "REJECTION_REPORT_INTERVAL",
    "RejectionReport",
    "Route",
    "WebhookRefused",
    "WebhookSkeleton",
]

#: Provider callbacks are a few KB at most (PROVIDERS.md); a much bigger
#: body is not a provider's. Per provider, under the web layer's own cap.
MAX_WEBHOOK_BODY = 64 * 1024
#: At most one ``webhook_rejected`` event per integration this often
#: (seconds); the rejections in between are counted into the next one.
REJECTION_REPORT_INTERVAL = 10.0
#: Distinct reasons one report names; the rest are counted as "other".
MAX_REPORTED_REASONS = 5
#: A reason is the provider's message; cut to this many characters.
MAX_REASON_CHARS = 160


class WebhookRefused(Exception):
    """The request failed authentication; the message says why (logged in
    the event, never sent back)."""


class RejectionReport:
    """Aggregates refused webhooks of one integration into at most one
    ``webhook_rejected`` event per ``interval`` seconds (unauthenticated
    requests must not cost a stored event each: issue 15, defect 9).

    ``record(kind, reason)`` counts one refusal. The first refusal after a
    quiet interval is reported at once; later ones wait for the interval to
    end and go out together in one event: how many, since when, and the
    reasons with their counts. ``run()`` (the adapter's nursery) sends a
    waiting report when its interval ends; without it (an idle instance
    that only answers webhooks) the waiting count goes out with the next
    refusal after the interval, or at ``flush()``. ``total`` counts every
    refusal ever recorded."""

    def __init__(self, events: EventSink, *, interval: float = REJECTION_REPORT_INTERVAL,
                 cause: str = "bad_signature") -> None:
        if not interval >= 0:
            raise ValueError("interval must be >= 0")
        self._events = events
        self.interval = interval
        self._cause = cause
        self.total = 0
        self.pending = 0
        self._reasons: dict[str, int] = {}
        self._last: float = -math.inf
        self._since: float | None = None
        self._wake = trio.Event()

    @staticmethod
    def _now() -> float:
        try:
            return trio.current_time()
        except RuntimeError:  # outside trio (a synchronous test)
            import time

            return time.monotonic()

    def record(self, kind: str, reason: str) -> None:
        now = self._now()
        self.total += 1
        if self.pending == 0:
            self._since = now
        self.pending += 1
        key = f"{kind} webhook refused: {reason}"[:MAX_REASON_CHARS]
        if key in self._reasons or len(self._reasons) < MAX_REPORTED_REASONS:
            self._reasons[key] = self._reasons.get(key, 0) + 1
        else:
            self._reasons["other reasons"] = self._reasons.get("other reasons", 0) + 1
        if now >= self._last + self.interval:
            self.flush(now)
        else:
            self._wake.set()

    def due(self) -> float | None:
        """When the waiting report may go out (trio clock), or None."""
        return self._last + self.interval if self.pending else None

    def flush(self, now: float | None = None) -> bool:
        """Emit the waiting report now, whatever the interval; whether
        there was one."""
        if not self.pending:
            return False
        now = self._now() if now is None else now
        n, reasons = self.pending, self._reasons
        if n == 1:
            (detail,) = reasons
        else:
            span = max(0.0, now - (self._since if self._since is not None else now))
            why = "; ".join(f"{r} (×{c})" for r, c in reasons.items())
            detail = (f"{n} webhooks refused in the last {span:.1f} s "
                      f"({self.total} since start): {why}")
        self.pending = 0
        self._reasons = {}
        self._since = None
        self._last = now
        self._events("webhook_rejected", self._cause, detail)  # type: ignore[arg-type]
        return True

    async def run(self) -> None:
        """Send each waiting report when its interval ends; until cancelled."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            due = self.due()
            if due is not None:
                await trio.sleep_until(due)
                self.flush()


class Route(msgspec.Struct, frozen=True, kw_only=True):
    """One webhook kind (the last path segment of its URL)."""

    #: ``await handler(request, payload)``; returns the answer, or None for
    #: ``answer``.
    handler: Callable[[WebhookRequest, Any], Awaitable[WebhookResponse | None]]
    #: What the provider expects back when all is well; also the answer to
    #: a request dropped by the active gate.
    answer: WebhookResponse = WebhookResponse()
    methods: tuple[str, ...] = ("POST",)


class WebhookSkeleton:
    """See the module docstring. ``is_active()`` reads the integration's
    ``active`` flag at each request (the gateway flips it); ``subject(payload)``
    optionally names what a dropped request was about (a message id) in
    its event. ``stats``: the integration's counter dict (``webhooks``
    handled, ``rejected_signature``, ``dropped_inactive``, ``unknown_kind``,
    ``refused_method``, ``refused_size``). ``report_interval``: at most one
    ``webhook_rejected`` event this often (``self.rejections``; run its
    ``run()`` in the owner's nursery so a waiting count is not held back)."""

    def __init__(
        self,
        routes: Mapping[str, Route],
        *,
        authenticate: Callable[[WebhookRequest], Any],
        is_active: Callable[[], bool],
        events: EventSink,
        stats: dict[str, int] | None = None,
        max_body: int = MAX_WEBHOOK_BODY,
        subject: Callable[[Any], str | None] | None = None,
        report_interval: float = REJECTION_REPORT_INTERVAL,
    ) -> None:
        self.routes = dict(routes)
        self._authenticate = authenticate
        self._is_active = is_active
        self._events = events
        self.max_body = max_body
        self._subject = subject
        self.stats = stats if stats is not None else {}
        self.rejections = RejectionReport(events, interval=report_interval)
        for key in ("webhooks", "rejected_signature", "dropped_inactive", "unknown_kind",
                    "refused_method", "refused_size"):
            self.stats.setdefault(key, 0)

    async def handle(self, request: WebhookRequest) -> WebhookResponse:
        kind = request.kind
        route = self.routes.get(kind)
        if route is None:
            self.stats["unknown_kind"] += 1
            return WebhookResponse(status=404, body=b"not found")
        if request.method.upper() not in route.methods:
            self.stats["refused_method"] += 1
            return WebhookResponse(status=405, body=(", ".join(route.methods) + " only").encode())
        if len(request.body) > self.max_body:
            self.stats["refused_size"] += 1
            return WebhookResponse(status=413, body=b"too large")
        try:
            payload = self._authenticate(request)
            if inspect.isawaitable(payload):
                payload = await payload
        except WebhookRefused as e:
            self.stats["rejected_signature"] += 1
            self.rejections.record(kind, str(e))
            return WebhookResponse(status=403, body=b"forbidden")
        if not self._is_active():
            self.stats["dropped_inactive"] += 1
            about = self._subject(payload) if self._subject is not None else None
            self._events(
                "webhook_dropped", "deactivated",
                f"{kind} webhook" + (f" for {about}" if about else "")
                + f" dropped: integration deactivated ({self.stats['dropped_inactive']} dropped so far)",
            )
            return route.answer
        answer = await route.handler(request, payload)
        self.stats["webhooks"] += 1
        return answer if answer is not None else route.answer
