"""os-server-groups: shapes by microversion, validation, quota, visibility; and, with real
workers on libvirt's test hypervisor, the policies' effect on where servers land."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone

from apps.identity.models import Project
from apps.quotas.services import update_quotas
from apps.servers.choices import VmState
from apps.servers.models import Server, ServerGroup, ServerGroupMember

URL = "/compute/v2.1/os-server-groups"
V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
V21 = {"HTTP_OPENSTACK_API_VERSION": "compute 2.1"}
V213 = {"HTTP_OPENSTACK_API_VERSION": "compute 2.13"}
V215 = {"HTTP_OPENSTACK_API_VERSION": "compute 2.15"}
V263 = {"HTTP_OPENSTACK_API_VERSION": "compute 2.63"}
V264 = {"HTTP_OPENSTACK_API_VERSION": "compute 2.64"}


def create_group(client: Any, name: str = "g", policy: str = "anti-affinity", **extra: Any):
    body = {"server_group": {"name": name, "policy": policy, **extra}}
    return client.post(URL, body, format="json", **V)


def created(client: Any, **kwargs: Any) -> dict[str, Any]:
    response = create_group(client, **kwargs)
    assert response.status_code == 200, response.content
    return response.json()["server_group"]


def make_server(project: Project, *, deleted: bool = False, name: str = "vm") -> Server:
    """A set-up server row (no build): what a group's members list reads."""
    now = timezone.now()
    return Server.objects.create(
        name=name,
        project=project,
        user_id="someone",
        flavor_id="1",
        vm_state=VmState.DELETED if deleted else VmState.ACTIVE,
        reservation_id=f"r-{uuid.uuid4().hex[:8]}",
        deleted=deleted,
        deleted_at=now if deleted else None,
        launched_at=now,
    )


# --- shapes ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_create_before_2_64_takes_a_policies_list_and_answers_policies_and_metadata(member):
    # when
    body = {"server_group": {"name": "web", "policies": ["anti-affinity"]}}
    response = member.client.post(URL, body, format="json", **V21)
    # then
    assert response.status_code == 200, response.content
    group = response.json()["server_group"]
    assert set(group) == {"id", "name", "policies", "metadata", "members"}
    assert group["policies"] == ["anti-affinity"]
    assert group["metadata"] == {}
    assert group["members"] == []
    assert uuid.UUID(group["id"])


@pytest.mark.django_db
def test_project_and_user_ids_are_shown_from_2_13(member):
    # given
    group_id = created(member.client)["id"]
    # when
    old = member.client.get(f"{URL}/{group_id}", **V21).json()["server_group"]
    new = member.client.get(f"{URL}/{group_id}", **V213).json()["server_group"]
    # then
    assert "project_id" not in old
    assert new["project_id"] == member.project.pk
    assert new["user_id"] == member.user.pk


@pytest.mark.django_db
def test_from_2_64_a_group_has_one_policy_and_rules_and_no_metadata(member):
    # when
    group = created(member.client, name="db", rules={"max_server_per_host": 2})
    # then
    assert set(group) == {"id", "name", "policy", "rules", "members", "project_id", "user_id"}
    assert group["policy"] == "anti-affinity"
    assert group["rules"] == {"max_server_per_host": 2}
    stored = ServerGroup.objects.get(uuid=group["id"])
    assert stored.rules == {"max_server_per_host": 2}


@pytest.mark.django_db
def test_a_group_created_at_2_64_reads_as_a_policies_list_at_2_63(member):
    # given
    group_id = created(member.client, policy="soft-affinity")["id"]
    # when
    shown = member.client.get(f"{URL}/{group_id}", **V263).json()["server_group"]
    # then
    assert shown["policies"] == ["soft-affinity"]
    assert shown["metadata"] == {}
    assert "policy" not in shown
    assert "rules" not in shown


@pytest.mark.django_db
def test_anti_affinity_without_rules_answers_empty_rules(member):
    assert created(member.client)["rules"] == {}


# --- validation -----------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("policy", ["affinity", "soft-affinity", "soft-anti-affinity"])
def test_rules_are_refused_for_policies_other_than_anti_affinity(member, policy: str):
    # when
    response = create_group(member.client, policy=policy, rules={"max_server_per_host": 2})
    # then
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "Only anti-affinity policy supports rules."
    assert not ServerGroup.objects.exists()


