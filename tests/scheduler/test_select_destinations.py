"""select_destinations and claims against real PostgreSQL: hosts via the inventory service."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.hosts.models import Aggregate, AggregateHost, Service
from apps.placement import services as placement
from apps.placement.models import Allocation, ResourceProvider
from apps.scheduler import services
from apps.scheduler.candidates import find_candidates
from apps.scheduler.exceptions import NoValidHost
from apps.scheduler.host_state import build_host_states
from apps.scheduler.request_spec import RequestSpec
from apps.scheduler.selection import Alternate
from tests.scheduler.helpers import create_group, create_host, create_server, make_spec

pytestmark = pytest.mark.django_db


def _usage(host):
    return placement.provider_usages(host)


def test_one_instance_is_claimed_on_a_host():
    # given
    node = create_host("h1", vcpus=4, memory_mb=8192, disk_gb=50)
    spec = make_spec(vcpus=2, memory_mb=2048, root_gb=10)
    # when
    [selection] = services.select_destinations(spec)
    # then
    assert (selection.host, selection.node) == ("h1", "h1.node")
    assert selection.provider_uuid == str(node.uuid)
    assert selection.instance_uuid == spec.instance_uuids[0]
    assert selection.allocation == {"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 10}
    assert placement.get_allocations(spec.instance_uuids[0]) == {
        str(node.uuid): {"host": "h1", "resources": {"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 10}}
    }
    assert _usage("h1") == {"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 10}


def test_the_host_with_most_free_ram_wins_by_default():
    create_host("small", memory_mb=4096)
    create_host("big", memory_mb=32768)
    [selection] = services.select_destinations(make_spec())
    assert selection.host == "big"


def test_allocation_ratio_and_reserved_define_capacity():
    # given: 2 VCPUs at ratio 4 = 8 one-VCPU instances; RAM (8192-1024)*1.0 = 7 x 1024
    create_host("h1", vcpus=2, cpu_ratio=4.0, memory_mb=8192, reserved_ram_mb=1024)
    # when
    placed = services.select_destinations(
        make_spec(vcpus=1, memory_mb=1024, root_gb=0, count=8), min_count=1
    )
    # then
    assert len(placed) == 7
    assert _usage("h1")["MEMORY_MB"] == 7 * 1024


def test_a_batch_is_all_or_nothing():
    # given: room for two
    create_host("h1", vcpus=2)
    spec = make_spec(vcpus=1, count=3)
    # when
    with pytest.raises(NoValidHost) as raised:
        services.select_destinations(spec)
    # then
    assert Allocation.objects.count() == 0
    assert raised.value.code == 500
    assert raised.value.message == (
        "No valid host was found. Only 2 of 3 instances fit. There are not enough hosts "
        "available (1 considered): VCPU: 1 host has fewer than 1 VCPUs free."
    )


def test_min_count_accepts_fewer_instances():
    create_host("h1", vcpus=2)
    spec = make_spec(vcpus=1, count=3)
    placed = services.select_destinations(spec, min_count=2)
    assert [s.instance_uuid for s in placed] == list(spec.instance_uuids[:2])
    assert Allocation.objects.filter(resource_class="VCPU").count() == 2


def test_usage_is_the_sum_of_existing_allocations():
    # given: h1 nearly full by someone else's allocation
    create_host("h1", memory_mb=4096)
    create_host("h2", memory_mb=2048)
    Allocation.objects.create(
        provider=ResourceProvider.objects.get(name="h1"),
        consumer_uuid=uuid.uuid4(),
        resource_class="MEMORY_MB",
        used=4000,
    )
    # when
    [selection] = services.select_destinations(make_spec(memory_mb=512))
    # then
    assert selection.host == "h2"


def test_no_valid_host_explains_resources_and_filters():
    # given
    create_host("tiny", memory_mb=1024)
    create_host("down", up=False)
    create_host("off", disabled=True)
    # when
    with pytest.raises(NoValidHost) as raised:
        services.select_destinations(make_spec(memory_mb=4096))
    # then
    assert raised.value.message == (
        "No valid host was found. There are not enough hosts available (3 considered): "
        "RAM: 1 host has less than 4096 MB free; "
        "ComputeFilter: 1 host is down, 1 host is disabled."
    )
    assert raised.value.explanation.as_dict()["rejections"][0]["hosts"] == ["tiny"]
    assert raised.value.details.splitlines()[1:] == [
        "RAM (has less than 4096 MB free): tiny",
        "ComputeFilter (is down): down",
        "ComputeFilter (is disabled): off",
    ]


def test_no_valid_host_without_any_host():
    with pytest.raises(NoValidHost, match=r"There are no compute hosts with resources\."):
        services.select_destinations(make_spec())


def test_alternates_pass_the_filters_and_are_not_claimed(settings):
    # given
    settings.COMPUTECLOUD = {"SCHEDULER": {"MAX_ATTEMPTS": 3}}
    for i, ram in enumerate([8192, 16384, 4096, 2048]):
        create_host(f"h{i}", memory_mb=ram)
    create_host("down", memory_mb=65536, up=False)
    # when
    [selection] = services.select_destinations(make_spec())
    # then
    assert selection.host == "h1"
    assert [a.host for a in selection.alternates] == ["h0", "h2"]
    assert Allocation.objects.exclude(provider__name="h1").count() == 0


def test_claim_on_alternate_moves_the_instance_claim():
    # given
    create_host("a", memory_mb=8192)
    create_host("b", memory_mb=4096)
    spec = make_spec(memory_mb=1024)
    [selection] = services.select_destinations(spec)
    assert selection.host == "a"
    # when: the build on "a" failed; the conductor reschedules onto the alternate
    ok = services.claim_on_alternate(
        spec, instance_uuid=selection.instance_uuid, alternate=selection.alternates[0]
    )
    # then
    assert ok
    allocations = placement.get_allocations(selection.instance_uuid)
    assert [entry["host"] for entry in allocations.values()] == ["b"]
    assert _usage("a")["MEMORY_MB"] == 0


def test_claim_on_alternate_refuses_a_full_host_and_changes_nothing():
    # given
    create_host("a", memory_mb=8192)
    create_host("b", memory_mb=2048)
    spec = make_spec(memory_mb=2048)
    [selection] = services.select_destinations(spec)
    Allocation.objects.create(
        provider=ResourceProvider.objects.get(name="b"),
        consumer_uuid=uuid.uuid4(),
        resource_class="MEMORY_MB",
        used=1024,
    )
    # when
    ok = services.claim_on_alternate(
        spec, instance_uuid=selection.instance_uuid, alternate=selection.alternates[0]
    )
    # then
    assert not ok
    assert [e["host"] for e in placement.get_allocations(selection.instance_uuid).values()] == ["a"]


def test_claim_on_alternate_rechecks_anti_affinity_under_the_group_lock():
    # given: a member was placed on "a" meanwhile; the alternate offered earlier is "a"
    create_host("a", memory_mb=8192)
    create_host("b", memory_mb=4096)
    group = create_group("anti-affinity")
    member = create_server(host=None, group=group)
    create_server(host="a", group=group)
    spec = RequestSpec.from_request(
        flavor={"vcpus": 1, "memory_mb": 512},
        project_id="p",
        instance_uuids=[member.uuid],
        server_group=group,
    )
    alternate = Alternate(
        host="a",
        node="a.node",
        provider_uuid=str(ResourceProvider.objects.get(name="a").uuid),
        allocation=dict(spec.resources),
    )
    # when
    ok = services.claim_on_alternate(spec, instance_uuid=str(member.uuid), alternate=alternate)
    # then
    assert not ok
    assert placement.get_allocations(member.uuid) == {}
    assert placement.provider_usages("a")["VCPU"] == 0


def test_ignored_hosts_are_not_picked():
    create_host("a", memory_mb=8192)
    create_host("b", memory_mb=4096)
    [selection] = services.select_destinations(make_spec(ignore_hosts=["a"]))
    assert selection.host == "b"


def test_the_availability_zone_comes_from_aggregates():
    create_host("a", memory_mb=8192)
    create_host("b", memory_mb=4096, availability_zone="az2")
    [selection] = services.select_destinations(make_spec(availability_zone="az2"))
    assert selection.host == "b"


def test_an_admin_forced_host_is_used_even_if_disabled():
    create_host("a", memory_mb=8192)
    create_host("b", memory_mb=4096, disabled=True)
    [selection] = services.select_destinations(make_spec(availability_zone="nova:b"))
    assert selection.host == "b"


def test_a_requested_host_still_runs_the_filters():
    create_host("a", memory_mb=8192)
    create_host("b", memory_mb=4096, disabled=True)
    with pytest.raises(NoValidHost, match="ComputeFilter: 1 host is disabled"):
        services.select_destinations(make_spec(requested_host="b"))


def test_custom_resource_classes_and_required_traits_are_matched():
    # given
    create_host("plain", memory_mb=65536)
    create_host(
        "fpga",
        traits=["CUSTOM_FPGA_V2"],
        extra_inventory={"CUSTOM_FPGA": {"total": 1}},
    )
    spec = make_spec(extra_specs={"resources:CUSTOM_FPGA": "1", "trait:CUSTOM_FPGA_V2": "required"})
    # when
    [selection] = services.select_destinations(spec)
    # then
    assert selection.host == "fpga"
    assert selection.allocation["CUSTOM_FPGA"] == 1
    with pytest.raises(NoValidHost) as raised:
        services.select_destinations(
            make_spec(
                extra_specs={"resources:CUSTOM_FPGA": "1", "trait:CUSTOM_FPGA_V2": "required"}
            )
        )
    assert "CUSTOM_FPGA: 1 host has less than 1 CUSTOM_FPGA free" in raised.value.message
    assert "Traits: 1 host lacks required traits CUSTOM_FPGA_V2" in raised.value.message


def test_a_small_candidate_window_falls_back_to_every_host(settings):
    # given: a window of two hosts, and only one of five hosts has the aggregate metadata
    # the flavor asks for (a filter the candidate query cannot apply)
    settings.COMPUTECLOUD = {"SCHEDULER": {"MAX_CANDIDATES": 1}}
    for i in range(4):
        create_host(f"other{i}", memory_mb=65536)
    create_host("wanted", memory_mb=8192)
    agg = Aggregate.objects.create(name="ssd", metadata={"disk": "ssd"})
    AggregateHost.objects.create(aggregate=agg, host="wanted")
    extra = {"aggregate_instance_extra_specs:disk": "ssd"}
    # when
    placed = [services.select_destinations(make_spec(extra_specs=extra))[0] for _ in range(5)]
    # then
    assert {s.host for s in placed} == {"wanted"}


def test_host_subset_size_picks_at_random_among_the_best(settings):
    # given: three hosts with much more RAM than the other three, weighed by RAM only
    settings.COMPUTECLOUD = {
        "SCHEDULER": {"HOST_SUBSET_SIZE": 3, "MAX_CANDIDATES": 0, "WEIGHERS": ["RAMWeigher"]}
    }
    for i in range(3):
        create_host(f"big{i}", vcpus=64, memory_mb=262144)
        create_host(f"small{i}", vcpus=64, memory_mb=8192)
    # when
    picked = {services.select_destinations(make_spec())[0].host for _ in range(20)}
    # then: only the best three, and (with overwhelming likelihood) more than one of them
    assert picked <= {"big0", "big1", "big2"}
    assert len(picked) > 1


def test_same_host_hint_follows_the_named_instance():
    create_host("a", memory_mb=8192)
    create_host("b", memory_mb=4096)
    neighbour = create_server(host="b")
    spec = make_spec(scheduler_hints={"same_host": [str(neighbour.uuid)]})
    assert services.select_destinations(spec)[0].host == "b"


def test_anti_affinity_avoids_hosts_of_existing_members():
    # given
    create_host("a", memory_mb=8192)
    create_host("b", memory_mb=4096)
    group = create_group("anti-affinity")
    create_server(host="a", group=group)
    newcomer = create_server(host=None, group=group)
    spec = RequestSpec.from_request(
        flavor={"vcpus": 1, "memory_mb": 512},
        project_id="p",
        instance_uuids=[newcomer.uuid],
        server_group=group,
    )
    # when
    [selection] = services.select_destinations(spec)
    # then
    assert selection.host == "b"


def test_affinity_sends_a_batch_and_later_members_to_one_host():
    # given
    for name in ("a", "b", "c"):
        create_host(name)
    group = create_group("affinity")
    members = [create_server(host=None, group=group) for _ in range(2)]
    spec = RequestSpec.from_request(
        flavor={"vcpus": 1, "memory_mb": 512},
        project_id="p",
        instance_uuids=[m.uuid for m in members],
        server_group=group,
    )
    # when
    placed = services.select_destinations(spec)
    late = create_server(host=None, group=group)
    [late_selection] = services.select_destinations(
        RequestSpec.from_request(
            flavor={"vcpus": 1, "memory_mb": 512},
            project_id="p",
            instance_uuids=[late.uuid],
            server_group=group.uuid,
        )
    )
    # then: the member hosts are read from the allocations (host columns are still empty)
    assert len({s.host for s in placed} | {late_selection.host}) == 1


def test_release_allocations_frees_the_capacity():
    create_host("h1", vcpus=1)
    spec = make_spec(vcpus=1)
    services.select_destinations(spec)
    assert placement.release_allocations(consumer_uuid=spec.instance_uuids[0]) == 3
    assert services.select_destinations(make_spec(vcpus=1))[0].host == "h1"


def test_host_states_take_a_constant_number_of_queries(django_assert_num_queries):
    # given: hosts in aggregates, and a hint that names an instance
    for i in range(3):
        create_host(f"few{i}", availability_zone=f"az{i}")
    spec = make_spec(scheduler_hints={"different_host": [str(uuid.uuid4())]})
    # candidates 1 (inventories, usage, facts, aggregates), hinted instances 2
    with django_assert_num_queries(3):
        build_host_states(find_candidates(spec), spec)
    for i in range(30):
        create_host(f"many{i}", availability_zone=f"az{i}")
    # then: ten times the hosts, the same queries
    with django_assert_num_queries(3):
        states = build_host_states(find_candidates(spec), spec)
    assert len(states) == 33
    assert {s.host: s.availability_zones for s in states}["many7"] == frozenset({"az7"})


def test_host_state_liveness_agrees_with_the_service_model():
    # given: hosts whose heartbeats are recent, stale, or recent but forced down
    create_host("fresh")
    create_host("stale", up=False)
    create_host("forced")
    Service.objects.filter(host="forced").update(forced_down=True)
    Service.objects.filter(host="fresh").update(last_seen_up=timezone.now() - timedelta(seconds=5))
    spec = make_spec()
    # when
    states = build_host_states(find_candidates(spec, prefilter=False), spec)
    # then
    expected = {s.host: s.is_up for s in Service.objects.all()}
    assert {s.host: s.service_up for s in states} == expected
    assert expected == {"fresh": True, "stale": False, "forced": False}
