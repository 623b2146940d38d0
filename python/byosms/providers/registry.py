"""The provider registry: every provider by name, as a ``ProviderSpec``.

Built-in providers register exactly as plug-ins do, through an entry point
value ("module:attribute"); plug-ins come from the ``byosms.providers``
entry-point group of the installed distributions. A built-in name cannot be
taken over by a plug-in (an installation's "twilio" integrations stay
Twilio's). Specs load lazily (each provider pulls in its own dependencies)
and are cached; a plug-in that fails to load gives ``ProviderLoadError``
naming it and leaves every other provider usable.
"""

from __future__ import annotations

import importlib.metadata
import threading

from byosms.providers.base import ENTRY_POINT_GROUP, ProviderLoadError, ProviderSpec

__all__ = ["BUILTIN", "entry_points", "names", "spec", "specs"]

#: Built-in providers, as entry-point values.
BUILTIN: dict[str, str] = {
    "smpp": "byosms.providers.smpp:SPEC",
    "twilio": "byosms.providers.twilio:SPEC",
    "infobip": "byosms.providers.infobip:SPEC",
    "telesign": "byosms.providers.telesign:SPEC",
    "linkmobility": "byosms.providers.linkmobility:SPEC",
    "vibes": "byosms.providers.vibes:SPEC",
}

#: Loaded specs by (name, entry-point value).
_cache: dict[tuple[str, str], ProviderSpec] = {}
_lock = threading.Lock()


def entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """Every known provider name and the entry point that builds it."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    for name, value in BUILTIN.items():
        found[name] = importlib.metadata.EntryPoint(name=name, value=value,
                                                    group=ENTRY_POINT_GROUP)
    return found


def names() -> list[str]:
    """Every provider name, built-in first, then plug-ins alphabetically."""
    plugins = sorted(n for n in entry_points() if n not in BUILTIN)
    return [*BUILTIN, *plugins]


def spec(name: str) -> ProviderSpec:
    """The spec registered under ``name``; ProviderLoadError otherwise."""
    ep = entry_points().get(name)
    if ep is None:
        raise ProviderLoadError(f"no provider named {name!r} (known: {', '.join(names())})")
    key = (name, ep.value)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    try:
        obj = ep.load()
    except Exception as e:  # a broken plug-in must not take the gateway down
        raise ProviderLoadError(f"provider {name!r} ({ep.value}) failed to load: {e!r}") from e
    if not callable(obj) and not isinstance(obj, ProviderSpec):
        raise ProviderLoadError(f"provider {name!r} ({ep.value}) is not callable")
    loaded = ProviderSpec.of(name, obj)
    with _lock:
        return _cache.setdefault(key, loaded)


def specs() -> list[ProviderSpec]:
    """The specs of every provider that loads (broken plug-ins left out)."""
    out = []
    for name in names():
        try:
            out.append(spec(name))
        except ProviderLoadError:
            continue
    return out
