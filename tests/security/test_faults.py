"""Faults and action events show a server's owner what failed, never where or the raw error.

The attack: a member whose build fails on a compute host reads the server (its fault) and
its create action (each step's events), hoping for host names, the host's paths and the
hypervisor's raw error text. Nova's rules hold: the fault's message is the error's own
message only for errors written for users, else the error's class name; the details (the
raw text and traceback) are for admins while the code is 500; an event's traceback and host
are for the events policy and its details (2.84) for the events:details policy. Admins still
see everything.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.conductor.services import fail_build
from apps.servers.faults import from_report
from apps.servers.history import add_fault, finish_event
from apps.servers.models import InstanceAction, InstanceFault, Server
from tests.cloud import Cloud
from tests.conftest import Caller

SERVERS = "/compute/v2.1/servers"


def mv(minor: int) -> dict[str, str]:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute 2.{minor}"}


V = mv(96)


# --- a real build failure on real hosts -----------------------------------------------------------
@pytest.fixture
def broken_image_caches(cloud: Cloud) -> Iterator[list[Path]]:
    """Every host's image cache is a plain file instead of a directory, as a host with a
    broken disk might have: a download there fails with an OSError that names the host's
    own path (which holds its name). Restored afterwards."""
    paths = [cloud.processes.workdir / host / "cache" for host in cloud.processes.hosts]
    for path in paths:
        shutil.rmtree(path)
        path.write_text("not a directory\n")
    try:
        yield paths
    finally:
        for path in paths:
            path.unlink()
            path.mkdir()


def leaks(cloud: Cloud, content: bytes) -> list[str]:
    """Host names, host paths and raw error text found in a response body."""
    text = content.decode()
    found = [host for host in cloud.processes.hosts if host in text]
    found += [
        word for word in ("/var/lib", "Errno", "Not a directory", "Traceback") if word in text
    ]
    return found


@pytest.mark.django_db(transaction=True)
def test_a_failed_build_shows_its_owner_no_host_and_no_raw_error(
    cloud: Cloud, broken_image_caches: list[Path], member: Caller, admin: Caller
) -> None:
    # given: a member's server whose build fails on every host it is tried on
    body = {
        "server": {
            "name": "probe",
            "imageRef": cloud.image_id,
            "flavorRef": "0",
            "networks": "none",
        }
    }
    created = member.client.post(SERVERS, body, format="json", **V)
    assert created.status_code == 202, created.content
    server_id = created.json()["server"]["id"]
    failed = cloud.wait_for_server(member.client, server_id, {"ERROR"})
    request_id = InstanceAction.objects.get(server__uuid=server_id, action="create").request_id

    # when: the member reads everything it may about the server
    reads = {
        "show": member.client.get(f"{SERVERS}/{server_id}", **V),
        "detail": member.client.get(f"{SERVERS}/detail", **V),
        "actions": member.client.get(f"{SERVERS}/{server_id}/os-instance-actions", **V),
        "action": member.client.get(f"{SERVERS}/{server_id}/os-instance-actions/{request_id}", **V),
        "action 2.51": member.client.get(
            f"{SERVERS}/{server_id}/os-instance-actions/{request_id}", **mv(51)
        ),
    }

    # then: the failure is named by the error's class, and nothing says where or how
    for name, response in reads.items():
        assert response.status_code == 200, (name, response.content)
        assert leaks(cloud, response.content) == [], (name, response.content)
    fault = failed["fault"]
    assert fault["code"] == 500
    # "No valid host was found. ... Last exception: SpawnFailed" once every attempt is used,
    # "Build of instance ... aborted: SpawnFailed" when the alternates ran out first
    assert fault["message"].endswith(": SpawnFailed"), fault
    assert "details" not in fault
    assert "OS-EXT-SRV-ATTR:host" not in failed
    events = reads["action"].json()["instanceAction"]["events"]
    assert events
    for event in events:
        assert not {"traceback", "host", "details"} & set(event), event
        assert "hostId" in event

    # and: admins see the host, the raw error and the traceback
    shown = admin.client.get(f"{SERVERS}/{server_id}", **V).json()["server"]
    assert "Not a directory" in shown["fault"]["details"]
    action = admin.client.get(f"{SERVERS}/{server_id}/os-instance-actions/{request_id}", **V)
    failures = [e for e in action.json()["instanceAction"]["events"] if e["result"] == "Error"]
    assert failures
    assert all(e["host"] in cloud.processes.hosts for e in failures if e["host"])
    assert any("Not a directory" in (e["traceback"] or "") for e in failures)
    assert any(e["details"] == "SpawnFailed" for e in failures)
    # and the fault row keeps the host for operators
    assert InstanceFault.objects.get(server__uuid=server_id).host in cloud.processes.hosts


# --- what the API shows of faults and events, by caller -------------------------------------------
@pytest.fixture
def server(member: Caller, image_id: str) -> Server:
    """A member's server (left in BUILD: no workers here)."""
    body = {"server": {"name": "vm", "imageRef": image_id, "flavorRef": "0", "networks": "none"}}
    response = member.client.post(SERVERS, body, format="json", **V)
    assert response.status_code == 202, response.content
    return Server.objects.get(uuid=response.json()["server"]["id"])


