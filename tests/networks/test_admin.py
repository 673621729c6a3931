"""The operators' network pages: read-only; a port shows its fixed addresses, a security group
its rules, and the rules have their own list."""

import pytest
from django.test import Client

from apps.identity.services import assign_roles
from apps.networks.models import Port, SecurityGroupRule
from apps.networks.ports import create_port
from apps.networks.security import ensure_default_security_group
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


def test_ports_show_their_addresses_and_groups_their_rules(operator: Client, make_network) -> None:
    # given
    network, _ = make_network(cidr="10.9.0.0/24")
    port = create_port(project_id=network.project_id, network=network, name="p")
    address = port.fixed_ips.get().ip_address
    group = ensure_default_security_group(network.project_id)
    rule = SecurityGroupRule.objects.filter(security_group=group).first()

    # then
    port_page = operator.get(f"/admin/networks/port/{port.pk}/change/")
    assert port_page.status_code == 200
    assert address in port_page.content.decode()
    found = operator.get("/admin/networks/port/", {"q": address}).content.decode()
    assert str(port.pk) in found
    group_page = operator.get(f"/admin/networks/securitygroup/{group.pk}/change/")
    assert group_page.status_code == 200
    assert "ingress" in group_page.content.decode()
    rules = operator.get("/admin/networks/securitygrouprule/", {"direction__exact": "egress"})
    assert rules.status_code == 200
    assert operator.get(f"/admin/networks/securitygrouprule/{rule.pk}/change/").status_code == 200


def test_nothing_is_added_edited_or_deleted(operator: Client, make_network) -> None:
    network, _ = make_network()
    port = create_port(project_id=network.project_id, network=network, name="p")
    responses = [
        operator.get("/admin/networks/securitygrouprule/add/"),
        operator.post(f"/admin/networks/port/{port.pk}/change/", {"name": "renamed"}),
        operator.post(f"/admin/networks/port/{port.pk}/delete/", {"post": "yes"}),
    ]
    assert [r.status_code for r in responses] == [403, 403, 403]
    assert Port.objects.get(pk=port.pk).name == "p"
