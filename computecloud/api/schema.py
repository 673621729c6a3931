"""The API document (/api/schema/, /api/docs/) with each service's paths as clients call them.

The identity, image, network and volume URLconfs are mounted with a regular expression
(`^volume(?=/|$)/?`: ".../volume" and ".../volume/" alike, as the catalog's clients call
them), which drf-spectacular can only write as a parameter: `/volume{var}/v3/volumes/`. This
hook writes `/volume/v3/volumes/` and drops that parameter.
"""

from typing import Any

SERVICES = ("identity", "image", "network", "volume")


def plain_service_prefixes(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    paths = {}
    for path, item in result.get("paths", {}).items():
        for service in SERVICES:
            prefix = f"/{service}{{var}}/"
            if path.startswith(prefix):
                path = f"/{service}/{path[len(prefix) :]}"
                for operation in item.values():
                    if isinstance(operation, dict) and "parameters" in operation:
                        operation["parameters"] = [
                            p for p in operation["parameters"] if p.get("name") != "var"
                        ]
        paths[path] = item
    return {**result, "paths": paths}
