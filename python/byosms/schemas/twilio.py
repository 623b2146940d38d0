"""Configuration of one Twilio integration (PRODUCT.md T1–T5, D3).

T1: only the primary Auth Token is kept; it both authenticates our REST calls
(HTTP Basic ``AccountSid:AuthToken``) and validates X-Twilio-Signature on
webhooks. The seed recommends one subaccount per integration, so the
``account_sid`` here is usually a subaccount's.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from byosms.schemas.decode import ConfigError, decode_config
from byosms.secret import Secret

__all__ = ["ConfigError", "TwilioIntegrationConfig", "decode_twilio_config"]

#: Twilio SIDs are two letters and 32 hex digits (AC… accounts, MG…
#: messaging services).
_ACCOUNT_SID = r"^AC[0-9a-fA-F]{32}$"
_SERVICE_SID = r"^MG[0-9a-fA-F]{32}$"
Seconds = Annotated[float, msgspec.Meta(gt=0, le=600)]
_HTTP_URL = re.compile(r"^https?://[^/?#\s]+(/[^?#\s]*)?$")


class TwilioIntegrationConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    account_sid: Annotated[str, msgspec.Meta(pattern=_ACCOUNT_SID)]
    auth_token: Secret
    #: Send through a Messaging Service instead of ``From`` (its numbers must
    #: use "defer to sender's webhook", T2).
    messaging_service_sid: Annotated[str, msgspec.Meta(pattern=_SERVICE_SID)] | None = None
    #: Tests point this at byosms.testing.TwilioFake.
    api_base: str = "https://api.twilio.com"
    #: The gateway as Twilio reaches it (scheme, host, port, path prefix if
    #: behind a proxy). Callback URLs are built from it (D3) and webhook
    #: signatures are checked against it, never against the Host header.
    public_base_url: str
    connect_timeout: Seconds = 10.0
    #: Whole-request limit for the REST API.
    request_timeout: Seconds = 30.0
    #: Attempts for one message when Twilio answers 429 / 20429 or 5xx.
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    #: Back-off before the 2nd attempt when no Retry-After is given; doubled
    #: per attempt up to ``max_backoff``.
    backoff: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0
    max_backoff: Annotated[float, msgspec.Meta(ge=0, le=600)] = 30.0
    #: Simultaneous REST requests (connection pool size).
    max_connections: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    #: S7: custom advanced configuration, merged over the Twilio defaults.
    advanced_config: dict[str, Any] | None = None
    #: Who answers HELP / STOP / START: "provider" (Twilio's Advanced
    #: Opt-Out, on by default at Twilio; byosms records the opt-out and
    #: sends no second reply, which Twilio would refuse) or "gateway" (the
    #: number's byosms keywords reply; switch Twilio's opt-out handling off).
    keyword_replies: Literal["provider", "gateway"] = "provider"
    #: Segments without a final status callback after this long are failed
    #: with generic code 9 (unknown) and an event. Default 48 h.
    receipt_timeout: Annotated[float, msgspec.Meta(ge=1, le=30 * 86400)] = 48 * 3600.0

    def __post_init__(self) -> None:
        for name in ("api_base", "public_base_url"):
            value = getattr(self, name)
            if not _HTTP_URL.match(value):
                raise ValueError(
                    f"`{name}` must be an http(s) URL without query or fragment, got {value!r}"
                )
            setattr(self, name, value.rstrip("/"))


def decode_twilio_config(data: dict[str, Any] | bytes | str) -> TwilioIntegrationConfig:
    """Decode and validate; raise ConfigError naming the field on any problem."""
    return decode_config(data, TwilioIntegrationConfig)
