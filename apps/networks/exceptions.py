"""Networking errors: each carries its HTTP code and Neutron's message; the API's error body
names the class (``{"NeutronError": {"type": "NetworkNotFound", ...}}``), so the class names
are Neutron's. The compute API maps the ones its callers see (`NetworkNotFound` is a 400 in a
server create, as Nova answers)."""

from computecloud.exceptions import ComputecloudError, Conflict, Forbidden, NotFound
from computecloud.exceptions import InvalidInput as BaseInvalidInput


class InvalidInput(BaseInvalidInput):
    msg_fmt = "Invalid input for operation: %(error_message)s."

    def __init__(self, error_message: str) -> None:
        super().__init__(error_message=error_message)


# --- not found --------------------------------------------------------------------------------
class NetworkNotFound(NotFound):
    msg_fmt = "Network %(net_id)s could not be found."


class SubnetNotFound(NotFound):
    msg_fmt = "Subnet %(subnet_id)s could not be found."


class PortNotFound(NotFound):
    msg_fmt = "Port %(port_id)s could not be found."


class SecurityGroupNotFound(NotFound):
    msg_fmt = "Security group %(id)s does not exist"


class SecurityGroupRuleNotFound(NotFound):
    msg_fmt = "Security group rule %(id)s does not exist"


class RouterNotFound(NotFound):
    msg_fmt = "Router %(router_id)s could not be found"


class FloatingIPNotFound(NotFound):
    msg_fmt = "Floating IP %(floatingip_id)s could not be found"


class ExtensionNotFound(NotFound):
    msg_fmt = "Extension with alias %(alias)s does not exist"


class TagNotFound(NotFound):
    msg_fmt = "Tag %(tag)s could not be found for %(resource)s %(resource_id)s."


class RouterInterfaceNotFound(NotFound):
    msg_fmt = "Router %(router_id)s does not have an interface with id %(port_id)s"


class RouterInterfaceNotFoundForSubnet(NotFound):
    msg_fmt = "Router %(router_id)s has no interface on subnet %(subnet_id)s"


class ExternalGatewayForFloatingIPNotFound(NotFound):
    msg_fmt = (
        "External network %(external_network_id)s is not reachable from subnet %(subnet_id)s. "
        "Therefore, cannot associate Port %(port_id)s with a Floating IP."
    )


# --- conflicts --------------------------------------------------------------------------------
class NetworkInUse(Conflict):
    msg_fmt = (
        "Unable to complete operation on network %(net_id)s. There are one or more ports "
        "still in use on the network."
    )


class SubnetInUse(Conflict):
    msg_fmt = (
        "Unable to complete operation on subnet %(subnet_id)s: One or more ports have an IP "
        "allocation from this subnet."
    )


class PortInUse(Conflict):
    msg_fmt = (
        "Unable to complete operation on port %(port_id)s for network %(net_id)s. Port already "
        "has an attached device %(device_id)s."
    )


class ServicePortInUse(Conflict):
    msg_fmt = "Port %(port_id)s cannot be deleted directly via the port API: %(reason)s"


class IpAddressAlreadyAllocated(Conflict):
    msg_fmt = "IP address %(ip)s already allocated in subnet %(subnet_id)s"


class IpAddressGenerationFailure(Conflict):
    msg_fmt = "No more IP addresses available on network %(net_id)s."


class MacAddressInUse(Conflict):
    msg_fmt = (
        "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use."
    )


class MacAddressGenerationFailure(ComputecloudError):
    code = 503
    msg_fmt = "Unable to generate unique mac on network %(net_id)s."


class SegmentationIdInUse(Conflict):
    msg_fmt = "Unable to create the network. The tunnel ID %(tunnel_id)s is in use."


class FlatNetworkInUse(Conflict):
    msg_fmt = "Unable to create the flat network. Physical network %(physical_network)s is in use."


class NoNetworkAvailable(ComputecloudError):
    code = 503
    msg_fmt = "Unable to create the network. No tenant network is available for allocation."


class SecurityGroupInUse(Conflict):
    msg_fmt = "Security Group %(id)s %(reason)s."


class SecurityGroupRuleExists(Conflict):
    msg_fmt = "Security group rule already exists. Rule id is %(rule_id)s."


class RouterInUse(Conflict):
    msg_fmt = "Router %(router_id)s %(reason)s"


class RouterInterfaceInUseByFloatingIP(Conflict):
    msg_fmt = (
        "Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be deleted, "
        "as it is required by one or more floating IPs."
    )


class RouterExternalGatewayInUseByFloatingIp(Conflict):
    msg_fmt = (
        "Gateway cannot be updated for router %(router_id)s, since a gateway to external "
        "network %(net_id)s is required by one or more floating IPs."
    )


class FloatingIPPortAlreadyAssociated(Conflict):
    msg_fmt = (
        "Cannot associate floating IP %(floating_ip_address)s (%(fip_id)s) with port "
        "%(port_id)s using fixed IP %(fixed_ip)s, as that fixed IP already has a floating IP on "
        "external network %(net_id)s."
    )


# --- what the compute API's callers see -------------------------------------------------------
class FixedIpAlreadyInUse(BaseInvalidInput):
    msg_fmt = "Fixed IP address %(address)s is already in use on network %(network_id)s."


class FixedIpInvalid(BaseInvalidInput):
    msg_fmt = "Fixed IP %(address)s is not a valid ip address for network %(network_id)s."


class SecurityGroupExistsForInstance(BaseInvalidInput):
    msg_fmt = (
        "Security group %(security_group_id)s is already associated with the instance "
        "%(instance_id)s"
    )


class SecurityGroupNotExistsForInstance(BaseInvalidInput):
    msg_fmt = (
        "Security group %(security_group_id)s not associated with the instance %(instance_id)s"
    )


class NetworkAmbiguous(Conflict):
    msg_fmt = "Multiple possible networks found, use a Network ID to be more specific."


class ExternalNetworkAttachForbidden(Forbidden):
    msg_fmt = "It is not allowed to create an interface on external network %(network_uuid)s"
