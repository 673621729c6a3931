"""The operators' host pages: compute services are enabled, disabled (with a reason), forced
down and deleted through the hosts services, as os-services does, so the API shows what the
admin did and the scheduler acts on it; nodes show their usage against their capacity."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.hosts.models import ComputeNode, Service
from apps.identity.services import assign_roles
from apps.placement.models import Allocation, ResourceProvider
from apps.scheduler.services import dry_run
from apps.servers.models import Server
from tests.factories import ProjectFactory, UserFactory
from tests.scheduler.helpers import create_host, make_spec

pytestmark = pytest.mark.django_db

SERVICES = "/admin/hosts/service/"
NODES = "/admin/hosts/computenode/"
OS_SERVICES = "/compute/v2.1/os-services"


@pytest.fixture
def operator() -> Client:
    client = Client(raise_request_exception=False)
    project = ProjectFactory()
    user = UserFactory(is_superuser=True, is_staff=True, default_project_id=project.pk)
    assign_roles(user=user, project=project, roles=["admin"])
    client.force_login(user)
    return client


@pytest.fixture
def hosts() -> dict[str, Service]:
    """A big host (the only one a large flavor fits) and a small one."""
    create_host("hv-big", vcpus=32, memory_mb=65536, disk_gb=500)
    create_host("hv-small", vcpus=2, memory_mb=2048, disk_gb=20)
    return {s.host: s for s in Service.objects.all()}


def disable(operator: Client, service: Service, reason: str) -> None:
    """What the operator does: pick the service, run the action, give the reason."""
    picked = {"action": "disable_services", "_selected_action": [str(service.pk)]}
    asked = operator.post(SERVICES, picked)
    assert asked.status_code == 200
    assert 'name="reason"' in asked.content.decode()  # the reason is asked, nothing changed yet
    service.refresh_from_db()
    assert not service.disabled
    done = operator.post(SERVICES, {**picked, "apply": "1", "reason": reason})
    assert done.status_code == 302


def os_service(admin, host: str) -> dict:
    listed = admin.client.get(
        OS_SERVICES, {"host": host}, HTTP_OPENSTACK_API_VERSION="compute 2.53"
    ).json()["services"]
    assert len(listed) == 1
    return listed[0]


def test_disabling_a_service_in_the_admin_makes_the_scheduler_skip_its_host(
    operator: Client, hosts: dict[str, Service], admin
) -> None:
    # given: a large server fits only on hv-big, and the scheduler would put it there
    large = make_spec(vcpus=16, memory_mb=32768, root_gb=100)
    assert dry_run(large).hosts == [{"host": "hv-big", "count": 1}]

    # when
    disable(operator, hosts["hv-big"], "fan replacement")

    # then: the API shows it, and the scheduler places nothing there
    shown = os_service(admin, "hv-big")
    assert (shown["status"], shown["disabled_reason"]) == ("disabled", "fan replacement")
    assert os_service(admin, "hv-small")["status"] == "enabled"
    refused = dry_run(large)
    assert refused.fits == 0
    assert "disabled" in refused.shortfall
    assert dry_run(make_spec(count=2)).hosts == [{"host": "hv-small", "count": 2}]

    # when: enabled again
    operator.post(
        SERVICES, {"action": "enable_services", "_selected_action": [str(hosts["hv-big"].pk)]}
    )
    # then
    shown = os_service(admin, "hv-big")
    assert (shown["status"], shown["disabled_reason"]) == ("enabled", None)
    assert dry_run(large).hosts == [{"host": "hv-big", "count": 1}]


def test_a_reason_longer_than_the_api_allows_is_refused_and_changes_nothing(
    operator: Client, hosts: dict[str, Service]
) -> None:
    service = hosts["hv-big"]
    response = operator.post(
        SERVICES,
        {
            "action": "disable_services",
            "_selected_action": [str(service.pk)],
            "apply": "1",
            "reason": "x" * 256,
        },
    )
    assert response.status_code == 200  # the form again, with its error
    assert "at most 255 characters" in response.content.decode()
    service.refresh_from_db()
    assert (service.disabled, service.disabled_reason) == (False, "")


def test_forcing_a_host_down_and_back(operator: Client, hosts: dict[str, Service], admin) -> None:
    picked = {"_selected_action": [str(hosts["hv-big"].pk)]}
    # when
    operator.post(SERVICES, {**picked, "action": "force_down"})
    # then
    shown = os_service(admin, "hv-big")
    assert (shown["forced_down"], shown["state"]) == (True, "down")
    assert dry_run(make_spec(vcpus=16, memory_mb=32768, root_gb=100)).fits == 0
    # when
    operator.post(SERVICES, {**picked, "action": "clear_forced_down"})
    # then
    shown = os_service(admin, "hv-big")
    assert (shown["forced_down"], shown["state"]) == (False, "up")


def test_a_service_hosting_servers_is_not_deleted(
    operator: Client, hosts: dict[str, Service]
) -> None:
    # given
    Server.objects.create(
        name="placed", project=ProjectFactory(), user_id="u", flavor_id="1", host="hv-big"
    )
    picked = {"_selected_action": [str(hosts["hv-big"].pk), str(hosts["hv-small"].pk)]}
    # when
    response = operator.post(SERVICES, {**picked, "action": "delete_services"}, follow=True)
    # then: the refusal is the service's message; the other one is deleted
    assert "Unable to delete compute service that is hosting instances: hv-big" in (
        response.content.decode()
    )
    assert list(Service.objects.values_list("host", flat=True)) == ["hv-big"]


def test_no_service_or_node_row_is_added_edited_or_deleted_through_the_forms(
    operator: Client, hosts: dict[str, Service]
) -> None:
    service = hosts["hv-big"]
    node = ComputeNode.objects.get(host="hv-big")
    responses = [
        operator.get(f"{SERVICES}add/"),
        operator.post(f"{SERVICES}{service.pk}/change/", {"disabled": "on", "host": "x"}),
        operator.post(f"{SERVICES}{service.pk}/delete/", {"post": "yes"}),
        operator.post(f"{NODES}{node.pk}/change/", {"vcpus": 1000}),
        operator.post(f"{NODES}{node.pk}/delete/", {"post": "yes"}),
    ]
    assert [r.status_code for r in responses] == [403] * 5
    service.refresh_from_db()
    node.refresh_from_db()
    assert (service.host, service.disabled, node.vcpus) == ("hv-big", False, 32)


def test_pages_show_usage_against_capacity_and_search_and_filter(
    operator: Client, hosts: dict[str, Service]
) -> None:
    # given: 4 vCPUs and 1024 MB allocated on hv-big
    provider = ResourceProvider.objects.get(name="hv-big")
    for rc, used in (("VCPU", 4), ("MEMORY_MB", 1024)):
        Allocation.objects.create(
            provider=provider, consumer_uuid="0" * 32, resource_class=rc, used=used,
            project_id="p", user_id="u",
        )  # fmt: skip
    node = ComputeNode.objects.get(host="hv-big")

    # then
    listed = operator.get(NODES).content.decode()
    assert "4 / 32 (12%)" in listed
    assert "1024 / 65536 (1%)" in listed
    assert "0 / 500" in listed
    assert "0 / 2 (0%)" in listed  # hv-small
    page = operator.get(f"{NODES}{node.pk}/change/")
    assert page.status_code == 200
    assert "4 / 32 (12%)" in page.content.decode()
    found = operator.get(NODES, {"q": "small"}).content.decode()
    assert "hv-small" in found
    assert "hv-big" not in found
    assert operator.get(NODES, {"o": "5"}).status_code == 200  # ordered by vCPUs used

    Service.objects.filter(host="hv-small").update(disabled=True)
    disabled = operator.get(SERVICES, {"disabled__exact": "1"}).content.decode()
    assert "hv-small" in disabled
    assert "hv-big" not in disabled
    found = operator.get(SERVICES, {"q": "hv-big"}).content.decode()
    assert "hv-big" in found
    assert "hv-small" not in found
    assert operator.get(f"{SERVICES}{hosts['hv-big'].pk}/change/").status_code == 200
    assert operator.get("/admin/hosts/aggregate/").status_code == 200


def test_a_page_of_many_hosts_costs_a_bounded_number_of_queries(operator: Client) -> None:
    # given: 1,000 compute hosts
    now = timezone.now()
    services = Service.objects.bulk_create(
        Service(host=f"hv-{i:04}", binary="nova-compute", last_seen_up=now) for i in range(1000)
    )
    ComputeNode.objects.bulk_create(
        ComputeNode(service=s, host=s.host, hypervisor_hostname=s.host, vcpus=8) for s in services
    )
    # when
    with CaptureQueriesContext(connection) as few:
        operator.get(NODES, {"q": "hv-000"})  # 10 rows
    for url in (NODES, SERVICES):
        with CaptureQueriesContext(connection) as many:
            response = operator.get(url, {"all": ""})  # "show all": the whole fleet
        # then
        assert response.content.decode().count("hv-0999") >= 1, url  # all 1,000 rows
        assert len(many) <= len(few) + 2, url
        assert len(many) <= 15, url


def test_a_service_action_the_policy_refuses_shows_why_and_changes_nothing(
    hosts: dict[str, Service],
) -> None:
    # given: a superuser with no project, so no admin role, to act with
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    # when
    response = client.post(
        SERVICES,
        {"action": "force_down", "_selected_action": [str(hosts["hv-big"].pk)]},
        follow=True,
    )
    # then
    assert 'class="error"' in response.content.decode()
    hosts["hv-big"].refresh_from_db()
    assert not hosts["hv-big"].forced_down


def test_a_host_is_disabled_and_forced_down_from_the_nodes_page(
    operator: Client, hosts: dict[str, Service]
) -> None:
    node = ComputeNode.objects.get(host="hv-big")
    picked = {"action": "disable_services", "_selected_action": [str(node.pk)]}
    # when: asked for the reason, then given it
    asked = operator.post(NODES, picked)
    assert "computecloud-compute@hv-big" in asked.content.decode()
    operator.post(NODES, {**picked, "apply": "1", "reason": "disk swap"})
    operator.post(NODES, {"action": "force_down", "_selected_action": [str(node.pk)]})
    # then
    service = Service.objects.get(host="hv-big")
    assert (service.disabled, service.disabled_reason, service.forced_down) == (
        True,
        "disk swap",
        True,
    )
    assert not Service.objects.get(host="hv-small").disabled
