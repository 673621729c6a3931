"""Admin host resources through the API: hypervisors (shapes by microversion, the 2.1-2.52
search and servers routes) and aggregates."""

import json
import uuid

import pytest

from apps.hosts.models import Aggregate, AggregateHost, Service
from apps.hosts.services import create_aggregate, update_compute_node
from apps.servers.models import Server

pytestmark = pytest.mark.django_db

HYPERVISORS = "/compute/v2.1/os-hypervisors"
CPU_INFO = {"arch": "x86_64", "model": "", "vendor": "", "topology": {"sockets": 1}}


def version(minor: int) -> dict[str, str]:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute 2.{minor}"}


def place_server(owner, host: str, **sizes) -> Server:
    """A server record of `owner`'s project placed on `host` (set-up, not a build)."""
    return Server.objects.create(
        uuid=uuid.uuid4(),
        name="placed",
        project_id=owner.project.pk,
        user_id=owner.user.pk,
        host=host,
        flavor_id="0",
        **sizes,
    )


@pytest.fixture
def nodes() -> list:
    return [
        update_compute_node(
            host=host,
            facts={"hostname": host, "cpu_info": CPU_INFO, "vcpus": 4, "memory_mb": 8192},
        )
        for host in ("hv-alpha", "hv-beta")
    ]


@pytest.mark.parametrize(("minor", "as_text"), [(1, True), (27, True), (28, False)])
def test_cpu_info_is_json_text_before_2_28(admin, nodes, minor, as_text):
    # when
    shown = admin.client.get(f"{HYPERVISORS}/{nodes[0].pk}", **version(minor)).json()
    listed = admin.client.get(f"{HYPERVISORS}/detail", **version(minor)).json()
    # then
    expected = json.dumps(CPU_INFO) if as_text else CPU_INFO
    cpu_info = shown["hypervisor"]["cpu_info"]
    assert (json.loads(cpu_info) if as_text else cpu_info) == CPU_INFO
    assert isinstance(cpu_info, str) is as_text
    assert {type(h["cpu_info"]) for h in listed["hypervisors"]} == {type(expected)}


def test_search_finds_hypervisors_by_host_name_part(admin, nodes):
    # when
    response = admin.client.get(f"{HYPERVISORS}/alph/search", **version(52))
    # then
    assert response.status_code == 200
    assert response.json() == {
        "hypervisors": [
            {
                "id": nodes[0].pk,
                "hypervisor_hostname": "hv-alpha",
                "state": "up",
                "status": "enabled",
            }
        ]
    }


def test_search_without_a_match_is_404(admin, nodes):
    assert admin.client.get(f"{HYPERVISORS}/gamma/search").status_code == 404


def test_servers_lists_each_matching_hypervisors_servers(admin, nodes, member):
    # given: one server on hv-alpha, none on hv-beta
    server = place_server(member, "hv-alpha")
    # when
    response = admin.client.get(f"{HYPERVISORS}/hv-/servers", **version(52))
    # then
    by_name = {h["hypervisor_hostname"]: h for h in response.json()["hypervisors"]}
    assert by_name["hv-alpha"]["servers"] == [{"uuid": str(server.uuid), "name": "placed"}]
    assert "servers" not in by_name["hv-beta"]


@pytest.mark.parametrize("route", ["search", "servers"])
def test_search_and_servers_routes_are_gone_from_2_53(admin, nodes, route):
    assert admin.client.get(f"{HYPERVISORS}/hv/{route}", **version(53)).status_code == 404


@pytest.mark.parametrize("route", ["search", "servers"])
def test_search_and_servers_are_for_admins(member, nodes, route):
    assert member.client.get(f"{HYPERVISORS}/hv/{route}").status_code == 403


def test_aggregate_create_answer_has_no_hosts_or_metadata(admin):
    # when
    response = admin.client.post(
        "/compute/v2.1/os-aggregates", {"aggregate": {"name": "rack-1"}}, format="json"
    )
    # then
    assert response.status_code == 200
    body = response.json()["aggregate"]
    assert "hosts" not in body
    assert "metadata" not in body
    shown = admin.client.get(f"/compute/v2.1/os-aggregates/{body['id']}").json()["aggregate"]
    assert shown["hosts"] == []
    assert shown["metadata"] == {}


