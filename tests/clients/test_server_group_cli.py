"""The real `openstack` CLI with server groups: an anti-affinity group spreads its servers over
the cloud's two hosts (live API server, real conductor and compute workers on libvirt's test
hypervisor); the group is shown and deleted; the usage report counts the servers."""

import uuid

import pytest

from tests.cloud import cloud, cloud_processes  # noqa: F401 - fixtures

pytestmark = [pytest.mark.clients, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("openstack_env", ["admin"], indirect=True)
def test_cli_anti_affinity_group_spreads_servers_over_hosts(cloud, openstack_env):  # noqa: F811
    env = openstack_env
    suffix = uuid.uuid4().hex[:6]
    group_name = f"spread-{suffix}"

    # given: an anti-affinity group
    group = env.openstack("server", "group", "create", "--policy", "anti-affinity", group_name)
    assert group["name"] == group_name
    assert group["policy"] == "anti-affinity"

    # when: two servers are created in it
    names = [f"vm-{suffix}-{index}" for index in (1, 2)]
    for name in names:
        server = env.openstack(
            "server",
            "create",
            "--flavor",
            "m1.nano",
            "--image",
            cloud.image_id,
            "--nic",
            "none",
            "--hint",
            f"group={group['id']}",
            "--wait",
            name,
        )
        assert server["status"] == "ACTIVE", server

    # then: they run on different hosts, and the group lists both
    hosts = {
        env.openstack("server", "show", "-c", "OS-EXT-SRV-ATTR:host", name)["OS-EXT-SRV-ATTR:host"]
        for name in names
    }
    assert hosts == set(cloud.processes.hosts)
    server_ids = {env.openstack("server", "show", "-c", "id", name)["id"] for name in names}
    shown = env.openstack("server", "group", "show", group_name)
    assert shown["id"] == group["id"]
    assert set(shown["members"]) == server_ids
    assert group_name in [g["Name"] for g in env.openstack("server", "group", "list")]

    # and the usage report of the project counts them
    usage = env.openstack("usage", "show", "--project", env.project.name)
    assert {u["name"] for u in usage["Servers"]} == set(names)
    assert all(u["state"] == "active" and u["flavor"] == "m1.nano" for u in usage["Servers"])

    # finally the group is deleted; its servers stay
    env.openstack_text("server", "group", "delete", group_name)
    assert group_name not in [g["Name"] for g in env.openstack("server", "group", "list")]
    assert {s["Name"] for s in env.openstack("server", "list")} >= set(names)
