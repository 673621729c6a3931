"""The default volume type every volume created without one gets (Cinder's ``__DEFAULT__``)."""

from django.db import migrations

DEFAULT_TYPE_NAME = "__DEFAULT__"


def create_default(apps, schema_editor):
    VolumeType = apps.get_model("volumes", "VolumeType")
    VolumeType.objects.get_or_create(
        name=DEFAULT_TYPE_NAME, defaults={"description": "Default Volume Type"}
    )


class Migration(migrations.Migration):
    dependencies = [("volumes", "0001_initial")]
    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
