"""The Neutron v2.0 compatible network API under ``/network/`` (docs/networks.md).

Views parse, authorise and call one service. Which objects a caller sees is the querysets'
business (`lookups`): another project's id is answered exactly as an unknown one (404).
Who may change a visible object is policy's, with the object's project as the target: a
member reading another project's shared network gets 403 on a write. Attributes only admins
(or the network's owner) may set are checked against their own policy entries. Errors leave
in Neutron's shape (``error_style = "neutron"``).
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.db.models import Model, Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSet

from apps.identity.context import RequestContext
from apps.identity.models import Project
from apps.identity.policy import authorize
from apps.networks import lookups, networks, ports, routers, security, tags
from apps.networks.api import bodies, listing
from apps.networks.api import serializers as s
from apps.networks.api.extensions import all_extensions, find_extension
from apps.networks.choices import NETWORK_OWNER_PREFIX
from apps.networks.exceptions import ExtensionNotFound, InvalidInput
from apps.networks.lookups import Scope
from apps.networks.models import (
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)
from apps.networks.usage import count_network_resources
from apps.quotas import services as quotas
from apps.quotas.api.serializers import QuotaValueField
from computecloud.api.parsers import StrictJSONParser

F = listing.Filter


def _context(request: Request) -> RequestContext:
    context = request.auth
    assert isinstance(context, RequestContext)  # PolicyPermission let the request in
    return context


def _scope(request: Request) -> Scope:
    context = _context(request)
    return Scope(project_id=context.project_id, is_admin=context.is_admin)


def _base_url(path: str) -> str:
    return f"{settings.PUBLIC_URL}/network/v2.0/{path}"


class NeutronAPIMixin:
    error_style = "neutron"
    parser_classes: Sequence[type[BaseParser]] = [StrictJSONParser]


# --- discovery --------------------------------------------------------------------------------
class NetworkVersionsView(NeutronAPIMixin, APIView):
    """``GET /network``: the versions document, without a token."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        href = f"{settings.PUBLIC_URL}/network/v2.0/"
        return Response(
            {
                "versions": [
                    {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}
                ]
            }
        )


COLLECTIONS = (
    ("network", "networks"),
    ("subnet", "subnets"),
    ("port", "ports"),
    ("security_group", "security-groups"),
    ("security_group_rule", "security-group-rules"),
    ("router", "routers"),
    ("floatingip", "floatingips"),
    ("quota", "quotas"),
    ("extension", "extensions"),
)


class NetworkResourcesView(NeutronAPIMixin, APIView):
    """``GET /network/v2.0/``: the collections of the API."""

    policy_actions = dict.fromkeys(
        ("get", "post", "put", "patch", "delete"), "network:get_resources"
    )

    def get(self, request: Request) -> Response:
        return Response(
            {
                "resources": [
                    {
                        "name": name,
                        "collection": path.replace("-", "_"),
                        "links": [{"rel": "self", "href": _base_url(path)}],
                    }
                    for name, path in COLLECTIONS
                ]
            }
        )


class ExtensionViewSet(NeutronAPIMixin, ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "network:get_extension",
        "retrieve": "network:get_extension",
        **dict.fromkeys(("post", "put", "patch", "delete"), "network:get_extension"),
    }

    def list(self, request: Request) -> Response:
        return Response({"extensions": all_extensions()})

    def retrieve(self, request: Request, pk: str) -> Response:
        extension = find_extension(pk)
        if extension is None:
            raise ExtensionNotFound(alias=pk)
        return Response({"extension": extension})


