"""Request bodies of the network API: one strict serializer per resource and verb.

Bodies are wrapped (``{"network": {...}}``); `unwrap` takes the member out and refuses
anything else. Unknown attributes are a 400 (`StrictSerializer`), as are attributes of the
wrong type. Neutron's names with a colon (``router:external``, ``binding:host_id``,
``provider:network_type``) are field names as they are. Who may set what (admin-only
attributes) is the views' business, against the policy table.
"""

import uuid
from typing import Any

from rest_framework import serializers

from apps.networks.choices import MAX_TAG_LENGTH, MAX_TAGS
from apps.networks.exceptions import InvalidInput
from computecloud.api.serializers import StrictSerializer

NAME_LENGTH = 255
MAX_LIST = 1000


def unwrap(data: Any, member: str) -> dict[str, Any]:
    """The resource's attributes from ``{member: {...}}``."""
    if not isinstance(data, dict) or member not in data:
        raise InvalidInput(f"Unable to find '{member}' in request body")
    extra = sorted(set(data) - {member})
    if extra:
        raise InvalidInput(f"Unrecognized attribute(s) '{', '.join(extra)}'")
    inner = data[member]
    if not isinstance(inner, dict):
        raise InvalidInput(f"'{member}' must be an object")
    return inner


def validate(serializer_class: type[serializers.Serializer], data: dict[str, Any]) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _uuid(value: Any) -> None:
    try:
        uuid.UUID(str(value))
    except ValueError:
        raise serializers.ValidationError(f"'{value}' is not a valid UUID") from None


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        max_length=NAME_LENGTH, allow_blank=True, trim_whitespace=False, **kwargs
    )


def _uuid_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(validators=[_uuid], **kwargs)


def _empty_list(value: Any) -> None:
    if value:
        raise serializers.ValidationError("is not supported here: only [] is accepted")


def _not_served(value: Any) -> None:
    raise serializers.ValidationError("is not supported here: only null is accepted")


def _null_only() -> serializers.JSONField:
    """An attribute clients may send as null (or leave out) and nothing else."""
    return serializers.JSONField(required=False, allow_null=True, validators=[_not_served])


def _body(name: str, fields: dict[str, serializers.Field]) -> type[StrictSerializer]:
    return type(name, (StrictSerializer,), dict(fields))


def _owner_fields() -> dict[str, serializers.Field]:
    return {
        "project_id": serializers.CharField(max_length=64, required=False),
        "tenant_id": serializers.CharField(max_length=64, required=False),
    }


def _common(*, create: bool) -> dict[str, serializers.Field]:
    fields: dict[str, serializers.Field] = {
        "name": _text(required=False),
        "description": _text(required=False),
    }
    if create:
        fields.update(_owner_fields())
    return fields


# --- networks ---------------------------------------------------------------------------------
def _network_fields(*, create: bool) -> dict[str, serializers.Field]:
    fields = _common(create=create)
    fields.update(
        {
            "admin_state_up": serializers.BooleanField(required=False),
            "shared": serializers.BooleanField(required=False),
            "router:external": serializers.BooleanField(required=False),
            "mtu": serializers.IntegerField(required=False, min_value=0, max_value=65535),
            "port_security_enabled": serializers.BooleanField(required=False),
        }
    )
    if create:
        fields.update(
            {
                "provider:network_type": serializers.CharField(max_length=16, required=False),
                "provider:physical_network": serializers.CharField(
                    max_length=64, required=False, allow_null=True
                ),
                "provider:segmentation_id": serializers.IntegerField(
                    required=False, allow_null=True, min_value=0
                ),
            }
        )
    return fields


NetworkCreate = _body("NetworkCreate", _network_fields(create=True))
NetworkUpdate = _body("NetworkUpdate", _network_fields(create=False))


# --- subnets ----------------------------------------------------------------------------------
class PoolSerializer(StrictSerializer):
    start = serializers.CharField(max_length=64)
    end = serializers.CharField(max_length=64)


