"""SMPP 3.4 provider: a sans-I/O ESME session (`session`), binds on trio
(`bind`), and the integration engine (`supervisor.SmppIntegration`) with its
address rules (`messages`), receipt correlation (`correlation`) and inbound
reassembly (`inbound`). Registered like any plug-in: ``SPEC`` below."""

from __future__ import annotations

from typing import Any

from byosms.advanced_config import SMPP_DEFAULTS
from byosms.providers.base import Capabilities, ProviderRuntime, ProviderSpec
from byosms.schemas.smpp import HOST_PATH_FIELDS, SmppIntegrationConfig, decode_smpp_config


def build(config: SmppIntegrationConfig, *, runtime: ProviderRuntime | None = None,
          **kwargs: Any) -> Any:
    """An ``SmppIntegration``; a host the runtime resolves (the built-in
    simulator's "simulator") is replaced by the endpoint it names."""
    from byosms.providers.smpp.supervisor import SmppIntegration

    kwargs.pop("on_opt_out", None)  # SMSCs do not keep opt-outs of their own
    ssl_context = None
    if runtime is not None and runtime.resolve_host is not None:
        endpoint = runtime.resolve_host(config.host)
        if endpoint is not None:
            host, port, ssl_context = endpoint
            import msgspec

            config = msgspec.structs.replace(
                config, host=host, port=port,
                transport="tls" if ssl_context is not None else "tcp")
    return SmppIntegration(config, ssl_context=ssl_context,
                           rate_limit=runtime.rate_limit if runtime is not None else True,
                           **kwargs)


SPEC = ProviderSpec(
    name="smpp",
    factory=build,
    config_type=SmppIntegrationConfig,
    decode=decode_smpp_config,  # its ConfigError names the field
    capabilities=Capabilities(
        segments="gateway",
        batch_submit=True,
        correlates_receipts=True,
        # S11: "Up to 10 SMPP integrations" (per business unit, D4).
        max_per_business_unit=10,
    ),
    credential_fields=frozenset({"system_id", "password", "system_type"}),
    # Certificates as host paths: the operator's config file only.
    host_path_fields=HOST_PATH_FIELDS,
    advanced_defaults=SMPP_DEFAULTS,
    description="SMPP 3.4 to a carrier's SMSC (TLS by default), 1-10 binds",
)
