"""The tasks of queue ``compute.<host>``: thin, each hands its payload to the manager.

Names and arguments are the messages of `computecloud.messages.to_compute` (the conductor's
send functions there are the senders); arguments are JSON.
"""

from celery import shared_task

from computecloud.messages import to_compute
from computecloud.wire import BuildPayload, HostNetworksPayload, VolumeCreatePayload
from workers.compute.runtime import get_manager


@shared_task(name=to_compute.BUILD_SERVER)
def build_server(payload: BuildPayload) -> None:
    get_manager().build_server(payload)


@shared_task(name=to_compute.REBOOT_SERVER)
def reboot_server(payload: to_compute.ServerActionPayload) -> None:
    get_manager().simple_operation(to_compute.REBOOT_SERVER, payload)


@shared_task(name=to_compute.STOP_SERVER)
def stop_server(payload: to_compute.ServerActionPayload) -> None:
    get_manager().simple_operation(to_compute.STOP_SERVER, payload)


@shared_task(name=to_compute.START_SERVER)
def start_server(payload: to_compute.ServerActionPayload) -> None:
    get_manager().simple_operation(to_compute.START_SERVER, payload)


@shared_task(name=to_compute.PAUSE_SERVER)
def pause_server(payload: to_compute.ServerActionPayload) -> None:
    get_manager().simple_operation(to_compute.PAUSE_SERVER, payload)


@shared_task(name=to_compute.UNPAUSE_SERVER)
def unpause_server(payload: to_compute.ServerActionPayload) -> None:
    get_manager().simple_operation(to_compute.UNPAUSE_SERVER, payload)


@shared_task(name=to_compute.SUSPEND_SERVER)
def suspend_server(payload: to_compute.ServerActionPayload) -> None:
    get_manager().simple_operation(to_compute.SUSPEND_SERVER, payload)


@shared_task(name=to_compute.RESUME_SERVER)
def resume_server(payload: to_compute.ServerActionPayload) -> None:
    get_manager().simple_operation(to_compute.RESUME_SERVER, payload)


@shared_task(name=to_compute.DELETE_SERVER)
def delete_server(payload: to_compute.DeletePayload) -> None:
    get_manager().delete_server(payload)


@shared_task(name=to_compute.DESTROY_ORPHAN)
def destroy_orphan(server_uuid: str) -> None:
    get_manager().destroy_orphan(server_uuid)


@shared_task(name=to_compute.GET_CONSOLE_OUTPUT, ignore_result=False)
def get_console_output(server_uuid: str, length: int | None = None) -> str:
    return get_manager().get_console_output(server_uuid, length)


@shared_task(name=to_compute.SNAPSHOT_SERVER)
def snapshot_server(payload: to_compute.SnapshotPayload) -> None:
    get_manager().snapshot_server(payload)


@shared_task(name=to_compute.RESIZE_SERVER)
def resize_server(payload: to_compute.ResizePayload) -> None:
    get_manager().resize_server(payload)


@shared_task(name=to_compute.FINISH_RESIZE)
def finish_resize(payload: to_compute.FinishResizePayload) -> None:
    get_manager().finish_resize(payload)


@shared_task(name=to_compute.CONFIRM_RESIZE)
def confirm_resize(payload: to_compute.AnswerResizePayload) -> None:
    get_manager().confirm_resize(payload)


@shared_task(name=to_compute.REVERT_RESIZE)
def revert_resize(payload: to_compute.AnswerResizePayload) -> None:
    get_manager().revert_resize(payload)


@shared_task(name=to_compute.FINISH_REVERT_RESIZE)
def finish_revert_resize(payload: to_compute.FinishRevertPayload) -> None:
    get_manager().finish_revert_resize(payload)


@shared_task(name=to_compute.REBUILD_SERVER)
def rebuild_server(payload: to_compute.RebuildPayload) -> None:
    get_manager().rebuild_server(payload)


@shared_task(name=to_compute.SYNC_NETWORKS)
def sync_networks(payload: HostNetworksPayload) -> None:
    get_manager().sync_networks(payload)


@shared_task(name=to_compute.ATTACH_INTERFACE)
def attach_interface(payload: to_compute.AttachInterfacePayload) -> None:
    get_manager().attach_interface(payload)


@shared_task(name=to_compute.DETACH_INTERFACE)
def detach_interface(payload: to_compute.DetachInterfacePayload) -> None:
    get_manager().detach_interface(payload)


@shared_task(name=to_compute.CREATE_VOLUME)
def create_volume(payload: VolumeCreatePayload) -> None:
    get_manager().create_volume(payload)


@shared_task(name=to_compute.DELETE_VOLUME)
def delete_volume(payload: to_compute.VolumeDeletePayload) -> None:
    get_manager().delete_volume(payload)


@shared_task(name=to_compute.EXTEND_VOLUME)
def extend_volume(payload: to_compute.VolumeExtendPayload) -> None:
    get_manager().extend_volume(payload)


@shared_task(name=to_compute.CREATE_VOLUME_SNAPSHOT)
def create_volume_snapshot(payload: to_compute.VolumeSnapshotPayload) -> None:
    get_manager().create_volume_snapshot(payload)


@shared_task(name=to_compute.DELETE_VOLUME_SNAPSHOT)
def delete_volume_snapshot(payload: to_compute.VolumeSnapshotPayload) -> None:
    get_manager().delete_volume_snapshot(payload)


@shared_task(name=to_compute.ATTACH_VOLUME)
def attach_volume(payload: to_compute.AttachVolumePayload) -> None:
    get_manager().attach_volume(payload)


@shared_task(name=to_compute.DETACH_VOLUME)
def detach_volume(payload: to_compute.DetachVolumePayload) -> None:
    get_manager().detach_volume(payload)
