"""A change through the network API reaches the hosts it concerns: each gets its whole network
state again (``compute.sync_networks`` on its queue, after commit), and hosts it does not
concern get nothing."""

import base64
import json
from typing import Any

import pytest
import redis
from django.conf import settings

from apps.networks import services
from apps.networks.services import NicRequest
from tests.networks.conftest import API, create, ok

pytestmark = pytest.mark.django_db

SYNC = "compute.sync_networks"
INSTANCE = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def broker() -> Any:
    connection = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    connection.delete("compute.host-1", "compute.host-2")
    yield connection
    connection.delete("compute.host-1", "compute.host-2")


def _syncs(broker: Any, host: str) -> list[dict[str, Any]]:
    """The payloads of the sync messages waiting on `host`'s queue, oldest first."""
    payloads = []
    for raw in reversed(broker.lrange(f"compute.{host}", 0, -1)):
        message = json.loads(raw)
        if message["headers"]["task"] == SYNC:
            _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            payloads.append(kwargs["payload"])
    return payloads


@pytest.fixture
def bound(member):
    """A network of the member's with a port bound on host-1 (host-2 has nothing)."""
    network = create(member.client, "networks", "network", name="n")
    create(member.client, "subnets", "subnet", network_id=network["id"], cidr="10.0.0.0/24")
    checked = services.check_nic_requests(
        project_id=member.project.pk, is_admin=False, nics=[NicRequest(network_id=network["id"])]
    )
    services.allocate_for_instance(
        project_id=member.project.pk, instance_uuid=INSTANCE, hostname="vm", nics=checked,
        host="host-1", availability_zone="nova",
    )  # fmt: skip
    return network


def test_a_rule_reaches_the_hosts_of_the_groups_ports(
    member, bound, broker, django_capture_on_commit_callbacks
):
    default = ok(member.client.get(f"{API}/security-groups?name=default"))["security_groups"][0]
    with django_capture_on_commit_callbacks(execute=True):
        create(
            member.client, "security-group-rules", "security_group_rule",
            security_group_id=default["id"], direction="ingress", protocol="tcp",
            port_range_min=22, port_range_max=22,
        )  # fmt: skip
    [payload] = _syncs(broker, "host-1")
    ssh = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
           "port_range_max": 22, "remote_ip_prefixes": None}  # fmt: skip
    assert ssh in payload["ports"][0]["security_rules"]
    assert _syncs(broker, "host-2") == []


def test_a_new_subnet_and_an_mtu_reach_the_hosts_of_the_network(
    member, bound, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        create(member.client, "subnets", "subnet", network_id=bound["id"], cidr="10.1.0.0/24")
    with django_capture_on_commit_callbacks(execute=True):
        ok(member.client.put(f"{API}/networks/{bound['id']}", {"network": {"mtu": 1400}},
                             format="json"))  # fmt: skip
    subnets_seen, mtu_seen = _syncs(broker, "host-1")
    assert [s["cidr"] for s in subnets_seen["networks"][0]["subnets"]] == [
        "10.0.0.0/24",
        "10.1.0.0/24",
    ]
    assert mtu_seen["networks"][0]["mtu"] == 1400
    assert _syncs(broker, "host-2") == []
