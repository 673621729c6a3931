"""Compute version discovery and microversion negotiation."""

import pytest

from computecloud.api.microversions import MAX_VERSION


@pytest.mark.django_db
def test_compute_root_lists_v2_0_first_without_a_token(anonymous):
    # when
    response = anonymous.get("/compute/")
    # then
    assert response.status_code == 200
    versions = response.json()["versions"]
    assert [v["id"] for v in versions] == ["v2.0", "v2.1"]
    assert versions[1]["version"] == str(MAX_VERSION)
    assert versions[1]["min_version"] == "2.1"


@pytest.mark.django_db
def test_v2_1_document_answers_with_and_without_slash(anonymous):
    for path in ("/compute/v2.1", "/compute/v2.1/"):
        body = anonymous.get(path).json()
        assert body["version"]["id"] == "v2.1"
        assert body["version"]["links"][0]["href"].endswith("/compute/v2.1/")


@pytest.mark.django_db
def test_microversion_is_echoed_in_both_headers(anonymous):
    response = anonymous.get("/compute/v2.1", HTTP_OPENSTACK_API_VERSION="compute 2.60")
    assert response["OpenStack-API-Version"] == "compute 2.60"
    assert response["X-OpenStack-Nova-API-Version"] == "2.60"
    assert "OpenStack-API-Version" in response["Vary"]


@pytest.mark.django_db
def test_legacy_header_alone_is_honoured_and_latest_means_maximum(anonymous):
    assert (
        anonymous.get("/compute/v2.1", HTTP_X_OPENSTACK_NOVA_API_VERSION="2.10")[
            "X-OpenStack-Nova-API-Version"
        ]
        == "2.10"
    )
    latest = anonymous.get("/compute/v2.1", HTTP_OPENSTACK_API_VERSION="compute latest")
    assert latest["X-OpenStack-Nova-API-Version"] == str(MAX_VERSION)


@pytest.mark.django_db
def test_unsupported_microversion_is_406_in_nova_shape(anonymous):
    response = anonymous.get("/compute/v2.1", HTTP_OPENSTACK_API_VERSION="compute 9.99")
    assert response.status_code == 406
    assert response.json()["notAcceptable"]["code"] == 406
    assert "9.99" in response.json()["notAcceptable"]["message"]
