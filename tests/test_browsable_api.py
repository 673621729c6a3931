"""The browsable API (DRF's HTML pages) for every GET route of every service, as a new user
meets it: not signed in (the page offers the sign-in link, never a 500), signed in through
``/api-auth/login/`` as a member (each list and detail page renders, or refuses with a proper
4xx), and with forms offered only where the policy allows the method.

The routes come from the same enumeration the OpenAPI document is built from, so a new
endpoint is covered the day it is routed. Detail routes name real rows of the member's project.
"""

import re
from dataclasses import dataclass
from typing import Any

import pytest
from drf_spectacular.generators import EndpointEnumerator
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.test import APIClient

from apps.flavors.models import Flavor
from apps.identity.services import ensure_user
from apps.images.models import Image
from apps.networks import networks as network_services
from apps.servers.choices import PowerState, VmState
from apps.servers.models import Server
from tests.conftest import Caller

PASSWORD = "correct horse battery staple"
LOGIN_LINK = re.compile(r"href='/api-auth/login/\?next=")
SERVER = "9d3c1c1e-3d0b-4a8e-8f57-5a0f2b6c7d10"
IMAGE = "4f0e2a7b-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
FLAVOR = "browse-flavor"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Route:
    path: str
    view: Any

    @property
    def renders_html(self) -> bool:
        renderers = getattr(self.view.cls, "renderer_classes", ())
        return any(issubclass(r, BrowsableAPIRenderer) for r in renderers)


def get_routes() -> list[Route]:
    """Every GET route, with ``/image{var}/`` prefixes plain."""
    routes = []
    for path, _regex, method, view in EndpointEnumerator().get_api_endpoints():
        if method == "GET":
            routes.append(Route(path=path.replace("{var}/", "/").replace("{var}", ""), view=view))
    return routes


ROUTES = get_routes()


def _collection_before(path: str, name: str) -> str:
    """The path segment before ``{name}``: which kind of row a ``{pk}`` names."""
    segments = path.strip("/").split("/")
    index = segments.index("{" + name + "}")
    return segments[index - 1] if index else ""


def fill(path: str, rows: dict[str, str]) -> str:
    """`path` with each parameter replaced by the id of a row of that kind."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        kind = _collection_before(path, name) if name in ("pk", "resource_id") else name
        return rows.get(kind, UNKNOWN)

    return re.sub(r"\{(\w+)\}", value, path)


@pytest.fixture
def rows(member: Caller) -> dict[str, str]:
    """One row of each kind in the member's project, by the names paths give their ids."""
    project = member.project
    Flavor.objects.create(flavorid=FLAVOR, name="browse", memory_mb=128, vcpus=1, root_gb=1)
    Image.objects.create(
        id=IMAGE,
        name="browse",
        owner=project,
        visibility="private",
        status="active",
        disk_format="qcow2",
        container_format="bare",
    )
    Server.objects.create(
        uuid=SERVER,
        name="browse",
        project=project,
        user_id=member.user.pk,
        flavor_id=FLAVOR,
        flavor={"name": "browse", "vcpus": 1, "ram": 128, "disk": 1},
        vcpus=1,
        memory_mb=128,
        root_gb=1,
        image_ref=IMAGE,
        host="browse-host",
        node="browse-host",
        vm_state=VmState.ACTIVE,
        power_state=PowerState.RUNNING,
        reservation_id="r-browse",
    )
    network = network_services.create_network(project_id=project.pk, name="browse-net")
    subnet = network_services.create_subnet(
        project_id=project.pk, network=network, cidr="10.9.0.0/24", name="browse-subnet"
    )
    client = member.client
    answers = {
        "keypair": client.post(
            "/compute/v2.1/os-keypairs", {"keypair": {"name": "browse-key"}}, format="json"
        ),
        "metadata": client.put(
            f"/compute/v2.1/servers/{SERVER}/metadata",
            {"metadata": {"role": "web"}},
            format="json",
        ),
        "tag": client.put(
            f"/compute/v2.1/servers/{SERVER}/tags/browse-tag",
            HTTP_OPENSTACK_API_VERSION="compute 2.26",
        ),
        "port": client.post(
            "/network/v2.0/ports", {"port": {"network_id": str(network.pk)}}, format="json"
        ),
        "security_group": client.post(
            "/network/v2.0/security-groups",
            {"security_group": {"name": "browse-sg"}},
            format="json",
        ),
        "server_group": client.post(
            "/compute/v2.1/os-server-groups",
            {"server_group": {"name": "browse-group", "policies": ["affinity"]}},
            format="json",
        ),
    }
    assert {name: r.status_code for name, r in answers.items() if r.status_code >= 300} == {}
    port = answers["port"].json()["port"]["id"]
    group = answers["security_group"].json()["security_group"]["id"]
    server_group = answers["server_group"].json()["server_group"]["id"]
    return {
        "server_id": SERVER,
        "servers": SERVER,
        "flavor_id": FLAVOR,
        "flavors": FLAVOR,
        "image_id": IMAGE,
        "images": IMAGE,
        "project_id": project.pk,
        "os-quota-sets": project.pk,
        "quotas": project.pk,
        "os-simple-tenant-usage": project.pk,
        "user_id": member.user.pk,
        "os-keypairs": "browse-key",
        "metadata": "role",
        "key": "role",
        "tags": "browse-tag",
        "tag": "browse-tag",
        "networks": str(network.pk),
        "os-networks": str(network.pk),
        "os-tenant-networks": str(network.pk),
        "ips": network.name,
        "subnets": str(subnet.pk),
        "ports": port,
        "security-groups": group,
        "os-security-groups": group,
        "os-server-groups": server_group,
    }


