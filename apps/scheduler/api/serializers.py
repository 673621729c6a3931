"""Request and response shapes of the scheduler's admin API (the dry run)."""

from rest_framework import serializers

from computecloud.api.serializers import StrictSerializer

# A dry run plans in memory over every candidate; this bounds one request's work.
MAX_DRY_RUN_COUNT = 1000


class DryRunRequestSerializer(StrictSerializer):
    flavorRef = serializers.CharField(max_length=255)  # noqa: N815 (Nova's key)
    count = serializers.IntegerField(min_value=1, max_value=MAX_DRY_RUN_COUNT, default=1)
    availability_zone = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )
    image_properties = serializers.DictField(required=False, child=serializers.JSONField())
