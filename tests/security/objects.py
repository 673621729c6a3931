"""Project A's objects, the API's operations and the database's state, for the attack walks.

`project_a_objects` gives project A one of everything a project owns (a server with
metadata, tags, an action, a fault and a migration; a key pair; a server group; a private
image with a property; a private flavor shared with A, with an extra spec; a console token; an
application credential; networks, subnets, ports, a router, a floating IP, security groups; a
volume with metadata, a snapshot, a private volume type). `operations` lists the OpenAPI
document's operations and `fill` puts A's values into a path template. `snapshot` and
`changes` say what a walk changed in the database.
"""

import re
import secrets
from typing import Any

from django.apps import apps
from django.core import serializers

from apps.consoles.models import ConsoleToken
from apps.consoles.services import hash_token
from apps.flavors.services import add_access, create_flavor
from apps.identity.models import Role
from apps.servers.choices import VmState
from apps.servers.models import InstanceFault, Migration, Server
from apps.volumes.models import VolumeSnapshot, VolumeType
from tests.test_openapi import generate_schema

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
NET = "/network/v2.0"
VOL = "/volume/v3"


def ok(response: Any, expected: int = 200) -> dict:
    assert response.status_code == expected, response.content
    return response.json() if response.content else {}


def _network_objects(a: Any, admin: Any) -> tuple[dict[str, str], set[str]]:
    """One of every network resource of A's (a router and floating IP on the admin's external
    network), tagged: the path values by collection, and their ids as markers."""
    public = ok(
        admin.client.post(f"{NET}/networks", {"network": {"name": "public",
                          "router:external": True}}, format="json"),
        201,
    )["network"]  # fmt: skip
    ok(admin.client.post(f"{NET}/subnets", {"subnet": {"network_id": public["id"],
        "cidr": "203.0.113.0/24"}}, format="json"), 201)  # fmt: skip

    def post(collection: str, member: str, **attrs: Any) -> str:
        body = {member: attrs}
        created = ok(a.client.post(f"{NET}/{collection}", body, format="json"), 201)[member]
        ok(a.client.put(f"{NET}/{collection}/{created['id']}/tags/a-secret-tag"), 201)
        return created["id"]

    network = post("networks", "network", name="a-secret-net", description="a-secret-text")
    subnet = post("subnets", "subnet", network_id=network, cidr="10.0.0.0/24",
                  name="a-secret-subnet")  # fmt: skip
    port = post("ports", "port", network_id=network, name="a-secret-port")
    group = post("security-groups", "security_group", name="a-secret-group")
    rule = ok(a.client.post(f"{NET}/security-group-rules", {"security_group_rule": {
        "security_group_id": group, "direction": "ingress", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22, "description": "a-secret-rule"}},
        format="json"), 201)["security_group_rule"]["id"]  # fmt: skip
    router = post("routers", "router", name="a-secret-router",
                  external_gateway_info={"network_id": public["id"]})  # fmt: skip
    ok(a.client.put(f"{NET}/routers/{router}/add_router_interface", {"subnet_id": subnet},
                    format="json"))  # fmt: skip
    floating = post("floatingips", "floatingip", floating_network_id=public["id"], port_id=port,
                    description="a-secret-floating")  # fmt: skip
    values = {
        "networks": network,
        "subnets": subnet,
        "ports": port,
        "security-groups": group,
        "security-group-rules": rule,
        "routers": router,
        "floatingips": floating,
        "quotas": str(a.project.pk),
        "extensions": "router",
    }
    return values, {network, subnet, port, group, rule, router, floating}


def _volume_objects(a: Any) -> tuple[dict[str, str], set[str]]:
    """A's volume (with metadata) and a snapshot of it, and a private volume type: the path
    values by collection, and their ids as markers."""
    volume = ok(
        a.client.post(f"{VOL}/volumes", {"volume": {"size": 1, "name": "a-secret-volume",
                      "description": "a-secret-volume-text",
                      "metadata": {"a-secret-meta-key": "a-secret-meta-value"}}}, format="json"),
        202,
    )["volume"]  # fmt: skip
    snapshot = VolumeSnapshot.objects.create(
        project_id=a.project.pk, user_id=a.user.pk, volume_id=volume["id"], size=1,
        name="a-secret-snapshot", status="available",
    )  # fmt: skip
    kind = VolumeType.objects.create(name="a-secret-type", is_public=False)
    values = {
        "volumes": volume["id"],
        "snapshots": str(snapshot.pk),
        "types": str(kind.pk),
        "os-volumes": volume["id"],
        "os-snapshots": str(snapshot.pk),
        "os-volume_attachments": volume["id"],
    }
    return values, {volume["id"], str(snapshot.pk), str(kind.pk)}


