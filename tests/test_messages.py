"""The message modules own the bus (computecloud/messages/): checked by reading the code.

- No task name is written outside them: a string literal that is a task name
  (``conductor.x``, ``compute.x``, ``scheduler.x``) anywhere else in the project's code fails.
  Tests are not scanned: a few pin the names on the wire on purpose.
- Only the two publishers call Celery's send_task: `computecloud.tasking` (the control plane,
  on commit; and the one call) and `ComputeManager.publish` (a compute host).
- Every task is defined once, named by a message constant, and takes exactly its message's
  arguments: a parameter without a default is a required key, a key a sender may leave out
  has a default.
"""

import ast
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from computecloud.messages import from_compute, to_compute, to_conductor
from computecloud.queues import BEAT_SCHEDULE

ROOT = Path(__file__).resolve().parent.parent
MESSAGE_MODULES: dict[str, ModuleType] = {
    "to_conductor": to_conductor,
    "to_compute": to_compute,
    "from_compute": from_compute,
}
TASK_NAME = re.compile(r"(conductor|compute|scheduler)\.[a-z_]+")
PUBLISHERS = {Path("computecloud/tasking.py"), Path("workers/compute/manager.py")}


def project_sources() -> Iterator[tuple[Path, ast.Module]]:
    """Every module of the project but the tests, the migrations and the message modules."""
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        top = relative.parts[0]
        if top in {".venv", "tests", "var", "static", "node_modules"} or top.startswith("."):
            continue
        if "migrations" in relative.parts or relative.parts[:2] == ("computecloud", "messages"):
            continue
        yield relative, ast.parse(path.read_text(), filename=str(relative))


def test_the_scan_sees_the_project() -> None:
    scanned = {path for path, _ in project_sources()}
    assert {
        Path("apps/conductor/tasks.py"),
        Path("workers/compute/tasks.py"),
        Path("computecloud/queues.py"),
    } <= scanned


def test_no_task_name_is_written_outside_the_message_modules() -> None:
    # when
    found = [
        f"{path}:{node.lineno}: {node.value!r}"
        for path, tree in project_sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and TASK_NAME.fullmatch(node.value)
    ]

    # then
    assert found == [], "task names belong in computecloud/messages/:\n" + "\n".join(found)


def test_only_the_two_publishers_call_send_task() -> None:
    found = [
        f"{path}:{node.lineno}"
        for path, tree in project_sources()
        if path not in PUBLISHERS
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in {"send_task", "apply_async", "delay"}
    ]
    assert found == [], "messages are sent through computecloud.messages:\n" + "\n".join(found)


def message_arguments(task: str) -> type:
    """The TypedDict of `task`'s keyword arguments, from its module's MESSAGES."""
    owners = [m.MESSAGES[task] for m in MESSAGE_MODULES.values() if task in m.MESSAGES]
    assert len(owners) == 1, f"{task} is owned by {len(owners)} message modules"
    arguments: type = typing.get_origin(owners[0]) or owners[0]  # Carrying[P] → Carrying
    return arguments


def task_definitions() -> Iterator[tuple[str, Path, ast.FunctionDef]]:
    """(task name, file, function) for every function decorated as a Celery task."""
    for path, tree in project_sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if not (
                    isinstance(decorator, ast.Call)
                    and getattr(decorator.func, "id", getattr(decorator.func, "attr", None))
                    in {"shared_task", "task"}
                ):
                    continue
                names = [k.value for k in decorator.keywords if k.arg == "name"]
                assert len(names) == 1, f"{path}:{node.lineno}: a task is named explicitly"
                name = names[0]
                if not (
                    isinstance(name, ast.Attribute)
                    and isinstance(name.value, ast.Name)
                    and name.value.id in MESSAGE_MODULES
                ):
                    raise AssertionError(f"{path}:{node.lineno}: name a task by its message")
                yield getattr(MESSAGE_MODULES[name.value.id], name.attr), path, node


def test_every_message_has_exactly_one_task() -> None:
    defined = [name for name, _, _ in task_definitions()]
    messages = [name for module in MESSAGE_MODULES.values() for name in module.MESSAGES]
    assert sorted(defined) == sorted(messages)


@pytest.mark.parametrize(
    ("name", "path", "function"),
    [pytest.param(*d, id=d[0]) for d in task_definitions()],
)
def test_every_task_takes_exactly_its_messages_arguments(
    name: str, path: Path, function: ast.FunctionDef
) -> None:
    # given
    arguments = message_arguments(name)
    required: frozenset[str] = arguments.__required_keys__  # type: ignore[attr-defined]
    optional: frozenset[str] = arguments.__optional_keys__  # type: ignore[attr-defined]
    spec = function.args

    # when
    assert spec.vararg is None, f"{path}: {name} takes free arguments"
    assert spec.kwarg is None, f"{path}: {name} takes free arguments"
    positional = [a.arg for a in spec.posonlyargs + spec.args]
    defaulted = set(positional[len(positional) - len(spec.defaults) :]) | {
        a.arg for a, d in zip(spec.kwonlyargs, spec.kw_defaults, strict=True) if d is not None
    }
    parameters = set(positional) | {a.arg for a in spec.kwonlyargs}

    # then
    assert parameters == required | optional, f"{path}: {name}"
    assert parameters - defaulted <= required, f"{path}: {name} needs a key senders may omit"
    assert optional <= defaulted, f"{path}: {name} has no default for an optional key"


def test_beat_sends_only_conductor_messages() -> None:
    assert {job["task"] for job in BEAT_SCHEDULE.values()} <= set(to_conductor.MESSAGES)
