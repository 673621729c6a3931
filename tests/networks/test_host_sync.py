"""A change through the network API reaches the hosts it concerns: after commit the conductor is
asked (``conductor.sync_host_networks``) to send each its whole network state, read then; a
host that already has a sync queued is not asked twice (that one reads the later change too),
and hosts a change does not concern are not named."""

import base64
import json
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from apps.networks import services
from apps.networks.services import NicRequest
from apps.networks.sync import pending_key
from computecloud.queues import CONDUCTOR_QUEUE
from computecloud.wire import HostNetworksPayload
from tests.networks.conftest import API, create, ok

pytestmark = pytest.mark.django_db

SYNC = "conductor.sync_host_networks"
INSTANCE = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def broker() -> Any:
    connection = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    connection.delete(CONDUCTOR_QUEUE)
    cache.delete_many([pending_key("host-1"), pending_key("host-2")])
    yield connection
    connection.delete(CONDUCTOR_QUEUE)
    cache.delete_many([pending_key("host-1"), pending_key("host-2")])


def _syncs(broker: Any, host: str) -> list[HostNetworksPayload]:
    """For each sync request naming `host` on the conductor's queue, oldest first, the state
    the conductor reads and sends for it (as its task does: mark cleared, then read)."""
    payloads = []
    for raw in reversed(broker.lrange(CONDUCTOR_QUEUE, 0, -1)):
        message = json.loads(raw)
        if message["headers"]["task"] != SYNC:
            continue
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        if host in kwargs["hosts"]:
            cache.delete(pending_key(host))
            payloads.append(services.host_networks(host=host))
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
    # The second change found the first's sync still queued: one sync reads both.
    [state] = _syncs(broker, "host-1")
    assert [s["cidr"] for s in state["networks"][0]["subnets"]] == ["10.0.0.0/24", "10.1.0.0/24"]
    assert state["networks"][0]["mtu"] == 1400
    assert _syncs(broker, "host-2") == []
    # Once that sync has read, a new change asks again.
    with django_capture_on_commit_callbacks(execute=True):
        ok(member.client.put(f"{API}/networks/{bound['id']}", {"network": {"mtu": 1300}},
                             format="json"))  # fmt: skip
    *_, again = _syncs(broker, "host-1")
    assert again["networks"][0]["mtu"] == 1300