# --- the resources ----------------------------------------------------------------------------
class ResourceViewSet(NeutronAPIMixin, ViewSet):
    """List, show and delete as every resource has them; create and update are each
    resource's own. Subclasses name the model, the body function, the lookup and the
    filters."""

    lookup_value_regex = "[^/]+"
    policy_actions: dict[str, str]
    member: str
    collection: str
    model: type[Model]
    filters: dict[str, listing.Filter] = {}
    sort_keys: dict[str, str] = {}
    render: Callable[[Any, Scope], dict[str, Any]]
    find: Callable[..., Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "member"):
            cls.policy_actions = {
                "list": f"network:get_{cls.member}",
                "retrieve": f"network:get_{cls.member}",
                "create": f"network:create_{cls.member}",
                "update": f"network:update_{cls.member}",
                "destroy": f"network:delete_{cls.member}",
                **getattr(cls, "extra_actions", {}),
                # Methods a path does not serve pass on the read policy to get their 405.
                **dict.fromkeys(("post", "put", "patch", "delete"), f"network:get_{cls.member}"),
            }

    # reads
    def visible(self, scope: Scope) -> QuerySet[Any]:
        queryset = lookups.visible(self.model, scope)
        return queryset.prefetch_related(*bodies.PREFETCH[self.model])

    def one(self, request: Request, pk: str) -> Any:
        found = type(self).find(pk, _scope(request))
        return self.visible(_scope(request)).get(pk=found.pk)

    def body(self, obj: Any, request: Request) -> dict[str, Any]:
        return type(self).render(obj, _scope(request))

    def shaped(self, obj: Any, request: Request) -> dict[str, Any]:
        return listing.trim(self.body(obj, request), request.query_params.getlist("fields"))

    def list(self, request: Request) -> Response:
        scope = _scope(request)
        params = request.query_params
        visible = self.visible(scope)
        queryset = listing.apply_filters(visible, params, self.filters)
        rows, links = listing.page(
            queryset,
            params,
            scope_queryset=visible,
            sort_keys={"id": "id", "created_at": "created_at", **self.sort_keys},
            collection=self.collection,
            base_url=_base_url(self.collection.replace("_", "-")),
        )
        return Response({self.collection: [self.shaped(row, request) for row in rows], **links})

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response({self.member: self.shaped(self.one(request, pk), request)})

    # writes
    def owned(self, request: Request, pk: str, verb: str) -> Any:
        """The object, once policy lets the caller `verb` it (its project the target)."""
        obj = type(self).find(pk, _scope(request))
        authorize(
            _context(request), f"network:{verb}_{self.member}", {"project_id": obj.project_id}
        )
        return obj

    def created(self, obj: Any, request: Request) -> Response:
        fresh = self.visible(Scope(project_id=None, is_admin=True)).get(pk=obj.pk)
        return Response({self.member: self.body(fresh, request)}, status=status.HTTP_201_CREATED)

    def updated(self, obj: Any, request: Request) -> Response:
        fresh = self.visible(Scope(project_id=None, is_admin=True)).get(pk=obj.pk)
        return Response({self.member: self.body(fresh, request)})

    def destroy(self, request: Request, pk: str) -> Response:
        self.remove(self.owned(request, pk, "delete"), request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def remove(self, obj: Any, request: Request) -> None:
        raise NotImplementedError


def _owner_project(request: Request, attrs: dict[str, Any], action_name: str) -> str:
    """The project a new resource belongs to: the caller's, or (admins) the one named by
    ``project_id``/``tenant_id``, which must exist."""
    context = _context(request)
    named = attrs.pop("project_id", None)
    tenant = attrs.pop("tenant_id", None)
    if named is not None and tenant is not None and named != tenant:
        raise InvalidInput("'project_id' and 'tenant_id' do not match")
    requested = named or tenant
    project_id = requested or context.project_id
    if project_id is None:
        raise InvalidInput("project_id is required for a token without a project")
    authorize(context, action_name, {"project_id": project_id})
    if requested and not Project.objects.filter(pk=requested).exists():
        raise InvalidInput(f"Project {requested} does not exist")
    return project_id


def _admin_attrs(request: Request, attrs: dict[str, Any], names: list[str], rule: str) -> None:
    if any(name in attrs for name in names):
        authorize(_context(request), rule)


# --- networks ---------------------------------------------------------------------------------
def _ports_with_fixed_ip(value: str) -> Q:
    """``fixed_ips=ip_address=A`` or ``fixed_ips=subnet_id=S`` (as clients send them)."""
    key, _, wanted = value.partition("=")
    if key == "ip_address":
        address = listing.as_ip(wanted)
        if address is None:
            return Q(pk__in=[])
        return Q(pk__in=IPAllocation.objects.filter(ip_address=address).values("port_id"))
    if key == "subnet_id":
        subnet = lookups.as_uuid(wanted)
        if subnet is None:
            return Q(pk__in=[])
        return Q(pk__in=IPAllocation.objects.filter(subnet_id=subnet).values("port_id"))
    raise InvalidInput(f"Invalid fixed_ips filter {value}")


OWNER_FILTERS = {"project_id": F("project_id"), "tenant_id": F("project_id")}
COMMON_FILTERS = {
    "id": F("pk", "uuid"),
    "name": F("name"),
    "description": F("description"),
    "revision_number": F("revision_number", "int"),
    **OWNER_FILTERS,
}
COMMON_SORT = {"name": "name", "project_id": "project_id", "tenant_id": "project_id"}


PROVIDER_ATTRIBUTES = [
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
]


@extend_schema_view(
    create=extend_schema(request=s.wrapped("network", s.NetworkCreate)),
    update=extend_schema(request=s.wrapped("network", s.NetworkUpdate)),
)
class NetworkViewSet(ResourceViewSet):
    member = "network"
    collection = "networks"
    model = Network
    render = staticmethod(bodies.network_body)
    find = staticmethod(lookups.network)
    filters = {
        **COMMON_FILTERS,
        "admin_state_up": F("admin_state_up", "bool"),
        "shared": F("shared", "bool"),
        "router:external": F("router_external", "bool"),
        "status": F("status"),
        "mtu": F("mtu", "int"),
        "port_security_enabled": F("port_security_enabled", "bool"),
    }
    admin_filters = {
        "provider:network_type": F("network_type"),
        "provider:physical_network": F("physical_network"),
        "provider:segmentation_id": F("segmentation_id", "int"),
    }
    sort_keys = {**COMMON_SORT, "status": "status", "mtu": "mtu"}

    def list(self, request: Request) -> Response:
        if _context(request).is_admin:
            self.filters = {**self.filters, **self.admin_filters}
        return super().list(request)

    def create(self, request: Request) -> Response:
        attrs = s.validate(s.NetworkCreate, s.unwrap(request.data, "network"))
        project_id = _owner_project(request, attrs, "network:create_network")
        _admin_attrs(request, attrs, ["shared"], "network:create_network:shared")
        _admin_attrs(request, attrs, ["router:external"], "network:create_network:router:external")
        provider = [
            "provider:network_type",
            "provider:physical_network",
            "provider:segmentation_id",
        ]
        _admin_attrs(request, attrs, provider, "network:create_network:provider")
        network = networks.create_network(
            project_id=project_id,
            name=attrs.get("name", ""),
            description=attrs.get("description", ""),
            admin_state_up=attrs.get("admin_state_up", True),
            shared=attrs.get("shared", False),
            router_external=attrs.get("router:external", False),
            mtu=attrs.get("mtu"),
            port_security_enabled=attrs.get("port_security_enabled", True),
            network_type=attrs.get("provider:network_type"),
            physical_network=attrs.get("provider:physical_network"),
            segmentation_id=attrs.get("provider:segmentation_id"),
        )
        return self.created(network, request)

    def update(self, request: Request, pk: str) -> Response:
        network = self.owned(request, pk, "update")
        attrs = s.validate(s.NetworkUpdate, s.unwrap(request.data, "network"))
        _admin_attrs(request, attrs, ["shared"], "network:update_network:shared")
        _admin_attrs(request, attrs, ["router:external"], "network:update_network:router:external")
        if "router:external" in attrs:
            attrs["router_external"] = attrs.pop("router:external")
        return self.updated(networks.update_network(network, changes=attrs), request)

    def remove(self, obj: Any, request: Request) -> None:
        networks.delete_network(obj)


@extend_schema_view(
    create=extend_schema(request=s.wrapped("subnet", s.SubnetCreate)),
    update=extend_schema(request=s.wrapped("subnet", s.SubnetUpdate)),
)
class SubnetViewSet(ResourceViewSet):
    member = "subnet"
    collection = "subnets"
    model = Subnet
    render = staticmethod(bodies.subnet_body)
    find = staticmethod(lookups.subnet)
    filters = {
        **COMMON_FILTERS,
        "network_id": F("network_id", "uuid"),
        "cidr": F("cidr"),
        "ip_version": F("ip_version", "int"),
        "enable_dhcp": F("enable_dhcp", "bool"),
        "gateway_ip": F("gateway_ip", "ip"),
    }
    sort_keys = {**COMMON_SORT, "cidr": "cidr", "network_id": "network_id"}

    def _network_owner(self, request: Request, subnet: Subnet, verb: str) -> None:
        """Subnets are changed by the network's owner (Neutron's admin_or_network_owner)."""
        target = {"project_id": subnet.network.project_id}
        authorize(_context(request), f"network:{verb}_subnet", target)

    def create(self, request: Request) -> Response:
        attrs = s.validate(s.SubnetCreate, s.unwrap(request.data, "subnet"))
        project_id = _owner_project(request, attrs, "network:create_subnet")
        network = lookups.network(attrs["network_id"], _scope(request))
        authorize(_context(request), "network:create_subnet", {"project_id": network.project_id})
        optional = {
            key: attrs[key]
            for key in ("name", "description", "gateway_ip", "allocation_pools", "dns_nameservers",
                        "host_routes", "enable_dhcp", "ip_version")
            if key in attrs
        }  # fmt: skip
        subnet = networks.create_subnet(
            project_id=project_id, network=network, cidr=attrs["cidr"], **optional
        )
        return self.created(subnet, request)

    def update(self, request: Request, pk: str) -> Response:
        subnet = lookups.subnet(pk, _scope(request))
        self._network_owner(request, subnet, "update")
        attrs = s.validate(s.SubnetUpdate, s.unwrap(request.data, "subnet"))
        return self.updated(networks.update_subnet(subnet, changes=attrs), request)

    def destroy(self, request: Request, pk: str) -> Response:
        subnet = lookups.subnet(pk, _scope(request))
        self._network_owner(request, subnet, "delete")
        networks.delete_subnet(subnet)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- ports ------------------------------------------------------------------------------------
def _fixed_ip_requests(raw: list[dict[str, Any]]) -> list[ports.FixedIpRequest]:
    return [
        ports.FixedIpRequest(subnet_id=item.get("subnet_id"), ip_address=item.get("ip_address"))
        for item in raw
    ]


@extend_schema_view(
    create=extend_schema(request=s.wrapped("port", s.PortCreate)),
    update=extend_schema(request=s.wrapped("port", s.PortUpdate)),
)
class PortViewSet(ResourceViewSet):
    member = "port"
    collection = "ports"
    model = Port
    render = staticmethod(bodies.port_body)
    find = staticmethod(lookups.port)
    filters = {
        **COMMON_FILTERS,
        "network_id": F("network_id", "uuid"),
        "device_id": F("device_id"),
        "device_owner": F("device_owner"),
        "mac_address": F("mac_address"),
        "status": F("status"),
        "admin_state_up": F("admin_state_up", "bool"),
        "port_security_enabled": F("port_security_enabled", "bool"),
        "security_groups": F("security_groups", "uuid"),
        "binding:vnic_type": F("binding_vnic_type"),
        "fixed_ips": F(method=_ports_with_fixed_ip),
    }
    admin_filters = {"binding:host_id": F("binding_host_id")}
    sort_keys = {**COMMON_SORT, "status": "status", "network_id": "network_id",
                 "device_id": "device_id", "mac_address": "mac_address"}  # fmt: skip

    def list(self, request: Request) -> Response:
        if _context(request).is_admin:
            self.filters = {**self.filters, **self.admin_filters}
        return super().list(request)

    def visible(self, scope: Scope) -> QuerySet[Any]:
        return super().visible(scope).distinct()

    def _owner_only_attrs(
        self, request: Request, attrs: dict[str, Any], network: Network, verb: str
    ) -> None:
        """What Neutron lets only admins (bindings) or the network's owner (MAC, exact
        addresses, network:* owners) set."""
        binding = ["binding:host_id", "binding:profile"]
        _admin_attrs(request, attrs, binding, f"network:{verb}_port:binding")
        owner_only = "mac_address" in attrs or any(
            item.get("ip_address") for item in attrs.get("fixed_ips") or []
        )
        owner_only |= str(attrs.get("device_owner", "")).startswith(NETWORK_OWNER_PREFIX)
        if owner_only:
            authorize(
                _context(request),
                f"network:{verb}_port:network_owner",
                {"project_id": network.project_id},
            )

    def create(self, request: Request) -> Response:
        attrs = s.validate(s.PortCreate, s.unwrap(request.data, "port"))
        project_id = _owner_project(request, attrs, "network:create_port")
        scope = _scope(request)
        network = lookups.network(attrs["network_id"], scope)
        if not (scope.owns(network) or network.shared):
            authorize(_context(request), "network:create_port", {"project_id": network.project_id})
        self._owner_only_attrs(request, attrs, network, "create")
        port = ports.create_port(
            project_id=project_id,
            network=network,
            name=attrs.get("name", ""),
            description=attrs.get("description", ""),
            admin_state_up=attrs.get("admin_state_up", True),
            mac_address=attrs.get("mac_address"),
            fixed_ips=(_fixed_ip_requests(attrs["fixed_ips"]) if "fixed_ips" in attrs else None),
            device_id=attrs.get("device_id", ""),
            device_owner=attrs.get("device_owner", ""),
            binding_host_id=attrs.get("binding:host_id", ""),
            binding_profile=attrs.get("binding:profile") or {},
            port_security_enabled=attrs.get("port_security_enabled"),
            security_groups=attrs.get("security_groups"),
        )
        return self.created(port, request)

    def update(self, request: Request, pk: str) -> Response:
        port = self.owned(request, pk, "update")
        attrs = s.validate(s.PortUpdate, s.unwrap(request.data, "port"))
        self._owner_only_attrs(request, attrs, port.network, "update")
        changes: dict[str, Any] = {}
        renames = {
            "binding:host_id": "binding_host_id",
            "binding:profile": "binding_profile",
            "binding:vnic_type": "binding_vnic_type",
        }
        for key, value in attrs.items():
            if key in ("allowed_address_pairs", "extra_dhcp_opts"):
                continue
            if key == "fixed_ips":
                value = _fixed_ip_requests(value)
            if key == "security_groups" and value is None:
                value = []
            if key == "binding:profile" and value is None:
                value = {}
            changes[renames.get(key, key)] = value
        return self.updated(ports.update_port(port, changes=changes), request)

    def remove(self, obj: Any, request: Request) -> None:
        ports.delete_port(obj, through_api=True)


# --- security groups --------------------------------------------------------------------------
@extend_schema_view(
    create=extend_schema(request=s.wrapped("security_group", s.SecurityGroupCreate)),
    update=extend_schema(request=s.wrapped("security_group", s.SecurityGroupUpdate)),
)
class SecurityGroupViewSet(ResourceViewSet):
    member = "security_group"
    collection = "security_groups"
    model = SecurityGroup
    render = staticmethod(bodies.security_group_body)
    find = staticmethod(lookups.security_group)
    filters = {**COMMON_FILTERS, "stateful": F("stateful", "bool")}
    sort_keys = COMMON_SORT

    def list(self, request: Request) -> Response:
        # Neutron makes the caller's default group on its first look, so it is always listed.
        project_id = _context(request).project_id
        if project_id is not None:
            security.ensure_default_security_group(project_id)
        return super().list(request)

    def create(self, request: Request) -> Response:
        attrs = s.validate(s.SecurityGroupCreate, s.unwrap(request.data, "security_group"))
        project_id = _owner_project(request, attrs, "network:create_security_group")
        group = security.create_security_group(
            project_id=project_id,
            name=attrs.get("name", ""),
            description=attrs.get("description", ""),
            stateful=attrs.get("stateful", True),
        )
        return self.created(group, request)

    def update(self, request: Request, pk: str) -> Response:
        group = self.owned(request, pk, "update")
        attrs = s.validate(s.SecurityGroupUpdate, s.unwrap(request.data, "security_group"))
        return self.updated(security.update_security_group(group, **attrs), request)

    def remove(self, obj: Any, request: Request) -> None:
        security.delete_security_group(obj, by_admin=_context(request).is_admin)


@extend_schema_view(
    create=extend_schema(request=s.wrapped("security_group_rule", s.SecurityGroupRuleCreate)),
)
class SecurityGroupRuleViewSet(ResourceViewSet):
    member = "security_group_rule"
    collection = "security_group_rules"
    model = SecurityGroupRule
    render = staticmethod(bodies.rule_body)
    find = staticmethod(lookups.security_group_rule)
    filters = {
        "id": F("pk", "uuid"),
        "description": F("description"),
        **OWNER_FILTERS,
        "security_group_id": F("security_group_id", "uuid"),
        "direction": F("direction"),
        "ethertype": F("ethertype"),
        "protocol": F("protocol"),
        "port_range_min": F("port_range_min", "int"),
        "port_range_max": F("port_range_max", "int"),
        "remote_ip_prefix": F("remote_ip_prefix"),
        "remote_group_id": F("remote_group_id", "uuid"),
    }
    sort_keys = {"direction": "direction", "protocol": "protocol"}

    def create(self, request: Request) -> Response:
        raw = s.unwrap(request.data, "security_group_rule")
        attrs = s.validate(s.SecurityGroupRuleCreate, raw)
        for ignored in ("project_id", "tenant_id", "remote_address_group_id"):
            attrs.pop(ignored, None)  # a rule is its group's project's; no address groups
        group = lookups.security_group(attrs.pop("security_group_id"), _scope(request))
        authorize(
            _context(request),
            "network:create_security_group_rule",
            {"project_id": group.project_id},
        )
        rule = security.create_security_group_rule(
            group=group, rule=security.RuleRequest(**attrs), scope=_scope(request)
        )
        return self.created(rule, request)

    def remove(self, obj: Any, request: Request) -> None:
        security.delete_security_group_rule(obj)


# --- routers ----------------------------------------------------------------------------------
def _gateway(request: Request, raw: dict[str, Any] | None, verb: str) -> Any:
    if raw is None:
        return None
    if "enable_snat" in raw:
        authorize(_context(request), f"network:{verb}_router:external_gateway_info:enable_snat")
    if raw.get("external_fixed_ips"):
        authorize(
            _context(request), f"network:{verb}_router:external_gateway_info:external_fixed_ips"
        )
    return routers.GatewayRequest(
        network_id=raw["network_id"],
        enable_snat=raw.get("enable_snat"),
        external_fixed_ips=(
            _fixed_ip_requests(raw["external_fixed_ips"]) if raw.get("external_fixed_ips") else None
        ),
    )


@extend_schema_view(
    create=extend_schema(request=s.wrapped("router", s.RouterCreate)),
    update=extend_schema(request=s.wrapped("router", s.RouterUpdate)),
)
class RouterViewSet(ResourceViewSet):
    member = "router"
    collection = "routers"
    model = Router
    render = staticmethod(bodies.router_body)
    find = staticmethod(lookups.router)
    filters = {
        **COMMON_FILTERS,
        "admin_state_up": F("admin_state_up", "bool"),
        "status": F("status"),
        "enable_snat": F("enable_snat", "bool"),
    }
    sort_keys = {**COMMON_SORT, "status": "status"}
    extra_actions = {
        "add_router_interface": "network:add_router_interface",
        "remove_router_interface": "network:remove_router_interface",
    }

    def create(self, request: Request) -> Response:
        attrs = s.validate(s.RouterCreate, s.router_attrs(request.data))
        project_id = _owner_project(request, attrs, "network:create_router")
        router = routers.create_router(
            project_id=project_id,
            scope=_scope(request),
            name=attrs.get("name", ""),
            description=attrs.get("description", ""),
            admin_state_up=attrs.get("admin_state_up", True),
            external_gateway=_gateway(request, attrs.get("external_gateway_info"), "create"),
        )
        return self.created(router, request)

    def update(self, request: Request, pk: str) -> Response:
        router = self.owned(request, pk, "update")
        attrs = s.validate(s.RouterUpdate, s.router_attrs(request.data))
        attrs.pop("routes", None)
        gateway: Any = routers.UNSET
        if "external_gateway_info" in attrs:
            gateway = _gateway(request, attrs.pop("external_gateway_info"), "update")
        router = routers.update_router(
            router, scope=_scope(request), changes=attrs, external_gateway=gateway
        )
        return self.updated(router, request)

    def remove(self, obj: Any, request: Request) -> None:
        routers.delete_router(obj)

    def _interface(self, request: Request, pk: str, verb: str) -> tuple[Router, dict[str, Any]]:
        router = type(self).find(pk, _scope(request))
        authorize(_context(request), f"network:{verb}", {"project_id": router.project_id})
        if not isinstance(request.data, dict):
            raise InvalidInput("A router interface is {'subnet_id': ...} or {'port_id': ...}")
        return router, s.validate(s.RouterInterface, request.data)

    @extend_schema(request=s.RouterInterface)
    @action(detail=True, methods=["put"], url_path="add_router_interface")
    def add_router_interface(self, request: Request, pk: str) -> Response:
        router, attrs = self._interface(request, pk, "add_router_interface")
        info = routers.add_router_interface(router, scope=_scope(request), **attrs)
        return Response(info)

    @extend_schema(request=s.RouterInterface)
    @action(detail=True, methods=["put"], url_path="remove_router_interface")
    def remove_router_interface(self, request: Request, pk: str) -> Response:
        router, attrs = self._interface(request, pk, "remove_router_interface")
        return Response(routers.remove_router_interface(router, **attrs))


@extend_schema_view(
    create=extend_schema(request=s.wrapped("floatingip", s.FloatingIPCreate)),
    update=extend_schema(request=s.wrapped("floatingip", s.FloatingIPUpdate)),
)
class FloatingIPViewSet(ResourceViewSet):
    member = "floatingip"
    collection = "floatingips"
    model = FloatingIP
    render = staticmethod(bodies.floating_ip_body)
    find = staticmethod(lookups.floating_ip)
    filters = {
        "id": F("pk", "uuid"),
        "description": F("description"),
        **OWNER_FILTERS,
        "port_id": F("port_id", "uuid"),
        "router_id": F("router_id", "uuid"),
        "floating_network_id": F("floating_network_id", "uuid"),
        "floating_ip_address": F("floating_ip_address", "ip"),
        "fixed_ip_address": F("fixed_ip_address", "ip"),
        "status": F("status"),
    }
    sort_keys = {"floating_ip_address": "floating_ip_address", "status": "status",
                 "project_id": "project_id", "tenant_id": "project_id"}  # fmt: skip

    def create(self, request: Request) -> Response:
        attrs = s.validate(s.FloatingIPCreate, s.unwrap(request.data, "floatingip"))
        project_id = _owner_project(request, attrs, "network:create_floatingip")
        if attrs.get("floating_ip_address") is not None:
            authorize(_context(request), "network:create_floatingip:floating_ip_address")
        floating = routers.create_floating_ip(
            project_id=project_id,
            scope=_scope(request),
            floating_network_id=attrs["floating_network_id"],
            subnet_id=attrs.get("subnet_id"),
            floating_ip_address=attrs.get("floating_ip_address"),
            port_id=attrs.get("port_id"),
            fixed_ip_address=attrs.get("fixed_ip_address"),
            description=attrs.get("description", ""),
        )
        return self.created(floating, request)

    def update(self, request: Request, pk: str) -> Response:
        floating = self.owned(request, pk, "update")
        attrs = s.validate(s.FloatingIPUpdate, s.unwrap(request.data, "floatingip"))
        floating = routers.update_floating_ip(
            floating,
            scope=_scope(request),
            port_id=attrs.get("port_id", routers.UNSET),
            fixed_ip_address=attrs.get("fixed_ip_address"),
            description=attrs.get("description", routers.UNSET),
        )
        return self.updated(floating, request)

    def remove(self, obj: Any, request: Request) -> None:
        routers.delete_floating_ip(obj)


# --- tags -------------------------------------------------------------------------------------
TAGGED: dict[str, type[ResourceViewSet]] = {
    "networks": NetworkViewSet,
    "subnets": SubnetViewSet,
    "ports": PortViewSet,
    "security-groups": SecurityGroupViewSet,
    "routers": RouterViewSet,
    "floatingips": FloatingIPViewSet,
}


class TagsView(NeutronAPIMixin, APIView):
    """``/v2.0/{collection}/{id}/tags[/{tag}]``: read with the resource's read policy, change
    with its update policy (the resource's project the target)."""

    collection = "networks"
    policy_actions: dict[str, str] = {}

    @classmethod
    def for_collection(cls, collection: str) -> Callable[..., Any]:
        member = TAGGED[collection].member
        actions = {
            "get": f"network:get_{member}",
            "put": f"network:update_{member}",
            "delete": f"network:update_{member}",
            # not served: pass on the read policy to get their 405
            "post": f"network:get_{member}",
            "patch": f"network:get_{member}",
        }
        return cls.as_view(collection=collection, policy_actions=actions)

    def _resource(self, request: Request, resource_id: str, *, write: bool) -> Any:
        viewset = TAGGED[self.collection]
        obj = viewset.find(resource_id, _scope(request))
        if write:
            target = {"project_id": obj.project_id}
            if self.collection == "subnets":
                target = {"project_id": obj.network.project_id}
            authorize(_context(request), self.policy_actions["put"], target)
        return obj

    def get(self, request: Request, resource_id: str, tag: str | None = None) -> Response:
        obj = self._resource(request, resource_id, write=False)
        if tag is None:
            return Response({"tags": list(obj.tags)})
        tags.has_tag(obj, tag, resource=TAGGED[self.collection].member)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.TagsBody)
    def put(self, request: Request, resource_id: str, tag: str | None = None) -> Response:
        obj = self._resource(request, resource_id, write=True)
        if tag is None:
            return Response({"tags": tags.replace_tags(obj, s.tags_body(request.data))})
        tags.add_tag(obj, s.check_tag(tag))
        return Response(status=status.HTTP_201_CREATED)

    def delete(self, request: Request, resource_id: str, tag: str | None = None) -> Response:
        obj = self._resource(request, resource_id, write=True)
        if tag is None:
            tags.replace_tags(obj, [])
        else:
            tags.remove_tag(obj, tag, resource=TAGGED[self.collection].member)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- quotas -----------------------------------------------------------------------------------
