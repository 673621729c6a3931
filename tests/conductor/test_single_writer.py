"""One writer of instance state: only apps/servers/states.py writes a server's vm_state,
task_state or host (its `transition`, a compare-and-set UPDATE), for the API and the conductor
alike. This check reads the project's Python (not the tests, whose set-up rows are not
writers) and fails on any other write of those columns:

- a queryset ``.update(...)`` of Server naming one of them, or passing ``**fields`` (which
  could hold one);
- ``.save(update_fields=[...])`` or ``.bulk_update(objs, [...])`` naming one, a bare
  ``.save()`` of a server, ``update_or_create(defaults={...})`` of Server naming one;
- raw SQL that sets one of them in the servers table.

A receiver is followed back through the function's own assignments to its root name
(``query = Server.objects.filter(...)`` … ``query.update(...)``): a model other than Server
is fine; a root it cannot name (a parameter) counts as Server when it names a state column.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path("apps/servers/states.py")
STATE_COLUMNS = frozenset({"vm_state", "task_state", "host"})
SKIPPED_DIRS = frozenset({"tests", "node_modules", "static", "templates", "var", "docs"})
RAW_UPDATE = re.compile(
    r"\bupdate\s+\"?servers_server\b.*\bset\b.*\b(vm_state|task_state|host)\s*=",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Write:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def project_files() -> list[Path]:
    """The project's own Python files (relative to the repository), tests excluded."""
    files = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        top = relative.parts[0]
        if top.startswith(".") or top in SKIPPED_DIRS:
            continue
        files.append(relative)
    return files


def _strings(node: ast.AST | None) -> set[str]:
    """The string constants of a list, tuple or set literal (nothing for anything else)."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return {
            e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        }
    return set()


def _dict_keys(node: ast.AST | None) -> set[str] | None:
    """The keys of a dict literal, or None when it is not one (unknown keys)."""
    if not isinstance(node, ast.Dict) or None in node.keys:
        return None
    return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


class _Scope(ast.NodeVisitor):
    """Finds state writes in one module, function by function."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.found: list[Write] = []
        self.assigned: list[dict[str, list[ast.AST]]] = [{}]

    # -- scopes: each function has its own assignments
    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.assigned.append(_assignments(node))
        self.generic_visit(node)
        self.assigned.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815

    def visit_Module(self, node: ast.Module) -> None:
        self.assigned = [_assignments(node)]
        self.generic_visit(node)

    def root(self, node: ast.AST, seen: frozenset[str] = frozenset()) -> str | None:
        """The name a receiver chain starts from, through the scope's assignments."""
        while isinstance(node, ast.Call | ast.Attribute | ast.Subscript):
            node = node.func if isinstance(node, ast.Call) else node.value
        if not isinstance(node, ast.Name):
            return None
        for scope in reversed(self.assigned):
            if node.id in scope and node.id not in seen:
                roots = {self.root(value, seen | {node.id}) for value in scope[node.id]}
                if "Server" in roots:
                    return "Server"
                return next(iter(roots)) if len(roots) == 1 else None
        return node.id

    def is_server(self, receiver: ast.AST) -> bool | None:
        """True for Server, False for another model, None when it cannot tell."""
        name = self.root(receiver)
        if name is None or not name[:1].isupper():
            return None
        return name == "Server"

    def report(self, node: ast.AST, what: str) -> None:
        self.found.append(Write(self.path, getattr(node, "lineno", 0), what))

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and RAW_UPDATE.search(node.value):
            self.report(node, "raw SQL setting a server's state")

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        if not isinstance(node.func, ast.Attribute):
            return
        method, receiver = node.func.attr, node.func.value
        keywords = {k.arg: k.value for k in node.keywords}
        if method == "update" and not node.args:
            self._check_update(node, receiver)
        elif method == "save":
            fields = keywords.get("update_fields")
            if fields is None:
                if _is_server_name(receiver) or self.is_server(receiver):
                    self.report(node, "save() of a whole server")
            elif self.is_server(receiver) is not False:
                written = _strings(fields)
                if written & STATE_COLUMNS or not written:
                    self.report(node, f"save(update_fields=...) writing {sorted(written) or '?'}")
        elif method == "bulk_update":
            fields = keywords.get("fields", node.args[1] if len(node.args) > 1 else None)
            written = _strings(fields)
            if self.is_server(receiver) is not False and (written & STATE_COLUMNS or not written):
                self.report(node, f"bulk_update writing {sorted(written) or '?'}")
        elif method == "update_or_create" and self.is_server(receiver):
            keys = _dict_keys(keywords.get("defaults"))
            if keys is None or keys & STATE_COLUMNS:
                self.report(node, "update_or_create of a server's state")

    def _check_update(self, node: ast.Call, receiver: ast.AST) -> None:
        model = self.is_server(receiver)
        if model is False:
            return
        named: set[str] = set()
        unknown = False
        for keyword in node.keywords:
            if keyword.arg is not None:
                named.add(keyword.arg)
                continue
            keys = _dict_keys(keyword.value)
            if keys is None:
                unknown = True
            else:
                named |= keys
        if named & STATE_COLUMNS:
            self.report(node, f"update() writing {sorted(named & STATE_COLUMNS)}")
        elif unknown and model:
            self.report(node, "update(**fields) of a server (could write its state)")