def test_services_show_and_filter_by_novas_binary_names(admin, nodes):
    # when
    listed = admin.client.get("/compute/v2.1/os-services").json()["services"]
    filtered = admin.client.get("/compute/v2.1/os-services", {"binary": "nova-compute"}).json()
    # then
    assert {s["binary"] for s in listed} == {"nova-compute"}
    assert {s["host"] for s in filtered["services"]} == {"hv-alpha", "hv-beta"}
    assert admin.client.get("/compute/v2.1/os-services", {"binary": "nova-api"}).json() == {
        "services": []
    }


HOSTS = "/compute/v2.1/os-hosts"


def test_hosts_lists_each_service_with_its_zone(admin, nodes):
    # given: a conductor beside the two compute hosts
    from apps.hosts.choices import CONDUCTOR_BINARY
    from apps.hosts.services import record_heartbeat

    record_heartbeat(host="ctl", binary=CONDUCTOR_BINARY)
    # when
    listed = admin.client.get(HOSTS).json()["hosts"]
    internal = admin.client.get(HOSTS, {"zone": "internal"}).json()["hosts"]
    # then
    assert sorted((h["host_name"], h["service"], h["zone"]) for h in listed) == [
        ("ctl", "conductor", "internal"),
        ("hv-alpha", "compute", "nova"),
        ("hv-beta", "compute", "nova"),
    ]
    assert [h["host_name"] for h in internal] == ["ctl"]


def test_host_detail_has_total_used_and_per_project_resources(admin, nodes, member):
    place_server(member, "hv-alpha", vcpus=1, memory_mb=128, root_gb=1)
    # when
    rows = [r["resource"] for r in admin.client.get(f"{HOSTS}/hv-alpha").json()["host"]]
    # then
    assert [r["project"] for r in rows] == [
        "(total)",
        "(used_now)",
        "(used_max)",
        member.project.pk,
    ]
    assert (rows[0]["cpu"], rows[0]["memory_mb"]) == (4, 8192)
    assert (rows[2]["cpu"], rows[2]["memory_mb"], rows[2]["disk_gb"]) == (1, 128, 1)
    assert {r["host"] for r in rows} == {"hv-alpha"}


def test_host_update_disables_and_enables_the_compute_service(admin, nodes):
    url = f"{HOSTS}/hv-beta"
    disabled = admin.client.put(url, {"status": "disable"}, format="json")
    assert disabled.json() == {"host": "hv-beta", "status": "disabled"}
    services = admin.client.get("/compute/v2.1/os-services", {"host": "hv-beta"}).json()
    assert services["services"][0]["status"] == "disabled"
    enabled = admin.client.put(url, {"status": "enable"}, format="json")
    assert enabled.json() == {"host": "hv-beta", "status": "enabled"}


@pytest.mark.parametrize(
    "body",
    [{}, {"status": "invalid"}, {"status": "enable", "maintenance_mode": "invalid"}],
)
def test_host_update_refuses_bad_bodies(admin, nodes, body):
    assert admin.client.put(f"{HOSTS}/hv-beta", body, format="json").status_code == 400


def test_maintenance_mode_and_power_actions_are_not_implemented(admin, nodes):
    body = {"maintenance_mode": "enable"}
    assert admin.client.put(f"{HOSTS}/hv-beta", body, format="json").status_code == 501
    for verb in ("reboot", "shutdown", "startup"):
        response = admin.client.get(f"{HOSTS}/hv-beta/{verb}")
        assert response.status_code == 501
        assert "notImplemented" in response.json()


@pytest.mark.parametrize("path", ["", "/reboot", "/startup"])
def test_unknown_host_is_404(admin, nodes, path):
    assert admin.client.get(f"{HOSTS}/nowhere{path}").status_code == 404


