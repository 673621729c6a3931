"""Quota limits, usage and checks, as the create paths of other apps call them (counting
their own usage: the servers app's counts, under the project lock where it matters)."""

from collections.abc import Callable

import pytest
from django.db import transaction

from apps.identity.models import Project
from apps.quotas import services
from apps.quotas.api.usage import project_usage
from apps.quotas.models import ProjectQuota
from apps.servers.groups import count_server_group_members, count_server_groups
from apps.servers.models import Server, ServerGroup, ServerGroupMember
from apps.servers.services import count_servers
from computecloud.exceptions import InvalidInput, QuotaExceeded
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

MakeServer = Callable[..., Server]


@pytest.fixture
def project() -> Project:
    return ProjectFactory()


def test_limits_are_the_defaults_with_the_projects_overrides(
    project: Project, quota_defaults: Callable[..., None]
) -> None:
    # given
    quota_defaults(instances=7)
    services.update_quotas(project=project, limits={"cores": 3, "ram": -1})

    # when
    limits = services.get_limits(project.pk)

    # then
    assert limits["instances"] == 7
    assert limits["cores"] == 3
    assert limits["ram"] == -1
    assert limits["key_pairs"] == 100
    assert limits["floating_ips"] == -1  # nova-network's, never enforced
    assert services.get_limits(ProjectFactory().pk)["cores"] == 20


def test_usage_counts_live_servers_groups_and_the_users_key_pairs(
    project: Project, make_server: MakeServer, make_group: Callable[..., ServerGroup]
) -> None:
    # given
    make_server(project, vcpus=2, memory_mb=1024)
    make_server(project, vcpus=4, memory_mb=2048)
    make_server(project, vcpus=8, memory_mb=4096, deleted=True)
    make_server(ProjectFactory(), vcpus=16, memory_mb=8192)
    make_group(project)

    # when
    usage = project_usage(project.pk)

    # then
    assert usage["instances"] == 2
    assert usage["cores"] == 6
    assert usage["ram"] == 3072
    assert usage["server_groups"] == 1
    assert usage["key_pairs"] == 0


def test_server_quota_message_is_novas(project: Project, make_server: MakeServer) -> None:
    # given
    services.update_quotas(project=project, limits={"instances": 10})
    for _ in range(10):
        make_server(project)

    # when
    with transaction.atomic():
        locked = services.lock_project(project.pk)
        used = count_servers(project.pk)
        with pytest.raises(QuotaExceeded) as refused:
            services.check_server_quota(project=locked, used=used, instances=1, cores=1, ram=512)

    # then
    assert refused.value.code == 403
    assert refused.value.message == (
        "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances"
    )


def test_several_resources_over_are_named_together(
    project: Project, make_server: MakeServer
) -> None:
    # given
    make_server(project, vcpus=18, memory_mb=50000)

    # when
    with pytest.raises(QuotaExceeded) as refused:
        services.check_server_quota(
            project=project, used=count_servers(project.pk), instances=1, cores=4, ram=4096
        )

    # then
    assert refused.value.message == (
        "Quota exceeded for cores, ram: Requested 4, 4096, but already used 18, 50000 "
        "of 20, 51200 cores, ram"
    )


def test_unlimited_resources_never_refuse(project: Project, make_server: MakeServer) -> None:
    # given
    services.update_quotas(project=project, limits={"instances": -1, "cores": -1, "ram": -1})
    make_server(project, vcpus=1000, memory_mb=10**6)

    # then
    services.check_server_quota(
        project=project, used=count_servers(project.pk), instances=500, cores=5000, ram=10**7
    )


def test_a_resize_checks_only_the_growth(project: Project, make_server: MakeServer) -> None:
    # given: 19 of 20 cores used
    make_server(project, vcpus=19)

    # then
    used = count_servers(project.pk)
    services.check_server_quota(project=project, used=used, instances=0, cores=1, ram=0)
    with pytest.raises(QuotaExceeded, match="Quota exceeded for cores: Requested 2"):
        services.check_server_quota(project=project, used=used, instances=0, cores=2, ram=0)


