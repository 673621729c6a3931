"""Who is asking the metadata service, and what it answers them: reads only, no writes.

A request is identified as Nova's metadata handler does it, and only ever answered with the
calling instance's own data:

- **through a proxy** (Neutron's metadata proxy shape): ``X-Instance-ID``, ``X-Tenant-ID``
  and ``X-Instance-ID-Signature``, the hex HMAC-SHA256 of the instance id keyed with
  ``METADATA_SHARED_SECRET``. A missing or wrong signature is 403 (also when no secret is
  configured: then no proxy is trusted); a missing tenant is 400; an unknown or deleted
  instance, or one of another project than the tenant named, is 404.
- **directly**: by the request's source address, which must be the fixed IP of exactly one
  live instance (``Server.addresses``, entries that are not floating). Fixed IPs of project
  networks may overlap, so an address two instances share identifies neither (404, logged):
  such guests must come through a proxy that signs their id. ``X-Forwarded-For`` replaces
  the source address only on requests from ``METADATA_TRUSTED_PROXIES``, and then its last
  entry counts (the one that proxy wrote; earlier ones are the client's to forge).

Every refusal on identification answers the same 404 as "no such path", so a guest learns
nothing about other instances. The documents themselves are built by
`apps.metadata.content` from the payload compute hosts get (`instance_payload`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import uuid
from dataclasses import dataclass

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from apps.conductor.payloads import instance_payload
from apps.metadata import content
from apps.metadata.exceptions import InvalidProxySignature, MetadataNotFound, ProxyHeaderMissing
from apps.servers.models import Server
from computecloud.conf import cc_settings

logger = logging.getLogger(__name__)

# An entry of Server.addresses ({"net": [{"addr", "version", "OS-EXT-IPS:type"}, ...]}) that
# is this fixed address: typed "fixed", or untyped (typing came with os-extended-ips). The
# address is written into the path, as a quoted literal of ipaddress's canonical text (hex
# digits, dots and colons), because the ``@?`` operator with a constant path is what a GIN
# index on ``addresses`` can serve; jsonb_path_exists() with variables never uses one.
_FIXED_ADDRESS = (
    '$.*[*] ? (@.addr == %s && (!(exists(@."OS-EXT-IPS:type")) || @."OS-EXT-IPS:type" == "fixed"))'
)
_FLOATING = "floating"


@dataclass(frozen=True)
class Caller:
    """The instance a request was identified as, and the address it came from (the source
    address, or what a trusted proxy forwarded)."""

    server: Server
    address: str
    by_address: bool


def sign_instance_id(instance_id: str, *, secret: str | None = None) -> str:
    """What a proxy sends as X-Instance-ID-Signature: hex HMAC-SHA256 of the instance id."""
    key = cc_settings.METADATA_SHARED_SECRET if secret is None else secret
    return hmac.new(key.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def client_address(*, remote_addr: str, forwarded_for: str | None = None) -> str:
    """The address a request is identified by (see the module docstring); MetadataNotFound
    if it is not an IP address."""
    source = _normalised(remote_addr)
    if forwarded_for and _is_trusted_proxy(source):
        return _normalised(forwarded_for.split(",")[-1].strip())
    return source


def find_instance_by_address(*, address: str) -> Server:
    """The one live instance whose fixed IP is ``address``; MetadataNotFound otherwise."""
    normalised = _normalised(address)
    has_address = RawSQL(
        "addresses @? %s::jsonpath",
        (_FIXED_ADDRESS % json.dumps(normalised),),
        output_field=BooleanField(),
    )
    # No ORDER BY: with one, the planner may walk the created_at index instead.
    matches = list(Server.objects.filter(has_address).order_by()[:2])
    if len(matches) == 1:
        return matches[0]
    if matches:
        logger.warning(
            "metadata request from %s refused: instances %s and %s share that fixed IP",
            normalised,
            matches[0].uuid,
            matches[1].uuid,
        )
    else:
        logger.warning("metadata request from %s refused: no instance has that IP", normalised)
    raise MetadataNotFound()


def find_instance_by_signed_id(
    *, instance_id: str, tenant_id: str | None, signature: str | None, address: str
) -> Server:
    """The live instance a proxy named, once its signature and tenant check out.

    ``address`` (where the request came from) is for the logs only.
    """
    if tenant_id is None:
        raise ProxyHeaderMissing(header="X-Tenant-ID")
    secret = cc_settings.METADATA_SHARED_SECRET
    if not secret:
        logger.warning(
            "metadata request for %s from %s refused: X-Instance-ID given but no "
            "METADATA_SHARED_SECRET is configured",
            instance_id,
            address,
        )
        raise InvalidProxySignature()
    expected = sign_instance_id(instance_id, secret=secret)
    if not signature or not hmac.compare_digest(expected, signature):
        logger.warning(
            "metadata request for %s from %s refused: X-Instance-ID-Signature %s",
            instance_id,
            address,
            "does not match" if signature else "is missing",
        )
        raise InvalidProxySignature()
    try:
        instance_uuid = uuid.UUID(instance_id)
    except ValueError:
        raise MetadataNotFound() from None
    server = Server.objects.filter(uuid=instance_uuid).first()
    if server is None:
        logger.warning(
            "metadata request for %s from %s: no such live instance", instance_id, address
        )
        raise MetadataNotFound()
    if server.project_id != tenant_id:
        logger.warning(
            "metadata request for %s from %s refused: X-Tenant-ID %s is not its project",
            instance_id,
            address,
            tenant_id,
        )
        raise MetadataNotFound()
    return server


def identify_instance(
    *,
    remote_addr: str,
    forwarded_for: str | None = None,
    instance_id: str | None = None,
    tenant_id: str | None = None,
    signature: str | None = None,
) -> Caller:
    """The calling instance: by the proxy's signed headers when X-Instance-ID is present,
    else by the client address."""
    address = client_address(remote_addr=remote_addr, forwarded_for=forwarded_for)
    if instance_id is not None:
        server = find_instance_by_signed_id(
            instance_id=instance_id, tenant_id=tenant_id, signature=signature, address=address
        )
        return Caller(server=server, address=address, by_address=False)
    return Caller(
        server=find_instance_by_address(address=address), address=address, by_address=True
    )


def instance_facts(*, server: Server, address: str | None = None) -> content.InstanceFacts:
    """What `apps.metadata.content` builds documents from. ``address`` is the caller's own
    address when it was identified by it (EC2's local-ipv4 falls back to it, as in Nova)."""
    fixed, floating = _ipv4_addresses(server.addresses or {})
    if fixed is None and address is not None and ipaddress.ip_address(address).version == 4:
        fixed = address
    return content.InstanceFacts(
        payload=instance_payload(server),
        ec2_id=server.pk,
        reservation_id=server.reservation_id,
        local_ipv4=fixed,
        public_ipv4=floating,
    )


def metadata_document(
    *,
    path: str,
    remote_addr: str,
    forwarded_for: str | None = None,
    instance_id: str | None = None,
    tenant_id: str | None = None,
    signature: str | None = None,
) -> content.Document:
    """The answer to a GET of ``path``: the version index for "/", else the calling
    instance's document there (identified first, even for listings, as Nova does)."""
    if not content.path_tokens(path):
        return content.version_index()
    caller = identify_instance(
        remote_addr=remote_addr,
        forwarded_for=forwarded_for,
        instance_id=instance_id,
        tenant_id=tenant_id,
        signature=signature,
    )
    facts = instance_facts(
        server=caller.server, address=caller.address if caller.by_address else None
    )
    return content.lookup(facts, path)


def _normalised(address: str) -> str:
    """The canonical text of an IP address (IPv4-mapped IPv6 as IPv4, as a dual-stack
    listener reports IPv4 clients); MetadataNotFound if it is not one, or has a zone (a
    fixed IP has none, and a zone may hold any character)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        raise MetadataNotFound() from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        raise MetadataNotFound()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _is_trusted_proxy(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(
        ip in ipaddress.ip_network(proxy, strict=False)
        for proxy in cc_settings.METADATA_TRUSTED_PROXIES
    )


def _ipv4_addresses(addresses: dict[str, list[dict[str, object]]]) -> tuple[str | None, str | None]:
    """The first fixed and the first floating IPv4 address of ``Server.addresses``."""
    fixed: str | None = None
    floating: str | None = None
    for entries in addresses.values():
        for entry in entries or []:
            addr = str(entry.get("addr") or "")
            try:
                if ipaddress.ip_address(addr).version != 4:
                    continue
            except ValueError:
                continue
            if entry.get("OS-EXT-IPS:type") == _FLOATING:
                floating = floating or addr
            else:
                fixed = fixed or addr
    return fixed, floating