def test_hosts_are_for_admins_and_gone_from_2_43(admin, member, nodes):
    assert member.client.get(HOSTS).status_code == 403
    assert member.client.get(f"{HOSTS}/hv-alpha").status_code == 403
    assert admin.client.get(HOSTS, **version(43)).status_code == 404


def test_blank_zone_filters_no_host(admin, nodes):
    hosts = admin.client.get(HOSTS, {"zone": ""}).json()["hosts"]
    assert {h["host_name"] for h in hosts} == {"hv-alpha", "hv-beta"}


def test_hypervisor_uptime_is_not_implemented_until_2_88(admin, member, nodes):
    url = f"{HYPERVISORS}/{nodes[0].pk}/uptime"
    assert admin.client.get(url).status_code == 501
    assert member.client.get(url).status_code == 403
    assert admin.client.get(f"{HYPERVISORS}/999/uptime").status_code == 404
    assert admin.client.get(url, **version(88)).status_code == 404


def test_a_compute_service_hosting_servers_cannot_be_deleted(admin, nodes, member):
    # given: a server on hv-alpha, none on hv-beta
    place_server(member, "hv-alpha")
    services = admin.client.get("/compute/v2.1/os-services", **version(53)).json()["services"]
    ids = {s["host"]: s["id"] for s in services if s["binary"] == "nova-compute"}
    # when
    refused = admin.client.delete(f"/compute/v2.1/os-services/{ids['hv-alpha']}", **version(53))
    deleted = admin.client.delete(f"/compute/v2.1/os-services/{ids['hv-beta']}", **version(53))
    # then
    assert refused.status_code == 409
    assert "hosting instances: hv-alpha" in refused.json()["conflictingRequest"]["message"]
    assert deleted.status_code == 204
    left = admin.client.get("/compute/v2.1/os-services", **version(53)).json()["services"]
    assert {s["host"] for s in left if s["binary"] == "nova-compute"} == {"hv-alpha"}


@pytest.mark.parametrize("role", ["member", "reader"])
def test_host_writes_are_refused_to_non_admins_and_change_nothing(make_caller, nodes, role):
    # given: a compute service and an aggregate
    caller = make_caller(role)
    service = Service.objects.get(host="hv-alpha")
    aggregate = create_aggregate(name="attack-agg", availability_zone=None)
    v53 = version(53)
    # when: each write an admin may make
    answers = [
        caller.client.put(
            f"/compute/v2.1/os-services/{service.uuid}",
            {"status": "disabled"},
            format="json",
            **v53,
        ),
        caller.client.delete(f"/compute/v2.1/os-services/{service.uuid}", **v53),
        caller.client.post(
            "/compute/v2.1/os-aggregates", {"aggregate": {"name": "x"}}, format="json", **v53
        ),
        caller.client.post(
            f"/compute/v2.1/os-aggregates/{aggregate.pk}/action",
            {"add_host": {"host": "hv-alpha"}},
            format="json",
            **v53,
        ),
        caller.client.delete(f"/compute/v2.1/os-aggregates/{aggregate.pk}", **v53),
        caller.client.put(f"{HOSTS}/hv-alpha", {"status": "disable"}, format="json"),
    ]
    # then
    assert [a.status_code for a in answers] == [403] * len(answers)
    service.refresh_from_db()
    assert not service.disabled
    assert list(Aggregate.objects.values_list("name", flat=True)) == ["attack-agg"]
    assert not AggregateHost.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"status": "sideways"},
        {"status": "disabled", "disabled_reason": "x" * 256},
        {"forced_down": "maybe"},
        {"unknown": True},
        ["not", "an", "object"],
    ],
)
def test_malformed_service_updates_are_400s(admin, nodes, body):
    service = Service.objects.get(host="hv-alpha")
    response = admin.client.put(
        f"/compute/v2.1/os-services/{service.uuid}", body, format="json", **version(53)
    )
    assert response.status_code == 400, response.content
    service.refresh_from_db()
    assert (service.disabled, service.forced_down) == (False, False)
