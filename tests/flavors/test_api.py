"""Flavors API: visibility, microversion shapes, admin-only management, extra specs, access."""

import pytest

from apps.flavors.services import ensure_standard_flavors

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.61"}


@pytest.fixture
def standard_flavors(db):
    ensure_standard_flavors()


def test_list_shows_public_flavors_sorted_by_id(member, standard_flavors):
    # when
    response = member.client.get("/compute/v2.1/flavors")
    # then
    assert response.status_code == 200
    names = [f["name"] for f in response.json()["flavors"]]
    assert names == ["m1.nano", "m1.tiny", "m1.small", "m1.medium", "m1.large"]


def test_detail_before_2_75_shows_empty_swap_and_after_shows_zero(member, standard_flavors):
    old = member.client.get("/compute/v2.1/flavors/detail").json()["flavors"][0]
    new = member.client.get(
        "/compute/v2.1/flavors/detail", HTTP_OPENSTACK_API_VERSION="compute 2.75"
    ).json()["flavors"][0]
    assert old["swap"] == ""
    assert new["swap"] == 0
    assert old["ram"] == 128
    assert old["vcpus"] == 1
    assert old["disk"] == 1


def test_min_ram_filter_and_limit_marker_paging(member, standard_flavors):
    page1 = member.client.get("/compute/v2.1/flavors/detail?minRam=512&limit=2").json()
    assert [f["name"] for f in page1["flavors"]] == ["m1.tiny", "m1.small"]
    next_href = page1["flavors_links"][0]["href"]
    assert "marker=2" in next_href
    page2 = member.client.get("/compute/v2.1/flavors/detail?minRam=512&limit=2&marker=2").json()
    assert [f["name"] for f in page2["flavors"]] == ["m1.medium", "m1.large"]


def test_member_cannot_create_flavor(member):
    body = {"flavor": {"name": "x", "ram": 64, "vcpus": 1, "disk": 1}}
    response = member.client.post("/compute/v2.1/flavors", body, format="json")
    assert response.status_code == 403
    assert "os-flavor-manage:create" in response.json()["forbidden"]["message"]


def test_admin_creates_and_deletes_flavor(admin):
    body = {"flavor": {"name": "big", "ram": 1024, "vcpus": 2, "disk": 10, "id": "big-1"}}
    created = admin.client.post("/compute/v2.1/flavors", body, format="json", **V)
    assert created.status_code == 200
    assert created.json()["flavor"]["extra_specs"] == {}
    assert admin.client.get("/compute/v2.1/flavors/big-1").status_code == 200
    assert admin.client.delete("/compute/v2.1/flavors/big-1").status_code == 202
    assert admin.client.get("/compute/v2.1/flavors/big-1").status_code == 404


def test_duplicate_flavor_name_is_409(admin, standard_flavors):
    body = {"flavor": {"name": "m1.nano", "ram": 64, "vcpus": 1, "disk": 1}}
    response = admin.client.post("/compute/v2.1/flavors", body, format="json")
    assert response.status_code == 409
    assert "already exists" in response.json()["conflictingRequest"]["message"]


def test_unknown_key_and_bad_type_are_400_naming_the_field(admin):
    unknown = {"flavor": {"name": "a", "ram": 64, "vcpus": 1, "disk": 1, "colour": "red"}}
    bad = {"flavor": {"name": "a", "ram": "lots", "vcpus": 1, "disk": 1}}
    r1 = admin.client.post("/compute/v2.1/flavors", unknown, format="json")
    r2 = admin.client.post("/compute/v2.1/flavors", bad, format="json")
    assert r1.status_code == 400
    assert "colour" in r1.json()["badRequest"]["message"]
    assert r2.status_code == 400
    assert "ram" in r2.json()["badRequest"]["message"]


def test_extra_specs_round_trip_and_shown_in_flavor_from_2_61(admin, standard_flavors):
    url = "/compute/v2.1/flavors/1/os-extra_specs"
    set_resp = admin.client.post(url, {"extra_specs": {"hw:cpu_policy": "shared"}}, format="json")
    assert set_resp.json() == {"extra_specs": {"hw:cpu_policy": "shared"}}
    assert admin.client.get(f"{url}/hw:cpu_policy").json() == {"hw:cpu_policy": "shared"}
    shown = admin.client.get("/compute/v2.1/flavors/1", **V).json()["flavor"]
    assert shown["extra_specs"] == {"hw:cpu_policy": "shared"}
    assert admin.client.delete(f"{url}/hw:cpu_policy").status_code == 200
    assert admin.client.get(f"{url}/hw:cpu_policy").status_code == 404


def test_private_flavor_visible_only_to_projects_given_access(admin, member):
    body = {
        "flavor": {
            "name": "secret",
            "ram": 64,
            "vcpus": 1,
            "disk": 1,
            "id": "p1",
            "os-flavor-access:is_public": False,
        }
    }
    assert admin.client.post("/compute/v2.1/flavors", body, format="json").status_code == 200
    before = [f["id"] for f in member.client.get("/compute/v2.1/flavors").json()["flavors"]]
    grant = {"addTenantAccess": {"tenant": member.project.id}}
    access = admin.client.post("/compute/v2.1/flavors/p1/action", grant, format="json")
    after = [f["id"] for f in member.client.get("/compute/v2.1/flavors").json()["flavors"]]
    assert "p1" not in before
    assert access.json()["flavor_access"] == [{"flavor_id": "p1", "tenant_id": member.project.id}]
    assert "p1" in after


def test_missing_token_is_401_with_keystone_challenge(anonymous):
    response = anonymous.get("/compute/v2.1/flavors")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Keystone uri="')
