"""Networks and subnets through the API: shapes, defaults, updates, deletes, listing."""

import pytest

from apps.networks.models import Network, Subnet
from tests.networks.conftest import API, create, neutron_error, ok

pytestmark = pytest.mark.django_db


def test_a_network_is_created_with_neutrons_defaults(member):
    # when
    response = member.client.post(
        f"{API}/networks", {"network": {"name": "net1", "admin_state_up": True}}, format="json"
    )
    # then
    network = ok(response, 201)["network"]
    assert network["name"] == "net1"
    assert network["project_id"] == network["tenant_id"] == member.project.pk
    assert network["admin_state_up"] is True
    assert network["status"] == "ACTIVE"
    assert network["shared"] is False
    assert network["router:external"] is False
    assert network["mtu"] == 1450
    assert network["port_security_enabled"] is True
    assert network["subnets"] == []
    assert network["tags"] == []
    assert network["description"] == ""
    assert network["revision_number"] == 0
    assert network["created_at"].endswith("Z")
    assert len(network["created_at"]) == 20
    assert "provider:network_type" not in network  # admins only
    row = Network.objects.get(pk=network["id"])
    assert row.network_type == "vxlan"
    assert row.segmentation_id is not None


def test_networks_get_distinct_vnis_from_the_range(member, settings):
    settings.COMPUTECLOUD = {"NETWORK_VNI_RANGE": [5000, 5002]}
    made = [create(member.client, "networks", "network", name=f"n{i}") for i in range(3)]
    vnis = sorted(Network.objects.filter(pk__in=[n["id"] for n in made]).values_list(
        "segmentation_id", flat=True))  # fmt: skip
    assert vnis == [5000, 5001, 5002]
    # the range is used up: Neutron's 503
    neutron_error(
        member.client.post(f"{API}/networks", {"network": {}}, format="json"),
        503,
        "NoNetworkAvailable",
    )
    # a freed VNI is given again
    ok(member.client.delete(f"{API}/networks/{made[1]['id']}"), 204)
    again = create(member.client, "networks", "network", name="again")
    assert Network.objects.get(pk=again["id"]).segmentation_id == 5001


def test_an_admin_sees_and_sets_provider_attributes(admin, settings):
    flat = create(
        admin.client,
        "networks",
        "network",
        name="public",
        **{"router:external": True, "provider:network_type": "flat",
           "provider:physical_network": "public"},
    )  # fmt: skip
    assert flat["provider:network_type"] == "flat"
    assert flat["provider:physical_network"] == "public"
    assert flat["provider:segmentation_id"] is None
    assert flat["mtu"] == 1500
    # one flat network per physical network
    neutron_error(
        admin.client.post(
            f"{API}/networks",
            {"network": {"provider:network_type": "flat", "provider:physical_network": "public"}},
            format="json",
        ),
        409,
        "FlatNetworkInUse",
    )
    # an unmapped physical network is refused
    neutron_error(
        admin.client.post(
            f"{API}/networks",
            {"network": {"provider:network_type": "flat", "provider:physical_network": "nope"}},
            format="json",
        ),
        400,
    )
    vxlan = create(admin.client, "networks", "network", **{"provider:segmentation_id": 70000})
    assert vxlan["provider:segmentation_id"] == 70000
    neutron_error(
        admin.client.post(
            f"{API}/networks", {"network": {"provider:segmentation_id": 70000}}, format="json"
        ),
        409,
        "SegmentationIdInUse",
    )


@pytest.mark.parametrize(
    "attrs",
    [
        {"shared": True},
        {"router:external": True},
        {"provider:network_type": "vxlan"},
        {"provider:segmentation_id": 7},
    ],
)
def test_a_member_may_not_set_admin_attributes(member, attrs):
    response = member.client.post(f"{API}/networks", {"network": attrs}, format="json")
    neutron_error(response, 403, "PolicyNotAuthorized")
    assert not Network.objects.exists()


def test_a_network_update_changes_what_it_names_and_bumps_the_revision(member):
    network = create(member.client, "networks", "network", name="a")
    response = member.client.put(
        f"{API}/networks/{network['id']}",
        {"network": {"name": "b", "description": "d", "mtu": 1400}},
        format="json",
    )
    updated = ok(response)["network"]
    assert (updated["name"], updated["description"], updated["mtu"]) == ("b", "d", 1400)
    assert updated["revision_number"] == 1
    neutron_error(
        member.client.put(
            f"{API}/networks/{network['id']}", {"network": {"mtu": 9000}}, format="json"
        ),
        400,
    )
    neutron_error(
        member.client.put(
            f"{API}/networks/{network['id']}", {"network": {"shared": True}}, format="json"
        ),
        403,
    )


