"""Request parsers for Glance's JSON-patch media types (PATCH /v2/images/{id})."""

from computecloud.api.parsers import StrictJSONParser

PATCH_V21 = "application/openstack-images-v2.1-json-patch"
PATCH_V20 = "application/openstack-images-v2.0-json-patch"
PATCH_MEDIA_TYPES = (PATCH_V20, PATCH_V21)


class ImagePatchV21Parser(StrictJSONParser):
    """RFC 6902 style operations: ``{"op": "replace", "path": "/name", "value": "x"}``."""

    media_type = PATCH_V21


class ImagePatchV20Parser(StrictJSONParser):
    """Glance's older draft-4 style: ``{"replace": "/name", "value": "x"}``."""

    media_type = PATCH_V20
