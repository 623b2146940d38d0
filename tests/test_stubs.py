"""The hand-written stubs are the contract of byosms._core: they must name
exactly what the extension exports, with the right kind (class / function /
constant), so a rename or a name collision between binding modules is caught."""

import ast
import inspect
from pathlib import Path

import byosms
from byosms import _core

STUB = Path(byosms.__file__).with_name("_core.pyi")


def _stub_names() -> dict[str, str]:
    tree = ast.parse(STUB.read_text())
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = "class"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = "function"
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = "constant"
        # Plain assignments in a stub are type aliases (X = Literal[...]), not exports.
    return names


def _kind(obj: object) -> str:
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "constant"


def test_every_stub_name_exists_with_its_kind():
    for name, kind in _stub_names().items():
        if name.startswith("_") and name != "__version__":
            continue  # private type aliases of the stub
        assert hasattr(_core, name), f"{name} is in _core.pyi but not in the extension"
        assert _kind(getattr(_core, name)) == kind, f"{name}: stub says {kind}"


def test_every_export_is_stubbed():
    stub = _stub_names()
    public = [n for n in dir(_core) if not n.startswith("_") or n == "__version__"]
    missing = [n for n in public if n not in stub]
    assert not missing, f"exported but missing from _core.pyi: {missing}"


def test_function_signatures_match_stubs():
    """Where the extension exposes a text signature, the parameter names agree."""
    tree = ast.parse(STUB.read_text())
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        try:
            sig = inspect.signature(getattr(_core, node.name))
        except (TypeError, ValueError):
            continue
        a = node.args
        stub_params = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
        if a.vararg:
            stub_params.append(a.vararg.arg)
        if a.kwarg:
            stub_params.append(a.kwarg.arg)
        assert list(sig.parameters) == stub_params, node.name