def test_a_subnet_gets_a_gateway_and_pools_by_default(member):
    network = create(member.client, "networks", "network", name="n")
    subnet = create(
        member.client,
        "subnets",
        "subnet",
        network_id=network["id"],
        cidr="10.100.0.0/28",
        ip_version=4,
        name="s",
    )
    assert subnet["gateway_ip"] == "10.100.0.1"
    assert subnet["allocation_pools"] == [{"start": "10.100.0.2", "end": "10.100.0.14"}]
    assert subnet["dns_nameservers"] == []
    assert subnet["host_routes"] == []
    assert subnet["enable_dhcp"] is True
    assert subnet["ip_version"] == 4
    assert subnet["network_id"] == network["id"]
    shown = ok(member.client.get(f"{API}/networks/{network['id']}"))["network"]
    assert shown["subnets"] == [subnet["id"]]


def test_a_subnet_takes_what_the_openstack_cli_sends(member):
    network = create(member.client, "networks", "network", name="n")
    subnet = create(
        member.client,
        "subnets",
        "subnet",
        network_id=network["id"],
        cidr="10.0.0.0/24",
        ip_version=4,
        gateway_ip="10.0.0.254",
        allocation_pools=[{"start": "10.0.0.10", "end": "10.0.0.20"}],
        dns_nameservers=["8.8.8.8"],
        host_routes=[{"destination": "192.168.0.0/16", "nexthop": "10.0.0.253"}],
        enable_dhcp=False,
        name="s",
    )
    assert subnet["gateway_ip"] == "10.0.0.254"
    assert subnet["allocation_pools"] == [{"start": "10.0.0.10", "end": "10.0.0.20"}]
    assert subnet["dns_nameservers"] == ["8.8.8.8"]
    assert subnet["host_routes"] == [{"destination": "192.168.0.0/16", "nexthop": "10.0.0.253"}]
    assert subnet["enable_dhcp"] is False
    nogw = create(
        member.client, "subnets", "subnet", network_id=network["id"], cidr="10.1.0.0/29",
        gateway_ip=None,
    )  # fmt: skip
    assert nogw["gateway_ip"] is None
    assert nogw["allocation_pools"] == [{"start": "10.1.0.1", "end": "10.1.0.6"}]


@pytest.mark.parametrize(
    ("attrs", "words"),
    [
        ({"cidr": "10.0.0.5/24"}, "10.0.0.0/24"),
        ({"cidr": "not-a-cidr"}, "not a valid"),
        ({"cidr": "10.0.0.0/24", "ip_version": 6}, "does not match"),
        ({"cidr": "10.0.0.0/24", "gateway_ip": "10.9.9.9"}, "not valid on subnet"),
        ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.1.1", "end": "10.0.1.9"}]},
         "beyond"),
        ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.5",
          "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.9"}]}, "conflicts"),
        ({"cidr": "10.0.0.0/31"}, "too small"),
        ({"cidr": "10.0.0.0/24", "dns_nameservers": ["x"]}, "not a valid"),
    ],
)  # fmt: skip
def test_invalid_subnets_are_400s(member, attrs, words):
    network = create(member.client, "networks", "network", name="n")
    response = member.client.post(
        f"{API}/subnets", {"subnet": {"network_id": network["id"], **attrs}}, format="json"
    )
    error = neutron_error(response, 400)
    assert words in error["message"]
    assert not Subnet.objects.exists()


def test_an_overlapping_subnet_is_a_400_that_tempest_recognises(member):
    network = create(member.client, "networks", "network", name="n")
    create(member.client, "subnets", "subnet", network_id=network["id"], cidr="10.100.0.0/28")
    response = member.client.post(
        f"{API}/subnets",
        {"subnet": {"network_id": network["id"], "cidr": "10.100.0.0/24", "ip_version": 4}},
        format="json",
    )
    assert "overlaps with another subnet" in neutron_error(response, 400)["message"]
    # another network may use the same range
    other = create(member.client, "networks", "network", name="o")
    create(member.client, "subnets", "subnet", network_id=other["id"], cidr="10.100.0.0/28")


def test_a_subnet_with_an_address_in_use_cannot_be_deleted(member):
    network = create(member.client, "networks", "network", name="n")
    subnet = create(
        member.client, "subnets", "subnet", network_id=network["id"], cidr="10.0.0.0/24"
    )
    port = create(member.client, "ports", "port", network_id=network["id"])
    neutron_error(member.client.delete(f"{API}/subnets/{subnet['id']}"), 409, "SubnetInUse")
    ok(member.client.delete(f"{API}/ports/{port['id']}"), 204)
    response = member.client.delete(f"{API}/subnets/{subnet['id']}")
    assert response.status_code == 204
    assert response.content == b""
    neutron_error(member.client.get(f"{API}/subnets/{subnet['id']}"), 404, "SubnetNotFound")


