"""Decoding a provider configuration: one rule for every provider's Struct —
JSON text or an already decoded mapping in, the Struct out, and any problem
as a `ConfigError` whose message names the field."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec

from byosms.secret import dec_hook

__all__ = ["ConfigError", "check_networks", "decode_config"]

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the field."""


def decode_config(data: dict[str, Any] | bytes | str, type_: type[T]) -> T:
    """``data`` as a ``type_``; ConfigError naming the field otherwise."""
    try:
        if isinstance(data, (bytes, str)):
            return msgspec.json.decode(data, type=type_, dec_hook=dec_hook)
        return msgspec.convert(data, type_, dec_hook=dec_hook)
    except msgspec.ValidationError as e:
        raise ConfigError(str(e)) from None
    except msgspec.DecodeError as e:
        raise ConfigError(f"not valid JSON: {e}") from None


def check_networks(field: str, values: Iterable[str]) -> None:
    """Each of ``values`` an address or a CIDR network (an IP allow-list);
    ValueError naming ``field`` otherwise."""
    for ip in values:
        try:
            ipaddress.ip_network(ip, strict=False)
        except ValueError:
            raise ValueError(f"`{field}`: {ip!r} is not an address or CIDR network") from None
