"""Every model of the project has a place in the operators' admin (its own page or an inline
of its parent's), and every page loads for an operator, even empty."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from apps.identity.services import assign_roles
from tests.factories import ProjectFactory, UserFactory


def project_models() -> list:
    return [m for m in apps.get_models() if m.__module__.startswith("apps.")]


def shown_models() -> set:
    shown = set(admin.site._registry)
    for model_admin in admin.site._registry.values():
        shown.update(inline.model for inline in model_admin.inlines)
    return shown


def test_every_model_is_shown() -> None:
    missing = [m._meta.label for m in project_models() if m not in shown_models()]
    assert missing == []


@pytest.mark.django_db
def test_every_page_loads_for_an_operator() -> None:
    client = Client(raise_request_exception=False)
    project = ProjectFactory()
    user = UserFactory(is_superuser=True, is_staff=True, default_project_id=project.pk)
    assign_roles(user=user, project=project, roles=["admin"])
    client.force_login(user)
    assert client.get("/admin/").status_code == 200
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url
        assert client.get(url, {"q": "x"}).status_code == 200, url
        assert client.get(f"{url}add/").status_code in (200, 403), url
