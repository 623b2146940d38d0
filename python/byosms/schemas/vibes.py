"""Configuration of one Vibes Connect integration (issue 16; API facts in
spec/PROVIDERS-HTTP.md, "Vibes Connect (aggregation; XML)").

HTTP Basic (``username``/``password``) authenticates our calls to the XML
aggregation API (US and Canada only). Vibes' callbacks (delivery receipts,
inbound messages) carry no Basic credentials and no signature: Vibes
authenticates them by source address (its published US/EU lists) or a
client certificate terminated in front of the gateway, so ``allowed_ips``
is the check done here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from byosms.schemas.decode import ConfigError, check_networks, decode_config
from byosms.secret import Secret

__all__ = ["ConfigError", "VIBES_CALLBACK_IPS", "VibesIntegrationConfig", "decode_vibes_config"]

Seconds = Annotated[float, msgspec.Meta(gt=0, le=600)]
_HTTP_URL = re.compile(r"^https?://[^/?#\s]+(/[^?#\s]*)?$")

#: The addresses Vibes' callbacks come from (first-party list, US then EU),
#: for operators to copy into ``allowed_ips``.
VIBES_CALLBACK_IPS = (
    "35.155.139.143", "52.32.61.199", "35.161.244.84", "18.205.120.48", "52.22.43.57",
    "18.232.9.131", "54.245.204.57", "54.148.156.236",
    "34.243.232.57", "52.48.241.82", "34.249.188.130", "54.247.36.51", "34.253.250.65",
    "54.217.181.160",
)


class VibesIntegrationConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: HTTP Basic user of the Vibes aggregation (Connect) API.
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    password: Secret
    #: The XML aggregation API (US/Canada SMS).
    api_base: str = "https://messageapi.vibesapps.com"
    #: The gateway as Vibes reaches it (D3): callback URLs are built from it.
    public_base_url: str
    #: Addresses or networks (CIDR) callbacks may come from; empty: any.
    #: Vibes' callbacks carry no credentials: set this to Vibes' published
    #: addresses (``VIBES_CALLBACK_IPS``) or terminate its client
    #: certificate in front of the gateway.
    allowed_ips: list[str] = []
    #: The text of `receiptOption`: which delivery receipts Vibes sends.
    #: The allowed values are UNCONFIRMED (first-party examples use ERROR; a
    #: Vibes-internal client lists NONE|ERROR|ALL|SMSC_ERROR|SMSC_ALL);
    #: ALL is needed to learn of deliveries, not only failures.
    receipt_option: Literal["ALL", "ERROR", "SMSC_ALL", "SMSC_ERROR", "NONE"] = "ALL"
    #: Ask Vibes to split texts over 160 characters (up to 900 where the
    #: carrier concatenates).
    split_long_message: bool = True
    connect_timeout: Seconds = 10.0
    request_timeout: Seconds = 30.0
    #: Attempts for one send when Vibes answers 429 or 5xx (any non-200 is a
    #: "system error" per Vibes).
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    backoff: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0
    max_backoff: Annotated[float, msgspec.Meta(ge=0, le=600)] = 30.0
    max_connections: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    #: S7: custom advanced configuration, merged over the Vibes defaults.
    advanced_config: dict[str, Any] | None = None
    #: Segments without a final delivery receipt after this long are failed
    #: with generic code 9 (unknown) and an event. Default 48 h.
    receipt_timeout: Annotated[float, msgspec.Meta(ge=1, le=30 * 86400)] = 48 * 3600.0

    def __post_init__(self) -> None:
        for name in ("api_base", "public_base_url"):
            value = getattr(self, name)
            if not _HTTP_URL.match(value):
                raise ValueError(
                    f"`{name}` must be an http(s) URL without query or fragment, got {value!r}")
            setattr(self, name, value.rstrip("/"))
        if ":" in self.username:
            raise ValueError("`username` cannot contain ':' (HTTP Basic)")
        check_networks("allowed_ips", self.allowed_ips)


def decode_vibes_config(data: dict[str, Any] | bytes | str) -> VibesIntegrationConfig:
    """Decode and validate; raise ConfigError naming the field on any problem."""
    return decode_config(data, VibesIntegrationConfig)
