"""Each weigher, normalisation and multipliers, on HostStates built in memory (no database)."""

import pytest

from apps.scheduler.planner import weigh_hosts
from apps.scheduler.request_spec import GroupSpec
from apps.scheduler.weighers import WEIGHERS, normalize
from apps.scheduler.weighers.build_failure import BuildFailureWeigher
from apps.scheduler.weighers.cpu import CPUWeigher
from apps.scheduler.weighers.disk import DiskWeigher
from apps.scheduler.weighers.io_ops import IoOpsWeigher
from apps.scheduler.weighers.ram import RAMWeigher
from apps.scheduler.weighers.server_group_soft_affinity import ServerGroupSoftAffinityWeigher
from apps.scheduler.weighers.server_group_soft_anti_affinity import (
    ServerGroupSoftAntiAffinityWeigher,
)
from tests.scheduler.helpers import host_state, make_spec

GROUP = "5f0c4c1e-3a1b-4d6e-9f8a-7b6c5d4e3f21"


def _names(hosts):
    return [h.host for h in hosts]


def test_normalize_scales_to_zero_one_and_flattens_equal_values():
    assert normalize([10.0, 20.0, 15.0]) == [0.0, 1.0, 0.5]
    assert normalize([7.0, 7.0]) == [0.0, 0.0]
    assert normalize([]) == []


def test_ram_weigher_measures_free_memory_after_allocations():
    host = host_state(memory_mb=4096, used={"MEMORY_MB": 1024})
    assert RAMWeigher().weigh(host, make_spec()) == 3072


def test_cpu_and_disk_weighers_measure_free_vcpus_and_disk():
    host = host_state(vcpus=8, disk_gb=100, used={"VCPU": 3, "DISK_GB": 40})
    assert CPUWeigher().weigh(host, make_spec()) == 5
    assert DiskWeigher().weigh(host, make_spec()) == 60


def test_io_ops_weigher_defaults_to_preferring_idle_hosts(settings):
    # given: no multiplier configured for it
    settings.COMPUTECLOUD = {"SCHEDULER": {"WEIGHER_MULTIPLIERS": {}}}
    busy, idle = host_state("busy", num_io_ops=5), host_state("idle", num_io_ops=0)
    # when
    ranked = weigh_hosts([busy, idle], make_spec(), [IoOpsWeigher()])
    # then
    assert _names(ranked) == ["idle", "busy"]


def test_build_failure_weigher_outweighs_free_ram():
    # given: the failing host has far more RAM
    failing = host_state("failing", memory_mb=65536, failed_builds=1)
    healthy = host_state("healthy", memory_mb=2048)
    # when
    ranked = weigh_hosts([failing, healthy], make_spec(), [RAMWeigher(), BuildFailureWeigher()])
    # then
    assert _names(ranked) == ["healthy", "failing"]


def test_a_negative_ram_multiplier_stacks_instead_of_spreading(settings):
    # given
    settings.COMPUTECLOUD = {"SCHEDULER": {"WEIGHER_MULTIPLIERS": {"RAMWeigher": -1.0}}}
    big, small = host_state("big", memory_mb=32768), host_state("small", memory_mb=4096)
    # when
    ranked = weigh_hosts([big, small], make_spec(), [RAMWeigher()])
    # then
    assert _names(ranked) == ["small", "big"]


def test_multipliers_scale_normalised_weights(settings):
    # given: RAM prefers a, CPU prefers b; CPU's multiplier is larger
    settings.COMPUTECLOUD = {
        "SCHEDULER": {"WEIGHER_MULTIPLIERS": {"RAMWeigher": 1.0, "CPUWeigher": 3.0}}
    }
    a = host_state("a", memory_mb=65536, vcpus=2)
    b = host_state("b", memory_mb=1024, vcpus=64)
    # when
    ranked = weigh_hosts([a, b], make_spec(), [RAMWeigher(), CPUWeigher()])
    # then
    assert _names(ranked) == ["b", "a"]


def test_soft_affinity_weigher_prefers_hosts_with_members():
    # given
    group = GroupSpec(uuid=GROUP, policy="soft-affinity", member_hosts={"h2": 2})
    spec = make_spec(group=group)
    w = ServerGroupSoftAffinityWeigher()
    # then
    assert w.applies_to(spec)
    assert _names(weigh_hosts([host_state("h1"), host_state("h2")], spec, [w])) == ["h2", "h1"]


def test_soft_anti_affinity_weigher_prefers_hosts_without_members():
    # given
    group = GroupSpec(uuid=GROUP, policy="soft-anti-affinity", member_hosts={"h1": 1})
    spec = make_spec(group=group)
    w = ServerGroupSoftAntiAffinityWeigher()
    # then
    assert _names(weigh_hosts([host_state("h1"), host_state("h2")], spec, [w])) == ["h2", "h1"]
    assert not w.applies_to(make_spec())


@pytest.mark.parametrize(
    "name",
    [
        "RAMWeigher",
        "CPUWeigher",
        "DiskWeigher",
        "IoOpsWeigher",
        "ServerGroupSoftAffinityWeigher",
        "ServerGroupSoftAntiAffinityWeigher",
        "BuildFailureWeigher",
    ],
)
def test_every_default_weigher_is_registered(name):
    assert name in WEIGHERS
