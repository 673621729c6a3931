"""What a project uses, gathered from the apps that own the counted rows.

The quotas app keeps limits and checks and imports no app above it; the usage it reports
(os-quota-sets detail, /limits) and the floor a new limit may not go below (update without
``force``) are counted here, from the servers app's services. Key pairs are counted per user,
never for a project (Nova reports 0 here), so nothing is asked of the key pairs app.
"""

from apps.quotas import services as quotas
from apps.servers.groups import count_server_groups
from apps.servers.services import count_servers
from apps.volumes.services import count_volume_usage


def project_usage(project_id: str) -> dict[str, int]:
    """What `project_id` uses now, by resource (`quotas.usage`: 0 for what is not counted)."""
    counts = {**count_servers(project_id), "server_groups": count_server_groups(project_id)}
    return quotas.usage(counts)


def volume_usage(project_id: str) -> dict[str, int]:
    """What `project_id` uses of Cinder's resources (the floor of a new volume limit)."""
    return count_volume_usage(project_id)
