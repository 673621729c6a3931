"""Print which apps import which: the app-to-app edges as a list and as a mermaid graph.

Reads the import graph with grimp (as import-linter and tests/test_architecture.py do), so
imports inside functions and under TYPE_CHECKING count. An edge's imports are split into the
importing app's core and its api/ package (the outer ring, which the app order lets call any
app); of the core's, those written indented (inside a function or a TYPE_CHECKING block) are
counted too.

    .venv/bin/python tools/app_graph.py            # this checkout
    .venv/bin/python tools/app_graph.py /tmp/old   # another checkout (a git worktree)

The mermaid graph draws core edges solid and edges only the api/ package makes dotted.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import grimp

PACKAGE = "apps"


@dataclass
class Edge:
    core: int = 0
    api: int = 0
    indented: int = 0


def app_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == PACKAGE else None


def is_api(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 2 and parts[2] == "api"


def source_line(root: Path, module: str, line_number: int) -> str:
    base = root.joinpath(*module.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    lines = path.read_text().splitlines()
    return lines[line_number - 1] if 0 < line_number <= len(lines) else ""


def app_edges(root: Path) -> dict[tuple[str, str], Edge]:
    sys.path.insert(0, str(root))
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    edges: dict[tuple[str, str], Edge] = defaultdict(Edge)
    for importer in sorted(graph.modules):
        source = app_of(importer)
        if source is None:
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            target = app_of(imported)
            if target is None or target == source:
                continue
            details = graph.get_import_details(importer=importer, imported=imported)
            edge = edges[(source, target)]
            for line_number in [d["line_number"] for d in details] or [0]:
                if is_api(importer):
                    edge.api += 1
                    continue
                edge.core += 1
                line = source_line(root, importer, line_number)
                if line[:1].isspace():
                    edge.indented += 1
    return dict(edges)


def as_text(edges: dict[tuple[str, str], Edge]) -> str:
    out = ["importer -> imported: import statements in the importer's core (indented), in api/"]
    for (source, target), edge in sorted(edges.items()):
        out.append(f"{source} -> {target}: core {edge.core} ({edge.indented}), api {edge.api}")
    return "\n".join(out)


def as_mermaid(edges: dict[tuple[str, str], Edge], apps: list[str]) -> str:
    out = ["flowchart TB"]
    linked = {app for edge in edges for app in edge}
    out += [f"  {app}" for app in apps if app not in linked]
    for (source, target), edge in sorted(edges.items()):
        arrow = "-->" if edge.core else "-.->"
        note = f"|{edge.indented} indented|" if edge.core and edge.indented else ""
        out.append(f"  {source} {arrow}{note} {target}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parent.parent))
    root = Path(parser.parse_args().root).resolve()
    edges = app_edges(root)
    print(as_text(edges))
    print()
    print("```mermaid")
    apps = sorted(p.name for p in (root / PACKAGE).iterdir() if (p / "__init__.py").exists())
    print(as_mermaid(edges, apps))
    print("```")


if __name__ == "__main__":
    main()
