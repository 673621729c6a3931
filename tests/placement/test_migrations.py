"""Placement's models came from the scheduler app in Django's state only: a database made
before the move keeps its rows, and its content types become placement's.

The test migrates its own database back to before the move (scheduler.0002, no placement),
writes rows with the models of that time, and migrates forward again.
"""

import uuid

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.placement import services
from apps.placement.models import Allocation, Inventory, ProviderAggregate, ResourceProvider

pytestmark = pytest.mark.django_db(transaction=True)

SCHEDULER_0002 = ("scheduler", "0002_leaner_allocation_indexes")
BEFORE = [SCHEDULER_0002, ("placement", None)]


def _migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def test_rows_written_before_the_move_are_placements_after_it():
    node_uuid, consumer = uuid.uuid4(), uuid.uuid4()
    aggregate_uuid = uuid.uuid4()
    try:
        # given: the database as it was, with the scheduler's models of that time
        executor = _migrate(BEFORE)
        old = executor.loader.project_state(SCHEDULER_0002).apps
        trait = old.get_model("scheduler", "Trait").objects.create(name="CUSTOM_FAST")
        provider = old.get_model("scheduler", "ResourceProvider").objects.create(
            uuid=node_uuid, name="h1", node="h1.example", generation=3
        )
        provider.traits.add(trait)
        old.get_model("scheduler", "Inventory").objects.create(
            provider=provider, resource_class="VCPU", total=8, max_unit=8, allocation_ratio=4.0
        )
        old.get_model("scheduler", "Allocation").objects.create(
            provider=provider, consumer_uuid=consumer, resource_class="VCPU", used=2
        )
        old.get_model("scheduler", "ProviderAggregate").objects.create(
            provider=provider, aggregate_uuid=aggregate_uuid
        )
        old_type = ContentType.objects.get_or_create(app_label="scheduler", model="allocation")[0]

        # when
        _migrate(_latest())
    finally:
        _migrate(_latest())  # whatever happened, the database is left at the latest state

    # then: the same rows, read through placement
    ContentType.objects.clear_cache()
    provider = ResourceProvider.objects.get(uuid=node_uuid)
    assert (provider.name, provider.node, provider.generation) == ("h1", "h1.example", 3)
    assert list(provider.traits.values_list("name", flat=True)) == ["CUSTOM_FAST"]
    assert Inventory.objects.get(provider=provider).allocation_ratio == 4.0
    assert services.get_allocations(consumer) == {
        str(node_uuid): {"host": "h1", "resources": {"VCPU": 2}}
    }
    assert list(ProviderAggregate.objects.values_list("aggregate_uuid", flat=True)) == [
        aggregate_uuid
    ]
    # the content type (and the permissions tied to it) is placement's now, the same row
    assert ContentType.objects.get_for_model(Allocation).pk == old_type.pk
    assert not ContentType.objects.filter(app_label="scheduler").exists()


def test_the_tables_keep_their_names():
    assert [
        model._meta.db_table
        for model in (ResourceProvider, Inventory, Allocation, ProviderAggregate)
    ] == [
        "scheduler_resourceprovider",
        "scheduler_inventory",
        "scheduler_allocation",
        "scheduler_provideraggregate",
    ]
    through = ResourceProvider.traits.through._meta.db_table
    assert through == "scheduler_resourceprovider_traits"
    assert through in connection.introspection.table_names()
