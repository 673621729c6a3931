"""ImagePropertiesFilter: the host can run the image's architecture, hypervisor and vm mode.

Image properties ``hw_architecture``, ``img_hv_type``, ``hw_vm_mode`` (or their legacy names
``architecture``, ``hypervisor_type``, ``vm_mode``) must all match one of the host's
supported-instance triples; ``img_hv_requested_version`` (``">=6.0"``, ``"6.2.0"`` meaning at
least) is compared with the host's hypervisor version (libvirt's integer, major*1e6 +
minor*1e3 + micro).
"""

from collections.abc import Mapping
from typing import Any

from apps.scheduler.filters import BaseHostFilter, register_filter
from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec

_ARCH_ALIASES = {
    "amd64": "x86_64",
    "x86-64": "x86_64",
    "x64": "x86_64",
    "i386": "i686",
    "i486": "i686",
    "i586": "i686",
    "arm64": "aarch64",
    "ppc64el": "ppc64le",
}
_HV_ALIASES = {"xapi": "xen"}
_VM_MODE_ALIASES = {"pv": "xen", "hv": "hvm", "baremetal": "hvm"}
_VERSION_OPS = (">=", "<=", "==", "!=", ">", "<")


def _prop(props: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = props.get(name)
        if value:
            return str(value).lower()
    return None


def _wanted(spec: RequestSpec) -> tuple[str | None, str | None, str | None]:
    props = spec.image_properties
    arch = _prop(props, "hw_architecture", "architecture")
    hv_type = _prop(props, "img_hv_type", "hypervisor_type")
    vm_mode = _prop(props, "hw_vm_mode", "vm_mode")
    return (
        _ARCH_ALIASES.get(arch, arch) if arch else None,
        _HV_ALIASES.get(hv_type, hv_type) if hv_type else None,
        _VM_MODE_ALIASES.get(vm_mode, vm_mode) if vm_mode else None,
    )


def version_to_int(text: str) -> int:
    parts = [int(p) for p in text.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]


def version_matches(host_version: int, requirement: str) -> bool:
    requirement = requirement.strip()
    op = ">="
    for candidate in _VERSION_OPS:
        if requirement.startswith(candidate):
            op, requirement = candidate, requirement[len(candidate) :].strip()
            break
    try:
        wanted = version_to_int(requirement)
    except ValueError:
        return False
    return {
        ">=": host_version >= wanted,
        "<=": host_version <= wanted,
        "==": host_version == wanted,
        "!=": host_version != wanted,
        ">": host_version > wanted,
        "<": host_version < wanted,
    }[op]


@register_filter
class ImagePropertiesFilter(BaseHostFilter):
    """Pass hosts that support the image's architecture, hypervisor type, vm mode and version."""

    run_once_per_request = True

    def applies_to(self, spec: RequestSpec) -> bool:
        return any(_wanted(spec)) or bool(spec.image_properties.get("img_hv_requested_version"))

    def _problem(self, host: HostState, spec: RequestSpec) -> str | None:
        wanted = _wanted(spec)
        if any(wanted):
            supported = host.supported_instances
            if not supported:
                return "reports no supported instance types"
            if not any(
                all(w is None or w == s for w, s in zip(wanted, triple, strict=True))
                for triple in supported
            ):
                asked = "/".join(w or "*" for w in wanted)
                return f"cannot run {asked} images"
        requested = spec.image_properties.get("img_hv_requested_version")
        if requested and (
            not host.hypervisor_version
            or not version_matches(host.hypervisor_version, str(requested))
        ):
            return f"has a hypervisor version that is not {requested}"
        return None

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return self._problem(host, spec) is None

    def explain(self, host: HostState, spec: RequestSpec) -> str:
        return self._problem(host, spec) or "did not pass"
