"""The contract between the gateway pipeline and every provider adapter.

An adapter is one configured provider account ("integration"). The gateway
finds the provider's ``ProviderSpec`` in the registry (``providers.registry``:
built-in or from the ``byosms.providers`` entry-point group, SMPP and Twilio
exactly like a plug-in), builds the adapter with ``spec.build``, runs it in a
nursery, hands it messages with ``submit`` and hears back through callbacks.
Everything they exchange is a ``byosms.pipeline`` type. docs/providers.md is
this contract in prose, with a worked plug-in.

What differs between providers is declared, never name-checked: the spec's
``Capabilities`` (who segments, batch submit, webhooks, number check,
provider-managed keyword replies, receipt correlation).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import quote

import msgspec

from byosms.pipeline import (
    CallbackUrls,
    DeliveryReceipt,
    InboundMessage,
    NumberCheck,
    OperationalEvent,
    OutboundMessage,
    SubmitResult,
    SubmittedSegment,
    VendorOptOut,
    WebhookRequest,
    WebhookResponse,
)
from byosms.secret import Secret, dec_hook, schema_hook

__all__ = [
    "ENTRY_POINT_GROUP",
    "CallbackUrls",
    "Capabilities",
    "ConfigInvalid",
    "DeliveryReceipt",
    "InboundMessage",
    "NumberCheck",
    "OutboundMessage",
    "Provider",
    "ProviderFactory",
    "ProviderLoadError",
    "ProviderRuntime",
    "ProviderSpec",
    "SubmitResult",
    "SubmittedSegment",
    "VendorOptOut",
    "WebhookRequest",
    "WebhookResponse",
    "callback",
    "load_provider",
    "provider_factories",
]

#: Third-party adapters register under this group, e.g. in pyproject.toml:
#: ``[project.entry-points."byosms.providers"] acme = "acme_sms:AcmeProvider"``.
ENTRY_POINT_GROUP = "byosms.providers"


class ProviderLoadError(LookupError):
    """No provider by that name, or its entry point failed to load."""


class ConfigInvalid(ValueError):
    """A provider configuration was refused; the message names the field."""


# --- what a provider declares ------------------------------------------------------


class Capabilities(msgspec.Struct, frozen=True, kw_only=True):
    """What the gateway may expect of a provider, instead of its name."""

    #: "gateway": the gateway chooses the charset and builds the segments
    #: (S8) and submits each (``OutboundMessage.segments``, one SubmitResult
    #: per segment). "provider": ``submit`` gets the whole ``text`` once and
    #: the provider segments (one SubmitResult, its ``segment_count`` the
    #: provider's); its receipts then speak for every segment.
    segments: Literal["gateway", "provider"] = "provider"
    #: ``submit_many(messages, on_done=)`` exists and sends a claim's
    #: messages together (with ``on_submit_results`` / ``on_receipts`` for
    #: batches of results).
    batch_submit: bool = False
    #: Webhook kinds the provider calls at ``/vendors/v1/{name}/{id}/{kind}``;
    #: ``inbound_kind`` / ``status_kind`` name the D3 callback URLs.
    webhooks: tuple[str, ...] = ()
    inbound_kind: str | None = None
    status_kind: str | None = None
    #: ``check_number`` asks the provider at import (N5 not_found_at_vendor);
    #: without it an import is recorded unchecked.
    number_check: bool = False
    #: The provider answers STOP/HELP itself by default (Twilio's Advanced
    #: Opt-Out): the gateway records opt-outs but sends no second reply,
    #: unless the integration's ``keyword_replies`` says "gateway".
    answers_keywords: bool = False
    #: The provider matches receipts to segments in memory and must hear of
    #: segments a previous run submitted (``register_submitted``).
    correlates_receipts: bool = False
    #: At most this many live integrations of this provider per business
    #: unit (S11: 10 for SMPP). None: no limit.
    max_per_business_unit: int | None = None


class ProviderRuntime(msgspec.Struct, kw_only=True):
    """What the running gateway lends a provider beyond the callbacks.

    ``resolve_host(host)`` maps a host alias of the configuration to a real
    endpoint ``(host, port, ssl_context)`` or None (the built-in simulator's
    ``"simulator"``); ``rate_limit`` False turns S4 off (benches only);
    ``http_transport`` replaces httpx's network transport (tests only)."""

    resolve_host: Callable[[str], Any] | None = None
    rate_limit: bool = True
    http_transport: Any = None


