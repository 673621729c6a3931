"""Resize and cold migration: the migration holds the source, the instance the destination."""

import uuid

import pytest

from apps.placement import services as placement
from apps.scheduler import services
from apps.scheduler.exceptions import NoValidHost
from apps.scheduler.request_spec import RequestSpec
from computecloud.exceptions import InvalidInput
from tests.scheduler.helpers import create_host

pytestmark = pytest.mark.django_db

SMALL = {"vcpus": 1, "memory_mb": 1024, "root_gb": 10}
LARGE = {"vcpus": 2, "memory_mb": 2048, "root_gb": 20}


def _build(flavor, **kwargs):
    spec = RequestSpec.from_request(flavor=flavor, project_id="p", user_id="u", **kwargs)
    return spec.instance_uuids[0], services.select_destinations(spec)[0]


def _move_spec(instance, source, *, flavor=LARGE, resize=True):
    return RequestSpec.from_request(
        flavor=flavor,
        project_id="p",
        user_id="u",
        instance_uuids=[instance],
        is_move=True,
        is_resize=resize,
        source_host=source,
        migration_uuid=uuid.uuid4(),
    )


def _hosts_of(consumer):
    return {e["host"]: e["resources"] for e in placement.get_allocations(consumer).values()}


def test_resize_moves_the_source_claim_to_the_migration():
    # given
    create_host("src", memory_mb=8192)
    instance, _ = _build(SMALL)
    create_host("dst", memory_mb=16384)
    spec = _move_spec(instance, "src")
    # when
    [selection] = services.select_destinations(spec)
    # then
    assert selection.host == "dst"
    assert _hosts_of(instance) == {"dst": {"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 20}}
    assert _hosts_of(spec.migration_uuid) == {"src": {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 10}}


def test_confirm_drops_the_source():
    create_host("src", memory_mb=8192)
    instance, _ = _build(SMALL)
    create_host("dst", memory_mb=16384)
    spec = _move_spec(instance, "src")
    services.select_destinations(spec)
    placement.confirm_move(migration_uuid=spec.migration_uuid)
    assert placement.get_allocations(spec.migration_uuid) == {}
    assert list(_hosts_of(instance)) == ["dst"]
    assert placement.provider_usages("src")["MEMORY_MB"] == 0


def test_revert_drops_the_destination_and_returns_the_source():
    create_host("src", memory_mb=8192)
    instance, _ = _build(SMALL)
    create_host("dst", memory_mb=16384)
    spec = _move_spec(instance, "src")
    services.select_destinations(spec)
    placement.revert_move(instance_uuid=instance, migration_uuid=spec.migration_uuid)
    assert _hosts_of(instance) == {"src": {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 10}}
    assert placement.get_allocations(spec.migration_uuid) == {}
    assert placement.provider_usages("dst")["MEMORY_MB"] == 0


def test_resize_to_the_same_host_counts_both_flavors(settings):
    # given: a single host
    settings.COMPUTECLOUD = {"ALLOW_RESIZE_TO_SAME_HOST": True}
    create_host("only", memory_mb=8192)
    instance, _ = _build(SMALL)
    spec = _move_spec(instance, "only")
    # when
    [selection] = services.select_destinations(spec)
    # then
    assert selection.host == "only"
    assert placement.provider_usages("only")["MEMORY_MB"] == 1024 + 2048


def test_resize_to_the_same_host_is_refused_when_disallowed_and_nothing_moves(settings):
    # given
    settings.COMPUTECLOUD = {"ALLOW_RESIZE_TO_SAME_HOST": False}
    create_host("only", memory_mb=8192)
    instance, _ = _build(SMALL)
    spec = _move_spec(instance, "only")
    # when
    with pytest.raises(NoValidHost) as raised:
        services.select_destinations(spec)
    # then: the instance still holds its source allocation
    assert "IgnoreHosts: 1 host is excluded" in raised.value.message
    assert list(_hosts_of(instance)) == ["only"]
    assert placement.get_allocations(spec.migration_uuid) == {}


def test_cold_migration_leaves_the_host_unless_it_can_stay(settings):
    # given
    settings.COMPUTECLOUD = {"ALLOW_RESIZE_TO_SAME_HOST": True}
    create_host("only", memory_mb=8192)
    instance, _ = _build(SMALL)
    # when / then: no same-host cold migration trait
    with pytest.raises(NoValidHost):
        services.select_destinations(_move_spec(instance, "only", flavor=SMALL, resize=False))


def test_cold_migration_may_stay_on_a_host_with_the_trait(settings):
    settings.COMPUTECLOUD = {"ALLOW_RESIZE_TO_SAME_HOST": True}
    create_host("only", memory_mb=8192, traits=["COMPUTE_SAME_HOST_COLD_MIGRATE"])
    instance, _ = _build(SMALL)
    spec = _move_spec(instance, "only", flavor=SMALL, resize=False)
    assert services.select_destinations(spec)[0].host == "only"


def test_a_move_needs_its_migration_uuid():
    create_host("h1")
    instance, _ = _build(SMALL)
    spec = RequestSpec.from_request(
        flavor=LARGE, project_id="p", instance_uuids=[instance], is_move=True, source_host="h1"
    )
    with pytest.raises(InvalidInput, match="migration uuid"):
        services.select_destinations(spec)
