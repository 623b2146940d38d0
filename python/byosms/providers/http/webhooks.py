"""The steps every provider webhook goes through, in the contract's order
(docs/providers.md, "Webhooks"):

1. the kind must be one the provider declared (else 404), called with a
   method it uses (else 405), with a body of plausible size (else 413);
2. ``authenticate(request)``: the provider's signature scheme. It returns
   the parsed payload, which the handler gets, so the body is parsed once;
   it raises ``WebhookRefused`` when the request is not the provider's:
   403, a ``webhook_rejected`` event (cause ``bad_signature``), nothing
   routed. Authentication comes before the active gate, so a deactivated
   integration reveals nothing to a forger either;
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
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

from byosms.pipeline import WebhookRequest, WebhookResponse
from byosms.providers.http.events import EventSink

__all__ = ["MAX_WEBHOOK_BODY", "Route", "WebhookRefused", "WebhookSkeleton"]

#: Provider callbacks are a few KB at most (PROVIDERS.md); a much bigger
#: body is not a provider's. Per provider, under the web layer's own cap.
MAX_WEBHOOK_BODY = 64 * 1024


class WebhookRefused(Exception):
    """The request failed authentication; the message says why (logged in
    the event, never sent back)."""


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
    ``refused_method``, ``refused_size``)."""

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
    ) -> None:
        self.routes = dict(routes)
        self._authenticate = authenticate
        self._is_active = is_active
        self._events = events
        self.max_body = max_body
        self._subject = subject
        self.stats = stats if stats is not None else {}
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
            self._events("webhook_rejected", "bad_signature", f"{kind} webhook refused: {e}")
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