@pytest.mark.parametrize(
    ("min_count", "max_count", "expected"), [(1, 3, 3), (1, 8, 5), (5, 8, 5), (2, 2, 2)]
)
def test_multi_create_gets_as_many_as_fit_between_min_and_max(
    project: Project, make_server: MakeServer, min_count: int, max_count: int, expected: int
) -> None:
    # given: 5 instances left
    for _ in range(5):
        make_server(project)

    # when
    count = services.allowed_server_count(
        project=project,
        used=count_servers(project.pk),
        min_count=min_count,
        max_count=max_count,
        cores=1,
        ram=512,
    )

    # then
    assert count == expected


def test_multi_create_below_min_is_refused_with_the_range(
    project: Project, make_server: MakeServer
) -> None:
    # given: 2 cores left of 20
    make_server(project, vcpus=18)

    # when
    with pytest.raises(QuotaExceeded) as refused:
        services.allowed_server_count(
            project=project,
            used=count_servers(project.pk),
            min_count=2,
            max_count=4,
            cores=2,
            ram=1,
        )

    # then
    assert refused.value.message == (
        "Quota exceeded for cores: Requested 8, but already used 18 of 20 cores"
    )


def test_multi_create_names_the_instance_range(project: Project, make_server: MakeServer) -> None:
    # given: 1 instance left
    services.update_quotas(project=project, limits={"instances": 2})
    make_server(project)

    # when
    with pytest.raises(QuotaExceeded) as refused:
        services.allowed_server_count(
            project=project,
            used=count_servers(project.pk),
            min_count=2,
            max_count=3,
            cores=1,
            ram=1,
        )

    # then
    assert refused.value.message == (
        "Quota exceeded for instances: Requested 2-3, but already used 1 of 2 instances"
    )


def test_metadata_items_limit(project: Project) -> None:
    # given
    services.update_quotas(project=project, limits={"metadata_items": 3})

    # then
    services.check_metadata_items(project=project, count=3)
    with pytest.raises(QuotaExceeded, match="Maximum number of metadata items exceeds 3"):
        services.check_metadata_items(project=project, count=4)


def test_server_group_quotas(
    project: Project, make_server: MakeServer, make_group: Callable[..., ServerGroup]
) -> None:
    # given
    services.update_quotas(project=project, limits={"server_groups": 1, "server_group_members": 2})
    group = make_group(project)
    for _ in range(2):
        ServerGroupMember.objects.create(group=group, server=make_server(project, user_id="u1"))

    # then
    with pytest.raises(QuotaExceeded, match="too many server groups"):
        services.check_server_group_quota(project=project, used=count_server_groups(project.pk))
    with pytest.raises(QuotaExceeded, match="too many servers in group"):
        services.check_server_group_members(
            project_id=project.pk, used=count_server_group_members(group), adding=1
        )
    services.check_server_group_members(  # per user
        project_id=project.pk, used=count_server_group_members(group, user_id="u2"), adding=1
    )


@pytest.mark.django_db(transaction=True)
def test_lock_project_needs_a_transaction(project: Project) -> None:
    # (a transactional test: the others run inside one transaction)
    with pytest.raises(RuntimeError, match=r"transaction\.atomic"):
        services.lock_project(project.pk)


def test_a_limit_below_usage_is_refused_unless_forced(
    project: Project, make_server: MakeServer
) -> None:
    # given
    for _ in range(3):
        make_server(project)

    # when
    with pytest.raises(InvalidInput) as refused:
        services.update_quotas(project=project, limits={"instances": 2}, count_usage=project_usage)
    forced = services.update_quotas(
        project=project, limits={"instances": 2}, force=True, count_usage=project_usage
    )

    # then
    assert refused.value.code == 400
    assert refused.value.message == (
        "Quota limit 2 for instances must be greater than or equal to already used and reserved 3."
    )
    assert forced["instances"] == 2


def test_revert_returns_to_the_defaults(project: Project) -> None:
    # given
    services.update_quotas(project=project, limits={"instances": 1})

    # when
    services.revert_quotas(project=project)

    # then
    assert not ProjectQuota.objects.filter(project=project).exists()
    assert services.get_limits(project.pk)["instances"] == 10
