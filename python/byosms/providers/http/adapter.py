"""The base of an HTTP provider's adapter: the kit's parts wired into the
``Provider`` contract (byosms.providers.base), so that a provider module
writes only what is its own.

    class AcmeIntegration(HttpAdapter):
        provider_name = "acme"
        capabilities = Capabilities(webhooks=("mo", "dlr"), inbound_kind="mo", status_kind="dlr")

        def __init__(self, config, *, integration_id, runtime=None, active=True, **callbacks):
            super().__init__(integration_id=integration_id, public_base_url=config.public_base_url,
                             settings=ClientSettings.of(config, base_url=config.api_base),
                             auth=..., runtime=runtime, active=active, **callbacks)

        async def send(self, message) -> SubmitResult: ...        # one REST call via self.http
        def authenticate(self, request) -> Any: ...               # payload, or raise WebhookRefused
        def routes(self) -> dict[str, Route]: ...                 # kind -> Route(handler=...)

What the base does: the lifecycle (``run`` owns the connection pool and
closes it on cancellation), the T4 gate on ``submit``, ordering of each
send before its callbacks (``submit`` wraps ``send``), the webhook steps,
and helpers for the three things every provider hands the pipeline:
``deliver_receipt`` (ordered), ``deliver_inbound`` (de-duplicated), and
``failed`` / ``opted_out`` for refused sends. All counters of the
integration are in one ``stats`` dict.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import httpx
import trio

from byosms.advanced_config import GenericErrorCode
from byosms.pipeline import (
    CallbackUrls,
    DeliveryReceipt,
    InboundMessage,
    NumberCheck,
    OperationalEvent,
    SubmitResult,
    VendorOptOut,
    WebhookRequest,
    WebhookResponse,
)
from byosms.providers.base import Capabilities, ProviderRuntime, callback
from byosms.providers.base import OutboundMessage as OutboundMessageLike
from byosms.providers.http.client import Classification, ClientSettings, HttpClient
from byosms.providers.http.dedup import MAX_RECENT, RecentIds
from byosms.providers.http.events import EventSink
from byosms.providers.http.ordering import DEFAULT_HOLD, Match, StatusOrdering
from byosms.providers.http.webhooks import (
    MAX_WEBHOOK_BODY,
    REJECTION_REPORT_INTERVAL,
    Route,
    WebhookRefused,
    WebhookSkeleton,
)

__all__ = ["HttpAdapter", "ProviderInactive"]


class ProviderInactive(RuntimeError):
    """submit() on a deactivated integration (T4: its numbers are disabled)."""


class HttpAdapter:
    """See the module docstring. Subclasses set ``provider_name`` and
    ``capabilities`` and implement ``send``, ``authenticate`` and
    ``routes``; ``classify`` and ``subject`` are optional."""

    provider_name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(
        self,
        *,
        integration_id: str,
        public_base_url: str,
        settings: ClientSettings,
        on_event: Callable[[OperationalEvent], Any] | None = None,
        on_submit_result: Callable[[SubmitResult], Any] | None = None,
        on_receipt: Callable[[DeliveryReceipt], Any] | None = None,
        on_mo: Callable[[InboundMessage], Any] | None = None,
        on_opt_out: Callable[[VendorOptOut], Any] | None = None,
        runtime: ProviderRuntime | None = None,
        active: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        early_callback_hold: float = DEFAULT_HOLD,
        max_recent_inbound: int = MAX_RECENT,
        max_webhook_body: int = MAX_WEBHOOK_BODY,
        webhook_report_interval: float = REJECTION_REPORT_INTERVAL,
        allowed_ips: Sequence[str] = (),
    ) -> None:
        """``transport`` replaces httpx's network transport (tests); when
        None, ``runtime.http_transport`` is used if given.
        ``webhook_report_interval``: at most one ``webhook_rejected`` event
        per this many seconds (the refusals between are counted into it)."""
        self.integration_id = integration_id
        self.active = active
        self.public_base_url = public_base_url.rstrip("/")
        self.stats: dict[str, int] = {}
        self._emit = EventSink(integration_id, on_event)
        # Read at each use (not captured by the parts): owners and tests may
        # swap a callback on a live integration.
        self._on_submit_result = callback(on_submit_result)
        self._on_receipt = callback(on_receipt)
        self._on_mo = callback(on_mo)
        self._on_opt_out = callback(on_opt_out)
        if transport is None and runtime is not None:
            transport = runtime.http_transport
        self.http = HttpClient(
            settings, events=self._emit, stats=self.stats, auth=auth, headers=headers,
            transport=transport, classify=self.classify,
        )
        self.ordering = StatusOrdering(hold=early_callback_hold, stats=self.stats)
        self.recent_inbound = RecentIds(max_recent_inbound, stats=self.stats)
        self._networks = [ipaddress.ip_network(n, strict=False) for n in allowed_ips]
        self.webhooks = WebhookSkeleton(
            self.routes(), authenticate=self._authenticate, is_active=lambda: self.active,
            events=self._emit, stats=self.stats, max_body=max_webhook_body, subject=self.subject,
            report_interval=webhook_report_interval,
        )

    # --- what a provider writes ---------------------------------------------

    async def send(self, message: OutboundMessageLike) -> SubmitResult:
        """One send at the provider: the result, ok or not (``failed``).
        Raise only when the message cannot be expressed for the provider."""
        raise NotImplementedError

    def authenticate(self, request: WebhookRequest) -> Any:
        """The request's payload if it is the provider's (sync or async);
        raise ``WebhookRefused`` otherwise."""
        raise NotImplementedError

    def _authenticate(self, request: WebhookRequest) -> Any:
        """The allow-list, then the provider's own check."""
        if self._networks:
            try:
                peer = ipaddress.ip_address(request.remote_addr or "")
            except ValueError:
                raise WebhookRefused("no peer address to check against allowed_ips") from None
            if not any(peer in n for n in self._networks):
                raise WebhookRefused(f"{peer} is not in allowed_ips")
        return self.authenticate(request)

    def routes(self) -> Mapping[str, Route]:
        """Webhook kind -> Route; the kinds match ``capabilities.webhooks``."""
        return {}

    def classify(self, response: httpx.Response) -> Classification | None:
        """The provider's reading of a REST response (error code, throttled
        in the body); None: the HTTP status says it all."""
        return None

    def subject(self, payload: Any) -> str | None:
        """What a webhook's payload is about, for the events (a message id)."""
        return None

    # --- the Provider contract ----------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled. Only the webhook rejection report runs in
        the background (callers of submit use the pool); cancellation
        closes the pool and sends a waiting rejection report."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.webhooks.rejections.run)
                task_status.started(self)
                await trio.sleep_forever()
        finally:
            self.webhooks.rejections.flush()
            with trio.CancelScope(shield=True):
                await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    @property
    def max_in_flight(self) -> int:
        """Sends the gateway may have going at once: one per connection."""
        return self.http.max_connections

    async def check_number(self, number: str) -> NumberCheck:
        """The import check (T3, N5). Providers without an API to ask
        answer ``found``, as the contract says; those with one override."""
        return NumberCheck(status="found", number=number, expected_url=self.callback_urls().inbound)

    def callback_urls(self) -> CallbackUrls:
        quoted = urllib.parse.quote(self.integration_id, safe="")
        base = f"{self.public_base_url}/vendors/v1/{urllib.parse.quote(self.provider_name, safe='')}/{quoted}/"
        caps = self.capabilities
        return CallbackUrls(
            inbound=base + caps.inbound_kind if caps.inbound_kind else None,
            status=base + caps.status_kind if caps.status_kind else None,
        )

    async def submit(self, message: OutboundMessageLike) -> list[SubmitResult]:
        """``send`` under the T4 gate; its result goes to on_submit_result
        before any status callback of the message is let through."""
        if not self.active:
            raise ProviderInactive(f"integration {self.integration_id} is deactivated")
        async with self.ordering.submitting(message.message_id):
            result = await self.send(message)
            if result.ok and result.vendor_message_id:
                self.ordering.track(
                    result.vendor_message_id, result.message_id, result.segment_id, result.segment_count
                )
            if self._on_submit_result is not None:
                await self._on_submit_result(result)
        return [result]

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResponse:
        return await self.webhooks.handle(request)

    # --- helpers for send and the handlers ----------------------------------

    @staticmethod
    def first_segment_id(message: OutboundMessageLike) -> str:
        """The id of the one result of a provider that segments itself."""
        ids = getattr(message, "segment_ids", None)
        return ids[0] if ids else f"{message.message_id}:1"

    def failed(
        self,
        message: OutboundMessageLike,
        *,
        attempts: int,
        http_status: int | None,
        vendor_code: int | None,
        generic_code: GenericErrorCode,
        cause: str,
        detail: str = "",
    ) -> SubmitResult:
        """A refused send as a result, with its ``delivery_failure`` event."""
        self._emit(
            "delivery_failure",
            "http_error",
            f"message {message.message_id} failed after {attempts} attempt(s): {cause}"
            + (f" (HTTP {http_status})" if http_status else "")
            + (f": {detail}" if detail else ""),
            vendor_code,
        )
        return SubmitResult(
            message_id=message.message_id,
            segment_id=self.first_segment_id(message),
            ok=False,
            vendor_code=vendor_code,
            http_status=http_status,
            generic_code=generic_code,
            cause=cause,
            attempts=attempts,
        )

    async def opted_out(self, message: OutboundMessageLike, vendor_code: int | None, *, sender: str | None = None) -> None:
        """The provider refused because the recipient opted out there: an
        event, and on_opt_out so the gateway records it (S15)."""
        sender = sender if sender is not None else message.source
        self._emit(
            "recipient_opted_out",
            detail=f"{message.destination} opted out of {sender} at {self.provider_name}",
            code=vendor_code,
        )
        if self._on_opt_out is not None:
            await self._on_opt_out(
                VendorOptOut(
                    integration=self.integration_id, sender=message.source, recipient=message.destination,
                    vendor_code=vendor_code, message_id=message.message_id,
                )
            )

    async def deliver_receipt(
        self,
        vendor_message_id: str,
        *,
        rank: int,
        final: bool,
        message_id: str | None = None,
        build: Callable[[Match], DeliveryReceipt],
    ) -> bool:
        """``build(match)`` to on_receipt, if the status moves the message
        forward (StatusOrdering.deliver); whether it did."""

        async def send(match: Match) -> None:
            receipt = build(match)
            if self._on_receipt is not None:
                await self._on_receipt(receipt)

        return await self.ordering.deliver(
            vendor_message_id, rank=rank, final=final, message_id=message_id, send=send
        )

    async def deliver_inbound(self, message: InboundMessage) -> bool:
        """``message`` to on_mo unless its vendor id was just routed (a
        provider retry); whether it was routed."""
        async with self.recent_inbound.once(message.vendor_message_id) as first:
            if first and self._on_mo is not None:
                await self._on_mo(message)
        return first