@pytest.mark.django_db
def test_soft_policies_need_2_15(member):
    # given
    body = {"server_group": {"name": "g", "policies": ["soft-anti-affinity"]}}
    # when
    before = member.client.post(URL, body, format="json", **V21)
    after = member.client.post(URL, body, format="json", **V215)
    # then
    assert before.status_code == 400
    assert "soft-anti-affinity" in before.json()["badRequest"]["message"]
    assert after.status_code == 200
    assert after.json()["server_group"]["policies"] == ["soft-anti-affinity"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("headers", "server_group"),
    [
        (V21, {"name": "g", "policies": []}),
        (V21, {"name": "g", "policies": ["affinity", "anti-affinity"]}),
        (V21, {"name": "g", "policies": ["legacy"]}),
        (V21, {"name": "g"}),
        (V21, {"name": "g", "policy": "affinity"}),
        (V264, {"name": "g", "policies": ["affinity"]}),
        (V264, {"name": "g", "policy": "spread"}),
        (V264, {"name": "g", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}}),
        (V264, {"name": "g", "policy": "anti-affinity", "rules": {"max_server_per_host": "x"}}),
        (V264, {"name": "g", "policy": "anti-affinity", "rules": {"other": 1}}),
        (V264, {"name": " padded ", "policy": "affinity"}),
        (V264, {"name": "", "policy": "affinity"}),
        (V264, {"name": "x" * 256, "policy": "affinity"}),
        (V264, {"name": "g", "policy": "affinity", "metadata": {}}),
    ],
)
def test_malformed_create_bodies_are_refused(member, headers, server_group):
    # when
    response = member.client.post(URL, {"server_group": server_group}, format="json", **headers)
    # then
    assert response.status_code == 400, response.content
    assert "badRequest" in response.json()
    assert not ServerGroup.objects.exists()


@pytest.mark.django_db
def test_rule_given_as_a_numeric_string_is_stored_as_a_number(member):
    group = created(member.client, rules={"max_server_per_host": "3"})
    assert group["rules"] == {"max_server_per_host": 3}


# --- quota ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_creating_beyond_the_server_groups_quota_is_forbidden(member):
    # given
    update_quotas(project=member.project, limits={"server_groups": 1})
    created(member.client, name="first")
    # when
    response = create_group(member.client, name="second")
    # then
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == "Quota exceeded, too many server groups."
    assert ServerGroup.objects.filter(project=member.project).count() == 1


@pytest.mark.django_db
def test_deleting_a_group_frees_its_quota(member):
    # given
    update_quotas(project=member.project, limits={"server_groups": 1})
    first = created(member.client, name="first")
    # when
    deleted = member.client.delete(f"{URL}/{first['id']}", **V)
    again = create_group(member.client, name="second")
    # then
    assert deleted.status_code == 204
    assert again.status_code == 200


# --- members --------------------------------------------------------------------------------
@pytest.mark.django_db
def test_members_are_the_groups_servers_that_are_not_deleted(member):
    # given
    group_id = created(member.client)["id"]
    group = ServerGroup.objects.get(uuid=group_id)
    live = make_server(member.project, name="live")
    gone = make_server(member.project, name="gone", deleted=True)
    ServerGroupMember.objects.bulk_create(
        [ServerGroupMember(group=group, server=live), ServerGroupMember(group=group, server=gone)]
    )
    # when
    shown = member.client.get(f"{URL}/{group_id}", **V).json()["server_group"]
    listed = member.client.get(URL, **V).json()["server_groups"]
    # then
    assert shown["members"] == [str(live.uuid)]
    assert listed[0]["members"] == [str(live.uuid)]


@pytest.mark.django_db
def test_deleting_a_group_leaves_its_servers(member):
    # given
    group_id = created(member.client)["id"]
    server = make_server(member.project)
    ServerGroupMember.objects.create(group=ServerGroup.objects.get(uuid=group_id), server=server)
    # when
    response = member.client.delete(f"{URL}/{group_id}", **V)
    # then
    assert response.status_code == 204
    assert Server.objects.filter(pk=server.pk).exists()
    assert not ServerGroupMember.objects.exists()
    assert member.client.get(f"{URL}/{group_id}", **V).status_code == 404


