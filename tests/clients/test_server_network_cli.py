"""The real `openstack` CLI puts servers on project networks: ``server create`` with
``--nic net-id=``, ``--nic port-id=``, ``--nic none`` and ``--network NAME``; ``server show``'s
addresses; ``server delete`` deleting the ports compute made and giving the user's back; and
``server add|remove network|port`` (os-interface). Live API server, real conductor and two
compute workers on libvirt's test hypervisor, whose network agents build in the kernel.

test:///default has no hot-plug: a live attach or detach fails on the host. What is checked
is what is then true: the API accepted the call, a failed attach's port is given back, a
failed detach leaves the port bound, and the server's events say so. (Real hot-plug on QEMU:
tests/e2e/test_networks_vm.py.)
"""

import uuid
from typing import Any

import pytest

from tests.clients.cli import OpenStackEnv
from tests.cloud import cloud, cloud_processes  # noqa: F401 - fixtures
from tests.harness import wait_until

pytestmark = [pytest.mark.clients, pytest.mark.django_db(transaction=True)]


def network(env: OpenStackEnv, name: str, cidr: str) -> dict[str, Any]:
    """``network create`` and a ``subnet create`` on it; the network as shown afterwards."""
    env.openstack("network", "create", name)
    env.openstack("subnet", "create", "--network", name, "--subnet-range", cidr, f"{name}-sub")
    return env.openstack("network", "show", name)


def boot(env: OpenStackEnv, name: str, *nic: str) -> dict[str, Any]:
    """``server create ... --wait`` with the given NIC options; the server once ACTIVE."""
    created = env.openstack(
        "server", "create", "--image", "tiny", "--flavor", "m1.nano", *nic, "--wait", name
    )
    assert created["status"] == "ACTIVE", created
    return created


def events_of(env: OpenStackEnv, server: str, action: str) -> list[dict[str, Any]]:
    """The events of each of the server's `action` actions (``server event list`` and
    ``server event show``), oldest action first."""
    actions = [a for a in env.openstack("server", "event", "list", server) if a["Action"] == action]
    shown = [env.openstack("server", "event", "show", server, a["Request ID"]) for a in actions]
    return [event for action_shown in shown for event in action_shown["events"]]


def wait_for_events(
    env: OpenStackEnv, server: str, action: str, count: int, timeout: float = 60
) -> list[dict[str, Any]]:
    """The server's `action` events once `count` of them have finished."""

    def finished() -> list[dict[str, Any]] | None:
        events = events_of(env, server, action)
        done = [e for e in events if e.get("finish_time")]
        return done if len(done) >= count else None

    return wait_until(finished, timeout=timeout, interval=1.0, what=f"{count} {action} on {server}")


def test_cli_boots_servers_on_networks_by_id_port_none_and_name(
    cloud: Any,  # noqa: F811
    openstack_env: OpenStackEnv,
) -> None:
    env, run = openstack_env, openstack_env.openstack
    suffix = uuid.uuid4().hex[:6]
    net = network(env, f"net-{suffix}", "10.232.1.0/24")
    user_port = run("port", "create", "--network", net["name"], f"mine-{suffix}")
    user_address = user_port["fixed_ips"][0]["ip_address"]

    by_id = boot(env, f"by-id-{suffix}", "--nic", f"net-id={net['id']}")
    by_port = boot(env, f"by-port-{suffix}", "--nic", f"port-id={user_port['id']}")
    no_nic = boot(env, f"no-nic-{suffix}", "--nic", "none")
    by_name = boot(env, f"by-name-{suffix}", "--network", net["name"])

    # Addresses as `server show` gives them: the network's name and the port's address.
    [made] = run("port", "list", "--server", by_id["id"])
    assert made["Fixed IP Addresses"][0]["ip_address"].startswith("10.232.1.")
    shown = {
        s["name"]: run("server", "show", s["id"])["addresses"]
        for s in (by_id, by_port, no_nic, by_name)
    }
    assert shown[by_id["name"]] == {net["name"]: [made["Fixed IP Addresses"][0]["ip_address"]]}
    assert shown[by_port["name"]] == {net["name"]: [user_address]}
    assert shown[no_nic["name"]] == {}
    [named] = shown[by_name["name"]][net["name"]]
    assert named.startswith("10.232.1.")
    assert named not in (user_address, made["Fixed IP Addresses"][0]["ip_address"])
    # compute's port is bound to the server on its host, named for the server's AZ
    port = run("port", "show", made["ID"])
    assert port["device_id"] == by_id["id"]
    assert port["device_owner"] == "compute:nova"
    assert port["status"] == "ACTIVE"
    bound = run("port", "show", user_port["id"])
    assert (bound["device_id"], bound["status"]) == (by_port["id"], "ACTIVE")
    # the CLI's own listing of the servers shows the same
    listed = {s["Name"]: s["Networks"] for s in run("server", "list")}
    assert listed[by_port["name"]] == {net["name"]: [user_address]}

    env.openstack_text(
        "server", "delete", "--wait", by_id["id"], by_port["id"], no_nic["id"], by_name["id"]
    )
    assert run("server", "list") == []
    # compute's ports are gone; the user's port is back, unbound, with its address
    gone = env.openstack_result("port", "show", made["ID"])
    assert gone.returncode != 0
    assert f"No Port found for {made['ID']}" in gone.stderr
    assert [p["ID"] for p in run("port", "list", "--network", net["name"])] == [user_port["id"]]
    freed = run("port", "show", user_port["id"])
    assert (freed["device_id"], freed["device_owner"], freed["status"]) == ("", "", "DOWN")
    assert freed["fixed_ips"] == user_port["fixed_ips"]


