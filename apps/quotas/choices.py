"""The quota resources, by Nova's names."""

from django.db import models


class QuotaResource(models.TextChoices):
    INSTANCES = "instances"
    CORES = "cores"
    RAM = "ram"
    KEY_PAIRS = "key_pairs"
    SERVER_GROUPS = "server_groups"
    SERVER_GROUP_MEMBERS = "server_group_members"
    METADATA_ITEMS = "metadata_items"
    INJECTED_FILES = "injected_files"
    INJECTED_FILE_CONTENT_BYTES = "injected_file_content_bytes"
    INJECTED_FILE_PATH_BYTES = "injected_file_path_bytes"
    # nova-network's, kept by Nova (always -1, never enforced) so that responses before 2.36
    # keep their keys.
    FIXED_IPS = "fixed_ips"
    FLOATING_IPS = "floating_ips"
    SECURITY_GROUPS = "security_groups"
    SECURITY_GROUP_RULES = "security_group_rules"


class NetworkQuotaResource(models.TextChoices):
    """The network service's quotas, by Neutron's names (``/network/v2.0/quotas``), apart
    from Nova's: os-quota-sets and /limits never show them. ``rbac_policy`` and ``subnetpool``
    are kept and shown (clients read them) but count nothing: there are no such objects."""

    NETWORK = "network"
    SUBNET = "subnet"
    PORT = "port"
    ROUTER = "router"
    FLOATINGIP = "floatingip"
    SECURITY_GROUP = "security_group"
    SECURITY_GROUP_RULE = "security_group_rule"
    RBAC_POLICY = "rbac_policy"
    SUBNETPOOL = "subnetpool"


# Removed from os-quota-sets and limits responses from microversion 2.36 ...
NETWORK_RESOURCES = (
    QuotaResource.FIXED_IPS,
    QuotaResource.FLOATING_IPS,
    QuotaResource.SECURITY_GROUPS,
    QuotaResource.SECURITY_GROUP_RULES,
)
# ... and these too from 2.57 (personality files went away).
INJECTED_FILE_RESOURCES = (
    QuotaResource.INJECTED_FILES,
    QuotaResource.INJECTED_FILE_CONTENT_BYTES,
    QuotaResource.INJECTED_FILE_PATH_BYTES,
)


class VolumeQuotaResource(models.TextChoices):
    """The block-storage service's quotas, by Cinder's names (``/volume/v3/os-quota-sets``),
    apart from Nova's. ``per_volume_gigabytes`` is a limit on one volume, not a count;
    backups and groups are kept and shown (clients read them) but count nothing yet."""

    VOLUMES = "volumes"
    GIGABYTES = "gigabytes"
    SNAPSHOTS = "snapshots"
    BACKUPS = "backups"
    BACKUP_GIGABYTES = "backup_gigabytes"
    PER_VOLUME_GIGABYTES = "per_volume_gigabytes"
    GROUPS = "groups"
