"""Smaller holes an attacker finds with odd input: each refused with a 400 (or the quota's
403), never a 500, and nothing changed."""

import logging
from urllib.parse import quote

import pytest
from django.db import transaction

from apps.quotas.services import update_quotas
from apps.servers.choices import VmState
from apps.servers.models import Server, ServerMetadata, ServerTag
from tests.security.objects import operations

pytestmark = pytest.mark.django_db

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
SERVERS = "/compute/v2.1/servers"


@pytest.fixture
def server(member):
    """An active server record of the member's project (set-up, not a build)."""
    return Server.objects.create(
        name="plain",
        description="plain",
        project=member.project,
        user_id=member.user.pk,
        flavor_id="1",
        vm_state=VmState.ACTIVE,
        host="edge-host",
        reservation_id="r-edges",
    )


@pytest.mark.parametrize("field", ["name", "description"])
@pytest.mark.parametrize("pattern", ["a{1000}", "(?P<n>a)", "a{2,1}", "(", "a**"])
def test_a_regex_postgresql_rejects_is_a_400(admin, server, field, pattern):
    # given: a row to match (PostgreSQL only compiles the pattern when it meets one)
    query = {field: pattern, "all_tenants": "1"}
    response = admin.client.get(SERVERS + "/detail", query, **V)
    assert response.status_code == 400, response.content
    assert "Invalid regular expression" in response.json()["badRequest"]["message"]


@pytest.mark.parametrize("pattern", ["^pl[a-z]+$", "^[[:alpha:]]+$", "p(?:la)in"])
def test_a_regex_postgresql_accepts_still_filters(member, server, pattern):
    # (Python's re would warn on "[[:" or read it otherwise: PostgreSQL's dialect decides)
    response = member.client.get(SERVERS, {"name": pattern}, **V)
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["servers"]] == [str(server.uuid)]


@pytest.mark.parametrize("tag", ["bad\n", "a\nLocation: x", "\x1b[31m", "a\rb", "\x00"])
def test_a_tag_with_control_characters_is_refused(member, server, tag):
    # (percent-encoded, as a client sends it: the server decodes it into the path)
    url = f"{SERVERS}/{server.uuid}/tags/{quote(tag, safe='')}"
    response = member.client.put(url, **V)
    assert response.status_code == 400
    assert not ServerTag.objects.filter(server=server).exists()
    create = member.client.put(f"{SERVERS}/{server.uuid}/tags", {"tags": [tag]}, format="json", **V)
    assert create.status_code == 400
    assert not ServerTag.objects.filter(server=server).exists()


def test_a_tags_location_is_percent_encoded(member, server):
    tag = quote("two words?#%", safe="")
    response = member.client.put(f"{SERVERS}/{server.uuid}/tags/{tag}", **V)
    assert response.status_code == 201
    assert response["Location"].endswith(f"/servers/{server.uuid}/tags/two%20words%3F%23%25")
    assert ServerTag.objects.get(server=server).tag == "two words?#%"


@pytest.mark.parametrize("name", ["vm\nERROR forged line", "vm\r", "vm\x1b[2J", "a\u2028b"])
def test_a_server_name_with_control_characters_is_refused_everywhere(
    member, server, image_id, name
):
    # when: create, rename, rebuild with the name
    create = member.client.post(
        SERVERS,
        {"server": {"name": name, "flavorRef": "1", "imageRef": image_id, "networks": "none"}},
        format="json",
        **V,
    )
    rename = member.client.put(
        f"{SERVERS}/{server.uuid}", {"server": {"name": name}}, format="json", **V
    )
    rebuild = member.client.post(
        f"{SERVERS}/{server.uuid}/action",
        {"rebuild": {"imageRef": image_id, "name": name}},
        format="json",
        **V,
    )
    # then
    assert (create.status_code, rename.status_code, rebuild.status_code) == (400, 400, 400)
    assert list(Server.objects.values_list("name", flat=True)) == ["plain"]


def test_log_lines_stay_one_line_whatever_the_message():
    # given: the handler the settings give every control-plane process
    [handler] = logging.getLogger().handlers[:1]
    record = logging.LogRecord(
        "apps.servers", logging.INFO, __file__, 1, "server %s (%s) accepted", ("u", "x\ny"), None
    )
    record.request_id = "-"
    # when
    line = handler.format(record)
    # then
    assert "\n" not in line
    assert line.endswith("server u (x\\ny) accepted")


def test_rebuild_counts_metadata_against_the_quota(member, server, image_id):
    # given: a limit of two items; the server has one
    update_quotas(project=member.project, limits={"metadata_items": 2})
    ServerMetadata.objects.create(server=server, key="kept", value="1")
    metadata = {f"k{i}": "v" for i in range(3)}
    # when
    response = member.client.post(
        f"{SERVERS}/{server.uuid}/action",
        {"rebuild": {"imageRef": image_id, "metadata": metadata}},
        format="json",
        **V,
    )
    # then: Nova's quota answer, and neither the metadata nor the state moved
    assert response.status_code == 403, response.content
    assert "metadata items" in response.json()["forbidden"]["message"]
    server.refresh_from_db()
    assert (server.vm_state, server.task_state) == (VmState.ACTIVE, None)
    assert dict(server.metadata_items.values_list("key", "value")) == {"kept": "1"}


PAGING_VALUES = ("99999999999999999999", "9223372036854775808", "-1", "1e400", "\u00b2", " 1")


@pytest.mark.parametrize("role", ["member", "admin"])
def test_paging_numbers_out_of_range_are_never_a_500(make_caller, role):
    # given: a server, so that lists have a row to page over
    caller = make_caller(role)
    Server.objects.create(
        name="paged",
        project=caller.project,
        user_id=caller.user.pk,
        flavor_id="1",
        reservation_id="r-paged",
    )
    lists = [p for _, p in operations({"get"}) if "{" not in p and not p.startswith("/compute/v2/")]
    failures = {}
    # when: every list with each paging parameter out of range (in a block rolled back after
    # each call, so that one failure cannot hide behind the next)
    for path in lists:
        for name in ("limit", "offset", "changes-since", "marker"):
            for value in PAGING_VALUES:
                with transaction.atomic():
                    response = caller.client.get(path, {name: value}, **V)
                    transaction.set_rollback(True)
                if response.status_code >= 500 and response.status_code != 501:
                    failures[path, name, value] = response.status_code
    # then
    assert len(lists) >= 40
    assert failures == {}


@pytest.mark.parametrize("offset", ["9223372036854775808", "\u00b2", "-1"])
def test_a_server_group_offset_out_of_range_is_a_400(member, offset):
    response = member.client.get("/compute/v2.1/os-server-groups", {"offset": offset}, **V)
    assert response.status_code == 400
    assert "offset" in response.json()["badRequest"]["message"]
