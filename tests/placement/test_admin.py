"""The operators' placement pages: they load under the placement app, adds and deletes are
refused, and an inventory's ratio saved there is an override the host's next report keeps."""

import uuid

import pytest
from django.test import Client

from apps.identity.services import assign_roles
from apps.placement import services
from apps.placement.models import Allocation, Inventory, ResourceProvider, Trait
from tests.factories import ProjectFactory, UserFactory
from tests.scheduler.helpers import create_host

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    # A refused page is the 403 an operator's browser gets, not an exception in the test.
    client = Client(raise_request_exception=False)
    project = ProjectFactory()
    user = UserFactory(is_superuser=True, is_staff=True, default_project_id=project.pk)
    assign_roles(user=user, project=project, roles=["admin"])
    client.force_login(user)
    return client


@pytest.fixture
def provider() -> ResourceProvider:
    node = create_host("h1", vcpus=8)
    provider = ResourceProvider.objects.get(uuid=node.uuid)
    Allocation.objects.create(
        provider=provider, consumer_uuid=uuid.uuid4(), resource_class="VCPU", used=3
    )
    return provider


def test_the_pages_load_and_show_usage(operator: Client, provider: ResourceProvider) -> None:
    inventory = Inventory.objects.get(provider=provider, resource_class="VCPU")
    allocation = Allocation.objects.get(provider=provider)
    trait = Trait.objects.create(name="CUSTOM_FAST")
    for url in (
        "/admin/placement/resourceprovider/",
        f"/admin/placement/resourceprovider/{provider.pk}/change/",
        "/admin/placement/inventory/",
        f"/admin/placement/inventory/{inventory.pk}/change/",
        "/admin/placement/allocation/",
        f"/admin/placement/allocation/{allocation.pk}/change/",
        "/admin/placement/trait/",
        f"/admin/placement/trait/{trait.pk}/change/",
    ):
        response = operator.get(url)
        assert response.status_code == 200, url
    page = operator.get("/admin/placement/resourceprovider/").content.decode()
    assert "VCPU=3" in page  # usage summed from the allocations


def test_providers_inventories_and_allocations_are_not_added_or_deleted_there(
    operator: Client, provider: ResourceProvider
) -> None:
    # when
    refused = [
        operator.get("/admin/placement/resourceprovider/add/").status_code,
        operator.get("/admin/placement/inventory/add/").status_code,
        operator.get("/admin/placement/allocation/add/").status_code,
        operator.post(
            f"/admin/placement/resourceprovider/{provider.pk}/delete/", {"post": "yes"}
        ).status_code,
    ]
    # then
    assert refused == [403, 403, 403, 403]
    assert ResourceProvider.objects.filter(pk=provider.pk).exists()
    assert Allocation.objects.filter(provider=provider).count() == 1


def test_a_ratio_saved_there_is_an_override_the_next_report_keeps(
    operator: Client, provider: ResourceProvider
) -> None:
    # given
    inventory = Inventory.objects.get(provider=provider, resource_class="VCPU")
    form = {
        "allocation_ratio": "4.0",
        "reserved": str(inventory.reserved),
    }
    # when
    response = operator.post(f"/admin/placement/inventory/{inventory.pk}/change/", form)
    services.sync_compute_node_inventory(
        compute_node_uuid=provider.uuid,
        host="h1",
        inventories={"VCPU": {"total": 8, "allocation_ratio": 1.0}},
        traits=[],
    )
    # then
    assert response.status_code == 302
    inventory.refresh_from_db()
    assert (inventory.allocation_ratio, inventory.allocation_ratio_overridden) == (4.0, True)
    assert not inventory.reserved_overridden  # unchanged fields are not overridden


def test_a_provider_page_shows_its_aggregates(operator: Client) -> None:
    # given: a host in an availability zone's aggregate
    node = create_host("h-az", availability_zone="zone-a")
    services.sync_provider_aggregates(host="h-az")
    provider = ResourceProvider.objects.get(uuid=node.uuid)
    aggregate_uuid = str(provider.aggregates.get().aggregate_uuid)
    # then
    page = operator.get(f"/admin/placement/resourceprovider/{provider.pk}/change/")
    assert page.status_code == 200
    assert aggregate_uuid in page.content.decode()
