"""The Compute API's network proxies, answered from the network service as Nova answers them
from Neutron (compute-style errors, Nova's shapes):

- ``/os-tenant-networks`` (list, show): the networks the project can put servers on;
  ``/os-networks`` (list, show) the same, in nova-network's shape (its own keys null);
- ``/os-security-groups`` (list, show, create, update, delete) and
  ``/os-security-group-rules`` (create, delete): a group shows its ingress rules only, as
  Nova's Neutron driver does; an in-use or default group is a 400, a duplicate rule a 400;
- ``/servers/{id}/os-security-groups``: the groups on the server's ports;
- the ``addSecurityGroup`` and ``removeSecurityGroup`` server actions (`add_security_group`,
  `remove_security_group`, registered with the servers' other actions).

All but the last two are gone from microversion 2.36 (404), as in Nova, which sends clients to
the network API instead.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.identity.policy import authorize
from apps.networks import lookups, security
from apps.networks import services as networks
from apps.networks.choices import Direction, EtherType
from apps.networks.exceptions import SecurityGroupInUse, SecurityGroupRuleExists
from apps.networks.lookups import Scope
from apps.networks.models import Network, SecurityGroup, SecurityGroupRule
from apps.servers import services as servers
from apps.servers.models import Server
from computecloud.api.microversions import MicroversionedMixin
from computecloud.api.serializers import StrictSerializer
from computecloud.exceptions import InvalidInput, NotFound

REMOVED_IN = (2, 36)
PROTOCOLS = ("tcp", "udp", "icmp")


def _scope(request: Request) -> Scope:
    return Scope(project_id=request.auth.project_id, is_admin=request.auth.is_admin)


class _NetworkProxyView(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.version >= REMOVED_IN:
            raise NotFound("The network proxy APIs were removed in microversion 2.36.")


# --- os-tenant-networks -------------------------------------------------------------------------
def tenant_network_view(network: Network) -> dict[str, Any]:
    subnets = sorted(network.subnets.all(), key=lambda s: (s.ip_version, s.created_at))
    return {
        "id": str(network.pk),
        "cidr": subnets[0].cidr if subnets else None,
        "label": network.name,
    }


class TenantNetworkViewSet(_NetworkProxyView):
    policy_actions = {
        "list": "os_compute_api:os-tenant-networks:list",
        "retrieve": "os_compute_api:os-tenant-networks:show",
    }

    def _networks(self, request: Request) -> list[Network]:
        return networks.project_networks(
            project_id=request.auth.project_id, is_admin=request.auth.is_admin
        )

    def list(self, request: Request) -> Response:
        return Response({"networks": [tenant_network_view(n) for n in self._networks(request)]})

    def retrieve(self, request: Request, pk: str) -> Response:
        found = next((n for n in self._networks(request) if str(n.pk) == pk), None)
        if found is None:
            raise NotFound("Network not found.")
        return Response({"network": tenant_network_view(found)})


# --- os-networks ---------------------------------------------------------------------------------
# nova-network's attributes, which a network of the network service does not have: null.
NOVA_NETWORK_KEYS = (
    "cidr", "netmask", "gateway", "broadcast", "dns1", "dns2", "cidr_v6", "gateway_v6",
    "netmask_v6",
)  # fmt: skip


def nova_network_view(network: Network) -> dict[str, Any]:
    return {"id": str(network.pk), "label": network.name, **dict.fromkeys(NOVA_NETWORK_KEYS)}


class NetworkViewSet(TenantNetworkViewSet):
    """``/os-networks`` (list, show): the same networks in nova-network's shape."""

    policy_actions = {
        "list": "os_compute_api:os-networks:list",
        "retrieve": "os_compute_api:os-networks:view",
    }

    def list(self, request: Request) -> Response:
        return Response({"networks": [nova_network_view(n) for n in self._networks(request)]})

    def retrieve(self, request: Request, pk: str) -> Response:
        found = next((n for n in self._networks(request) if str(n.pk) == pk), None)
        if found is None:
            raise NotFound(f"Network {pk} could not be found.")
        return Response({"network": nova_network_view(found)})


# --- os-security-groups -------------------------------------------------------------------------
def rule_view(rule: SecurityGroupRule) -> dict[str, Any]:
    """Nova's rule: ports as given, or the whole range Nova opens when none were (1-65535 for
    TCP and UDP, -1 for ICMP); the remote group by name, else the remote prefix (any: 0.0.0.0/0)."""
    low, high = rule.port_range_min, rule.port_range_max
    if rule.protocol and low is None and high is None:
        low, high = (1, 65535) if rule.protocol in ("tcp", "udp") else (-1, -1)
    body: dict[str, Any] = {
        "id": str(rule.pk),
        "parent_group_id": str(rule.security_group_id),
        "ip_protocol": rule.protocol,
        "from_port": low,
        "to_port": high,
        "group": {},
        "ip_range": {},
    }
    if rule.remote_group is not None:
        group = rule.remote_group
        body["group"] = {"name": group.name, "tenant_id": group.project_id}
    else:
        body["ip_range"] = {"cidr": rule.remote_ip_prefix or "0.0.0.0/0"}
    return body


