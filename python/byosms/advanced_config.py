"""S7 advanced configuration: vendor error-code mapping and the charset chain.

The schema lives in the msgspec Structs below (field names exactly as in the
seed JSON, camelCase). A custom configuration is validated against them by a
walker driven by ``msgspec.inspect`` so that every error names the exact JSON
path at fault, dictionary keys included (msgspec's own errors print dict keys
as ``[...]``), e.g.::

    $.protocolSpecificCodeMapping["88"].genericErrorCode: expected int in 0..10, got "x"

Merge rules (PRODUCT.md S7: "a custom configuration overrides the defaults for
the keys it names and keeps all other defaults"):

* ``protocolSpecificCodeMapping`` is merged per vendor code. A custom entry
  replaces the default entry for that code as a whole (``description`` is
  not inherited); codes are compared by value, so ``"0x58"`` overrides the
  default ``"88"``. Keys of the merged mapping are canonical decimal strings.
* ``charsets``, when given, replaces the whole list: it is an ordered
  fallback chain (S8), and splicing a partial chain into the default one has
  no obvious meaning (where would the new entries go?). Charset names are
  canonicalised (``"ucs2"`` -> ``"utf-16be"``).
"""

from __future__ import annotations

import enum
import functools
import importlib.resources
import json
from typing import Annotated, Any, NamedTuple

import msgspec

__all__ = [
    "KNOWN_CHARSETS",
    "AdvancedConfig",
    "AdvancedConfigError",
    "CharsetEntry",
    "CodeMapping",
    "ErrorMapper",
    "GenericErrorCode",
    "MappedError",
    "SMPP_DEFAULTS",
    "TWILIO_DEFAULTS",
    "INFOBIP_DEFAULTS",
    "TELESIGN_DEFAULTS",
    "VIBES_DEFAULTS",
    "LINKMOBILITY_DEFAULTS",
    "LINKMOBILITY_COMMON_DEFAULTS",
    "canonical_charset",
    "default_advanced_config",
    "load_advanced_config",
    "parse_vendor_code",
]


class GenericErrorCode(enum.IntEnum):
    """Generic error codes of PRODUCT.md S7."""

    SUCCESS = 0
    UNKNOWN_FAILURE = 1
    RETRYABLE_FAILURE = 2
    PERMANENT_FAILURE = 3
    EXPIRED = 4
    DEFERRED = 5
    EN_ROUTE = 6
    REJECTED = 7
    ACCEPTED = 8
    UNKNOWN = 9
    UNDELIVERABLE = 10


_GENERIC_MAX = int(max(GenericErrorCode))
# data_coding is one octet (SMPP 3.4 section 5.2.19).
_DCS_MAX = 255
# command_status and most DLR error codes are 4-octet integers (SMPP 3.4
# section 3.2); nothing larger can arrive from a vendor.
_VENDOR_CODE_MAX = 0xFFFF_FFFF


