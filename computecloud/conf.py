"""computecloud's domain settings: the `COMPUTECLOUD` dict, with defaults and meanings.

Read them as ``cc_settings.TOKEN_TTL``. Settings overrides in tests (the `settings`
fixture, ``override_settings``) are picked up because the cache is dropped on
``setting_changed``, as DRF's ``api_settings`` does.
"""

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Region name in the service catalog (clients match OS_REGION_NAME against it).
    "REGION": "RegionOne",
    # Lifetime of an identity token, seconds.
    "TOKEN_TTL": 3600,
    # Failed password attempts per user and source address before a 429, per window.
    "AUTH_FAILURES_ALLOWED": 10,
    # Window for the failed-attempt count above, seconds.
    "AUTH_FAILURE_WINDOW": 300,
    # A verified password is remembered this long per web process (as an HMAC), so repeated
    # token requests skip the deliberately slow hash; seconds, 0 disables.
    "AUTH_CACHE_TTL": 300,
    # Lifetime of a console (noVNC) token, seconds.
    "CONSOLE_TOKEN_TTL": 600,
    # Base URL of the console proxy that noVNC pages are served from.
    "CONSOLE_PROXY_URL": "http://127.0.0.1:6080",
    # Origins the console proxy accepts besides its own host:port ("host" = any port of that
    # host, "host:port" = exactly that one); the proxy's own page never needs listing.
    "CONSOLE_ALLOWED_ORIGINS": [],
    # Address the console proxy (manage.py consoleproxy) listens on: host, and TCP port.
    "CONSOLE_PROXY_HOST": "127.0.0.1",
    "CONSOLE_PROXY_PORT": 6080,
    # TLS for the console proxy: PEM certificate and key paths ("" = plain ws:// and http://);
    # with CONSOLE_PROXY_SSL_ONLY the proxy refuses connections that are not TLS.
    "CONSOLE_PROXY_CERT": "",
    "CONSOLE_PROXY_KEY": "",
    "CONSOLE_PROXY_SSL_ONLY": False,
    # Directory holding noVNC's files (core/rfb.js, vendor/); the console proxy serves them.
    # Debian's `novnc` package puts them in /usr/share/novnc.
    "NOVNC_PATH": "/usr/share/novnc",
    # A compute service is "down" when its last heartbeat is older than this, seconds.
    "SERVICE_DOWN_TIME": 60,
    # Seconds between a compute worker's heartbeats (and inventory reports).
    "REPORT_INTERVAL": 10,
    # An instance still building after this many seconds goes to ERROR; 0 disables.
    "BUILD_TIMEOUT": 600,
    # A deleted instance whose guest or files a host still reports is removed there once it
    # has been deleted this many seconds (a delete on its way to the host is not raced).
    "RECLAIM_GRACE": 60,
    # Resizes left unconfirmed this many seconds are confirmed automatically; 0 disables.
    "RESIZE_CONFIRM_WINDOW": 0,
    # Allow a resize to pick the instance's current host.
    "ALLOW_RESIZE_TO_SAME_HOST": True,
    # Default allocation ratios per resource class (a host's inventory may override).
    "ALLOCATION_RATIOS": {"VCPU": 16.0, "MEMORY_MB": 1.5, "DISK_GB": 1.0},
    # Resources held back on every host for the hypervisor itself.
    "RESERVED": {"VCPU": 0, "MEMORY_MB": 512, "DISK_GB": 0},
    # Scheduler: filters and weighers by registered name (or dotted path), in order.
    "SCHEDULER": {
        "ENABLED_FILTERS": [
            "ComputeFilter",
            "AvailabilityZoneFilter",
            "ComputeCapabilitiesFilter",
            "ImagePropertiesFilter",
            "ServerGroupAntiAffinityFilter",
            "ServerGroupAffinityFilter",
            "SameHostFilter",
            "DifferentHostFilter",
            "AggregateInstanceExtraSpecsFilter",
            "AggregateMultiTenancyIsolation",
        ],
        "WEIGHERS": [
            "RAMWeigher",
            "CPUWeigher",
            "DiskWeigher",
            "IoOpsWeigher",
            "ServerGroupSoftAffinityWeigher",
            "ServerGroupSoftAntiAffinityWeigher",
            "BuildFailureWeigher",
        ],
        # Weigher name → multiplier; a missing name means 1.0.
        "WEIGHER_MULTIPLIERS": {"IoOpsWeigher": -1.0, "BuildFailureWeigher": 1000000.0},
        # Pick at random among the best N hosts, to spread concurrent requests.
        "HOST_SUBSET_SIZE": 1,
        # Build attempts per instance (the first host plus alternates).
        "MAX_ATTEMPTS": 3,
        # Candidate hosts per pass, a random window of the fleet (count, at least twice the
        # request's instances; 0 = every host): bounds the pass's cost on large fleets; a
        # request that fits none of them gets a pass over every host (docs/scheduler.md).
        "MAX_CANDIDATES": 50,
    },
    # Policy: action name → rule name, over the defaults in apps/identity/policy.py.
    "POLICY_OVERRIDES": {},
    # Attach a config drive to every instance, asked for or not (Nova's force_config_drive).
    # On by default: until project networks exist, no guest can reach a metadata service.
    "FORCE_CONFIG_DRIVE": True,
    # Metadata service: shared secret that signs X-Instance-ID from a proxy; empty disables.
    "METADATA_SHARED_SECRET": "",
    # Address the metadata service (manage.py metadata_server) listens on: host, and TCP port.
    "METADATA_HOST": "127.0.0.1",
    "METADATA_PORT": 8775,
    # Proxies (addresses or CIDRs) whose X-Forwarded-For the metadata service believes: a
    # request from one of them is identified by the last address that header names. Empty:
    # X-Forwarded-For is never honoured (any guest could forge it).
    "METADATA_TRUSTED_PROXIES": [],
    # Image data store: dotted path to an apps.images.store.ImageStore subclass.
    "IMAGE_STORE": "apps.images.store.FilesystemStore",
    # Largest image upload accepted, bytes (Glance's image_size_cap, 1 TiB).
    "IMAGE_SIZE_CAP": 1099511627776,
    # Images per page when a list names no limit, and the most a limit may ask for.
    "IMAGE_LIST_LIMIT_DEFAULT": 25,
    "IMAGE_LIST_LIMIT_MAX": 1000,
    # An upload still "saving" with no progress for this long is reset to queued, seconds.
    "IMAGE_UPLOAD_STALE_AFTER": 600,
    # Project networks (docs/networks.md). VXLAN network ids (VNIs) given to new networks:
    # [first, last], inclusive.
    "NETWORK_VNI_RANGE": [1000, 65000],
    # Physical network name -> the bridge that carries it on every host; a flat network names
    # one of these keys (admins only), and its ports join that bridge.
    "NETWORK_PHYSICAL_BRIDGES": {"public": "br-ex"},
    # The host whose network agent runs every router (SNAT, floating IPs). "" = the first
    # host, by name, that has reported a tunnel endpoint (none has: the first with ports).
    "NETWORK_GATEWAY_HOST": "",
    # Default network quota limits per project, by Neutron's names (-1 is unlimited).
    "NETWORK_QUOTA_DEFAULTS": {
        "network": 100,
        "subnet": 100,
        "port": 500,
        "router": 10,
        "floatingip": 50,
        "security_group": 10,
        "security_group_rule": 100,
        "rbac_policy": 10,
        "subnetpool": -1,
    },
    # Default volume quota limits per project, by Cinder's names (-1 is unlimited).
    "VOLUME_QUOTA_DEFAULTS": {
        "volumes": 10,
        "gigabytes": 1000,
        "snapshots": 10,
        "backups": 10,
        "backup_gigabytes": 1000,
        "per_volume_gigabytes": -1,
        "groups": 10,
    },
    # Default quota limits per project (-1 is unlimited).
    "QUOTA_DEFAULTS": {
        "instances": 10,
        "cores": 20,
        "ram": 51200,
        "key_pairs": 100,
        "server_groups": 10,
        "server_group_members": 10,
        "metadata_items": 128,
        "injected_files": 5,
        "injected_file_content_bytes": 10240,
        "injected_file_path_bytes": 255,
    },
    # Who may read /metrics (computecloud/metrics_web.py): clients whose address is in these
    # networks and who reach the web process directly (a request that came through a proxy,
    # with X-Forwarded-For, never qualifies), or who present "Authorization: Bearer
    # <METRICS_TOKEN>" ("" = no token accepted). Tenants never read it.
    "METRICS_ALLOWED_NETWORKS": ["127.0.0.1/32", "::1/128"],
    "METRICS_TOKEN": "",
}


class ComputecloudSettings:
    """Attribute access to ``settings.COMPUTECLOUD`` merged over `DEFAULTS`."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    def _merged(self) -> dict[str, Any]:
        if self._cache is None:
            user = getattr(settings, "COMPUTECLOUD", {})
            merged = dict(DEFAULTS)
            for key, value in user.items():
                if isinstance(value, dict) and isinstance(DEFAULTS.get(key), dict):
                    merged[key] = {**DEFAULTS[key], **value}
                else:
                    merged[key] = value
            self._cache = merged
        return self._cache

    def __getattr__(self, name: str) -> Any:
        try:
            return self._merged()[name]
        except KeyError:
            raise AttributeError(f"no computecloud setting {name!r}") from None

    def reload(self) -> None:
        self._cache = None


cc_settings = ComputecloudSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "COMPUTECLOUD":
        cc_settings.reload()


setting_changed.connect(_reload)
