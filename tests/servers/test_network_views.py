"""What the server API shows and filters of a server's network ports, without a cloud (ports
allocated through the network service): the addresses in the answers of an update (PUT) and a
rebuild (before 2.75 only ``version`` and ``addr``, which Tempest's schema insists on; from
2.75 GET's extended items), and the ``ip`` and ``ip6`` list filters."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from apps.networks import networks as network_services
from apps.networks import services as networks
from apps.servers.api.serializers import written_server_view
from apps.servers.choices import PowerState, VmState
from apps.servers.models import Server
from computecloud.api.microversions import APIVersion

pytestmark = pytest.mark.django_db

SERVERS = "/compute/v2.1/servers"


def version(minor: int) -> dict[str, str]:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute 2.{minor}"}


def server_on(caller: Any, network: Any, name: str, fixed_ip: str | None = None) -> Server:
    """A server row of `caller`'s project with a port on `network` (at `fixed_ip`)."""
    server = Server.objects.create(
        name=name,
        project=caller.project,
        user_id=str(caller.user.pk),
        flavor_id="f1",
        reservation_id=f"r-{uuid.uuid4().hex[:8]}",
        vm_state=VmState.ACTIVE,
        power_state=PowerState.RUNNING,
        host="host-1",
        node="host-1",
    )
    networks.allocate_for_instance(
        project_id=caller.project.pk,
        instance_uuid=str(server.uuid),
        hostname=server.name,
        nics=[networks.NicRequest(network_id=str(network.pk), fixed_ip=fixed_ip)],
        host="host-1",
        availability_zone="nova",
        security_groups=[],
    )
    return server


def network_of(caller: Any, cidr: str, name: str = "lan") -> Any:
    network = network_services.create_network(project_id=caller.project.pk, name=name)
    network_services.create_subnet(project_id=caller.project.pk, network=network, cidr=cidr)
    return network


@pytest.fixture
def server_on_network(member: Any) -> Server:
    return server_on(member, network_of(member, "10.7.0.0/24"), "on-lan")


@pytest.mark.parametrize(("minor", "extended"), [(1, False), (74, False), (75, True), (96, True)])
def test_update_answers_addresses_extended_from_2_75_only(
    member: Any, server_on_network: Server, minor: int, extended: bool
) -> None:
    url = f"{SERVERS}/{server_on_network.uuid}"
    response = member.client.put(url, {"server": {"name": "x"}}, format="json", **version(minor))
    assert response.status_code == 200, response.content
    [item] = response.json()["server"]["addresses"]["lan"]
    shown = member.client.get(url, **version(minor)).json()["server"]["addresses"]["lan"][0]
    assert shown["OS-EXT-IPS:type"] == "fixed"
    assert item == (shown if extended else {"version": 4, "addr": shown["addr"]})


def test_rebuild_answer_keeps_only_version_and_addr_before_2_75() -> None:
    address = {
        "version": 4,
        "addr": "10.7.0.5",
        "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01",
    }
    detail = {"id": "s", "key_name": None, "addresses": {"lan": [address]}}
    old = written_server_view(detail, APIVersion(2, 57), rebuild=True, user_data=None)
    new = written_server_view(detail, APIVersion(2, 75), rebuild=True, user_data=None)
    assert old["addresses"] == {"lan": [{"version": 4, "addr": "10.7.0.5"}]}
    assert new["addresses"] == {"lan": [address]}


def test_ip_filters_match_the_fixed_addresses_as_regular_expressions(
    member: Any, make_caller: Any
) -> None:
    lan = network_of(member, "10.7.0.0/24")
    v6 = network_of(member, "fd00:7::/64", name="v6")
    one = server_on(member, lan, "one", fixed_ip="10.7.0.3")
    ten = server_on(member, lan, "ten", fixed_ip="10.7.0.30")
    two = server_on(member, lan, "two", fixed_ip="10.7.0.4")
    six = server_on(member, v6, "six", fixed_ip="fd00:7::abcd")
    other = make_caller()
    theirs = server_on(other, network_of(other, "10.7.0.0/24"), "theirs", fixed_ip="10.7.0.3")

    def found(query: str, minor: int = 96) -> set[str]:
        response = member.client.get(f"{SERVERS}/detail?{query}", **version(minor))
        assert response.status_code == 200, response.content
        return {s["id"] for s in response.json()["servers"]}

    assert found("ip=10.7.0.3") == {str(one.uuid), str(ten.uuid)}
    assert found("ip=10.7.0.30") == {str(ten.uuid)}
    assert found(r"ip=^10\.7\.0\.4$") == {str(two.uuid)}
    assert found("ip=10.9.") == set()
    assert found("ip6=abcd") == {str(six.uuid)}
    assert found("ip=abcd") == set()  # ip is IPv4 only
    assert str(theirs.uuid) not in found("ip=10.7.0.3")  # another project's stays out
    # ip6 is a filter from 2.5: before, a user's is dropped, as Nova drops it
    assert found("ip6=abcd", minor=4) == {str(s.uuid) for s in (one, ten, two, six)}
    bad = member.client.get(f"{SERVERS}/detail?ip=(", **version(96))
    assert bad.status_code == 400


def test_inject_network_info_is_an_admins_action_with_nothing_to_do(
    admin: Any, member: Any, make_caller: Any
) -> None:
    server = server_on(member, network_of(member, "10.7.0.0/24"), "s")
    url = f"{SERVERS}/{server.uuid}/action"
    body = {"injectNetworkInfo": None}
    assert admin.client.post(url, body, format="json").status_code == 202
    assert member.client.post(url, body, format="json").status_code == 403
    made_up = f"{SERVERS}/3f1e9a52-7b4c-4d7e-9a51-0c2d4e6f8a10/action"
    assert admin.client.post(made_up, body, format="json").status_code == 404
    assert make_caller().client.post(url, body, format="json").status_code == 404