# --- listing and visibility -----------------------------------------------------------------
@pytest.mark.django_db
def test_list_shows_the_callers_project_only_unless_an_admin_asks_all_projects(
    member, admin, make_caller
):
    # given
    other = make_caller("member")
    mine = created(member.client, name="mine")["id"]
    theirs = created(other.client, name="theirs")["id"]
    admins = created(admin.client, name="admins")["id"]
    # when
    member_all = member.client.get(f"{URL}?all_projects=True", **V).json()["server_groups"]
    admin_own = admin.client.get(URL, **V).json()["server_groups"]
    admin_all = admin.client.get(f"{URL}?all_projects=True", **V).json()["server_groups"]
    # then
    assert [g["id"] for g in member_all] == [mine]
    assert [g["id"] for g in admin_own] == [admins]
    assert {g["id"] for g in admin_all} == {mine, theirs, admins}


@pytest.mark.django_db
def test_list_pages_with_limit_and_offset_in_creation_order(member):
    # given
    ids = [created(member.client, name=f"g{i}")["id"] for i in range(5)]
    # when
    page = member.client.get(f"{URL}?limit=2&offset=1", **V).json()["server_groups"]
    rest = member.client.get(f"{URL}?offset=3", **V).json()["server_groups"]
    unlimited = member.client.get(f"{URL}?limit=0", **V).json()["server_groups"]
    # then
    assert [g["id"] for g in page] == ids[1:3]
    assert [g["id"] for g in rest] == ids[3:]
    assert [g["id"] for g in unlimited] == ids


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["limit=-1", "offset=x"])
def test_bad_paging_parameters_are_refused(member, query: str):
    assert member.client.get(f"{URL}?{query}", **V).status_code == 400


@pytest.mark.django_db
def test_unknown_list_parameters_are_refused_from_2_75_only(member):
    # when
    old = member.client.get(f"{URL}?colour=red", HTTP_OPENSTACK_API_VERSION="compute 2.74")
    new = member.client.get(f"{URL}?colour=red", HTTP_OPENSTACK_API_VERSION="compute 2.75")
    # then
    assert old.status_code == 200
    assert new.status_code == 400


@pytest.mark.django_db
def test_another_projects_group_is_not_found_but_admins_see_and_delete_it(
    member, admin, make_caller
):
    # given
    other = make_caller("member")
    group_id = created(other.client)["id"]
    # when / then
    assert member.client.get(f"{URL}/{group_id}", **V).status_code == 404
    assert member.client.delete(f"{URL}/{group_id}", **V).status_code == 404
    assert admin.client.get(f"{URL}/{group_id}", **V).status_code == 200
    assert admin.client.delete(f"{URL}/{group_id}", **V).status_code == 204
    assert not ServerGroup.objects.exists()


@pytest.mark.django_db
def test_unknown_or_malformed_ids_are_not_found(member):
    response = member.client.get(f"{URL}/{uuid.uuid4()}", **V)
    assert response.status_code == 404
    assert "could not be found" in response.json()["itemNotFound"]["message"]
    assert member.client.get(f"{URL}/not-a-uuid", **V).status_code == 404


@pytest.mark.django_db
def test_readers_may_read_but_not_create_or_delete(member, reader):
    # given
    group_id = created(member.client)["id"]
    # when / then
    assert reader.client.get(f"{URL}/{group_id}", **V).status_code == 200
    assert reader.client.get(URL, **V).status_code == 200
    assert create_group(reader.client).status_code == 403
    assert reader.client.delete(f"{URL}/{group_id}", **V).status_code == 403


@pytest.mark.django_db
def test_list_costs_the_same_queries_whatever_the_number_of_groups(
    member, django_assert_num_queries
):
    # given: 20 groups with a member each
    for index in range(20):
        group = ServerGroup.objects.create(
            name=f"g{index}", project=member.project, user_id="u", policy="affinity"
        )
        ServerGroupMember.objects.create(group=group, server=make_server(member.project))
    # when: token with roles, groups, members
    with django_assert_num_queries(3):
        response = member.client.get(URL, **V)
    # then
    assert len(response.json()["server_groups"]) == 20
    assert all(len(g["members"]) == 1 for g in response.json()["server_groups"])


