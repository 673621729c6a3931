"""Each filter on HostStates built in memory: no database (the tests are not marked db)."""

import pytest

from apps.scheduler.filters import FILTERS, resolve_filter
from apps.scheduler.filters.aggregate_instance_extra_specs import AggregateInstanceExtraSpecsFilter
from apps.scheduler.filters.aggregate_multitenancy_isolation import (
    AggregateMultiTenancyIsolation,
)
from apps.scheduler.filters.availability_zone import AvailabilityZoneFilter
from apps.scheduler.filters.compute_capabilities import ComputeCapabilitiesFilter
from apps.scheduler.filters.compute_status import ComputeFilter
from apps.scheduler.filters.different_host import DifferentHostFilter
from apps.scheduler.filters.image_properties import ImagePropertiesFilter
from apps.scheduler.filters.same_host import SameHostFilter
from apps.scheduler.filters.server_group_affinity import ServerGroupAffinityFilter
from apps.scheduler.filters.server_group_anti_affinity import ServerGroupAntiAffinityFilter
from apps.scheduler.request_spec import GroupSpec
from tests.scheduler.helpers import aggregate, host_state, make_spec

OTHER = "0b6c9f6e-5b0e-4a43-9a57-0a7f1f3c2d11"
MINE = "9d3e1f0a-1c2b-4f5e-8a7b-6c5d4e3f2a10"


# --- ComputeFilter ---------------------------------------------------------------------------
def test_compute_filter_passes_an_up_enabled_host():
    assert ComputeFilter().host_passes(host_state(), make_spec())


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"service_up": False}, "is down"),
        ({"service_disabled": True}, "is disabled"),
        ({"has_service": False}, "has no compute service"),
    ],
)
def test_compute_filter_rejects_down_disabled_or_unregistered_hosts(fields, reason):
    # given
    host, spec = host_state(**fields), make_spec()
    # when / then
    assert not ComputeFilter().host_passes(host, spec)
    assert ComputeFilter().explain(host, spec) == reason


# --- AvailabilityZoneFilter ------------------------------------------------------------------
def test_availability_zone_filter_does_not_apply_without_a_requested_zone():
    assert not AvailabilityZoneFilter().applies_to(make_spec())


def test_availability_zone_filter_keeps_hosts_of_the_requested_zone_only():
    # given
    spec = make_spec(availability_zone="az1")
    inside = host_state("a", availability_zones=frozenset({"az1"}))
    outside = host_state("b")  # the default zone, "nova"
    f = AvailabilityZoneFilter()
    # then
    assert f.host_passes(inside, spec)
    assert not f.host_passes(outside, spec)
    assert f.explain(outside, spec) == "is not in availability zone az1"


# --- ComputeCapabilitiesFilter ---------------------------------------------------------------
def test_capabilities_filter_matches_nested_cpu_info_and_driver_capabilities():
    # given
    host = host_state(
        cpu_info={"arch": "x86_64", "features": ["avx", "sse4.2"]},
        capabilities={"supports_rescue": True},
        hypervisor_version=8000000,
    )
    f = ComputeCapabilitiesFilter()
    # then
    assert f.host_passes(host, make_spec(extra_specs={"capabilities:cpu_info:arch": "x86_64"}))
    assert f.host_passes(
        host, make_spec(extra_specs={"capabilities:cpu_info:features": "<in> avx"})
    )
    assert f.host_passes(host, make_spec(extra_specs={"capabilities:supports_rescue": "True"}))
    assert f.host_passes(
        host, make_spec(extra_specs={"capabilities:hypervisor_version": ">= 7000000"})
    )


def test_capabilities_filter_rejects_a_mismatch_and_names_the_extra_spec():
    # given
    host = host_state(cpu_info={"arch": "aarch64"})
    spec = make_spec(extra_specs={"capabilities:cpu_info:arch": "x86_64"})
    f = ComputeCapabilitiesFilter()
    # then
    assert not f.host_passes(host, spec)
    assert f.explain(host, spec) == "does not match extra spec capabilities:cpu_info:arch=x86_64"


def test_capabilities_filter_ignores_other_scopes():
    spec = make_spec(extra_specs={"hw:cpu_policy": "dedicated"})
    assert not ComputeCapabilitiesFilter().applies_to(spec)


# --- ImagePropertiesFilter -------------------------------------------------------------------
def test_image_properties_filter_matches_architecture_hypervisor_and_mode():
    # given
    host = host_state(cpu_info={"arch": "x86_64"}, hypervisor_type="QEMU")
    f = ImagePropertiesFilter()
    good = make_spec(
        image_properties={"hw_architecture": "amd64", "img_hv_type": "qemu", "hw_vm_mode": "hvm"}
    )
    wrong_arch = make_spec(image_properties={"hw_architecture": "aarch64"})
    # then
    assert f.host_passes(host, good)
    assert not f.host_passes(host, wrong_arch)
    assert f.explain(host, wrong_arch) == "cannot run aarch64/*/* images"


def test_image_properties_filter_rejects_a_host_without_supported_instances():
    host = host_state(cpu_info={})
    spec = make_spec(image_properties={"hw_architecture": "x86_64"})
    assert not ImagePropertiesFilter().host_passes(host, spec)


