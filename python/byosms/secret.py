"""A string that never shows itself.

Passwords and provider tokens travel through config and the store as
`Secret`: its repr and str are masked, so a stray log line, traceback or
event can't leak it. Code that really needs the value calls `.reveal()`.
"""

from __future__ import annotations

from typing import Any


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret value must be a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:  # pragma: no cover - pickling is a leak path; refuse it
        raise TypeError("Secret values are not picklable")


def dec_hook(type_: type, obj: Any) -> Any:
    """msgspec decode hook: build `Secret` from a plain string."""
    if type_ is Secret:
        if not isinstance(obj, str):
            raise ValueError("expected a string")
        return Secret(obj)
    raise NotImplementedError(f"no decoder for {type_!r}")


def enc_hook(obj: Any) -> Any:
    """msgspec encode hook: secrets are written masked unless revealed on purpose."""
    if isinstance(obj, Secret):
        return "********"
    raise NotImplementedError(f"no encoder for {type(obj)!r}")


def schema_hook(type_: type) -> dict[str, Any]:
    """msgspec JSON Schema hook: a `Secret` is a write-only string.
    NotImplementedError is msgspec's signal for "not a type I know"."""
    if type_ is Secret:
        return {"type": "string", "writeOnly": True,
                "description": "secret: stored encrypted, answered as \"********\""}
    raise NotImplementedError(f"no schema for {type_!r}")
