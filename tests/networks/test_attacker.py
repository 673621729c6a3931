"""The network API as an attacker sees it: another project's ids answer exactly as made-up
ones (no oracle), a reader's writes are 403s that change nothing, what only admins or a
network's owner may set is refused, and malformed or oversized requests are 400s and 413s in
Neutron's shape, never 500s."""

import json
import uuid

import pytest
from django.conf import settings

from apps.networks.models import Network, Port, Router, SecurityGroup, Subnet
from tests.networks.conftest import API, create, neutron_error, ok

pytestmark = pytest.mark.django_db

MADE_UP = "6f1c9d61-0a4e-4a43-9a56-7f3c2b1e5a01"


@pytest.fixture
def victim(make_caller, admin):
    """Project A with one of every network resource (an external network of the admin's)."""
    a = make_caller("member")
    public = create(
        admin.client, "networks", "network", name="public",
        **{"router:external": True, "provider:network_type": "flat",
           "provider:physical_network": "public"},
    )  # fmt: skip
    create(admin.client, "subnets", "subnet", network_id=public["id"], cidr="203.0.113.0/24")
    network = create(a.client, "networks", "network", name="a-secret-net")
    subnet = create(a.client, "subnets", "subnet", network_id=network["id"], cidr="10.0.0.0/24",
                    name="a-secret-subnet")  # fmt: skip
    port = create(a.client, "ports", "port", network_id=network["id"], name="a-secret-port")
    group = create(a.client, "security-groups", "security_group", name="a-secret-group")
    rule = create(a.client, "security-group-rules", "security_group_rule",
                  security_group_id=group["id"], direction="ingress", protocol="tcp",
                  port_range_min=22, port_range_max=22)  # fmt: skip
    router = create(a.client, "routers", "router", name="a-secret-router",
                    external_gateway_info={"network_id": public["id"]})  # fmt: skip
    ok(a.client.put(f"{API}/routers/{router['id']}/add_router_interface",
                    {"subnet_id": subnet["id"]}, format="json"))  # fmt: skip
    floating = create(a.client, "floatingips", "floatingip", floating_network_id=public["id"],
                      port_id=port["id"])  # fmt: skip
    return {
        "caller": a,
        "networks": network["id"],
        "subnets": subnet["id"],
        "ports": port["id"],
        "security-groups": group["id"],
        "security-group-rules": rule["id"],
        "routers": router["id"],
        "floatingips": floating["id"],
    }


COLLECTIONS = [
    "networks", "subnets", "ports", "security-groups", "security-group-rules", "routers",
    "floatingips",
]  # fmt: skip
MEMBER = {
    "networks": "network", "subnets": "subnet", "ports": "port",
    "security-groups": "security_group", "security-group-rules": "security_group_rule",
    "routers": "router", "floatingips": "floatingip",
}  # fmt: skip


def _same_404(real, made_up, real_id):
    """Both 404s in the same words, but for the id each request named."""
    assert real.status_code == made_up.status_code == 404
    assert real.json() == json.loads(made_up.content.decode().replace(MADE_UP, real_id))


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_another_projects_ids_are_unknown_ids(victim, member, collection):
    real_id = victim[collection]
    for method, suffix, body in [
        ("get", "", None),
        ("put", "", {MEMBER[collection]: {"name": "stolen"}}),
        ("delete", "", None),
        ("get", "/tags", None),
        ("put", "/tags", {"tags": ["stolen"]}),
    ]:
        if collection == "security-group-rules" and (suffix or method == "put"):
            continue
        call = getattr(member.client, method)
        real = call(f"{API}/{collection}/{real_id}{suffix}", body, format="json")
        made_up = call(f"{API}/{collection}/{MADE_UP}{suffix}", body, format="json")
        _same_404(real, made_up, real_id)
    listed = ok(member.client.get(f"{API}/{collection}"))[collection.replace("-", "_")]
    assert real_id not in {item["id"] for item in listed}
    assert b"a-secret" not in member.client.get(f"{API}/{collection}").content
    # a marker of theirs is a marker nobody has
    real = member.client.get(f"{API}/{collection}?limit=1&marker={real_id}")
    made_up = member.client.get(f"{API}/{collection}?limit=1&marker={MADE_UP}")
    assert real.status_code == made_up.status_code == 400


def test_nothing_of_theirs_is_changed(victim, member):
    assert Network.objects.get(pk=victim["networks"]).name == "a-secret-net"
    assert Port.objects.filter(pk=victim["ports"]).exists()
    assert Router.objects.get(pk=victim["routers"]).tags == []


