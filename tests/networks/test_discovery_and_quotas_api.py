"""The network API's discovery (versions, collections, extensions), its quotas, and what
answers paths it does not serve."""

import pytest

from apps.quotas import services as quotas
from tests.networks.conftest import API, create, neutron_error, ok

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/network", "/network/"])
def test_the_versions_document_needs_no_token(anonymous, path, settings):
    settings.PUBLIC_URL = "http://cloud.example"
    body = ok(anonymous.get(path))
    assert body == {
        "versions": [
            {
                "id": "v2.0",
                "status": "CURRENT",
                "links": [{"rel": "self", "href": "http://cloud.example/network/v2.0/"}],
            }
        ]
    }


def test_the_v2_root_lists_the_collections(member):
    body = ok(member.client.get(f"{API}/"))
    collections = {r["collection"] for r in body["resources"]}
    assert {"networks", "subnets", "ports", "security_groups", "routers", "floatingips"} <= (
        collections
    )


def test_extensions_list_what_is_served_and_404_what_is_not(member):
    listed = ok(member.client.get(f"{API}/extensions"))["extensions"]
    aliases = {e["alias"] for e in listed}
    assert {"security-group", "router", "external-net", "quotas", "standard-attr-tag",
            "pagination", "sorting", "binding", "port-security", "net-mtu"} <= aliases  # fmt: skip
    assert "tag-ports-during-bulk-creation" not in aliases
    assert all(set(e) == {"alias", "name", "description", "updated", "links"} for e in listed)
    shown = ok(member.client.get(f"{API}/extensions/router"))["extension"]
    assert shown["alias"] == "router"
    neutron_error(
        member.client.get(f"{API}/extensions/tag-ports-during-bulk-creation"),
        404,
        "ExtensionNotFound",
    )


def test_unknown_paths_and_methods_answer_in_neutrons_shape(member):
    neutron_error(member.client.get(f"{API}/trunks"), 404)
    neutron_error(member.client.get("/network/v3/networks"), 404)
    neutron_error(member.client.patch(f"{API}/networks", {}, format="json"), 405)
    neutron_error(member.client.post(f"{API}/extensions", {}, format="json"), 405)


def test_a_request_without_a_token_is_a_401_in_keystones_shape(anonymous):
    response = anonymous.get(f"{API}/networks")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401
    assert "WWW-Authenticate" in response


def test_a_project_reads_its_quotas_with_usage_and_defaults(member):
    project = member.project.pk
    network = create(member.client, "networks", "network", name="n")
    create(member.client, "subnets", "subnet", network_id=network["id"], cidr="10.0.0.0/24")
    create(member.client, "ports", "port", network_id=network["id"])
    quota = ok(member.client.get(f"{API}/quotas/{project}"))["quota"]
    assert quota == {
        "network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
        "security_group": 10, "security_group_rule": 100, "rbac_policy": 10, "subnetpool": -1,
    }  # fmt: skip
    details = ok(member.client.get(f"{API}/quotas/{project}/details"))["quota"]
    assert details["network"] == {"limit": 100, "used": 1, "reserved": 0}
    assert details["port"]["used"] == 1
    assert details["security_group"]["used"] == 1  # the default group, made for the port
    assert details["security_group_rule"]["used"] == 4
    assert ok(member.client.get(f"{API}/quotas/{project}/default"))["quota"] == quota


def test_admins_set_and_reset_quotas_and_creates_beyond_them_are_409s(admin, member):
    project = member.project.pk
    url = f"{API}/quotas/{project}"
    neutron_error(member.client.put(url, {"quota": {"network": 1}}, format="json"), 403)
    updated = ok(admin.client.put(url, {"quota": {"network": 1, "port": "2"}}, format="json"))
    assert (updated["quota"]["network"], updated["quota"]["port"]) == (1, 2)
    create(member.client, "networks", "network", name="one")
    response = member.client.post(f"{API}/networks", {"network": {"name": "two"}}, format="json")
    error = neutron_error(response, 409, "OverQuota")
    assert error["message"] == "Quota exceeded for resources: ['network']."
    listed = ok(admin.client.get(f"{API}/quotas"))["quotas"]
    assert [q["project_id"] for q in listed] == [project]
    neutron_error(admin.client.put(url, {"quota": {"network": -2}}, format="json"), 400)
    neutron_error(admin.client.put(url, {"quota": {"nonsense": 1}}, format="json"), 400)
    ok(admin.client.delete(url), 204)
    assert ok(member.client.get(url))["quota"]["network"] == 100
    # Nova's quota sets neither show nor reset the network quotas
    assert "network" not in quotas.get_limits(project)


def test_a_member_reads_only_their_own_projects_quotas(member, make_caller):
    other = make_caller("member")
    neutron_error(member.client.get(f"{API}/quotas/{other.project.pk}"), 403)
    neutron_error(member.client.get(f"{API}/quotas"), 403)
