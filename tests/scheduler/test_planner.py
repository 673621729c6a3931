"""The in-memory pass: consumption within a batch, alternates, explanations (no database)."""

from apps.scheduler.explanation import pluralise
from apps.scheduler.filters.compute_status import ComputeFilter
from apps.scheduler.filters.server_group_anti_affinity import ServerGroupAntiAffinityFilter
from apps.scheduler.planner import plan_instances
from apps.scheduler.request_spec import GroupSpec
from apps.scheduler.weighers.ram import RAMWeigher
from tests.scheduler.helpers import host_state, make_spec

GROUP = "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6"


def test_a_batch_consumes_capacity_as_it_places():
    # given: one host with room for exactly two instances
    host = host_state("h1", vcpus=2, memory_mb=1024)
    spec = make_spec(vcpus=1, memory_mb=512, count=3)
    # when
    plan = plan_instances(spec, [host], filters=[], weighers=[])
    # then
    assert [p.host.host for p in plan.placements] == ["h1", "h1"]
    assert plan.explanation.summary() == (
        "Only 2 of 3 instances fit. There are not enough hosts available (1 considered): "
        "VCPU: 1 host has fewer than 1 VCPUs free."
    )


def test_anti_affinity_holds_inside_one_batch():
    # given
    hosts = [host_state(f"h{i}") for i in range(3)]
    spec = make_spec(count=3, group=GroupSpec(uuid=GROUP, policy="anti-affinity"))
    # when
    plan = plan_instances(spec, hosts, filters=[ServerGroupAntiAffinityFilter()], weighers=[])
    # then
    assert sorted(p.host.host for p in plan.placements) == ["h0", "h1", "h2"]


def test_alternates_are_the_next_best_hosts_that_passed():
    # given
    hosts = [host_state(f"h{i}", memory_mb=1024 * (i + 1)) for i in range(5)]
    hosts[4].service_up = False
    spec = make_spec()
    # when
    plan = plan_instances(
        spec, hosts, filters=[ComputeFilter()], weighers=[RAMWeigher()], max_alternates=2
    )
    # then: h4 is down; h3 has the most RAM, then h2, h1
    placement = plan.placements[0]
    assert placement.host.host == "h3"
    assert [a.host for a in placement.alternates] == ["h2", "h1"]


def test_the_explanation_groups_hosts_by_step_and_reason():
    # given
    hosts = [
        host_state("full", memory_mb=1024),
        host_state("down1", service_up=False),
        host_state("down2", service_up=False),
        host_state("off", service_disabled=True),
    ]
    spec = make_spec(memory_mb=4096)
    # when
    plan = plan_instances(spec, hosts, filters=[ComputeFilter()], weighers=[])
    # then
    assert plan.placements == []
    assert plan.explanation.summary() == (
        "There are not enough hosts available (4 considered): "
        "RAM: 1 host has less than 4096 MB free; "
        "ComputeFilter: 2 hosts are down, 1 host is disabled."
    )
    rejection = plan.explanation.as_dict()["rejections"][1]
    assert rejection == {
        "step": "ComputeFilter",
        "reason": "is down",
        "count": 2,
        "hosts": ["down1", "down2"],
    }


def test_a_forced_host_skips_the_filters_but_not_the_resources():
    # given: the forced host is disabled (an admin may still force it)
    host = host_state("h1", service_disabled=True)
    spec = make_spec(availability_zone="nova:h1")
    # when
    plan = plan_instances(spec, [host], filters=[ComputeFilter()], weighers=[])
    # then
    assert [p.host.host for p in plan.placements] == ["h1"]


def test_required_and_forbidden_traits_are_explained():
    # given
    hosts = [host_state("plain"), host_state("gpu", traits=frozenset({"CUSTOM_GPU"}))]
    spec = make_spec(extra_specs={"trait:CUSTOM_GPU": "required"})
    # when
    plan = plan_instances(spec, hosts, filters=[], weighers=[])
    # then
    assert [p.host.host for p in plan.placements] == ["gpu"]


def test_pluralise_turns_the_leading_verb_plural():
    assert pluralise("is down") == "are down"
    assert pluralise("has less than 4096 MB free") == "have less than 4096 MB free"
    assert pluralise("does not run any") == "do not run any"
    assert pluralise("runs one of them") == "run one of them"
    assert pluralise("lacks required traits X") == "lack required traits X"
    assert pluralise("cannot run x86_64 images") == "cannot run x86_64 images"
