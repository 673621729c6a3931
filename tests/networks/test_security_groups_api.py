"""Security groups and rules through the API: the default group, new groups' rules, what a
rule may say, duplicates, and deletes."""

import pytest

from apps.networks.models import SecurityGroup, SecurityGroupRule
from tests.networks.conftest import API, create, neutron_error, ok

pytestmark = pytest.mark.django_db


def _rules(group):
    return sorted(
        (r["direction"], r["ethertype"], r["remote_group_id"] is not None)
        for r in group["security_group_rules"]
    )


def test_listing_makes_the_default_group_with_neutrons_rules(member):
    groups = ok(member.client.get(f"{API}/security-groups"))["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    default = groups[0]
    assert _rules(default) == [
        ("egress", "IPv4", False),
        ("egress", "IPv6", False),
        ("ingress", "IPv4", True),
        ("ingress", "IPv6", True),
    ]
    ingress = [r for r in default["security_group_rules"] if r["direction"] == "ingress"]
    assert {r["remote_group_id"] for r in ingress} == {default["id"]}
    assert default["stateful"] is True
    # listed again: still one
    ok(member.client.get(f"{API}/security-groups"))
    assert SecurityGroup.objects.filter(project=member.project, name="default").count() == 1


def test_a_new_group_gets_the_egress_rules(member):
    group = create(member.client, "security-groups", "security_group", name="web",
                   description="web servers")  # fmt: skip
    assert group["description"] == "web servers"
    assert _rules(group) == [("egress", "IPv4", False), ("egress", "IPv6", False)]
    neutron_error(
        member.client.post(
            f"{API}/security-groups", {"security_group": {"name": "default"}}, format="json"
        ),
        409,
    )


def test_the_rule_the_openstack_cli_sends_and_its_duplicate(member):
    group = create(member.client, "security-groups", "security_group", name="web")
    body = {
        "security_group_id": group["id"],
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": "0.0.0.0/0",
    }
    rule = create(member.client, "security-group-rules", "security_group_rule", **body)
    assert rule["protocol"] == "tcp"
    assert (rule["port_range_min"], rule["port_range_max"]) == (22, 22)
    assert rule["remote_ip_prefix"] == "0.0.0.0/0"
    assert rule["normalized_cidr"] is None
    assert rule["security_group_id"] == group["id"]
    response = member.client.post(
        f"{API}/security-group-rules", {"security_group_rule": body}, format="json"
    )
    error = neutron_error(response, 409, "SecurityGroupRuleExists")
    assert rule["id"] in error["message"]
    # the same rule without the prefix is the same rule
    without = {k: v for k, v in body.items() if k != "remote_ip_prefix"}
    response = member.client.post(
        f"{API}/security-group-rules", {"security_group_rule": without}, format="json"
    )
    neutron_error(response, 409, "SecurityGroupRuleExists")
    listed = ok(member.client.get(f"{API}/security-group-rules?security_group_id={group['id']}"))
    assert len(listed["security_group_rules"]) == 3
    shown = ok(member.client.get(f"{API}/security-groups/{group['id']}"))["security_group"]
    assert len(shown["security_group_rules"]) == 3
    ok(member.client.delete(f"{API}/security-group-rules/{rule['id']}"), 204)
    assert not SecurityGroupRule.objects.filter(pk=rule["id"]).exists()


@pytest.mark.parametrize(
    "attrs",
    [
        {"direction": "sideways"},
        {"direction": "ingress", "ethertype": "IPv5"},
        {"direction": "ingress", "protocol": "carrier-pigeon"},
        {"direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 22},
        {"direction": "ingress", "protocol": "tcp", "port_range_min": 0, "port_range_max": 70000},
        {"direction": "ingress", "protocol": "gre", "port_range_min": 1, "port_range_max": 2},
        {"direction": "ingress", "protocol": "icmp", "port_range_min": 300},
        {"direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"},
        {"direction": "ingress", "remote_ip_prefix": "nonsense"},
        {"direction": "ingress", "remote_ip_prefix": "10.0.0.0/8",
         "remote_group_id": "6f1c9d61-0a4e-4a43-9a56-7f3c2b1e5a01"},
    ],
)  # fmt: skip
def test_invalid_rules_are_400s(member, attrs):
    group = create(member.client, "security-groups", "security_group", name="web")
    before = SecurityGroupRule.objects.count()
    response = member.client.post(
        f"{API}/security-group-rules",
        {"security_group_rule": {"security_group_id": group["id"], **attrs}},
        format="json",
    )
    neutron_error(response, 400)
    assert SecurityGroupRule.objects.count() == before


def test_a_rule_from_a_remote_group(member):
    web = create(member.client, "security-groups", "security_group", name="web")
    db = create(member.client, "security-groups", "security_group", name="db")
    rule = create(
        member.client, "security-group-rules", "security_group_rule",
        security_group_id=db["id"], direction="ingress", protocol="6",
        port_range_min=5432, port_range_max=5432, remote_group_id=web["id"],
    )  # fmt: skip
    assert rule["remote_group_id"] == web["id"]
    assert rule["protocol"] == "6"


def test_a_group_in_use_or_the_default_cannot_be_deleted(member):
    network = create(member.client, "networks", "network", name="n")
    group = create(member.client, "security-groups", "security_group", name="web")
    port = create(member.client, "ports", "port", network_id=network["id"],
                  security_groups=[group["id"]])  # fmt: skip
    neutron_error(member.client.delete(f"{API}/security-groups/{group['id']}"), 409,
                  "SecurityGroupInUse")  # fmt: skip
    ok(member.client.delete(f"{API}/ports/{port['id']}"), 204)
    ok(member.client.delete(f"{API}/security-groups/{group['id']}"), 204)
    default = ok(member.client.get(f"{API}/security-groups?name=default"))["security_groups"][0]
    neutron_error(member.client.delete(f"{API}/security-groups/{default['id']}"), 409)


def test_a_group_is_renamed_but_the_default_keeps_its_name(member):
    group = create(member.client, "security-groups", "security_group", name="web")
    renamed = ok(
        member.client.put(
            f"{API}/security-groups/{group['id']}",
            {"security_group": {"name": "www", "description": "d"}},
            format="json",
        )
    )["security_group"]
    assert (renamed["name"], renamed["description"]) == ("www", "d")
    default = ok(member.client.get(f"{API}/security-groups?name=default"))["security_groups"][0]
    response = member.client.put(
        f"{API}/security-groups/{default['id']}",
        {"security_group": {"name": "other"}},
        format="json",
    )
    neutron_error(response, 409)
