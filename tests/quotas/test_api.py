"""os-quota-sets and limits over HTTP, with Nova's microversion changes and policy."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from apps.identity.models import Project
from apps.quotas import services
from apps.servers.models import Server, ServerGroup
from tests.conftest import Caller
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

BASE = "/compute/v2.1"
NETWORK_KEYS = {"fixed_ips", "floating_ips", "security_groups", "security_group_rules"}
INJECTED_KEYS = {"injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}
CORE_KEYS = {
    "instances",
    "cores",
    "ram",
    "key_pairs",
    "metadata_items",
    "server_groups",
    "server_group_members",
}


def version(v: str) -> dict[str, str]:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute {v}"}


def quota_url(project: Project, suffix: str = "") -> str:
    return f"{BASE}/os-quota-sets/{project.pk}{suffix}"


@pytest.mark.parametrize(
    ("microversion", "keys"),
    [
        ("2.1", CORE_KEYS | NETWORK_KEYS | INJECTED_KEYS),
        ("2.35", CORE_KEYS | NETWORK_KEYS | INJECTED_KEYS),
        ("2.36", CORE_KEYS | INJECTED_KEYS),
        ("2.56", CORE_KEYS | INJECTED_KEYS),
        ("2.57", CORE_KEYS),
        ("2.96", CORE_KEYS),
    ],
)
def test_show_keys_follow_the_microversion(
    reader: Caller, microversion: str, keys: set[str]
) -> None:
    # when
    response = reader.client.get(quota_url(reader.project), **version(microversion))

    # then
    assert response.status_code == 200
    assert response["OpenStack-API-Version"] == f"compute {microversion}"
    quota_set = response.json()["quota_set"]
    assert quota_set.pop("id") == reader.project.pk
    assert set(quota_set) == keys


def test_show_reports_defaults_and_overrides(member: Caller) -> None:
    # given
    services.update_quotas(project=member.project, limits={"instances": 3})

    # when
    quota_set = member.client.get(quota_url(member.project)).json()["quota_set"]

    # then
    assert quota_set["instances"] == 3
    assert quota_set["cores"] == 20
    assert quota_set["ram"] == 51200
    assert quota_set["floating_ips"] == -1


def test_detail_reports_usage_limit_and_zero_reserved(
    member: Caller, make_server: Callable[..., Server], make_group: Callable[..., ServerGroup]
) -> None:
    # given
    make_server(member.project, vcpus=2, memory_mb=2048)
    make_group(member.project)

    # when
    response = member.client.get(quota_url(member.project, "/detail"), **version("2.56"))

    # then
    assert response.status_code == 200
    quota_set = response.json()["quota_set"]
    assert quota_set["instances"] == {"in_use": 1, "limit": 10, "reserved": 0}
    assert quota_set["cores"] == {"in_use": 2, "limit": 20, "reserved": 0}
    assert quota_set["ram"] == {"in_use": 2048, "limit": 51200, "reserved": 0}
    assert quota_set["server_groups"] == {"in_use": 1, "limit": 10, "reserved": 0}
    assert quota_set["key_pairs"]["in_use"] == 0  # per user, shown as 0 for a project


def test_defaults_ignore_overrides(member: Caller, quota_defaults: Callable[..., None]) -> None:
    # given
    quota_defaults(instances=4)
    services.update_quotas(project=member.project, limits={"instances": 1})

    # when
    quota_set = member.client.get(quota_url(member.project, "/defaults")).json()["quota_set"]

    # then
    assert quota_set["instances"] == 4
    assert quota_set["id"] == member.project.pk


def test_admin_updates_and_the_answer_has_no_id(admin: Caller) -> None:
    # given
    project = ProjectFactory()

    # when
    response = admin.client.put(
        quota_url(project),
        {"quota_set": {"instances": 50, "cores": "40", "ram": -1}},
        format="json",
        **version("2.57"),
    )

    # then
    assert response.status_code == 200
    quota_set = response.json()["quota_set"]
    assert "id" not in quota_set
    assert (quota_set["instances"], quota_set["cores"], quota_set["ram"]) == (50, 40, -1)
    assert services.get_limits(project.pk)["instances"] == 50


@pytest.mark.parametrize(
    ("microversion", "body"),
    [
        ("2.1", {"quota_set": {"instances": -2}}),
        ("2.1", {"quota_set": {"instances": 2**31}}),
        ("2.1", {"quota_set": {"instances": "ten"}}),
        ("2.1", {"quota_set": {"instances": True}}),
        ("2.1", {"quota_set": {"no_such_resource": 1}}),
        ("2.36", {"quota_set": {"floating_ips": 1}}),
        ("2.57", {"quota_set": {"injected_files": 1}}),
        ("2.1", {"quota": {"instances": 1}}),
    ],
)
def test_invalid_updates_are_400(admin: Caller, microversion: str, body: dict[str, object]) -> None:
    # when
    response = admin.client.put(
        quota_url(admin.project), body, format="json", **version(microversion)
    )

    # then
    assert response.status_code == 400
    assert response.json()["badRequest"]["code"] == 400


def test_update_below_usage_needs_force(admin: Caller, make_server: Callable[..., Server]) -> None:
    # given
    for _ in range(2):
        make_server(admin.project)

    # when
    refused = admin.client.put(
        quota_url(admin.project), {"quota_set": {"instances": 1}}, format="json"
    )
    forced = admin.client.put(
        quota_url(admin.project), {"quota_set": {"instances": 1, "force": True}}, format="json"
    )

    # then
    assert refused.status_code == 400
    assert (
        "must be greater than or equal to already used" in refused.json()["badRequest"]["message"]
    )
    assert forced.status_code == 200
    assert forced.json()["quota_set"]["instances"] == 1


def test_delete_reverts_to_defaults(admin: Caller) -> None:
    # given
    services.update_quotas(project=admin.project, limits={"instances": 1})

    # when
    response = admin.client.delete(quota_url(admin.project))

    # then
    assert response.status_code == 202
    assert services.get_limits(admin.project.pk)["instances"] == 10


def test_reader_can_read_quotas_but_not_change_them(reader: Caller) -> None:
    # when
    read = reader.client.get(quota_url(reader.project))
    detail = reader.client.get(quota_url(reader.project, "/detail"))
    update = reader.client.put(
        quota_url(reader.project), {"quota_set": {"instances": 99}}, format="json"
    )
    revert = reader.client.delete(quota_url(reader.project))

    # then
    assert (read.status_code, detail.status_code) == (200, 200)
    assert update.status_code == 403
    assert revert.status_code == 403
    assert update.json() == {
        "forbidden": {
            "code": 403,
            "message": "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed.",
        }
    }
    assert services.get_limits(reader.project.pk)["instances"] == 10


def test_member_cannot_change_quotas_either(member: Caller) -> None:
    # when
    response = member.client.put(
        quota_url(member.project), {"quota_set": {"instances": 99}}, format="json"
    )

    # then
    assert response.status_code == 403


def test_another_projects_quotas_are_refused_to_non_admins(member: Caller, admin: Caller) -> None:
    # given
    other = ProjectFactory()
    services.update_quotas(project=other, limits={"instances": 2})

    # when
    show = member.client.get(quota_url(other))
    detail = member.client.get(quota_url(other, "/detail"))
    as_admin = admin.client.get(quota_url(other))

    # then: Nova's rule names the target project, so this is its 403, and nothing leaks
    assert show.status_code == 403
    assert detail.status_code == 403
    assert "quota_set" not in show.json()
    assert as_admin.json()["quota_set"]["instances"] == 2


def test_unknown_project_is_400_as_novas_keystone_check(admin: Caller) -> None:
    # when
    response = admin.client.get(f"{BASE}/os-quota-sets/no-such-project")

    # then
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == (
        "Project ID no-such-project is not a valid project."
    )


def test_per_user_quota_writes_are_refused(admin: Caller) -> None:
    # when
    response = admin.client.put(
        f"{quota_url(admin.project)}?user_id={admin.user.pk}",
        {"quota_set": {"instances": 3}},
        format="json",
    )

    # then
    assert response.status_code == 400


def test_unknown_query_parameters_are_refused_from_2_75(reader: Caller) -> None:
    # when
    before = reader.client.get(f"{quota_url(reader.project)}?foo=1", **version("2.74"))
    after = reader.client.get(f"{quota_url(reader.project)}?foo=1", **version("2.75"))

    # then
    assert before.status_code == 200
    assert after.status_code == 400


def test_quotas_need_a_token(anonymous: APIClient) -> None:
    # when
    response = anonymous.get(f"{BASE}/os-quota-sets/whatever")

    # then
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Keystone uri=")


# --- limits ----------------------------------------------------------------------------------

LIMITS_V21 = {
    "maxImageMeta",
    "maxPersonality",
    "maxPersonalitySize",
    "maxSecurityGroups",
    "maxSecurityGroupRules",
    "maxServerMeta",
    "maxServerGroups",
    "maxServerGroupMembers",
    "maxTotalCores",
    "maxTotalFloatingIps",
    "maxTotalInstances",
    "maxTotalKeypairs",
    "maxTotalRAMSize",
    "totalCoresUsed",
    "totalFloatingIpsUsed",
    "totalInstancesUsed",
    "totalRAMUsed",
    "totalSecurityGroupsUsed",
    "totalServerGroupsUsed",
}
GONE_AT_236 = {
    "maxSecurityGroups",
    "maxSecurityGroupRules",
    "maxTotalFloatingIps",
    "totalFloatingIpsUsed",
    "totalSecurityGroupsUsed",
}


@pytest.mark.parametrize(
    ("headers", "keys"),
    [
        ({}, LIMITS_V21),
        (version("2.36"), LIMITS_V21 - GONE_AT_236),
        (version("2.39"), LIMITS_V21 - GONE_AT_236 - {"maxImageMeta"}),
        (
            version("2.57"),
            LIMITS_V21 - GONE_AT_236 - {"maxImageMeta", "maxPersonality", "maxPersonalitySize"},
        ),
    ],
    ids=["no-header", "2.36", "2.39", "2.57"],
)
def test_limits_keys_follow_the_microversion(
    member: Caller, headers: dict[str, str], keys: set[str]
) -> None:
    # when
    response = member.client.get(f"{BASE}/limits", **headers)

    # then
    assert response.status_code == 200
    limits = response.json()["limits"]
    assert limits["rate"] == []
    assert set(limits["absolute"]) == keys
    if not headers:
        assert response["X-OpenStack-Nova-API-Version"] == "2.1"


def test_limits_report_the_projects_limits_and_usage(
    member: Caller, make_server: Callable[..., Server], make_group: Callable[..., ServerGroup]
) -> None:
    # given
    services.update_quotas(project=member.project, limits={"instances": 5, "key_pairs": 7})
    make_server(member.project, vcpus=3, memory_mb=1536)
    make_group(member.project)

    # when
    absolute = member.client.get(f"{BASE}/limits").json()["limits"]["absolute"]

    # then
    assert absolute["maxTotalInstances"] == 5
    assert absolute["maxTotalCores"] == 20
    assert absolute["maxTotalRAMSize"] == 51200
    assert absolute["maxTotalKeypairs"] == 7
    assert absolute["maxServerMeta"] == absolute["maxImageMeta"] == 128
    assert absolute["maxServerGroups"] == 10
    assert absolute["maxServerGroupMembers"] == 10
    assert absolute["totalInstancesUsed"] == 1
    assert absolute["totalCoresUsed"] == 3
    assert absolute["totalRAMUsed"] == 1536
    assert absolute["totalServerGroupsUsed"] == 1
    assert absolute["maxTotalFloatingIps"] == -1
    assert absolute["totalFloatingIpsUsed"] == 0


def test_limits_of_another_tenant_are_admin_only(
    member: Caller, admin: Caller, make_server: Callable[..., Server]
) -> None:
    # given
    make_server(member.project)

    # when
    as_member = member.client.get(f"{BASE}/limits?tenant_id={admin.project.pk}")
    as_admin = admin.client.get(f"{BASE}/limits?tenant_id={member.project.pk}")

    # then
    assert as_member.status_code == 403
    assert as_admin.status_code == 200
    assert as_admin.json()["limits"]["absolute"]["totalInstancesUsed"] == 1