def project_a_objects(a: Any, admin: Any) -> dict[str, Any]:
    """Project A's objects, made by its member `a`; returns the path value each parameter
    takes, by resource, and every text of A's that nobody else may see (its `markers`)."""
    server = Server.objects.create(
        name="a-secret-server",
        description="a-secret-description",
        project=a.project,
        user_id=a.user.pk,
        flavor_id="a-secret-flavor",
        vm_state=VmState.ACTIVE,
        host="a-secret-host",
        node="a-secret-node",
        reservation_id="r-asecret",
        key_name="a-secret-key",
    )
    sid = str(server.uuid)
    ok(a.client.put(f"/compute/v2.1/servers/{sid}/tags/a-secret-tag", **V), 201)
    ok(
        a.client.post(
            f"/compute/v2.1/servers/{sid}/metadata",
            {"metadata": {"a-secret-meta-key": "a-secret-meta-value"}},
            format="json",
            **V,
        )
    )
    ok(a.client.post(f"/compute/v2.1/servers/{sid}/action", {"lock": None}, format="json"), 202)
    actions = a.client.get(f"/compute/v2.1/servers/{sid}/os-instance-actions", **V)
    request_id = ok(actions)["instanceActions"][0]["request_id"]
    InstanceFault.objects.create(server=server, message="a-secret-fault", host="a-secret-host")
    migration = Migration.objects.create(
        server=server,
        user_id=a.user.pk,
        project_id=a.project.pk,
        migration_type=Migration.Type.RESIZE,
        status=Migration.Status.FINISHED,
        source_host="a-secret-host",
        source_node="a-secret-node",
        dest_host="a-secret-host",
        dest_node="a-secret-node",
    )
    keypair = ok(
        a.client.post(
            "/compute/v2.1/os-keypairs",
            {"keypair": {"name": "a-secret-key"}},
            format="json",
            HTTP_OPENSTACK_API_VERSION="compute 2.91",
        ),
        201,
    )["keypair"]
    group = ok(
        a.client.post(
            "/compute/v2.1/os-server-groups",
            {"server_group": {"name": "a-secret-group", "policies": ["affinity"]}},
            format="json",
            HTTP_OPENSTACK_API_VERSION="compute 2.1",
        )
    )["server_group"]
    image = ok(
        a.client.post(
            "/image/v2/images",
            {
                "name": "a-secret-image",
                "disk_format": "qcow2",
                "container_format": "bare",
                "a_secret_property": "a-secret-property-value",
            },
            format="json",
        ),
        201,
    )
    flavor = create_flavor(
        name="a-secret-flavor-name",
        flavorid="a-secret-flavor",
        memory_mb=64,
        vcpus=1,
        root_gb=1,
        is_public=False,
        description="a-secret-flavor-description",
    )
    add_access(flavor=flavor, project_id=str(a.project.pk))
    ok(
        admin.client.post(
            "/compute/v2.1/flavors/a-secret-flavor/os-extra_specs",
            {"extra_specs": {"a-secret-spec": "a-secret-spec-value"}},
            format="json",
            **V,
        )
    )
    console_secret = "a-secret-console-" + secrets.token_hex(8)
    ConsoleToken.objects.create(
        token_hash=hash_token(console_secret),
        server_uuid=server.uuid,
        host="a-secret-host",
        port=5900,
        user_id=a.user.pk,
        project_id=a.project.pk,
        expires_at=server.created_at.replace(year=server.created_at.year + 1),
    )
    credential = ok(
        a.client.post(
            f"/identity/v3/users/{a.user.pk}/application_credentials",
            {"application_credential": {"name": "a-secret-credential"}},
            format="json",
        ),
        201,
    )["application_credential"]
    network_values, network_markers = _network_objects(a, admin)
    volume_values, volume_markers = _volume_objects(a)
    values = {
        **network_values,
        **volume_values,
        "servers": sid,
        "metadata": "a-secret-meta-key",
        "tags": "a-secret-tag",
        "os-instance-actions": request_id,
        "migrations": str(migration.pk),
        "ips": "a-secret-network",
        "os-interface": network_values["ports"],  # A's port, on no server of B's
        "os-tenant-networks": network_values["networks"],
        "os-networks": network_values["networks"],
        "os-security-groups": network_values["security-groups"],
        "os-security-group-rules": network_values["security-group-rules"],
        "os-keypairs": "a-secret-key",
        "os-server-groups": group["id"],
        "images": image["id"],
        "flavors": "a-secret-flavor",
        "os-extra_specs": "a-secret-spec",
        "os-quota-sets": str(a.project.pk),
        "os-simple-tenant-usage": str(a.project.pk),
        "projects": str(a.project.pk),
        "users": str(a.user.pk),
        # shared by every project: B may read them; nothing of A's is in them
        "domains": str(a.user.domain_id),
        "roles": str(Role.objects.get(name="member").pk),
        "application_credentials": credential["id"],
        "os-console-auth-tokens": console_secret,
        "os-hypervisors": "a-secret-host",
        "os-hosts": "a-secret-host",
        "os-services": "a-secret-host",
        "os-aggregates": "1",
        "os-instance_usage_audit_log": "2026-12-01",
    }
    markers = {
        "a-secret",  # every name, value and host of A's starts so
        sid,
        request_id,
        group["id"],
        image["id"],
        str(a.project.pk),
        str(a.user.pk),
        credential["id"],
        credential["secret"],
        keypair["fingerprint"],
        keypair["public_key"].split()[1],
        *network_markers,
        *volume_markers,
    }
    return {"values": values, "markers": markers, "project": str(a.project.pk), "user": a.user.pk}


