"""Inventory reports: providers, defaults, operator overrides, traits, generations."""

import uuid

import pytest

from apps.hosts.models import Aggregate, AggregateHost
from apps.placement import services
from apps.placement.models import Allocation, Inventory, ResourceProvider
from apps.placement.tasks import update_inventory
from computecloud.exceptions import Conflict, InvalidInput
from tests.scheduler.helpers import create_host

pytestmark = pytest.mark.django_db


def _report(node_uuid, host="h1", inventories=None, traits=()):
    services.sync_compute_node_inventory(
        compute_node_uuid=node_uuid,
        host=host,
        inventories=inventories or {"VCPU": {"total": 8}, "MEMORY_MB": {"total": 16384}},
        traits=list(traits),
    )


def test_first_report_creates_the_provider_with_default_ratios_and_reserved(settings):
    # given
    settings.COMPUTECLOUD = {
        "ALLOCATION_RATIOS": {"VCPU": 4.0, "MEMORY_MB": 1.5},
        "RESERVED": {"MEMORY_MB": 512},
    }
    node_uuid = uuid.uuid4()
    # when
    _report(node_uuid)
    # then
    provider = ResourceProvider.objects.get(uuid=node_uuid)
    assert provider.name == "h1"
    assert provider.generation == 1
    vcpu = provider.inventories.get(resource_class="VCPU")
    ram = provider.inventories.get(resource_class="MEMORY_MB")
    assert (vcpu.total, vcpu.allocation_ratio, vcpu.reserved, vcpu.max_unit) == (8, 4.0, 0, 8)
    assert (ram.allocation_ratio, ram.reserved) == (1.5, 512)
    assert ram.capacity == int((16384 - 512) * 1.5)


def test_an_unchanged_report_writes_nothing_and_takes_no_lock(django_assert_num_queries):
    # given
    node_uuid = uuid.uuid4()
    _report(node_uuid, traits=["CUSTOM_A"])
    # when: node name, provider, inventories, traits, aggregates (2); no lock, no write
    with django_assert_num_queries(6) as captured:
        _report(node_uuid, traits=["CUSTOM_A"])
    # then
    assert not any("FOR UPDATE" in q["sql"] for q in captured.captured_queries)
    assert ResourceProvider.objects.get(uuid=node_uuid).generation == 1


def test_a_changed_total_bumps_the_generation():
    node_uuid = uuid.uuid4()
    _report(node_uuid)
    _report(node_uuid, inventories={"VCPU": {"total": 16}, "MEMORY_MB": {"total": 16384}})
    provider = ResourceProvider.objects.get(uuid=node_uuid)
    assert provider.generation == 2
    assert provider.inventories.get(resource_class="VCPU").total == 16


def test_operator_overrides_survive_the_next_report():
    # given
    node_uuid = uuid.uuid4()
    _report(node_uuid)
    services.set_inventory_overrides(
        host="h1", resource_class="VCPU", allocation_ratio=2.0, reserved=1
    )
    # when: the host reports its own idea of both
    _report(
        node_uuid,
        inventories={
            "VCPU": {"total": 8, "allocation_ratio": 16.0, "reserved": 0},
            "MEMORY_MB": {"total": 16384},
        },
    )
    # then
    vcpu = Inventory.objects.get(provider__uuid=node_uuid, resource_class="VCPU")
    assert (vcpu.allocation_ratio, vcpu.reserved) == (2.0, 1)


def test_cleared_overrides_give_way_to_the_next_report():
    node_uuid = uuid.uuid4()
    _report(node_uuid)
    services.set_inventory_overrides(host="h1", resource_class="VCPU", allocation_ratio=2.0)
    services.clear_inventory_overrides(host="h1", resource_class="VCPU")
    _report(node_uuid, inventories={"VCPU": {"total": 8, "allocation_ratio": 3.0}})
    vcpu = Inventory.objects.get(provider__uuid=node_uuid, resource_class="VCPU")
    assert vcpu.allocation_ratio == 3.0


