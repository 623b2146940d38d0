"""Every provider's configuration fields — name, type, default — read from
the config Structs of the registry: the one source of `byosms integrations
create --help` and of docs/provider-config.md (regenerate with
``python -m byosms.providers.reference > docs/provider-config.md``; a test
fails when the two differ)."""

from __future__ import annotations

from typing import Any

import msgspec

from byosms.providers import registry
from byosms.providers.base import ProviderSpec

__all__ = ["fields", "markdown"]


def fields(spec: ProviderSpec) -> list[tuple[str, str, str]]:
    """(name, type, "required" or "default X") of each config field."""
    schema = spec.config_schema()
    ref = schema.get("$ref", "")
    body: dict[str, Any] = schema.get("$defs", {}).get(ref.rsplit("/", 1)[-1], schema) \
        if ref else schema
    required = set(body.get("required", ()))
    out = []
    for name, prop in body.get("properties", {}).items():
        kind = prop.get("type") or ("/".join(
            str(x.get("type", x.get("$ref", "?"))).rsplit("/", 1)[-1]
            for x in prop.get("anyOf", [])) or "object")
        if "enum" in prop:
            kind = "|".join(map(str, prop["enum"]))
        if prop.get("writeOnly") or any(x.get("writeOnly") for x in prop.get("anyOf", [])):
            kind = "secret" + ("/null" if "null" in kind else "")
        default = "required" if name in required else f"default {_show(prop.get('default'))}"
        out.append((name, kind, default))
    return out


def _show(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _cell(text: str) -> str:
    return text.replace("|", " \\| ")  # a bar would end the table cell


def markdown() -> str:
    lines = ["# Provider configuration reference", "",
             "Generated from each provider's config Struct by "
             "`python -m byosms.providers.reference`: the `config` object of "
             "`POST /admin/v1/integrations`, the `[integrations.config]` table of the config "
             "file. `secret` fields are stored encrypted and answered as `\"********\"`. What "
             "each field does: docs/providers.md, per provider.", ""]
    for spec in (registry.spec(name) for name in registry.BUILTIN):  # plug-ins: their docs
        lines += [f"## `{spec.name}`", "", spec.description, "",
                  "| field | type | default |", "|---|---|---|"]
        lines += [f"| `{n}` | {_cell(k)} | {d} |" for n, k, d in fields(spec)]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
