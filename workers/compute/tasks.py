"""The tasks of queue ``compute.<host>``: thin, each hands its payload to the manager.

Arguments are JSON (ids and plain dicts). Names are explicit; `rpcapi.py` is the sender.
"""

from typing import Any

from celery import shared_task

from workers.compute.runtime import get_manager


@shared_task(name="compute.build_server")
def build_server(payload: dict[str, Any]) -> None:
    get_manager().build_server(payload)


@shared_task(name="compute.reboot_server")
def reboot_server(payload: dict[str, Any]) -> None:
    get_manager().simple_operation("compute.reboot_server", payload)


@shared_task(name="compute.stop_server")
def stop_server(payload: dict[str, Any]) -> None:
    get_manager().simple_operation("compute.stop_server", payload)


@shared_task(name="compute.start_server")
def start_server(payload: dict[str, Any]) -> None:
    get_manager().simple_operation("compute.start_server", payload)


@shared_task(name="compute.pause_server")
def pause_server(payload: dict[str, Any]) -> None:
    get_manager().simple_operation("compute.pause_server", payload)


@shared_task(name="compute.unpause_server")
def unpause_server(payload: dict[str, Any]) -> None:
    get_manager().simple_operation("compute.unpause_server", payload)


@shared_task(name="compute.suspend_server")
def suspend_server(payload: dict[str, Any]) -> None:
    get_manager().simple_operation("compute.suspend_server", payload)


@shared_task(name="compute.resume_server")
def resume_server(payload: dict[str, Any]) -> None:
    get_manager().simple_operation("compute.resume_server", payload)


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


@shared_task(name="compute.rebuild_server")
def rebuild_server(payload: dict[str, Any]) -> None:
    get_manager().rebuild_server(payload)
