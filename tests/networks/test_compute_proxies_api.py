"""The Compute API's network proxies (apps/networks/api/compute.py), as Tempest's compute
security-group and tenant-network classes call them: os-tenant-networks, os-security-groups,
os-security-group-rules (2.1-2.35), a server's os-security-groups and the addSecurityGroup /
removeSecurityGroup actions; each as an attacker too."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from apps.networks import services
from apps.networks.models import Port, SecurityGroupRule
from apps.servers.choices import PowerState, VmState
from apps.servers.models import Server

pytestmark = pytest.mark.django_db

C = "/compute/v2.1"
OLD = {"HTTP_OPENSTACK_API_VERSION": "compute 2.35"}
NEW = {"HTTP_OPENSTACK_API_VERSION": "compute 2.36"}
MADE_UP = "3f1e9a52-7b4c-4d7e-9a51-0c2d4e6f8a10"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.json() if response.content else None


def post(client: Any, path: str, body: Any, status: int = 200, **headers: Any) -> Any:
    return ok(client.post(f"{C}{path}", body, format="json", **(headers or OLD)), status)


def group(client: Any, name: str, description: str = "d") -> dict[str, Any]:
    body = {"security_group": {"name": name, "description": description}}
    return post(client, "/os-security-groups", body)["security_group"]


def rule(client: Any, status: int = 200, **fields: Any) -> Any:
    body = post(client, "/os-security-group-rules", {"security_group_rule": fields}, status)
    return body["security_group_rule"] if status == 200 else body


def server_with_port(caller: Any, network: Any) -> Server:
    server = Server.objects.create(
        name=f"s-{uuid.uuid4().hex[:6]}",
        project=caller.project,
        user_id=str(caller.user.pk),
        flavor_id="f1",
        reservation_id=f"r-{uuid.uuid4().hex[:8]}",
        vm_state=VmState.ACTIVE,
        power_state=PowerState.RUNNING,
        host="host-1",
        node="host-1",
    )
    services.allocate_for_instance(
        project_id=caller.project.pk,
        instance_uuid=str(server.uuid),
        hostname=server.name,
        nics=[services.NicRequest(network_id=str(network.pk))],
        host="host-1",
        availability_zone="nova",
        security_groups=[],
    )
    return server


# --- os-tenant-networks -------------------------------------------------------------------------
def test_tenant_networks_list_the_projects_and_the_shared_ones(member, make_caller, make_network):
    own, subnet = make_network(member.project, name="own", cidr="10.9.0.0/24")
    bare, _ = make_network(member.project, name="bare", cidr=None)
    other = make_caller()
    theirs, _ = make_network(other.project, name="theirs")
    shared, _ = make_network(other.project, name="shared", shared=True, cidr="10.8.0.0/24")

    listed = ok(member.client.get(f"{C}/os-tenant-networks", **OLD))["networks"]
    assert sorted(listed, key=lambda n: n["label"]) == [
        {"id": str(bare.pk), "cidr": None, "label": "bare"},
        {"id": str(own.pk), "cidr": "10.9.0.0/24", "label": "own"},
        {"id": str(shared.pk), "cidr": "10.8.0.0/24", "label": "shared"},
    ]
    shown = ok(member.client.get(f"{C}/os-tenant-networks/{own.pk}", **OLD))["network"]
    assert shown == {"id": str(own.pk), "cidr": subnet.cidr, "label": "own"}
    # another project's network answers as a made-up one, or as no id at all
    for unknown in (theirs.pk, MADE_UP, "not-a-uuid"):
        assert member.client.get(f"{C}/os-tenant-networks/{unknown}", **OLD).status_code == 404
    # gone from 2.36, as in Nova
    assert member.client.get(f"{C}/os-tenant-networks", **NEW).status_code == 404


def test_os_networks_shows_the_same_networks_in_nova_networks_shape(
    member, make_caller, make_network
):
    own, _ = make_network(member.project, name="own", cidr="10.9.0.0/24")
    other = make_caller()
    theirs, _ = make_network(other.project, name="theirs")
    [listed] = ok(member.client.get(f"{C}/os-networks", **OLD))["networks"]
    assert listed["id"] == str(own.pk)
    assert listed["label"] == "own"
    assert {key: listed[key] for key in ("cidr", "gateway")} == {"cidr": None, "gateway": None}
    shown = ok(member.client.get(f"{C}/os-networks/{own.pk}", **OLD))["network"]
    assert shown == listed
    for unknown in (theirs.pk, MADE_UP, "not-a-uuid"):
        assert member.client.get(f"{C}/os-networks/{unknown}", **OLD).status_code == 404
    assert member.client.get(f"{C}/os-networks", **NEW).status_code == 404
    assert make_caller().client.get(f"{C}/os-networks", **OLD).json() == {"networks": []}


# --- os-security-groups -------------------------------------------------------------------------
def test_security_groups_create_show_update_list_delete(member, reader):
    created = group(member.client, "web", "for web")
    assert created == {
        "id": created["id"],
        "name": "web",
        "description": "for web",
        "tenant_id": member.project.pk,
        "rules": [],  # a new group's rules are egress ones, which Nova does not show
    }
    url = f"{C}/os-security-groups/{created['id']}"
    assert ok(reader.client.get(url, **OLD))["security_group"] == created
    updated = ok(
        member.client.put(
            url, {"security_group": {"name": "web2", "description": "new"}}, format="json", **OLD
        )
    )["security_group"]
    assert (updated["name"], updated["description"]) == ("web2", "new")
    spaced = group(member.client, " spaced name ", " spaced ")
    assert (spaced["name"], spaced["description"]) == (" spaced name ", " spaced ")
    assert member.client.delete(f"{C}/os-security-groups/{spaced['id']}", **OLD).status_code == 202

    listed = ok(reader.client.get(f"{C}/os-security-groups", **OLD))["security_groups"]
    assert [g["name"] for g in listed] == ["default", "web2"]
    [default] = [g for g in listed if g["name"] == "default"]
    # the default group lets its own members in, for IPv4 and IPv6
    assert [r["group"] for r in default["rules"]] == [
        {"name": "default", "tenant_id": member.project.pk}
    ] * 2
    assert all(r["ip_range"] == {} and r["ip_protocol"] is None for r in default["rules"])

    assert member.client.delete(url, **OLD).status_code == 202
    assert member.client.get(url, **OLD).status_code == 404
    # the default group is not the member's to delete: Nova's 400
    default_url = f"{C}/os-security-groups/{default['id']}"
    assert member.client.delete(default_url, **OLD).status_code == 400


def test_security_groups_as_an_attacker(member, reader, make_caller):
    mine = group(member.client, "mine")
    url = f"{C}/os-security-groups/{mine['id']}"
    other = make_caller()
    for response in (
        other.client.get(url, **OLD),
        other.client.delete(url, **OLD),
        other.client.put(
            url, {"security_group": {"name": "x", "description": "y"}}, format="json", **OLD
        ),
        member.client.get(f"{C}/os-security-groups/{MADE_UP}", **OLD),
        member.client.delete(f"{C}/os-security-groups/", **OLD),
    ):
        assert response.status_code == 404, response.content
    assert [
        g["name"] for g in ok(other.client.get(f"{C}/os-security-groups", **OLD))["security_groups"]
    ] == ["default"]
    # a reader writes nothing
    body = {"security_group": {"name": "r", "description": "r"}}
    assert (
        reader.client.post(f"{C}/os-security-groups", body, format="json", **OLD).status_code == 403
    )
    assert reader.client.delete(url, **OLD).status_code == 403
    # malformed: a non-UUID id, missing or oversized fields, unknown keys, no body
    assert member.client.get(f"{C}/os-security-groups/12", **OLD).status_code == 400
    for bad in (
        {"security_group": {"name": "x"}},
        {"security_group": {"name": "x" * 256, "description": "d"}},
        {"security_group": {"name": "x", "description": "d", "bogus": 1}},
        {"security_group": "x"},
        {},
    ):
        response = member.client.post(f"{C}/os-security-groups", bad, format="json", **OLD)
        assert response.status_code == 400, (bad, response.content)
    # gone from 2.36
    assert member.client.get(f"{C}/os-security-groups", **NEW).status_code == 404
    assert (
        member.client.post(f"{C}/os-security-groups", body, format="json", **NEW).status_code == 404
    )


def test_admin_lists_every_projects_groups_only_with_all_tenants(member, admin):
    group(member.client, "members")
    own = ok(admin.client.get(f"{C}/os-security-groups", **OLD))["security_groups"]
    assert {g["tenant_id"] for g in own} == {admin.project.pk}
    every = ok(admin.client.get(f"{C}/os-security-groups?all_tenants=1", **OLD))["security_groups"]
    assert {"members"} <= {g["name"] for g in every}
    assert {member.project.pk, admin.project.pk} <= {g["tenant_id"] for g in every}


# --- os-security-group-rules --------------------------------------------------------------------
def test_rules_by_prefix_and_by_group_as_nova_shows_them(member):
    parent, peer = group(member.client, "parent"), group(member.client, "peer")
    any_source = rule(
        member.client, parent_group_id=parent["id"], ip_protocol="tcp", from_port=22, to_port=22
    )
    assert any_source == {
        "id": any_source["id"],
        "parent_group_id": parent["id"],
        "ip_protocol": "tcp",
        "from_port": 22,
        "to_port": 22,
        "group": {},
        "ip_range": {"cidr": "0.0.0.0/0"},
    }
    ranged = rule(
        member.client, parent_group_id=parent["id"], ip_protocol="udp", from_port=53,
        to_port=54, cidr="10.2.3.124/24",
    )  # fmt: skip
    assert ranged["ip_range"] == {"cidr": "10.2.3.124/24"}
    from_peer = rule(member.client, parent_group_id=parent["id"], ip_protocol="icmp",
                     from_port=-1, to_port=-1, group_id=peer["id"])  # fmt: skip
    assert (from_peer["group"], from_peer["ip_range"]) == (
        {"name": "peer", "tenant_id": member.project.pk},
        {},
    )
    assert (from_peer["from_port"], from_peer["to_port"]) == (-1, -1)
    stored = SecurityGroupRule.objects.get(pk=from_peer["id"])
    assert (stored.direction, stored.port_range_min, stored.port_range_max) == (
        "ingress",
        None,
        None,
    )
    shown = ok(member.client.get(f"{C}/os-security-groups/{parent['id']}", **OLD))
    assert {r["id"] for r in shown["security_group"]["rules"]} == {
        any_source["id"], ranged["id"], from_peer["id"],
    }  # fmt: skip

    # the peer group deleted: its rule goes with it
    assert member.client.delete(f"{C}/os-security-groups/{peer['id']}", **OLD).status_code == 202
    shown = ok(member.client.get(f"{C}/os-security-groups/{parent['id']}", **OLD))
    assert {r["id"] for r in shown["security_group"]["rules"]} == {any_source["id"], ranged["id"]}
    # deleted: 202, then 404
    url = f"{C}/os-security-group-rules/{ranged['id']}"
    assert member.client.delete(url, **OLD).status_code == 202
    assert member.client.delete(url, **OLD).status_code == 404


def test_rules_refused_as_nova_refuses_them(member, reader, make_caller):
    parent = group(member.client, "p")
    tcp = {"parent_group_id": parent["id"], "ip_protocol": "tcp", "from_port": 22, "to_port": 22}
    rule(member.client, **tcp)
    for fields in (
        tcp,  # a duplicate
        {**tcp, "ip_protocol": "bogus"},
        {**tcp, "from_port": 65536},
        {**tcp, "to_port": 65536},
        {**tcp, "from_port": 23, "to_port": 21},
        {**tcp, "from_port": 0},
        {**tcp, "ip_protocol": "icmp", "from_port": 256},
        {**tcp, "from_port": "x"},
        {**tcp, "cidr": "10.0.0.0/33"},
        {**tcp, "parent_group_id": "not-a-uuid"},
        {**tcp, "bogus": 1},
        {"parent_group_id": parent["id"]},  # nothing to build a rule of
        {"parent_group_id": parent["id"], "ip_protocol": "tcp", "cidr": "10.0.0.0/8"},
    ):
        rule(member.client, status=400, **fields)
    # another project's group, as parent or as peer, answers as a made-up one
    other = make_caller()
    theirs = group(other.client, "theirs")
    for fields in (
        {**tcp, "parent_group_id": theirs["id"]},
        {**tcp, "parent_group_id": MADE_UP},
        {**tcp, "group_id": theirs["id"]},
        {**tcp, "group_id": MADE_UP},
    ):
        rule(member.client, status=404, **fields)
    their_rule = rule(other.client, **{**tcp, "parent_group_id": theirs["id"]})
    url = f"{C}/os-security-group-rules/{their_rule['id']}"
    assert member.client.delete(url, **OLD).status_code == 404
    assert member.client.delete(f"{C}/os-security-group-rules/12", **OLD).status_code == 400
    body = {"security_group_rule": {**tcp, "from_port": 80, "to_port": 80}}
    response = reader.client.post(f"{C}/os-security-group-rules", body, format="json", **OLD)
    assert response.status_code == 403
    assert SecurityGroupRule.objects.filter(port_range_min=80).count() == 0


# --- a server's groups and the actions ----------------------------------------------------------
def test_add_and_remove_a_group_on_a_server(member, reader, make_caller, make_network):
    network, _ = make_network(member.project)
    server = server_with_port(member, network)
    web = group(member.client, "web")
    action = f"/servers/{server.uuid}/action"
    listing = f"{C}/servers/{server.uuid}/os-security-groups"
    assert [g["name"] for g in ok(reader.client.get(listing))["security_groups"]] == ["default"]

    show = f"{C}/servers/{server.uuid}"
    assert ok(reader.client.get(show))["server"]["security_groups"] == [{"name": "default"}]

    post(member.client, action, {"addSecurityGroup": {"name": "web"}}, 202)
    shown = ok(reader.client.get(show, **NEW))["server"]
    assert shown["security_groups"] == [{"name": "default"}, {"name": "web"}]
    [listed_server] = ok(reader.client.get(f"{C}/servers/detail"))["servers"]
    assert listed_server["security_groups"] == shown["security_groups"]
    listed = ok(reader.client.get(listing, **NEW))["security_groups"]  # every version
    assert [g["name"] for g in listed] == ["default", "web"]
    assert listed[1] == web
    [port] = Port.objects.filter(device_id=str(server.uuid))
    assert sorted(port.security_groups.values_list("name", flat=True)) == ["default", "web"]
    # a group in use cannot go; adding it twice is a 400
    assert member.client.delete(f"{C}/os-security-groups/{web['id']}", **OLD).status_code == 400
    post(member.client, action, {"addSecurityGroup": {"name": "web"}}, 400)

    post(member.client, action, {"removeSecurityGroup": {"name": web["id"]}}, 202)
    post(member.client, action, {"removeSecurityGroup": {"name": "default"}}, 202)
    assert ok(member.client.get(listing))["security_groups"] == []
    # no group left: the server shows no security_groups key, as Nova
    assert "security_groups" not in ok(reader.client.get(show))["server"]
    post(member.client, action, {"removeSecurityGroup": {"name": "web"}}, 400)
    assert member.client.delete(f"{C}/os-security-groups/{web['id']}", **OLD).status_code == 202


def test_server_groups_as_an_attacker(member, reader, make_caller, make_network):
    network, _ = make_network(member.project)
    server = server_with_port(member, network)
    action = f"/servers/{server.uuid}/action"
    other = make_caller()
    group(other.client, "theirs")
    # another project's server is a 404, as a made-up one
    for server_id in (server.uuid, MADE_UP):
        response = other.client.get(f"{C}/servers/{server_id}/os-security-groups", **OLD)
        assert response.status_code == 404
        body = {"addSecurityGroup": {"name": "default"}}
        assert (
            other.client.post(
                f"{C}/servers/{server_id}/action", body, format="json", **OLD
            ).status_code
            == 404
        )
    # another project's group is as unknown as a made-up one
    post(member.client, action, {"addSecurityGroup": {"name": "theirs"}}, 404)
    post(member.client, action, {"addSecurityGroup": {"name": MADE_UP}}, 404)
    # a reader changes nothing; malformed names are 400s
    response = reader.client.post(
        f"{C}{action}", {"addSecurityGroup": {"name": "default"}}, format="json", **OLD
    )
    assert response.status_code == 403
    for args in ({}, {"name": ""}, {"name": 5}, {"name": "x" * 256}, "web", None):
        post(member.client, action, {"addSecurityGroup": args}, 400)
    [port] = Port.objects.filter(device_id=str(server.uuid))
    assert list(port.security_groups.values_list("name", flat=True)) == ["default"]
