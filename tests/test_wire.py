"""The wire format stays plain: the virt layer imports it (pyproject's contracts allow exactly
this one module of computecloud), so it may import nothing but the standard library."""

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

from computecloud import wire


def imported_packages(tree: ast.AST) -> Iterator[str]:
    """The top-level package of every import in `tree` ("." for a relative one)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield (node.module or ".").split(".")[0] if not node.level else "."


def test_the_wire_format_imports_the_standard_library_only() -> None:
    # given
    tree = ast.parse(Path(wire.__file__).read_text())

    # when
    imported = set(imported_packages(tree))

    # then
    assert imported, "the scan found no imports at all"
    assert imported <= sys.stdlib_module_names, imported - sys.stdlib_module_names
