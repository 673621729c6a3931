"""Query budgets of the server and flavor lists: a page costs the same number of statements
whatever it holds (no N+1), for members and for admins listing every project.

The servers are set-up rows (`make_fleet`): what is measured is the read path, with every
related row a body shows present (metadata, tags, faults, group membership, hosts).
"""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.flavors.models import Flavor, FlavorExtraSpec
from apps.hosts.choices import COMPUTE_BINARY
from apps.hosts.models import Service
from apps.identity.models import Project
from apps.servers.choices import PowerState, VmState
from apps.servers.models import (
    InstanceFault,
    Server,
    ServerGroup,
    ServerGroupMember,
    ServerMetadata,
    ServerTag,
)

pytestmark = pytest.mark.django_db

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
SIZES = [1, 10, 100]
HOSTS = ["budget-host-1", "budget-host-2"]
FLAVOR = {
    "name": "m1.small",
    "vcpus": 1,
    "ram": 2048,
    "disk": 20,
    "ephemeral": 0,
    "swap": 0,
    "extra_specs": {"hw:cpu_policy": "shared"},
}

# Statements per request, whatever the page size: the token with its roles, the page
# (metadata, tags, latest fault and server group ride along as subqueries), and the page's
# addresses and security groups from the network service's ports.
SERVERS_DETAIL_QUERIES = 4
SERVERS_DETAIL_ALL_TENANTS_QUERIES = 5  # + the hosts' services, for host_status
SERVERS_LIST_QUERIES = 2
FLAVORS_DETAIL_QUERIES = 3


def make_fleet(project: Project, count: int, *, user_id: str = "someone") -> list[Server]:
    """`count` servers of `project` on two hosts: every third in ERROR with two faults and in a
    server group, every second with metadata and tags (so the first has all of them)."""
    now = timezone.now()
    for host in HOSTS:
        Service.objects.get_or_create(
            host=host, binary=COMPUTE_BINARY, defaults={"last_seen_up": now}
        )
    group = ServerGroup.objects.create(
        name=f"group-{uuid.uuid4().hex[:6]}",
        project=project,
        user_id=user_id,
        policy=ServerGroup.Policy.ANTI_AFFINITY,
    )
    servers = Server.objects.bulk_create(
        Server(
            name=f"vm-{index}",
            project=project,
            user_id=user_id,
            flavor_id="1",
            flavor=FLAVOR,
            vcpus=1,
            memory_mb=2048,
            root_gb=20,
            image_ref=str(uuid.uuid4()),
            host=HOSTS[index % 2],
            node=HOSTS[index % 2],
            vm_state=VmState.ERROR if index % 3 == 0 else VmState.ACTIVE,
            power_state=PowerState.RUNNING,
            hostname=f"vm-{index}",
            addresses={"private": [{"addr": f"10.0.0.{index % 250}", "version": 4}]},
            reservation_id=f"r-{uuid.uuid4().hex[:8]}",
            launched_at=now - timedelta(minutes=index),
        )
        for index in range(count)
    )
    ServerMetadata.objects.bulk_create(
        ServerMetadata(server=server, key=f"key-{k}", value=f"value-{k}")
        for server in servers[::2]
        for k in range(3)
    )
    ServerTag.objects.bulk_create(
        ServerTag(server=server, tag=tag) for server in servers[::2] for tag in ("web", "prod")
    )
    InstanceFault.objects.bulk_create(
        InstanceFault(server=server, code=500, message=message, details="Traceback ...")
        for server in servers[::3]
        for message in ("first failure", "latest failure")
    )
    ServerGroupMember.objects.bulk_create(
        ServerGroupMember(group=group, server=server) for server in servers[::3]
    )
    return servers


def make_flavors(count: int) -> None:
    flavors = Flavor.objects.bulk_create(
        Flavor(flavorid=f"budget-{i}", name=f"budget-{i}", memory_mb=512, vcpus=1, root_gb=1)
        for i in range(count)
    )
    FlavorExtraSpec.objects.bulk_create(
        FlavorExtraSpec(flavor=flavor, key=f"spec:{k}", value="1")
        for flavor in flavors
        for k in range(2)
    )


