"""Pause, unpause, suspend, resume, lock, unlock, forceDelete and the VNC console actions on a
real cloud: API -> conductor -> compute worker (test:///default) and back.

Each power action is checked at its end state as the API shows it (status, OS-EXT-STS vm_state,
power_state and an idle task_state), which only the host's report of the domain's state can
set, and in the server's action history. Locks follow Nova: an admin's lock holds against the
owner, who may neither act on the server nor lift it.
"""

from __future__ import annotations

from typing import Any

import pytest

from apps.servers.choices import PowerState
from apps.servers.models import Server
from tests.cloud import Cloud
from tests.conftest import Caller

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
SERVERS = "/compute/v2.1/servers"


def create(caller: Caller, image_id: str) -> str:
    body = {"server": {"name": "act", "imageRef": image_id, "flavorRef": "0", "networks": "none"}}
    response = caller.client.post(SERVERS, body, format="json", **V)
    assert response.status_code == 202, response.content
    return response.json()["server"]["id"]


def act(caller: Caller, server_id: str, body: dict[str, Any], version: str = "2.96") -> Any:
    return caller.client.post(
        f"{SERVERS}/{server_id}/action",
        body,
        format="json",
        HTTP_OPENSTACK_API_VERSION=f"compute {version}",
    )


def reaches(
    cloud: Cloud, caller: Caller, server_id: str, status: str, vm_state: str, power: PowerState
) -> dict[str, Any]:
    server = cloud.wait_for_server(caller.client, server_id, {status, "ERROR"})
    assert (server["status"], server["OS-EXT-STS:vm_state"]) == (status, vm_state), server
    assert server["OS-EXT-STS:power_state"] == power
    assert server["OS-EXT-STS:task_state"] is None
    return server


@pytest.fixture
def active_server(cloud: Cloud, member: Caller) -> str:
    server_id = create(member, cloud.image_id)
    reaches(cloud, member, server_id, "ACTIVE", "active", PowerState.RUNNING)
    return server_id


def test_pause_unpause_suspend_resume_reach_their_states_through_the_host(
    cloud: Cloud, member: Caller, active_server: str
) -> None:
    server_id = active_server
    steps = [
        ({"pause": None}, "PAUSED", "paused", PowerState.PAUSED),
        ({"unpause": None}, "ACTIVE", "active", PowerState.RUNNING),
        ({"suspend": None}, "SUSPENDED", "suspended", PowerState.SUSPENDED),
        ({"resume": None}, "ACTIVE", "active", PowerState.RUNNING),
    ]
    for body, status, vm_state, power in steps:
        response = act(member, server_id, body)
        assert response.status_code == 202, (body, response.content)
        reaches(cloud, member, server_id, status, vm_state, power)

    # then: each is in the history, its host's event finished successfully
    listed = member.client.get(f"{SERVERS}/{server_id}/os-instance-actions", **V).json()
    names = [action["action"] for action in reversed(listed["instanceActions"])]
    assert names == ["create", *(next(iter(body)) for body, *_ in steps)]
    for action in listed["instanceActions"]:
        detail = member.client.get(
            f"{SERVERS}/{server_id}/os-instance-actions/{action['request_id']}", **V
        ).json()["instanceAction"]
        assert detail["events"], detail
        assert {event["result"] for event in detail["events"]} == {"Success"}, detail


def test_actions_the_state_does_not_allow_are_conflicts(
    cloud: Cloud, member: Caller, active_server: str
) -> None:
    server_id = active_server
    # given: an ACTIVE server, which is neither paused nor suspended
    assert act(member, server_id, {"unpause": None}).status_code == 409
    assert act(member, server_id, {"resume": None}).status_code == 409
    # given: a suspended server, which cannot be paused
    assert act(member, server_id, {"suspend": None}).status_code == 202
    reaches(cloud, member, server_id, "SUSPENDED", "suspended", PowerState.SUSPENDED)
    assert act(member, server_id, {"pause": None}).status_code == 409
    assert act(member, server_id, {"resume": None}).status_code == 202
    reaches(cloud, member, server_id, "ACTIVE", "active", PowerState.RUNNING)
    # given: a paused server, which Nova suspends only from ACTIVE
    assert act(member, server_id, {"pause": None}).status_code == 202
    reaches(cloud, member, server_id, "PAUSED", "paused", PowerState.PAUSED)
    assert act(member, server_id, {"suspend": None}).status_code == 409
    assert act(member, server_id, {"resume": None}).status_code == 409


