"""The tasks of queue ``compute.<host>``: thin, each hands its payload to the manager.

Arguments are JSON (ids and plain dicts). Names are explicit; `rpcapi.py` is the sender.
"""

from typing import Any

from celery import shared_task

from workers.compute.manager import SIMPLE_OPERATIONS, get_manager


@shared_task(name="compute.build_server")
def build_server(payload: dict[str, Any]) -> None:
    get_manager().build_server(payload)


def _simple(name: str) -> Any:
    @shared_task(name=name)
    def run(payload: dict[str, Any]) -> None:
        get_manager().simple_operation(name, payload)

    run.__name__ = name.split(".", 1)[1]
    return run


for _name in SIMPLE_OPERATIONS:
    globals()[_name.split(".", 1)[1]] = _simple(_name)


@shared_task(name="compute.delete_server")
def delete_server(payload: dict[str, Any]) -> None:
    get_manager().delete_server(payload)


@shared_task(name="compute.destroy_orphan")
def destroy_orphan(server_uuid: str) -> None:
    get_manager().destroy_orphan(server_uuid)


@shared_task(name="compute.get_console_output", ignore_result=False)
def get_console_output(server_uuid: str, length: int | None = None) -> str:
    return get_manager().get_console_output(server_uuid, length)


@shared_task(name="compute.snapshot_server")
def snapshot_server(payload: dict[str, Any]) -> None:
    get_manager().snapshot_server(payload)


@shared_task(name="compute.resize_server")
def resize_server(payload: dict[str, Any]) -> None:
    get_manager().resize_server(payload)


@shared_task(name="compute.finish_resize")
def finish_resize(payload: dict[str, Any]) -> None:
    get_manager().finish_resize(payload)


@shared_task(name="compute.confirm_resize")
def confirm_resize(payload: dict[str, Any]) -> None:
    get_manager().confirm_resize(payload)


@shared_task(name="compute.revert_resize")
def revert_resize(payload: dict[str, Any]) -> None:
    get_manager().revert_resize(payload)


@shared_task(name="compute.finish_revert_resize")
def finish_revert_resize(payload: dict[str, Any]) -> None:
    get_manager().finish_revert_resize(payload)
