"""The quota override admin: pages load, and saving goes through the service's checks."""

from collections.abc import Callable

import pytest
from django.test import Client

from apps.quotas import services
from apps.quotas.models import ProjectQuota
from apps.servers.models import Server
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Client) -> Client:
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    return client


def test_pages_load(operator: Client) -> None:
    # given
    services.update_quotas(project=ProjectFactory(), limits={"instances": 3})
    quota = ProjectQuota.objects.get()

    # then
    assert operator.get("/admin/quotas/projectquota/").status_code == 200
    assert operator.get("/admin/quotas/projectquota/add/").status_code == 200
    assert operator.get(f"/admin/quotas/projectquota/{quota.pk}/change/").status_code == 200


def test_adding_a_limit_below_usage_is_refused(
    operator: Client, make_server: Callable[..., Server]
) -> None:
    # given
    project = ProjectFactory()
    make_server(project)
    make_server(project)

    # when
    operator.post(
        "/admin/quotas/projectquota/add/",
        {"project": project.pk, "resource": "instances", "hard_limit": 1},
    )
    operator.post(
        "/admin/quotas/projectquota/add/",
        {"project": project.pk, "resource": "cores", "hard_limit": 8},
    )

    # then
    assert services.get_limits(project.pk)["instances"] == 10
    assert services.get_limits(project.pk)["cores"] == 8
