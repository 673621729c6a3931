"""A deleted project's servers: which rows go with it (apps/identity/project_release.py).

A deleted server's row is history (os-instance-actions, usage, the dashboard's record):
only the project's own members and admins read it, and Nova keeps it until an operator
archives it. When the project itself is deleted those rows go with it, with everything that
hangs off them (actions and events, faults, metadata, tags, migrations). Live servers are
not touched: they keep the project (409).
"""

from apps.identity.models import Project
from apps.servers.models import InstanceActionEvent, Server
from computecloud.messages import to_compute
from computecloud.tasking import enqueue_on_commit

# The conductor's event for a delete its host confirmed (apps/conductor/services.py).
HOST_DELETE_EVENT = "compute_terminate_instance"


def purge_deleted_servers(project: Project) -> None:
    """Delete the rows of the project's deleted servers. A server deleted while its host was
    down may still be on that host, and the host's reports find such a guest through this
    row (conductor.reclaim_deleted); so its host is told to remove it now instead."""
    gone = Server.with_deleted.filter(project=project, deleted=True)
    confirmed = InstanceActionEvent.objects.filter(
        action__server__in=gone, event=HOST_DELETE_EVENT, result="Success"
    ).values("action__server_id")
    for server_uuid, host in gone.exclude(pk__in=confirmed).values_list("uuid", "host"):
        if host:  # never placed: nothing on any host
            to_compute.destroy_orphan(enqueue_on_commit, host, server_uuid=str(server_uuid))
    gone.delete()
