"""A private flavor exists only for the projects it is shared with (and for admins).

Attacks made by a member of a project without access: reading the flavor, its extra specs
and its access list by id, finding it in the lists whatever ``is_public`` asks, booting a
server with it and resizing to it. Each answers as a flavor that does not exist does (Nova
answers 404, or 400 for a flavorRef), shows nothing of it, and creates or changes nothing.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from apps.flavors.services import (
    add_access,
    create_flavor,
    ensure_standard_flavors,
    set_extra_specs,
)
from apps.identity.services import ensure_project
from apps.images.services import ensure_image_from_file
from apps.servers.models import InstanceAction, Migration, Server
from tests.cloud import tiny_qcow2
from tests.conftest import Caller

pytestmark = pytest.mark.django_db

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
FLAVORS = "/compute/v2.1/flavors"
SERVERS = "/compute/v2.1/servers"
SECRET = "secret-flavor"
UNKNOWN = "no-such-flavor"
# What must never reach a project without access: the flavor's name and its extra spec.
LEAKS = (b"gpu-box", b"hunter2")


@pytest.fixture
def insider(make_caller: Callable[..., Caller]) -> Caller:
    """A member of the project the private flavor is shared with."""
    return make_caller("member")


@pytest.fixture
def private_flavor(insider: Caller) -> str:
    ensure_standard_flavors()
    flavor = create_flavor(
        name="gpu-box", flavorid=SECRET, memory_mb=256, vcpus=2, root_gb=2, is_public=False
    )
    set_extra_specs(flavor=flavor, specs={"vendor:licence": "hunter2"})
    add_access(flavor=flavor, project_id=str(insider.project.id))
    return SECRET


@pytest.fixture
def image_id(tmp_path: Path) -> str:
    image = ensure_image_from_file(
        name="tiny",
        path=tiny_qcow2(tmp_path),
        owner=ensure_project(name="images"),
        visibility="public",
        properties={},
    )
    return str(image.id)


def answers_as_unknown(caller: Caller, url: str, method: str = "get", **kwargs: Any) -> Any:
    """GET (or `method`) `url` about the private flavor and about an unknown one: the same
    status and the same body but for the id. Returns the probe's response."""
    send = getattr(caller.client, method)
    probe = send(url, **kwargs, **V)
    unknown = send(url.replace(SECRET, UNKNOWN), **kwargs, **V)
    assert probe.status_code == unknown.status_code, (probe.content, unknown.content)
    assert probe.content.replace(SECRET.encode(), b"ID") == unknown.content.replace(
        UNKNOWN.encode(), b"ID"
    )
    for leak in LEAKS:
        assert leak not in probe.content
    return probe


@pytest.mark.parametrize(
    "path",
    [
        f"{FLAVORS}/{SECRET}",
        f"{FLAVORS}/{SECRET}/os-extra_specs",
        f"{FLAVORS}/{SECRET}/os-extra_specs/vendor:licence",
    ],
)
def test_a_private_flavor_and_its_specs_are_a_404_without_access(
    member, reader, insider, admin, private_flavor, path
) -> None:
    # when / then: a member and a reader of a project without access
    for caller in (member, reader):
        probe = answers_as_unknown(caller, path)
        assert probe.status_code == 404
    # the project it is shared with and admins read it
    for caller in (insider, admin):
        response = caller.client.get(path, **V)
        assert response.status_code == 200, response.content
        assert any(leak in response.content for leak in LEAKS)


def test_the_access_list_is_refused_alike_for_a_private_and_an_unknown_flavor(
    member, insider, admin, private_flavor
) -> None:
    for caller in (member, insider):
        probe = answers_as_unknown(caller, f"{FLAVORS}/{SECRET}/os-flavor-access")
        assert probe.status_code == 403
    response = admin.client.get(f"{FLAVORS}/{SECRET}/os-flavor-access", **V)
    assert response.json()["flavor_access"] == [
        {"flavor_id": SECRET, "tenant_id": str(insider.project.id)}
    ]