# --- the API's operations -----------------------------------------------------------------------
def operations(methods: set[str]) -> list[tuple[str, str]]:
    """(METHOD, path template) of every operation of the OpenAPI document in `methods`."""
    document = generate_schema()[0]
    return sorted(
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in methods
    )


def fill(path: str, values: dict[str, str]) -> str:
    """The path with A's value in each parameter, chosen by the segment before it."""
    parts = path.strip("/").split("/")
    for index, part in enumerate(parts):
        if part.startswith("{"):
            owner = parts[index - 1]
            if owner == "metadata" and "/images/" in path:
                return path.replace(part, "a_secret_property").replace(
                    "{image_id}", values["images"]
                )
            if owner not in values:
                raise AssertionError(f"no value of A's for {part} in {path}")
            parts[index] = values[owner]
    return "/" + "/".join(parts) + ("/" if path.endswith("/") else "")


# --- the database's state -----------------------------------------------------------------------
# Rows any authenticated request may write: issuing and checking tokens.
VOLATILE_MODELS = {"identity.token"}


def snapshot() -> dict[str, dict[str, Any]]:
    """Every row of the project's apps (but `VOLATILE_MODELS`), by model label and primary key."""
    state: dict[str, dict[str, Any]] = {}
    for config in apps.get_app_configs():
        if not config.name.startswith("apps."):
            continue
        for model in config.get_models():
            label = model._meta.label_lower
            if label in VOLATILE_MODELS:
                continue
            rows = serializers.serialize("python", model.objects.order_by("pk"))
            state[label] = {str(row["pk"]): row["fields"] for row in rows}
    return state


def changes(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict:
    """What differs between two snapshots, by model: rows added, removed and changed (with the
    fields that changed)."""
    found: dict[str, dict[str, Any]] = {}
    for label in sorted(before.keys() | after.keys()):
        old, new = before.get(label, {}), after.get(label, {})
        changed = {
            pk: sorted(
                f for f in old[pk].keys() | new[pk].keys() if old[pk].get(f) != new[pk].get(f)
            )
            for pk in old.keys() & new.keys()
            if old[pk] != new[pk]
        }
        added, removed = sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys())
        if added or removed or changed:
            found[label] = {"added": added, "removed": removed, "changed": changed}
    return found


def leaks(text: str, asked: str, markers: set[str]) -> list[str]:
    """The markers in `text` that the request `asked` did not itself carry."""
    found = []
    for marker in markers:
        if marker in asked:
            text = text.replace(marker, "")
        elif marker == "a-secret":
            continue
        if marker in text:
            found.append(marker)
    if "a-secret" not in asked and "a-secret" in text:
        found.append(re.search(r"a-secret[\w-]*", text).group())
    return found
