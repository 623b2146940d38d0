"""Small readers every HTTP provider needs for the fields of its bodies."""

from __future__ import annotations

from typing import Any

__all__ = ["as_int", "e164"]


def as_int(value: Any, default: int | None = None) -> int | None:
    """An integer field that providers send as a number or a string (and
    sometimes not at all); ``default`` when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def e164(address: str) -> str:
    """A number as providers write it (international digits without '+')
    in the E.164 form the pipeline speaks; short codes and alphanumerics
    (6 characters or fewer, or not digits) unchanged."""
    a = (address or "").strip()
    return "+" + a if a.isdigit() and len(a) > 6 else a