@runtime_checkable
class Provider(Protocol):
    """One integration of one provider.

    Lifecycle: ``await nursery.start(provider.run)`` (``started`` once it can
    accept ``submit``); cancellation is shutdown. Optional members the
    gateway uses when present: ``max_in_flight`` (segments it may hold at
    once, default 10), ``wait_ready()`` (returns once it can send, e.g. a
    bind is up), ``bind_addresses()`` (S16), ``register_submitted(items)``
    (``Capabilities.correlates_receipts``), ``submit_many``
    (``Capabilities.batch_submit``), ``answers_keywords`` (this
    integration's choice over ``Capabilities.answers_keywords``).
    """

    integration_id: str
    #: Registry name ("smpp", "twilio", or a plug-in's entry-point name).
    provider_name: str
    #: T4 / S12: while False, webhooks are answered 2xx, dropped and counted
    #: (``webhook_dropped``), and ``submit`` refuses; the gateway flips it.
    active: bool

    async def run(self, *, task_status: Any = ...) -> None: ...

    async def submit(self, message: OutboundMessage) -> list[SubmitResult]:
        """Submit one message; returns the SubmitResult of each segment (each
        also goes to ``on_submit_result`` before any receipt for it is
        delivered). Failures are results with ``ok=False`` and the vendor's
        code, not exceptions; exceptions mean the message cannot be
        expressed for this provider (bad address) or it is inactive."""
        ...

    async def check_number(self, number: str) -> NumberCheck: ...

    def callback_urls(self) -> CallbackUrls | None: ...

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResponse:
        """Authenticate and route one webhook; answer the provider."""
        ...


class ProviderFactory(Protocol):
    """What an entry point names: a ``ProviderSpec``, or (the short form)
    the adapter class with the spec's fields as class attributes:
    ``provider_name``, ``config_type`` and/or ``decode_config``,
    ``capabilities``, ``credential_fields``, ``advanced_defaults``,
    ``setup``, ``description``."""

    def __call__(
        self,
        config: Any,
        *,
        integration_id: str,
        on_event: Callable[[OperationalEvent], Any] | None = None,
        on_submit_result: Callable[[SubmitResult], Any] | None = None,
        on_receipt: Callable[[DeliveryReceipt], Any] | None = None,
        on_mo: Callable[[InboundMessage], Any] | None = None,
        on_opt_out: Callable[[VendorOptOut], Any] | None = None,
    ) -> Provider: ...


def _secret_fields(config_type: type | None) -> frozenset[str]:
    if config_type is None or not issubclass(config_type, msgspec.Struct):
        return frozenset()
    out = set()
    for f in msgspec.structs.fields(config_type):
        tp = f.type
        if tp is Secret or Secret in getattr(tp, "__args__", ()):
            out.add(f.encode_name)
    return frozenset(out)


