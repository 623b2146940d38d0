"""The interface every provider adapter offers the gateway pipeline.

An adapter is one configured provider account ("integration"). The pipeline
builds it through its ``ProviderFactory`` (found by name, built-in or loaded
from the ``byosms.providers`` entry-point group), runs it in a nursery, hands
it messages with ``submit`` and hears back through callbacks. See
docs/providers.md for the contract in prose; this module is its typed form.

Payloads are described structurally (``...Like`` protocols): each adapter has
its own msgspec Structs (the SMPP engine's ``SubmitResult`` carries a bind
index, Twilio's ``DeliveryReceipt`` the Twilio status), and the pipeline only
reads the fields named here.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from byosms.advanced_config import GenericErrorCode
from byosms.schemas.events import OperationalEvent

__all__ = [
    "ENTRY_POINT_GROUP",
    "CallbackUrls",
    "DeliveryReceiptLike",
    "InboundMessageLike",
    "NumberCheck",
    "OutboundMessageLike",
    "Provider",
    "ProviderFactory",
    "ProviderLoadError",
    "SubmitResultLike",
    "VendorOptOut",
    "WebhookRequest",
    "WebhookResponse",
    "load_provider",
    "provider_factories",
]

#: Third-party adapters register a ``ProviderFactory`` under this group, e.g.
#: in pyproject.toml: ``[project.entry-points."byosms.providers"]
#: acme = "acme_sms.byosms:factory"``.
ENTRY_POINT_GROUP = "byosms.providers"

MessageState = Literal["delivered", "failed", "en_route"]


# --- payloads ------------------------------------------------------------------


class OutboundMessageLike(Protocol):
    """What ``submit`` reads: one mobile-terminated message (E.164 with '+')."""

    @property
    def message_id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def destination(self) -> str: ...
    @property
    def text(self) -> str | None: ...


class SubmitResultLike(Protocol):
    """The outcome of submitting one segment (or, for providers that segment
    themselves, the whole message: ``segment_count`` is then the provider's
    count, e.g. Twilio's ``num_segments``)."""

    message_id: str
    segment_id: str
    segment_index: int
    segment_count: int
    ok: bool
    vendor_message_id: str | None
    generic_code: GenericErrorCode
    cause: str
    attempts: int


class DeliveryReceiptLike(Protocol):
    """A delivery report. ``message_id``/``segment_id`` are None when the
    adapter could not tell which message it belongs to (the pipeline then
    matches by ``vendor_message_id``)."""

    vendor_message_id: str
    is_final: bool
    generic_code: GenericErrorCode
    cause: str
    vendor_code: int | None
    message_id: str | None
    segment_id: str | None
    message_state: MessageState | None


class InboundMessageLike(Protocol):
    """A mobile-originated message, whole and decoded."""

    source: str
    destination: str
    text: str


class VendorOptOut(msgspec.Struct, frozen=True, kw_only=True):
    """The provider refused a message because the recipient opted out at the
    provider (Twilio 21610): the owner records the opt-out (S15) so the
    gateway stops sending too."""

    integration: str
    sender: str
    recipient: str
    vendor_code: int | None = None
    message_id: str | None = None


class NumberCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of ``check_number`` at import (T3, N5).

    ``found``: the number is in the account and routes to us.
    ``not_found``: the provider account does not have it (N5 "number not
    found at the vendor").
    ``webhook_mismatch``: it exists, but its inbound webhook is not
    ``expected_url``; ``message`` tells the operator what to set.
    """

    status: Literal["found", "not_found", "webhook_mismatch"]
    number: str
    expected_url: str | None = None
    actual_url: str | None = None
    message: str = ""
    vendor_number_id: str | None = None


class CallbackUrls(msgspec.Struct, frozen=True, kw_only=True):
    """Where the provider must send inbound messages and delivery reports
    (D3), shown when the integration is created. None: not used."""

    inbound: str | None = None
    status: str | None = None


class WebhookRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One HTTP request to ``/vendors/v1/{provider}/{integration}/{kind}``,
    as the web layer hands it to the adapter. ``url`` is the URL as the
    provider called it: the integration's public base URL + path + query
    (not the Host header, which a proxy may have rewritten)."""

    kind: str
    method: str
    url: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    content_type: str = ""


class WebhookResponse(msgspec.Struct, frozen=True, kw_only=True):
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"


# --- the adapter ----------------------------------------------------------------


@runtime_checkable
class Provider(Protocol):
    """One integration of one provider.

    Constructed as ``Factory(config, integration_id=..., on_event=...,
    on_submit_result=..., on_receipt=..., on_mo=..., on_opt_out=...)``;
    callbacks may be plain or async functions. Lifecycle: ``await
    nursery.start(provider.run)`` (``started`` once it can accept
    ``submit``), cancellation is shutdown.
    """

    integration_id: str
    #: Registry name ("smpp", "twilio", or a plug-in's entry-point name).
    provider_name: str
    #: T4 / S12: while False, webhooks are dropped (and counted) and
    #: ``submit`` refuses; the owner flips it on (de)activation.
    active: bool

    async def run(self, *, task_status: Any = ...) -> None: ...

    async def submit(self, message: Any) -> list[Any]:
        """Submit one message; returns the SubmitResult of each segment (each
        also goes to ``on_submit_result`` before any receipt for it is
        delivered). Failures are results with ``ok=False``, not exceptions;
        exceptions mean the message is malformed for this provider."""
        ...

    async def check_number(self, number: str) -> NumberCheck: ...

    def callback_urls(self) -> CallbackUrls: ...

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResponse:
        """Authenticate and route one webhook; answer the provider."""
        ...


class ProviderFactory(Protocol):
    """What an entry point names: usually the adapter class itself, with the
    provider's config decoder as ``decode_config``."""

    def __call__(
        self,
        config: Any,
        *,
        integration_id: str,
        on_event: Callable[[OperationalEvent], Any] | None = None,
        on_submit_result: Callable[[Any], Any] | None = None,
        on_receipt: Callable[[Any], Any] | None = None,
        on_mo: Callable[[Any], Any] | None = None,
        on_opt_out: Callable[[VendorOptOut], Any] | None = None,
    ) -> Provider: ...

    def decode_config(self, data: Any) -> Any: ...


# --- registry -------------------------------------------------------------------


class ProviderLoadError(LookupError):
    """No provider by that name, or its entry point failed to load."""


#: Built-in adapters, loaded lazily (each pulls in its own dependencies).
_BUILTIN: dict[str, str] = {
    "twilio": "byosms.providers.twilio:TwilioIntegration",
}


def provider_factories() -> dict[str, importlib.metadata.EntryPoint]:
    """Every known provider name and the entry point that builds it. Built-in
    names win over plug-ins of the same name (a plug-in cannot hijack the
    "twilio" integrations of an installation)."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    for name, value in _BUILTIN.items():
        found[name] = importlib.metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)
    return found


def load_provider(name: str) -> ProviderFactory:
    """The factory registered under ``name``."""
    ep = provider_factories().get(name)
    if ep is None:
        known = ", ".join(sorted(provider_factories()))
        raise ProviderLoadError(f"no provider named {name!r} (known: {known})")
    try:
        factory = ep.load()
    except Exception as e:  # a broken plug-in must not take the gateway down
        raise ProviderLoadError(f"provider {name!r} ({ep.value}) failed to load: {e!r}") from e
    if not callable(factory):
        raise ProviderLoadError(f"provider {name!r} ({ep.value}) is not callable")
    return factory


def callback(fn: Callable[[Any], Any] | None) -> Callable[[Any], Awaitable[Any]] | None:
    """An async callable for a sync or async callback (adapters' helper)."""
    import inspect

    if fn is None or inspect.iscoroutinefunction(fn):
        return fn

    async def call(arg: Any) -> Any:
        result = fn(arg)
        if inspect.isawaitable(result):
            return await result
        return result

    return call
