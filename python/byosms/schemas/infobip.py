"""Configuration of one Infobip integration (PRODUCT.md D1–D3; API facts in
spec/PROVIDERS-HTTP.md, "Infobip").

Infobip's API key authenticates our REST calls (`Authorization: App {key}`)
against the account's own base URL (`https://{xxxxx}.api.infobip.com`).
Per-message delivery-report webhooks carry no signature; what Infobip can
attach (Subscriptions security settings: Basic or HMAC; mutual TLS) is
checked as configured here, and an IP allow-list can narrow who may call.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from byosms.schemas.decode import ConfigError, check_networks, decode_config
from byosms.secret import Secret

__all__ = ["ConfigError", "InfobipIntegrationConfig", "decode_infobip_config"]

Seconds = Annotated[float, msgspec.Meta(gt=0, le=600)]
_HTTP_URL = re.compile(r"^https?://[^/?#\s]+(/[^?#\s]*)?$")


class InfobipIntegrationConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: The account's API base URL, e.g. https://xxxxx.api.infobip.com.
    base_url: str
    api_key: Secret
    #: The gateway as Infobip reaches it (D3): callback URLs are built from it.
    public_base_url: str
    #: How Infobip's webhooks prove they are Infobip's: "none" (per-message
    #: webhooks carry nothing; then set `allowed_ips`), "basic" (the
    #: Subscriptions security setting BASIC), or "hmac" (HMAC-SHA256 of the raw
    #: body in `hmac_header`, hex or base64 — Infobip's HMAC layout is not
    #: published, so this is tolerant and off by default).
    webhook_auth: Literal["none", "basic", "hmac"] = "none"
    webhook_username: str | None = None
    webhook_password: Secret | None = None
    hmac_secret: Secret | None = None
    hmac_header: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "X-Hub-Signature"
    #: Addresses or networks (CIDR) webhooks may come from; empty: any.
    allowed_ips: list[str] = []
    connect_timeout: Seconds = 10.0
    request_timeout: Seconds = 30.0
    #: Attempts for one send when Infobip answers 429 or 5xx.
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    backoff: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0
    max_backoff: Annotated[float, msgspec.Meta(ge=0, le=600)] = 30.0
    max_connections: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    #: Ask Infobip for intermediate delivery reports too (PENDING ones).
    intermediate_reports: bool = True
    #: S7: custom advanced configuration, merged over the Infobip defaults.
    advanced_config: dict[str, Any] | None = None
    #: Segments without a final delivery report after this long are failed
    #: with generic code 9 (unknown) and an event. Default 48 h.
    receipt_timeout: Annotated[float, msgspec.Meta(ge=1, le=30 * 86400)] = 48 * 3600.0

    def __post_init__(self) -> None:
        for name in ("base_url", "public_base_url"):
            value = getattr(self, name)
            if not _HTTP_URL.match(value):
                raise ValueError(
                    f"`{name}` must be an http(s) URL without query or fragment, got {value!r}")
            setattr(self, name, value.rstrip("/"))
        if self.webhook_auth == "basic" and not (self.webhook_username and self.webhook_password):
            raise ValueError("`webhook_username` and `webhook_password` are required with "
                             "webhook_auth \"basic\"")
        if self.webhook_auth == "hmac" and not self.hmac_secret:
            raise ValueError("`hmac_secret` is required with webhook_auth \"hmac\"")
        check_networks("allowed_ips", self.allowed_ips)


def decode_infobip_config(data: dict[str, Any] | bytes | str) -> InfobipIntegrationConfig:
    """Decode and validate; raise ConfigError naming the field on any problem."""
    return decode_config(data, InfobipIntegrationConfig)