def test_an_admins_lock_holds_against_the_owner_until_an_admin_unlocks(
    cloud: Cloud, member: Caller, admin: Caller, active_server: str
) -> None:
    server_id = active_server
    # given: an admin of another project locks the member's server
    response = act(admin, server_id, {"lock": {"locked_reason": "audit"}})
    assert response.status_code == 202, response.content
    shown = member.client.get(f"{SERVERS}/{server_id}", **V).json()["server"]
    assert (shown["locked"], shown["locked_reason"]) == (True, "audit")

    # then: the owner can neither act on it nor unlock it (Nova: 409, and 403 for the unlock)
    assert act(member, server_id, {"pause": None}).status_code == 409
    assert act(member, server_id, {"forceDelete": None}).status_code == 409
    assert act(member, server_id, {"unlock": None}).status_code == 403
    assert member.client.get(f"{SERVERS}/{server_id}", **V).json()["server"]["locked"] is True
    reaches(cloud, member, server_id, "ACTIVE", "active", PowerState.RUNNING)

    # when: the admin unlocks it
    assert act(admin, server_id, {"unlock": None}).status_code == 202
    # then: the owner acts on it again, and its own lock is its own to lift
    assert act(member, server_id, {"pause": None}).status_code == 202
    reaches(cloud, member, server_id, "PAUSED", "paused", PowerState.PAUSED)
    assert act(member, server_id, {"lock": None}).status_code == 202
    assert act(member, server_id, {"unpause": None}).status_code == 409
    assert act(member, server_id, {"unlock": None}).status_code == 202
    assert act(member, server_id, {"unpause": None}).status_code == 202
    reaches(cloud, member, server_id, "ACTIVE", "active", PowerState.RUNNING)


def test_another_projects_server_is_not_found_for_every_action(
    cloud: Cloud, make_caller: Any, active_server: str
) -> None:
    stranger = make_caller("member")
    for body in ({"pause": None}, {"suspend": None}, {"lock": None}, {"forceDelete": None}):
        assert act(stranger, active_server, body).status_code == 404


def test_force_delete_removes_a_paused_server_from_its_host(
    cloud: Cloud, member: Caller, active_server: str
) -> None:
    server_id = active_server
    assert act(member, server_id, {"pause": None}).status_code == 202
    reaches(cloud, member, server_id, "PAUSED", "paused", PowerState.PAUSED)
    assert act(member, server_id, {"forceDelete": None}).status_code == 202
    cloud.wait_for_server(member.client, server_id, {"DELETED"})
    assert member.client.get(f"{SERVERS}/{server_id}", **V).status_code == 404


def remote_console(caller: Caller, server_id: str) -> Any:
    return caller.client.post(
        f"{SERVERS}/{server_id}/remote-consoles",
        {"remote_console": {"protocol": "vnc", "type": "novnc"}},
        format="json",
        **V,
    )


def test_vnc_console_follows_what_the_host_reports(
    cloud: Cloud, member: Caller, reader: Caller, active_server: str
) -> None:
    """test:///default runs no VNC server: the host reports a console without a port, so both
    console requests are Nova's 409 'not ready' (the URL and its token, with a port real QEMU
    picks, are tests/e2e/test_server_vm.py's); a suspended server's is refused by its state."""
    server_id = active_server
    reported = Server.objects.get(uuid=server_id).console
    legacy = act(member, server_id, {"os-getVNCConsole": {"type": "novnc"}}, version="2.5")
    assert legacy.status_code == 409, legacy.content
    assert legacy.json()["conflictingRequest"]["message"] == (
        f"Instance {server_id} is not ready"
    ), reported
    response = remote_console(member, server_id)
    assert response.status_code == 409, response.content
    # the legacy action is gone at 2.6, as in Nova; a reader may open no console
    assert act(member, server_id, {"os-getVNCConsole": {"type": "novnc"}}).status_code == 404
    assert act(reader, server_id, {"os-getVNCConsole": {"type": "novnc"}}, "2.5").status_code == 403
    assert remote_console(reader, server_id).status_code == 403

    # when: the host suspends it
    assert act(member, server_id, {"suspend": None}).status_code == 202
    reaches(cloud, member, server_id, "SUSPENDED", "suspended", PowerState.SUSPENDED)
    # then: its state refuses a console
    response = remote_console(member, server_id)
    assert response.status_code == 409
    assert "vm_state suspended" in response.json()["conflictingRequest"]["message"]