def test_cli_add_and_remove_network_and_port_where_the_host_cannot_hot_plug(
    cloud: Any,  # noqa: F811
    openstack_env: OpenStackEnv,
) -> None:
    env, run, text = openstack_env, openstack_env.openstack, openstack_env.openstack_text
    suffix = uuid.uuid4().hex[:6]
    first = network(env, f"first-{suffix}", "10.232.2.0/24")
    second = network(env, f"second-{suffix}", "10.232.3.0/24")
    extra = network(env, f"extra-{suffix}", "10.232.4.0/24")
    boot_port = run("port", "create", "--network", second["name"], f"boot-{suffix}")
    spare_port = run("port", "create", "--network", extra["name"], f"spare-{suffix}")
    server = boot(
        env, f"vm-{suffix}", "--nic", f"net-id={first['id']}", "--nic", f"port-id={boot_port['id']}"
    )
    [compute_port] = run("port", "list", "--server", server["id"], "--network", first["name"])

    # add network: accepted; the host cannot plug it, so the new port is deleted again
    text("server", "add", "network", server["id"], extra["name"])
    [attach] = wait_for_events(env, server["id"], "attach_interface", 1)
    assert (attach["event"], attach["result"]) == ("compute_attach_interface", "Error")
    assert [p["ID"] for p in run("port", "list", "--network", extra["name"])] == [spare_port["id"]]

    # add port: accepted; the user's port is bound, then given back unbound
    text("server", "add", "port", server["id"], spare_port["name"])
    attaches = wait_for_events(env, server["id"], "attach_interface", 2)
    assert [e["result"] for e in attaches] == ["Error", "Error"]
    given_back = run("port", "show", spare_port["id"])
    assert (given_back["device_id"], given_back["device_owner"]) == ("", "")

    # remove port and remove network: accepted; the guest keeps its NICs, so do the ports
    text("server", "remove", "port", server["id"], boot_port["name"])
    [detach] = wait_for_events(env, server["id"], "detach_interface", 1)
    assert (detach["event"], detach["result"]) == ("compute_detach_interface", "Error")
    text("server", "remove", "network", server["id"], first["name"])
    detaches = wait_for_events(env, server["id"], "detach_interface", 2)
    assert [e["result"] for e in detaches] == ["Error", "Error"]
    interfaces = run("port", "list", "--server", server["id"])
    assert sorted(p["ID"] for p in interfaces) == sorted([compute_port["ID"], boot_port["id"]])
    assert run("server", "show", server["id"])["status"] == "ACTIVE"
    # a port that is not the server's: the CLI reports the API's 404
    refused = env.openstack_result("server", "remove", "port", server["id"], spare_port["name"])
    assert refused.returncode != 0
    assert f"Port {spare_port['id']} is not attached" in refused.stderr

    text("server", "delete", "--wait", server["id"])
    assert [p["ID"] for p in run("port", "list", "--network", first["name"])] == []
    freed = run("port", "show", boot_port["id"])
    assert (freed["device_id"], freed["device_owner"], freed["status"]) == ("", "", "DOWN")
