"""Configuration of one LINK Mobility integration on the MyLINK SMS API
(PRODUCT.md D1–D3; API facts in spec/PROVIDERS-HTTP.md, "LINK Mobility", A).

Our REST calls carry an OAuth2 bearer token obtained with the client
credentials created in the MyLINK Portal (client id and secret) from LINK's
SSO (Keycloak) token URL. LINK's callbacks carry no signature: the MyLINK
Portal's "Callback Management" lets the customer add custom headers to them,
so a static header (name and secret value, set identically there and here)
is checked with a constant-time compare, and an IP allow-list can narrow who
may call.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from byosms.schemas.decode import ConfigError, check_networks, decode_config
from byosms.secret import Secret

__all__ = ["ConfigError", "DEFAULT_API_BASE", "DEFAULT_TOKEN_URL", "LinkMobilityIntegrationConfig",
           "decode_linkmobility_config"]

DEFAULT_TOKEN_URL = "https://sso.linkmobility.com/auth/realms/CPaaS/protocol/openid-connect/token"
DEFAULT_API_BASE = "https://api.linkmobility.com"

Seconds = Annotated[float, msgspec.Meta(gt=0, le=600)]
_HTTP_URL = re.compile(r"^https?://[^/?#\s]+(/[^?#\s]*)?$")
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")


class LinkMobilityIntegrationConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: "mylink": the MyLINK SMS API (OAuth2; the default). "common": the
    #: legacy Common platform SMS REST API (Basic auth, per-account host in
    #: `api_base`, e.g. https://n-eu.linkmobility.io/sms).
    platform: Literal["mylink", "common"] = "mylink"
    #: MyLINK: OAuth2 client credentials from the MyLINK Portal (API credentials).
    client_id: str | None = None
    client_secret: Secret | None = None
    #: LINK's SSO token endpoint (client-credentials grant).
    token_url: str = DEFAULT_TOKEN_URL
    #: The MyLINK SMS API; messages go to {api_base}/sms/v1/messages.
    api_base: str = DEFAULT_API_BASE
    #: The gateway as LINK reaches it (D3): callback URLs are built from it.
    public_base_url: str
    #: Common: the Basic credentials and ids LINK Support issues.
    username: str | None = None
    password: Secret | None = None
    platform_id: str | None = None
    platform_partner_id: str | None = None
    #: Common: the DLR gate ids to report to (set up by LINK Support to
    #: post to the status URL); empty: no delivery reports are asked for.
    delivery_report_gates: list[str] = []
    #: The custom header set on the callbacks in the MyLINK Portal
    #: (Callback Management, "headers"): its name and secret value. No value:
    #: callbacks are not checked by header (then set `allowed_ips`).
    webhook_header: str = "X-Webhook-Token"
    webhook_header_value: Secret | None = None
    #: Addresses or networks (CIDR) callbacks may come from; empty: any.
    #: LINK publishes its source addresses (spec: "Receive Messages").
    allowed_ips: list[str] = []
    #: "URL": every message names our status URL as its callback;
    #: "Profile": the callback set up in the MyLINK Portal is used.
    callback_mode: Literal["URL", "Profile"] = "URL"
    #: `sms.encoding` of every message (LINK picks GSM or UCS-2 with AutoDetect).
    encoding: Literal["AutoDetect", "GSM", "UCS2"] = "AutoDetect"
    #: A token is renewed this long before its `expires_in` runs out.
    token_refresh_margin: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 60.0
    connect_timeout: Seconds = 10.0
    request_timeout: Seconds = 30.0
    #: Attempts for one request when LINK answers 429 or 5xx.
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    backoff: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0
    max_backoff: Annotated[float, msgspec.Meta(ge=0, le=600)] = 30.0
    max_connections: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    #: S7: custom advanced configuration, merged over the LINK defaults.
    advanced_config: dict[str, Any] | None = None
    #: Segments without a final delivery report after this long are failed
    #: with generic code 9 (unknown) and an event. Default 48 h (LINK's
    #: default message expiration).
    receipt_timeout: Annotated[float, msgspec.Meta(ge=1, le=30 * 86400)] = 48 * 3600.0

    def __post_init__(self) -> None:
        if self.platform == "mylink":
            if not self.client_id or self.client_secret is None:
                raise ValueError("`client_id` and `client_secret` are required with platform "
                                 "\"mylink\"")
        else:
            missing = [n for n in ("username", "password", "platform_id", "platform_partner_id")
                       if not getattr(self, n)]
            if missing:
                raise ValueError(f"`{missing[0]}` is required with platform \"common\"")
            if self.api_base == DEFAULT_API_BASE:
                raise ValueError("`api_base` must be the account's Common host with platform "
                                 "\"common\" (e.g. https://n-eu.linkmobility.io/sms)")
        for name in ("token_url", "api_base", "public_base_url"):
            value = getattr(self, name)
            if not _HTTP_URL.match(value):
                raise ValueError(
                    f"`{name}` must be an http(s) URL without query or fragment, got {value!r}")
            if name != "token_url":
                setattr(self, name, value.rstrip("/"))
        if not _HEADER.match(self.webhook_header):
            raise ValueError(f"`webhook_header` must be an HTTP header name, got "
                             f"{self.webhook_header!r}")
        check_networks("allowed_ips", self.allowed_ips)


def decode_linkmobility_config(data: dict[str, Any] | bytes | str) -> LinkMobilityIntegrationConfig:
    """Decode and validate; raise ConfigError naming the field on any problem."""
    return decode_config(data, LinkMobilityIntegrationConfig)