def test_their_ids_in_request_bodies_are_unknown_too(victim, member):
    mine = create(member.client, "networks", "network", name="mine")
    create(member.client, "subnets", "subnet", network_id=mine["id"], cidr="10.1.0.0/24")
    router = create(member.client, "routers", "router", name="mine")
    cases = [
        ("post", "ports", {"port": {"network_id": victim["networks"]}}, "NetworkNotFound"),
        ("post", "subnets", {"subnet": {"network_id": victim["networks"], "cidr": "10.5.0.0/24"}},
         "NetworkNotFound"),
        ("post", "ports", {"port": {"network_id": mine["id"],
                                     "security_groups": [victim["security-groups"]]}},
         "SecurityGroupNotFound"),
        ("post", "security-group-rules",
         {"security_group_rule": {"security_group_id": victim["security-groups"],
                                  "direction": "ingress"}}, "SecurityGroupNotFound"),
        ("put", f"routers/{router['id']}/add_router_interface", {"subnet_id": victim["subnets"]},
         "SubnetNotFound"),
        ("put", f"routers/{router['id']}/add_router_interface", {"port_id": victim["ports"]},
         "PortNotFound"),
    ]  # fmt: skip
    for method, path, body, kind in cases:
        response = getattr(member.client, method)(f"{API}/{path}", body, format="json")
        neutron_error(response, 404, kind)
    assert Port.objects.filter(project=member.project).count() == 0


def test_a_floating_ip_cannot_take_another_projects_port(victim, member):
    public = Network.objects.get(name="public")
    floating = create(member.client, "floatingips", "floatingip",
                      floating_network_id=str(public.pk))  # fmt: skip
    response = member.client.put(
        f"{API}/floatingips/{floating['id']}",
        {"floatingip": {"port_id": victim["ports"]}},
        format="json",
    )
    neutron_error(response, 404, "PortNotFound")


def test_a_shared_network_is_seen_but_not_changed_by_others(admin, member):
    shared = create(admin.client, "networks", "network", name="shared", shared=True)
    assert ok(member.client.get(f"{API}/networks/{shared['id']}"))["network"]["shared"] is True
    for call, body in [
        (member.client.put, {"network": {"name": "mine now"}}),
        (member.client.delete, None),
    ]:
        neutron_error(call(f"{API}/networks/{shared['id']}", body, format="json"), 403)
    response = member.client.post(
        f"{API}/subnets",
        {"subnet": {"network_id": shared["id"], "cidr": "10.7.0.0/24"}},
        format="json",
    )
    neutron_error(response, 403)
    neutron_error(
        member.client.put(f"{API}/networks/{shared['id']}/tags", {"tags": ["x"]}, format="json"),
        403,
    )
    assert Network.objects.get(pk=shared["id"]).name == "shared"