def listed(caller: Caller, path: str, is_public: str | None) -> list[str]:
    query = {} if is_public is None else {"is_public": is_public}
    response = caller.client.get(path, query, **V)
    assert response.status_code == 200, response.content
    ids = [flavor["id"] for flavor in response.json()["flavors"]]
    if SECRET not in ids:
        for leak in LEAKS:
            assert leak not in response.content
    return ids


@pytest.mark.parametrize("path", [FLAVORS, f"{FLAVORS}/detail"])
@pytest.mark.parametrize("is_public", [None, "None", "none", "false", "true", "0"])
def test_lists_never_show_a_private_flavor_without_access(
    member, insider, private_flavor, path, is_public
) -> None:
    assert SECRET not in listed(member, path, is_public)
    # shared with the insider's project: listed whatever is_public says (Nova's rule for
    # non-admins: public flavors and those shared with the project)
    assert SECRET in listed(insider, path, is_public)


@pytest.mark.parametrize(
    ("is_public", "shown"), [(None, False), ("true", False), ("None", True), ("false", True)]
)
def test_admins_list_private_flavors_as_is_public_asks(admin, private_flavor, is_public, shown):
    assert (SECRET in listed(admin, f"{FLAVORS}/detail", is_public)) is shown


def test_booting_with_a_private_flavor_answers_as_an_unknown_flavor(
    member, private_flavor, image_id
) -> None:
    # given
    body = {"server": {"name": "probe", "imageRef": image_id, "flavorRef": SECRET}}
    body["server"]["networks"] = "none"
    unknown_body = {"server": {**body["server"], "flavorRef": UNKNOWN}}
    # when
    probe = member.client.post(SERVERS, body, format="json", **V)
    unknown = member.client.post(SERVERS, unknown_body, format="json", **V)
    # then
    assert probe.status_code == unknown.status_code == 400
    assert probe.json()["badRequest"]["message"] == f"Flavor {SECRET} could not be found."
    assert probe.content.replace(SECRET.encode(), b"ID") == unknown.content.replace(
        UNKNOWN.encode(), b"ID"
    )
    assert not Server.with_deleted.filter(project_id=member.project.id).exists()


def test_booting_with_a_private_flavor_works_for_the_project_it_is_shared_with(
    insider, private_flavor, image_id
) -> None:
    body = {"server": {"name": "ok", "imageRef": image_id, "flavorRef": SECRET}}
    body["server"]["networks"] = "none"
    response = insider.client.post(SERVERS, body, format="json", **V)
    assert response.status_code == 202, response.content


def test_resizing_to_a_private_flavor_answers_as_an_unknown_flavor(
    member, private_flavor, image_id
) -> None:
    # given: a server of the member's project
    body = {"server": {"name": "mine", "imageRef": image_id, "flavorRef": "0"}}
    body["server"]["networks"] = "none"
    created = member.client.post(SERVERS, body, format="json", **V)
    assert created.status_code == 202, created.content
    server_id = created.json()["server"]["id"]
    server = Server.objects.get(uuid=server_id)
    before = Server.objects.filter(pk=server.pk).values().get()
    actions = set(InstanceAction.objects.filter(server=server).values_list("action", flat=True))
    url = f"{SERVERS}/{server_id}/action"
    # when
    probe = member.client.post(url, {"resize": {"flavorRef": SECRET}}, format="json", **V)
    unknown = member.client.post(url, {"resize": {"flavorRef": UNKNOWN}}, format="json", **V)
    # then
    assert probe.status_code == unknown.status_code == 400
    assert probe.json()["badRequest"]["message"] == f"Flavor {SECRET} could not be found."
    assert Server.objects.filter(pk=server.pk).values().get() == before
    assert not Migration.objects.filter(server=server).exists()
    assert set(InstanceAction.objects.filter(server=server).values_list("action", flat=True)) == (
        actions
    )
