"""os-simple-tenant-usage: hours per server clipped to the period, totals per project, deleted
servers included, the period's rules, who may read which project, paging from 2.40."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.identity.models import Project
from apps.servers.choices import VmState
from apps.servers.models import Server

pytestmark = pytest.mark.django_db

URL = "/compute/v2.1/os-simple-tenant-usage"
V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
V21 = {"HTTP_OPENSTACK_API_VERSION": "compute 2.1"}
V240 = {"HTTP_OPENSTACK_API_VERSION": "compute 2.40"}
V274 = {"HTTP_OPENSTACK_API_VERSION": "compute 2.74"}

T0 = datetime(2025, 3, 1, tzinfo=UTC)
PERIOD = "start=2025-03-01T00:00:00&end=2025-03-02T00:00:00"
FLAVOR = {"name": "m1.small", "vcpus": 2, "ram": 2048, "disk": 20, "ephemeral": 5, "swap": 0}


def make_server(
    project: Project,
    *,
    name: str = "vm",
    launched: datetime | None = T0,
    terminated: datetime | None = None,
    vm_state: str = VmState.ACTIVE,
) -> Server:
    """A set-up server row: usage is computed from these columns only."""
    return Server.objects.create(
        name=name,
        project=project,
        user_id="someone",
        flavor_id="2",
        flavor=FLAVOR,
        vcpus=2,
        memory_mb=2048,
        root_gb=20,
        vm_state=VmState.DELETED if terminated else vm_state,
        reservation_id=f"r-{uuid.uuid4().hex[:8]}",
        launched_at=launched,
        terminated_at=terminated,
        deleted=terminated is not None,
        deleted_at=terminated,
    )


def usage_of(client: Any, project_id: str, query: str = PERIOD, **headers: Any) -> Any:
    return client.get(f"{URL}/{project_id}?{query}", **(headers or V))


# --- computing ------------------------------------------------------------------------------
def test_hours_are_clipped_to_the_period_and_summed_per_project(reader, member):
    # given: one server running through the whole day, one launched at 18:00, one deleted at
    # 06:00, and servers outside the period (deleted before it, launched after it, never)
    project = member.project
    whole = make_server(project, name="whole", launched=T0 - timedelta(days=3))
    late = make_server(project, name="late", launched=T0 + timedelta(hours=18))
    early = make_server(
        project,
        name="early",
        launched=T0 - timedelta(hours=2),
        terminated=T0 + timedelta(hours=6),
    )
    make_server(project, name="before", launched=T0 - timedelta(days=2), terminated=T0)
    make_server(project, name="after", launched=T0 + timedelta(days=2))
    make_server(project, name="never", launched=None, vm_state=VmState.ERROR)
    # when
    response = usage_of(reader.client, project.pk)
    # then
    assert response.status_code == 200, response.content
    usage = response.json()["tenant_usage"]
    hours = {u["name"]: u["hours"] for u in usage["server_usages"]}
    assert hours == {"whole": 24.0, "late": 6.0, "early": 6.0}
    assert usage["tenant_id"] == project.pk
    assert usage["total_hours"] == 36.0
    assert usage["total_vcpus_usage"] == 72.0
    assert usage["total_memory_mb_usage"] == 36.0 * 2048
    assert usage["total_local_gb_usage"] == 36.0 * 25
    assert usage["start"] == "2025-03-01T00:00:00.000000"
    assert usage["stop"] == "2025-03-02T00:00:00.000000"
    assert {u["instance_id"] for u in usage["server_usages"]} == {
        str(whole.uuid),
        str(late.uuid),
        str(early.uuid),
    }


def test_a_server_usage_has_novas_fields(reader, member):
    # given
    server = make_server(
        member.project,
        name="gone",
        launched=T0 + timedelta(hours=1),
        terminated=T0 + timedelta(hours=3, minutes=30),
    )
    running = make_server(member.project, name="running", launched=T0)
    # when
    usage = usage_of(reader.client, member.project.pk).json()["tenant_usage"]
    # then
    by_name = {u["name"]: u for u in usage["server_usages"]}
    assert by_name["gone"] == {
        "instance_id": str(server.uuid),
        "name": "gone",
        "tenant_id": member.project.pk,
        "hours": 2.5,
        "flavor": "m1.small",
        "memory_mb": 2048,
        "local_gb": 25,
        "vcpus": 2,
        "started_at": "2025-03-01T01:00:00.000000",
        "ended_at": "2025-03-01T03:30:00.000000",
        "state": "terminated",
        "uptime": 9000,
    }
    assert by_name["running"]["instance_id"] == str(running.uuid)
    assert by_name["running"]["state"] == "active"
    assert by_name["running"]["ended_at"] is None
    assert by_name["running"]["uptime"] >= (timezone.now() - T0).total_seconds() - 5


def test_list_gives_one_summary_per_project_and_server_usages_only_when_detailed(
    admin, make_caller
):
    # given
    one, two = make_caller("member"), make_caller("member")
    make_server(one.project, launched=T0)
    make_server(two.project, launched=T0 + timedelta(hours=12))
    make_server(two.project, launched=T0 + timedelta(hours=12))
    # when
    summary = admin.client.get(f"{URL}?{PERIOD}", **V).json()["tenant_usages"]
    detailed = admin.client.get(f"{URL}?{PERIOD}&detailed=1", **V).json()["tenant_usages"]
    # then
    totals = {u["tenant_id"]: u["total_hours"] for u in summary}
    assert totals == {one.project.pk: 24.0, two.project.pk: 24.0}
    assert all("server_usages" not in u for u in summary)
    assert {u["tenant_id"]: len(u["server_usages"]) for u in detailed} == {
        one.project.pk: 1,
        two.project.pk: 2,
    }


def test_a_project_with_nothing_in_the_period_answers_an_empty_usage(reader):
    response = usage_of(reader.client, reader.project.pk)
    assert response.status_code == 200
    assert response.json() == {"tenant_usage": {}}


# --- the period -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    [
        "start=2025-03-01T00:00:00.500000&end=2025-03-02T00:00:00",
        "start=2025-03-01 00:00:00.000000&end=2025-03-02 00:00:00.000000",
    ],
)
def test_the_other_time_formats_are_accepted(reader, query: str):
    assert usage_of(reader.client, reader.project.pk, query).status_code == 200


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=yesterday", "Invalid datetime string: Datetime is in invalid format"),
        ("start=2025-03-01T00:00:00Z", "Invalid datetime string: Datetime is in invalid format"),
        (
            "start=2025-03-02T00:00:00&end=2025-03-01T00:00:00",
            "Invalid start time. The start time cannot occur after the end time.",
        ),
        (
            "start=2025-03-01T00:00:00&end=2025-03-01T00:00:00",
            "Invalid start time. The start time cannot occur after the end time.",
        ),
    ],
)
def test_bad_periods_are_refused(reader, query: str, message: str):
    response = usage_of(reader.client, reader.project.pk, query)
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == message


def test_the_end_is_clamped_to_now(reader, member):
    # given
    make_server(member.project, launched=T0)
    before = timezone.now()
    # when
    usage = usage_of(
        reader.client, member.project.pk, "start=2025-03-01T00:00:00&end=2999-01-01T00:00:00"
    )
    # then
    stop = datetime.strptime(usage.json()["tenant_usage"]["stop"], "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=UTC
    )
    assert before <= stop <= timezone.now()


def test_without_a_period_the_report_is_empty(reader, member):
    # given: a running server (Nova's default period is "now to now")
    make_server(member.project, launched=T0)
    # when
    response = reader.client.get(f"{URL}/{member.project.pk}", **V)
    # then: the running server is in it, for no time
    assert response.status_code == 200
    usage = response.json()["tenant_usage"]
    assert usage["total_hours"] == 0
    assert usage["start"] == usage["stop"]


# --- who may read ---------------------------------------------------------------------------
def test_list_is_for_admins(member):
    response = member.client.get(f"{URL}?{PERIOD}", **V)
    assert response.status_code == 403


def test_another_projects_usage_is_forbidden_but_admins_read_any(member, admin, make_caller):
    # given
    other = make_caller("member")
    make_server(other.project, launched=T0)
    # when
    mine = usage_of(member.client, other.project.pk)
    admins = usage_of(admin.client, other.project.pk)
    # then
    assert mine.status_code == 403
    assert admins.status_code == 200
    assert admins.json()["tenant_usage"]["total_hours"] == 24.0


# --- paging ---------------------------------------------------------------------------------
def test_from_2_40_servers_are_paged_with_a_next_link(reader, member):
    # given
    servers = [make_server(member.project, name=f"vm{i}") for i in range(5)]
    ordered = sorted(str(s.uuid) for s in servers)
    # when
    first = usage_of(reader.client, member.project.pk, f"{PERIOD}&limit=2", **V240).json()
    marker = first["tenant_usage_links"][0]["href"].split("marker=")[1].split("&")[0]
    second = usage_of(
        reader.client, member.project.pk, f"{PERIOD}&limit=2&marker={marker}", **V240
    ).json()
    last = usage_of(
        reader.client, member.project.pk, f"{PERIOD}&limit=2&marker={ordered[3]}", **V240
    ).json()
    # then
    assert [u["instance_id"] for u in first["tenant_usage"]["server_usages"]] == ordered[:2]
    assert marker == ordered[1]
    assert first["tenant_usage_links"][0]["rel"] == "next"
    assert "/compute/v2.1/os-simple-tenant-usage/" in first["tenant_usage_links"][0]["href"]
    assert [u["instance_id"] for u in second["tenant_usage"]["server_usages"]] == ordered[2:4]
    assert [u["instance_id"] for u in last["tenant_usage"]["server_usages"]] == ordered[4:]
    assert "tenant_usage_links" not in last


def test_admin_list_pages_across_projects_with_tenant_usages_links(admin, make_caller):
    # given
    for caller in (make_caller("member"), make_caller("member")):
        make_server(caller.project, launched=T0)
        make_server(caller.project, launched=T0)
    # when
    page = admin.client.get(f"{URL}?{PERIOD}&detailed=1&limit=3", **V).json()
    # then
    assert sum(len(u["server_usages"]) for u in page["tenant_usages"]) == 3
    assert page["tenant_usages_links"][0]["rel"] == "next"


def test_before_2_40_limit_and_marker_are_ignored(reader, member):
    # given
    for i in range(3):
        make_server(member.project, name=f"vm{i}")
    # when
    response = usage_of(reader.client, member.project.pk, f"{PERIOD}&limit=1", **V21)
    # then
    body = response.json()
    assert len(body["tenant_usage"]["server_usages"]) == 3
    assert "tenant_usage_links" not in body


def test_an_unknown_marker_is_refused(reader):
    marker = uuid.uuid4()
    response = usage_of(reader.client, reader.project.pk, f"{PERIOD}&marker={marker}", **V240)
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == f"Marker {marker} could not be found."


def test_unknown_parameters_are_refused_from_2_75(reader):
    # when
    old = usage_of(reader.client, reader.project.pk, f"{PERIOD}&detailed=1", **V274)
    new = usage_of(reader.client, reader.project.pk, f"{PERIOD}&detailed=1", **V)
    # then: "detailed" belongs to the list only
    assert old.status_code == 200
    assert new.status_code == 400


def test_list_costs_the_same_queries_whatever_the_number_of_servers(
    admin, make_caller, django_assert_num_queries
):
    # given
    for _ in range(3):
        project = make_caller("member").project
        for i in range(10):
            make_server(project, name=f"vm{i}")
    # when: token with roles, servers
    with django_assert_num_queries(2):
        response = admin.client.get(f"{URL}?{PERIOD}&detailed=1", **V)
    # then
    assert sum(len(u["server_usages"]) for u in response.json()["tenant_usages"]) == 30
