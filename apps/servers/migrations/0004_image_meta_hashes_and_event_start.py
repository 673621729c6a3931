"""Servers' image snapshots carry the image's hash (builds verify downloads from the snapshot,
not from the image record); snapshots taken before that get it from the image, if it exists.
An action event's start time may be given (a host times its own step)."""

import django.utils.timezone
from django.db import migrations, models

FIELDS = ("checksum", "os_hash_algo", "os_hash_value", "size", "disk_format")


def fill_hashes(apps, schema_editor):
    Server = apps.get_model("servers", "Server")
    Image = apps.get_model("images", "Image")
    for server in Server.objects.exclude(image_meta__has_key="os_hash_value").iterator():
        meta = dict(server.image_meta or {})
        image = Image.objects.filter(id=server.image_ref).first() if server.image_ref else None
        meta.setdefault("id", server.image_ref)
        for name in FIELDS:
            meta.setdefault(name, getattr(image, name, None))
        Server.objects.filter(pk=server.pk).update(image_meta=meta)


class Migration(migrations.Migration):
    dependencies = [
        ("servers", "0003_migration_owner_and_address_index"),
        ("images", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="instanceactionevent",
            name="start_time",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(fill_hashes, migrations.RunPython.noop),
    ]
