"""The layout is the architecture: layers never import upwards, doors name typed entry points.

Layers, lowest first (the line in README.md and in ``ecointegrity/__init__.py``):
``io`` <- ``config`` <- ``cube`` <- ``mosaics``, ``landcover``, ``acoustics`` <- ``integrity``
<- ``reports`` <- ``web`` <- ``cli``. Parts on one level do not import each other.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import ecointegrity

PACKAGE_DIR = Path(ecointegrity.__file__).parent
LEVEL = {
    "io": 0,
    "config": 1,  # settings name locations: they join paths and URLs as io does
    "cube": 2,
    "mosaics": 3,
    "landcover": 3,
    "acoustics": 3,
    "integrity": 4,
    "reports": 5,
    "web": 6,
    "cli": 7,
    "__main__": 8,
}
DOORS = ["io", "config", "cube", "mosaics", "landcover", "acoustics", "integrity", "reports", "web",
         "cli"]


def _part_of(module_file: Path) -> str:
    return module_file.relative_to(PACKAGE_DIR).parts[0].removesuffix(".py")


def _imported_parts(module_file: Path) -> set[str]:
    """The top-level parts of ecointegrity that a module imports, lazily or not."""
    tree = ast.parse(module_file.read_text(), filename=str(module_file))
    depth_in_package = len(module_file.relative_to(PACKAGE_DIR).parts) - 1
    parts: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names = [node.module or ""]
            elif node.level > depth_in_package:  # relative import that reaches the package root
                target = node.module.split(".")[0] if node.module else None
                if target is not None:
                    parts.add(target)
                else:  # from .. import name: each name is a part (or __version__)
                    parts.update(a.name for a in node.names)
                continue
        for name in names:
            pieces = name.split(".")
            if pieces[0] == "ecointegrity" and len(pieces) > 1:
                parts.add(pieces[1])
    return {p for p in parts if p in LEVEL}


MODULES = sorted(p for p in PACKAGE_DIR.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("module_file", MODULES, ids=lambda p: str(p.relative_to(PACKAGE_DIR)))
def test_no_module_imports_a_layer_above_or_beside_its_own(module_file: Path) -> None:
    own = _part_of(module_file)
    if own not in LEVEL:  # the package's own __init__
        return
    for part in _imported_parts(module_file) - {own}:
        assert LEVEL[part] < LEVEL[own], (
            f"{module_file.relative_to(PACKAGE_DIR)} ({own}, level {LEVEL[own]}) imports "
            f"{part} (level {LEVEL[part]})"
        )


def _public_callables(door: str):
    module = importlib.import_module(f"ecointegrity.{door}")
    assert hasattr(module, "__all__"), f"ecointegrity.{door} names no __all__"
    for name in module.__all__:
        assert not name.startswith("_") or name == "__version__", f"{door}.{name} is internal"
        obj = getattr(module, name)  # AttributeError: the door names what it lacks
        if inspect.isfunction(obj):
            yield f"{door}.{name}", obj
        elif inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if inspect.isfunction(member) and member.__module__.startswith("ecointegrity"):
                    yield f"{door}.{name}.{attr}", member


def _missing_annotations(func) -> list[str]:
    signature = inspect.signature(func)
    missing = [
        p.name
        for p in signature.parameters.values()
        if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty
    ]
    # mypy's convention: __init__ needs no "-> None" once its parameters are typed
    if signature.return_annotation is inspect.Signature.empty and func.__name__ != "__init__":
        missing.append("return")
    return missing


@pytest.mark.parametrize("door", DOORS)
def test_public_api_is_typed(door: str) -> None:
    untyped = {
        qualname: missing
        for qualname, func in _public_callables(door)
        if (missing := _missing_annotations(func))
    }
    assert not untyped, f"public functions without type hints: {untyped}"


def test_package_ships_type_information() -> None:
    assert (PACKAGE_DIR / "py.typed").exists()
