"""The shape of the code, checked: only the HTTP edge knows Azure Functions, modules and
functions stay small enough to read, and nothing outside a source's folder names a source."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.sources import SOURCE_NAMES, SOURCES

ROOT = Path(__file__).parents[2]
SHARED = ROOT / "shared"
# About 400 lines a module and 60 a function: what a reader can hold at once.
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def modules(*folders: Path) -> Iterator[Path]:
    for folder in folders:
        yield from sorted(folder.rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_http_edge_imports_azure_functions() -> None:
    importers = {
        path.relative_to(ROOT).as_posix()
        for path in modules(SHARED)
        if any(name.startswith("azure.functions") for name in imported_modules(path))
    }
    assert importers, "the check found no importer at all: is it looking at the right files?"
    assert all(name.startswith("shared/http/") for name in importers), importers


@pytest.mark.parametrize(
    "path", list(modules(SHARED, ROOT / "functions", ROOT / "tools" / "graph_tenant")), ids=str
)
def test_a_module_is_short_enough_to_read(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


def test_functions_are_short_enough_to_read() -> None:
    long = []
    for path in modules(SHARED, ROOT / "functions", ROOT / "tools" / "graph_tenant"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length})")
    assert not long


def test_no_code_outside_a_sources_folder_names_a_source() -> None:
    """The registry is the one list: the engine, the store, the API and the OpenAPI document
    never dispatch on a source's name."""
    folders = {Path(inspect.getfile(type(source))).parent for source in SOURCES}
    named = []
    for path in modules(SHARED):
        if any(folder in path.parents for folder in folders):
            continue
        text = path.read_text(encoding="utf-8")
        named += [f"{path.relative_to(ROOT)}: {name}" for name in SOURCE_NAMES if name in text]
    assert not named