# --- the scheduler honours the policies (real workers) ----------------------------------------
def boot(client: Any, image_id: str, group_id: str, name: str) -> str:
    body = {
        "server": {"name": name, "imageRef": image_id, "flavorRef": "0", "networks": "none"},
        "os:scheduler_hints": {"group": group_id},
    }
    response = client.post("/compute/v2.1/servers", body, format="json", **V)
    assert response.status_code == 202, response.content
    return response.json()["server"]["id"]


def host_of(admin: Any, server_id: str) -> str:
    shown = admin.client.get(f"/compute/v2.1/servers/{server_id}", **V).json()["server"]
    return shown["OS-EXT-SRV-ATTR:host"]


@pytest.mark.django_db(transaction=True)
def test_anti_affinity_spreads_over_hosts_and_refuses_a_third_member_with_two_hosts(
    cloud, member, admin
):
    # given: the cloud's two compute hosts and an anti-affinity group
    assert len(cloud.processes.hosts) == 2
    group_id = created(member.client, name="spread")["id"]
    # when
    first = boot(member.client, cloud.image_id, group_id, "spread-1")
    cloud.wait_for_server(member.client, first, {"ACTIVE", "ERROR"})
    second = boot(member.client, cloud.image_id, group_id, "spread-2")
    second_body = cloud.wait_for_server(member.client, second, {"ACTIVE", "ERROR"})
    third = boot(member.client, cloud.image_id, group_id, "spread-3")
    third_body = cloud.wait_for_server(member.client, third, {"ACTIVE", "ERROR"})
    # then
    assert second_body["status"] == "ACTIVE", second_body.get("fault")
    assert {host_of(admin, first), host_of(admin, second)} == set(cloud.processes.hosts)
    assert third_body["status"] == "ERROR"
    message = third_body["fault"]["message"]
    assert message.startswith("No valid host was found.")
    assert "ServerGroupAntiAffinityFilter" in message
    assert third_body["server_groups"] == [group_id]
    members = member.client.get(f"{URL}/{group_id}", **V).json()["server_group"]["members"]
    assert set(members) == {first, second, third}


@pytest.mark.django_db(transaction=True)
def test_affinity_keeps_a_groups_servers_on_one_host(cloud, member, admin):
    # given
    group_id = created(member.client, name="together", policy="affinity")["id"]
    # when
    first = boot(member.client, cloud.image_id, group_id, "together-1")
    cloud.wait_for_server(member.client, first, {"ACTIVE"})
    second = boot(member.client, cloud.image_id, group_id, "together-2")
    cloud.wait_for_server(member.client, second, {"ACTIVE"})
    third = boot(member.client, cloud.image_id, group_id, "together-3")
    cloud.wait_for_server(member.client, third, {"ACTIVE"})
    # then
    assert len({host_of(admin, s) for s in (first, second, third)}) == 1


@pytest.mark.django_db(transaction=True)
def test_a_deleted_member_leaves_the_group_and_frees_its_host(cloud, member, admin):
    # given: an anti-affinity group filling both hosts
    group_id = created(member.client, name="refill")["id"]
    first = boot(member.client, cloud.image_id, group_id, "refill-1")
    cloud.wait_for_server(member.client, first, {"ACTIVE"})
    second = boot(member.client, cloud.image_id, group_id, "refill-2")
    cloud.wait_for_server(member.client, second, {"ACTIVE"})
    freed = host_of(admin, first)
    # when
    assert member.client.delete(f"/compute/v2.1/servers/{first}", **V).status_code == 204
    cloud.wait_for_server(member.client, first, {"DELETED"})
    third = boot(member.client, cloud.image_id, group_id, "refill-3")
    third_body = cloud.wait_for_server(member.client, third, {"ACTIVE", "ERROR"})
    # then
    assert third_body["status"] == "ACTIVE", third_body.get("fault")
    assert host_of(admin, third) == freed
    members = member.client.get(f"{URL}/{group_id}", **V).json()["server_group"]["members"]
    assert set(members) == {second, third}
