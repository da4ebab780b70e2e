"""The house rules of the package, checked on its source (issue 13).

- No function over 60 lines (argument-parser builders excepted), no module over 500 lines.
- Only `_keras_tuner.py` imports `keras_tuner.src` (Keras Tuner's internals).
- No module reads another object's private attribute (`other._name`): observers read public
  snapshots. `self._name`, `cls._name` and `super()._name` are the object's own.
"""

from __future__ import annotations

import ast
import os

import pytest

PACKAGE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "keras_tuner_evolution"
)
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500
KERAS_TUNER_ADAPTER = "_keras_tuner.py"


def _modules() -> list[str]:
    found = []
    for folder, _, files in os.walk(PACKAGE):
        found += [os.path.join(folder, name) for name in files if name.endswith(".py")]
    return sorted(found)


def _relative(path: str) -> str:
    return os.path.relpath(path, PACKAGE)


def _tree(path: str) -> ast.Module:
    with open(path, encoding="utf-8") as handle:
        return ast.parse(handle.read(), path)


MODULES = _modules()


def _builds_a_parser(name: str) -> bool:
    """Argument-parser builders (`*_parser`, `add_*`) are long lists of options: exempt."""
    return name.endswith("_parser") or name.lstrip("_").startswith("add_")


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_module_is_short(path):
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().count("\n")
    assert lines <= MAX_MODULE_LINES, f"{_relative(path)} has {lines} lines"


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_functions_are_short(path):
    long = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not _builds_a_parser(node.name):
                long.append(f"{node.name} ({length} lines)")
    assert not long, f"{_relative(path)}: {', '.join(long)}"


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_only_the_adapter_imports_keras_tuner_internals(path):
    if os.path.basename(path) == KERAS_TUNER_ADAPTER:
        return
    found = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras_tuner.src"):
            found.append(node.module)
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("keras_tuner.src")]
    assert not found, f"{_relative(path)} imports {found}"


def _owner_is_self(node: ast.Attribute) -> bool:
    value = node.value
    if isinstance(value, ast.Name):
        return value.id in ("self", "cls")
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        return value.func.id == "super"
    return False


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_no_private_attribute_of_another_object_is_read(path):
    if os.path.basename(path) == KERAS_TUNER_ADAPTER:
        return
    found = []
    for node in ast.walk(_tree(path)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not _owner_is_self(node)
        ):
            found.append(f"line {node.lineno}: .{node.attr}")
    for node in ast.walk(_tree(path)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and str(node.args[1].value).startswith("_")
            and not str(node.args[1].value).startswith("__")
            and not (isinstance(node.args[0], ast.Name) and node.args[0].id in ("self", "cls"))
        ):
            found.append(f"line {node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    assert not found, f"{_relative(path)}: {', '.join(found)}"
