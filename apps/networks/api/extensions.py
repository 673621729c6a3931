"""The extensions the network API serves, as ``GET /v2.0/extensions`` lists them: only what
is really implemented (clients switch code paths on these aliases and names)."""

from typing import Any

UPDATED = "2026-12-01T00:00:00-00:00"

# (alias, name, description): the names clients match are Neutron's; the words are ours.
EXTENSIONS: tuple[tuple[str, str, str], ...] = (
    ("binding", "Port Binding", "binding:host_id, vnic_type and vif details of ports"),
    ("external-net", "Neutron external network", "router:external on networks"),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "enable_snat on gateways"),
    ("net-mtu", "Network MTU", "mtu on networks"),
    ("pagination", "Pagination support", "limit and marker on every list"),
    ("port-security", "Port Security", "port_security_enabled on networks and ports"),
    ("project-id", "project_id field enabled", "project_id beside tenant_id"),
    ("provider", "Provider Network", "provider:* attributes of networks (admins)"),
    ("quotas", "Quota management support", "network quotas per project"),
    ("quota_details", "Quota details management support", "quota usage per project"),
    ("router", "Neutron L3 Router", "routers, their interfaces and floating IPs"),
    ("security-group", "security-group", "security groups and their rules"),
    ("sorting", "Sorting support", "sort_key and sort_dir on every list"),
    ("standard-attr-description", "standard-attr-description", "description on resources"),
    ("standard-attr-revisions", "Resource revision numbers", "revision_number on resources"),
    ("standard-attr-tag", "Tag support", "tags on networks, subnets, ports, groups, routers, IPs"),
    ("standard-attr-timestamp", "Resource timestamps", "created_at and updated_at on resources"),
)


def extension_body(alias: str, name: str, description: str) -> dict[str, Any]:
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": UPDATED,
        "links": [],
    }


def all_extensions() -> list[dict[str, Any]]:
    return [extension_body(*entry) for entry in EXTENSIONS]


def find_extension(alias: str) -> dict[str, Any] | None:
    return next((extension_body(*e) for e in EXTENSIONS if e[0] == alias), None)
