"""The server action body for the OpenAPI document: one key, the action's name, per request.

``POST /servers/{id}/action`` takes one of many single-key bodies; the document lists them as
alternatives, each with the request serializer the view validates that action with.
"""

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from apps.servers.api import serializers as s


def _one_key(name: str, value: serializers.Field) -> type[serializers.Serializer]:
    """A body of exactly one key, `name`, holding `value`."""
    attrs = {name: value, "Meta": type("Meta", (), {})}
    component = "".join(part.capitalize() for part in name.replace("-", "_").split("_"))
    return type(f"{component}Action", (serializers.Serializer,), attrs)


def _null() -> serializers.Field:
    """The value of an action that takes no arguments (``{"os-start": null}``)."""
    return serializers.JSONField(allow_null=True, required=True)


SERVER_ACTIONS = PolymorphicProxySerializer(
    component_name="ServerAction",
    resource_type_field_name=None,
    serializers=[
        _one_key("reboot", s.RebootBody()),
        _one_key("os-stop", _null()),
        _one_key("os-start", _null()),
        _one_key("pause", _null()),
        _one_key("unpause", _null()),
        _one_key("suspend", _null()),
        _one_key("resume", _null()),
        _one_key("lock", s.LockBody()),
        _one_key("unlock", _null()),
        _one_key("forceDelete", _null()),
        _one_key("os-resetState", s.ResetStateBody()),
        _one_key("os-getConsoleOutput", s.ConsoleOutputBody()),
        _one_key("createImage", s.CreateImageBody()),
        _one_key("resize", s.ResizeBody()),
        _one_key("confirmResize", _null()),
        _one_key("revertResize", _null()),
        _one_key("migrate", s.MigrateBody()),
    ],
)
