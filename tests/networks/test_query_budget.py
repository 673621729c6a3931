"""Lists cost the same number of queries whatever their length (no query per row)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.networks.conftest import API, create, ok

pytestmark = pytest.mark.django_db

COLLECTIONS = ["networks", "subnets", "ports", "security-groups", "security-group-rules",
               "routers", "floatingips"]  # fmt: skip


def _queries(client, collection):
    with CaptureQueriesContext(connection) as captured:
        ok(client.get(f"{API}/{collection}"))
    return len(captured)


def _add_one_of_each(client, admin_client, public_id, index):
    network = create(client, "networks", "network", name=f"n{index}")
    subnet = create(client, "subnets", "subnet", network_id=network["id"],
                    cidr=f"10.{index}.0.0/24")  # fmt: skip
    port = create(client, "ports", "port", network_id=network["id"])
    group = create(client, "security-groups", "security_group", name=f"g{index}")
    create(client, "security-group-rules", "security_group_rule", security_group_id=group["id"],
           direction="ingress", protocol="tcp", port_range_min=index + 1,
           port_range_max=index + 1)  # fmt: skip
    router = create(client, "routers", "router", external_gateway_info={"network_id": public_id})
    ok(client.put(f"{API}/routers/{router['id']}/add_router_interface",
                  {"subnet_id": subnet["id"]}, format="json"))  # fmt: skip
    create(client, "floatingips", "floatingip", floating_network_id=public_id,
           port_id=port["id"])  # fmt: skip


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_a_list_costs_the_same_for_two_rows_and_for_six(member, admin, collection):
    public = create(admin.client, "networks", "network", name="public",
                    **{"router:external": True})  # fmt: skip
    create(admin.client, "subnets", "subnet", network_id=public["id"], cidr="203.0.113.0/24")
    for index in range(2):
        _add_one_of_each(member.client, admin.client, public["id"], index)
    few = _queries(member.client, collection)
    for index in range(2, 6):
        _add_one_of_each(member.client, admin.client, public["id"], index)
    many = _queries(member.client, collection)
    assert many == few
    assert few <= 8
