"""The simple server actions as data: what each is allowed from, the task state it sets, the
compute operation that carries it out and the vm_state it ends in.

One table, read by the API service (to start an action) and by the conductor (to finish it),
so that "what does stop do?" has one answer.
"""

from dataclasses import dataclass

from apps.servers import states
from apps.servers.states import TaskState, VmState


@dataclass(frozen=True)
class SimpleAction:
    name: str  # the instance action name users see in os-instance-actions
    allowed: tuple[frozenset[str], frozenset[str | None]]
    task_state: str
    compute_op: str  # task name on compute.<host>
    done_vm_state: str
    policy: str
    # vm_state when the host reports failure; None keeps the state it had.
    failed_vm_state: str | None = None


SIMPLE_ACTIONS: dict[str, SimpleAction] = {
    a.name: a
    for a in (
        SimpleAction(
            "reboot",
            states.ALLOW_SOFT_REBOOT,
            TaskState.REBOOTING,
            "compute.reboot_server",
            VmState.ACTIVE,
            "os_compute_api:servers:reboot",
            failed_vm_state=VmState.ERROR,
        ),
        SimpleAction(
            "reboot_hard",
            states.ALLOW_HARD_REBOOT,
            TaskState.REBOOTING_HARD,
            "compute.reboot_server",
            VmState.ACTIVE,
            "os_compute_api:servers:reboot",
            failed_vm_state=VmState.ERROR,
        ),
        SimpleAction(
            "stop",
            states.ALLOW_STOP,
            TaskState.POWERING_OFF,
            "compute.stop_server",
            VmState.STOPPED,
            "os_compute_api:servers:stop",
        ),
        SimpleAction(
            "start",
            states.ALLOW_START,
            TaskState.POWERING_ON,
            "compute.start_server",
            VmState.ACTIVE,
            "os_compute_api:servers:start",
        ),
        SimpleAction(
            "pause",
            states.ALLOW_PAUSE,
            TaskState.PAUSING,
            "compute.pause_server",
            VmState.PAUSED,
            "os_compute_api:os-pause-server:pause",
        ),
        SimpleAction(
            "unpause",
            states.ALLOW_UNPAUSE,
            TaskState.UNPAUSING,
            "compute.unpause_server",
            VmState.ACTIVE,
            "os_compute_api:os-pause-server:unpause",
        ),
        SimpleAction(
            "suspend",
            states.ALLOW_SUSPEND,
            TaskState.SUSPENDING,
            "compute.suspend_server",
            VmState.SUSPENDED,
            "os_compute_api:os-suspend-server:suspend",
        ),
        SimpleAction(
            "resume",
            states.ALLOW_RESUME,
            TaskState.RESUMING,
            "compute.resume_server",
            VmState.ACTIVE,
            "os_compute_api:os-suspend-server:resume",
        ),
    )
}
