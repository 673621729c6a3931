"""POST /compute/v2.1/os-scheduler/dry-run: admin only, claims nothing."""

import pytest

from apps.placement.models import Allocation
from tests.factories import FlavorFactory
from tests.scheduler.helpers import create_host

pytestmark = pytest.mark.django_db

URL = "/compute/v2.1/os-scheduler/dry-run"


def test_dry_run_counts_what_fits_and_where_without_claiming(admin):
    # given: 2 + 1 slots of a 2-VCPU flavor
    create_host("a", vcpus=4, memory_mb=65536)
    create_host("b", vcpus=2, memory_mb=65536)
    flavor = FlavorFactory(vcpus=2, memory_mb=1024, root_gb=1)
    # when
    response = admin.client.post(URL, {"flavorRef": flavor.flavorid, "count": 5}, format="json")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["fits"] == 3
    assert sorted((h["host"], h["count"]) for h in body["hosts"]) == [("a", 2), ("b", 1)]
    assert body["shortfall"] == (
        "Only 3 of 5 instances fit. There are not enough hosts available (2 considered): "
        "VCPU: 2 hosts have fewer than 2 VCPUs free."
    )
    assert Allocation.objects.count() == 0


def test_dry_run_with_everything_fitting_has_no_shortfall(admin):
    create_host("a")
    flavor = FlavorFactory()
    response = admin.client.post(URL, {"flavorRef": flavor.flavorid, "count": 2}, format="json")
    assert response.json()["fits"] == 2
    assert response.json()["shortfall"] is None


def test_dry_run_honours_the_availability_zone_and_image_properties(admin):
    # given
    create_host("a", availability_zone="az1", cpu_info={"arch": "x86_64"})
    create_host("b", cpu_info={"arch": "aarch64"})
    flavor = FlavorFactory()
    # when
    response = admin.client.post(
        URL,
        {
            "flavorRef": f"http://example/flavors/{flavor.flavorid}",
            "count": 1,
            "availability_zone": "nova",
            "image_properties": {"hw_architecture": "x86_64"},
        },
        format="json",
    )
    # then
    body = response.json()
    assert body["fits"] == 0
    assert "AvailabilityZoneFilter: 1 host is not in availability zone nova" in body["shortfall"]
    assert "ImagePropertiesFilter: 1 host cannot run x86_64/*/* images" in body["shortfall"]


def test_dry_run_is_admin_only(member):
    response = member.client.post(URL, {"flavorRef": "1", "count": 1}, format="json")
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == (
        "Policy doesn't allow computecloud:scheduler:dry_run to be performed."
    )


def test_dry_run_rejects_unknown_keys_and_flavors(admin):
    unknown = admin.client.post(URL, {"flavorRef": "1", "bogus": 1}, format="json")
    missing = admin.client.post(URL, {"flavorRef": "nope", "count": 1}, format="json")
    assert unknown.status_code == 400
    assert missing.status_code == 400
    assert "nope" in missing.json()["badRequest"]["message"]