def sign_in(caller: Caller) -> APIClient:
    """A browser's client, signed in as `caller` through the browsable API's page."""
    ensure_user(username=caller.user.username, password=PASSWORD, default_project=caller.project)
    client = APIClient()
    response = client.post(
        "/api-auth/login/", {"username": caller.user.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    return client


@pytest.fixture
def signed_in(member: Caller) -> APIClient:
    return sign_in(member)


def html_get(client: APIClient, path: str) -> Any:
    return client.get(path, HTTP_ACCEPT="text/html")


def test_every_get_route_is_enumerated() -> None:
    # then: the routes of every service are here, lists and details
    paths = {route.path for route in ROUTES}
    for expected in (
        "/compute/v2.1/flavors/",
        "/compute/v2.1/servers/{pk}/",
        "/image/v2/images/{image_id}/",
        "/network/v2.0/networks/{pk}/",
        "/volume/v3/volumes/",
        "/identity/v3/projects/",
    ):
        assert expected in paths


@pytest.mark.django_db
def test_unauthenticated_pages_offer_the_sign_in_link_never_a_500(
    anonymous: APIClient, rows: dict[str, str]
) -> None:
    # when: a browser not signed in opens every GET route
    answers = {route.path: (route, html_get(anonymous, fill(route.path, rows))) for route in ROUTES}
    # then: refused (or public: the version documents, 300 at the service roots), as an HTML
    # page with the sign-in link
    errors = {path: r.status_code for path, (_, r) in answers.items() if r.status_code >= 500}
    assert errors == {}
    pages = {path: r for path, (route, r) in answers.items() if route.renders_html}
    assert {
        p: r.status_code for p, r in pages.items() if r.status_code not in (200, 300, 401, 403)
    } == {}
    no_link = [
        p for p, r in pages.items() if not LOGIN_LINK.search(r.content.decode(errors="replace"))
    ]
    assert no_link == []
    assert html_get(anonymous, "/compute/v2.1/flavors").status_code == 401


@pytest.mark.django_db
def test_signed_in_member_gets_every_page_or_a_proper_refusal(
    signed_in: APIClient, rows: dict[str, str]
) -> None:
    # when: the member opens every GET route, detail routes naming their own rows
    answers = {route.path: (route, html_get(signed_in, fill(route.path, rows))) for route in ROUTES}
    # then: no 5xx anywhere, and the pages of what a member may read render with the rows (a
    # browser sends no microversion: tags, from 2.26, are Nova's 404 at 2.1)
    errors = {path: r.status_code for path, (_, r) in answers.items() if r.status_code >= 500}
    assert errors == {}
    rendered = {
        path
        for path, (route, r) in answers.items()
        if route.renders_html and r.status_code == 200 and r["Content-Type"].startswith("text/html")
    }
    for readable in (
        "/compute/v2.1/flavors/",
        "/compute/v2.1/flavors/{pk}/",
        "/compute/v2.1/servers/",
        "/compute/v2.1/servers/{pk}/",
        "/compute/v2.1/servers/{server_id}/metadata/{pk}/",
        "/compute/v2.1/os-keypairs/{pk}/",
        "/compute/v2.1/os-server-groups/{pk}/",
        "/compute/v2.1/limits/",
        "/image/v2/images/",
        "/image/v2/images/{image_id}/",
        "/network/v2.0/networks/{pk}/",
        "/network/v2.0/subnets/{pk}/",
        "/network/v2.0/ports/{pk}/",
        "/network/v2.0/security-groups/{pk}/",
        "/volume/v3/volumes/",
    ):
        assert readable in rendered, (readable, answers[readable][1].status_code)
    page = answers["/compute/v2.1/servers/{pk}/"][1].content.decode()
    assert SERVER in page


# Nova's host power actions are GETs; they act, so they are not pages to open.
ACTING_GETS = ("/reboot/", "/shutdown/", "/startup/")


@pytest.mark.django_db
def test_signed_in_admin_gets_every_page_never_a_500(
    member: Caller, rows: dict[str, str], make_caller: Any
) -> None:
    # given: an admin of the member's project, signed in through the same page
    admin = sign_in(make_caller("admin", project=member.project))
    # when
    answers = {
        route.path: html_get(admin, fill(route.path, rows))
        for route in ROUTES
        if not route.path.endswith(ACTING_GETS)
    }
    # then: no 5xx but Nova's deliberate 501s, and the admin-only lists render
    errors = {
        path: r.status_code
        for path, r in answers.items()
        if r.status_code >= 500 and r.status_code != 501
    }
    assert errors == {}
    for admin_page in ("/compute/v2.1/os-hypervisors/", "/compute/v2.1/os-services/"):
        assert answers[admin_page].status_code == 200


@pytest.mark.django_db
def test_a_signed_in_session_acts_in_the_default_project_with_its_roles(
    rows: dict[str, str], signed_in: APIClient, make_caller: Any
) -> None:
    # given: the member's server, and a member of another project signed in the same way
    outsider = sign_in(make_caller("member"))
    # when
    mine = signed_in.get("/compute/v2.1/servers", HTTP_ACCEPT="application/json")
    theirs = outsider.get("/compute/v2.1/servers", HTTP_ACCEPT="application/json")
    peek = outsider.get(f"/compute/v2.1/servers/{SERVER}", HTTP_ACCEPT="text/html")
    # then: each session sees its own default project, as a token for it would
    assert [s["id"] for s in mine.json()["servers"]] == [SERVER]
    assert theirs.json() == {"servers": []}
    assert peek.status_code == 404


@pytest.mark.django_db
def test_a_session_write_needs_the_csrf_token(signed_in: APIClient) -> None:
    # given: a client that checks CSRF, as a browser's requests are checked
    signed_in.handler.enforce_csrf_checks = True
    # when: a write with the session cookie alone (a cross-site form could send that)
    response = signed_in.post(
        "/compute/v2.1/os-keypairs", {"keypair": {"name": "forged"}}, format="json"
    )
    # then
    assert response.status_code == 403


@pytest.mark.django_db
def test_forms_follow_the_policy(signed_in: APIClient, make_caller: Any) -> None:
    # given: flavors may be created by admins only; an admin signed in the same way
    admin = sign_in(make_caller("admin"))
    # when
    as_member = html_get(signed_in, "/compute/v2.1/flavors")
    as_admin = html_get(admin, "/compute/v2.1/flavors")
    # then: both pages render; the member is offered no POST form, the admin is
    assert (as_member.status_code, as_admin.status_code) == (200, 200)
    assert 'id="post-generic-content-form"' not in as_member.content.decode()
    assert 'id="post-generic-content-form"' in as_admin.content.decode()


@pytest.mark.django_db
def test_a_session_without_a_role_in_its_default_project_is_unscoped(member: Caller) -> None:
    # given: a user whose default project is one they hold no role in
    stranger = ensure_user(username="stranger", password=PASSWORD, default_project=member.project)
    client = APIClient()
    client.post("/api-auth/login/", {"username": stranger.username, "password": PASSWORD})
    # when
    flavors = html_get(client, "/compute/v2.1/flavors")
    servers = html_get(client, "/compute/v2.1/servers")
    # then: what anyone authenticated may see renders; the project's servers are refused
    assert flavors.status_code == 200
    assert servers.status_code == 403
