"""An admin's requested destination leaves the scheduler hints for a field of its own (the hint
namespace is the user's input; a "_forced_host" key there had let users force a host)."""

from django.db import migrations, models


def move_forced_host(apps, schema_editor):
    Server = apps.get_model("servers", "Server")
    for server in Server.objects.filter(scheduler_hints__has_key="_forced_host").iterator():
        hints = dict(server.scheduler_hints)
        host = hints.pop("_forced_host")
        Server.objects.filter(pk=server.pk).update(
            scheduler_hints=hints,
            requested_destination={"host": host, "node": None, "force": True} if host else None,
        )


class Migration(migrations.Migration):
    dependencies = [("servers", "0004_image_meta_hashes_and_event_start")]

    operations = [
        migrations.AddField(
            model_name="server",
            name="requested_destination",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.RunPython(move_forced_host, migrations.RunPython.noop),
    ]