def group_view(group: SecurityGroup) -> dict[str, Any]:
    ingress = [r for r in group.rules.all() if r.direction == Direction.INGRESS]
    return {
        "id": str(group.pk),
        "name": group.name,
        "description": group.description,
        "tenant_id": group.project_id,
        "rules": [rule_view(r) for r in ingress],
    }


def _groups(queryset: Any) -> Any:
    return queryset.prefetch_related("rules__remote_group").order_by("created_at", "id")


def _group(request: Request, group_id: str) -> SecurityGroup:
    """The caller's group; a malformed id is a 400, another project's or a missing one 404."""
    if lookups.as_uuid(group_id) is None:
        raise InvalidInput("Security group id should be uuid")
    lookups.security_group(group_id, _scope(request))  # the 404
    return _groups(SecurityGroup.objects.filter(pk=group_id)).get()


class _GroupBody(StrictSerializer):
    # Kept as given, spaces included (Nova and Neutron store the text as sent).
    name = serializers.CharField(max_length=255, allow_blank=True, trim_whitespace=False)
    description = serializers.CharField(max_length=255, allow_blank=True, trim_whitespace=False)


def _group_body(request: Request) -> dict[str, Any]:
    data = request.data.get("security_group") if isinstance(request.data, dict) else None
    serializer = _GroupBody(data=data if isinstance(data, dict) else {})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class SecurityGroupViewSet(_NetworkProxyView):
    policy_actions = {
        "list": "os_compute_api:os-security-groups:get",
        "retrieve": "os_compute_api:os-security-groups:show",
        "create": "os_compute_api:os-security-groups:create",
        "update": "os_compute_api:os-security-groups:update",
        "destroy": "os_compute_api:os-security-groups:delete",
        "delete_all": "os_compute_api:os-security-groups:delete",
    }

    def list(self, request: Request) -> Response:
        context = request.auth
        if context.project_id:
            security.ensure_default_security_group(context.project_id)
        every = context.is_admin and request.query_params.get("all_tenants") not in (None, "0")
        queryset = SecurityGroup.objects.all()
        if not every:
            queryset = queryset.filter(project_id=context.project_id)
        return Response({"security_groups": [group_view(g) for g in _groups(queryset)]})

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response({"security_group": group_view(_group(request, pk))})

    def create(self, request: Request) -> Response:
        data = _group_body(request)
        group = security.create_security_group(
            project_id=request.auth.project_id, name=data["name"], description=data["description"]
        )
        return Response({"security_group": group_view(_group(request, str(group.pk)))})

    def update(self, request: Request, pk: str) -> Response:
        group = _group(request, pk)
        security.update_security_group(group, **_group_body(request))
        return Response({"security_group": group_view(_group(request, pk))})

    def destroy(self, request: Request, pk: str) -> Response:
        group = _group(request, pk)
        try:
            security.delete_security_group(group)
        except SecurityGroupInUse as exc:  # in use, or the project's default: Nova's 400
            raise InvalidInput(exc.message) from exc
        return Response(status=202)

    def delete_all(self, request: Request) -> Response:
        """``DELETE /os-security-groups/`` (a blank id) names no group."""
        raise NotFound("Security group not found.")


# --- os-security-group-rules --------------------------------------------------------------------
class _RuleBody(StrictSerializer):
    parent_group_id = serializers.CharField(max_length=64)
    ip_protocol = serializers.CharField(max_length=16, required=False, allow_null=True)
    from_port = serializers.IntegerField(required=False, allow_null=True)
    to_port = serializers.IntegerField(required=False, allow_null=True)
    cidr = serializers.CharField(max_length=64, required=False, allow_null=True)
    group_id = serializers.CharField(max_length=64, required=False, allow_null=True)


