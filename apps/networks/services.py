"""What the compute side asks of the network service (Nova's network API, ours in-process).

The compute API, the conductor and the metadata service call these; the network API
(apps/networks/api/) calls the resource modules next to this one (networks.py, ports.py,
security.py, routers.py). Every write here runs in its own transaction (or the caller's).

- `NicRequest`: one entry of a server create's ``networks`` (or an os-interface attach).
- `check_nic_requests(project_id=, is_admin=, nics=)` -> the NICs with ``network_id`` filled
  for ports; at API time, before anything is made: unknown network -> `NetworkNotFound`
  (Nova: 400), unknown port -> `PortNotFound` (Nova: 400 in a create, 404 in an attach), a
  bound port -> `PortInUse` (409), a fixed IP outside the network -> `FixedIpInvalid` (400),
  taken -> `FixedIpAlreadyInUse` (400), an external network that is not shared ->
  `ExternalNetworkAttachForbidden` (403).
- `auto_network(project_id=)` -> the network id Nova's "auto" (or no ``networks``) means:
  the project's own network if it has exactly one, else the only shared one; `None` when there
  is none; `NetworkAmbiguous` (409) when there are several.
- `allocate_for_instance(project_id=, instance_uuid=, hostname=, nics=, host=,
  availability_zone=, security_groups=)` -> the instance's ports, in NIC order: makes a port
  per network NIC, binds the user's ports. Idempotent (a redelivered build finds the ports of
  its NIC indexes); all or nothing (`IpAddressGenerationFailure` rolls every port back).
- `deallocate_for_instance(instance_uuid=)`: deletes the ports made for the instance, unbinds
  the user's.
- `attach_interface(...)` -> one more port for a running instance; `detach_interface(...)`.
- `set_port_status(port_id=, status=)`: the host agent's BUILD -> ACTIVE (or DOWN).
- `instance_addresses([uuid, ...])` -> ``{uuid: {network name: [{"addr", "version",
  "OS-EXT-IPS:type", "OS-EXT-IPS-MAC:mac_addr"}]}}``; `instance_ports(uuid)` -> os-interface's
  rows; `instance_vifs(uuid)` -> the build payload's `VifPayload` list.
- `instance_security_groups`, `add_instance_security_group`, `remove_instance_security_group`:
  a server's groups (the ``security_groups`` of its ports).
- Host side: `host_networks(host=)` -> `HostNetworksPayload` (apps/networks/hosts.py), and
  `record_tunnel_endpoint(host, ip)`, which the conductor calls from a heartbeat.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class NicRequest:
    """One requested NIC: a network (optionally with a fixed IP) or an existing port; ``tag``
    is the device tag. All optional: a port request names only ``port_id``."""

    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None
    tag: str | None = None