def test_image_properties_filter_checks_the_requested_hypervisor_version():
    # given: libvirt's integer for 8.0.0
    host = host_state(cpu_info={"arch": "x86_64"}, hypervisor_version=8_000_000)
    f = ImagePropertiesFilter()
    # then
    assert f.host_passes(host, make_spec(image_properties={"img_hv_requested_version": ">=6.2"}))
    assert not f.host_passes(host, make_spec(image_properties={"img_hv_requested_version": ">=9"}))


def test_image_properties_filter_does_not_apply_to_an_image_without_those_properties():
    assert not ImagePropertiesFilter().applies_to(make_spec(image_properties={"os_distro": "x"}))


# --- server groups ---------------------------------------------------------------------------
def _group(policy, hosts=None, rules=None):
    return GroupSpec(uuid=OTHER, policy=policy, rules=rules or {}, member_hosts=hosts or {})


def test_affinity_filter_passes_every_host_for_the_first_member():
    spec = make_spec(group=_group("affinity"))
    assert ServerGroupAffinityFilter().host_passes(host_state("any"), spec)


def test_affinity_filter_keeps_only_the_members_host():
    # given
    spec = make_spec(group=_group("affinity", {"h1": 1}))
    f = ServerGroupAffinityFilter()
    # then
    assert f.host_passes(host_state("h1"), spec)
    assert not f.host_passes(host_state("h2"), spec)


def test_anti_affinity_filter_rejects_a_host_with_a_member():
    # given
    spec = make_spec(group=_group("anti-affinity", {"h1": 1}))
    f = ServerGroupAntiAffinityFilter()
    # then
    assert not f.host_passes(host_state("h1"), spec)
    assert f.host_passes(host_state("h2"), spec)
    assert f.explain(host_state("h1"), spec) == (
        "has reached the anti-affinity group's limit of 1 member per host"
    )


def test_anti_affinity_filter_honours_max_server_per_host():
    # given
    spec = make_spec(group=_group("anti-affinity", {"h1": 1, "h2": 2}, {"max_server_per_host": 2}))
    f = ServerGroupAntiAffinityFilter()
    # then
    assert f.host_passes(host_state("h1"), spec)
    assert not f.host_passes(host_state("h2"), spec)


def test_group_filters_ignore_other_policies():
    spec = make_spec(group=_group("soft-anti-affinity", {"h1": 3}))
    assert not ServerGroupAntiAffinityFilter().applies_to(spec)
    assert not ServerGroupAffinityFilter().applies_to(spec)


# --- same/different host ---------------------------------------------------------------------
def test_same_host_filter_keeps_hosts_running_a_hinted_instance():
    # given
    spec = make_spec(scheduler_hints={"same_host": [OTHER]})
    with_it = host_state("a", instance_uuids={OTHER})
    without = host_state("b", instance_uuids={MINE})
    f = SameHostFilter()
    # then
    assert f.host_passes(with_it, spec)
    assert not f.host_passes(without, spec)


def test_different_host_filter_rejects_hosts_running_a_hinted_instance():
    # given
    spec = make_spec(scheduler_hints={"different_host": OTHER})
    f = DifferentHostFilter()
    # then
    assert not f.host_passes(host_state("a", instance_uuids={OTHER}), spec)
    assert f.host_passes(host_state("b"), spec)
    assert f.explain(host_state("a"), spec) == "runs one of the different_host instances"


# --- aggregates ------------------------------------------------------------------------------
def test_aggregate_extra_specs_filter_matches_aggregate_metadata():
    # given
    ssd = host_state("a", aggregates=[aggregate("fast", disk="ssd")])
    hdd = host_state("b", aggregates=[aggregate("slow", disk="hdd")])
    bare = host_state("c")
    spec = make_spec(extra_specs={"aggregate_instance_extra_specs:disk": "ssd"})
    f = AggregateInstanceExtraSpecsFilter()
    # then
    assert f.host_passes(ssd, spec)
    assert not f.host_passes(hdd, spec)
    assert not f.host_passes(bare, spec)
    assert f.explain(hdd, spec) == (
        "has no aggregate metadata matching aggregate_instance_extra_specs:disk=ssd"
    )


def test_aggregate_extra_specs_filter_supports_operators():
    host = host_state("a", aggregates=[aggregate("big", cores="64")])
    spec = make_spec(extra_specs={"aggregate_instance_extra_specs:cores": ">= 32"})
    assert AggregateInstanceExtraSpecsFilter().host_passes(host, spec)


def test_multitenancy_isolation_reserves_hosts_for_listed_projects():
    # given
    reserved = host_state("a", aggregates=[aggregate("ours", filter_tenant_id="p1, p2")])
    shared = host_state("b")
    f = AggregateMultiTenancyIsolation()
    # then
    assert f.host_passes(reserved, make_spec(project_id="p2"))
    assert not f.host_passes(reserved, make_spec(project_id="p3"))
    assert f.host_passes(shared, make_spec(project_id="p3"))


# --- registry --------------------------------------------------------------------------------
def test_every_configured_default_filter_is_registered():
    from computecloud.conf import DEFAULTS

    for name in DEFAULTS["SCHEDULER"]["ENABLED_FILTERS"]:
        assert name in FILTERS


def test_a_filter_resolves_by_dotted_path():
    path = "apps.scheduler.filters.compute_status.ComputeFilter"
    assert resolve_filter(path) is ComputeFilter


def test_an_unknown_filter_name_is_refused():
    with pytest.raises(ValueError, match="unknown scheduler filter"):
        resolve_filter("NoSuchFilter")
