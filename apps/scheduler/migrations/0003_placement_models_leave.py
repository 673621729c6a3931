"""The placement models leave the scheduler app (placement.0001_initial has them now), in
Django's state only: their tables stay, with their rows, under their scheduler_* names."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0002_leaner_allocation_indexes"),
        ("placement", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="Allocation"),
                migrations.DeleteModel(name="Inventory"),
                migrations.DeleteModel(name="ProviderAggregate"),
                migrations.DeleteModel(name="ResourceProvider"),
                migrations.DeleteModel(name="Trait"),
            ],
        ),
    ]