class HostRouteSerializer(StrictSerializer):
    destination = serializers.CharField(max_length=64)
    nexthop = serializers.CharField(max_length=64)


def _subnet_fields(*, create: bool) -> dict[str, serializers.Field]:
    fields = _common(create=create)
    fields.update(
        {
            "gateway_ip": serializers.CharField(max_length=64, required=False, allow_null=True),
            "dns_nameservers": serializers.ListField(
                child=serializers.CharField(max_length=64), required=False, max_length=MAX_LIST
            ),
            "host_routes": serializers.ListField(
                child=HostRouteSerializer(), required=False, max_length=MAX_LIST
            ),
            "enable_dhcp": serializers.BooleanField(required=False),
        }
    )
    if create:
        fields.update(
            {
                "network_id": _uuid_field(),
                "cidr": serializers.CharField(max_length=64),
                "ip_version": serializers.ChoiceField(choices=[4, 6], required=False),
                "allocation_pools": serializers.ListField(
                    child=PoolSerializer(), required=False, max_length=MAX_LIST
                ),
                "ipv6_ra_mode": _null_only(),
                "ipv6_address_mode": _null_only(),
                "subnetpool_id": _null_only(),
                "service_types": serializers.ListField(required=False, validators=[_empty_list]),
            }
        )
    return fields


SubnetCreate = _body("SubnetCreate", _subnet_fields(create=True))
SubnetUpdate = _body("SubnetUpdate", _subnet_fields(create=False))


# --- ports ------------------------------------------------------------------------------------
class FixedIpSerializer(StrictSerializer):
    subnet_id = _uuid_field(required=False)
    ip_address = serializers.CharField(max_length=64, required=False)


def _port_fields(*, create: bool) -> dict[str, serializers.Field]:
    fields = _common(create=create)
    fields.update(
        {
            "admin_state_up": serializers.BooleanField(required=False),
            "mac_address": serializers.CharField(max_length=17, required=False),
            "fixed_ips": serializers.ListField(
                child=FixedIpSerializer(), required=False, max_length=MAX_LIST
            ),
            "device_id": _text(required=False),
            "device_owner": _text(required=False),
            "security_groups": serializers.ListField(
                child=serializers.CharField(max_length=NAME_LENGTH),
                required=False,
                allow_null=True,
                max_length=MAX_LIST,
            ),
            "port_security_enabled": serializers.BooleanField(required=False),
            "binding:host_id": _text(required=False),
            "binding:profile": serializers.DictField(required=False, allow_null=True),
            "binding:vnic_type": serializers.ChoiceField(choices=["normal"], required=False),
            "allowed_address_pairs": serializers.ListField(
                required=False, validators=[_empty_list]
            ),
            "extra_dhcp_opts": serializers.ListField(required=False, validators=[_empty_list]),
        }
    )
    if create:
        fields["network_id"] = _uuid_field()
    return fields


PortCreate = _body("PortCreate", _port_fields(create=True))
PortUpdate = _body("PortUpdate", _port_fields(create=False))


# --- security groups --------------------------------------------------------------------------
def _group_fields(*, create: bool) -> dict[str, serializers.Field]:
    fields = _common(create=create)
    fields["stateful"] = serializers.BooleanField(required=False)
    return fields


SecurityGroupCreate = _body("SecurityGroupCreate", _group_fields(create=True))
SecurityGroupUpdate = _body("SecurityGroupUpdate", _group_fields(create=False))


class ProtocolField(serializers.Field):
    """A protocol name, number (as an int or a string) or null."""

    def to_internal_value(self, data: Any) -> str | int | None:
        if isinstance(data, bool) or not isinstance(data, str | int):
            raise serializers.ValidationError("must be a protocol name or number")
        if isinstance(data, str) and len(data) > 16:
            raise serializers.ValidationError("is too long")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


