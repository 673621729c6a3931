"""A build or a move the scheduler can place nowhere keeps the scheduler's explanation with
its fault, as data (`InstanceFault.explanation`), beside the message that summarises it.

Through the API and the conductor's own steps (tests/conductor/test_delete_wins.py's), on
two hosts of 4096 MB: an m1.large (8192 MB) fits on neither.
"""

from __future__ import annotations

import pytest

from apps.conductor import moves
from apps.conductor import services as conductor
from apps.scheduler.exceptions import MAX_NAMED_HOSTS, NoValidHost
from apps.scheduler.explanation import Explanation
from apps.servers.choices import TaskState, VmState
from apps.servers.models import InstanceFault, Migration, Server
from tests.conductor.test_delete_wins import (  # noqa: F401 - _hosts: the two hosts
    HOSTS,
    _hosts,
    act,
    active,
    create,
    request_id,
)
from tests.conftest import Caller

pytestmark = pytest.mark.django_db(transaction=True)

LARGE = "4"  # m1.large: 8192 MB
TOO_SMALL = {"step": "RAM", "reason": "has less than 8192 MB free", "count": 2}


def test_a_build_that_finds_no_host_keeps_the_explanation_with_its_fault(
    member: Caller, image_id: str
) -> None:
    # given: a server no host can take
    body = {"server": {"name": "big", "imageRef": image_id, "flavorRef": LARGE, "networks": "none"}}
    response = member.client.post("/compute/v2.1/servers", body, format="json")
    assert response.status_code == 202, response.content
    server = Server.objects.get(uuid=response.json()["server"]["id"])
    # when: the conductor's scheduling pass runs
    conductor.schedule_and_build_servers(
        server_uuids=[str(server.uuid)], request_id=request_id(server, "create")
    )
    # then: ERROR, and the fault holds the explanation whole, host names included
    server.refresh_from_db()
    assert server.vm_state == VmState.ERROR
    fault = InstanceFault.objects.get(server=server)
    explanation = fault.explanation
    assert explanation is not None
    assert (explanation["requested"], explanation["placed"], explanation["considered"]) == (1, 0, 2)
    [rejection] = explanation["rejections"]
    assert {k: rejection[k] for k in TOO_SMALL} == TOO_SMALL
    assert sorted(rejection["hosts"]) == sorted(HOSTS)
    # and: the message is the same summary, as before
    assert fault.message == f"No valid host was found. {explanation['summary']}"
    assert "2 hosts have less than 8192 MB free" in fault.message


def test_a_resize_that_finds_no_host_keeps_the_explanation_with_its_fault(
    member: Caller, image_id: str
) -> None:
    # given: an active server whose resize to m1.large the API accepted
    server = active(member, image_id)
    act(member, server, {"resize": {"flavorRef": LARGE}})
    migration = Migration.objects.get(server=server)
    # when: the conductor looks for a destination
    moves.resize_server(
        server_uuid=str(server.uuid),
        migration_uuid=str(migration.uuid),
        request_id=request_id(server, "resize"),
    )
    # then: the server stays where it was, the migration failed, the fault explains why
    server.refresh_from_db()
    migration.refresh_from_db()
    assert (server.vm_state, server.task_state) == (VmState.ACTIVE, None)
    assert migration.status == Migration.Status.ERROR
    fault = InstanceFault.objects.get(server=server)
    assert fault.message.startswith("No valid host was found.")
    assert fault.explanation is not None
    rows = [(r["step"], r["reason"]) for r in fault.explanation["rejections"]]
    assert ("RAM", "has less than 8192 MB free") in rows
    assert fault.message == f"No valid host was found. {fault.explanation['summary']}"


def test_other_build_failures_keep_no_explanation(member: Caller, image_id: str) -> None:
    # given: a build a host reports failed, with nowhere else to go
    server = create(member, image_id)
    conductor.schedule_and_build_servers(
        server_uuids=[str(server.uuid)], request_id=request_id(server, "create")
    )
    server.refresh_from_db()
    assert server.task_state == TaskState.SPAWNING
    # when
    conductor.build_server_failed(
        host=server.host,
        server_uuid=str(server.uuid),
        request_id=request_id(server, "create"),
        fault={"message": "SpawnFailed", "details": ""},
        alternates=[],
    )
    # then: a fault, and no explanation
    fault = InstanceFault.objects.get(server=server)
    assert fault.server.vm_state == VmState.ERROR
    assert fault.explanation is None


def test_a_fault_keeps_every_count_but_twenty_names_a_rejection() -> None:
    # given: a fleet where 30 hosts lack RAM and 2 are down
    explanation = Explanation(requested=1, considered=32)
    for n in range(30):
        explanation.add("RAM", "has less than 8192 MB free", f"host-{n:02d}")
    explanation.add("ComputeFilter", "is down", "host-30")
    explanation.add("ComputeFilter", "is down", "host-31")

    # when
    record = NoValidHost(explanation).fault_explanation

    # then: what a page can show is kept, not thousands of names a large fleet would give
    assert record is not None
    ram, down = record["rejections"]
    assert (ram["count"], len(ram["hosts"])) == (30, MAX_NAMED_HOSTS)
    assert ram["hosts"] == [f"host-{n:02d}" for n in range(MAX_NAMED_HOSTS)]
    assert (down["count"], down["hosts"]) == (2, ["host-30", "host-31"])
    # and the scheduler's own record is untouched
    assert len(explanation.rejections[0].hosts) == 30