@dataclass(frozen=True)
class ProviderSpec:
    """Everything the gateway knows about a provider, from one place.

    ``config_type``: the msgspec Struct of an integration's configuration
    (its ``Secret`` fields are the secrets the store encrypts and the admin
    API masks). ``decode``: raw mapping -> config, raising ``ConfigInvalid``
    (default: ``msgspec.convert`` into ``config_type``). ``factory`` builds
    the adapter; it is given the standard callbacks and, where its
    signature accepts them, ``runtime``, ``on_submit_results`` and
    ``on_receipts``. ``advanced_defaults``: the packaged S7 defaults
    (``byosms/data/*.json``) its ``advanced_config`` field merges over;
    None when the provider has no such field. ``setup``: what to do at the
    provider so it calls the callback URLs (shown at creation, D3).
    ``host_path_fields``: fields naming files on the gateway's host, each
    -> the field that takes the same as content (SMPP: ``ca_file`` ->
    ``ca_pem``). Only the operator's config file may set them; the admin
    API refuses them (a tenant must not read or probe the host's files).
    """

    name: str
    factory: Callable[..., Any]
    config_type: type | None = None
    capabilities: Capabilities = field(default_factory=Capabilities)
    decode: Callable[[Mapping[str, Any]], Any] | None = None
    credential_fields: frozenset[str] = frozenset()
    advanced_defaults: str | None = None
    setup: str = ""
    description: str = ""
    host_path_fields: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def secret_fields(self) -> frozenset[str]:
        return _secret_fields(self.config_type)

    def decode_config(self, raw: Mapping[str, Any]) -> Any:
        """The configuration Struct of ``raw`` (secrets as plain strings or
        ``Secret``s); ``ConfigInvalid`` names the field otherwise."""
        plain = {k: v.reveal() if isinstance(v, Secret) else v for k, v in raw.items()}
        try:
            if self.decode is not None:
                return self.decode(plain)
            if self.config_type is None:
                return dict(plain)
            return msgspec.convert(plain, self.config_type, dec_hook=dec_hook)
        except ConfigInvalid:
            raise
        except (msgspec.ValidationError, ValueError, TypeError) as e:
            raise ConfigInvalid(str(e)) from None

    def config_schema(self) -> dict[str, Any]:
        """JSON Schema of the configuration (the admin API's OpenAPI)."""
        if self.config_type is None:
            return {"type": "object"}
        return msgspec.json.schema(self.config_type, schema_hook=schema_hook)

    def callback_urls(self, integration_id: str, config: Mapping[str, Any]) -> CallbackUrls | None:
        """D3: where the provider must call us, from the integration's
        ``public_base_url``; None for providers without webhooks."""
        caps = self.capabilities
        if not caps.webhooks:
            return None
        base = str(config.get("public_base_url") or "").rstrip("/")
        path = f"{base}/vendors/v1/{quote(self.name, safe='')}/{quote(integration_id, safe='')}/"
        return CallbackUrls(
            inbound=path + caps.inbound_kind if caps.inbound_kind else None,
            status=path + caps.status_kind if caps.status_kind else None,
            setup=self.setup or None,
        )

    def build(self, config: Any, *, integration_id: str, callbacks: Mapping[str, Any],
              runtime: ProviderRuntime | None = None, **options: Any) -> Any:
        """The adapter for one integration. Keyword arguments its factory
        does not take are left out (a plug-in written for fewer callbacks
        keeps working)."""
        kwargs = {"integration_id": integration_id, **callbacks, **options}
        if runtime is not None:
            kwargs["runtime"] = runtime
        accepted = _accepted_kwargs(self.factory)
        if accepted is not None:
            kwargs = {k: v for k, v in kwargs.items() if k in accepted}
        return self.factory(config, **kwargs)

    @classmethod
    def of(cls, name: str, obj: Any) -> ProviderSpec:
        """The spec an entry point names: a ProviderSpec, or an adapter
        class carrying the spec's fields as attributes."""
        if isinstance(obj, ProviderSpec):
            return obj if obj.name == name else _replace_name(obj, name)
        if not callable(obj):
            raise ProviderLoadError(f"provider {name!r} is neither a ProviderSpec nor callable")
        decode = getattr(obj, "decode_config", None)
        return cls(
            name=name,
            factory=obj,
            config_type=getattr(obj, "config_type", None),
            capabilities=getattr(obj, "capabilities", None) or Capabilities(),
            decode=decode if callable(decode) else None,
            credential_fields=frozenset(getattr(obj, "credential_fields", ()) or ()),
            advanced_defaults=getattr(obj, "advanced_defaults", None),
            setup=getattr(obj, "setup", "") or "",
            description=getattr(obj, "description", "") or (inspect.getdoc(obj) or "").split("\n")[0],
        )


def _replace_name(spec: ProviderSpec, name: str) -> ProviderSpec:
    import dataclasses

    return dataclasses.replace(spec, name=name)


def _accepted_kwargs(fn: Callable[..., Any]) -> frozenset[str] | None:
    """Keyword names ``fn`` takes; None when it takes ``**kwargs``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params
                     if p.kind in (inspect.Parameter.KEYWORD_ONLY,
                                   inspect.Parameter.POSITIONAL_OR_KEYWORD))


def callback(fn: Callable[[Any], Any] | None) -> Callable[[Any], Awaitable[Any]] | None:
    """An async callable for a sync or async callback (adapters' helper)."""
    if fn is None or inspect.iscoroutinefunction(fn):
        return fn

    async def call(arg: Any) -> Any:
        result = fn(arg)
        if inspect.isawaitable(result):
            return await result
        return result

    return call


def load_provider(name: str) -> Any:
    """The factory registered under ``name`` (kept for plug-in authors'
    tests; the gateway uses ``registry.spec``)."""
    from byosms.providers import registry

    return registry.spec(name).factory


def provider_factories() -> dict[str, Any]:
    """Every known provider name and the entry point that builds it."""
    from byosms.providers import registry

    return registry.entry_points()
