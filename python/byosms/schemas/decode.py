"""Decoding a provider configuration: one rule for every provider's Struct —
JSON text or an already decoded mapping in, the Struct out, and any problem
as a `ConfigError` whose message names the field."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from byosms.secret import dec_hook

__all__ = ["ConfigError", "decode_config"]

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
