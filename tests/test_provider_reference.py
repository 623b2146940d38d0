"""docs/provider-config.md is what the registry's config Structs say: every
field of every built-in provider, with its type and default."""

from __future__ import annotations

from pathlib import Path

import msgspec

from byosms.providers import registry
from byosms.providers.reference import fields, markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "provider-config.md"


def test_the_reference_is_current():
    assert DOC.read_text() == markdown(), (
        "docs/provider-config.md is stale: python -m byosms.providers.reference "
        "> docs/provider-config.md")


def test_every_field_is_listed_with_its_default():
    for name in registry.BUILTIN:
        spec = registry.spec(name)
        listed = {n: d for n, _, d in fields(spec)}
        for f in msgspec.structs.fields(spec.config_type):
            assert f.encode_name in listed, (name, f.name)
            if f.required:
                assert listed[f.encode_name] == "required"
            elif f.default is not msgspec.NODEFAULT:
                assert listed[f.encode_name] == "default " + msgspec.json.encode(
                    f.default, enc_hook=str).decode()