class QuotaViewSet(NeutronAPIMixin, ViewSet):
    """``/v2.0/quotas[/{project_id}[/default|/details]]``: a project's readers see its network
    quotas, admins see and set anyone's (the target project is part of the rule)."""

    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "network:get_quotas",
        "retrieve": "network:get_quota",
        "default": "network:get_quota",
        "details": "network:get_quota",
        "update": "network:update_quota",
        "destroy": "network:delete_quota",
        **dict.fromkeys(("post", "put", "patch", "delete"), "network:get_quota"),
    }

    def _target(self, request: Request, project_id: str) -> None:
        authorize(_context(request), self.policy_actions[self.action], {"project_id": project_id})

    def list(self, request: Request) -> Response:
        return Response(
            {
                "quotas": [
                    {"project_id": pid, "tenant_id": pid, **quotas.get_network_limits(pid)}
                    for pid in quotas.projects_with_network_quotas()
                ]
            }
        )

    def retrieve(self, request: Request, pk: str) -> Response:
        self._target(request, pk)
        return Response({"quota": quotas.get_network_limits(pk)})

    @action(detail=True, methods=["get"], url_path="default")
    def default(self, request: Request, pk: str) -> Response:
        self._target(request, pk)
        return Response({"quota": quotas.network_default_limits()})

    @action(detail=True, methods=["get"], url_path="details")
    def details(self, request: Request, pk: str) -> Response:
        self._target(request, pk)
        limits = quotas.get_network_limits(pk)
        used = count_network_resources(pk)
        return Response(
            {
                "quota": {
                    name: {"limit": limit, "used": used.get(name, 0), "reserved": 0}
                    for name, limit in limits.items()
                }
            }
        )

    @extend_schema(request=s.QuotaBody)
    def update(self, request: Request, pk: str) -> Response:
        self._target(request, pk)
        body = s.unwrap(request.data, "quota")
        field = QuotaValueField()
        limits: dict[str, int] = {}
        for name, raw in body.items():
            try:
                limits[name] = field.to_internal_value(raw)
            except ValidationError as exc:
                reason = exc.detail[0] if isinstance(exc.detail, list) else exc.detail
                raise InvalidInput(f"Invalid value for {name}: {reason}") from None
        project = Project.objects.filter(pk=pk).first()
        if project is None:
            raise InvalidInput(f"Project {pk} does not exist")
        return Response({"quota": quotas.update_network_quotas(project=project, limits=limits)})

    def destroy(self, request: Request, pk: str) -> Response:
        self._target(request, pk)
        project = Project.objects.filter(pk=pk).first()
        if project is not None:
            quotas.revert_network_quotas(project=project)
        return Response(status=status.HTTP_204_NO_CONTENT)
