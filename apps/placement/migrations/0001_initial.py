"""Placement's models, which were the scheduler app's, move here in Django's state only.

The tables stay as they are, under the names they had (``scheduler_*``, kept by each model's
``db_table`` and the traits field's): scheduler.0001 and 0002 made them, this migration only
tells Django that they are placement's now, and scheduler.0003 forgets them in the
scheduler's state. No statement runs against those tables and no row moves. The content types
(and so the permissions tied to them) are renamed to this app.
"""

import uuid

import django.db.models.deletion
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

MODELS = ("trait", "resourceprovider", "inventory", "allocation", "provideraggregate")


def _relabel(apps: StateApps, old: str, new: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    taken = set(
        content_type.objects.filter(app_label=new, model__in=MODELS).values_list("model", flat=True)
    )
    content_type.objects.filter(app_label=old, model__in=set(MODELS) - taken).update(app_label=new)
    content_type.objects.clear_cache()


def content_types_to_placement(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _relabel(apps, "scheduler", "placement")


def content_types_to_scheduler(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _relabel(apps, "placement", "scheduler")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("scheduler", "0002_leaner_allocation_indexes"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Trait',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=255, unique=True)),
                    ],
                    options={
                        'db_table': 'scheduler_trait',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='ResourceProvider',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('uuid', models.UUIDField(default=uuid.uuid4, unique=True)),
                        ('name', models.CharField(max_length=255, unique=True)),
                        ('node', models.CharField(blank=True, max_length=255)),
                        ('generation', models.PositiveBigIntegerField(default=0)),
                        ('failed_builds', models.PositiveIntegerField(default=0)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('traits', models.ManyToManyField(blank=True, db_table='scheduler_resourceprovider_traits', related_name='providers', to='placement.trait')),
                    ],
                    options={
                        'db_table': 'scheduler_resourceprovider',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='ProviderAggregate',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('aggregate_uuid', models.UUIDField(db_index=True)),
                        ('provider', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='aggregates', to='placement.resourceprovider')),
                    ],
                    options={
                        'db_table': 'scheduler_provideraggregate',
                        'constraints': [models.UniqueConstraint(fields=('provider', 'aggregate_uuid'), name='provider_aggregate_unique')],
                    },
                ),
                migrations.CreateModel(
                    name='Inventory',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('resource_class', models.CharField(max_length=255)),
                        ('total', models.PositiveBigIntegerField()),
                        ('reserved', models.PositiveBigIntegerField(default=0)),
                        ('min_unit', models.PositiveBigIntegerField(default=1)),
                        ('max_unit', models.PositiveBigIntegerField()),
                        ('step_size', models.PositiveBigIntegerField(default=1)),
                        ('allocation_ratio', models.FloatField(default=1.0)),
                        ('allocation_ratio_overridden', models.BooleanField(default=False)),
                        ('reserved_overridden', models.BooleanField(default=False)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('provider', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='inventories', to='placement.resourceprovider')),
                    ],
                    options={
                        'db_table': 'scheduler_inventory',
                        'ordering': ['provider_id', 'resource_class'],
                        'constraints': [models.UniqueConstraint(fields=('provider', 'resource_class'), name='inventory_unique_provider_class'), models.CheckConstraint(condition=models.Q(('step_size__gte', 1)), name='inventory_step_size_positive'), models.CheckConstraint(condition=models.Q(('allocation_ratio__gt', 0)), name='inventory_ratio_positive')],
                    },
                ),
                migrations.CreateModel(
                    name='Allocation',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('consumer_uuid', models.UUIDField()),
                        ('resource_class', models.CharField(max_length=255)),
                        ('used', models.PositiveBigIntegerField()),
                        ('project_id', models.CharField(blank=True, max_length=64)),
                        ('user_id', models.CharField(blank=True, max_length=64)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('provider', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='allocations', to='placement.resourceprovider')),
                    ],
                    options={
                        'db_table': 'scheduler_allocation',
                        'ordering': ['provider_id', 'consumer_uuid', 'resource_class'],
                        'indexes': [models.Index(fields=['provider', 'resource_class'], include=('used',), name='allocation_usage')],
                        'constraints': [models.UniqueConstraint(fields=('consumer_uuid', 'provider', 'resource_class'), name='allocation_unique_consumer_class'), models.CheckConstraint(condition=models.Q(('used__gt', 0)), name='allocation_used_positive')],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_types_to_placement, content_types_to_scheduler),
    ]