@pytest.mark.parametrize("count", SIZES)
def test_servers_detail_costs_the_same_queries_whatever_the_page_size(
    member, django_assert_num_queries, count: int
):
    # given
    make_fleet(member.project, count)
    # when
    with django_assert_num_queries(SERVERS_DETAIL_QUERIES):
        response = member.client.get("/compute/v2.1/servers/detail", **V)
    # then
    servers = response.json()["servers"]
    assert len(servers) == count
    assert any(s.get("fault", {}).get("message") == "latest failure" for s in servers)
    assert any(s["metadata"] for s in servers)
    assert any(s["tags"] for s in servers)
    # /servers/detail has no server_groups (GET /servers/{id} has them from 2.71)
    assert not any("server_groups" in s for s in servers)


@pytest.mark.parametrize("count", SIZES)
def test_admin_all_tenants_detail_costs_the_same_queries_whatever_the_page_size(
    admin, make_caller, django_assert_num_queries, count: int
):
    # given: servers in two other projects
    for _ in range(2):
        make_fleet(make_caller("member").project, count)
    # when
    with django_assert_num_queries(SERVERS_DETAIL_ALL_TENANTS_QUERIES):
        response = admin.client.get("/compute/v2.1/servers/detail?all_tenants=1", **V)
    # then
    servers = response.json()["servers"]
    assert len(servers) == 2 * count
    assert {s["host_status"] for s in servers} == {"UP"}
    assert {s["OS-EXT-SRV-ATTR:host"] for s in servers} <= set(HOSTS)


@pytest.mark.parametrize("count", SIZES)
def test_servers_list_costs_the_same_queries_whatever_the_page_size(
    member, django_assert_num_queries, count: int
):
    # given
    make_fleet(member.project, count)
    # when
    with django_assert_num_queries(SERVERS_LIST_QUERIES):
        response = member.client.get("/compute/v2.1/servers", **V)
    # then
    assert len(response.json()["servers"]) == count


@pytest.mark.parametrize("count", SIZES)
def test_deep_page_costs_the_same_queries_as_the_first(
    member, django_assert_num_queries, count: int
):
    # given: a marker in the middle of the list
    servers = make_fleet(member.project, 2 * count)
    first = member.client.get(f"/compute/v2.1/servers/detail?limit={count}", **V).json()
    marker = first["servers"][-1]["id"]
    # when: the marker lookup is the one extra statement
    with django_assert_num_queries(SERVERS_DETAIL_QUERIES + 1):
        response = member.client.get(
            f"/compute/v2.1/servers/detail?limit={count}&marker={marker}", **V
        )
    # then
    page = response.json()["servers"]
    assert len(page) == count
    assert {s["id"] for s in page}.isdisjoint(s["id"] for s in first["servers"])
    assert len(servers) == 2 * count


@pytest.mark.parametrize("count", SIZES)
def test_flavors_detail_costs_the_same_queries_whatever_the_page_size(
    admin, django_assert_num_queries, count: int
):
    # given
    make_flavors(count)
    # when
    with django_assert_num_queries(FLAVORS_DETAIL_QUERIES):
        response = admin.client.get(
            "/compute/v2.1/flavors/detail", HTTP_OPENSTACK_API_VERSION="compute 2.61"
        )
    # then
    flavors = [f for f in response.json()["flavors"] if f["id"].startswith("budget-")]
    assert len(flavors) == count
    assert all(f["extra_specs"] == {"spec:0": "1", "spec:1": "1"} for f in flavors)


def test_the_budget_helpers_build_what_the_bodies_show(member: object) -> None:
    """Guards the set-up itself: a fleet of 3 has one ERROR server with its latest fault."""
    # given
    servers = make_fleet(member.project, 3)  # type: ignore[attr-defined]
    # then
    assert Server.objects.filter(pk__in=[s.pk for s in servers], vm_state="error").count() == 1
    assert InstanceFault.objects.filter(server=servers[0]).count() == 2