def test_traits_are_replaced_and_unknown_names_ignored():
    # given
    node_uuid = uuid.uuid4()
    _report(node_uuid, traits=["HW_CPU_X86_AVX2", "CUSTOM_FAST"])
    # when
    _report(node_uuid, traits=["CUSTOM_FAST", "COMPUTE_NET_ATTACH", "not a trait", "BOGUS"])
    # then
    provider = ResourceProvider.objects.get(uuid=node_uuid)
    assert set(provider.traits.values_list("name", flat=True)) == {
        "CUSTOM_FAST",
        "COMPUTE_NET_ATTACH",
    }


def test_custom_resource_classes_are_accepted_and_invalid_ones_refused():
    node_uuid = uuid.uuid4()
    _report(node_uuid, inventories={"CUSTOM_FPGA": {"total": 2}})
    assert Inventory.objects.get(provider__uuid=node_uuid).resource_class == "CUSTOM_FPGA"
    with pytest.raises(InvalidInput):
        _report(node_uuid, inventories={"FPGA": {"total": 2}})


def test_a_class_no_longer_reported_is_kept_while_allocations_use_it():
    # given
    node_uuid = uuid.uuid4()
    _report(node_uuid, inventories={"VCPU": {"total": 8}, "CUSTOM_X": {"total": 1}})
    provider = ResourceProvider.objects.get(uuid=node_uuid)
    Allocation.objects.create(
        provider=provider, consumer_uuid=uuid.uuid4(), resource_class="CUSTOM_X", used=1
    )
    # when
    _report(node_uuid, inventories={"VCPU": {"total": 8}})
    # then
    assert provider.inventories.filter(resource_class="CUSTOM_X").exists()


def test_a_reinstalled_host_replaces_its_empty_provider_but_not_a_used_one():
    # given
    old = uuid.uuid4()
    _report(old)
    # when
    new = uuid.uuid4()
    _report(new)
    # then
    assert list(ResourceProvider.objects.values_list("uuid", flat=True)) == [new]
    Allocation.objects.create(
        provider=ResourceProvider.objects.get(uuid=new),
        consumer_uuid=uuid.uuid4(),
        resource_class="VCPU",
        used=1,
    )
    with pytest.raises(Conflict):
        _report(uuid.uuid4())


def test_provider_aggregates_mirror_the_hosts_aggregates():
    # given
    node = create_host("h1")
    agg = Aggregate.objects.create(name="rack1")
    AggregateHost.objects.create(aggregate=agg, host="h1")
    # when
    services.sync_provider_aggregates(host="h1")
    # then
    provider = ResourceProvider.objects.get(uuid=node.uuid)
    assert list(provider.aggregates.values_list("aggregate_uuid", flat=True)) == [agg.uuid]


def test_the_inventory_task_on_the_scheduler_queue_records_a_report():
    # given
    node_uuid = uuid.uuid4()
    # when: the task body runs as a worker would run it
    update_inventory.run(
        compute_node_uuid=str(node_uuid),
        host="h9",
        inventories={"VCPU": {"total": 4}},
        traits=["CUSTOM_A"],
    )
    # then
    assert ResourceProvider.objects.get(uuid=node_uuid).name == "h9"
    assert update_inventory.name == "scheduler.update_inventory"


def test_build_failures_count_up_and_reset_on_success():
    create_host("h1")
    services.record_build_result(host="h1", succeeded=False)
    services.record_build_result(host="h1", succeeded=False)
    assert ResourceProvider.objects.get(name="h1").failed_builds == 2
    services.record_build_result(host="h1", succeeded=True)
    assert ResourceProvider.objects.get(name="h1").failed_builds == 0


def test_provider_usages_sum_allocations():
    # given
    node = create_host("h1")
    provider = ResourceProvider.objects.get(uuid=node.uuid)
    for used in (2, 3):
        Allocation.objects.create(
            provider=provider, consumer_uuid=uuid.uuid4(), resource_class="VCPU", used=used
        )
    # when
    usages = services.provider_usages(node.uuid)
    # then
    assert usages == {"VCPU": 5, "MEMORY_MB": 0, "DISK_GB": 0}
    assert services.provider_usages("h1") == usages
