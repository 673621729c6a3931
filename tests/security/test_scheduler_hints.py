"""Scheduler hints are user input: an allow-list, each validated, never the scheduler's state.

Attacks made as a member of a project: forcing a host through a hint, through the forced
availability-zone form and through 2.74's host fields; probing other projects' servers through
same_host / different_host; hints of the wrong type. Each is refused, and nothing is created.
"""

import uuid

import pytest

from apps.hosts.models import Service
from apps.hosts.services import set_service_status
from apps.servers.models import Server

pytestmark = pytest.mark.django_db(transaction=True)

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


def _body(image_id, hints=None, **server):
    body = {
        "server": {
            "name": "hint-probe",
            "imageRef": image_id,
            "flavorRef": "0",
            "networks": "none",
            **server,
        }
    }
    if hints is not None:
        body["os:scheduler_hints"] = hints
    return body


def _create(caller, image_id, hints=None, **server):
    return caller.client.post(
        "/compute/v2.1/servers", _body(image_id, hints, **server), format="json", **V
    )


def _disable(host):
    set_service_status(service=Service.objects.get(host=host), disabled=True, reason="probe")


def test_a_forced_host_hint_is_refused_and_creates_nothing(cloud, member):
    # given: a disabled host, which no filter lets a build onto
    target = cloud.processes.hosts[0]
    _disable(target)
    # when: the member names the scheduler's internal key as a hint
    response = _create(member, cloud.image_id, {"_forced_host": target})
    # then
    assert response.status_code == 400
    assert "_forced_host" in response.json()["badRequest"]["message"]
    assert not Server.objects.filter(project_id=member.project.id).exists()


@pytest.mark.parametrize(
    "server_fields",
    [
        {"availability_zone": "nova:{host}"},
        {"availability_zone": ":{host}"},
        {"availability_zone": "nova::{host}"},
        {"host": "{host}"},
        {"hypervisor_hostname": "{host}"},
    ],
)
def test_forcing_or_requesting_a_host_is_for_admins_only(cloud, member, server_fields):
    target = cloud.processes.hosts[0]
    fields = {k: v.format(host=target) for k, v in server_fields.items()}
    # when
    response = _create(member, cloud.image_id, **fields)
    # then
    assert response.status_code == 403, response.content
    assert "forbidden" in response.json()
    assert not Server.objects.filter(project_id=member.project.id).exists()


def test_an_admins_forced_host_passes_the_filters_and_is_not_kept_in_the_hints(cloud, admin):
    # given
    target = cloud.processes.hosts[1]
    _disable(target)
    # when
    response = _create(admin, cloud.image_id, availability_zone=f"nova:{target}")
    # then: the build landed on the disabled host, as Nova forces it
    assert response.status_code == 202, response.content
    server_id = response.json()["server"]["id"]
    server = cloud.wait_for_server(admin.client, server_id, {"ACTIVE", "ERROR"})
    assert server["status"] == "ACTIVE", server.get("fault")
    assert server["OS-EXT-SRV-ATTR:host"] == target
    row = Server.objects.get(uuid=server_id)
    assert row.scheduler_hints == {}
    assert row.requested_destination == {"host": target, "node": None, "force": True}


def test_an_admins_requested_host_still_passes_the_filters(cloud, admin):
    # given: the requested host is disabled
    target = cloud.processes.hosts[0]
    _disable(target)
    # when: 2.74's host, which (unlike the forced form) the filters judge
    response = _create(admin, cloud.image_id, host=target)
    # then: no valid host, the server errors with the scheduler's reason
    assert response.status_code == 202, response.content
    server = cloud.wait_for_server(admin.client, response.json()["server"]["id"], {"ERROR"})
    assert "No valid host" in server["fault"]["message"]


def test_a_requested_host_that_does_not_exist_is_a_400(cloud, admin):
    response = _create(admin, cloud.image_id, host="no-such-host")
    assert response.status_code == 400
    assert (
        response.json()["badRequest"]["message"] == "Compute host no-such-host could not be found."
    )


def test_2_74_host_fields_are_unknown_before_2_74(cloud, admin):
    response = admin.client.post(
        "/compute/v2.1/servers",
        _body(cloud.image_id, host=cloud.processes.hosts[0]),
        format="json",
        HTTP_OPENSTACK_API_VERSION="compute 2.73",
    )
    assert response.status_code == 400
    assert not Server.objects.exists()


@pytest.mark.parametrize(
    "hints",
    [
        {"query": '["=", "$free_ram_mb", 1024]'},
        {"target_cell": "cell1"},
        {"unknown": "x"},
        {"same_host": "not-a-uuid"},
        {"same_host": ["not-a-uuid"]},
        {"different_host": 12},
        {"same_host": []},
        {"same_host": [str(uuid.uuid4()) for _ in range(101)]},
        {"group": "not-a-uuid"},
        {"group": {"nested": "object"}},
        "not-an-object",
    ],
)
def test_hints_outside_the_allow_list_or_malformed_are_400s(cloud, member, hints):
    response = _create(member, cloud.image_id, hints)
    assert response.status_code == 400, response.content
    assert "badRequest" in response.json()
    assert not Server.objects.filter(project_id=member.project.id).exists()


def test_same_host_cannot_probe_another_projects_server(cloud, member, make_caller):
    # given: a server of another project, active on some host
    other = make_caller("member")
    response = _create(other, cloud.image_id)
    assert response.status_code == 202, response.content
    victim = response.json()["server"]["id"]
    cloud.wait_for_server(other.client, victim, {"ACTIVE"})
    made_up = str(uuid.uuid4())
    for key in ("same_host", "different_host"):
        # when: the member asks to land beside (or away from) it, and beside a made-up id
        real = _create(member, cloud.image_id, {key: victim})
        fake = _create(member, cloud.image_id, {key: made_up})
        # then: refused, and the real server answers as the made-up one does (no oracle)
        assert (real.status_code, fake.status_code) == (400, 400)
        real_message = real.json()["badRequest"]["message"].replace(victim, "ID")
        assert real_message == fake.json()["badRequest"]["message"].replace(made_up, "ID")
    assert not Server.objects.filter(project_id=member.project.id).exists()


def test_same_host_with_an_own_server_is_honoured_and_kept_canonical(cloud, member):
    # given
    first = _create(member, cloud.image_id).json()["server"]["id"]
    placed = cloud.wait_for_server(member.client, first, {"ACTIVE"})
    # when: the hint in its one-id form, upper case
    response = _create(member, cloud.image_id, {"same_host": first.upper()})
    # then
    assert response.status_code == 202, response.content
    second = response.json()["server"]["id"]
    cloud.wait_for_server(member.client, second, {"ACTIVE"})
    rows = Server.objects.in_bulk([first, second], field_name="uuid")
    assert rows[uuid.UUID(second)].host == rows[uuid.UUID(first)].host
    assert rows[uuid.UUID(second)].scheduler_hints == {"same_host": [first]}
    assert placed["hostId"]
