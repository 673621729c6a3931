"""Names the hosts' kernels see, decided in one place: the bridge of a network."""

from apps.networks.choices import NetworkType
from apps.networks.models import Network
from computecloud.conf import cc_settings

BRIDGE_PREFIX = "ccbr-"


def bridge_name(network: Network) -> str:
    """The Linux bridge a network's ports join on every host: ``ccbr-`` and the first eight
    characters of its id for a VXLAN network (13 characters: the kernel allows 15), the
    operator's bridge of its physical network for a flat one; "" when the operator has since
    unmapped that physical network (the hosts then build nothing for it)."""
    if network.network_type == NetworkType.FLAT:
        bridges: dict[str, str] = cc_settings.NETWORK_PHYSICAL_BRIDGES
        return bridges.get(network.physical_network or "", "")
    return f"{BRIDGE_PREFIX}{str(network.pk)[:8]}"