def _rule_request(data: dict[str, Any], remote_group: SecurityGroup | None) -> security.RuleRequest:
    """Nova's rule arguments as a network rule: protocol tcp, udp or icmp with both ports
    (a remote group alone opens everything of the protocol); a prefix rule needs them all."""
    protocol = (data.get("ip_protocol") or "").lower() or None
    low, high = data.get("from_port"), data.get("to_port")
    if remote_group is not None and low is None and high is None:
        low, high = {"icmp": (-1, -1), "tcp": (1, 65535), "udp": (1, 65535)}.get(
            protocol or "", (None, None)
        )
    if protocol is None or low is None or high is None:
        if remote_group is None:
            raise InvalidInput("Not enough parameters to build a valid rule.")
        protocol, low, high = None, None, None
    elif protocol not in PROTOCOLS:
        raise InvalidInput(f"Invalid IP protocol {data.get('ip_protocol')}.")
    elif protocol in ("tcp", "udp") and (low > high or low < 1 or high > 65535):
        raise InvalidInput(f"Invalid port range {low}:{high}. Valid ports are 1-65535.")
    elif protocol == "icmp" and not (-1 <= low <= 255 and -1 <= high <= 255):
        raise InvalidInput(
            f"Invalid port range {low}:{high}. For ICMP, the type:code must be valid"
        )
    cidr = data.get("cidr")
    ethertype = EtherType.IPV4
    if remote_group is None:
        try:
            network = ipaddress.ip_network(cidr or "0.0.0.0/0", strict=False)
        except ValueError:
            raise InvalidInput(f"Invalid cidr {cidr}.") from None
        ethertype = EtherType.IPV6 if network.version == 6 else EtherType.IPV4
        cidr = cidr or "0.0.0.0/0"
    return security.RuleRequest(
        direction=Direction.INGRESS,
        ethertype=ethertype,
        protocol=protocol,
        port_range_min=None if low == -1 else low,
        port_range_max=None if high == -1 else high,
        remote_ip_prefix=None if remote_group is not None else cidr,
        remote_group_id=str(remote_group.pk) if remote_group is not None else None,
    )


class SecurityGroupRuleViewSet(_NetworkProxyView):
    policy_actions = {
        "create": "os_compute_api:os-security-groups:rule:create",
        "destroy": "os_compute_api:os-security-groups:rule:delete",
    }

    def create(self, request: Request) -> Response:
        data = request.data.get("security_group_rule") if isinstance(request.data, dict) else None
        serializer = _RuleBody(data=data if isinstance(data, dict) else {})
        serializer.is_valid(raise_exception=True)
        body = dict(serializer.validated_data)
        parent = _group(request, body["parent_group_id"])
        remote = _group(request, body["group_id"]) if body.get("group_id") else None
        try:
            rule = security.create_security_group_rule(
                group=parent, rule=_rule_request(body, remote), scope=_scope(request)
            )
        except SecurityGroupRuleExists as exc:
            raise InvalidInput(f"This rule already exists in group {parent.pk}") from exc
        rule = SecurityGroupRule.objects.select_related("remote_group").get(pk=rule.pk)
        return Response({"security_group_rule": rule_view(rule)})

    def destroy(self, request: Request, pk: str) -> Response:
        if lookups.as_uuid(pk) is None:
            raise InvalidInput("Security group rule id should be uuid")
        rule = lookups.security_group_rule(pk, _scope(request))
        security.delete_security_group_rule(rule)
        return Response(status=202)


# --- a server's groups --------------------------------------------------------------------------
class ServerSecurityGroupViewSet(MicroversionedMixin, viewsets.ViewSet):
    """``GET /servers/{id}/os-security-groups``, at every microversion."""

    policy_actions = {"list": "os_compute_api:os-security-groups:list"}

    def list(self, request: Request, server_id: str) -> Response:
        server = servers.get_server(request.auth, server_id)
        names = networks.instance_security_groups([server.uuid])[str(server.uuid)]
        groups = _groups(SecurityGroup.objects.filter(project_id=server.project_id, name__in=names))
        return Response({"security_groups": [group_view(g) for g in groups]})


def _group_name(args: Any) -> str:
    name = args.get("name") if isinstance(args, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise InvalidInput("Security group name cannot be empty")
    return name


def add_security_group(view: Any, request: Request, server: Server, args: Any) -> Response:
    """``addSecurityGroup {"name": NAME or ID}``: the group on every port of the server."""
    authorize(request.auth, "os_compute_api:os-security-groups:add")
    name = _group_name(args)
    try:
        networks.add_instance_security_group(
            project_id=server.project_id, instance_uuid=server.uuid, name=name
        )
    except NotFound as exc:  # an unknown group: Nova's 404 names it
        raise NotFound(f"Security group {name} not found.") from exc
    return Response(status=202)


def remove_security_group(view: Any, request: Request, server: Server, args: Any) -> Response:
    """``removeSecurityGroup {"name": NAME or ID}``: the group off the server's ports."""
    authorize(request.auth, "os_compute_api:os-security-groups:remove")
    name = _group_name(args)
    try:
        networks.remove_instance_security_group(
            project_id=server.project_id, instance_uuid=server.uuid, name=name
        )
    except NotFound as exc:
        raise NotFound(f"Security group {name} not found.") from exc
    return Response(status=202)
