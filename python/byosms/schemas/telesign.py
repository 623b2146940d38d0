"""Configuration of one TeleSign integration (PRODUCT.md D1–D3; API facts in
spec/PROVIDERS-HTTP.md, "TeleSign").

The customer id and API key sign our REST calls (TSA digest by default, or
HTTP Basic) and verify TeleSign's callbacks (HMAC-SHA256 of the body with
the decoded API key).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, Literal

import msgspec

from byosms.schemas.decode import ConfigError, decode_config
from byosms.secret import Secret

__all__ = ["ConfigError", "TelesignIntegrationConfig", "decode_telesign_config"]

Seconds = Annotated[float, msgspec.Meta(gt=0, le=600)]
_HTTP_URL = re.compile(r"^https?://[^/?#\s]+(/[^?#\s]*)?$")


class TelesignIntegrationConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    customer_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    #: Base64, as TeleSign's portal shows it.
    api_key: Secret
    public_base_url: str
    #: rest-ww (enterprise; the default) or rest-api (self-service) — both
    #: serve the same paths.
    api_base: str = "https://rest-ww.telesign.com"
    #: How our REST calls are signed: "digest" (TSA: HMAC-SHA256 over the
    #: request, with a fresh date and nonce) or "basic".
    auth_method: Literal["digest", "basic"] = "digest"
    #: TeleSign's message_type for every message of this integration.
    message_type: Literal["ARN", "OTP", "MKT"] = "ARN"
    #: Send the number as `sender_id` (where the account may choose it);
    #: false leaves the choice to TeleSign.
    send_sender_id: bool = True
    connect_timeout: Seconds = 10.0
    request_timeout: Seconds = 30.0
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    backoff: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0
    max_backoff: Annotated[float, msgspec.Meta(ge=0, le=600)] = 30.0
    max_connections: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    #: S7: custom advanced configuration, merged over the TeleSign defaults
    #: (keys: TeleSign status codes and error codes).
    advanced_config: dict[str, Any] | None = None
    receipt_timeout: Annotated[float, msgspec.Meta(ge=1, le=30 * 86400)] = 48 * 3600.0

    def __post_init__(self) -> None:
        for name in ("api_base", "public_base_url"):
            value = getattr(self, name)
            if not _HTTP_URL.match(value):
                raise ValueError(
                    f"`{name}` must be an http(s) URL without query or fragment, got {value!r}")
            setattr(self, name, value.rstrip("/"))
        try:
            # Lenient like TeleSign's SDK (b64decode skips foreign characters).
            if not base64.b64decode(self.api_key.reveal()):
                raise ValueError
        except (binascii.Error, ValueError):
            raise ValueError("`api_key` must be TeleSign's base64 API key") from None


def decode_telesign_config(data: dict[str, Any] | bytes | str) -> TelesignIntegrationConfig:
    """Decode and validate; raise ConfigError naming the field on any problem."""
    return decode_config(data, TelesignIntegrationConfig)
