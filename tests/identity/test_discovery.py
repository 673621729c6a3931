"""Version discovery: every spelling of the auth URL answers without a token."""

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient


@pytest.mark.parametrize("path", ["/identity", "/identity/"])
def test_root_lists_v3_with_a_self_link_to_the_versioned_url(
    anonymous: APIClient, settings: SettingsWrapper, path: str
) -> None:
    # given
    settings.PUBLIC_URL = "http://cloud.example:8000"

    # when
    response = anonymous.get(path, HTTP_ACCEPT="application/json")

    # then
    assert response.status_code == 300
    (version,) = response.json()["versions"]["values"]
    assert version["id"] == "v3.14"
    assert version["status"] == "stable"
    assert version["links"] == [{"rel": "self", "href": "http://cloud.example:8000/identity/v3/"}]
    assert version["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"


@pytest.mark.parametrize("path", ["/identity/v3", "/identity/v3/"])
def test_v3_document_answers_without_a_token(anonymous: APIClient, path: str) -> None:
    # when
    response = anonymous.get(path)

    # then
    assert response.status_code == 200
    version = response.json()["version"]
    assert version["id"] == "v3.14"
    assert version["links"][0]["href"].endswith("/identity/v3/")


def test_discovery_ignores_a_stale_token(anonymous: APIClient) -> None:
    # given
    anonymous.credentials(HTTP_X_AUTH_TOKEN="stale-token")

    # when
    response = anonymous.get("/identity/v3")

    # then
    assert response.status_code == 200
