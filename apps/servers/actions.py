"""The simple server actions as data: what each is allowed from, the task state it sets, the
compute operation that carries it out and the vm_state it ends in.

One table, read by the API service (to start an action) and by the conductor (to finish it),
so that "what does stop do?" has one answer.
"""

from dataclasses import dataclass

from apps.servers import states
from apps.servers.choices import TaskState, VmState
from computecloud.messages import to_compute


@dataclass(frozen=True)
class SimpleAction:
    name: str  # the instance action name users see in os-instance-actions
    allowed: tuple[frozenset[str], frozenset[str | None]]
    task_state: str
    compute_op: str  # one of to_compute.SIMPLE_OPERATIONS
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
            to_compute.REBOOT_SERVER,
            VmState.ACTIVE,
            "os_compute_api:servers:reboot",
            failed_vm_state=VmState.ERROR,
        ),
        SimpleAction(
            "reboot_hard",
            states.ALLOW_HARD_REBOOT,
            TaskState.REBOOTING_HARD,
            to_compute.REBOOT_SERVER,
            VmState.ACTIVE,
            "os_compute_api:servers:reboot",
            failed_vm_state=VmState.ERROR,
        ),
        SimpleAction(
            "stop",
            states.ALLOW_STOP,
            TaskState.POWERING_OFF,
            to_compute.STOP_SERVER,
            VmState.STOPPED,
            "os_compute_api:servers:stop",
        ),
        SimpleAction(
            "start",
            states.ALLOW_START,
            TaskState.POWERING_ON,
            to_compute.START_SERVER,
            VmState.ACTIVE,
            "os_compute_api:servers:start",
        ),
        SimpleAction(
            "pause",
            states.ALLOW_PAUSE,
            TaskState.PAUSING,
            to_compute.PAUSE_SERVER,
            VmState.PAUSED,
            "os_compute_api:os-pause-server:pause",
        ),
        SimpleAction(
            "unpause",
            states.ALLOW_UNPAUSE,
            TaskState.UNPAUSING,
            to_compute.UNPAUSE_SERVER,
            VmState.ACTIVE,
            "os_compute_api:os-pause-server:unpause",
        ),
        SimpleAction(
            "suspend",
            states.ALLOW_SUSPEND,
            TaskState.SUSPENDING,
            to_compute.SUSPEND_SERVER,
            VmState.SUSPENDED,
            "os_compute_api:os-suspend-server:suspend",
        ),
        SimpleAction(
            "resume",
            states.ALLOW_RESUME,
            TaskState.RESUMING,
            to_compute.RESUME_SERVER,
            VmState.ACTIVE,
            "os_compute_api:os-suspend-server:resume",
        ),
    )
}