class CodeMapping(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """What one vendor code (command_status or DLR err) means generically."""

    genericErrorCode: Annotated[int, msgspec.Meta(ge=0, le=_GENERIC_MAX)]
    genericErrorCause: Annotated[str, msgspec.Meta(min_length=1)]
    description: str | None = None


class CharsetEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One link of the charset fallback chain (S8)."""

    dcs: Annotated[int, msgspec.Meta(ge=0, le=_DCS_MAX)]
    charset: Annotated[str, msgspec.Meta(min_length=1)]


class AdvancedConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole S7 configuration. Treat as immutable: the default instance
    is cached and shared."""

    protocolSpecificCodeMapping: dict[str, CodeMapping]
    charsets: list[CharsetEntry]

    def charset_chain(self) -> list[tuple[int, str]]:
        """The charset chain as ``(dcs, canonical charset name)`` pairs."""
        return [(c.dcs, c.charset) for c in self.charsets]


# Canonical name (as the seed spells it) -> accepted aliases. Matching is
# case-insensitive.
_CHARSET_ALIASES: dict[str, tuple[str, ...]] = {
    "gsm_0338": ("gsm", "gsm7", "gsm0338", "gsm-7", "gsm_7"),
    "ASCII": ("IA5", "us-ascii"),
    "ISO-8859-1": ("latin1", "latin-1", "iso8859-1"),
    "JIS0201": ("jis_x0201", "jis-x0201"),
    "ISO-8859-5": ("iso8859-5",),
    "ISO-8859-8": ("iso8859-8",),
    "utf-16be": ("ucs2", "ucs-2", "utf16be"),
}

KNOWN_CHARSETS: frozenset[str] = frozenset(
    name for canon, aliases in _CHARSET_ALIASES.items() for name in (canon, *aliases)
)

_CHARSET_LOOKUP: dict[str, str] = {
    name.casefold(): canon for canon, aliases in _CHARSET_ALIASES.items() for name in (canon, *aliases)
}


def canonical_charset(name: str) -> str | None:
    """The canonical spelling of a charset name or alias, or None."""
    return _CHARSET_LOOKUP.get(name.strip().casefold())


class AdvancedConfigError(ValueError):
    """An invalid advanced configuration. ``path`` is the JSON path at fault
    (``$`` for the document itself); the message starts with it."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class MappedError(NamedTuple):
    """A vendor code translated to the generic code of S7."""

    generic_code: GenericErrorCode
    cause: str
    description: str | None
    vendor_code: int | None


# --------------------------------------------------------------------------
# Validation


class _Obj(dict):
    """A JSON object that remembers keys it saw more than once (json keeps the
    last value silently; a configuration with a repeated key is ambiguous)."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Obj:
    obj = _Obj()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


def _show(value: Any) -> str:
    """A value as JSON, shortened, for error messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _key_path(path: str, key: str) -> str:
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _expected(t: msgspec.inspect.Type) -> str:
    if isinstance(t, msgspec.inspect.IntType):
        lo = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else None)
        hi = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else None)
        if lo is not None and hi is not None:
            return f"int in {lo}..{hi}"
        return "int"
    if isinstance(t, msgspec.inspect.StrType):
        return "non-empty string" if t.min_length else "string"
    if isinstance(t, msgspec.inspect.NoneType):
        return "null"
    if isinstance(t, msgspec.inspect.UnionType):
        return " or ".join(_expected(x) for x in t.types)
    if isinstance(t, (msgspec.inspect.StructType, msgspec.inspect.DictType)):
        return "object"
    if isinstance(t, msgspec.inspect.ListType):
        return "array"
    return str(t)


def _fits(value: Any, t: msgspec.inspect.Type) -> bool:
    if isinstance(t, msgspec.inspect.IntType):
        if not isinstance(value, int) or isinstance(value, bool):
            return False
        return not (
            (t.ge is not None and value < t.ge)
            or (t.gt is not None and value <= t.gt)
            or (t.le is not None and value > t.le)
            or (t.lt is not None and value >= t.lt)
        )
    if isinstance(t, msgspec.inspect.StrType):
        return isinstance(value, str) and len(value) >= (t.min_length or 0)
    if isinstance(t, msgspec.inspect.NoneType):
        return value is None
    return False


def _walk(value: Any, t: msgspec.inspect.Type, path: str) -> Any:
    """Validate ``value`` against ``t`` and build the typed value."""
    if isinstance(t, msgspec.inspect.StructType):
        if not isinstance(value, dict):
            raise AdvancedConfigError(path, f"expected object, got {_kind(value)}")
        _no_duplicates(value, path)
        known = {f.encode_name: f for f in t.fields}
        for key in value:
            if key not in known:
                allowed = ", ".join(known)
                raise AdvancedConfigError(f"{path}.{key}", f"unknown field (allowed: {allowed})")
        kwargs = {}
        for f in t.fields:
            sub = f"{path}.{f.encode_name}"
            if f.encode_name in value:
                kwargs[f.name] = _walk(value[f.encode_name], f.type, sub)
            elif f.required:
                raise AdvancedConfigError(sub, "required field missing")
        return t.cls(**kwargs)
    if isinstance(t, msgspec.inspect.DictType):
        if not isinstance(value, dict):
            raise AdvancedConfigError(path, f"expected object, got {_kind(value)}")
        _no_duplicates(value, path)
        for k in value:
            if not isinstance(k, str):
                raise AdvancedConfigError(path, f"keys must be strings, got {_show(k)}")
        return {k: _walk(v, t.value_type, _key_path(path, k)) for k, v in value.items()}
    if isinstance(t, msgspec.inspect.ListType):
        if not isinstance(value, list):
            raise AdvancedConfigError(path, f"expected array, got {_kind(value)}")
        return [_walk(v, t.item_type, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(t, msgspec.inspect.UnionType):
        for option in t.types:
            if _fits(value, option):
                return value
        raise AdvancedConfigError(path, f"expected {_expected(t)}, got {_show(value)}")
    if _fits(value, t):
        return value
    raise AdvancedConfigError(path, f"expected {_expected(t)}, got {_show(value)}")


def _no_duplicates(value: dict, path: str) -> None:
    dups = getattr(value, "duplicates", None)
    if dups:
        raise AdvancedConfigError(_key_path(path, dups[0]), "duplicate key")


_SCHEMA = msgspec.inspect.type_info(AdvancedConfig)
_TOP_FIELDS = {f.encode_name: f for f in _SCHEMA.fields}


def parse_vendor_code(code: int | str) -> int | None:
    """A vendor code as an int: ints as is; strings "0x..." as hex, all
    decimal digits as decimal ("058" is 58), other hex digits as hex ("00B"
    is 11, as DLR ``err:`` values are sometimes sent). None when it is not a
    code in 0..0xFFFFFFFF."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code if 0 <= code <= _VENDOR_CODE_MAX else None
    if not isinstance(code, str):
        return None
    s = code.strip()
    try:
        if s[:2] in ("0x", "0X"):
            n = int(s[2:], 16) if s[2:].isascii() and s[2:].isalnum() else None
        elif s.isascii() and s.isdigit():
            n = int(s, 10)
        elif s.isascii() and s.isalnum():
            n = int(s, 16)
        else:
            n = None
    except ValueError:
        return None
    return n if n is not None and 0 <= n <= _VENDOR_CODE_MAX else None


def _vendor_key(key: str, path: str) -> int:
    """Keys of protocolSpecificCodeMapping: decimal or 0x-hex only (a bare
    "1A" in a config file is more likely a typo than hex)."""
    s = key
    if s[:2] in ("0x", "0X") and len(s) > 2 and s[2:].isascii() and all(c in "0123456789abcdefABCDEF" for c in s[2:]):
        n = int(s[2:], 16)
    elif s.isascii() and s.isdigit():
        n = int(s, 10)
    else:
        raise AdvancedConfigError(path, f"vendor code must be a decimal or 0x-hex string, got {_show(key)}")
    if n > _VENDOR_CODE_MAX:
        raise AdvancedConfigError(path, f"vendor code must be at most 0xFFFFFFFF, got {_show(key)}")
    return n


def _check_vendor_keys(raw: Any, path: str) -> None:
    """Vendor code keys are checked before the entries, so that a bad key is
    reported as such and not as a problem inside its entry."""
    if not isinstance(raw, dict):
        return  # _walk reports the type
    _no_duplicates(raw, path)
    first_key: dict[int, str] = {}
    for key in raw:
        if not isinstance(key, str):
            raise AdvancedConfigError(path, f"keys must be strings, got {_show(key)}")
        kpath = _key_path(path, key)
        code = _vendor_key(key, kpath)
        if code in first_key:
            raise AdvancedConfigError(kpath, f"duplicate vendor code {code} (also {_show(first_key[code])})")
        first_key[code] = key


def _normalise_charsets(charsets: list[CharsetEntry], path: str) -> list[CharsetEntry]:
    if not charsets:
        raise AdvancedConfigError(path, "must list at least one charset")
    out = []
    seen: dict[int, int] = {}
    for i, entry in enumerate(charsets):
        canon = canonical_charset(entry.charset)
        if canon is None:
            known = ", ".join(sorted(_CHARSET_ALIASES))
            raise AdvancedConfigError(
                f"{path}[{i}].charset", f"unknown charset {_show(entry.charset)} (known: {known} and aliases)"
            )
        if entry.dcs in seen:
            raise AdvancedConfigError(f"{path}[{i}].dcs", f"duplicate dcs {entry.dcs} (also at {path}[{seen[entry.dcs]}])")
        seen[entry.dcs] = i
        out.append(CharsetEntry(dcs=entry.dcs, charset=canon))
    return out


def _decode(custom: str | bytes | bytearray) -> Any:
    try:
        return json.loads(custom, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as e:
        raise AdvancedConfigError("$", f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise AdvancedConfigError("$", f"invalid JSON: {e}") from None


def _validate(doc: Any) -> tuple[dict[int, CodeMapping] | None, list[CharsetEntry] | None]:
    """Validate a (partial) configuration document; absent parts are None."""
    if not isinstance(doc, dict):
        raise AdvancedConfigError("$", f"expected object, got {_kind(doc)}")
    _no_duplicates(doc, "$")
    for key in doc:
        if key not in _TOP_FIELDS:
            raise AdvancedConfigError(f"$.{key}", f"unknown field (allowed: {', '.join(_TOP_FIELDS)})")
    mapping = charsets = None
    if "protocolSpecificCodeMapping" in doc:
        f = _TOP_FIELDS["protocolSpecificCodeMapping"]
        path = "$.protocolSpecificCodeMapping"
        _check_vendor_keys(doc["protocolSpecificCodeMapping"], path)
        typed = _walk(doc["protocolSpecificCodeMapping"], f.type, path)
        mapping = {_vendor_key(k, path): v for k, v in typed.items()}
    if "charsets" in doc:
        f = _TOP_FIELDS["charsets"]
        typed = _walk(doc["charsets"], f.type, "$.charsets")
        charsets = _normalise_charsets(typed, "$.charsets")
    return mapping, charsets


def _build(mapping: dict[int, CodeMapping], charsets: list[CharsetEntry]) -> AdvancedConfig:
    return AdvancedConfig(
        protocolSpecificCodeMapping={str(code): entry for code, entry in mapping.items()},
        charsets=charsets,
    )


#: Packaged defaults per protocol: vendor code spaces differ (SMPP
#: command_status / DLR err vs. Twilio's 5-digit error codes), so each
#: provider has its own default mapping, overridden the same way (S7).
SMPP_DEFAULTS = "default-advanced-config.json"
TWILIO_DEFAULTS = "twilio-advanced-config.json"
#: Infobip's error ids (the `error.id` of its reports); unlisted ids fall back
#: to the error's group and `permanent` flag (providers/infobip.py).
INFOBIP_DEFAULTS = "infobip-advanced-config.json"
#: TeleSign's delivery status codes and REST error codes.
TELESIGN_DEFAULTS = "telesign-advanced-config.json"
#: Vibes' delivery-receipt error codes (its internal codes 1-20 as far as
#: published); unlisted codes fall back to the receipt's type (providers/vibes.py).
VIBES_DEFAULTS = "vibes-advanced-config.json"
#: LINK Mobility MyLINK delivery status codes (`status.code` of its reports).
LINKMOBILITY_DEFAULTS = "linkmobility-advanced-config.json"
#: LINK Mobility Common platform DLR result codes (`resultCode`; another code space).
LINKMOBILITY_COMMON_DEFAULTS = "linkmobility-common-advanced-config.json"


@functools.cache
def _defaults(resource: str = SMPP_DEFAULTS) -> tuple[dict[int, CodeMapping], list[CharsetEntry]]:
    raw = importlib.resources.files("byosms").joinpath("data", resource).read_bytes()
    mapping, charsets = _validate(_decode(raw))
    if charsets is None and resource != SMPP_DEFAULTS:
        # A provider that encodes text itself (HTTP APIs) ships only a code
        # mapping; the charset chain stays the seed's.
        charsets = _defaults(SMPP_DEFAULTS)[1]
    if mapping is None or charsets is None:
        raise AdvancedConfigError("$", "packaged default configuration is incomplete")
    return mapping, charsets


def default_advanced_config(defaults: str = SMPP_DEFAULTS) -> AdvancedConfig:
    """The packaged default configuration (the seed's, or another packaged
    one such as ``TWILIO_DEFAULTS``), loaded once."""
    return _default_config(defaults)


@functools.cache
def _default_config(defaults: str) -> AdvancedConfig:
    mapping, charsets = _defaults(defaults)
    return _build(mapping, charsets)


def load_advanced_config(
    custom: str | bytes | dict | None = None, *, defaults: str = SMPP_DEFAULTS
) -> AdvancedConfig:
    """The defaults overridden by ``custom`` (JSON text or an already decoded
    object; None or ``{}`` gives the defaults). ``defaults`` names the
    packaged defaults to start from (``SMPP_DEFAULTS`` or
    ``TWILIO_DEFAULTS``). Raises AdvancedConfigError naming the path of the
    first problem found."""
    if custom is None:
        return default_advanced_config(defaults)
    doc = _decode(custom) if isinstance(custom, (str, bytes, bytearray)) else custom
    mapping, charsets = _validate(doc)
    base_mapping, base_charsets = _defaults(defaults)
    merged = dict(base_mapping)
    if mapping:
        merged.update(mapping)
    return _build(merged, charsets if charsets is not None else list(base_charsets))


class ErrorMapper:
    """Vendor code -> generic code (S7). All answers are precomputed, so
    :meth:`map` is one parse and one dict lookup."""

    __slots__ = ("_by_code",)

    def __init__(self, config: AdvancedConfig | None = None) -> None:
        config = config if config is not None else default_advanced_config()
        by_code: dict[int, MappedError] = {}
        for key, m in config.protocolSpecificCodeMapping.items():
            code = parse_vendor_code(key)
            if code is None:
                raise AdvancedConfigError(_key_path("$.protocolSpecificCodeMapping", key), "invalid vendor code")
            by_code[code] = MappedError(GenericErrorCode(m.genericErrorCode), m.genericErrorCause, m.description, code)
        self._by_code = by_code

    def map(self, vendor_code: int | str) -> MappedError:
        """The generic meaning of a vendor code (int, decimal string, "0x"
        hex string, or hex digits as in DLR ``err:``). Unmapped or invalid
        codes give UNKNOWN_FAILURE with cause "UNMAPPED_VENDOR_CODE"."""
        code = vendor_code if type(vendor_code) is int else parse_vendor_code(vendor_code)
        hit = self._by_code.get(code)  # type: ignore[arg-type]
        if hit is not None:
            return hit
        return MappedError(GenericErrorCode.UNKNOWN_FAILURE, "UNMAPPED_VENDOR_CODE", None, parse_vendor_code(vendor_code))

    def known(self, vendor_code: int | str | None) -> MappedError | None:
        """The mapping of a vendor code the configuration names; None for an
        unmapped, invalid or missing code (the caller has its own fallback)."""
        if vendor_code is None:
            return None
        code = vendor_code if type(vendor_code) is int else parse_vendor_code(vendor_code)
        return self._by_code.get(code)  # type: ignore[arg-type]

    def is_retryable(self, vendor_code: int | str) -> bool:
        """Whether a vendor code maps to RETRYABLE_FAILURE or DEFERRED."""
        return self.map(vendor_code).generic_code in (GenericErrorCode.RETRYABLE_FAILURE, GenericErrorCode.DEFERRED)

    def __contains__(self, vendor_code: int | str) -> bool:
        code = vendor_code if type(vendor_code) is int else parse_vendor_code(vendor_code)
        return code in self._by_code

    def __len__(self) -> int:
        return len(self._by_code)
