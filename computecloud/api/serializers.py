"""Request serializer base: unknown keys are a 400, as Nova's ``additionalProperties: False``."""

from typing import Any

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """A request serializer that rejects keys it does not declare (DRF ignores them)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                names = ", ".join(repr(key) for key in unknown)
                verb = "was" if len(unknown) == 1 else "were"
                raise serializers.ValidationError(
                    {
                        "non_field_errors": [
                            f"Additional properties are not allowed ({names} {verb} unexpected)"
                        ]
                    }
                )
        return super().to_internal_value(data)