def _assignments(node: ast.AST) -> dict[str, list[ast.AST]]:
    """name → the expressions assigned to it directly in this scope (not nested functions)."""
    found: dict[str, list[ast.AST]] = {}
    for child in _own_nodes(node):
        if isinstance(child, ast.Assign):
            for target in child.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(child.value)
        elif (
            isinstance(child, ast.AnnAssign | ast.NamedExpr)
            and child.value is not None
            and isinstance(child.target, ast.Name)
        ):
            found.setdefault(child.target.id, []).append(child.value)
    return found


def _own_nodes(node: ast.AST) -> list[ast.AST]:
    nodes = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        nodes.append(child)
        nodes.extend(_own_nodes(child))
    return nodes


def _is_server_name(receiver: ast.AST) -> bool:
    return isinstance(receiver, ast.Name) and receiver.id.lower().endswith("server")


def state_writes(source: str, path: str = "<source>") -> list[Write]:
    scope = _Scope(path)
    scope.visit(ast.parse(source, filename=path))
    return scope.found


# --- the check ---------------------------------------------------------------------------------
def test_only_states_transition_writes_vm_state_task_state_and_host() -> None:
    files = project_files()
    assert WRITER in files
    assert Path("apps/conductor/moves.py") in files
    found = [
        write
        for path in files
        if path != WRITER
        for write in state_writes((ROOT / path).read_text(), str(path))
    ]
    assert found == [], "write server state through apps.servers.states.transition:\n" + "\n".join(
        map(str, found)
    )


def test_the_writer_itself_is_seen_by_the_check() -> None:
    """The one allowed UPDATE is found where it lives, so the check is looking."""
    writes = state_writes((ROOT / WRITER).read_text(), str(WRITER))
    assert [w.what for w in writes] == ["update(**fields) of a server (could write its state)"]


# --- the checker on known shapes ---------------------------------------------------------------
@pytest.mark.parametrize(
    "source",
    [
        "Server.objects.filter(pk=1).update(task_state=None)",
        "Server.with_deleted.filter(pk=1).update(vm_state='error', updated_at=now)",
        "def f():\n    q = Server.objects.filter(pk=1)\n    q.update(host='h')",
        "def f(fields):\n    q = Server.objects.filter(pk=1)\n    q = q.exclude(x=1)\n"
        "    q.update(**fields)",
        "def f(q):\n    q.update(task_state=None)",
        "Server.objects.filter(pk=1).update(**{'vm_state': 'active'})",
        "def f(server):\n    server.vm_state = 'error'\n    server.save()",
        "def f(obj):\n    obj.save(update_fields=['task_state', 'updated_at'])",
        "Server.objects.bulk_update(rows, ['host'])",
        "Server.objects.update_or_create(uuid=u, defaults={'vm_state': 'error'})",
        "cursor.execute('UPDATE servers_server SET vm_state = %s WHERE id = %s', args)",
    ],
)
def test_the_check_finds_a_state_write(source: str) -> None:
    assert len(state_writes(source)) == 1, source


@pytest.mark.parametrize(
    "source",
    [
        "InstanceActionEvent.objects.filter(pk=1).update(host='h', result='Success')",
        "cursor.execute('UPDATE servers_server SET created_at = now()')",
        "Server.objects.filter(pk=1).update(locked=True, locked_reason=None)",
        "def f(fields):\n    q = Migration.objects.filter(pk=1)\n    q.update(**fields)",
        "body.update({'host': 'h'})",
        "inventory.save(update_fields=['total', 'updated_at'])",
        "Server.objects.create(name='vm', vm_state='building', host=None)",
        "states.transition(server, action='stop', task_state='powering-off')",
    ],
)
def test_the_check_leaves_other_writes_alone(source: str) -> None:
    assert state_writes(source) == [], source
