"""Neutron's resource shapes, one function per resource: what a show, a list item and a
create answer carry.

``tenant_id`` repeats ``project_id`` (clients read either). The attributes only admins may
read (``provider:*``, ``binding:host_id`` and the other binding details) are left out for
everyone else, as Neutron's policy does. Callers load what the bodies read in one query each
(`PREFETCH`).
"""

from typing import Any

from django.db.models import Prefetch

from apps.networks.lookups import Scope
from apps.networks.models import (
    FloatingIP,
    Network,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)
from computecloud.api.timeformat import iso

# What each list and show loads with its rows.
PREFETCH: dict[type, list[Any]] = {
    Network: [Prefetch("subnets", queryset=Subnet.objects.only("id", "network_id"))],
    Subnet: [],
    Port: ["fixed_ips", Prefetch("security_groups", queryset=SecurityGroup.objects.only("id"))],
    SecurityGroup: ["rules"],
    SecurityGroupRule: [],
    Router: ["gateway_port__fixed_ips"],
    FloatingIP: [],
}


def _standard(obj: Any) -> dict[str, Any]:
    return {
        "description": obj.description,
        "tags": list(obj.tags),
        "created_at": iso(obj.created_at),
        "updated_at": iso(obj.updated_at),
        "revision_number": obj.revision_number,
    }


def _owner(obj: Any) -> dict[str, Any]:
    return {"tenant_id": obj.project_id, "project_id": obj.project_id}


def network_body(network: Network, scope: Scope) -> dict[str, Any]:
    body = {
        "id": str(network.pk),
        "name": network.name,
        **_owner(network),
        "admin_state_up": network.admin_state_up,
        "status": network.status,
        "subnets": [str(s.pk) for s in network.subnets.all()],
        "shared": network.shared,
        "router:external": network.router_external,
        "mtu": network.mtu,
        "port_security_enabled": network.port_security_enabled,
        **_standard(network),
    }
    if scope.is_admin:
        body["provider:network_type"] = network.network_type
        body["provider:physical_network"] = network.physical_network
        body["provider:segmentation_id"] = network.segmentation_id
    return body


def subnet_body(subnet: Subnet, scope: Scope) -> dict[str, Any]:
    return {
        "id": str(subnet.pk),
        "name": subnet.name,
        **_owner(subnet),
        "network_id": str(subnet.network_id),
        "ip_version": subnet.ip_version,
        "cidr": subnet.cidr,
        "gateway_ip": subnet.gateway_ip,
        "allocation_pools": list(subnet.allocation_pools),
        "dns_nameservers": list(subnet.dns_nameservers),
        "host_routes": list(subnet.host_routes),
        "enable_dhcp": subnet.enable_dhcp,
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
        "service_types": [],
        **_standard(subnet),
    }


def port_body(port: Port, scope: Scope) -> dict[str, Any]:
    body = {
        "id": str(port.pk),
        "name": port.name,
        **_owner(port),
        "network_id": str(port.network_id),
        "mac_address": port.mac_address,
        "admin_state_up": port.admin_state_up,
        "status": port.status,
        "device_id": port.device_id,
        "device_owner": port.device_owner,
        "fixed_ips": [
            {"subnet_id": str(a.subnet_id), "ip_address": a.ip_address}
            for a in port.fixed_ips.all()
        ],
        "security_groups": [str(g.pk) for g in port.security_groups.all()],
        "port_security_enabled": port.port_security_enabled,
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "binding:vnic_type": port.binding_vnic_type,
        **_standard(port),
    }
    if scope.is_admin:
        body["binding:host_id"] = port.binding_host_id
        body["binding:profile"] = dict(port.binding_profile)
        body["binding:vif_type"] = "bridge" if port.binding_host_id else "unbound"
        body["binding:vif_details"] = (
            {"port_filter": port.port_security_enabled} if port.binding_host_id else {}
        )
    return body


def rule_body(rule: SecurityGroupRule, scope: Scope | None = None) -> dict[str, Any]:
    return {
        "id": str(rule.pk),
        **_owner(rule),
        "security_group_id": str(rule.security_group_id),
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "normalized_cidr": rule.normalized_cidr,
        "remote_group_id": str(rule.remote_group_id) if rule.remote_group_id else None,
        "remote_address_group_id": None,
        "description": rule.description,
        "created_at": iso(rule.created_at),
        "updated_at": iso(rule.updated_at),
        "revision_number": rule.revision_number,
    }


def security_group_body(group: SecurityGroup, scope: Scope) -> dict[str, Any]:
    return {
        "id": str(group.pk),
        "name": group.name,
        **_owner(group),
        "stateful": group.stateful,
        "shared": False,
        "security_group_rules": [rule_body(rule) for rule in group.rules.all()],
        **_standard(group),
    }


def external_gateway_info(router: Router) -> dict[str, Any] | None:
    if router.external_network_id is None:
        return None
    fixed = router.gateway_port.fixed_ips.all() if router.gateway_port else []
    return {
        "network_id": str(router.external_network_id),
        "enable_snat": router.enable_snat,
        "external_fixed_ips": [
            {"subnet_id": str(a.subnet_id), "ip_address": a.ip_address} for a in fixed
        ],
    }


def router_body(router: Router, scope: Scope) -> dict[str, Any]:
    return {
        "id": str(router.pk),
        "name": router.name,
        **_owner(router),
        "admin_state_up": router.admin_state_up,
        "status": router.status,
        "external_gateway_info": external_gateway_info(router),
        **_standard(router),
    }


def floating_ip_body(floating: FloatingIP, scope: Scope) -> dict[str, Any]:
    return {
        "id": str(floating.pk),
        **_owner(floating),
        "floating_network_id": str(floating.floating_network_id),
        "floating_ip_address": floating.floating_ip_address,
        "fixed_ip_address": floating.fixed_ip_address,
        "port_id": str(floating.port_id) if floating.port_id else None,
        "router_id": str(floating.router_id) if floating.router_id else None,
        "status": floating.status,
        **_standard(floating),
    }