def test_a_network_with_ports_is_in_use_and_otherwise_goes_with_its_subnets(member):
    network = create(member.client, "networks", "network", name="n")
    create(member.client, "subnets", "subnet", network_id=network["id"], cidr="10.0.0.0/24")
    port = create(member.client, "ports", "port", network_id=network["id"])
    neutron_error(member.client.delete(f"{API}/networks/{network['id']}"), 409, "NetworkInUse")
    ok(member.client.delete(f"{API}/ports/{port['id']}"), 204)
    ok(member.client.delete(f"{API}/networks/{network['id']}"), 204)
    assert not Subnet.objects.exists()
    neutron_error(member.client.get(f"{API}/networks/{network['id']}"), 404, "NetworkNotFound")


def test_a_name_or_a_made_up_id_is_a_404_not_a_500(member):
    create(member.client, "networks", "network", name="by-name")
    error = neutron_error(member.client.get(f"{API}/networks/by-name"), 404, "NetworkNotFound")
    assert error["message"] == "Network by-name could not be found."
    listed = ok(member.client.get(f"{API}/networks?name=by-name"))["networks"]
    assert [n["name"] for n in listed] == ["by-name"]


def test_filters_are_ored_when_repeated_and_booleans_are_case_insensitive(member, admin):
    a = create(member.client, "networks", "network", name="a")
    b = create(member.client, "networks", "network", name="b", admin_state_up=False)
    create(member.client, "networks", "network", name="c")
    shared = create(admin.client, "networks", "network", name="shared", shared=True)

    def names(query):
        return sorted(
            n["name"] for n in ok(member.client.get(f"{API}/networks?{query}"))["networks"]
        )

    assert names("name=a&name=b") == ["a", "b"]
    assert names("admin_state_up=False") == ["b"]
    assert names("admin_state_up=TRUE&name=a") == ["a"]
    assert names("shared=True") == ["shared"]
    assert names(f"shared=False&tenant_id={member.project.pk}") == ["a", "b", "c"]
    assert names(f"id={a['id']}&id={shared['id']}") == ["a", "shared"]
    assert names("id=not-a-uuid") == []
    neutron_error(member.client.get(f"{API}/networks?shared=maybe"), 400)
    assert b["admin_state_up"] is False


def test_fields_trim_each_item(member):
    create(member.client, "networks", "network", name="a")
    body = ok(member.client.get(f"{API}/networks?fields=id&fields=name"))
    assert [set(n) for n in body["networks"]] == [{"id", "name"}]


def test_limit_and_marker_page_through_with_next_links(member):
    made = [create(member.client, "networks", "network", name=f"n{i}")["id"] for i in range(3)]
    seen = []
    url = f"{API}/networks?limit=2"
    for _ in range(4):
        body = ok(member.client.get(url))
        seen += [n["id"] for n in body["networks"]]
        links = body.get("networks_links")
        if not links:
            break
        assert links[0]["rel"] == "next"
        url = (
            links[0]["href"].split("http://testserver", 1)[-1].replace("http://127.0.0.1:8000", "")
        )
    assert seen == made
    sorted_desc = ok(member.client.get(f"{API}/networks?sort_key=name&sort_dir=desc"))
    assert [n["name"] for n in sorted_desc["networks"]] == ["n2", "n1", "n0"]
    # A marker naming no network (one character changed, whatever it was).
    unknown = made[0][:-1] + ("1" if made[0].endswith("0") else "0")
    neutron_error(member.client.get(f"{API}/networks?marker={unknown}"), 400)


def test_tags_are_set_filtered_and_removed(member):
    network = create(member.client, "networks", "network", name="t")
    other = create(member.client, "networks", "network", name="u")
    url = f"{API}/networks/{network['id']}/tags"
    assert ok(member.client.put(url, {"tags": ["red", "blue"]}, format="json")) == {
        "tags": ["red", "blue"]
    }
    assert ok(member.client.put(f"{url}/green"), 201) is None
    assert ok(member.client.get(url)) == {"tags": ["red", "blue", "green"]}
    assert member.client.get(f"{url}/green").status_code == 204
    neutron_error(member.client.get(f"{url}/black"), 404, "TagNotFound")

    def names(query):
        return [n["name"] for n in ok(member.client.get(f"{API}/networks?{query}"))["networks"]]

    assert names("tags=red,blue") == ["t"]
    assert names("tags-any=red,black") == ["t"]
    assert names("not-tags=red") == ["u"]
    assert names("not-tags-any=black") == ["t", "u"]
    ok(member.client.delete(f"{url}/red"), 204)
    ok(member.client.delete(url), 204)
    shown = ok(member.client.get(f"{API}/networks/{network['id']}"))["network"]
    assert shown["tags"] == []
    assert shown["revision_number"] == 4
    assert other["tags"] == []