@pytest.fixture
def errored(server: Server) -> Server:
    """The server's build failed on host-a, as the conductor records a host's failure."""
    fail_build(
        server=server,
        request_id=server.actions.get().request_id,
        message=f"Build of instance {server.uuid} aborted: SpawnFailed",
        event="compute_build_and_run_instance",
        details="Traceback ... OSError: '/var/lib/host-a/cache'",
        host="host-a",
    )
    return server


def shown_fault(caller: Caller, server: Server) -> dict[str, Any]:
    response = caller.client.get(f"{SERVERS}/{server.uuid}", **V)
    assert response.status_code == 200, response.content
    body = response.json()["server"]
    assert body["status"] == "ERROR"
    return body["fault"]


@pytest.mark.django_db
def test_a_500_faults_details_are_for_admins_only(member, reader, admin, errored) -> None:
    for caller in (member, reader):
        fault = shown_fault(caller, errored)
        assert fault["message"] == f"Build of instance {errored.uuid} aborted: SpawnFailed"
        assert "details" not in fault
        assert "host-a" not in str(fault)
    assert "/var/lib/host-a/cache" in shown_fault(admin, errored)["details"]


@pytest.mark.django_db
def test_a_fault_that_is_no_500_shows_its_details_to_its_owner(member, errored) -> None:
    # given: Nova shows the details of an expected error (a code other than 500) to everyone
    add_fault(server=errored, message="Flavor too small", code=400, details="needs 2 GiB")
    # when / then
    assert shown_fault(member, errored)["details"] == "needs 2 GiB"


@pytest.mark.django_db
def test_event_details_from_2_84_are_for_the_events_details_policy(member, admin, server) -> None:
    # given: a failed step recorded as the conductor records one
    request_id = server.actions.get().request_id
    finish_event(
        server=server,
        request_id=request_id,
        event="compute_build_and_run_instance",
        ok=False,
        host="host-a",
        details="SpawnFailed",
        traceback="Traceback ... '/var/lib/host-a/cache'",
    )
    url = f"{SERVERS}/{server.uuid}/os-instance-actions/{request_id}"
    # when
    owners = member.client.get(url, **mv(84)).json()["instanceAction"]["events"]
    admins = admin.client.get(url, **mv(84)).json()["instanceAction"]["events"]
    # then
    [owner_event] = [e for e in owners if e["event"] == "compute_build_and_run_instance"]
    [admin_event] = [e for e in admins if e["event"] == "compute_build_and_run_instance"]
    assert not {"details", "traceback", "host"} & set(owner_event)
    assert admin_event["details"] == "SpawnFailed"
    assert admin_event["host"] == "host-a"
    assert "/var/lib/host-a" in admin_event["traceback"]


# --- the rule itself ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("message", "public"),
    [
        # raw text of the host (paths, libvirt's words, URLs): the class name only
        ("SpawnFailed: Spawning instance x failed: [Errno 28] '/var/lib/h1/x'", "SpawnFailed"),
        (
            "ImageDownloadFailed: Image i could not be downloaded: http://cp/x?sig=1",
            "ImageDownloadFailed",
        ),
        ("libvirtError: internal error: qemu unexpectedly closed on host-a", "libvirtError"),
        ("PermissionError: [Errno 13] Permission denied: '/srv/h1'", "PermissionError"),
        # messages made of the request's own values: shown as they are
        (
            "FlavorDiskSmallerThanImage: The flavor's disk is too small for the requested "
            "image: the flavor has 1 bytes, the image needs 2 bytes.",
            "The flavor's disk is too small for the requested image: the flavor has 1 bytes, "
            "the image needs 2 bytes.",
        ),
        (
            "InvalidDriverState: Cannot pause instance x while it is shutoff.",
            "Cannot pause instance x while it is shutoff.",
        ),
        # the control plane's own words
        ("Instance has no host", "Instance has no host"),
    ],
)
def test_a_reports_public_message(message: str, public: str) -> None:
    failure = from_report(
        {"message": message, "details": "Traceback ...", "code": 500}, default="x"
    )
    assert failure.message == public
    assert failure.details == "Traceback ..."


def test_a_report_without_traceback_keeps_its_raw_text_for_admins() -> None:
    failure = from_report({"message": "OSError: [Errno 5] /dev/sdz"}, default="x")
    assert failure.message == "OSError"
    assert failure.details == "OSError: [Errno 5] /dev/sdz"
    assert from_report(None, default="delete failed").message == "delete failed"
