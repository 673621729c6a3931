"""Placement vocabulary: standard resource classes and trait names, as data.

Custom resource classes and traits are any name with the ``CUSTOM_`` prefix (upper case,
digits and underscores), as in OpenStack Placement. Standard traits are the os-traits
namespaces we recognise; a compute host reporting a name outside both is ignored with a
warning rather than failing its whole report.
"""

import re

VCPU = "VCPU"
MEMORY_MB = "MEMORY_MB"
DISK_GB = "DISK_GB"

STANDARD_RESOURCE_CLASSES: frozenset[str] = frozenset({VCPU, MEMORY_MB, DISK_GB})

CUSTOM_PREFIX = "CUSTOM_"
_NAME_RE = re.compile(r"^[A-Z0-9_]+$")

# os-traits namespaces (COMPUTE_STATUS_DISABLED, HW_CPU_X86_AVX2, STORAGE_DISK_SSD, ...).
STANDARD_TRAIT_PREFIXES: tuple[str, ...] = (
    "COMPUTE_",
    "HW_",
    "STORAGE_",
    "MISC_",
    "OWNER_",
)


def is_valid_resource_class(name: str) -> bool:
    return name in STANDARD_RESOURCE_CLASSES or (
        name.startswith(CUSTOM_PREFIX)
        and len(name) > len(CUSTOM_PREFIX)
        and bool(_NAME_RE.match(name))
    )


def is_valid_trait(name: str) -> bool:
    if not _NAME_RE.match(name):
        return False
    if name.startswith(CUSTOM_PREFIX):
        return len(name) > len(CUSTOM_PREFIX)
    return name.startswith(STANDARD_TRAIT_PREFIXES)