SecurityGroupRuleCreate = _body(
    "SecurityGroupRuleCreate",
    {
        **_owner_fields(),
        "security_group_id": _uuid_field(),
        "direction": serializers.CharField(max_length=16),
        "ethertype": serializers.CharField(max_length=16, required=False),
        "protocol": ProtocolField(required=False, allow_null=True),
        "port_range_min": serializers.IntegerField(required=False, allow_null=True, min_value=0),
        "port_range_max": serializers.IntegerField(required=False, allow_null=True, min_value=0),
        "remote_ip_prefix": serializers.CharField(max_length=64, required=False, allow_null=True),
        "remote_group_id": _uuid_field(required=False, allow_null=True),
        "remote_address_group_id": _null_only(),
        "description": _text(required=False),
    },
)


# --- routers and floating IPs -----------------------------------------------------------------
class GatewayInfoSerializer(StrictSerializer):
    network_id = _uuid_field()
    enable_snat = serializers.BooleanField(required=False)
    external_fixed_ips = serializers.ListField(
        child=FixedIpSerializer(), required=False, max_length=MAX_LIST
    )


def router_attrs(data: Any) -> dict[str, Any]:
    """A router body's attributes; an empty ``external_gateway_info`` (what ``openstack
    router unset --external-gateway`` sends) clears the gateway, as null does."""
    attrs = dict(unwrap(data, "router"))
    if attrs.get("external_gateway_info") == {}:
        attrs["external_gateway_info"] = None
    return attrs


def _router_fields(*, create: bool) -> dict[str, serializers.Field]:
    fields = _common(create=create)
    fields.update(
        {
            "admin_state_up": serializers.BooleanField(required=False),
            "external_gateway_info": GatewayInfoSerializer(required=False, allow_null=True),
        }
    )
    if not create:
        fields["routes"] = serializers.ListField(required=False, validators=[_empty_list])
    return fields


RouterCreate = _body("RouterCreate", _router_fields(create=True))
RouterUpdate = _body("RouterUpdate", _router_fields(create=False))


class RouterInterface(StrictSerializer):
    subnet_id = _uuid_field(required=False)
    port_id = _uuid_field(required=False)


FloatingIPCreate = _body(
    "FloatingIPCreate",
    {
        **_owner_fields(),
        "floating_network_id": _uuid_field(),
        "subnet_id": _uuid_field(required=False, allow_null=True),
        "floating_ip_address": serializers.CharField(
            max_length=64, required=False, allow_null=True
        ),
        "port_id": _uuid_field(required=False, allow_null=True),
        "fixed_ip_address": serializers.CharField(max_length=64, required=False, allow_null=True),
        "description": _text(required=False),
    },
)


class FloatingIPUpdate(StrictSerializer):
    port_id = _uuid_field(required=False, allow_null=True)
    fixed_ip_address = serializers.CharField(max_length=64, required=False, allow_null=True)
    description = _text(required=False)


# --- the wrapped bodies, as the API document describes them -----------------------------------
def wrapped(member: str, inner: type[serializers.Serializer]) -> type[StrictSerializer]:
    """``{member: {...inner...}}``: what a create or update takes (`unwrap` reads it)."""
    return _body(f"{inner.__name__}Request", {member: inner()})


class TagsBody(StrictSerializer):
    tags = serializers.ListField(child=serializers.CharField(max_length=MAX_TAG_LENGTH))


class QuotaBody(StrictSerializer):
    quota = serializers.DictField(child=serializers.IntegerField(min_value=-1))


# --- tags -------------------------------------------------------------------------------------
def check_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LENGTH:
        raise InvalidInput(f"'{tag}' is not a valid tag: 1 to {MAX_TAG_LENGTH} characters")
    return tag


def tags_body(data: Any) -> list[str]:
    """``{"tags": [...]}`` of a PUT replacing all tags."""
    if not isinstance(data, dict) or set(data) != {"tags"} or not isinstance(data["tags"], list):
        raise InvalidInput("Invalid tags body: {'tags': [tag, ...]} is expected")
    tags = [check_tag(tag) for tag in data["tags"]]
    if len(set(tags)) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags per resource")
    return list(dict.fromkeys(tags))
