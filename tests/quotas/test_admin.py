"""The quota admin: override rows are read-only, and a project's quotas are set on one page
through the service, with the API's usage check (a limit below usage is refused unless
forced, and a refused form changes nothing)."""

from collections.abc import Callable

import pytest
from django.test import Client

from apps.identity.services import assign_roles
from apps.quotas import services
from apps.quotas.models import ProjectQuota
from apps.servers.models import Server
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    client = Client(raise_request_exception=False)
    project = ProjectFactory()
    user = UserFactory(is_superuser=True, is_staff=True, default_project_id=project.pk)
    assign_roles(user=user, project=project, roles=["admin"])
    client.force_login(user)
    return client


def set_page(project_id: str) -> str:
    return f"/admin/quotas/projectquota/set/{project_id}/"


def form(**limits: int | str) -> dict[str, int | str]:
    """The page's form as the operator submits it: every limit as shown, some changed."""
    return {
        **services.default_limits(),
        **services.network_default_limits(),
        **services.volume_default_limits(),
        **limits,
    }


def test_pages_load_and_rows_are_not_edited_through_forms(operator: Client) -> None:
    # given
    project = ProjectFactory()
    services.update_quotas(project=project, limits={"instances": 3})
    quota = ProjectQuota.objects.get()

    # then
    listed = operator.get("/admin/quotas/projectquota/")
    assert listed.status_code == 200
    assert set_page(project.pk) in listed.content.decode()
    assert operator.get(f"/admin/quotas/projectquota/{quota.pk}/change/").status_code == 200
    assert operator.get("/admin/quotas/projectquota/add/").status_code == 403
    edit = operator.post(f"/admin/quotas/projectquota/{quota.pk}/change/", {"hard_limit": 1})
    assert edit.status_code == 403
    page = operator.get(set_page(project.pk))
    assert page.status_code == 200
    assert 'name="instances" value="3"' in page.content.decode()
    assert (
        set_page(project.pk)
        in operator.get(f"/admin/identity/project/{project.pk}/change/").content.decode()
    )


def test_setting_quotas_goes_through_the_service(operator: Client) -> None:
    project = ProjectFactory()
    response = operator.post(set_page(project.pk), form(instances=4, cores=16))
    assert response.status_code == 302
    limits = services.get_limits(project.pk)
    assert (limits["instances"], limits["cores"]) == (4, 16)
    # only what changed is an override
    assert set(ProjectQuota.objects.values_list("resource", flat=True)) == {"instances", "cores"}


def test_a_limit_below_usage_is_refused_with_the_services_message_unless_forced(
    operator: Client, make_server: Callable[..., Server]
) -> None:
    # given
    project = ProjectFactory()
    make_server(project)
    make_server(project)

    # when: with a network limit that alone would be accepted
    refused = operator.post(set_page(project.pk), form(instances=1, cores=8, port=7))

    # then: the page again, with why; nothing changed (not the cores, nor the ports)
    assert refused.status_code == 200
    assert "must be greater than or equal to already used" in refused.content.decode()
    assert not ProjectQuota.objects.filter(project=project).exists()

    # when: forced, as the API's force
    operator.post(set_page(project.pk), form(instances=1, force="on"))
    # then
    assert services.get_limits(project.pk)["instances"] == 1


@pytest.mark.parametrize("limit", [-2, 2**31, "many"])
def test_out_of_range_or_malformed_limits_are_refused(operator: Client, limit) -> None:
    project = ProjectFactory()
    response = operator.post(set_page(project.pk), form(instances=limit))
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert not ProjectQuota.objects.filter(project=project).exists()


def test_an_unknown_project_is_404(operator: Client) -> None:
    assert operator.get(set_page("no-such-project")).status_code == 404


def test_a_member_cannot_set_quotas() -> None:
    project = ProjectFactory()
    member = UserFactory(is_staff=True, default_project_id=project.pk)
    assign_roles(user=member, project=project, roles=["member"])
    client = Client()
    client.force_login(member)
    response = client.post(set_page(project.pk), form(instances=100))
    assert response.status_code == 302  # to the sign-in page
    assert not ProjectQuota.objects.filter(project=project).exists()


def test_network_and_volume_quotas_are_set_on_the_same_page(operator: Client) -> None:
    project = ProjectFactory()
    page = operator.get(set_page(project.pk)).content.decode()
    assert 'name="port"' in page
    assert 'name="gigabytes"' in page
    response = operator.post(set_page(project.pk), form(port=7, gigabytes=20))
    assert response.status_code == 302
    assert services.get_network_limits(project.pk)["port"] == 7
    assert services.get_volume_limits(project.pk)["gigabytes"] == 20