def test_a_readers_writes_are_403s_that_change_nothing(member, reader):
    network = create(member.client, "networks", "network", name="n")
    subnet = create(member.client, "subnets", "subnet", network_id=network["id"],
                    cidr="10.0.0.0/24")  # fmt: skip
    port = create(member.client, "ports", "port", network_id=network["id"])
    group = create(member.client, "security-groups", "security_group", name="g")
    router = create(member.client, "routers", "router", name="r")
    writes = [
        ("post", "networks", {"network": {"name": "x"}}),
        ("put", f"networks/{network['id']}", {"network": {"name": "x"}}),
        ("delete", f"networks/{network['id']}", None),
        ("post", "subnets", {"subnet": {"network_id": network["id"], "cidr": "10.3.0.0/24"}}),
        ("delete", f"subnets/{subnet['id']}", None),
        ("post", "ports", {"port": {"network_id": network["id"]}}),
        ("put", f"ports/{port['id']}", {"port": {"name": "x"}}),
        ("delete", f"ports/{port['id']}", None),
        ("post", "security-groups", {"security_group": {"name": "x"}}),
        ("delete", f"security-groups/{group['id']}", None),
        ("post", "security-group-rules",
         {"security_group_rule": {"security_group_id": group["id"], "direction": "ingress"}}),
        ("post", "routers", {"router": {"name": "x"}}),
        ("put", f"routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]}),
        ("delete", f"routers/{router['id']}", None),
        ("put", f"networks/{network['id']}/tags", {"tags": ["x"]}),
        ("put", f"networks/{network['id']}/tags/x", None),
        ("put", f"quotas/{member.project.pk}", {"quota": {"network": 1}}),
    ]  # fmt: skip
    before = [m.objects.count() for m in (Network, Subnet, Port, SecurityGroup, Router)]
    for method, path, body in writes:
        response = getattr(reader.client, method)(f"{API}/{path}", body, format="json")
        neutron_error(response, 403, "PolicyNotAuthorized")
    assert [m.objects.count() for m in (Network, Subnet, Port, SecurityGroup, Router)] == before
    assert Network.objects.get(pk=network["id"]).tags == []
    # reads are allowed
    ok(reader.client.get(f"{API}/networks/{network['id']}"))


def test_a_member_may_not_create_for_another_project(member, make_caller):
    other = make_caller("member")
    for collection, body in [
        ("networks", {"network": {"project_id": other.project.pk}}),
        ("security-groups", {"security_group": {"name": "x", "tenant_id": other.project.pk}}),
        ("routers", {"router": {"project_id": other.project.pk}}),
    ]:
        response = member.client.post(f"{API}/{collection}", body, format="json")
        neutron_error(response, 403, "PolicyNotAuthorized")
    assert not Network.objects.exists()


def test_an_admin_creates_for_an_existing_project_only(admin, member):
    made = create(admin.client, "networks", "network", project_id=member.project.pk)
    assert made["project_id"] == member.project.pk
    response = admin.client.post(
        f"{API}/networks", {"network": {"project_id": "no-such-project"}}, format="json"
    )
    neutron_error(response, 400)
    response = admin.client.post(
        f"{API}/networks",
        {"network": {"project_id": member.project.pk, "tenant_id": "x"}},
        format="json",
    )
    neutron_error(response, 400)


def test_service_owned_ports_are_the_network_owners_to_make(admin, member):
    shared = create(admin.client, "networks", "network", name="shared", shared=True)
    response = member.client.post(
        f"{API}/ports",
        {"port": {"network_id": shared["id"], "device_owner": "network:router_interface"}},
        format="json",
    )
    neutron_error(response, 403)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"network": []}',
        '{"networks": {}}',
        '{"network": {}, "extra": 1}',
        '{"network": {"name": 5, "nonsense": true}}',
        '{"network": {"admin_state_up": "perhaps"}}',
        '{"network": {"mtu": "big"}}',
        '{"network": {"name": "' + "x" * 256 + '"}}',
        '{"network": {"name": "nul\\u0000byte"}}',
        "[" * 100000 + "]" * 100000,
        '{"network": {"name": NaN}}',
    ],
)
def test_malformed_network_creates_are_400s(member, body):
    response = member.client.generic(
        "POST", f"{API}/networks", body.encode(), content_type="application/json"
    )
    assert response.status_code in (400, 413), response.content[:300]
    neutron_error(response, response.status_code)
    assert not Network.objects.exists()


@pytest.mark.parametrize(
    ("collection", "attrs"),
    [
        ("ports", {"network_id": "not-a-uuid"}),
        ("ports", {"network_id": MADE_UP, "fixed_ips": [{"subnet_id": "x"}]}),
        ("ports", {"network_id": MADE_UP, "fixed_ips": "all"}),
        ("ports", {"network_id": MADE_UP, "allowed_address_pairs": [{"ip_address": "1.2.3.4"}]}),
        ("subnets", {"network_id": MADE_UP}),
        ("subnets", {"network_id": MADE_UP, "cidr": "10.0.0.0/24", "allocation_pools": [{}]}),
        ("security-group-rules", {"security_group_id": MADE_UP}),
        ("security-group-rules", {"security_group_id": MADE_UP, "direction": "ingress",
                                  "port_range_min": "x"}),
        ("floatingips", {"floating_network_id": "public"}),
        ("routers", {"external_gateway_info": {"network_id": "x"}}),
    ],
)  # fmt: skip
def test_malformed_attributes_are_400s(member, collection, attrs):
    response = member.client.post(f"{API}/{collection}", {MEMBER[collection]: attrs}, format="json")
    neutron_error(response, 400)


def test_an_oversized_body_is_a_413_in_neutrons_shape(member):
    body = {"network": {"name": "big", "description": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}}
    response = member.client.generic(
        "POST", f"{API}/networks", json.dumps(body).encode(), content_type="application/json"
    )
    neutron_error(response, 413, "HTTPRequestEntityTooLarge")
    assert not Network.objects.exists()


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("bad_id", ["by-name", "1", "x" * 300, "%00", uuid.uuid4().hex[:10]])
def test_names_and_garbage_ids_are_404s(member, collection, bad_id):
    neutron_error(member.client.get(f"{API}/{collection}/{bad_id}"), 404)


@pytest.mark.parametrize(
    "query",
    [
        "limit=x", "limit=-1", "sort_key=secret", "sort_key=name&sort_dir=sideways",
        "sort_key=name&sort_key=id&sort_dir=asc", "marker=x&limit=1", "admin_state_up=2",
    ],
)  # fmt: skip
def test_bad_list_queries_are_400s(member, query):
    neutron_error(member.client.get(f"{API}/networks?{query}"), 400)
